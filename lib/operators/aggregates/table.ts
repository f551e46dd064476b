// The aggregate functions, as one table (the model is Miller's stats1 accumulators). Help and man
// pages list this table. Each function is incremental: an accumulator takes values one at a time
// and never holds records. `merge` combines two accumulators, which session windows need when a
// record bridges two sessions.
//
// Accumulators are plain data: numbers, strings, booleans, null, arrays and plain objects, never a
// Set, a Map, a class instance or a typed array. Keyed state keeps them in LMDB (msgpack) and
// snapshots them with structuredClone and JSON; a Set comes back from JSON as {} and a Uint8Array as
// {"0":…}, so an accumulator that is not plain would be silently wrong after a restore. The test
// "accumulators are plain data" round-trips every function's accumulator at every position.
// Numbers should stay finite (JSON has no NaN or Infinity).
//
// The contract with callers: always use what create/add/merge return (count and sum return a new
// number; others may return the accumulator mutated, or another one), and `put` it back into state
// after every add or merge, even when it is the same object: the put is what marks it dirty for
// the write-back cache (lib/state/backend.ts), and a mutation without one is lost on LMDB. merge
// may mutate its first argument and may return either argument: after a merge, keep only its
// result.
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
  /** tells values apart by their text: wants the exact literal of an integer beyond 2^53 */
  exactIntegers?: boolean
  /**
   * v is never null/undefined here; seq is the arrival number of the record; exact: for a function
   * with exactIntegers, the literal of an integer v beyond 2^53 (JSON.parse rounded v), if known
   */
  add(acc: unknown, v: unknown, seq: number, exact?: string): unknown
  merge(a: unknown, b: unknown): unknown
  result(acc: unknown): unknown
}

export class NotANumber extends Error {}

function num(v: unknown): number {
  if (typeof v !== 'number') throw new NotANumber(`expected a number, got ${JSON.stringify(v)}`)
  return v
}

type Welford = { n: number; mean: number; m2: number }
type SumCount = { n: number; sum: number }
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

// avg and mean are sum / n, not Welford's running mean (issue #18 item 13): users check them
// against sum/count (jq's add/length, Miller's mean, Python's sum(xs)/len(xs)) and against the
// sum and count columns of the same row. Welford's mean rounds at every step and so differs from
// those in the last bits, either way: for 0.1, 0.2, 0.3 it gives 0.2 where add/length gives
// 0.20000000000000004; for 1.1, 2.2, 3.3, 2.2 against 2.1999999999999997. Neither is the more
// exact in general; sum / n is the one users can reproduce. Adding in arrival order, as `sum`
// does, makes avg exactly the row's sum / count.
const sumCount = (name: string, describe: string): AggregateFunction => ({
  name,
  describe,
  field: 'required',
  numeric: true,
  create: (): SumCount => ({ n: 0, sum: 0 }),
  add(acc, v) {
    const a = acc as SumCount
    a.sum += num(v)
    a.n++
    return a
  },
  merge(x, y) {
    const a = x as SumCount
    const b = y as SumCount
    a.n += b.n
    a.sum += b.sum
    return a
  },
  result: (acc) => ((acc as SumCount).n === 0 ? null : (acc as SumCount).sum / (acc as SumCount).n),
})

// var and stddev stay on Welford: the textbook (Σx² − (Σx)²/n) / (n − 1) subtracts two large,
// nearly equal numbers when the mean is large next to the spread (timestamps, prices in cents),
// and loses most digits or even goes negative; Welford's running mean and M2 do not (Knuth, TAOCP
// vol. 2, 4.2.2). There is no jq or Miller one-liner for users to compare with bit for bit.
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

/**
 * Nearest rank, as Miller's non-interpolated percentiles: sorted[min(n − 1, floor(p/100 · n))],
 * with floor(p/100 · n) exact. In floating point 0.58 · 50 is 28.999…, and p58 of 1..50 would
 * be 29 where Miller and the formula give 30: p is read as the decimal it was written as (p99.9
 * is 999/10) and the rank taken in integers.
 */
