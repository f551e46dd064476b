// Reading a record's time. Timestamps are integer epoch milliseconds within ±2^53 (decisions.md 3).
// An ISO-8601 string must carry Z or an offset: Date.parse reads a zone-less string in the local
// zone and accepts "Jan 1 2024", so anything else is bad input, not a guess.
import { compilePath } from '../expr/path.js'

export type TimeUnit = 'ms' | 's'
/** How times are written in the input, so window bounds can be written the same way. */
export type TimeFormat = 'ms' | 's' | 'iso'

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|z|([+-])(\d{2}):?(\d{2}))$/

export interface ExtractedTime {
  ms: number
  format: TimeFormat
}

/** Returns the time, or a string saying why the field cannot be read. */
export function timeExtractor(field: string, unit: TimeUnit): (r: unknown) => ExtractedTime | string {
  const get = compilePath(field)
  const scale = unit === 's' ? 1000 : 1
  return (r) => {
    const v = get(r)
    if (typeof v === 'number') {
      const ms = unit === 's' ? Math.round(v * scale) : v
      if (!Number.isInteger(ms) || !Number.isSafeInteger(ms))
        return `time field '${field}' is ${v}, expected integer epoch ${unit === 's' ? 'seconds' : 'milliseconds'}`
      return { ms, format: unit }
    }
    if (typeof v === 'string') {
      const m = ISO.exec(v)
      if (!m) return `time field '${field}' is "${v}", expected ISO-8601 with Z or an offset (+02:00), or epoch ${unit}`
      const ms = Date.parse(v.replace(' ', 'T'))
      if (Number.isNaN(ms) || !sameFields(ms, m)) return `time field '${field}' is "${v}", not a valid date`
      return { ms, format: 'iso' }
    }
    return v === undefined ? `time field '${field}' is missing` : `time field '${field}' is ${JSON.stringify(v)}, expected a time`
  }
}

/** Date.parse rolls 2024-02-30 over to March 1: check that the fields read back unchanged. */
function sameFields(ms: number, m: RegExpExecArray): boolean {
  const offsetMin = m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]))
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
