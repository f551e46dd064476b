// Reading JSON text where a parsed value has lost something: JSON.parse turns an integer beyond
// 2^53 into the nearest double (9007199254740993 becomes ...992), so two ids become one key. The
// exact digits are still in the record's bytes (decisions.md 1); these helpers find them.

/** An integer JSON.parse could not keep exactly: beyond ±2^53. */
export function isInexactInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)
}

/** The text of a JSON integer literal (no fraction, no exponent): what a key keeps exactly. */
export const INTEGER_LITERAL = /^-?(?:0|[1-9]\d*)$/

export function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i)
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i
    i++
  }
}

/** Where the JSON value starting at i (no leading space) ends, in text already known to be JSON. */
export function skipValue(text: string, i: number): number {
  let depth = 0
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === 92) i++
        else if (d === 34) break
      }
      if (depth === 0) return i + 1
    } else if (c === 123 || c === 91) depth++
    else if (c === 125 || c === 93) {
      if (depth === 0) return i // the end of the container holding a scalar
      if (--depth === 0) return i + 1
    } else if (depth === 0 && (c === 44 || c === 32 || c === 9 || c === 10 || c === 13)) return i
  }
  return i
}
