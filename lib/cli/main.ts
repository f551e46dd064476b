// The CLI: argv → a job plan (through the command modules) → run it with signals, a summary and an
// exit status. The only importer of yargs (besides the stage parser) and chalk. It never calls
// process.exit(): it sets process.exitCode and lets stdout drain (decisions.md 14).
import type { Argv } from 'yargs'
import { COMMANDS, findCommand, type CommandModule } from '../commandline/table.js'
import { jobOptions, type IoArgs, type JobPlan, protectDash, refuseNegativeWords, restoreDash, yargsMessage } from '../commandline/common.js'
import { JOB_OPTIONS } from '../commandline/job-options.js'
import { parseStage } from '../commandline/parse-stage.js'
import { fastParse } from '../commandline/fast-parse.js'
import { finishStdout, guardStdout, writeOut } from '../commandline/stdout.js'
import { runJob, type JobResult, type Progress } from '../pipeline/run.js'
import type { Stage } from '../pipeline/stages.js'
import { WeirError, printable, usageError } from '../stream/errors.js'
import { newStats, type Stats } from '../stream/stats.js'
import { writeFileSync } from 'node:fs'
import { isatty } from 'node:tty'
import { afterStdout } from '../io/pipe-stdout.js'
import { EXIT_INTERNAL, EXIT_IO, EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, exitCodeFor } from './exit-codes.js'

const THEN = 'then'

