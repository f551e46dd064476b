// The semantics of windows, pinned with small exact scenarios: inputs, the watermark they give,
// what fires, and what is late. Flink's documented semantics are the reference.
import t from 'tap'
import { harness } from '../harness/operator.js'

const rec = (u: string, ts: number, extra: Record<string, unknown> = {}) => ({ u, t: ts, ...extra })

t.test('tumbling, out of order: a window fires when the watermark reaches end − 1', async (t) => {
  // max-delay 5: the watermark after a record is maxTs − 5 − 1
  const h = await harness('keyby u then window tumbling 10ms --time t --max-delay 5ms then aggregate count collect:t')
  h.push(rec('a', 1))
  h.push(rec('a', 12)) // wm 6: [0,10) stays open (9 > 6)
  h.push(rec('a', 3)) // out of order but on time: into [0,10)
  t.same(h.values(), [], 'nothing has fired yet')
  h.push(rec('a', 15)) // wm 9: [0,10) fires
  t.same(h.values(), [{ u: 'a', window_start: 0, window_end: 10, count: 2, t_collect: [1, 3] }])
  h.push(rec('a', 4)) // [0,10) has fired and lateness is 0: late
  t.same(h.late.map((l) => JSON.parse(l)), [rec('a', 4)], 'the late record goes to the side output, as it came')
  h.end()
  t.same(h.values().slice(1), [{ u: 'a', window_start: 10, window_end: 20, count: 2, t_collect: [12, 15] }], 'end of input fires the rest')
})

t.test('the watermark is one per stream, not per key', async (t) => {
  const h = await harness('keyby u then window tumbling 10ms --time t then aggregate count')
  h.push(rec('a', 25))
  h.push(rec('b', 5)) // b has never been seen, but the stream's watermark is 24
  h.end()
  t.same(h.values(), [{ u: 'a', window_start: 20, window_end: 30, count: 1 }])
  t.equal(h.late.length, 1)
})

t.test('sliding windows overlap: a record is in size/slide windows', async (t) => {
  const h = await harness('keyby u then window sliding 10ms 5ms --time t then aggregate count collect:t')
  h.push(rec('a', 7)) // in [0,10) and [5,15)
  h.push(rec('a', 12)) // in [5,15) and [10,20); wm 11 fires [0,10)
  t.same(h.values(), [{ u: 'a', window_start: 0, window_end: 10, count: 1, t_collect: [7] }])
  h.end()
  t.same(h.values().slice(1), [
    { u: 'a', window_start: 5, window_end: 15, count: 2, t_collect: [7, 12] },
    { u: 'a', window_start: 10, window_end: 20, count: 1, t_collect: [12] },
  ])
})

t.test('window alone: sliding emits one line per window, at once, keeping the bytes', async (t) => {
  const h = await harness('window sliding 10ms 5ms --time t')
  h.push('{"t":7, "amount":1.0}')
  t.same(h.out, ['{"t":7, "amount":1.0,"window_start":0,"window_end":10}', '{"t":7, "amount":1.0,"window_start":5,"window_end":15}'])
})

t.test('sessions merge through a bridging record', async (t) => {
  const h = await harness('keyby u then window session 5ms --time t --max-delay 20ms then aggregate count collect:t')
  h.push(rec('a', 1)) // [1,6)
  h.push(rec('a', 10)) // [10,15): a separate session
  h.push(rec('b', 3)) // another key: its own session
  h.push(rec('a', 5)) // [5,10) touches [1,6) and [10,15): one session [1,15)
  h.end()
  t.same(h.values(), [
    { u: 'b', window_start: 3, window_end: 8, count: 1, t_collect: [3] },
    { u: 'a', window_start: 1, window_end: 15, count: 3, t_collect: [1, 10, 5] },
  ])
})

t.test('two records exactly GAP apart are one session (windows that touch merge)', async (t) => {
  const h = await harness('keyby u then window session 5ms --time t then aggregate count')
  h.push(rec('a', 0))
  h.push(rec('a', 5))
  h.push(rec('a', 11))
  h.end()
  t.same(h.values(), [
    { u: 'a', window_start: 0, window_end: 10, count: 2 },
    { u: 'a', window_start: 11, window_end: 16, count: 1 },
  ])
})

