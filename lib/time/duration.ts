// Durations: 500ms, 10s, 5m, 1h, 1d, and sums such as 1m30s. Exact: 1d is 86,400,000 ms
// (days are UTC days; --offset moves them). A bare number is refused: "5" could be s or ms.
import { usageError } from '../stream/errors.js'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

export function parseDuration(text: string, what = 'duration', allowNegative = false): number {
  const t = String(text).trim()
  const sign = allowNegative && t.startsWith('-') ? -1 : 1
  const body = sign < 0 ? t.slice(1) : t
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(body)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    matched = re.lastIndex
  }
  if (body === '' || matched !== body.length)
    throw usageError(`${what} '${text}': expected a number with a unit (ms, s, m, h, d, w), e.g. 500ms, 10s, 1m30s`)
  if (!Number.isInteger(total)) throw usageError(`${what} '${text}' is not a whole number of milliseconds`)
  return sign * total
}
