// What every stage command shares: input files, outputs, the bad-input policy, and the plan of
// a job handed to the CLI. (lib/commandline/ holds what the commands share; lib/commands/ holds
// one module per command, and nothing else.)
import type { Argv } from 'yargs'
import type { JobOptions } from '../pipeline/run.js'
import type { Stage } from '../pipeline/stages.js'

export interface IoArgs {
  files?: string[]
  output?: string
  'late-output'?: string
  flush?: boolean
  'on-error'?: 'fail' | 'skip' | 'dead-letter'
  'dead-letter'?: string
  verbose?: boolean
  stats?: string
}

export function withIo<T>(y: Argv<T>): Argv<T & IoArgs> {
  return y
    .positional('files', { type: 'string', array: true, describe: "NDJSON input files; stdin when none or '-'" })
    .option('output', { alias: 'o', type: 'string', describe: 'write records to FILE instead of stdout' })
    .option('on-error', { choices: ['fail', 'skip', 'dead-letter'], default: 'fail', describe: 'bad input (malformed line, missing key or time): stop with exit 65, or count it and go on' })
    .option('dead-letter', { type: 'string', describe: 'with --on-error dead-letter: write bad lines to FILE' })
    .option('stats', { type: 'string', describe: 'write the record accounting (read, written, filtered, aggregated, late, skipped, dead-lettered) to FILE as JSON when the job ends' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'print a summary on stderr even off a terminal' }) as Argv<
    T & IoArgs
  >
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
  return {
    inputs: a.files ?? [],
    output: a.output,
    lateOutput: a['late-output'],
    noFlush: a.flush === false,
    onError: a['on-error'],
    deadLetter: a['dead-letter'],
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
