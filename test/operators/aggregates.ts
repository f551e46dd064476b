import t from 'tap'
import { findAggregate, nearestRank, AGGREGATES } from '../../lib/operators/aggregates/table.js'
import { parseAggSpec, RowAggregator, defaultName } from '../../lib/operators/aggregates/row.js'
import { HyperLogLog } from '../../lib/operators/aggregates/hyperloglog.js'

function run(spec: string, values: unknown[]): unknown {
  const row = new RowAggregator([parseAggSpec(spec)])
  const accs = row.create()
  values.forEach((v, i) => row.add(accs, { x: v }, i, { source: 't', line: i + 1 }))
  const out: Record<string, unknown> = {}
  row.results(accs, out)
  return Object.values(out)[0]
}

t.test('percentiles are exact nearest rank, as Miller: sorted[floor(p/100 · n)]', async (t) => {
  t.equal(run('median:x', [4, 1, 3, 2]), 3)
  t.equal(run('median:x', [5, 1, 3]), 3)
  t.equal(run('p25:x', [4, 1, 3, 2]), 2)
  t.equal(run('p100:x', [4, 1, 3, 2]), 4)
  t.equal(run('p99.9:x', Array.from({ length: 1000 }, (_, i) => 1000 - i)), 1000)
  t.equal(run('p95:x', []), null)
  t.equal(nearestRank([10], 1), 10)
  t.equal(run('median:x', [10, 9, 100, -1]), 10, 'numeric order, not string order')
})

t.test('var and stddev are sample statistics; null below two values', async (t) => {
  t.equal(run('var:x', [2, 4, 4, 4, 5, 5, 7, 9]), 32 / 7)
  t.equal(run('stddev:x', [1, 3]), Math.SQRT2)
  t.equal(run('var:x', [5]), null)
  t.equal(run('avg:x', [1, 2, 3, 4]), 2.5)
})

t.test('null and missing values are skipped by all but count', async (t) => {
  t.equal(run('sum:x', [1, null, undefined, 2]), 3)
  t.equal(run('count:x', [1, null, undefined, 2]), 2, 'count:FIELD counts non-null values')
  t.equal(run('count', [1, null, undefined, 2]), 4, 'count counts records')
  t.equal(run('min:x', [null]), null)
  t.same(run('collect:x', [1, null, 'a']), [1, 'a'])
  t.equal(run('first:x', [null, 'a', 'b']), 'a')
  t.equal(run('last:x', ['a', 'b', null]), 'b')
  t.equal(run('distinct:x', [1, '1', 1, { a: 1 }, { a: 1 }]), 3, '1 and "1" differ')
})

t.test('a non-number for a numeric function is bad input with its line', async (t) => {
  t.throws(() => run('sum:x', [1, 'two']), /t:2: sum:x: expected a number, got "two"/)
})

t.test('merge (for sessions) equals adding everything to one accumulator', async (t) => {
  const values = [5, 3, 9, 1, 1, 7, 2]
  for (const f of ['count', 'sum', 'min', 'max', 'avg', 'var', 'first', 'last', 'distinct', 'approx-distinct', 'median', 'p90', 'collect']) {
    const fn = findAggregate(f)!
    let all = fn.create()
    let a = fn.create()
    let b = fn.create()
    values.forEach((v, i) => {
      all = fn.add(all, v, i)
      if (i % 2) a = fn.add(a, v, i)
      else b = fn.add(b, v, i)
    })
    const merged = fn.result(fn.merge(a, b))
    const whole = fn.result(all)
    if (typeof whole === 'number' && !Number.isInteger(whole)) t.ok(Math.abs((merged as number) - whole) < 1e-9, f)
    else t.same(merged, whole, f)
  }
})

t.test('approx-distinct: exact while small, within its stated error when large', async (t) => {
  const small = new HyperLogLog()
  for (let i = 0; i < 1000; i++) small.add('v' + (i % 700))
  t.equal(small.estimate(), 700)
  for (const n of [5_000, 100_000]) {
    const h = new HyperLogLog()
    for (let i = 0; i < n; i++) h.add('user-' + i)
    const err = Math.abs(h.estimate() - n) / n
    t.ok(err < 4 * HyperLogLog.STANDARD_ERROR, `n=${n}: estimate ${h.estimate()}, error ${(err * 100).toFixed(2)}%`)
  }
})

t.test('specs: FUNC[:FIELD][=NAME] and output names', async (t) => {
  t.same(parseAggSpec('sum:amount'), { func: 'sum', field: 'amount', name: 'amount_sum' })
  t.same(parseAggSpec('approx-distinct:page'), { func: 'approx-distinct', field: 'page', name: 'page_approx_distinct' })
  t.same(parseAggSpec('p95:latency=slow'), { func: 'p95', field: 'latency', name: 'slow' })
  t.equal(defaultName('distinct', 'device.os'), 'device_os_distinct')
  t.equal(parseAggSpec('count').name, 'count')
  t.throws(() => parseAggSpec('p0:x'), /unknown function 'p0'/)
  t.throws(() => parseAggSpec('p101:x'), /unknown function/)
  t.throws(() => new RowAggregator([parseAggSpec('sum:a'), parseAggSpec('sum:a')]), /two aggregates are named 'a_sum'/)
  t.ok(AGGREGATES.every((a) => a.describe.length > 10), 'every function describes itself for --help')
})
