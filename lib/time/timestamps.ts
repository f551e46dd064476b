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
  /** ms of the field's value itself */
  msOf(value: unknown): number
  why(r: unknown): string
  /** How the field writes times: seconds, milliseconds, or ISO strings. */
  format(r: unknown): TimeFormat
  /** format of the field's value itself */
  formatOf(value: unknown): TimeFormat
}

/**
 * Reads a record's time. The hot path (`ms`) returns a number and allocates nothing; the reason
 * for a bad time is worked out only when there is one.
 */
export function timeExtractor(field: string, unit: TimeUnit): TimeExtractor {
  const get = compilePath(field)
  const read = (r: unknown): number | string => readValue(get(r))
  const readValue = (v: unknown): number | string => {
    if (typeof v === 'number') {
      const ms = unit === 's' ? Math.round(v * 1000) : v
      if (!Number.isSafeInteger(ms))
        // an integer out of range is not "not an integer"; and its digits were already rounded by
        // JSON.parse (9007199254740993 reads 9007199254740992), so they are not quoted as the input's
        return Number.isInteger(ms) || !Number.isFinite(ms)
          ? `time field '${field}' is a number beyond ±2^53 epoch milliseconds, the times weir keeps exactly`
          : `time field '${field}' is ${v}, expected integer epoch ${unit === 's' ? 'seconds' : 'milliseconds'}`
      return ms
    }
    if (typeof v === 'string') {
      const fast = isoMillis(v)
      if (fast === fast) return fast // not NaN
      return parseIsoSlowly(v, field, unit)
    }
    return v === undefined ? `time field '${field}' is missing` : `time field '${field}' is ${JSON.stringify(v)}, expected a time`
  }
  const formatOf = (v: unknown): TimeFormat => (typeof v === 'string' ? 'iso' : unit)
  const msOf = (v: unknown): number => {
    // the common case inline: integer epoch milliseconds
    if (unit === 'ms' && typeof v === 'number' && Number.isSafeInteger(v)) return v
    const t = readValue(v)
    return typeof t === 'number' ? t : NaN
  }
  return {
    ms: (r) => msOf(get(r)),
    msOf,
    why: (r) => {
      const t = read(r)
      return typeof t === 'string' ? t : 'time field is valid'
    },
    format: (r) => formatOf(get(r)),
    formatOf,
  }
}

/**
 * An ISO-8601 time the general way: what isoMillis leaves (a lower-case t or z, a space for T,
 * fractions of other than 3 digits, offsets without a colon or of whole hours, second 60, hour
 * 24) and what is not a valid time at all. The epoch ms, or why the text is not one.
 */
export function parseIsoSlowly(v: string, field: string, unit: TimeUnit): number | string {
  const m = ISO.exec(v)
  if (!m) return `time field '${field}' is "${v}", expected ISO-8601 with Z or an offset (+02:00), or epoch ${unit}`
  // in the one form Date.parse is sure to read: T, and Z or ±HH:MM
  const zone = m[7] === undefined ? 'Z' : `${m[7]}${m[8]}:${m[9] ?? '00'}`
  const ms = Date.parse(`${v.slice(0, 10)}T${v.slice(11).replace(ZONE, '')}${zone}`)
  if (Number.isNaN(ms) || !sameFields(ms, m)) return `time field '${field}' is "${v}", not a valid date`
  return ms
}

/**
 * The epoch ms of the common ISO-8601 form, YYYY-MM-DDTHH:MM:SS, then .mmm or nothing, then Z or
 * ±HH:MM, read digit by digit; NaN for anything else, which parseIsoSlowly then reads (or
 * refuses). The general way (a regular expression, Date.parse, and reading the fields back to
 * refuse a 30 February) took 1.2 µs a record, a third of a window job over ISO times; this takes a
 * tenth of that. test/time/timestamps.ts holds the two equal over generated times, valid or not.
 */
export function isoMillis(v: string): number {
  const n = v.length
  if (n !== 20 && n !== 24 && n !== 25 && n !== 29) return NaN
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58) return NaN
  const year = digits(v, 0, 4)
  const month = digits(v, 5, 2)
  const day = digits(v, 8, 2)
  const hour = digits(v, 11, 2)
  const minute = digits(v, 14, 2)
  const second = digits(v, 17, 2)
  // NaN fails every comparison: a non-digit anywhere ends here
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59)) return NaN
  let i = 19
  let frac = 0
  if (v.charCodeAt(i) === 46 /* . */) {
    frac = digits(v, 20, 3)
    if (!(frac >= 0)) return NaN
    i = 23
  }
  let offset = 0
  const z = v.charCodeAt(i)
  if (z === 90 /* Z */) {
    if (i + 1 !== n) return NaN
  } else if (z === 43 || z === 45 /* + - */) {
    if (i + 6 !== n || v.charCodeAt(i + 3) !== 58) return NaN
    const oh = digits(v, i + 1, 2)
    const om = digits(v, i + 4, 2)
    if (!(oh <= 23 && om <= 59)) return NaN
    offset = (z === 45 ? -1 : 1) * (oh * 60 + om) * 60_000
  } else return NaN
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + frac - offset
}

/** The value of `count` decimal digits at v[at], or NaN where one is not a digit. */
function digits(v: string, at: number, count: number): number {
  let x = 0
  for (let i = at; i < at + count; i++) {
    const d = v.charCodeAt(i) - 48
    if (d < 0 || d > 9) return NaN
    x = x * 10 + d
  }
  return x
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** Days from 1970-01-01 to the date in the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
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
