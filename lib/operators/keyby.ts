// keyby partitions the stream: it sets the key of each record for the operators that follow.
// It does not edit the record, so its bytes pass through unchanged.
import { compilePath, topLevelName } from '../expr/path.js'
import { compileIntegerText } from '../expr/exact.js'
import { isInexactInteger } from '../stream/json-text.js'
import { makeKey, type Key } from '../stream/key.js'
import type { Rec } from '../stream/record.js'
import type { Operator, OperatorContext } from './operator.js'

export interface KeybyConfig {
  op: 'keyby'
  fields: string[]
}

/**
 * Keys seen lately, by value, for a key of one field holding a string or a number: most streams
 * repeat their keys, and a key's canonical text and key group were a tenth of a sparse job's time
 * (issue 19). Keys are immutable, so records share them. Bounded: emptied when full, so a stream of
 * ever new keys costs one failed lookup per record and no memory.
 */
const RECENT_KEYS = 1 << 16

/**
 * Reads the key of records by a key selector (the fields of a `keyby`): keyby itself, and a stage
 * that continues a keyed stream from a pipe (pipeline/pipes.ts), key records alike, so a pipe
 * gives the keys `then` gives, 64-bit ids included.
 */
export class KeyReader {
  private readonly getters: ((v: unknown) => unknown)[]
  private readonly integerTexts: ((raw: string) => string | undefined)[]
  private readonly recent: Map<string | number, Key> | undefined
  /**
   * Keys of several fields seen lately, one map level per field (a key of `user,country` is found
   * by the user, then the country), for values that are strings or numbers. Making a compound key
   * (the canonical text of its values, its key group) was a quarter of a window job keyed so.
   */
  private readonly recentCompound: Map<unknown, unknown> | undefined
  private compoundKeys = 0
  /** a record's key values, while they are looked up */
  private readonly values: unknown[]
  /** after `read` returned undefined: the index of the key field the record lacks */
  missing = 0
  /** after `read` returned undefined: the field is there, but a number beyond a double's range (1e400) */
  private overflow = false

  constructor(readonly fields: string[]) {
    this.getters = fields.map(compilePath)
    this.integerTexts = fields.map(compileIntegerText)
    this.recent = fields.length === 1 ? new Map() : undefined
    this.recentCompound = fields.length > 1 ? new Map() : undefined
    this.values = new Array<unknown>(fields.length)
  }

  /** Whether the record has every key field (`missing` says which it lacks), without making its key. */
  has(rec: Rec): boolean {
    for (let i = 0; i < this.getters.length; i++) {
      const v = this.getters[i]!(rec.value)
      if (v === undefined || beyondRange(v)) {
        this.missing = i
        this.overflow = v !== undefined
        return false
      }
    }
    return true
  }

  /** Why `read` or `has` gave no key: a key field missing, or a number beyond range. `setBy`: the stage that set the key. */
  why(setBy?: string): string {
    const field = `key field '${this.fields[this.missing]}'${setBy ? ` (set by '${setBy}')` : ''}`
    return this.overflow ? `${field} is a number beyond ±1.8e308, which JSON cannot keep` : `${field} is missing`
  }

  /** The record's key; undefined when it lacks a key field or it is a number beyond range (`why` says which). */
  read(rec: Rec): Key | undefined {
    const getters = this.getters
    if (this.recent) {
      const key = this.plainKey(getters[0]!(rec.value))
      if (key !== undefined) return key
    }
    const compound = this.recentCompound
    if (compound) {
      const key = this.recentCompoundKey(rec, compound)
      if (key !== undefined) return key
    }
    const values = new Array<unknown>(getters.length)
    let texts: (string | undefined)[] | undefined
    for (let i = 0; i < getters.length; i++) {
      const v = getters[i]!(rec.value)
      if (v === undefined || beyondRange(v)) {
        this.missing = i
        this.overflow = v !== undefined
        return undefined
      }
      values[i] = v
      // a 64-bit id that JSON.parse rounded: its digits are in the record's bytes (after a map
      // there are none, and the rounded value is the key)
      if (isInexactInteger(v) && rec.raw !== undefined) (texts ??= [])[i] = this.integerTexts[i]!(rec.raw)
    }
    return makeKey(values, texts)
  }

  /**
   * The key of a one-field selector whose value is `v`, when it is a string or an exact number;
   * undefined otherwise (and for a selector of several fields): then `read` decides.
   */
  plainKey(v: unknown): Key | undefined {
    const recent = this.recent
    // an integer beyond 2^53 takes its digits from the record's bytes: not by value
    if (recent === undefined || !plainKeyValue(v)) return undefined
    let key = recent.get(v)
    if (key === undefined) {
      if (recent.size >= RECENT_KEYS) recent.clear()
      recent.set(v, (key = makeKey([v])))
    }
    return key
  }

  /** The record's key from the recent compound keys (made and kept on a miss); undefined unless every value is plain. */
  private recentCompoundKey(rec: Rec, compound: Map<unknown, unknown>): Key | undefined {
    const getters = this.getters
    const values = this.values
    const last = getters.length - 1
    for (let i = 0; i <= last; i++) {
      const v = getters[i]!(rec.value)
      if (!plainKeyValue(v)) return undefined
      values[i] = v
    }
    let level = compound
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]) as Map<unknown, unknown> | undefined
      if (next === undefined) level.set(values[i], (next = new Map()))
      level = next
    }
    let key = level.get(values[last]) as Key | undefined
    if (key === undefined) {
      // bounded: emptied when full, as the one-field keys
      if (this.compoundKeys >= RECENT_KEYS) {
        compound.clear()
        this.compoundKeys = 0
      }
      key = makeKey(values.slice())
      level.set(values[last], key)
      this.compoundKeys++
    }
    return key
  }
}

/**
 * A number beyond a double's range: JSON.parse reads 1e400 as Infinity, which JSON.stringify
 * writes as null. As a key it would silently be the key null, so the record is refused, as the
 * aggregates refuse such a value.
 */
function beyondRange(v: unknown): boolean {
  return typeof v === 'number' && !Number.isFinite(v)
}

/** A key value the recent keys hold by value: a string, or a number that is exact (not beyond 2^53). */
function plainKeyValue(v: unknown): v is string | number {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v) && !isInexactInteger(v))
}

/**
 * `keysRead`: whether anything after this keyby in the process reads the key (pipeline/build.ts
 * keysReadAfter). When nothing does (`weir keyby user | …`: the next process finds the key again
 * by the selector in the side channel), a record is only checked for its key fields: making the
 * key was most of this stage's work.
 */
export function keyby(cfg: KeybyConfig, uid: string, keysRead = true): Operator {
  const keys = new KeyReader(cfg.fields)
  let ctx: OperatorContext
  // a record with every key field passes unchanged: when each is a top-level name, the driver may
  // forward its bytes (the first stage of `weir keyby user | …` then never decodes a record)
  const names = cfg.fields.map(topLevelName)
  const topLevel = names.every((name) => name !== undefined)
  return {
    uid,
    ...(!keysRead && topLevel ? { passesWhenPresent: names as string[] } : {}),
    open(c) {
      ctx = c
    },
    processRecord(rec, out) {
      if (!keysRead) {
        if (!keys.has(rec)) return ctx.badRecord(rec, keys.why())
        return out.record(rec)
      }
      const key = keys.read(rec)
      if (key === undefined) return ctx.badRecord(rec, keys.why())
      rec.key = key
      out.record(rec)
    },
  }
}
