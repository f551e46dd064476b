// A row of aggregates: the specs of one `aggregate` stage (FUNC[:FIELD][=NAME]), compiled once,
// and their accumulators for one (key, window).
import { compileIntegerText } from '../../expr/exact.js'
import { compilePath } from '../../expr/path.js'
import { isInexactInteger } from '../../stream/json-text.js'
import { dataError, usageError, type Position } from '../../stream/errors.js'
import { AGGREGATES, NotANumber, findAggregate, type AggregateFunction } from './table.js'

export interface AggSpec {
  func: string
  field?: string
  /** output field name */
  name: string
}

/** Output names are FIELD_FUNC with '-' and other non-identifier characters as '_', so jq reads them unquoted. */
export function defaultName(func: string, field: string | undefined): string {
  const f = func.replace(/[^A-Za-z0-9_]+/g, '_')
  if (field === undefined) return f
  return `${field.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '')}_${f}`
}

export function parseAggSpec(text: string): AggSpec {
  const m = /^([A-Za-z][\w.-]*)(?::([^=]+))?(?:=(.+))?$/.exec(text)
  if (!m) throw usageError(`aggregate '${text}': expected FUNC[:FIELD][=NAME], e.g. count, sum:amount, p95:latency=p95`)
  const [, func, field, name] = m
  const fn = findAggregate(func!)
  if (!fn)
    throw usageError(`aggregate '${text}': unknown function '${func}' (one of ${AGGREGATES.map((a) => a.name).join(', ')}, pN)`)
  if (fn.field === 'required' && field === undefined) throw usageError(`aggregate '${text}': ${func} needs a field: ${func}:FIELD`)
  if (fn.field === 'none' && field !== undefined) throw usageError(`aggregate '${text}': ${func} takes no field`)
  if (field !== undefined) compilePath(field)
  // a row is a plain object: assigning __proto__ sets its prototype, and the result was written {}
  if (name === '__proto__') throw usageError(`aggregate '${text}': a row cannot hold a field named __proto__; choose another =NAME`)
  return { func: func!, field, name: name ?? defaultName(func!, field) }
}

/** The warning for a result JSON cannot hold (RowAggregator.onNonFinite). */
export function overflowed(name: string): string {
  return `${name} went past ±1.8e308 and is written as null (JSON has no infinity)`
}

export class RowAggregator {
  readonly fns: AggregateFunction[]
  readonly getters: (((r: unknown) => unknown) | undefined)[]
  /** for functions that tell values apart by their text: the exact literal of a rounded integer */
  readonly integerTexts: (((raw: string) => string | undefined) | undefined)[]
  readonly names: string[]
  /**
   * Told the name of a result that is not a finite number (a sum past ±1.8e308), which JSON
   * writes as null: the operator says so once rather than let a total vanish quietly.
   */
  onNonFinite: ((name: string) => void) | undefined

  constructor(readonly specs: AggSpec[]) {
    this.fns = specs.map((s) => findAggregate(s.func)!)
    this.getters = specs.map((s) => (s.field === undefined ? undefined : compilePath(s.field)))
    this.integerTexts = specs.map((s, i) => (s.field !== undefined && this.fns[i]!.exactIntegers ? compileIntegerText(s.field) : undefined))
    this.names = specs.map((s) => s.name)
    const dup = this.names.find((n, i) => this.names.indexOf(n) !== i)
    if (dup) throw usageError(`two aggregates are named '${dup}': name one with =NAME`)
  }

  create(): unknown[] {
    return this.fns.map((f) => f.create())
  }

  /**
   * Why the record cannot be aggregated (a non-number for a numeric function), or undefined.
   * Operators ask before adding, so a bad record changes no accumulator and the job's bad-input
   * policy (fail, skip, dead-letter) decides what happens to it.
   */
  check(value: unknown): string | undefined {
    for (let i = 0; i < this.fns.length; i++) {
      const get = this.getters[i]
      if (get === undefined) continue
      const v = get(value)
      const what = `${this.specs[i]!.func}:${this.specs[i]!.field}`
      // JSON.parse reads 1e400 as Infinity, which JSON.stringify writes as null: a silent null
      // in the result, so it is bad input for every function that keeps the value or adds it up
      // (all but count:FIELD, which only counts it)
      if (typeof v === 'number' && !Number.isFinite(v) && this.fns[i]!.field !== 'optional') return `${what}: a number beyond the range of a double (±1.8e308)`
      if (this.fns[i]!.numeric && v !== undefined && v !== null && typeof v !== 'number')
        return `${what}: expected a number, got ${JSON.stringify(v)}`
    }
    return undefined
  }

  /**
   * Adds value to accs in place (accs[i] takes what each function's add returns). accs is plain
   * data like its accumulators; a caller keeping it in keyed state must `put` it back afterwards
   * (the write-back contract of lib/state/backend.ts), as after `merge`.
   */
  add(accs: unknown[], value: unknown, seq: number, pos: Position & { raw?: string }): void {
    const fns = this.fns
    for (let i = 0; i < fns.length; i++) {
      const get = this.getters[i]
      if (get === undefined) {
        accs[i] = fns[i]!.add(accs[i], null, seq)
        continue
      }
      const v = get(value)
      if (v === undefined || v === null) continue
      const text = this.integerTexts[i]
      const exact = text && isInexactInteger(v) && pos.raw !== undefined ? text(pos.raw) : undefined
      try {
        accs[i] = fns[i]!.add(accs[i], v, seq, exact)
      } catch (e) {
        if (e instanceof NotANumber) throw dataError(pos, `${this.specs[i]!.func}:${this.specs[i]!.field}: ${e.message}`)
        throw e
      }
    }
  }

  merge(a: unknown[], b: unknown[]): unknown[] {
    return this.fns.map((f, i) => f.merge(a[i], b[i]))
  }

  /** Writes name → result into row, in spec order. */
  results(accs: unknown[], row: Record<string, unknown>): void {
    for (let i = 0; i < this.fns.length; i++) {
      const r = this.fns[i]!.result(accs[i])
      if (typeof r === 'number' && r - r !== 0) this.onNonFinite?.(this.names[i]!)
      row[this.names[i]!] = r
    }
  }
}
