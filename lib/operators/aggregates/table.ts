// The aggregate functions, as one table (the model is Miller's stats1 accumulators). Help and man
// pages list this table. Each function is incremental: an accumulator takes values one at a time
// and never holds records. `merge` combines two accumulators, which session windows need when a
// record bridges two sessions. Accumulators are plain data (arrays, numbers, objects), so a
// durable backend can serialise them.
//
// Values: null and missing are skipped by everything but `count` (decisions.md 10). Numeric
// functions take JSON numbers; any other value is bad input with its line number.

export interface AggregateFunction {
  name: string
  describe: string
  /** 'none': takes no field (count); 'optional': count:FIELD counts non-null values */
  field: 'required' | 'none' | 'optional'
  /** takes JSON numbers only */
  numeric?: boolean
  create(): unknown
  /** v is never null/undefined here; seq is the arrival number of the record */
  add(acc: unknown, v: unknown, seq: number): unknown
  merge(a: unknown, b: unknown): unknown
  result(acc: unknown): unknown
}

export class NotANumber extends Error {}

function num(v: unknown): number {
  if (typeof v !== 'number') throw new NotANumber(`expected a number, got ${JSON.stringify(v)}`)
  return v
}

type Welford = { n: number; mean: number; m2: number }
type Seqd = { seq: number; v: unknown }
type Collected = { seqs: number[]; vals: unknown[] }

// count, sum, min and max keep a plain number (null before the first value) rather than an
// object: with thousands of keys and windows open, an object per accumulator is most of the
// garbage that outlives the young generation.
const sumLike = (name: string, describe: string, combine: (a: number, b: number) => number): AggregateFunction => ({
  name,
  describe,
  field: 'required',
  numeric: true,
  create: () => null,
  add: (acc, v) => (acc === null ? num(v) : combine(acc as number, num(v))),
  merge: (a, b) => (a === null ? b : b === null ? a : combine(a as number, b as number)),
  result: (acc) => acc,
})

const welford = (name: string, describe: string, finish: (w: Welford) => number | null): AggregateFunction => ({
  name,
  describe,
  field: 'required',
  numeric: true,
  create: (): Welford => ({ n: 0, mean: 0, m2: 0 }),
  add(acc, v) {
    const w = acc as Welford
    const x = num(v)
    w.n++
    const d = x - w.mean
    w.mean += d / w.n
    w.m2 += d * (x - w.mean)
    return w
  },
  merge(x, y) {
    // Chan et al.'s parallel combination
    const a = x as Welford
    const b = y as Welford
    if (b.n === 0) return a
    if (a.n === 0) return b
    const n = a.n + b.n
    const d = b.mean - a.mean
    return { n, mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n }
  },
  result: (acc) => finish(acc as Welford),
})

/** Nearest rank, as Miller's non-interpolated percentiles: sorted[min(n − 1, floor(p/100 · n))]. */
export function nearestRank(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.floor((p / 100) * sorted.length)))
  return sorted[i]!
}

export function percentile(p: number, name: string): AggregateFunction {
  return {
    name,
    describe: p === 50 ? 'median, exact (nearest rank, as Miller)' : `${p}th percentile, exact (nearest rank, as Miller)`,
    field: 'required',
    numeric: true,
    create: (): number[] => [],
    add(acc, v) {
      ;(acc as number[]).push(num(v))
      return acc
    },
    merge: (a, b) => (a as number[]).concat(b as number[]),
    result: (acc) => nearestRank(Float64Array.from(acc as number[]).sort() as unknown as number[], p),
  }
}

const byArrival = (name: string, describe: string, keepLater: boolean): AggregateFunction => ({
  name,
  describe,
  field: 'required',
  create: (): Seqd => ({ seq: -1, v: null }),
  add(acc, v, seq) {
    const a = acc as Seqd
    if (a.seq < 0 || (keepLater ? seq > a.seq : seq < a.seq)) {
      a.seq = seq
      a.v = v
    }
    return a
  },
  merge(x, y) {
    const a = x as Seqd
    const b = y as Seqd
    if (a.seq < 0) return b
    if (b.seq < 0) return a
    return keepLater === b.seq > a.seq ? b : a
  },
  result: (acc) => (acc as Seqd).v,
})