t.test('session window alone emits its records when it fires, with the merged bounds', async (t) => {
  const h = await harness('keyby u then window session 5ms --time t')
  h.push(rec('a', 1))
  h.push(rec('a', 4))
  t.same(h.out, [], 'bounds unknown until the session closes')
  h.push(rec('a', 30)) // wm 29 closes [1,9)
  t.same(h.values(), [
    { u: 'a', t: 1, window_start: 1, window_end: 9 },
    { u: 'a', t: 4, window_start: 1, window_end: 9 },
  ])
})

t.test('sessions that grow and merge keep their records and values in arrival order, across interleaved sessions', async (t) => {
  // a's records arrive in turns between sessions: a session grows by one record at a time, and
  // the merges join lists whose arrival numbers interleave (a session's records or values are
  // reused and merged in place, not copied at every record it grows by)
  const times = [1, 20, 2, 21, 3, 30, 12, 16, 8]
  // 12 opens [12,17); 16 joins it with [20,26); 8 joins [1,8) with [12,26)
  const lone = await harness('keyby u then window session 5ms --time t --max-delay 100ms')
  for (const ts of times) lone.push(rec('a', ts))
  lone.end()
  t.same(
    lone.values().map((v) => [v.t, v.window_start, v.window_end]),
    [[1, 1, 26], [20, 1, 26], [2, 1, 26], [21, 1, 26], [3, 1, 26], [12, 1, 26], [16, 1, 26], [8, 1, 26], [30, 30, 35]],
  )
  const agg = await harness('keyby u then window session 5ms --time t --max-delay 100ms then aggregate count collect:t distinct:t median:t p90:t')
  for (const ts of times) agg.push(rec('a', ts))
  agg.end()
  t.same(agg.values(), [
    { u: 'a', window_start: 1, window_end: 26, count: 8, t_collect: [1, 20, 2, 21, 3, 12, 16, 8], t_distinct: 8, t_median: 12, t_p90: 21 },
    { u: 'a', window_start: 30, window_end: 35, count: 1, t_collect: [30], t_distinct: 1, t_median: 30, t_p90: 30 },
  ])
})

t.test('window alone, sliding: each line carries its own window\'s bounds, over more windows than the bounds kept lately', async (t) => {
  // the bounds' texts of recent windows are kept by window number (256 slots): windows 256 apart
  // share a slot, and records going back in time (within the delay) find theirs again
  const h = await harness('window sliding 4ms 1ms --time t --max-delay 2000ms')
  const times = [0, 3, 1, 300, 1000, 256, 5, 257, 1001, 2, 512, 768, 1]
  for (const ts of times) h.push({ t: ts })
  const got = h.values().map((v) => [v.t, v.window_start, v.window_end])
  const want = times.flatMap((ts) => [3, 2, 1, 0].map((back) => [ts, ts - back, ts - back + 4]))
  t.same(got, want)
})

t.test('allowed lateness: a late record re-fires an updated result; after end − 1 + lateness it is late', async (t) => {
  const h = await harness('keyby u then window tumbling 10ms --time t --lateness 10ms then aggregate count collect:t')
  h.push(rec('a', 1))
  h.push(rec('a', 12)) // wm 11: [0,10) fires with [1]
  t.same(h.values(), [{ u: 'a', window_start: 0, window_end: 10, count: 1, t_collect: [1] }])
  h.push(rec('a', 3)) // late, but 9 + 10 > 11: kept, and the full updated row is emitted at once
  t.same(h.values()[1], { u: 'a', window_start: 0, window_end: 10, count: 2, t_collect: [1, 3] })
  h.push(rec('a', 21)) // wm 20 ≥ 19: [0,10) is cleaned up; [10,20) fires
  t.same(h.values()[2], { u: 'a', window_start: 10, window_end: 20, count: 1, t_collect: [12] })
  h.push(rec('a', 5)) // too late now
  t.equal(h.values().length, 3)
  t.same(h.late, ['{"u":"a","t":5}'])
})