export function nearestRank(sorted: number[], p: number, fraction = decimalFraction(p)): number | null {
  const n = sorted.length
  if (n === 0) return null
  const [num, den] = fraction
  const rank = num * n < Number.MAX_SAFE_INTEGER ? Math.floor((num * n) / (100 * den)) : Number((BigInt(num) * BigInt(n)) / (100n * BigInt(den)))
  return sorted[Math.min(n - 1, Math.max(0, rank))]!
}

/** A percentage given with up to 10 decimals (pN's N) as integers num/den, exactly. */
function decimalFraction(p: number): [number, number] {
  const text = p.toFixed(10).replace(/\.?0+$/, '')
  const dot = text.indexOf('.')
  return dot < 0 ? [Number(text), 1] : [Number(text.replace('.', '')), 10 ** (text.length - dot - 1)]
}

/**
 * A percentile's values; `sorted`: in the order Float64Array sorts (−0 before 0). A property of
 * the array only: state stores the values, and a restored array is sorted again at its first result.
 */
type Values = number[] & { sorted?: boolean }

/** Where x goes in ascending values, after every value at or below it (−0 below 0). */
function upperBound(values: number[], x: number): number {
  const negZero = x === 0 && 1 / x < 0
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const v = values[mid]!
    // v <= x, with −0 below 0: a 0 is above a −0
    if (v < x || (v === x && !(negZero && !(1 / v < 0)))) lo = mid + 1
    else hi = mid
  }
  return lo
}

export function percentile(p: number, name: string): AggregateFunction {
  // p as the decimal it was written as, once per aggregate, not once per row (a sliding window
  // writes a row per slide)
  const fraction = decimalFraction(p)
  return {
    name,
    describe: p === 50 ? 'median, exact (nearest rank, as Miller)' : `${p}th percentile, exact (nearest rank, as Miller)`,
    field: 'required',
    numeric: true,
    create: (): number[] => [],
    add(acc, v) {
      const values = acc as Values
      const x = num(v)
      // kept in order once a result was asked for (a running aggregate asks after every record):
      // a step of insertion then, rather than a sort of all of them at each result
      if (values.sorted === true) values.splice(upperBound(values, x), 0, x)
      else values.push(x)
      return acc
    },
    merge: (a, b) => (a as number[]).concat(b as number[]),
    result(acc) {
      const values = acc as Values
      if (values.sorted !== true) {
        // in place: the same values in another order (what is stored is the values, in any order)
        const sorted = Float64Array.from(values).sort()
        for (let i = 0; i < sorted.length; i++) values[i] = sorted[i]!
        values.sorted = true
      }
      return nearestRank(values, p, fraction)
    },
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
function canonical(v: unknown, exact: string | undefined): string {
  return typeof v === 'string' ? 's' + v : 'j' + (exact ?? canonicalJson(v))
}

import {
  EXACT_LIMIT,
  REGISTERS,
  STANDARD_ERROR,
  hllAdd,
  hllCreate,
  hllEstimate,
  hllMerge,
  keySetAdd,
  keySetCreate,
  type Hll,
  type KeySet,
} from './hyperloglog.js'
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
  sumCount('avg', 'arithmetic mean (sum / count)'),
  sumCount('mean', 'arithmetic mean (same as avg)'),
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
    // a KeySet of canonical() strings: plain data, and the 's'/'j' prefix keeps '__proto__' out
    // of the keys (hyperloglog.ts, with the measurements against a sorted array)
    exactIntegers: true,
    create: (): KeySet => keySetCreate(),
    add(acc, v, _seq, exact) {
      keySetAdd(acc as KeySet, canonical(v, exact))
      return acc
    },
    merge(a, b) {
      for (const k in (b as KeySet).keys) keySetAdd(a as KeySet, k)
      return a
    },
    result: (acc) => (acc as KeySet).n,
  },
  {
    name: 'approx-distinct',
    describe: `number of distinct values, estimated in bounded memory: exact up to ${EXACT_LIMIT}, then HyperLogLog (${REGISTERS} registers, standard error ${(STANDARD_ERROR * 100).toFixed(1)}%)`,
    field: 'required',
    exactIntegers: true,
    create: (): Hll => hllCreate(),
    add: (acc, v, _seq, exact) => hllAdd(acc as Hll, canonical(v, exact)),
    merge: (a, b) => hllMerge(a as Hll, b as Hll),
    result: (acc) => hllEstimate(acc as Hll),
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