/** Distinct values by canonical JSON, as keys: {"a":1,"b":2} and {"b":2,"a":1} are one value. */
function canonical(v: unknown): string {
  return typeof v === 'string' ? 's' + v : 'j' + canonicalJson(v)
}

import { HyperLogLog } from './hyperloglog.js'
import { canonicalJson } from '../../stream/key.js'

const BASE: AggregateFunction[] = [
  {
    name: 'count',
    describe: 'number of records (count:FIELD: number of non-null values of FIELD)',
    field: 'optional',
    create: () => 0,
    add: (acc) => (acc as number) + 1,
    merge: (a, b) => (a as number) + (b as number),
    result: (acc) => acc,
  },
  sumLike('sum', 'sum of the values', (a, b) => a + b),
  sumLike('min', 'smallest value', (a, b) => (b < a ? b : a)),
  sumLike('max', 'largest value', (a, b) => (b > a ? b : a)),
  welford('avg', 'arithmetic mean', (w) => (w.n === 0 ? null : w.mean)),
  welford('mean', 'arithmetic mean (same as avg)', (w) => (w.n === 0 ? null : w.mean)),
  welford('var', 'sample variance (n − 1); null for fewer than 2 values', (w) => (w.n < 2 ? null : w.m2 / (w.n - 1))),
  welford('stddev', 'sample standard deviation (n − 1); null for fewer than 2 values', (w) =>
    w.n < 2 ? null : Math.sqrt(w.m2 / (w.n - 1)),
  ),
  byArrival('first', 'first value in arrival order', false),
  byArrival('last', 'last value in arrival order', true),
  {
    name: 'distinct',
    describe: 'number of distinct values, exact (holds every distinct value)',
    field: 'required',
    create: () => new Set<string>(),
    add(acc, v) {
      ;(acc as Set<string>).add(canonical(v))
      return acc
    },
    merge(a, b) {
      for (const x of b as Set<string>) (a as Set<string>).add(x)
      return a
    },
    result: (acc) => (acc as Set<string>).size,
  },
  {
    name: 'approx-distinct',
    describe: `number of distinct values, estimated in bounded memory: exact up to ${HyperLogLog.EXACT_LIMIT}, then HyperLogLog (${HyperLogLog.REGISTERS} registers, standard error ${(HyperLogLog.STANDARD_ERROR * 100).toFixed(1)}%)`,
    field: 'required',
    create: () => new HyperLogLog(),
    add(acc, v) {
      ;(acc as HyperLogLog).add(canonical(v))
      return acc
    },
    merge: (a, b) => (a as HyperLogLog).merge(b as HyperLogLog),
    result: (acc) => (acc as HyperLogLog).estimate(),
  },
  percentile(50, 'median'),
  {
    name: 'collect',
    describe: 'list of the values, in arrival order',
    field: 'required',
    create: (): Collected => ({ seqs: [], vals: [] }),
    add(acc, v, seq) {
      const c = acc as Collected
      c.seqs.push(seq)
      c.vals.push(v)
      return c
    },
    merge(x, y) {
      const a = x as Collected
      const b = y as Collected
      const out: Collected = { seqs: [], vals: [] }
      let i = 0
      let j = 0
      while (i < a.seqs.length || j < b.seqs.length) {
        if (j >= b.seqs.length || (i < a.seqs.length && a.seqs[i]! < b.seqs[j]!)) {
          out.seqs.push(a.seqs[i]!)
          out.vals.push(a.vals[i++])
        } else {
          out.seqs.push(b.seqs[j]!)
          out.vals.push(b.vals[j++])
        }
      }
      return out
    },
    result: (acc) => (acc as Collected).vals,
  },
]

/** Looks a function up by name; pN (p95, p99.9) is any percentile in (0, 100]. */
export function findAggregate(name: string): AggregateFunction | undefined {
  const f = BASE.find((a) => a.name === name)
  if (f) return f
  const m = /^p(\d+(?:\.\d+)?)$/.exec(name)
  if (m) {
    const p = Number(m[1])
    if (p > 0 && p <= 100) return percentile(p, name)
  }
  return undefined
}

export const AGGREGATES: readonly AggregateFunction[] = BASE
