import type { Argv } from 'yargs'
import { resolve } from 'node:path'
import type { ProcessStageConfig } from '../pipeline/stages.js'
import { withIo } from '../commandline/common.js'
import { timeConfigOf, withTime } from '../commandline/time-options.js'

export const command = 'process <module> [files..]'
export const describe = 'Run your own process function with keyed state and timers'

export const builder = (y: Argv) =>
  withTime(withIo(y.positional('module', { type: 'string', describe: 'an ES module exporting processElement(record, ctx) and optionally onTimer(ts, ctx)' })))
    .example('$0 keyby user then process fixtures/fn/failed-logins.mjs --time ts fixtures/clicks.ndjson', 'three failed logins within a minute')
    .example('$0 keyby user then process fixtures/fn/session-summary.mjs --time ts fixtures/clicks.ndjson', 'a summary per session, after 10 minutes of inactivity')
    .epilogue(
      'ctx.key, ctx.timestamp, ctx.state.value(name) / list(name) / map(name), ctx.timerService.registerEventTimeTimer(t), ' +
        'registerProcessingTimeTimer(t), delete…, currentWatermark(), and ctx.emit(value). onTimer(ts, ctx) runs with the ' +
        "timer's key. State is per key. See weir-process(1).",
    )

export function toStage(a: Record<string, unknown>): ProcessStageConfig {
  const time = timeConfigOf(a, false)
  return { op: 'process', module: resolve(String(a.module)), ...(time ? { time } : {}) }
}
