import t from 'tap'
import { TimerQueue, type Timer } from '../../lib/time/timers.js'
import { makeKey, compareCanon } from '../../lib/stream/key.js'
import { rng } from '../harness/random.js'
import { listSpill } from '../harness/spill.js'

for (const [mix, second] of [
  ['keys of every plane', (i: number) => (i % 3 === 0 ? '😀' : i % 3 === 1 ? 'é' : '\uff01')],
  ['keys below U+D800 only (the plain comparison)', (i: number) => (i % 2 ? 'é' : 'a')],
] as const)
t.test(`timers fire by time, then window start, then key, up to the limit: ${mix}`, async (t) => {
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const q = new TimerQueue<number>()
  const all: Timer<number>[] = []
  for (let i = 0; i < 3000; i++) {
    const tm = { time: Math.floor(rand() * 20), order: Math.floor(rand() * 3), key: makeKey(['k' + Math.floor(rand() * 500), second(i)]), payload: i }
    q.add(tm)
    all.push(tm)
  }
  all.sort((a, b) => a.time - b.time || a.order - b.order || compareCanon(a.key.canon, b.key.canon))
  const got: Timer<number>[] = []
  for (let x = q.pollUpTo(9); x; x = q.pollUpTo(9)) got.push(x)
  t.ok(got.every((x) => x.time <= 9))
  t.equal(q.peekTime(), 10)
  for (let x = q.pollUpTo(Infinity); x; x = q.pollUpTo(Infinity)) got.push(x)
  t.equal(q.size, 0)
  const key = (x: Timer<number>) => `${x.time}|${x.order}|${x.key.canon}`
  t.same(got.map(key), all.map(key))
})

// The fired order is compared as it is, not sorted: sorting hid that the earlier timer came out
// after the rest of time 5 (issue 18, defect 17).
t.test('a timer added while its time is firing still fires; an earlier one fires next, as in Flink', async (t) => {
  const q = new TimerQueue<string>()
  q.add({ time: 5, order: 0, key: makeKey(['a']), payload: 'a' })
  q.add({ time: 5, order: 0, key: makeKey(['b']), payload: 'b' })
  t.equal(q.pollUpTo(5)?.payload, 'a')
  q.add({ time: 5, order: 0, key: makeKey(['0']), payload: 'late' })
  q.add({ time: 3, order: 0, key: makeKey(['c']), payload: 'earlier' })
  t.equal(q.peekTime(), 3)
  const rest: string[] = []
  for (let x = q.pollUpTo(5); x; x = q.pollUpTo(5)) rest.push(x.payload)
  // time 3 first; then time 5's rest, sorted again with what was added for it (key '0' < 'b')
  t.same(rest, ['earlier', 'late', 'b'])
  t.equal(q.size, 0)
  q.add({ time: 9, order: 0, key: makeKey(['x']), payload: 'x' })
  q.add({ time: 9, order: 0, key: makeKey(['y']), payload: 'y' })
  t.equal(q.pollUpTo(9)?.payload, 'x')
  q.add({ time: 9, order: 0, key: makeKey(['a']), payload: 'same time' })
  t.same([q.pollUpTo(9)?.payload, q.pollUpTo(9)?.payload], ['y', 'same time'], 'one added for the time being fired comes after it')
})

