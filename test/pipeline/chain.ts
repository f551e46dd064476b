import t from 'tap'
import { filter } from '../../lib/operators/filter.js'
import { keyby } from '../../lib/operators/keyby.js'
import { map } from '../../lib/operators/map.js'
import type { Operator, OperatorContext } from '../../lib/operators/operator.js'
import { buildOperators, operatorUids } from '../../lib/pipeline/build.js'
import { Chain } from '../../lib/pipeline/chain.js'
import type { Stage, StageConfig } from '../../lib/pipeline/stages.js'
import { MemoryStateBackend } from '../../lib/state/memory.js'
import { WeirError, dataError } from '../../lib/stream/errors.js'
import { makeKey } from '../../lib/stream/key.js'
import { type Rec, recordText } from '../../lib/stream/record.js'
import { newStats } from '../../lib/stream/stats.js'
import { ManualClock } from '../../lib/time/clock.js'

/** A chain over a collecting sink, opened with a context whose bad-input policy is `onBad`. */
function harness(ops: Operator[], onBad: (rec: Rec, why: string) => void = (rec, why) => { throw dataError(rec, why) }) {
  const records: Rec[] = []
  const watermarks: number[] = []
  const late: Rec[] = []
  const stats = newStats()
  const chain = new Chain(ops, { record: (r) => records.push(r), watermark: (w) => watermarks.push(w), late: (r) => late.push(r) })
  const state = new MemoryStateBackend()
  const clock = new ManualClock(0)
  chain.open((op): OperatorContext => ({ uid: op.uid, state, clock, stats, badRecord: onBad }))
  let line = 0
  const push = (raw: string) => {
    line++
    chain.push({ raw, value: JSON.parse(raw), source: 'in.ndjson', line })
  }
  return { chain, push, records, watermarks, late, stats, out: () => records.map(recordText) }
}

t.test('filter, keyby and map in one chain', async (t) => {
  const h = harness([
    filter({ op: 'filter', expr: 'r.amount > 0' }, 'f'),
    keyby({ op: 'keyby', fields: ['user'] }, 'k'),
    map({ op: 'map', expr: '({user: r.user, cents: r.amount * 100})' }, 'm'),
  ])
  h.push('{"user":"a","amount":1.5}')
  h.push('{"user":"b","amount":0}')
  h.push('{"user":"c","amount":2}')
  t.same(h.out(), ['{"user":"a","cents":150}', '{"user":"c","cents":200}'])
  t.equal(h.stats.filtered, 1, 'filtered records are counted')
  t.same(h.records.map((r) => r.key?.canon), ['"a"', '"c"'], 'the key set by keyby survives map')
  t.same(h.records.map((r) => r.line), [1, 3], 'positions survive')
  h.chain.end()
  t.equal(h.records.length, 2, 'ending a chain of stateless operators emits nothing more')
})

t.test('unchanged records keep their bytes; changed ones are serialised again', async (t) => {
  const h = harness([keyby({ op: 'keyby', fields: ['user', 'n'] }, 'k'), filter({ op: 'filter', expr: 'true' }, 'f')])
  h.push('{"user":"a","n":1.0,"big":12345678901234567890}')
  t.same(h.out(), ['{"user":"a","n":1.0,"big":12345678901234567890}'])
  t.same(h.records[0]!.key, makeKey(['a', 1]))

  const m = harness([map({ op: 'map', expr: 'r' }, 'm')])
  m.push('{"n":1.0}')
  t.equal(m.records[0]!.raw, '{"n":1}', 'map drops the original bytes: its own serialisation replaces them')
  t.same(m.out(), ['{"n":1}'])
})

t.test('watermarks pass through operators that do not handle them', async (t) => {
  const h = harness([keyby({ op: 'keyby', fields: ['k'] }, 'k'), filter({ op: 'filter', expr: 'false' }, 'f'), map({ op: 'map', expr: 'r' }, 'm')])
  h.chain.watermark(1000)
  h.chain.watermark(2000)
  t.same(h.watermarks, [1000, 2000])
  t.same(h.late, [])
})

