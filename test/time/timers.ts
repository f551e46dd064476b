import t from 'tap'
import { TimerQueue, type Timer } from '../../lib/time/timers.js'
import { makeKey, compareCanon } from '../../lib/stream/key.js'

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
