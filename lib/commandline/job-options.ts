// The options that belong to a job rather than to a stage: its inputs' bad-input policy, its
// outputs, its accounting, and its durability (job dir, checkpoints, resume). Declared once here;
// every stage command's builder takes them (withIo), a `then` chain accepts them in any span, and
// `weir run` takes them over its spec's fields. One table, so the three cannot drift apart.
import type { Argv } from 'yargs'
import type { CheckpointInterval } from '../checkpoint/coordinator.js'
import { usageError } from '../stream/errors.js'
import { parseDuration } from '../time/duration.js'

export interface JobOptionDecl {
  name: string
  alias?: string
  type: 'string' | 'boolean'
  describe: string
  default?: unknown
  choices?: string[]
}

export const JOB_OPTIONS: readonly JobOptionDecl[] = [
  { name: 'output', alias: 'o', type: 'string', describe: 'write records to FILE instead of stdout (an output that is one of the inputs is refused, exit 73)' },
  { name: 'late-output', type: 'string', describe: 'write records too late for every window to FILE (else they are counted and dropped)' },
  {
    name: 'on-error',
    type: 'string',
    choices: ['fail', 'skip', 'dead-letter'],
    default: 'fail',
    describe: 'bad input (malformed line, missing key or time): stop with exit 65, or count it and go on',
  },
  { name: 'dead-letter', type: 'string', describe: 'with --on-error dead-letter: write bad records to FILE, one JSON object each ({source, line, reason, raw})' },
  {
    name: 'max-line-bytes',
    type: 'string',
    describe: 'a line longer than N bytes (16M by default; K, M, G suffixes) is bad input, read past without being held in memory',
  },
  {
    name: 'stats',
    type: 'string',
    describe:
      'write the record accounting to FILE as JSON when the job ends: status; read = written + filtered + consumed + late + skipped + deadLettered (one fate per record); lateDropped; linesWritten (lines the output took)',
  },
  { name: 'verbose', alias: 'v', type: 'boolean', describe: 'print a summary on stderr even off a terminal' },
  {
    name: 'flush',
    type: 'boolean',
    default: true,
    describe: 'at the end of a bounded input, fire open windows, timers and running aggregates (--no-flush: stop without firing; with --job-dir the next run continues)',
  },
  {
    name: 'follow',
    alias: 'F',
    type: 'boolean',
    describe: 'read the last input file as tail -F does: wait for more, follow rotation, until a signal (with --job-dir, exactly-once)',
  },
  { name: 'job-dir', type: 'string', describe: 'keep keyed state in LMDB in DIR and take checkpoints there, for exactly-once resume' },
  {
    name: 'checkpoint-interval',
    type: 'string',
    describe: 'with --job-dir: take a checkpoint every D of wall time (10s, 1m) or every N records read (50000r); default 10s',
  },
  { name: 'retain', type: 'string', describe: 'with --job-dir: keep the K latest complete checkpoints (default 3)' },
  { name: 'from-checkpoint', type: 'string', describe: 'with --job-dir: resume from a checkpoint: latest, an id, or a manifest path' },
  { name: 'resume', type: 'boolean', describe: 'with --job-dir: resume from the latest checkpoint, or start fresh when there is none (the cron form)' },
  {
    name: 'state-ttl',
    type: 'string',
    describe: 'drop the keyed state of a key no record has touched for D of event time (30d): a running aggregate emits its row first',
  },
  {
    name: 'progress',
    type: 'boolean',
    describe: 'a progress line on stderr (bytes read, records/s, watermark, open windows, checkpoint) even off a terminal, where it is one line per update',
  },
  { name: 'quiet', alias: 'q', type: 'boolean', describe: 'no summary and no progress line, even on a terminal (warnings about dropped records stay)' },
  {
    name: 'explain',
    type: 'boolean',
    describe: 'print what the job would do (operators, key, time and watermarks, windows, fields parsed, state, checkpoints) and exit without reading input',
  },
  {
    name: 'last-stage',
    type: 'boolean',
    describe:
      'in a pipe chain of weir stages with a job dir: this stage completes the checkpoints although its stdout is a pipe (weir … --last-stage | gzip > out.gz)',
  },
  {
    name: 'allow-changed-pipeline',
    type: 'boolean',
    describe: 'restore a checkpoint of a pipeline whose stages changed: operators keep their state by uid, new ones start empty',
  },
]

export interface JobArgs {
  output?: string
  'late-output'?: string
  'on-error'?: 'fail' | 'skip' | 'dead-letter'
  'dead-letter'?: string
  'max-line-bytes'?: string
  stats?: string
  verbose?: boolean
  flush?: boolean
  follow?: boolean
  'job-dir'?: string
  'checkpoint-interval'?: string
  retain?: string
  'from-checkpoint'?: string
  resume?: boolean
  'allow-changed-pipeline'?: boolean
  'last-stage'?: boolean
  explain?: boolean
  progress?: boolean
  quiet?: boolean
  'state-ttl'?: string
}

export function withJobOptions<T>(y: Argv<T>, except: string[] = []): Argv<T & JobArgs> {
  let a = y as Argv<T & JobArgs>
  for (const o of JOB_OPTIONS) {
    if (except.includes(o.name)) continue
    a = a.option(o.name, {
      type: o.type,
      describe: o.describe,
      ...(o.alias ? { alias: o.alias } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
      ...(o.choices ? { choices: o.choices } : {}),
    }) as Argv<T & JobArgs>
  }
  return a
}

/** "10s", "1m", "250ms" of wall time, or "50000r" records. */
export function parseCheckpointInterval(text: string): CheckpointInterval {
  const m = /^(\d+)r$/.exec(text)
  if (m) {
    const records = Number(m[1])
    if (records < 1) throw usageError(`--checkpoint-interval '${text}': at least 1 record`)
    return { records }
  }
  const ms = parseDuration(text, '--checkpoint-interval')
  if (ms <= 0) throw usageError(`--checkpoint-interval '${text}' must be positive`)
  return { ms }
}

/** "16M", "64K", "1048576": a byte count, in binary units (K = 1024). */
export function parseByteCount(text: string, what: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text)
  const n = m ? Number(m[1]) * 1024 ** (m[2] ? 'KMG'.indexOf(m[2][0]!.toUpperCase()) + 1 : 0) : NaN
  if (!(n >= 1) || !Number.isSafeInteger(n)) throw usageError(`${what} '${text}': expected a positive number of bytes, e.g. 16M, 64K, 1000000`)
  return n
}

export function parseRetain(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw usageError(`--retain '${text}': expected a whole number of checkpoints ≥ 1`)
  return n
}

/** The durability options that mean nothing without a job dir. */
export const NEEDS_JOB_DIR = ['checkpoint-interval', 'retain', 'from-checkpoint', 'resume', 'allow-changed-pipeline'] as const
