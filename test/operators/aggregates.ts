import t from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { findAggregate, nearestRank, AGGREGATES, type AggregateFunction } from '../../lib/operators/aggregates/table.js'
import { parseAggSpec, RowAggregator, defaultName } from '../../lib/operators/aggregates/row.js'
import {
  EXACT_LIMIT,
  STANDARD_ERROR,
  hllAdd,
  hllCreate,
  hllEstimate,
  hllMerge,
  type Hll,
} from '../../lib/operators/aggregates/hyperloglog.js'

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
  // the rank is exact where p/100 · n in floating point is just below an integer (Miller agrees)
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1)
  t.equal(run('p58:x', upTo(50)), 30, '0.58 · 50 is 29, not 28.999…')
  t.equal(run('p29:x', upTo(100)), 30)
  t.equal(run('p70:x', upTo(90)), 64)
  t.equal(run('p33.3:x', upTo(1000)), 334)
  t.equal(run('p0.3:x', upTo(1000)), 4)
  t.equal(run('p100:x', upTo(7)), 7)
  for (let n = 1; n <= 200; n++)
    for (let p = 1; p <= 100; p++) {
      const want = Math.min(n, Math.floor((p * n) / 100) + 1) // p·n is an integer: exact
      if (run(`p${p}:x`, upTo(n)) !== want) return t.fail(`p${p} of 1..${n}: want ${want}`)
    }
})

t.test('var and stddev are sample statistics; null below two values', async (t) => {
  t.equal(run('var:x', [2, 4, 4, 4, 5, 5, 7, 9]), 32 / 7)
  t.equal(run('stddev:x', [1, 3]), Math.SQRT2)
  t.equal(run('var:x', [5]), null)
  // Welford, not Σx² − (Σx)²/n, which gives −170.67 here (and 0 with 1e12)
  t.equal(run('var:x', [4, 7, 13, 16].map((x) => x + 1e9)), 30)
  t.equal(run('var:x', [4, 7, 13, 16].map((x) => x + 1e12)), 30)
})

t.test('avg and mean are sum / count, as jq add/length and Miller (issue #18 item 13)', async (t) => {
  t.equal(run('avg:x', [1, 2, 3, 4]), 2.5)
  // Welford's running mean gives 0.2 and 2.2 here: right to the eye, but not what users compute
  t.equal(run('avg:x', [0.1, 0.2, 0.3]), (0.1 + 0.2 + 0.3) / 3)
  t.equal(run('avg:x', [0.1, 0.2, 0.3]), 0.20000000000000004)
  t.equal(run('mean:x', [1.1, 2.2, 3.3]), (1.1 + 2.2 + 3.3) / 3)
  t.equal(run('avg:x', [null]), null)
  const xs = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1013) / 7)
  t.equal(run('avg:x', xs), (run('sum:x', xs) as number) / (run('count:x', xs) as number), "equals the row's sum / count")
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

t.test('distinct values named as Object.prototype properties count once each', async (t) => {
  const odd = ['__proto__', '__proto__', 'constructor', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '']
  const objs = [JSON.parse('{"__proto__":1}'), JSON.parse('{"__proto__":1}'), {}]
  for (const f of ['distinct', 'approx-distinct']) {
    t.equal(run(`${f}:x`, odd), 6, f)
    t.equal(run(`${f}:x`, objs), 2, `${f}: objects with a __proto__ key`)
  }
})

t.test('a non-number for a numeric function is bad input with its line', async (t) => {
  t.throws(() => run('sum:x', [1, 'two']), /t:2: sum:x: expected a number, got "two"/)
})

t.test('a number beyond a double (1e400 parses as Infinity) is bad input for every function, not a silent null', async (t) => {
  for (const func of ['sum', 'max', 'avg', 'first', 'collect', 'distinct', 'median']) {
    const row = new RowAggregator([parseAggSpec(`${func}:x`)])
    for (const v of [JSON.parse('1e400') as number, JSON.parse('-1e400') as number])
      t.equal(row.check({ x: v }), `${func}:x: a number beyond the range of a double (±1.8e308)`, `${func} ${v}`)
    t.equal(row.check({ x: 1.7e308 }), undefined, 'the largest doubles are fine')
  }
  t.equal(new RowAggregator([parseAggSpec('count:x')]).check({ x: Infinity }), undefined, 'count:x counts it without keeping it')
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
  const small = hllCreate()
  for (let i = 0; i < 1000; i++) hllAdd(small, 'v' + (i % 700))
  t.equal(hllEstimate(small), 700)
  for (const n of [5_000, 100_000]) {
    const h = hllCreate()
    for (let i = 0; i < n; i++) hllAdd(h, 'user-' + i)
    const err = Math.abs(hllEstimate(h) - n) / n
    t.ok(err < 4 * STANDARD_ERROR, `n=${n}: estimate ${hllEstimate(h)}, error ${(err * 100).toFixed(2)}%`)
  }
})

