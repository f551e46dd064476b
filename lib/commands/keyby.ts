import type { Argv } from 'yargs'
import type { KeybyConfig } from '../operators/keyby.js'
import { parsePath } from '../expr/path.js'
import { withIo } from '../commandline/common.js'

export const command = 'keyby <fields> [files..]'
export const describe = 'Partition the stream by key, for the stateful stages that follow'

export const builder = (y: Argv) =>
  withIo(
    y.positional('fields', {
      type: 'string',
      describe: 'comma-separated field paths forming the key: user, payload.user_id, items[0].sku',
    }),
  )
    .example('$0 keyby user clicks.ndjson', 'key each record by its user field (records pass through unchanged)')
    .example('$0 keyby user,country then aggregate count clicks.ndjson', 'count records per (user, country)')
    .epilogue(
      'keyby does not change records: it sets the key that window, aggregate and process use. ' +
        'A record without the key field is bad input (exit 65).',
    )

export function toStage(a: Record<string, unknown>): KeybyConfig {
  const fields = String(a.fields)
    .split(',')
    .map((f) => f.trim())
  for (const f of fields) parsePath(f) // a bad path fails here, before any record is read
  return { op: 'keyby', fields }
}
