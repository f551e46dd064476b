import type { Argv } from 'yargs'
import type { AggregateStageConfig } from '../pipeline/stages.js'
import { AGGREGATES } from '../operators/aggregates/table.js'
import { parseAggSpec, type AggSpec } from '../operators/aggregates/row.js'
import { existsSync } from 'node:fs'
import { WeirError, usageError } from '../stream/errors.js'
import { withIo } from '../commandline/common.js'
import { timeConfigOf, withTime } from '../commandline/time-options.js'

export const command = 'aggregate <specs..>'
export const describe = 'Compute count, sum, avg, percentiles… per key and window'

const SPEC = /^[A-Za-z][\w.-]*(?::[^=]+)?(?:=.+)?$/

export const builder = (y: Argv) =>
  withTime(withIo(
    y.positional('specs', {
      type: 'string',
      array: true,
      describe: 'FUNC[:FIELD][=NAME] ..., then input files (the first word that is not an aggregate starts the files)',
    }),
  ))
    .middleware((a) => {
      const words = (a.specs as string[] | undefined) ?? []
      let n = 0
      while (n < words.length && SPEC.test(words[n]!) && !words[n]!.includes('/') && !/\.(ndjson|jsonl|json)$/.test(words[n]!)) n++
      a.aggSpecs = words.slice(0, n)
      a.files = [...words.slice(n), ...((a.files as string[] | undefined) ?? [])]
    })
    .option('emit', { choices: ['final', 'updates'], default: 'final', describe: 'without a window: one row per key at the end, or the updated row on every record' })
    .example('$0 keyby user then window tumbling 1m --time ts then aggregate count sum:amount clicks.ndjson', 'per user and minute')
    .example('$0 keyby country then aggregate count avg:latency p95:latency clicks.ndjson', 'running totals per country, at the end')
    .example('$0 keyby user then aggregate count --emit updates clicks.ndjson', "each user's count as it changes")
    .example('$0 keyby user then aggregate count --time ts --state-ttl 30d --job-dir .weir/u --resume --no-flush log.ndjson', 'from cron: a user quiet for 30 days gets a final row and is forgotten')
    .epilogue(
      'Functions: ' +
        AGGREGATES.map((f) => `${f.name} (${f.describe})`).join('; ') +
        '; pN: Nth percentile, exact (nearest rank), e.g. p95, p99.9. Output fields are named FIELD_FUNC ' +
        '(amount_sum, latency_p95; count for count) unless =NAME is given; key fields come first, then window_start and ' +
        'window_end after a window. Null and missing values are skipped by all but count. See weir-aggregate(1).',
    )

export function toStage(a: Record<string, unknown>): AggregateStageConfig {
  const texts = (a.aggSpecs as string[] | undefined) ?? []
  if (texts.length === 0) throw usageError('aggregate needs at least one FUNC[:FIELD][=NAME], e.g. count or sum:amount')
  const time = timeConfigOf(a, false)
  return { op: 'aggregate', specs: texts.map(specOrFileHint), emit: a.emit === 'updates' ? 'updates' : 'final', ...(time ? { time } : {}) }
}

/**
 * A word that is not an aggregate but names a file (`clicks.log`: not .ndjson, no slash) was
 * taken for one: say how to make it an input.
 */
function specOrFileHint(text: string): AggSpec {
  try {
    return parseAggSpec(text)
  } catch (e) {
    if (e instanceof WeirError && existsSync(text))
      throw usageError(`${e.message}; to read the file '${text}', write ./${text} or put it after --`)
    throw e
  }
}