t.test('a record too late for every window is counted; window alone drops it too', async (t) => {
  const h = await harness('window tumbling 10ms --time t')
  h.push(rec('a', 30))
  h.push(rec('a', 2))
  t.equal(h.out.length, 1)
  t.same(h.late, ['{"u":"a","t":2}'])
})

t.test('firings of one watermark come out by window end, then start, then key', async (t) => {
  const h = await harness('keyby u then window sliding 10ms 5ms --time t --max-delay 100ms then aggregate count')
  for (const [u, ts] of [['b', 6], ['a', 7], ['c', 1], ['a', 2], ['b', 13]] as const) h.push(rec(u, ts))
  h.watermark(19) // fires every window ending at or before 20
  t.same(
    h.values().map((r: any) => `${r.window_start}-${r.window_end}:${r.u}`),
    ['-5-5:a', '-5-5:c', '0-10:a', '0-10:b', '0-10:c', '5-15:a', '5-15:b', '10-20:b'],
  )
})

t.test('end of input fires every open window', async (t) => {
  const h = await harness('keyby u then window tumbling 1m --time t then aggregate count')
  h.push(rec('a', 0))
  h.push(rec('b', 90_000))
  h.end()
  t.same(h.values(), [
    { u: 'a', window_start: 0, window_end: 60000, count: 1 },
    { u: 'b', window_start: 60000, window_end: 120000, count: 1 },
  ])
})

t.test('count windows fire every N records per key; the remainder fires at the end', async (t) => {
  const h = await harness('keyby u then window count 2 then aggregate count collect:t')
  for (const [u, ts] of [['a', 1], ['b', 2], ['a', 3], ['a', 4], ['b', 5], ['b', 6]] as const) h.push(rec(u, ts))
  t.same(h.values(), [
    { u: 'a', count: 2, t_collect: [1, 3] },
    { u: 'b', count: 2, t_collect: [2, 5] },
  ], 'no window_start/window_end: count windows have no time bounds')
  h.end()
  t.same(h.values().slice(2), [
    { u: 'a', count: 1, t_collect: [4] },
    { u: 'b', count: 1, t_collect: [6] },
  ])
})

t.test('global window fires at the end of input, per key in key order', async (t) => {
  const h = await harness('keyby u then window global then aggregate count')
  for (const u of ['b', 'a', 'b']) h.push({ u })
  t.same(h.values(), [])
  h.end()
  t.same(h.values(), [{ u: 'a', count: 1 }, { u: 'b', count: 2 }])
})

t.test('ingestion time: records are stamped when read; the watermark follows the clock', async (t) => {
  const h = await harness('keyby u then window tumbling 10ms --ingestion-time then aggregate count', { now: 0 })
  h.clock.set(3)
  h.push({ u: 'a' })
  h.clock.set(8)
  h.push({ u: 'a' })
  h.clock.set(12)
  h.push({ u: 'a' }) // wm 11 fires [0,10)
  t.same(h.values(), [{ u: 'a', window_start: 0, window_end: 10, count: 2 }])
  h.tick(500) // no input: the clock alone moves the watermark
  t.same(h.values()[1], { u: 'a', window_start: 10, window_end: 20, count: 1 })
})

t.test('processing time: windows by the wall clock, fired by the clock', async (t) => {
  const h = await harness('keyby u then window tumbling 10ms --processing-time then aggregate count', { now: 100 })
  h.push({ u: 'a' })
  h.push({ u: 'b' })
  h.tick(105)
  t.same(h.values(), [], 'not yet: the window ends at 110')
  h.tick(109)
  t.same(h.values(), [
    { u: 'a', window_start: 100, window_end: 110, count: 1 },
    { u: 'b', window_start: 100, window_end: 110, count: 1 },
  ])
})

t.test('idle timeout: a quiet input still closes its windows', async (t) => {
  const h = await harness('keyby u then window tumbling 10ms --time t --idle-timeout 1s then aggregate count', { now: 0, restore: false }) // idleness is wall-clock state: a resumed job starts it afresh
  h.push(rec('a', 5))
  h.tick(900)
  t.same(h.values(), [], 'not idle yet')
  h.tick(1000) // idle for 1 s: as if a record at 5 + 1000 had arrived: wm 1004
  t.same(h.values(), [{ u: 'a', window_start: 0, window_end: 10, count: 1 }])
})

