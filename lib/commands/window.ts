import type { Argv } from 'yargs'
import type { WindowStageConfig } from '../pipeline/stages.js'
import type { WindowSpec } from '../operators/windows/assigners.js'
import { usageError } from '../stream/errors.js'
import { parseDuration } from '../time/duration.js'
import { withIo } from '../commandline/common.js'
import { timeConfigOf, withTime } from '../commandline/time-options.js'

export const command = 'window <kind> [params..]'
export const describe = 'Assign records to event-time windows: tumbling, sliding, session, count, global'

const KINDS = ['tumbling', 'sliding', 'session', 'count', 'global']
/** How many positional parameters each kind takes before the input files. */
const ARITY: Record<string, number> = { tumbling: 1, sliding: 2, session: 1, count: 1, global: 0 }

export const builder = (y: Argv) =>
  withTime(
    withIo(
      y
        .positional('kind', { choices: KINDS, describe: 'window kind' })
        .positional('params', {
          type: 'string',
          array: true,
          describe: 'tumbling SIZE | sliding SIZE SLIDE | session GAP | count N | global, then input files',
        }),
    ),
  )
    .middleware((a) => {
      // `window tumbling 1m in.ndjson`: the kind decides how many words are parameters
      const params = (a.params as string[] | undefined) ?? []
      const n = ARITY[String(a.kind)] ?? 0
      a.windowParams = params.slice(0, n)
      a.files = [...params.slice(n), ...((a.files as string[] | undefined) ?? [])]
    })
    .option('offset', { type: 'string', default: '0ms', describe: 'shift tumbling/sliding windows, e.g. --offset 5h for days of UTC−5 (as Flink, the offset is minus the zone: --offset=-8h for UTC+8)' })
    .option('lateness', { type: 'string', default: '0ms', describe: 'allowed lateness: keep a fired window until watermark ≥ end − 1 + lateness' })
    .example('$0 keyby user then window tumbling 1m --time ts then aggregate count clicks.ndjson', 'clicks per user per minute')
    .example('$0 window tumbling 1m --time ts clicks.ndjson', 'each record with window_start and window_end added')
    .example('$0 keyby user then window session 30s --time ts --max-delay 5s then aggregate count clicks.ndjson', 'sessions: records less than 30 s apart')
    .example('$0 keyby user then window sliding 10m 1m --time ts then aggregate sum:amount clicks.ndjson', '10-minute sums every minute')
    .epilogue(
      'A window [start, end) fires when the watermark reaches end − 1. The watermark is the largest time seen minus ' +
        '--max-delay minus 1 ms, so records up to --max-delay out of order are on time. A record whose windows have all ' +
        'passed end − 1 + lateness is late: it goes to --late-output, or is counted and dropped. At the end of a bounded ' +
        'input every open window fires (count and global windows too). See weir-window(1).',
    )

export function toStage(a: Record<string, unknown>): WindowStageConfig {
  const kind = String(a.kind)
  const p = (a.windowParams as string[] | undefined) ?? []
  const need = ARITY[kind]!
  if (p.length < need)
    throw usageError(`window ${kind} needs ${['', 'a size', 'SIZE and SLIDE'][need] ?? ''}${kind === 'session' ? ' (the gap)' : ''}${kind === 'count' ? ' (N records)' : ''}`)
  const offset = parseDuration(String(a.offset ?? '0ms'), '--offset', true)
  let spec: WindowSpec
  switch (kind) {
    case 'tumbling':
      spec = { kind, size: positive(p[0]!, 'size'), offset }
      break
    case 'sliding': {
      const size = positive(p[0]!, 'size')
      const slide = positive(p[1]!, 'slide')
      if (slide > size) throw usageError(`window sliding: slide ${p[1]} is longer than size ${p[0]}; records between windows would be lost`)
      spec = { kind, size, slide, offset }
      break
    }
    case 'session':
      spec = { kind, gap: positive(p[0]!, 'gap') }
      break
    case 'count': {
      const n = Number(p[0])
      if (!Number.isInteger(n) || n < 1) throw usageError(`window count '${p[0]}': expected a whole number of records ≥ 1`)
      spec = { kind, size: n }
      break
    }
    default:
      spec = { kind: 'global' }
  }
  const timed = kind !== 'count' && kind !== 'global'
  const time = timeConfigOf(a, timed)
  const lateness = parseDuration(String(a.lateness ?? '0ms'), '--lateness')
  // options that would change nothing are refused rather than silently ignored
  if (!timed && (time || lateness > 0)) throw usageError(`${kind} windows do not use time: drop --time, --ingestion-time, --processing-time and --lateness`)
  if ((kind === 'session' || !timed) && offset !== 0) throw usageError(`--offset applies to tumbling and sliding windows`)
  if (time?.mode === 'processing' && lateness > 0) throw usageError('--lateness applies to event time: processing-time windows have no late records')
  return { op: 'window', window: spec, ...(time ? { time } : {}), lateness }
}

function positive(text: string, what: string): number {
  const ms = parseDuration(text, `window ${what}`)
  if (ms <= 0) throw usageError(`window ${what} '${text}' must be positive`)
  return ms
}
