import type { Argv } from 'yargs'
import type { MapConfig } from '../operators/map.js'
import { compileExpression } from '../expr/expression.js'
import { withIo } from '../commandline/common.js'

export const command = 'map <expr> [files..]'
export const describe = 'Replace each record by the value of a JavaScript expression over r'

export const builder = (y: Argv) =>
  withIo(
    y.positional('expr', { type: 'string', describe: 'a JavaScript expression over r; wrap object literals in ( )' }),
  )
    .example("$0 map '({...r, cents: r.amount * 100})' clicks.ndjson", 'add a field')
    .example("$0 map '({user: r.user, os: r.device.os})' clicks.ndjson", 'project and flatten')
    .epilogue(
      'The key and the time of a record survive map. An expression that throws, or returns undefined, ' +
        'stops the run with the line number (exit 1).',
    )

export function toStage(a: Record<string, unknown>): MapConfig {
  const expr = String(a.expr)
  compileExpression(expr, 'map')
  return { op: 'map', expr }
}
