// Field paths select a value inside a record: `user`, `payload.user_id`, `items[0].sku`,
// `["odd key"].x`. They are compiled once into a plain function.
import { usageError } from '../stream/errors.js'

export type PathStep = string | number

/** The name a path selects at the top level of a record, when it is one plain name (`user`, not `a.b`). */
export function topLevelName(text: string): string | undefined {
  const steps = parsePath(text)
  return steps.length === 1 && typeof steps[0] === 'string' ? steps[0] : undefined
}

export function parsePath(text: string): PathStep[] {
  const steps: PathStep[] = []
  let i = 0
  const fail = (why: string) => usageError(`field path '${text}': ${why} at character ${i + 1}`)
  if (text.length === 0) throw usageError('field path is empty')
  while (i < text.length) {
    const c = text[i]
    if (c === '[') {
      const close = text.indexOf(']', i)
      if (close < 0) throw fail("missing ']'")
      const inner = text.slice(i + 1, close).trim()
      if (/^\d+$/.test(inner)) steps.push(Number(inner))
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) steps.push(JSON.parse(inner) as string)
      else throw fail('expected an index or a "quoted name" inside [ ]')
      i = close + 1
    } else if (c === '.') {
      // 'a..b' is not 'a.b' (in jq '..' is recursion): an empty name between the dots
      if (i === 0 || i === text.length - 1 || text[i + 1] === '.') throw fail("unexpected '.'")
      i++
    } else {
      const m = /^[^.[\]]+/.exec(text.slice(i))
      if (!m) throw fail('expected a field name')
      steps.push(m[0])
      i += m[0].length
    }
  }
  return steps
}

/**
 * Whether a parsed record could answer this name from its prototype rather than its own fields:
 * `constructor`, `toString`, `__proto__` (Object.prototype), `map`, `at` (Array.prototype).
 */
function inherited(step: PathStep): boolean {
  return typeof step === 'string' && (step in Object.prototype || step in Array.prototype)
}

/**
 * Returns undefined when any step is missing, like `?.`. Only a record's own fields count: a
 * record without `constructor` lacks the field (bad input for a key or a time), rather than
 * having Object's constructor. The check is made only for such names, decided here, once.
 */
export function compilePath(text: string): (r: unknown) => unknown {
  const steps = parsePath(text)
  if (steps.length === 1) {
    const s = steps[0]!
    if (inherited(s)) return (r) => (r !== null && typeof r === 'object' && Object.hasOwn(r, s) ? (r as Record<PathStep, unknown>)[s] : undefined)
    return (r) => (r !== null && typeof r === 'object' ? (r as Record<PathStep, unknown>)[s] : undefined)
  }
  if (steps.some(inherited))
    return (r) => {
      let v: unknown = r
      for (const s of steps) {
        if (v === null || typeof v !== 'object' || !Object.hasOwn(v, s)) return undefined
        v = (v as Record<PathStep, unknown>)[s]
      }
      return v
    }
  return (r) => {
    let v: unknown = r
    for (const s of steps) {
      if (v === null || typeof v !== 'object') return undefined
      v = (v as Record<PathStep, unknown>)[s]
    }
    return v
  }
}

/** The name a path's value gets in output rows: its last named step (`payload.user_id` → `user_id`). */
export function pathLeafName(text: string): string {
  const steps = parsePath(text)
  for (let i = steps.length - 1; i >= 0; i--) if (typeof steps[i] === 'string') return steps[i] as string
  return text
}
