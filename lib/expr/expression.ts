// `filter` and `map` take a JavaScript expression over `r`, the record. It is compiled once per
// run. The text must be one expression; a typo fails at start-up with exit 64, before any record
// is read, not on line 1 of the input.
import { Script } from 'node:vm'
import { usageError } from '../stream/errors.js'

export type Expression = (r: unknown) => unknown

export function compileExpression(source: string, what: string): Expression {
  const text = source.trim()
  if (text === '') throw usageError(`${what}: the expression is empty`)
  try {
    // Wrapping the text as the value of an object property accepts exactly one expression:
    // `a; b` fails to compile there. Text that closes the wrapper's parenthesis and opens another
    // (`r.a)||(true`) compiles in parentheses but not in brackets, and the reverse: in both it is
    // one expression. The newlines let a trailing // comment end.
    new Function('r', `"use strict"; return ({ v: (\n${text}\n) });`)
    new Function('r', `"use strict"; return [\n${text}\n];`)
    return new Function('r', `"use strict"; return (\n${text}\n);`) as Expression
  } catch (e) {
    throw usageError(`${what}: invalid expression '${source}': ${syntaxProblem(source) ?? (e as Error).message}`)
  }
}

/**
 * What is wrong with the text, in the user's terms. The compiled code wraps it (`({ v: (` … `) })`),
 * so V8 blames tokens the user never typed: `r.amount >` gets "Unexpected token ')'" about the
 * wrapper's parenthesis. The text is parsed again, first as a script of its own and then in the
 * wrapper, where V8 reports a position (vm.Script puts it in the stack); an error past the user's
 * text means the text ended too early.
 */
function syntaxProblem(source: string): string | undefined {
  const lines = source.split('\n').length
  const probes = [
    { code: `"use strict";\n${source}\n`, say: '' },
    // a script, but not one expression (`a; b`, `let x = 1`): the wrapper tells where
    { code: `"use strict"; ({ v: (\n${source}\n) });`, say: 'not one expression: ' },
  ]
  for (const { code, say } of probes) {
    const e = syntaxError(code)
    if (!e) continue
    if (e.message === 'Unexpected end of input' || e.line === undefined || e.line - 1 > lines) return 'unexpected end of expression'
    if (e.column === undefined) return say + e.message
    return `${say}${e.message} at ${lines > 1 ? `line ${e.line - 1}, ` : ''}column ${e.column + 1}`
  }
  return undefined
}

function syntaxError(code: string): { message: string; line?: number; column?: number } | undefined {
  try {
    new Script(code, { filename: 'expression' })
    return undefined
  } catch (e) {
    // the stack starts "expression:LINE", the line of code, and a caret line under the token
    const [where, , caret] = ((e as Error).stack ?? '').split('\n')
    const m = /^expression:(\d+)$/.exec(where ?? '')
    const col = caret?.indexOf('^') ?? -1
    return { message: (e as Error).message, line: m ? Number(m[1]) : undefined, column: col >= 0 ? col : undefined }
  }
}
