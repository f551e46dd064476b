// The exact text of an integer beyond 2^53 at a field path, read from the record's bytes, for the
// stages that must tell such integers apart: keys (keyby) and distinct values.
import { exactIntegerText, skipValue, skipWs } from '../stream/json-text.js'
import { parsePath, type PathStep } from './path.js'

/** (raw line) → the integer literal at the path, or undefined (no such field, or not an integer). */
export function compileIntegerText(path: string): (raw: string) => string | undefined {
  const steps = parsePath(path)
  return (raw) => {
    let at = skipWs(raw, 0)
    for (const step of steps) {
      at = typeof step === 'string' ? member(raw, at, step) : element(raw, at, step)
      if (at < 0) return undefined
    }
    const text = raw.slice(at, skipValue(raw, at))
    return exactIntegerText(text)
  }
}

/** Where the value of member `name` of the object at i starts (the last one, as JSON.parse), or -1. */
function member(raw: string, i: number, name: PathStep): number {
  if (raw.charCodeAt(i) !== 123 /* { */) return -1
  let found = -1
  i = skipWs(raw, i + 1)
  while (raw.charCodeAt(i) === 34 /* " */) {
    const end = skipValue(raw, i)
    const token = raw.slice(i + 1, end - 1)
    const key = token.includes('\\') ? (JSON.parse(raw.slice(i, end)) as string) : token
    i = skipWs(raw, skipWs(raw, end) + 1) // past the ':'
    if (key === name) found = i
    i = skipWs(raw, skipValue(raw, i))
    if (raw.charCodeAt(i) !== 44 /* , */) break
    i = skipWs(raw, i + 1)
  }
  return found
}

/** Where element `index` of the array at i starts, or -1. */
function element(raw: string, i: number, index: PathStep): number {
  if (raw.charCodeAt(i) !== 91 /* [ */) return -1
  i = skipWs(raw, i + 1)
  if (raw.charCodeAt(i) === 93 /* ] */) return -1
  for (let n = 0; ; n++) {
    if (n === index) return i
    i = skipWs(raw, skipValue(raw, i))
    if (raw.charCodeAt(i) !== 44 /* , */) return -1
    i = skipWs(raw, i + 1)
  }
}
