// A key is the partition a record belongs to. One canonical form gives both its order (output
// order, and the same in every state backend) and its key group, the unit by which keyed state
// will be split across workers and rescaled from a checkpoint (decisions.md 2).

import { INTEGER_LITERAL, isInexactInteger, skipValue } from './json-text.js'

/** Fixed maximum number of key groups. It is written into every checkpoint manifest. */
export const MAX_KEY_GROUPS = 128

export interface Key {
  /** The values of the key fields, in `keyby` order. */
  readonly values: readonly unknown[]
  /** Canonical text: the JSON text of the single value, or of the array of values. */
  readonly canon: string
  /** hash(canon) mod MAX_KEY_GROUPS */
  readonly group: number
  /**
   * Where a state backend last found this key's state, and in which operator's state: records of
   * one key share one Key object (KeyReader keeps recent keys), so the next lookup of the key goes
   * straight to its state instead of through a hash map. The backend owns both fields and checks
   * them before trusting them (state/memory.ts); nothing else reads them.
   */
  stateOwner?: unknown
  stateSlots?: unknown[]
  /**
   * The open window (a table of the columnar route, operators/windows/panes.ts) this key was last
   * added to, by the table's number, and its row there: records of one key in one window skip the
   * table's hash map. A number, not the table: a key kept elsewhere (the keys seen lately) must not
   * keep a table that is gone. The tables own both fields.
   */
  paneId?: number
  paneRow?: number
}

/** The key of records that were never keyed: one global partition. */
export const NO_KEY: Key = { values: [], canon: '', group: 0, stateOwner: undefined, stateSlots: undefined, paneId: 0, paneRow: 0 }

/**
 * texts: by position, the exact literal of an integer value beyond 2^53, which JSON.parse rounded
 * (keyby reads it from the record's bytes): the canonical form keeps its digits, so ids that
 * differ beyond 2^53 stay two keys, ordered as their texts. values keep the rounded number, which
 * is what stages see and what state stores beside the canonical form.
 */
export function makeKey(values: unknown[], texts?: (string | undefined)[]): Key {
  const canon =
    texts === undefined
      ? values.length === 1
        ? canonicalJson(values[0])
        : canonicalJson(values)
      : values.length === 1
        ? (texts[0] ?? canonicalJson(values[0]))
        : '[' + values.map((v, i) => texts[i] ?? canonicalJson(v)).join(',') + ']'
  // every field at once, so keys share one hidden class whether or not a backend has used them
  return { values, canon, group: keyGroupOf(canon), stateOwner: undefined, stateSlots: undefined, paneId: 0, paneRow: 0 }
}

/**
 * The exact texts of a key's integer values beyond 2^53, by position, read back from its canonical
 * form (which is all that survives a restore from LMDB); undefined when it has none, as nearly
 * every key.
 */
export function exactKeyTexts(key: Key): (string | undefined)[] | undefined {
  if (!key.values.some(isInexactInteger)) return undefined
  let parts = [key.canon]
  if (key.values.length > 1) {
    parts = []
    for (let i = 1; i < key.canon.length; ) {
      const end = skipValue(key.canon, i)
      parts.push(key.canon.slice(i, end))
      i = end + 1
    }
  }
  return key.values.map((v, i) => (isInexactInteger(v) && INTEGER_LITERAL.test(parts[i] ?? '') ? parts[i] : undefined))
}

/** JSON text with object keys sorted, so {a,b} and {b,a} are one key. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null'
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']'
  const o = v as Record<string, unknown>
  return '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}'
}

/**
 * FNV-1a over the UTF-16 code units of the canonical text. Any stable hash would do; this one is
 * short, has no dependency, and is the same in every process and version of weir, which is what
 * matters: changing it would move keys between key groups and break restore of old checkpoints.
 */
export function keyGroupOf(canon: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < canon.length; i++) {
    h ^= canon.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % MAX_KEY_GROUPS
}

const HIGH = /[\uD800-\uFFFF]/

/**
 * Whether the engine's own `<` orders this text as compareCanon does against any other text of
 * which the same holds: it has no code unit at or above U+D800. A sort of many keys checks each
 * key once with this, instead of twice per comparison.
 */
export function plainOrdered(canon: string): boolean {
  return !HIGH.test(canon)
}

/**
 * Orders canonical key texts by Unicode code point, which is also the byte order of their UTF-8
 * encoding, so an LMDB backend that sorts keys by bytes yields the same order as the memory one.
 * Plain `<` compares UTF-16 code units, which differs for characters above U+FFFF.
 */
export function compareCanon(a: string, b: string): number {
  if (a === b) return 0
  // Where neither text has a code unit at or above U+D800, UTF-16 order is code point order and
  // the engine's own comparison is exact: the common case, and much faster than the loop below.
  if (!HIGH.test(a) && !HIGH.test(b)) return a < b ? -1 : 1
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff
      const ys = y >= 0xd800 && y <= 0xdfff
      if (xs !== ys) return xs ? 1 : -1 // a surrogate (a code point ≥ U+10000) sorts after any BMP unit
      return x - y
    }
  }
  return a.length - b.length
}
