import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { TimerSpill } from '../../lib/state/backend.js'
import { openLmdbState } from '../../lib/state/lmdb.js'
import { WindowTimers, type WindowEvent } from '../../lib/time/window-timers.js'
import { compareCanon, makeKey, type Key } from '../../lib/stream/key.js'
import { listSpill } from '../harness/spill.js'

// Time windows keep one timer per window with its keys; the keys come out in canonical order.
// The reference here is the order
// Flink's timer service gives one timer per key: time, then window start, then key.
// Each scenario runs with every key in memory, and with a head of 100 keys spilling the rest
// (decisions.md 32) to a spill in memory and to LMDB's: the order must not change.

const lmdbDir = mkdtempSync(join(tmpdir(), 'weir-timers-'))
const lmdb = await openLmdbState(lmdbDir, { lineage: [], durable: false, timerHeadKeys: 100 })
t.teardown(async () => {
  await lmdb.close()
  rmSync(lmdbDir, { recursive: true, force: true })
})
const spills: [string, () => TimerSpill | undefined][] = [
  ['in memory', () => undefined],
  ['a head of 100 keys, the rest in a spill', () => listSpill(100)],
  ['a head of 100 keys, the rest in LMDB', () => lmdb.operator('window').timerSpill!()],
]

function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

interface Fired {
  time: number
  start: number
  key: string
  event: 'fire' | 'cleanup'
}

function reference(regs: { key: Key; start: number; fired: boolean }[], size: number, lateness: number): Fired[] {
  const out: Fired[] = []
  for (const r of regs) {
    const fireAt = r.start + size - 1
    const cleanupAt = r.start + size - 1 + lateness
    if (lateness === 0) {
      if (!r.fired) out.push({ time: fireAt, start: r.start, key: r.key.canon, event: 'fire' })
      continue
    }
    if (!r.fired) out.push({ time: fireAt, start: r.start, key: r.key.canon, event: 'fire' })
    out.push({ time: cleanupAt, start: r.start, key: r.key.canon, event: 'cleanup' })
  }
  return out.sort((a, b) => a.time - b.time || a.start - b.start || compareCanon(a.key, b.key))
}

for (const [what, keyText] of [
  ['plain keys', (i: number) => `user${i}`],
  ['keys of every plane (the comparison by code point)', (i: number) => (i % 3 === 0 ? `😀${i}` : i % 3 === 1 ? `é${i}` : `\uff01${i}`)],
] as const)
  for (const lateness of [0, 25])
    for (const [where, spill] of spills)
    t.test(`windows fire by time, then start, then key: ${what}, lateness ${lateness}, ${where}`, async (t) => {
      const rnd = random(lateness + what.length)
      const size = 100
      const timers = new WindowTimers(size, lateness, Number.MAX_SAFE_INTEGER, spill())
      const regs: { key: Key; start: number; fired: boolean }[] = []
      // keys arrive over time: many known, some new in each window; windows small and wide
      let population = 150
      for (let w = 0; w < 40; w++) {
        population += Math.floor(rnd() * 60)
        const start = w * 50 // sliding-like: windows overlap
        const count = w % 7 === 0 ? 3 : w % 5 === 0 ? 2000 : 64 + Math.floor(rnd() * 200)
        const seen = new Set<number>()
        for (let k = 0; k < count; k++) {
          const id = w % 5 === 0 && w % 7 !== 0 ? k + population * 10 : Math.floor(rnd() * population)
          if (seen.has(id)) continue
          seen.add(id)
          const fired = lateness > 0 && rnd() < 0.1
          const key = makeKey([keyText(id)])
          regs.push({ key, start, fired })
          timers.add(key, start, fired)
        }
      }
      const got: Fired[] = []
      const visit = (start: number, keys: Key[], event: WindowEvent) => {
        const fireAt = start + size - 1
        // with no lateness one timer does both ('both'): the reference has it as a firing
        for (const key of keys)
          got.push(event === 'cleanup' ? { time: fireAt + lateness, start, key: key.canon, event } : { time: fireAt, start, key: key.canon, event: 'fire' })
      }
      timers.pollUpTo(1000, visit)
      t.ok(got.every((f) => f.time <= 1000), 'nothing after the limit')
      t.equal(timers.peekTime()! > 1000, true)
      timers.pollUpTo(Number.MAX_SAFE_INTEGER, visit)
      t.equal(timers.peekTime(), undefined, 'every timer fired')
      const want = reference(regs, size, lateness)
      t.equal(got.length, want.length)
      const firstDiff = got.findIndex((g, i) => JSON.stringify(g) !== JSON.stringify(want[i]))
      t.equal(firstDiff, -1, firstDiff < 0 ? 'same order' : `first difference at ${firstDiff}: ${JSON.stringify(got[firstDiff])} vs ${JSON.stringify(want[firstDiff])}`)
    })

t.test('a head of 100 keys holds at most 100 keys in memory, and a fired window leaves none in the spill', async (t) => {
  const spill = listSpill(100)
  const timers = new WindowTimers(10, 5, Number.MAX_SAFE_INTEGER, spill)
  const rnd = random(7)
  let peak = 0
  for (let i = 0; i < 5000; i++) {
    timers.add(makeKey([`user${i}`]), 10 * Math.floor(rnd() * 7), false)
    // a firing and a cleanup per key and window
    peak = Math.max(peak, 2 * (i + 1) - spill.held())
  }
  t.ok(peak <= 100, `at most 100 in memory (peak ${peak})`)
  t.ok(spill.held() >= 9900, `the rest spilled (${spill.held()})`)
  let fired = 0
  timers.pollUpTo(Number.MAX_SAFE_INTEGER, (_start, keys) => (fired += keys.length))
  t.equal(fired, 10000, 'every firing and cleanup visited once')
  t.equal(spill.held(), 0)
})
