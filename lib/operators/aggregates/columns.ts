// A row of aggregates kept in columns: the accumulators of many (key, window) pairs side by side,
// one column per accumulator part, a row per pair (operators/windows/panes.ts). count, sum, min,
// max and avg keep numbers in Float64Arrays; every other function keeps its accumulator, as
// RowAggregator makes it, in an array column. Why: with an accumulator array per key and window,
// the sparse profile made one object per input record and the dense one read three scattered
// objects per record (issue 19); a row in columns is a few doubles next to its neighbours.
//
// Results are those of RowAggregator over the same values in the same order, to the bit: the same
// operations in the same order (sum starts from its first value, avg adds to 0 and divides at the
// end). accsOf and setAccs convert a row to and from RowAggregator's accumulators, which is what
// keyed state stores: a snapshot is the same whichever route made it.
import { isInexactInteger } from '../../stream/json-text.js'
import { dataError, type Position } from '../../stream/errors.js'
import { NotANumber } from './table.js'
import type { RowAggregator } from './row.js'

const COUNT = 0 // count, count:FIELD: one column, the count
const SUM = 1 // sum: value, values seen (0: null)
const MIN = 2
const MAX = 3
const AVG = 4 // avg, mean: sum from 0, values seen
const OTHER = 5 // the function's own accumulator, in an array column

export interface ColumnTable {
  capacity: number
  nums: Float64Array[]
  objs: unknown[][]
}

export class ColumnAggregator {
  private readonly kinds: number[]
  /** per spec: its first number column, or its array column (OTHER) */
  private readonly at: number[]
  private readonly numberColumns: number
  private readonly objectColumns: number

  constructor(private readonly agg: RowAggregator) {
    this.kinds = agg.fns.map((f) => {
      switch (f.name) {
        case 'count':
          return COUNT
        case 'sum':
          return SUM
        case 'min':
          return MIN
        case 'max':
          return MAX
        case 'avg':
        case 'mean':
          return AVG
        default:
          return OTHER
      }
    })
    let nums = 0
    let objs = 0
    this.at = this.kinds.map((k) => (k === OTHER ? objs++ : ((nums += k === COUNT ? 1 : 2), nums - (k === COUNT ? 1 : 2))))
    this.numberColumns = nums
    this.objectColumns = objs
  }

  table(capacity: number): ColumnTable {
    return {
      capacity,
      nums: Array.from({ length: this.numberColumns }, () => new Float64Array(capacity)),
      objs: Array.from({ length: this.objectColumns }, () => new Array<unknown>(capacity)),
    }
  }

  /** Room for `capacity` rows, the rows so far kept. */
  grow(t: ColumnTable, capacity: number): void {
    for (let c = 0; c < t.nums.length; c++) {
      const bigger = new Float64Array(capacity)
      bigger.set(t.nums[c]!)
      t.nums[c] = bigger
    }
    for (const col of t.objs) col.length = capacity
    t.capacity = capacity
  }

  /** Starts row `row` as RowAggregator.create() would (the columns may hold an old row's values). */
  clear(t: ColumnTable, row: number): void {
    for (let c = 0; c < t.nums.length; c++) t.nums[c]![row] = 0
    const fns = this.agg.fns
    for (let i = 0; i < fns.length; i++) if (this.kinds[i] === OTHER) t.objs[this.at[i]!]![row] = fns[i]!.create()
  }

  /** RowAggregator.add, into row `row`. */
  add(t: ColumnTable, row: number, value: unknown, seq: number, pos: Position & { raw?: string }): void {
    const { fns, getters, integerTexts, specs } = this.agg
    const kinds = this.kinds
    const nums = t.nums
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i]!
      const get = getters[i]
      const v = get === undefined ? null : get(value)
      if (get !== undefined && (v === undefined || v === null)) continue
      const c = this.at[i]!
      if (kind === COUNT) {
        nums[c]![row]!++
        continue
      }
      if (kind !== OTHER) {
        // check() let only numbers through; a record that skipped it is an error, as in RowAggregator
        if (typeof v !== 'number') throw dataError(pos, `${specs[i]!.func}:${specs[i]!.field}: expected a number, got ${JSON.stringify(v)}`)
        const col = nums[c]!
        const seen = nums[c + 1]!
        if (kind === AVG) col[row] = col[row]! + v
        else if (seen[row] === 0) col[row] = v
        else if (kind === SUM) col[row] = col[row]! + v
        else if (kind === MIN) {
          if (v < col[row]!) col[row] = v
        } else if (v > col[row]!) col[row] = v
        seen[row]!++
        continue
      }
      const objs = t.objs[c]!
      const text = integerTexts[i]
      const exact = text && isInexactInteger(v) && pos.raw !== undefined ? text(pos.raw) : undefined
      try {
        objs[row] = fns[i]!.add(objs[row], v, seq, exact)
      } catch (e) {
        if (e instanceof NotANumber) throw dataError(pos, `${specs[i]!.func}:${specs[i]!.field}: ${e.message}`)
        throw e
      }
    }
  }

  /** RowAggregator.results of row `row`. */
  results(t: ColumnTable, row: number, out: Record<string, unknown>): void {
    const { fns, names } = this.agg
    const kinds = this.kinds
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i]!
      const c = this.at[i]!
      let r: unknown
      if (kind === COUNT) r = t.nums[c]![row]
      else if (kind === OTHER) r = fns[i]!.result(t.objs[c]![row])
      else {
        const n = t.nums[c + 1]![row]!
        r = n === 0 ? null : kind === AVG ? t.nums[c]![row]! / n : t.nums[c]![row]
      }
      if (typeof r === 'number' && r - r !== 0) this.agg.onNonFinite?.(names[i]!)
      out[names[i]!] = r
    }
  }

  /** Row `row` as RowAggregator's accumulators (what keyed state keeps). */
  accsOf(t: ColumnTable, row: number): unknown[] {
    const kinds = this.kinds
    const accs = new Array<unknown>(kinds.length)
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i]!
      const c = this.at[i]!
      if (kind === COUNT) accs[i] = t.nums[c]![row]
      else if (kind === OTHER) accs[i] = t.objs[c]![row]
      else if (kind === AVG) accs[i] = { n: t.nums[c + 1]![row], sum: t.nums[c]![row] }
      else accs[i] = t.nums[c + 1]![row] === 0 ? null : t.nums[c]![row]
    }
    return accs
  }

  /** Sets row `row` from RowAggregator's accumulators. */
  setAccs(t: ColumnTable, row: number, accs: unknown[]): void {
    const kinds = this.kinds
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i]!
      const c = this.at[i]!
      const a = accs[i]
      if (kind === COUNT) t.nums[c]![row] = a as number
      else if (kind === OTHER) t.objs[c]![row] = a
      else if (kind === AVG) {
        t.nums[c]![row] = (a as { sum: number }).sum
        t.nums[c + 1]![row] = (a as { n: number }).n
      } else {
        t.nums[c]![row] = a === null ? 0 : (a as number)
        t.nums[c + 1]![row] = a === null ? 0 : 1
      }
    }
  }
}
