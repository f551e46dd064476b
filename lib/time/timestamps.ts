// Reading a record's time. Timestamps are integer epoch milliseconds within ±2^53 (decisions.md 3).
// An ISO-8601 string must carry Z or an offset: Date.parse reads a zone-less string in the local
// zone and accepts "Jan 1 2024", so anything else is bad input, not a guess.
import { compilePath } from '../expr/path.js'

export type TimeUnit = 'ms' | 's'
/** How times are written in the input, so window bounds can be written the same way. */
export type TimeFormat = 'ms' | 's' | 'iso'

// RFC 3339 allows a lower-case t and z; ISO 8601 allows an offset of whole hours (+02)
const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/
const ZONE = /(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$/

export interface TimeExtractor {
  /** The time in epoch ms, or NaN when the field cannot be read (then `why` says why). */
  ms(r: unknown): number
  why(r: unknown): string
  /** How the field writes times: seconds, milliseconds, or ISO strings. */
  format(r: unknown): TimeFormat
}

/**
 * Reads a record's time. The hot path (`ms`) returns a number and allocates nothing; the reason
 * for a bad time is worked out only when there is one.
 */
export function timeExtractor(field: string, unit: TimeUnit): TimeExtractor {
  const get = compilePath(field)
  const read = (r: unknown): number | string => {
    const v = get(r)
    if (typeof v === 'number') {
      const ms = unit === 's' ? Math.round(v * 1000) : v
      if (!Number.isSafeInteger(ms))
        return `time field '${field}' is ${v}, expected integer epoch ${unit === 's' ? 'seconds' : 'milliseconds'}`
      return ms
    }
    if (typeof v === 'string') {
      const m = ISO.exec(v)
      if (!m) return `time field '${field}' is "${v}", expected ISO-8601 with Z or an offset (+02:00), or epoch ${unit}`
      // in the one form Date.parse is sure to read: T, and Z or ±HH:MM
      const zone = m[7] === undefined ? 'Z' : `${m[7]}${m[8]}:${m[9] ?? '00'}`
      const ms = Date.parse(`${v.slice(0, 10)}T${v.slice(11).replace(ZONE, '')}${zone}`)
      if (Number.isNaN(ms) || !sameFields(ms, m)) return `time field '${field}' is "${v}", not a valid date`
      return ms
    }
    return v === undefined ? `time field '${field}' is missing` : `time field '${field}' is ${JSON.stringify(v)}, expected a time`
  }
  return {
    ms(r) {
      const v = get(r)
      // the common case inline: integer epoch milliseconds
      if (unit === 'ms' && typeof v === 'number' && Number.isSafeInteger(v)) return v
      const t = read(r)
      return typeof t === 'number' ? t : NaN
    },
    why: (r) => {
      const t = read(r)
      return typeof t === 'string' ? t : 'time field is valid'
    },
    format: (r) => (typeof get(r) === 'string' ? 'iso' : unit),
  }
}

/** Date.parse rolls 2024-02-30 over to March 1: check that the fields read back unchanged. */
function sameFields(ms: number, m: RegExpExecArray): boolean {
  const offsetMin = m[7] === undefined ? 0 : (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9] ?? 0))
  const d = new Date(ms + offsetMin * 60_000)
  return (
    d.getUTCFullYear() === Number(m[1]) &&
    d.getUTCMonth() + 1 === Number(m[2]) &&
    d.getUTCDate() === Number(m[3]) &&
    d.getUTCHours() === Number(m[4]) &&
    d.getUTCMinutes() === Number(m[5])
  )
}

/** Writes a time (window bounds) the way the input wrote its times: numbers stay numbers, ISO stays ISO. */
export function formatTime(ms: number, format: TimeFormat): number | string {
  if (format === 'iso') return new Date(ms).toISOString()
  if (format === 's') return ms / 1000
  return ms
}