/** argv as a shell would read it back, for messages of the stages after this one */
function commandLineOf(argv: string[]): string {
  return ['weir', ...argv.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`))].join(' ')
}

export async function main(argv: string[]): Promise<void> {
  let plan: JobPlan | undefined
  // stderr that cannot be written (`2>&1 | head -1` gone, `2>/dev/full`) has nowhere to say so:
  // its messages are lost, but the exit status stays the job's own (65 for bad input, 0 for a
  // job that wrote everything), not node's crash on an unheard 'error' event (1, with a stack)
  process.stderr.on('error', () => {})
  // `weir help [COMMAND]` is `weir [COMMAND] --help`, as in git and npm
  if (argv[0] === 'help') argv = argv[1] ? [argv[1], '--help'] : ['--help']
  try {
    plan = argv.includes(THEN) && findCommand(argv[0] ?? '') ? await planChain(argv) : await planCommand(argv)
    if (plan) plan.options.commandLine = commandLineOf(argv)
    if (plan) await execute(plan)
  } catch (e) {
    // a job's stage that fails before it made its pipe's channel says so to a weir stage after it
    if (isJobCommand(argv)) {
      const { channelOfFailedStage } = await import('../io/protocol/channel.js')
      channelOfFailedStage(commandLineOf(argv))
    }
    await report(e, argv.includes(THEN) ? undefined : argv[0])
  }
}

/** A command that runs a job writing a stream (not --help, --version or --explain, and not state or checkpoints). */
function isJobCommand(argv: string[]): boolean {
  const name = argv[0] ?? ''
  return (
    findCommand(name) !== undefined &&
    name !== 'state' &&
    name !== 'checkpoints' &&
    !argv.some((w) => w === '--help' || w === '-h' || w === '--version' || w === '--explain')
  )
}

/** Job options (commandline/job-options.ts): in a `then` chain they may stand in any span. */
const JOB_OPTIONS_WITH_VALUE = new Map<string, string>()
const JOB_FLAGS = new Map<string, [string, boolean]>()
for (const o of JOB_OPTIONS) {
  const names = [`--${o.name}`, ...(o.alias ? [`-${o.alias}`] : [])]
  if (o.type === 'string') for (const n of names) JOB_OPTIONS_WITH_VALUE.set(n, o.name)
  else {
    for (const n of names) JOB_FLAGS.set(n, [o.name, true])
    JOB_FLAGS.set(`--no-${o.name}`, [o.name, false])
  }
}

/** `weir keyby user then window … then aggregate count FILE`: one process, as Miller's `then`. */
async function planChain(argv: string[]): Promise<JobPlan> {
  const io: IoArgs & Record<string, unknown> = { files: [] }
  const spans: string[][] = [[]]
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!
    const eq = w.indexOf('=')
    const flag = w.startsWith('--') && eq > 0 ? w.slice(0, eq) : w
    if (w === THEN) spans.push([])
    else if (JOB_OPTIONS_WITH_VALUE.has(flag)) {
      const value = flag !== w ? w.slice(eq + 1) : argv[++i]
      if (value === undefined) throw usageError(`${w} needs a value`)
      io[JOB_OPTIONS_WITH_VALUE.get(flag)!] = value
    } else if (JOB_FLAGS.has(w)) {
      const [name, value] = JOB_FLAGS.get(w)!
      io[name] = value
    } else spans[spans.length - 1]!.push(w)
  }
  const stages: Stage[] = []
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i]!
    if (span.length === 0) throw usageError(`empty stage ${i + 1} in a 'then' chain`)
    const p = await parseStage(span, `stage ${i + 1} (${span[0]})`)
    stages.push(p.stage)
    io.files!.push(...((p.args as IoArgs).files ?? []))
  }
  return { stages, options: jobOptions(io), verbose: !!io.verbose, statsFile: io.stats }
}

async function planCommand(argv: string[]): Promise<JobPlan | undefined> {
  const entry = findCommand(argv[0] ?? '')
  if (!entry && argv[0] !== undefined && !argv[0].startsWith('-') && argv[0] !== 'completion')
    throw usageError(`unknown command '${argv[0]}' (see 'weir --help')`)
  if (entry) {
    refuseNegativeWords(argv)
    // the common case, without loading yargs (see commands/fast-parse.ts)
    const mod = await entry.load()
    const fast = fastParse(mod, protectDash(argv))
    if (fast) return planFrom(mod, entry.name, restoreDash(fast))
  }
  // help and completion scripts are printed by yargs: a failure to write them must be heard
  // (before the first write) and reported, not lost with exit 0
  const printing = !entry || argv.some((w) => w === '--help' || w === '-h')
  if (printing) guardStdout()
  const { default: yargs } = await import('yargs')
  const y = base(yargs(protectDash(argv)))
  if (!entry) {
    // shell completion (yargs): the command being completed is loaded for its options; the
    // others stay names, so completing costs one command's load, as running does
    const completing = argv[0] === '--get-yargs-completions'
    for (const c of COMMANDS) {
      if (completing && argv.slice(1).includes(c.name)) {
        const m = await c.load()
        y.command(m.command, m.describe, m.builder)
      } else y.command(c.name, c.describe)
    }
    y.command('help', "Show this help; 'weir help COMMAND' shows a command's")
    y.completion('completion', 'Print a bash/zsh completion script (>> ~/.bashrc)')
    await y
      .usage('weir: stream processing over NDJSON, with keys, event time and windows\n\nUsage: $0 <command> [options] [files..]')
      .alias('h', 'help')
      // answered by bin/weir before anything loads; listed here so --help shows it
      .option('version', { alias: 'V', type: 'boolean', describe: 'Print the version and exit' })
      .demandCommand(1, 'name a command')
      .example('$0 filter \'r.amount > 10\' clicks.ndjson', 'keep some records')
      .example('$0 keyby user then window tumbling 1m --time ts then aggregate count clicks.ndjson', 'a chain in one process')
      .example('$0 run job.json', 'run a pipeline spec file')
      .epilogue("Run '$0 <command> --help' for a command's options; man weir for exit statuses.")
      .parseAsync()
    await finishStdout()
    return undefined
  }
  const mod = await entry.load()
  let helped = false
  // -h is help, as in most tools (jq, mlr): no command uses it for anything else
  y.command(mod.command, mod.describe, mod.builder).help().alias('h', 'help').showHelpOnFail(false)
  y.middleware((a) => {
    if (a.help) helped = true
  }, true)
  const args = restoreDash((await y.parseAsync()) as Record<string, unknown>)
  if (helped || args.help) {
    if (printing) await finishStdout()
    return undefined
  }
  return planFrom(mod, entry.name, args)
}

function planFrom(mod: CommandModule, name: string, args: Record<string, unknown>): Promise<JobPlan | undefined> | JobPlan {
  if (mod.execute) return mod.execute(args).then(() => undefined)
  if (mod.toJob) return mod.toJob(args)
  const a = args as IoArgs & Record<string, unknown>
  return { stages: [{ config: mod.toStage!(args), label: name }], options: jobOptions(a), verbose: !!a.verbose, statsFile: a.stats }
}

function base(y: Argv): Argv {
  return y
    .scriptName('weir')
    .strict()
    .version(false)
    .exitProcess(false)
    .wrap(Math.min(110, (isatty(1) ? process.stdout.columns : 0) || 100))
    .fail((msg, err) => {
      throw err ?? usageError(yargsMessage(msg))
    })
}

async function execute(plan: JobPlan): Promise<void> {
  if (plan.options.explain) {
    const { explainJob } = await import('../pipeline/explain.js')
    await writeOut(explainJob(plan.stages, plan.options))
    return
  }
  if (!plan.options.quiet && (plan.options.progress || process.stderr.isTTY)) plan.options.onProgress = progressLine(process.stderr.isTTY === true)
  const ac = new AbortController()
  let signalCode = 0
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? EXIT_SIGINT : sig === 'SIGHUP' ? EXIT_SIGHUP : EXIT_SIGTERM
    if (ac.signal.aborted) {
      // a second signal: do not wait for the final checkpoint, only for stdout (decisions.md 14, 31)
      process.exitCode = code
      afterStdout(() => process.exit(code))
      return
    }
    signalCode = code
    ac.abort()
  }
  // SIGHUP (a closed terminal, a stopping cron daemon) is a request to stop, as SIGTERM
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of signals) process.on(s, onSignal)
  const stats = newStats()
  let status = 'failed'
  let result: JobResult | undefined
  const warned = new Set<string>()
  const warn = (message: string) => {
    if (warned.has(message)) return
    warned.add(message)
    process.stderr.write(`weir: warning: ${printable(message)}\n`)
  }
  try {
    result = await runJob(plan.stages, { ...plan.options, signal: ac.signal, stats, warn })
    summarize(result, plan.verbose && !plan.options.quiet, plan.options.quiet === true)
    status = result.stopped ?? 'ok'
    if (result.stopped === 'signal') process.exitCode = signalCode
  } finally {
    if (plan.statsFile) writeStats(plan.statsFile, stats, status, result)
    for (const s of signals) process.off(s, onSignal)
  }
}

/**
 * The accounting of decisions.md 12, for scripts: every record read ends in one of these. A
 * durable job adds its totals since its first run and its last checkpoint (decisions.md 34).
 */
function writeStats(path: string, s: Stats, status: string, result: JobResult | undefined): void {
  const { replayed, ...fates } = s
  // the record the job failed on (bad input under --on-error fail, an expression that threw) has
  // no other fate: it is counted here, so that read is still the sum of the fates
  const failed = status === 'failed' ? Math.max(0, s.read - s.written - s.filtered - s.consumed - s.late - s.skipped - s.deadLettered) : 0
  const body: Record<string, unknown> = { status, ...fates, failed, replayed }
  if (result?.totals) body.job = { checkpoint: result.checkpoint ?? null, ...result.totals }
  // stdout was a pipe: what the side channel beside it took (weir-protocol(7))
  if (result?.channelBytes !== undefined) body.channelBytes = result.channelBytes
  try {
    writeFileSync(path, JSON.stringify(body) + '\n')
  } catch (e) {
    process.stderr.write(`weir: ${path}: cannot write stats: ${(e as Error).message}\n`)
    // the accounting is an output: a script that reads it must not take a lost file for success.
    // A job that failed or was stopped keeps its own status (report() sets it after this).
    if (status === 'ok' || status === 'reader-closed') process.exitCode = EXIT_IO
  }
}

/**
 * The progress line: redrawn in place on a terminal and gone when the job is done; off a terminal
 * (--progress into a log) one line per update.
 */
function progressLine(tty: boolean): (p: Progress) => void {
  let drawn = false
  return (p) => {
    if (p.done) {
      if (tty && drawn) process.stderr.write('\r\x1b[K')
      return
    }
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`
    const parts = [p.bytesTotal ? `${mb(p.bytesRead)} of ${mb(p.bytesTotal)} (${Math.floor((100 * p.bytesRead) / p.bytesTotal)}%)` : `${mb(p.bytesRead)} read`]
    parts.push(`${Math.round(p.records / Math.max(0.001, p.elapsedMs / 1000)).toLocaleString('en')} records/s`)
    if (p.watermark !== undefined && Number.isFinite(p.watermark) && Math.abs(p.watermark) < 8.64e15) parts.push(`watermark ${new Date(p.watermark).toISOString()}`)
    if (p.windowsOpen !== undefined) parts.push(`windows open ${p.windowsOpen}`)
    if (p.checkpoint !== undefined) parts.push(`checkpoint ${p.checkpoint}`)
    const text = `weir: ${parts.join(', ')}`
    if (!tty) return void process.stderr.write(text + '\n')
    drawn = true
    process.stderr.write('\r' + text.slice(0, Math.max(20, (process.stderr.columns || 80) - 1)) + '\x1b[K')
  }
}

