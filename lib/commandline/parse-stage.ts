// One parser for both forms of a stage: a command line (`weir window …`, or a span of a `then`
// chain) and a spec stage string. Each command's own yargs builder defines its options once.
import { JOB_OPTIONS } from './job-options.js'
import { usageError } from '../stream/errors.js'
import { fastParse } from './fast-parse.js'
import { protectDash, refuseNegativeWords, restoreDash, yargsMessage } from './common.js'
import type { Stage } from '../pipeline/stages.js'
import { findCommand, type CommandModule } from './table.js'

export interface ParsedStage {
  stage: Stage
  args: Record<string, unknown>
}

export async function loadStageCommand(name: string | undefined, label: string): Promise<CommandModule> {
  const entry = name === undefined ? undefined : findCommand(name)
  if (!entry) throw usageError(`${label}: unknown command '${name ?? ''}'`)
  const mod = await entry.load()
  if (!mod.toStage) throw usageError(`${label}: '${name}' cannot be a stage`)
  return mod
}

/** Parses `words` (command name first) with that command's builder. */
export async function parseStage(words: string[], label: string, uid?: string): Promise<ParsedStage> {
  const mod = await loadStageCommand(words[0], label)
  try {
    refuseNegativeWords(words)
  } catch (e) {
    throw usageError(`${label}: ${(e as Error).message}`)
  }
  let args: Record<string, unknown> | undefined = fastParse(mod, protectDash(words))
  if (args) restoreDash(args)
  else args = await parseWithYargs(mod, words, label)
  try {
    return { stage: { config: mod.toStage!(args), label, uid }, args }
  } catch (e) {
    throw usageError(`${label}: ${(e as Error).message}`)
  }
}

/** The reference parser, loaded only when the fast path declines (help, errors, odd input). */
export async function parseWithYargs(mod: CommandModule, words: string[], label: string): Promise<Record<string, unknown>> {
  const { default: yargs } = await import('yargs')
  let args: Record<string, unknown>
  try {
    args = yargs()
      .command(mod.command, mod.describe, mod.builder)
      .strict()
      .help(false)
      .version(false)
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? usageError(yargsMessage(msg))
      })
      .parseSync(protectDash(words)) as Record<string, unknown>
    restoreDash(args)
  } catch (e) {
    throw usageError(`${label}: ${(e as Error).message}`)
  }
  return args
}

/** Spec stages carry no inputs or outputs of their own: those belong to the spec's source/sink. */
export function rejectIoInStage(p: ParsedStage): void {
  const files = p.args.files as string[] | undefined
  if (files && files.length > 0) throw usageError(`${p.stage.label}: input files belong in the spec's "source", not in a stage`)
  for (const o of ['output', 'late-output', 'dead-letter', 'stats']) {
    if (p.args[o] !== undefined) throw usageError(`${p.stage.label}: --${o} belongs in the spec, not in a stage`)
  }
  // The rest of the job's options, but the two a stage may say (--on-error, --no-flush): taken
  // quietly and ignored, a --job-dir here would leave a job the user thinks durable in memory.
  for (const o of JOB_OPTIONS) {
    if (o.name === 'on-error' || o.name === 'flush') continue
    if (p.args[o.name] !== undefined) throw usageError(`${p.stage.label}: --${o.name} is an option of the whole job: give it to weir run, not in a stage`)
  }
}