t.test('times keep their representation: ISO in, ISO out; seconds in, seconds out', async (t) => {
  const iso = await harness('window tumbling 1m --time ts then aggregate count')
  iso.push({ ts: '2024-01-01T00:00:59.999Z' })
  iso.push({ ts: '2024-01-01T01:00:30+01:00' }) // the same minute as 00:00:30Z
  iso.end()
  t.same(iso.values(), [{ window_start: '2024-01-01T00:00:00.000Z', window_end: '2024-01-01T00:01:00.000Z', count: 2 }])
  const secs = await harness('window tumbling 1m --time ts --time-unit s then aggregate count')
  secs.push({ ts: 1700000000 })
  secs.end()
  t.same(secs.values(), [{ window_start: 1699999980, window_end: 1700000040, count: 1 }])
})

t.test('window start is a floor: negative times and offsets', async (t) => {
  const h = await harness('window tumbling 7ms --time t then aggregate count')
  h.push({ t: -8 })
  h.end()
  t.same(h.values(), [{ window_start: -14, window_end: -7, count: 1 }])
  const o = await harness('window tumbling 1d --offset 5h --time t then aggregate count')
  o.push({ t: Date.parse('2024-03-01T04:00:00Z') })
  o.end()
  t.equal(o.values()[0].window_start, Date.parse('2024-02-29T05:00:00Z'), 'a day in UTC−5 starts at 05:00Z')
})

t.test('a missing or zone-less time is bad input with its line number', async (t) => {
  const h = await harness('window tumbling 1m --time ts then aggregate count')
  h.push({ ts: 1 })
  t.throws(() => h.push({ x: 1 }), /test:2: time field 'ts' is missing/)
  t.throws(() => h.push({ ts: '2024-01-01T00:00:00' }), /test:3: .*expected ISO-8601 with Z or an offset/)
  t.throws(() => h.push({ ts: 'Jan 1 2024' }), /test:4: /)
})

t.test('columnar windows: a snapshot writes the open windows into keyed state, and their cleanup takes them out again', async (t) => {
  const { windowOperator } = await import('../../lib/operators/window.js')
  const { MemoryStateBackend } = await import('../../lib/state/memory.js')
  const { makeKey } = await import('../../lib/stream/key.js')
  const { newStats } = await import('../../lib/stream/stats.js')
  const { ManualClock } = await import('../../lib/time/clock.js')
  const state = new MemoryStateBackend()
  const op = windowOperator(
    {
      spec: { kind: 'tumbling', size: 10, offset: 0 },
      lateness: 5,
      timeMode: 'event',
      keyNames: ['u'],
      timeInfo: { format: 'ms' },
      aggregate: [{ func: 'count', name: 'count' }],
    },
    'w',
  )
  const rows: string[] = []
  const out = { record: (r: { raw?: string }) => rows.push(r.raw!), watermark() {}, late() {}, pane() {} }
  op.open!({ uid: 'w', state, clock: new ManualClock(0), stats: newStats(), badRecord: () => t.fail('no bad record') })
  for (const [u, time] of [['a', 1], ['b', 2], ['a', 12]] as const)
    op.processRecord({ raw: undefined, value: { u, t: time }, key: makeKey([u]), time, source: 't', line: 1 }, out)
  op.snapshot!()
  const stored = state.operator('w')
  t.same(stored.keys().map((k) => k.canon), ['"a"', '"b"'], 'both keys hold state after the snapshot')
  t.same(stored.get(makeKey(['a']), 0), [1], 'window [0, 10) of a, as accumulators')
  op.processWatermark!(9, out)
  t.same(rows, ['{"u":"a","window_start":0,"window_end":10,"count":1}', '{"u":"b","window_start":0,"window_end":10,"count":1}'], 'fired at 9')
  t.same(stored.get(makeKey(['b']), 0), [1], 'kept within the lateness')
  op.processWatermark!(14, out)
  t.equal(stored.get(makeKey(['a']), 0), undefined, 'cleaned up at end − 1 + lateness')
  t.same(stored.keys().map((k) => k.canon), ['"a"'], 'only a, in its window [10, 20), still holds state')
  t.equal(op.openWindows!(), 1)
})