/**
 * Quiet off a terminal (cron mails whatever a job prints): a summary only on a TTY or with
 * --verbose, but always one warning when records were dropped (decisions.md 13).
 */
function summarize(result: JobResult, verbose: boolean, quiet: boolean): void {
  const s = result.stats
  if (verbose || (process.stderr.isTTY && !quiet)) {
    // lines: what a user sees in the output (rows, a sliding window's copies), not fates
    const parts = [`read ${s.read}`, `wrote ${s.linesWritten}`]
    if (s.filtered) parts.push(`filtered ${s.filtered}`)
    if (s.consumed) parts.push(`aggregated ${s.consumed}`)
    if (s.late) parts.push(`late ${s.late}`)
    if (s.replayed) parts.push(`replayed ${s.replayed}`)
    if (result.windowsOpen) parts.push(`windows open ${result.windowsOpen}`)
    if (result.checkpoint !== undefined) parts.push(`checkpoint ${result.checkpoint}`)
    process.stderr.write(`weir: ${parts.join(', ')}\n`)
  }
  if (s.skipped > 0) process.stderr.write(`weir: warning: ${s.skipped} bad record(s) skipped\n`)
  if (s.deadLettered > 0) process.stderr.write(`weir: warning: ${s.deadLettered} bad record(s) written to the dead-letter file\n`)
  if (s.lateDropped > 0)
    process.stderr.write(`weir: warning: ${s.lateDropped} late record(s) dropped (keep them with --late-output FILE)\n`)
}

