// --state-ttl: keyed state untouched for the ttl in event time is dropped, by the watermark, so a
// replay drops the same state. A running aggregate emits the key's row first (nothing is lost);
// a process function's key starts afresh. The harness restores at every event, on both backends.
import t from 'tap'
import { join } from 'node:path'
import { harness } from '../harness/operator.js'
import { weir } from '../harness/cli.js'

t.test('a running aggregate: a quiet key gets its row when its ttl passes, and a later record starts a new row', async (t) => {
  const h = await harness('keyby u then aggregate count collect:t --time t', { stateTtl: 10 })
  h.push({ u: 'a', t: 1 })
  h.push({ u: 'b', t: 2 })
  h.push({ u: 'a', t: 5 }) // a touched at 5: expires at 15
  h.push({ u: 'c', t: 14 }) // watermark 13: b (2 + 10 = 12) expires, a not yet
  t.same(h.values(), [{ u: 'b', count: 1, t_collect: [2] }])
  h.push({ u: 'c', t: 30 }) // watermark 29: a expires, c (touched at 30) stays
  t.same(h.values().slice(1), [{ u: 'a', count: 2, t_collect: [1, 5] }])
  h.push({ u: 'a', t: 31 })
  h.end()
  t.same(h.values().slice(2), [
    { u: 'a', count: 1, t_collect: [31] },
    { u: 'c', count: 2, t_collect: [14, 30] },
  ], 'the end emits what is left, a from its new start')
})

t.test('a running aggregate: keys expiring under one watermark come out in the order of their expiry, resumed or not', async (t) => {
  const h = await harness('keyby k then aggregate count collect:ts --time ts', { stateTtl: 20000 })
  h.push({ k: 'B', ts: 0 }) // B's first timer: 20000
  h.push({ k: 'A', ts: 14000 }) // A's first timer: 34000
  h.push({ k: 'B', ts: 15000 }) // B expires at 35000
  h.push({ k: 'A', ts: 15100 }) // A expires at 35100
  h.push({ k: 'X', ts: 25000 }) // watermark 24999: B's timer at 20000 moves to 35000
  t.same(h.values(), [])
  // watermark 39999: A's timer at 34000 comes first, but A expires at 35100, after B
  h.push({ k: 'Y', ts: 40000 })
  t.same(h.values(), [
    { k: 'B', count: 2, ts_collect: [0, 15000] },
    { k: 'A', count: 2, ts_collect: [14000, 15100] },
  ])
})

t.test('--emit updates: expiry forgets the key without another row', async (t) => {
  const h = await harness('keyby u then aggregate count --time t --emit updates', { stateTtl: 10 })
  h.push({ u: 'a', t: 1 })
  h.push({ u: 'b', t: 20 })
  h.push({ u: 'a', t: 21 })
  t.same(h.values(), [{ u: 'a', count: 1 }, { u: 'b', count: 1 }, { u: 'a', count: 1 }])
})

t.test('a process function: a quiet key loses its state and timers', async (t) => {
  const dir = t.testdir({
    'count.mjs': `
      export function processElement(r, ctx) {
        const n = ctx.state.value('n')
        n.update((n.value() ?? 0) + 1)
        ctx.state.list('seen').add(r.t)
        ctx.timerService.registerEventTimeTimer(r.t + 100)
        ctx.emit({ u: ctx.key, n: n.value(), seen: ctx.state.list('seen').get() })
      }
      export function onTimer(ts, ctx) { ctx.emit({ u: ctx.key, timer: ts }) }
    `,
  })
  const h = await harness(`keyby u then process ${join(dir, 'count.mjs')} --time t`, { stateTtl: 10 })
  h.push({ u: 'a', t: 1 })
  h.push({ u: 'a', t: 3 })
  h.push({ u: 'b', t: 50 }) // watermark 49: a (touched at 3) expires with its timers at 101 and 103
  h.push({ u: 'a', t: 51 })
  // the record is processed, then its watermark 199: a expired at 61, so its timer at 151 went
  // with it, while b's timer at 150 fires (b was touched at 200)
  h.push({ u: 'b', t: 200 })
  t.same(h.values(), [
    { u: 'a', n: 1, seen: [1] },
    { u: 'a', n: 2, seen: [1, 3] },
    { u: 'b', n: 1, seen: [50] },
    { u: 'a', n: 1, seen: [51] },
    { u: 'b', n: 2, seen: [50, 200] },
    { u: 'b', timer: 150 },
  ])
})

t.test('--state-ttl needs event time; through the CLI it is a job option', async (t) => {
  const r = await weir(['keyby', 'u', 'then', 'aggregate', 'count', '--state-ttl', '1d'], { stdin: '{"u":"a"}\n' })
  t.equal(r.code, 64)
  t.match(r.stderr, /--state-ttl is measured in event time: give aggregate --time FIELD/)
  const ok = await weir(['keyby', 'u', 'then', 'aggregate', 'count', '--time', 't', '--state-ttl', '10ms'], { stdin: '{"u":"a","t":1}\n{"u":"b","t":50}\n' })
  t.equal(ok.code, 0, ok.stderr)
  t.equal(ok.stdout, '{"u":"a","count":1}\n{"u":"b","count":1}\n')
})
