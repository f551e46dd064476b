// A key is the partition a record belongs to. One canonical form gives both its order (output
// order, and the same in every state backend) and its key group, the unit by which keyed state
// will be split across workers and rescaled from a checkpoint (decisions.md 2).

/** Fixed maximum number of key groups. It is written into every checkpoint manifest. */
export const MAX_KEY_GROUPS = 128

export interface Key {
  /** The values of the key fields, in `keyby` order. */
  readonly values: readonly unknown[]
  /** Canonical text: the JSON text of the single value, or of the array of values. */
  readonly canon: string
  /** hash(canon) mod MAX_KEY_GROUPS */
  readonly group: number
}

/** The key of records that were never keyed: one global partition. */
export const NO_KEY: Key = { values: [], canon: '', group: 0 }

export function makeKey(values: unknown[]): Key {
  const canon = values.length === 1 ? canonicalJson(values[0]) : canonicalJson(values)
  return { values, canon, group: keyGroupOf(canon) }
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