async function report(e: unknown, command: string | undefined): Promise<void> {
  let message: string
  let code: number
  if (e instanceof WeirError) {
    message = e.message
    code = exitCodeFor(e.kind)
    if (e.kind === 'usage' && command && findCommand(command) && !message.includes('--help'))
      message += ` (see 'weir ${command} --help')`
  } else if (e instanceof Error && /^(Unknown|Not enough|Missing|Invalid values|Too many)/.test(e.message)) {
    message = e.message
    code = EXIT_USAGE
  } else {
    message = `internal error: ${(e as Error)?.stack ?? String(e)}`
    code = EXIT_INTERNAL
  }
  let prefix = 'weir: '
  if (process.stderr.isTTY) {
    const { default: chalk } = await import('chalk')
    prefix = chalk.red.bold('weir:') + ' '
  }
  // a message may quote input (JSON.parse does): never raw control bytes to a terminal. The line
  // breaks of weir's and yargs' own texts ("Invalid values:\n  Argument: …") become spaces; one
  // in quoted input stays visible as \n.
  const quotesInput = e instanceof WeirError && (e.kind === 'data' || e.kind === 'user-code')
  process.stderr.write(prefix + printable(quotesInput ? message : message.replace(/\n\s*/g, ' ')) + '\n')
  process.exitCode = code
}