// With a spill (decisions.md 32) the queue must fire exactly as without one: the same timers in
// the same order, whatever is added between polls, earlier times and the time being fired
// included. A head of 1 to 40 timers makes nearly every time spill, and slices of a few timers.
for (const head of [1, 7, 40])
  t.test(`a queue with a head of ${head} timers, the rest spilled, fires as one without a spill`, async (t) => {
    const seed = Number(process.env.WEIR_SEED ?? Date.now() % 1e6) + head
    t.comment(`seed ${seed} (WEIR_SEED=${seed - head})`)
    const rand = rng(seed)
    const spill = listSpill(head)
    const plain = new TimerQueue<number>()
    const spilled = new TimerQueue<number>(spill, 3)
    let limit = 0
    let n = 0
    // what fires, as time|order|key: timers equal in all three may come out in either order
    const fired: [string[], string[]] = [[], []]
    const payloads: [number[], number[]] = [[], []]
    const note = (i: 0 | 1, x: Timer<number>) => {
      fired[i].push(`${x.time}|${x.order}|${x.key.canon}`)
      payloads[i].push(x.payload)
    }
    for (let step = 0; step < 4000; step++) {
      const r = rand()
      if (r < 0.6) {
        // mostly ahead of the limit, sometimes at or before it (a process function's timer in the past)
        const time = limit + Math.floor(rand() * 30) - (rand() < 0.1 ? 10 : 0)
        const tm = () => ({ time, order: Math.floor(rand() * 3), key: makeKey(['k' + Math.floor(rand() * 200), rand() < 0.1 ? '😀' : 'a']), payload: n })
        const a = tm()
        plain.add(a)
        spilled.add({ ...a })
        n++
      } else if (r < 0.9) {
        // poll a few, as a firing that adds timers between two polls would
        for (let i = Math.floor(rand() * 5); i >= 0; i--) {
          const x = plain.pollUpTo(limit)
          const y = spilled.pollUpTo(limit)
          if (x) note(0, x)
          if (y) note(1, y)
          if (!x && !y) break
        }
      } else limit += Math.floor(rand() * 8)
      if (spilled.peekTime() !== plain.peekTime()) {
        t.fail(`the next time differs after step ${step}: ${spilled.peekTime()}, without a spill ${plain.peekTime()}`)
        break
      }
    }
    for (let x = plain.pollUpTo(Infinity); x; x = plain.pollUpTo(Infinity)) note(0, x)
    for (let y = spilled.pollUpTo(Infinity); y; y = spilled.pollUpTo(Infinity)) note(1, y)
    t.equal(fired[0].length, n, 'every timer fired once')
    t.same(payloads[1].slice().sort((a, b) => a - b), payloads[0].slice().sort((a, b) => a - b), 'the same timers')
    const first = fired[0].findIndex((p, i) => p !== fired[1][i])
    t.equal(first, -1, first < 0 ? 'same order' : `first difference at ${first}: ${fired[0][first]} vs ${fired[1][first]}`)
    t.ok(spill.wrote > 0, `timers were spilled (${spill.wrote} writes)`)
    t.equal(spilled.size, 0)
  })

// A session that grows deletes the timers of the sessions it replaced (window.ts deleteTimers):
// a deleted timer must never fire, every other one must, and peekTime must never name a time
// whose timers were all deleted (a window's next firing is told by it). With a spill, a timer
// already on disk is not deleted (delete says so) and fires, to be dropped by its caller.
for (const head of [undefined, 5])
  t.test(`deleted timers never fire; the others all do; no emptied time is named next${head ? ` (head of ${head}, the rest spilled)` : ''}`, async (t) => {
    const seed = Number(process.env.WEIR_SEED ?? Date.now() % 1e6)
    t.comment(`seed ${seed} (WEIR_SEED=${seed})`)
    const rand = rng(seed)
    const q = new TimerQueue<number>(head ? listSpill(head) : undefined, 1)
    const pending = new Map<number, Timer<number>>()
    const fired: number[] = []
    let limit = 0
    let deleted = 0
    let refused = 0
    for (let n = 0, step = 0; step < 5000; step++) {
      const r = rand()
      if (r < 0.45) {
        const tm = { time: limit + Math.floor(rand() * 20), order: Math.floor(rand() * 3), key: makeKey(['k' + n]), payload: n++ }
        q.add(tm)
        pending.set(tm.payload, tm)
      } else if (r < 0.7 && pending.size > 0) {
        const victims = [...pending.values()]
        const v = victims[Math.floor(rand() * victims.length)]!
        // the same key as another Key object, as a restored key or another reader's would be
        if (q.delete(v.time, v.order, makeKey([JSON.parse(v.key.canon)]))) pending.delete(v.payload), deleted++
        else refused++
      } else if (r < 0.95) {
        for (let i = Math.floor(rand() * 4); i >= 0; i--) {
          const x = q.pollUpTo(limit)
          if (!x) break
          if (!pending.delete(x.payload)) t.fail(`timer ${x.payload} fired, but it was deleted or fired before`)
          if (x.time > limit) t.fail(`timer ${x.payload} fired at limit ${limit}, its time ${x.time}`)
          fired.push(x.payload)
        }
      } else limit += Math.floor(rand() * 6)
      const next = q.peekTime()
      const times = new Set([...pending.values()].map((x) => x.time))
      if (next === undefined ? times.size > 0 : !times.has(next)) {
        t.fail(`step ${step}: peekTime names ${next}, the times with timers left are ${[...times].sort((a, b) => a - b).slice(0, 5)}…`)
        break
      }
    }
    for (let x = q.pollUpTo(Infinity); x; x = q.pollUpTo(Infinity)) {
      if (!pending.delete(x.payload)) t.fail(`timer ${x.payload} fired, but it was deleted or fired before`)
      fired.push(x.payload)
    }
    t.equal(pending.size, 0, 'every timer not deleted fired')
    t.equal(q.size, 0)
    t.ok(deleted > (head ? 50 : 500), `${deleted} deleted, ${refused} refused (spilled, or of the time being fired)`)
    if (!head) t.ok(refused < deleted / 10, 'without a spill, only a timer of the time being fired is refused')
  })