t.test('a missing key field goes to the bad-input policy', async (t) => {
  const fail = harness([keyby({ op: 'keyby', fields: ['user', 'payload.id'] }, 'k')])
  fail.push('{"user":"a","payload":{"id":1}}')
  t.throws(() => fail.push('{"user":"b"}'), new WeirError('data', "in.ndjson:2: key field 'payload.id' is missing"))
  t.equal(fail.records.length, 1)

  const bad: string[] = []
  const skip = harness([keyby({ op: 'keyby', fields: ['user'] }, 'k'), map({ op: 'map', expr: 'r.user' }, 'm')], (rec, why) => {
    bad.push(`${rec.line}: ${why}`)
  })
  skip.push('{"user":"a"}')
  skip.push('{"name":"b"}')
  skip.push('{"user":"c"}')
  t.same(skip.out(), ['"a"', '"c"'], 'a skipped record goes no further')
  t.same(bad, ["2: key field 'user' is missing"])
})

t.test('user code that throws names the record position', async (t) => {
  const h = harness([map({ op: 'map', expr: 'r.a.b' }, 'm')])
  h.push('{"a":{"b":1}}')
  t.throws(() => h.push('{}'), { kind: 'user-code', message: /^in\.ndjson:2: map 'r\.a\.b' threw: / })
  const u = harness([map({ op: 'map', expr: 'r.x' }, 'm')])
  t.throws(() => u.push('{}'), { kind: 'user-code', message: "in.ndjson:1: map 'r.x' returned undefined, not a JSON value" })
})

const stage = (config: StageConfig, uid?: string): Stage => ({ config, label: config.op, uid })
const K = stage({ op: 'keyby', fields: ['user'] })
const F = stage({ op: 'filter', expr: 'r.amount > 0' })
const M = stage({ op: 'map', expr: '({...r, cents: r.amount * 100})' })

t.test('operator uids: kind, hash of the options, occurrence', async (t) => {
  const uids = operatorUids([F, K, M])
  for (const [i, kind] of ['filter', 'keyby', 'map'].entries()) t.match(uids[i], new RegExp(`^${kind}-[0-9a-f]{8}-1$`))
  t.same(operatorUids([F, K, M]), uids, 'the same stages give the same uids')
  // pinned: a uid names state in checkpoints, so it must not change between versions of weir
  t.same(uids, ['filter-e35569cd-1', 'keyby-bc466946-1', 'map-80047c9a-1'])
  t.same(uids, operatorUids([{ ...F, label: 'stage 1 (filter r.amount > 0)' }, K, M]), 'the label is not part of the identity')
  t.same(operatorUids([stage({ op: 'keyby', fields: ['user'] })]), [uids[1]], 'equal options, equal uid')
  t.not(operatorUids([stage({ op: 'keyby', fields: ['country'] })])[0], uids[1], 'different options, different uid')
})

t.test('inserting a stage does not change the uids of the others', async (t) => {
  const before = operatorUids([F, K, M])
  const inserted = operatorUids([F, stage({ op: 'filter', expr: 'r.user !== "bot"' }), K, M])
  t.same([inserted[0], inserted[2], inserted[3]], before)
  t.not(inserted[1], before[0], 'a filter with other options is another operator')
  const prepended = operatorUids([stage({ op: 'map', expr: 'r' }), F, K, M])
  t.same(prepended.slice(1), before)
})

t.test('identical stages are told apart by occurrence: -1, -2', async (t) => {
  const uids = operatorUids([K, F, K, K])
  t.match(uids[0], /^keyby-[0-9a-f]{8}-1$/)
  t.equal(uids[2], uids[0]!.replace(/-1$/, '-2'))
  t.equal(uids[3], uids[0]!.replace(/-1$/, '-3'))
  t.match(uids[1], /-1$/)
})

t.test('a uid set in the spec overrides the derived one', async (t) => {
  t.same(operatorUids([F, { ...K, uid: 'per-user' }, M]), [operatorUids([F])[0], 'per-user', operatorUids([M])[0]])
  await t.rejects(async () => buildOperators([{ ...F, uid: 'x' }, { ...K, uid: 'x' }]), { kind: 'usage', message: "two stages have the uid 'x'" })
})

t.test('buildOperators names the stage of a bad config', async (t) => {
  await t.rejects(async () => buildOperators([K, { config: { op: 'map', expr: 'r.a >' }, label: 'stage 2 (map r.a >)' }]), {
    kind: 'usage',
    message: /^stage 2 \(map r\.a >\): map: invalid expression/,
  })
})
