// `filter` and `map` take a JavaScript expression over `r`, the record. It is compiled once per
// run. The text must be one expression; a typo fails at start-up with exit 64, before any record
// is read, not on line 1 of the input.
import { usageError } from '../stream/errors.js'

export type Expression = (r: unknown) => unknown

export function compileExpression(source: string, what: string): Expression {
  const text = source.trim()
  if (text === '') throw usageError(`${what}: the expression is empty`)
  try {
    // Wrapping the text as the value of an object property accepts exactly one expression:
    // `a; b` and `a), (b` both fail to compile there. The newlines let a trailing // comment end.
    new Function('r', `"use strict"; return ({ v: (\n${text}\n) });`)
    return new Function('r', `"use strict"; return (\n${text}\n);`) as Expression
  } catch (e) {
    throw usageError(`${what}: invalid expression '${source}': ${(e as Error).message}`)
  }
}
