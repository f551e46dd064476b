import type { Argv } from 'yargs'
import type { FilterConfig } from '../operators/filter.js'
import { compileExpression } from '../expr/expression.js'
import { withIo } from '../commandline/common.js'

export const command = 'filter <expr> [files..]'
export const describe = 'Keep the records for which a JavaScript expression over r is truthy'

export const builder = (y: Argv) =>
  withIo(
    y.positional('expr', { type: 'string', describe: 'a JavaScript expression over r, the record' }),
  )
    .example("$0 filter 'r.amount > 10' clicks.ndjson", 'purchases over 10')
    .example("tail -F app.log | $0 filter 'r.level === \"error\"'", 'errors of a live log, as they come')
    .example("$0 filter 'r.device?.os === \"ios\"' clicks.ndjson", 'optional chaining for nested fields')
    .epilogue('Kept records are written unchanged, byte for byte. An expression that throws stops the run (exit 1).')

export function toStage(a: Record<string, unknown>): FilterConfig {
  const expr = String(a.expr)
  compileExpression(expr, 'filter')
  return { op: 'filter', expr }
}
