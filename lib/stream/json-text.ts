// Reading JSON text where a parsed value has lost something: JSON.parse turns an integer beyond
// 2^53 into the nearest double (9007199254740993 becomes ...992), so two ids become one key. The
// exact digits are still in the record's bytes (decisions.md 1); these helpers find them.

/** An integer JSON.parse could not keep exactly: beyond ±2^53. */
export function isInexactInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)
}

/** The text of a JSON integer literal (no fraction, no exponent): what a key keeps exactly. */
export const INTEGER_LITERAL = /^-?(?:0|[1-9]\d*)$/

/**
 * A JSON number text whose exact value is an integer, as an integer literal: 12345678901234567890.0
 * and 1.2345678901234567890e19 are 12345678901234567890, as 1.0 is 1 (one value, one key);
 * undefined when the exact value has a fraction (JSON.parse's double may still be an integer).
 */
export function exactIntegerText(text: string): string | undefined {
  if (INTEGER_LITERAL.test(text)) return text
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (!m) return undefined
  const fraction = m[3] ?? ''
  let digits = m[2]! + fraction
  const shift = Number(m[4] ?? 0) - fraction.length
  // beyond this the literal is longer than any input line allowed (and 1e400 is not a number)
  if (shift > 10_000) return undefined
  if (shift >= 0) digits += '0'.repeat(shift)
  else if (/^0*$/.test(digits.slice(shift))) digits = digits.slice(0, shift)
  else return undefined
  digits = digits.replace(/^0+(?=\d)/, '')
  return digits === '0' ? '0' : m[1] + digits
}

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