t.test('approx-distinct: an estimate asked after every value (a running aggregate) is the one the registers give, as computed afresh', async (t) => {
  // the estimate of the registers asked about last is kept: it must follow every raise, and two
  // sketches asked in turn must each get their own
  const reference = (h: Hll): number => {
    let sum = 0
    let zeros = 0
    for (let i = 0; i < h.regs!.length; i++) {
      const r = h.regs!.charCodeAt(i) - 48
      sum += 2 ** -r
      if (r === 0) zeros++
    }
    const m = h.regs!.length
    const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum
    return raw <= 2.5 * m && zeros > 0 ? Math.round(m * Math.log(m / zeros)) : Math.round(raw)
  }
  const a = hllCreate()
  const b = hllCreate()
  let wrong = 0
  for (let i = 0; i < 30_000; i++) {
    hllAdd(a, 'a' + i)
    if (i % 3 === 0) hllAdd(b, 'b' + i)
    for (const h of [a, b, a]) if (!h.exact && hllEstimate(h) !== reference(h)) wrong++
  }
  t.equal(wrong, 0)
  t.equal(hllEstimate(structuredClone(a)), reference(a), 'an equal copy of the registers, as a restore makes')
})

t.test('approx-distinct estimates are what the HyperLogLog class gave (pinned before it became plain data)', async (t) => {
  const sketch = (prefix: string, n: number): Hll => {
    const h = hllCreate()
    for (let i = 0; i < n; i++) hllAdd(h, prefix + i)
    return h
  }
  // the estimates of the class version (Set + Uint8Array) for the same inputs
  const pinned: [number, number][] = [[700, 700], [1024, 1024], [1025, 1025], [1500, 1501], [3000, 3029], [5000, 5022], [20000, 20117], [100000, 99053]]
  for (const [n, est] of pinned) t.equal(hllEstimate(sketch('user-', n)), est, `n=${n}`)
  t.equal(hllEstimate(hllMerge(sketch('a', 3000), sketch('b', 500))), 3462, 'sketch ∪ exact')
  t.equal(hllEstimate(hllMerge(sketch('c', 600), sketch('d', 700))), 1280, 'exact ∪ exact, past the limit')
  t.equal(hllEstimate(hllMerge(sketch('e', 10), sketch('f', 5000))), 4998, 'exact ∪ sketch')
  // through the table (canonical(): 's' + string, 'j' + JSON)
  for (const [n, est] of [[1025, 2073], [5000, 10480], [100000, 201665]] as const)
    t.equal(run('approx-distinct:x', Array.from({ length: 2 * n }, (_, i) => (i % 2 ? (i - 1) / 2 : 'user-' + i / 2))), est, `table, 2×${n}`)
  const h = sketch('user-', 5000)
  t.equal(h.exact, null)
  t.match(h.regs, /^[0-Z]{4096}$/, 'registers: 4096 printable characters, 4 KiB')
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

// ---- accumulators are plain data (keyed state goes to LMDB as msgpack and into JSON snapshots) ----

/** Where v stops being plain data (JSON-like: finite numbers, strings, booleans, null, arrays, plain objects), or undefined. */
function notPlain(v: unknown, path = 'acc'): string | undefined {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${path} is ${v}`
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return `${path} is not a plain array`
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) return `${path}[${i}] is a hole`
      const bad = notPlain(v[i], `${path}[${i}]`)
      if (bad) return bad
    }
    return undefined
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const k of Object.keys(v)) {
      const bad = notPlain((v as Record<string, unknown>)[k], `${path}.${k}`)
      if (bad) return bad
    }
    return undefined
  }
  return `${path} is ${Object.prototype.toString.call(v)}`
}

const ROUND_TRIPS: [string, (a: unknown) => unknown][] = [
  ['JSON', (a) => JSON.parse(JSON.stringify(a))],
  ['structuredClone', (a) => structuredClone(a)],
]

// Values that would break a set kept in a plain object without canonical()'s prefix, or a lookup
// that reaches Object.prototype; JSON objects with those keys, as input carries them.
const ODD: unknown[] = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '', 'a"b\\c\n', 'ünïcödé ✓', '0', '1', 's', 'j1',
  0, 1, 1.5, -2, 1e21, true, false, [], {}, [1, 'a'], { a: 1, b: [1, 2] }, { b: [1, 2], a: 1 },
  JSON.parse('{"__proto__":{"x":1},"a":2}'), JSON.parse('{"constructor":1}'),
]
// Enough distinct values for approx-distinct to leave its exact phase (checked below), with repeats;
// the first 400 hold some 360 distinct values, past the point where V8 makes an object a dictionary.
const MIXED: unknown[] = [...ODD, ...Array.from({ length: 1600 }, (_, i) => (i % 10 === 0 ? ODD[(i / 10) % ODD.length] : 'u' + ((i * 7) % 1500)))]
const NUMS: number[] = Array.from({ length: 300 }, (_, i) => (((i * 7919) % 1000) - 500) / 8 + (i % 7 === 0 ? 1e9 : 0))

const FUNCTIONS: AggregateFunction[] = [...AGGREGATES, findAggregate('p90')!, findAggregate('p99.9')!]
// all of MIXED only where its length matters (the checks are quadratic in it: 2 s for distinct)
const inputOf = (f: AggregateFunction): unknown[] => (f.numeric ? NUMS : f.name === 'approx-distinct' ? MIXED : MIXED.slice(0, 400))

/** A snapshot of a result: results may share the accumulator's arrays (collect), which later adds change. */
const snap = (x: unknown): unknown => structuredClone(x)

/**
 * What goes wrong when f's accumulator goes through rt: (1) before every add, the accumulator is
 * checked for plain data, round-tripped, and adding continues on the copy; its result must equal,
 * at every position, the result without round trips; (2) once at each of `once` positions, then
 * adding continues to the end; (3) two accumulators round-tripped, then merged, the merge round-
 * tripped and added to, equal the same without round trips. Throwing counts as a failure.
 */
function roundTripFailures(f: AggregateFunction, values: unknown[], rt: (a: unknown) => unknown, once: number[]): string[] {
  const failures: string[] = []
  const addFrom = (acc: unknown, from: number, to: number): unknown => {
    for (let i = from; i < to; i++) acc = f.add(acc, values[i], i)
    return acc
  }
  const ref: unknown[] = []
  let acc = f.create()
  ref.push(snap(f.result(acc)))
  for (let i = 0; i < values.length; i++) {
    acc = f.add(acc, values[i], i)
    ref.push(snap(f.result(acc)))
  }
  const n = values.length
  try {
    let copy = f.create()
    for (let i = 0; i <= n && failures.length < 5; i++) {
      const bad = notPlain(copy)
      if (bad) failures.push(`at ${i}: ${bad}`)
      copy = rt(copy)
      if (!isDeepStrictEqual(f.result(copy), ref[i])) failures.push(`every position: result differs at ${i}`)
      if (i < n) copy = f.add(copy, values[i], i)
    }
  } catch (e) {
    failures.push(`every position: threw ${String(e)}`)
  }
  for (const p of once) {
    try {
      const r = addFrom(rt(addFrom(f.create(), 0, p)), p, n)
      if (!isDeepStrictEqual(f.result(r), ref[n])) failures.push(`once at ${p}: result differs`)
    } catch (e) {
      failures.push(`once at ${p}: threw ${String(e)}`)
    }
  }
  const tail = values.slice(0, 20)
  const mergeAt = (k: number, through: (a: unknown) => unknown): unknown => {
    let m = f.merge(through(addFrom(f.create(), 0, k)), through(addFrom(f.create(), k, n)))
    m = through(m)
    tail.forEach((v, j) => (m = f.add(m, v, n + j)))
    return f.result(m)
  }
  for (const k of [0, 1, Math.floor(n / 3), n - 1, n, ...once]) {
    try {
      if (!isDeepStrictEqual(mergeAt(k, rt), mergeAt(k, (a) => a))) failures.push(`merge at ${k}: result differs`)
    } catch (e) {
      failures.push(`merge at ${k}: threw ${String(e)}`)
    }
  }
  // interleaved, as two sessions a record bridges: a holds the even positions, b the odd
  try {
    const halves = (through: (a: unknown) => unknown): unknown => {
      let a = f.create()
      let b = f.create()
      values.forEach((v, i) => (i % 2 ? (b = through(f.add(b, v, i))) : (a = through(f.add(a, v, i)))))
      return f.result(through(f.merge(a, b)))
    }
    if (!isDeepStrictEqual(halves(rt), halves((a) => a))) failures.push('interleaved merge: result differs')
  } catch (e) {
    failures.push(`interleaved merge: threw ${String(e)}`)
  }
  return failures
}

t.test('accumulators are plain data: every function survives JSON and structuredClone at every position, and merges after', async (t) => {
  // where approx-distinct leaves its exact phase on MIXED: round trips on both sides of it
  let h = hllCreate()
  let crossing = -1
  MIXED.forEach((v, i) => {
    h = findAggregate('approx-distinct')!.add(h, v, i) as Hll
    if (crossing < 0 && h.exact === null) crossing = i
  })
  t.ok(crossing > EXACT_LIMIT, `MIXED takes approx-distinct into its sketch (at ${crossing})`)
  for (const f of FUNCTIONS) {
    const values = inputOf(f)
    const once = [...new Set([0, 1, 2, 7, 26, 99, 200, crossing, crossing + 1, crossing + 2, values.length - 1, values.length])].filter(
      (p) => p >= 0 && p <= values.length,
    )
    for (const [name, rt] of ROUND_TRIPS) t.same(roundTripFailures(f, values, rt, once), [], `${f.name} through ${name}`)
  }
})

t.test('the plain-data check fails a Set, as distinct kept before', async (t) => {
  const setDistinct: AggregateFunction = {
    name: 'set-distinct',
    describe: 'a Set, as before',
    field: 'required',
    create: () => new Set<string>(),
    add: (acc, v) => (acc as Set<string>).add(JSON.stringify(v)),
    merge: (a, b) => new Set([...(a as Set<string>), ...(b as Set<string>)]),
    result: (acc) => (acc as Set<string>).size,
  }
  const [json, clone] = ROUND_TRIPS.map(([, rt]) => roundTripFailures(setDistinct, [1, 2, 2, 'a'], rt, [0, 2]))
  t.match(json!.join('\n'), /threw TypeError/, 'a Set comes back from JSON as {}')
  t.match(clone!.join('\n'), /acc is \[object Set\]/, 'structuredClone keeps a Set, which msgpack would not')
  t.same(notPlain({ a: [1, { b: new Uint8Array(2) }] }), 'acc.a[1].b is [object Uint8Array]')
  t.equal(notPlain({ a: [1, { b: 'x' }], n: null }), undefined)
})

t.test('in columns (the columnar windows) every function gives what its accumulator gives, to the bit, and converts to it and back', async (t) => {
  const { ColumnAggregator } = await import('../../lib/operators/aggregates/columns.js')
  const { rng } = await import('../harness/random.js')
  const seed = Number(process.env.WEIR_SEED ?? Date.now() % 100000)
  t.comment(`seed ${seed} (replay with WEIR_SEED=${seed})`)
  const random = rng(seed)
  const funcs = ['count', 'count:x', 'sum:x', 'min:x', 'max:x', 'avg:x', 'mean:x', 'var:x', 'first:x', 'last:x', 'distinct:x', 'median:x', 'collect:x']
  const specs = funcs.map(parseAggSpec)
  const row = new RowAggregator(specs)
  const cols = new ColumnAggregator(row)
  // values a user's numbers are made of: -0 (which sum must keep when first), fractions whose
  // sums round differently in another order, large and tiny magnitudes, null and missing
  const pick = (): unknown => {
    const r = random()
    if (r < 0.1) return undefined
    if (r < 0.2) return null
    if (r < 0.25) return -0
    if (r < 0.5) return Math.round(random() * 200 - 100)
    if (r < 0.75) return (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20)
    return [0.1, 0.2, 0.3, 1.1, 2.2, 3.3][Math.floor(random() * 6)]
  }
  let failures = 0
  for (let n = 0; n < 200 && failures === 0; n++) {
    // several rows side by side, filled in an interleaved order, in a table that grows
    const rows = 1 + Math.floor(random() * 5)
    const table = cols.table(1)
    const accs = Array.from({ length: rows }, () => row.create())
    for (let r = 0; r < rows; r++) {
      if (r >= table.capacity) cols.grow(table, table.capacity * 2)
      cols.clear(table, r)
    }
    const adds = Math.floor(random() * 12)
    for (let i = 0; i < adds; i++) {
      const r = Math.floor(random() * rows)
      const v = pick()
      const value = v === undefined ? {} : { x: v }
      row.add(accs[r]!, value, i, { source: 't', line: i + 1 })
      cols.add(table, r, value, i, { source: 't', line: i + 1 })
    }
    for (let r = 0; r < rows; r++) {
      const want: Record<string, unknown> = {}
      const got: Record<string, unknown> = {}
      row.results(accs[r]!, want)
      cols.results(table, r, got)
      // Object.is: -0 and 0 are two results (JSON writes both as 0, but a later sum tells them apart)
      for (const name of Object.keys(want)) if (!Object.is(want[name], got[name]) && !isDeepStrictEqual(want[name], got[name])) failures++
      if (!isDeepStrictEqual(cols.accsOf(table, r), accs[r])) failures++
      // back from the accumulators (a restore), then added to alike
      const again = cols.table(1)
      cols.setAccs(again, 0, accs[r]!)
      row.add(accs[r]!, { x: 7 }, 99, { source: 't', line: 99 })
      cols.add(again, 0, { x: 7 }, 99, { source: 't', line: 99 })
      if (!isDeepStrictEqual(cols.accsOf(again, 0), accs[r])) failures++
    }
    if (failures > 0) t.fail(`case ${n}: columns differ from accumulators (seed ${seed})`)
  }
  t.equal(failures, 0, '200 random cases, 1–5 rows each')
  // the two zeros in both orders: min and max keep the first of equal values, sum its first value
  for (const values of [[0, -0], [-0, 0], [-0], [-0, -0], [0.1, 0.2, -0]]) {
    const accs = row.create()
    const table = cols.table(1)
    cols.clear(table, 0)
    values.forEach((x, i) => {
      row.add(accs, { x }, i, { source: 't', line: i + 1 })
      cols.add(table, 0, { x }, i, { source: 't', line: i + 1 })
    })
    t.ok(isDeepStrictEqual(cols.accsOf(table, 0), accs), `zeros ${values.map((x) => (Object.is(x, -0) ? '-0' : String(x))).join(', ')}`)
  }
})

t.test('a percentile asked after every value (a running aggregate) keeps its values in order: the same answers as a sort each time', async (t) => {
  // values with repeats, −0 beside 0 (a sort puts −0 first), and results asked at random moments
  const pool = [-0, 0, 1, -1, 2.5, 2.5, 7, -3, 1e300, -1e300, 0.1]
  let s = 3
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648)
  let wrong = 0
  for (const name of ['median', 'p10', 'p99', 'p0.5']) {
    const fn = findAggregate(name)!
    const p = name === 'median' ? 50 : Number(name.slice(1))
    let acc = fn.create()
    const all: number[] = []
    for (let i = 0; i < 3000; i++) {
      const v = pool[Math.floor(rnd() * pool.length)]!
      acc = fn.add(acc, v, i)
      all.push(v)
      if (rnd() < (i < 1500 ? 0.9 : 0.05)) {
        const want = nearestRank(Float64Array.from(all).sort() as unknown as number[], p)
        if (!Object.is(fn.result(acc), want)) wrong++
      }
      if (i === 2000) {
        // a merge (sessions) gives a new array: asked again, it is put in order once more
        const other = fn.add(fn.create(), -0, 0)
        acc = fn.merge(acc, other)
        all.push(-0)
      }
    }
    t.ok(Object.is(fn.result(acc), nearestRank(Float64Array.from(all).sort() as unknown as number[], p)), `${name}: the last result`)
  }
  t.equal(wrong, 0, 'every result as a sort of the values so far gives')
})
