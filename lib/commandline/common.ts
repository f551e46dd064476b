// What every stage command shares: input files, outputs, the bad-input policy, and the plan of
// a job handed to the CLI. (lib/commandline/ holds what the commands share; lib/commands/ holds
// one module per command, and nothing else.)
import type { Argv } from 'yargs'
import type { JobOptions } from '../pipeline/run.js'
import type { Stage } from '../pipeline/stages.js'
import { usageError } from '../stream/errors.js'
import { parseDuration } from '../time/duration.js'

function positiveDuration(text: string, what: string): number {
  const ms = parseDuration(text, what)
  if (ms <= 0) throw usageError(`${what} '${text}' must be positive`)
  return ms
}
import { NEEDS_JOB_DIR, parseByteCount, parseCheckpointInterval, parseRetain, withJobOptions, type JobArgs } from './job-options.js'

export interface IoArgs extends JobArgs {
  files?: string[]
}

/** A stage command's inputs and the job options (job-options.ts), which every command takes. */
export function withIo<T>(y: Argv<T>): Argv<T & IoArgs> {
  return withJobOptions(y.positional('files', { type: 'string', array: true, describe: "NDJSON input files; stdin when none or '-'" })) as Argv<T & IoArgs>
}

/**
 * yargs drops a bare '-' from variadic positionals (yargs/yargs#1312: it re-parses them as
 * `--files -`, and '-' looks like an option). It crosses yargs as this token instead.
 */
const DASH = '\u0000-'
export const protectDash = (argv: string[]): string[] => argv.map((w) => (w === '-' ? DASH : w))
export function restoreDash(args: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(args)) {
    if (v === DASH) args[k] = '-'
    else if (Array.isArray(v)) args[k] = v.map((x) => (x === DASH ? '-' : x))
  }
  // words after `--` are files, as for cat: `weir aggregate count -- count` reads the file "count"
  const rest = Array.isArray(args._) ? args._.slice(1).map(String) : []
  if (rest.length > 0) args.files = [...((args.files as string[] | undefined) ?? []), ...rest]
  return args
}

export function jobOptions(a: IoArgs): JobOptions {
  if (a['job-dir'] === undefined)
    for (const o of NEEDS_JOB_DIR) if (a[o] !== undefined && a[o] !== false) throw usageError(`--${o} needs --job-dir DIR`)
  if (a['from-checkpoint'] !== undefined && a.resume) throw usageError('--from-checkpoint and --resume: give one')
  return {
    inputs: a.files ?? [],
    output: a.output,
    lateOutput: a['late-output'],
    noFlush: a.flush === false,
    follow: a.follow === true,
    onError: a['on-error'],
    deadLetter: a['dead-letter'],
    maxLineBytes: a['max-line-bytes'] === undefined ? undefined : parseByteCount(a['max-line-bytes'], '--max-line-bytes'),
    jobDir: a['job-dir'],
    checkpointInterval: a['checkpoint-interval'] === undefined ? undefined : parseCheckpointInterval(a['checkpoint-interval']),
    retain: a.retain === undefined ? undefined : parseRetain(a.retain),
    fromCheckpoint: a['from-checkpoint'],
    resume: a.resume === true,
    allowChangedPipeline: a['allow-changed-pipeline'] === true,
    lastStage: a['last-stage'] === true,
    explain: a.explain === true,
    progress: a.progress === true,
    quiet: a.quiet === true,
    stateTtl: a['state-ttl'] === undefined ? undefined : positiveDuration(a['state-ttl'], '--state-ttl'),
  }
}

/** What a command hands to the CLI to run: cli/main.ts wires signals, summary and exit status. */
export interface JobPlan {
  stages: Stage[]
  options: JobOptions
  verbose: boolean
  /** --stats FILE: the accounting as JSON, written when the job ends, however it ends */
  statsFile?: string
}

/**
 * A yargs failure message as one line a user can act on: yargs names an unknown option twice, as
 * typed and in camelCase (`Unknown arguments: late-outpt, lateOutpt`); each is named once, with
 * its dashes.
 */
export function yargsMessage(msg: string): string {
  const m = /^(Unknown arguments?): (.*)$/.exec(msg)
  if (!m) return msg
  const names = m[2]!.split(', ')
  const kept = names.filter((n) => !(/[A-Z]/.test(n) && names.includes(n.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()))))
  return `${kept.length === 1 ? 'Unknown argument' : 'Unknown arguments'}: ${kept.join(', ')}`
}

/**
 * A negative number or duration as its own word (`window tumbling -5m`, `--offset -8h`) reads as
 * short flags (-5, -m, and -h: help), so the job would not run at all. Refused before parsing,
 * saying what was meant.
 */
export function refuseNegativeWords(words: string[]): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (!/^-\d+(\.\d+)?[a-z]*$/.test(w)) continue
    const prev = words[i - 1]
    if (prev?.startsWith('--') && !prev.includes('=')) throw usageError(`'${w}': a value that starts with '-' needs '=': ${prev}=${w}`)
    throw usageError(`'${w}': a size, count or duration must be positive`)
  }
}
