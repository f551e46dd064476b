// The time options shared by window and process: where a record's time comes from and how the
// watermark follows it.
import type { Argv } from 'yargs'
import type { TimeConfig } from '../operators/timestamps.js'
import { usageError } from '../stream/errors.js'
import { parseDuration } from '../time/duration.js'
import { parsePath } from '../expr/path.js'

export function withTime<T>(y: Argv<T>): Argv<T> {
  return y
    .option('time', { alias: 't', type: 'string', describe: 'event time: the field holding it (epoch ms, epoch s with --time-unit s, or ISO-8601 with Z or an offset)' })
    .option('time-unit', { choices: ['ms', 's'], default: 'ms', describe: 'unit of numeric event times' })
    .option('ingestion-time', { type: 'boolean', describe: 'stamp each record with the wall clock when read' })
    .option('processing-time', { type: 'boolean', describe: 'use the wall clock when processed; windows fire on the clock' })
    .option('max-delay', { type: 'string', default: '0ms', describe: 'bounded out-of-orderness: watermark = max time seen − max-delay − 1ms' })
    .option('idle-timeout', { type: 'string', describe: 'advance the watermark by wall-clock time after this long without input (for live inputs)' }) as Argv<T>
}

export function timeConfigOf(a: Record<string, unknown>, required: boolean): TimeConfig | undefined {
  // given twice, yargs makes a list ('ts,ts' as a field name): one value each
  for (const o of ['time', 'time-unit', 'max-delay', 'idle-timeout'])
    if (Array.isArray(a[o])) throw usageError(`--${o} given ${(a[o] as unknown[]).length} times: give it once`)
  const modes = [a.time !== undefined, !!a['ingestion-time'], !!a['processing-time']].filter(Boolean).length
  if (modes > 1) throw usageError('choose one of --time FIELD, --ingestion-time, --processing-time')
  if (a.time === undefined) {
    // the watermark's options mean nothing without an event time: refused, not ignored
    for (const o of ['idle-timeout', 'time-unit'] as const)
      if (a[o] !== undefined && !(o === 'time-unit' && a[o] === 'ms')) throw usageError(`--${o} applies to --time FIELD only`)
    if (a['max-delay'] !== undefined && a['max-delay'] !== '0ms') throw usageError('--max-delay applies to --time FIELD only')
  }
  if (a['ingestion-time'] || a['processing-time']) return a['ingestion-time'] ? { mode: 'ingestion' } : { mode: 'processing' }
  if (a.time === undefined) {
    if (required) throw usageError('time windows need a time: --time FIELD, --ingestion-time or --processing-time')
    return undefined
  }
  const field = String(a.time)
  parsePath(field)
  const maxDelay = parseDuration(String(a['max-delay'] ?? '0ms'), '--max-delay')
  const idle = a['idle-timeout'] === undefined ? undefined : parseDuration(String(a['idle-timeout']), '--idle-timeout')
  if (idle !== undefined && idle <= 0) throw usageError('--idle-timeout must be positive')
  return { mode: 'event', field, unit: a['time-unit'] === 's' ? 's' : 'ms', maxDelay, ...(idle !== undefined ? { idleTimeout: idle } : {}) }
}
