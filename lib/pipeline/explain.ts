// --explain: what a job would do, without reading a record (as EXPLAIN in SQL, or Flink's
// execution plan): the operators in order with their uids, the key, the time and watermark
// strategy, the windows, the fields read and where they are parsed, the state backend and the
// checkpoint settings, and where output, late records and bad input go. It opens nothing: a job
// dir is not locked, created or read.
import { STDIN, checkInputs, sourceName } from '../io/source.js'
import { STDOUT } from '../io/sink.js'
import type { TimeConfig } from '../operators/timestamps.js'
import type { WindowSpec } from '../operators/windows/assigners.js'
import { DEFAULT_CHECKPOINT_INTERVAL, DEFAULT_RETAIN } from './durable.js'
import { operatorUids } from './build.js'
import { parsePlan, type JobOptions } from './run.js'
import type { Stage, StageConfig } from './stages.js'

export function explainJob(stages: Stage[], opts: JobOptions): string {
  const inputs = opts.inputs.length > 0 ? opts.inputs : [STDIN]
  const lines: string[] = []
  const row = (what: string, text: string) => lines.push(`${what.padEnd(8)}${text}`)
  row('job', opts.commandLine ?? 'weir ' + stages.map((s) => s.label).join(' then '))
  let info: ReturnType<typeof checkInputs> | undefined
  let missing: string | undefined
  try {
    info = checkInputs(inputs)
  } catch (e) {
    missing = (e as Error).message
  }
  row('input', inputs.map(sourceName).join(', ') + (info ? ` (${info.allRegular ? `${info.bytes} bytes` : 'not all regular files'})` : ` (${missing})`))
  const plan = info && parsePlan(stages, info)
  row(
    'parse',
    plan
      ? `only the fields ${plan.fields.map((f) => JSON.stringify(f)).join(', ')} of each record, ${plan.worker ? 'in a second thread (parse worker)' : 'on the main thread'}`
      : 'whole records (JSON.parse): a stage reads fields it does not name (an expression using r[...] or a process function)',
  )
  if (inputs.length === 1 && inputs[0] === STDIN)
    row('', 'when stdin is a pipe from a weir stage, its key, window and watermarks come from the side channel (weir-protocol(7))')
  const uids = operatorUids(stages)
  const fused = (i: number) => stages[i]!.config.op === 'aggregate' && stages[i - 1]?.config.op === 'window'
  stages.forEach((s, i) => {
    const what = describe(s.config)
    row(String(i + 1), `${s.label} [${uids[i]}]${fused(i) ? ' (fused into the window before it: one operator)' : ''}`)
    for (const w of what) row('', w)
  })
  if (opts.jobDir) {
    const interval = opts.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL
    row('state', `LMDB in ${opts.jobDir}/state, behind a write-back cache flushed at each checkpoint`)
    row(
      'chkpt',
      `every ${'ms' in interval ? duration(interval.ms) : `${interval.records} records`}, keeping ${opts.retain ?? DEFAULT_RETAIN}; ` +
        (opts.fromCheckpoint !== undefined ? `resumes from checkpoint ${opts.fromCheckpoint}` : opts.resume ? 'resumes from the latest checkpoint (or starts fresh)' : 'starts fresh (refused if the job dir holds checkpoints)') +
        (opts.noFlush ? '; --no-flush: the input end keeps windows open for the next run' : ''),
    )
  } else row('state', 'in memory (no --job-dir): nothing survives the process')
  if (opts.stateTtl !== undefined) row('', `keyed state untouched for ${duration(opts.stateTtl)} of event time is dropped (--state-ttl)`)
  row('output', opts.output && opts.output !== STDIN ? opts.output : STDOUT)
  row('late', opts.lateOutput ?? 'counted and dropped (--late-output FILE keeps them)')
  const policy = opts.onError ?? 'fail'
  row('bad', policy === 'fail' ? 'the first bad line fails the job (exit 65)' : policy === 'skip' ? 'skipped and counted' : `written to ${opts.deadLetter} and counted`)
  return lines.join('\n') + '\n'
}

function describe(c: StageConfig): string[] {
  switch (c.op) {
    case 'keyby':
      return [`key: ${c.fields.join(', ')} (a record without it is bad input)`]
    case 'filter':
      return [`keeps records for which ${c.expr} is truthy`]
    case 'map':
      return [`replaces each record with ${c.expr}`]
    case 'window':
      return [window(c.window), ...time(c.time), ...(c.time?.mode === 'event' || c.time === undefined ? [`allowed lateness ${duration(c.lateness)}`] : [])]
    case 'aggregate':
      return [`${c.specs.map((s) => (s.field ? `${s.func}:${s.field}` : s.func) + ` as ${s.name}`).join(', ')}; emits ${c.emit === 'updates' ? 'a row per record (updates)' : 'the final rows'}`]
    case 'process':
      return [`process function ${c.module}`, ...time(c.time)]
  }
}

function window(w: WindowSpec): string {
  switch (w.kind) {
    case 'tumbling':
      return `tumbling windows of ${duration(w.size)}${w.offset ? `, offset ${duration(w.offset)}` : ''}`
    case 'sliding':
      return `sliding windows of ${duration(w.size)} every ${duration(w.slide)}${w.offset ? `, offset ${duration(w.offset)}` : ''}`
    case 'session':
      return `session windows closing after a gap of ${duration(w.gap)}`
    case 'count':
      return `count windows of ${w.size} records per key`
    case 'global':
      return 'one global window per key, fired at the end of input'
  }
}

function time(t: TimeConfig | undefined): string[] {
  if (!t) return []
  if (t.mode === 'ingestion') return ['ingestion time: stamped when read; the watermark follows the wall clock']
  if (t.mode === 'processing') return ['processing time: no watermarks, windows fire on the wall clock']
  return [
    `event time from field ${t.field} (${t.unit}); watermark: the largest time seen minus ${duration(t.maxDelay)} (bounded out-of-orderness)` +
      (t.idleTimeout !== undefined ? `, advanced after ${duration(t.idleTimeout)} without input` : ''),
  ]
}

/** 90000 → "1m30s", 250 → "250ms", 0 → "0s". */
export function duration(ms: number): string {
  if (ms === 0) return '0s'
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]]
  let rest = Math.abs(ms)
  let out = ''
  for (const [u, n] of units) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${u}`
      rest %= n
    }
  }
  return (ms < 0 ? '-' : '') + out
}
