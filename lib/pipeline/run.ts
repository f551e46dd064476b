// The driver: source → chain of operators → sink, with backpressure, processing-time timers and
// shutdown. Records cross the async boundary a chunk at a time; inside a chunk everything is
// synchronous, with no `await` per record. Output produced by a chunk is written as soon as the
// chunk is done, so a live source (`tail -F log | weir …`) never waits for a batch to fill.
import { closedByShell } from '../io/closed-fd.js'
import { LineSink, PIPE_QUEUE_BUDGET, STDOUT, refuseInputsAsOutputs } from '../io/sink.js'
import { LineSplitter } from '../io/splitter.js'
import { DEFAULT_MAX_LINE_BYTES } from '../io/pending-line.js'
import { STDIN, checkInputs, identifyInput, openSource, sourceName, type InputsInfo } from '../io/source.js'
import type { Operator } from '../operators/operator.js'
import { MemoryStateBackend } from '../state/memory.js'
import type { KeyedStateBackend } from '../state/backend.js'
import { WeirError, dataError, printable, usageError, type Position } from '../stream/errors.js'
import { type Rec, inputText, recordText } from '../stream/record.js'
import { NO_KEY, type Key } from '../stream/key.js'
import { Fates, newStats, type Stats } from '../stream/stats.js'
import { type Clock, wallClock } from '../time/clock.js'
import { buildChain, keysReadAfter, loadModules, type StreamContext } from './build.js'
import { ChannelReader, ChannelWriter, isPipe, provisionalChannel } from '../io/protocol/channel.js'
import { firstEvent } from '../io/events.js'
import { PipeReader, PipeWriter, contextToJson } from './pipes.js'
import type { CheckpointCoordinator, CheckpointInterval } from '../checkpoint/coordinator.js'
import type { SourcePosition } from '../checkpoint/manifest.js'
import { openDurableJob, type DurableJob } from './durable.js'
import { fieldsNeeded } from './fields.js'
import { Worker } from 'node:worker_threads'
import { open, stat } from 'node:fs/promises'
import { HeapBudget } from './heap-budget.js'
import { CREDITS, acknowledge, type WorkerInput, type WorkerMessage } from '../io/parse-worker.js'
import { LineBatcher, type ParsedBatch } from '../io/batches.js'
import { Chain } from './chain.js'
import type { Stage } from './stages.js'

export interface JobOptions {
  /** Input files; '-' is stdin. Empty means stdin. */
  inputs: string[]
  /** Output file; stdout when absent. */
  output?: string
  /** Side output for late records; they are counted and dropped when absent. */
  lateOutput?: string
  /**
   * Bad input (a malformed line, a missing or unparsable key or time field): fail the run with
   * exit 65 (default), skip it (counted), or write its bytes to deadLetter (counted).
   */
  onError?: 'fail' | 'skip' | 'dead-letter'
  deadLetter?: string
  /** A longer line is bad input (io/pending-line.ts; 16 MiB by default). */
  maxLineBytes?: number
  /** End of input stops without draining: open windows stay open (the cron case). */
  noFlush?: boolean
  clock?: Clock
  /** Counters to fill (so a caller can report them even when the job fails). */
  stats?: Stats
  /** Aborting stops the job without draining (SIGINT, SIGTERM). */
  signal?: AbortSignal
  /** A warning for the user: one line on stderr. */
  warn?: (message: string) => void
  // ---- durable jobs (a job dir): state in LMDB, checkpoints, resume ----
  /** The job dir: keyed state in LMDB and checkpoints live here. Without one, state is in memory. */
  jobDir?: string
  /** The job's name, recorded in its checkpoints. */
  name?: string
  checkpointInterval?: CheckpointInterval
  /** How many complete checkpoints to keep (default 3). */
  retain?: number
  /** latest, a checkpoint id, or a manifest path */
  fromCheckpoint?: string
  /** Read the last input as `tail -F` does, until a signal. */
  follow?: boolean
  /** Continue from the latest checkpoint, or start fresh when there is none. */
  resume?: boolean
  /** Restore a checkpoint of a pipeline whose stages changed, matching operators by uid. */
  allowChangedPipeline?: boolean
  /** Drop keyed state untouched for this long in event time (running aggregates, process functions). */
  stateTtl?: number
  /** The stage's command line as typed, named in the side channel for the stages after it. */
  commandLine?: string
  /** This stage completes the checkpoints of a pipe chain although its stdout is a pipe (decisions.md 27). */
  lastStage?: boolean
  /** Print what the job would do (pipeline/explain.ts) instead of running it. */
  explain?: boolean
  /** --progress: a progress line even off a terminal; --quiet: no summary, no progress line */
  progress?: boolean
  quiet?: boolean
  /** Called every PROGRESS_EVERY_MS once the job has run a second: the CLI draws a progress line. */
  onProgress?: (p: Progress) => void
}

/** Where a running job stands, for a progress line. */
export interface Progress {
  /** bytes of input consumed, and the inputs' total when they are regular files */
  bytesRead: number
  bytesTotal: number | undefined
  records: number
  elapsedMs: number
  /** the watermark at the end of the chain, when the job has event time */
  watermark: number | undefined
  windowsOpen: number | undefined
  checkpoint: number | undefined
  /** the job is done: clear the line */
  done: boolean
}

export interface JobResult {
  stats: Stats
  /** Why the job ended early, if it did: a signal, its reader went away, the weir stage before it stopped. */
  stopped?: 'signal' | 'reader-closed' | 'upstream'
  /** The job's counters since its first run, for a durable job. */
  totals?: Stats
  /** The last complete checkpoint of a durable job. */
  checkpoint?: number
  /** Windows still holding state at the end (a --no-flush or stopped run), when the job has windows. */
  windowsOpen?: number
  /** Bytes written to the side channel, when stdout was a pipe. */
  channelBytes?: number
}

export async function runJob(stages: Stage[], opts: JobOptions): Promise<JobResult> {
  const modules = await loadModules(stages)
  const inputs = opts.inputs.length > 0 ? opts.inputs : [STDIN]
  const inputsInfo = checkInputs(inputs)
  // a job dir and --follow keep a byte offset into each input, which a compressed file lacks
  const gz = inputsInfo.gzip[0]
  if (gz !== undefined && (opts.jobDir || opts.follow))
    throw usageError(`${gz}: gzip-compressed: ${opts.jobDir ? '--job-dir' : '--follow'} reads inputs by byte offset; decompress it first (zcat ${gz} > FILE)`)
  // every stage is built before anything is read or opened, so a bad one fails first
  let built = buildChain(stages, modules)
  refuseInputsAsOutputs(
    inputs.map((p) => ({ name: sourceName(p), path: p === STDIN ? 0 : p })),
    [
      opts.output && opts.output !== STDIN ? { name: opts.output, path: opts.output } : { name: STDOUT, path: 1 },
      ...[opts.lateOutput, opts.deadLetter].filter((p) => p !== undefined).map((p) => ({ name: p, path: p })),
    ],
  )
  if ((opts.onError === 'dead-letter') !== (opts.deadLetter !== undefined))
    throw usageError('--on-error dead-letter and --dead-letter FILE go together')
  if (opts.follow && inputs[inputs.length - 1] === STDIN) throw usageError('--follow reads a growing file: name it (stdin cannot be followed)')
  const toStdout = opts.output === undefined || opts.output === STDIN
  // stdout a pipe: a channel before this stage waits for its input, so that a weir stage reading
  // the pipe finds one even if this stage is killed before its first byte (a global window)
  if (toStdout) provisionalChannel(commandLineOf(stages, opts))
  // a weir stage before this one: the stages are built again, continuing its stream, and when
  // it runs a durable job this stage is part of that job (its job dir, its checkpoints)
  const pipeIn = await upstreamChannel(inputs)
  const upstreamJob = pipeIn?.channel.header.job
  const place = upstreamJob && { job: upstreamJob, upstream: pipeIn!.channel.header.stages, pids: pipeIn!.channel.header.pids ?? [] }
  // the stage that completes checkpoints: its output is not a pipe a weir stage may read (decisions.md 27)
  const completes = opts.lastStage === true || !toStdout || !isPipe(1)
  const durable = opts.jobDir || place ? await openDurableJob(stages, inputs, opts, completes, place) : undefined
  // stage 0 of this job (or no job): the process ids a completing stage waits on start here
  const jobPids = place ? [...place.pids, process.pid] : [process.pid]
  try {
    if (durable?.finished) {
      // the stages after this one are told, so that they finish at once too
      if (toStdout) pipeWriter(stages, built.context, pipeIn, opts, durable, jobPids)?.finish('end')
      return { stats: opts.stats ?? newStats(), totals: durable.restoredTotals, checkpoint: durable.restored!.id }
    }
    if (pipeIn) built = buildChain(stages, modules, pipeIn.context)
    // keys found again per line ('lines') go on per line: this process's writer needs them
    const upKey = pipeIn?.context.key
    const ops = pipeIn ? [pipeIn.operator('upstream', upKey === 'lines' || keysReadAfter(stages, 0, upKey?.fields)), ...built.ops] : built.ops
    const warn = opts.warn ?? (() => {})
    const resumeOf = (role: 'output' | 'late' | 'dead-letter', path: string) => durable?.sinkResume(role, path)
    // a closed stdout (`>&-`) reads as /dev/null: cat and jq fail on it, but a launcher that
    // discards output on purpose opens it the same way (io/closed-fd.ts), so it is said, not refused
    if (toStdout && closedByShell(1)) warn('stdout: closed, or /dev/null opened read-write: every result is discarded (-o FILE keeps them)')
    const out =
      opts.output && opts.output !== STDIN ? await LineSink.file(opts.output, resumeOf('output', opts.output), warn) : LineSink.stdout(resumeOf('output', STDOUT))
    // a pipe holds 64 KiB: stdout keeps more queued, unless a checkpoint's barrier would wait in it
    if (out.pipe && !durable) out.queueBudget = PIPE_QUEUE_BUDGET
    const lateOut = opts.lateOutput ? await LineSink.file(opts.lateOutput, resumeOf('late', opts.lateOutput), warn) : undefined
    const deadOut = opts.deadLetter ? await LineSink.file(opts.deadLetter, resumeOf('dead-letter', opts.deadLetter), warn) : undefined
    const state: KeyedStateBackend = durable ? durable.state : new MemoryStateBackend()
    // a followed file has no end to overlap parsing with: it is parsed on this thread; records
    // from a weir stage are parsed whole (their key and window fields come from the channel)
    const plan = parsePlan(stages, inputsInfo, pipeIn?.context)
    if (plan && opts.follow) plan.worker = false
    // stdout to a pipe: the next stage may be weir (decisions.md 15): its channel, before any byte
    const pipeOut = toStdout ? pipeWriter(stages, built.context, pipeIn, opts, durable, jobPids) : undefined
    if (pipeOut) out.beforeWrite = () => pipeOut.channel.flush()
    try {
      // Without a completing stage no checkpoint completes (decisions.md 27). This stage cannot
      // tell at its exit whether a weir stage will still read its pipe (`| (sleep 1; weir …)`),
      // so the next run of the job says so (durable.ts), from the parts it finds.
      const job = new Job(ops, inputs, out, lateOut, deadOut, opts, state, durable, plan, pipeIn, pipeOut, place !== undefined)
      return await job.run(inputsInfo.allRegular ? inputsInfo.bytes : undefined)
    } finally {
      pipeOut?.channel.close()
      pipeIn?.channel.close()
    }
  } finally {
    await durable?.close()
  }
}

/**
 * A weir stage before this one, when stdin is a pipe with a side channel. The channel exists
 * before the pipe's first byte or EOF, so this waits for either and then looks: no timeout, and
 * the answer depends on neither start-up order nor load (decisions.md 15).
 */
async function upstreamChannel(inputs: string[]): Promise<PipeReader | undefined> {
  if (inputs.length !== 1 || inputs[0] !== STDIN) return undefined
  if (!isPipe(0)) return undefined
  await firstEvent(process.stdin, 'readable', 'error')
  const channel = ChannelReader.open(0)
  return channel && new PipeReader(channel)
}

const commandLineOf = (stages: Stage[], opts: JobOptions): string => opts.commandLine ?? 'weir ' + stages.map((s) => s.label).join(' then ')

function pipeWriter(
  stages: Stage[],
  context: ReturnType<typeof buildChain>['context'],
  pipeIn: PipeReader | undefined,
  opts: JobOptions,
  durable: DurableJob | undefined,
  pids: number[],
): PipeWriter | undefined {
  const channel = ChannelWriter.create({
    stages: [...(pipeIn?.channel.header.stages ?? []), commandLineOf(stages, opts)],
    context: contextToJson(context),
    ...(durable ? { job: durable.chainJob, pids } : {}),
  })
  return channel && new PipeWriter(channel, context)
}

/**
 * After a pipe on stdin ends (not from a weir stage), how long a signal may still be on its way:
 * Ctrl-C kills the program before weir and reaches weir at the same moment, and the end of input
 * it causes must not be taken for the end of the stream. Measured here: the signal came up to
 * a few milliseconds after the EOF.
 */
const SIGNAL_GRACE_MS = 25

/** How often a progress line is redrawn. */
const PROGRESS_EVERY_MS = 500

/** How often a quiet pipe's side channel is read for entries after its last line. */
const PIPE_IDLE_POLL_MS = 100

/** How often --follow looks for new data at the end of a file (tail -F checks every second). */
const FOLLOW_POLL_MS = 200

/** Below this much input, starting a worker (~30 ms) costs more than it saves. */
const WORKER_MIN_BYTES = 8 << 20

/** How records are parsed: only the fields the stages read (when they name them all), and where. */
interface ParsePlan {
  fields: string[]
  /** in the parse worker, on the second core */
  worker: boolean
}

/**
 * When every stage names the fields it reads, records are projected (io/batches.ts) instead of
 * parsed whole; on the second core when that pays: a stateful stage gives this thread work of its
 * own, the inputs are regular files (a worker cannot share stdin; a FIFO or a device has no size
 * to judge by) and there is enough input.
 * WEIR_PARSE_WORKER=0 keeps parsing on the main thread, =1 forces the worker; WEIR_PROJECT=0
 * parses whole records with JSON.parse, the reference the tests compare the other paths with.
 */
export function parsePlan(stages: Stage[], inputs: InputsInfo, upstream?: StreamContext): ParsePlan | undefined {
  if (process.env.WEIR_PROJECT === '0') return undefined
  const fields = fieldsNeeded(stages, upstream)
  if (!fields) return undefined
  const setting = process.env.WEIR_PARSE_WORKER
  // Stateless stages do too little per record for a second thread to pay for its hand-over: the
  // filter+map bench ran 1.0 s with projection on this thread, 1.15 s with the worker. keyby alone
  // (the first stage of a pipe chain) is one of them: 1M records took 2.2 s of CPU on this thread,
  // 2.7 s with the worker, and in a chain the other stages need that core.
  const stateful = stages.some((s) => s.config.op === 'window' || s.config.op === 'aggregate')
  const worker = setting !== '0' && inputs.allRegular && (setting === '1' || (stateful && inputs.bytes >= WORKER_MIN_BYTES))
  return { fields, worker }
}

/** A chain that is a lone tumbling window after its time assigner, and where its fields are in a batch. */
interface WindowPath {
  stamps: NonNullable<Operator['stampsField']>
  /** the time assigner's place in the chain: its watermarks go on from there */
  stampsAt: number
  textOf: NonNullable<Operator['windowTextOf']>
  /** columns of the time field, window_start and window_end */
  time: number
  start: number
  end: number
}

/** The window path of a chain (Job.windowBatch), if it is one; a pipe reader that passes records on may head it. */
function windowPathOf(ops: Operator[], fields: string[]): WindowPath | undefined {
  const head = ops.length === 3 && ops[0]!.passesWhenPresent?.length === 0 ? 1 : 0
  if (ops.length !== head + 2) return undefined
  const stamps = ops[head]!.stampsField
  const textOf = ops[head + 1]!.windowTextOf
  if (!stamps || !textOf) return undefined
  const cols = [stamps.field, 'window_start', 'window_end'].map((f) => fields.indexOf(f))
  if (cols.some((c) => c < 0)) return undefined
  return { stamps, stampsAt: head, textOf, time: cols[0]!, start: cols[1]!, end: cols[2]! }
}

/**
 * A pipe reader of keyed tumbling windows followed by their aggregate (`… | weir aggregate …`
 * after `weir window tumbling …`): the driver reads key and window from the parsed columns and
 * hands the aggregate each record's value (Job.carriedBatch).
 */
interface CarriedPath {
  reader: NonNullable<Operator['carriesFields']>
  add: NonNullable<Operator['addCarried']>
  /** columns of the key field, window_start and window_end */
  key: number
  start: number
  end: number
}

function carriedPathOf(ops: Operator[], fields: string[]): CarriedPath | undefined {
  if (ops.length !== 2) return undefined
  const reader = ops[0]!.carriesFields
  const add = ops[1]!.addCarried
  if (!reader || !add) return undefined
  const cols = [reader.keyField, 'window_start', 'window_end'].map((f) => fields.indexOf(f))
  if (cols.some((c) => c < 0)) return undefined
  return { reader, add, key: cols[0]!, start: cols[1]!, end: cols[2]! }
}

const EMPTY_BYTES = Buffer.alloc(0)

/** Record `i` of a batch as the value of the fields parsed (a field the line lacks is absent). */
function valueAt(cols: unknown[][], fields: string[], i: number): Record<string, unknown> {
  const value: Record<string, unknown> = {}
  for (let f = 0; f < fields.length; f++) {
    const v = cols[f]![i]
    if (v !== undefined) value[fields[f]!] = v
  }
  return value
}

/** JSON's whitespace: space, tab, LF, CR. */
function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}

/** What the driver needs of a source to apply backpressure and stop it. */
interface Pausable {
  pause(): void
  resume(): void
  destroy(): void
}

class Job {
  private readonly stats: Stats
  /** one fate per record read, whatever the operators count on its way (stream/stats.ts) */
  private readonly fates: Fates
  private readonly chain: Chain
  private readonly clock: Clock
  private timer: NodeJS.Timeout | undefined
  private stopped: JobResult['stopped']
  private signalled = false
  /** the source is paused until the sinks have written enough of what is queued (afterBatch) */
  private backpressured = false
  private failure: unknown
  private current: Pausable | undefined
  private readonly heap = new HeapBudget()
  /** where each input stands: what a checkpoint records and a resume starts from */
  private readonly positions: SourcePosition[]
  private readonly checkpoints: CheckpointCoordinator | undefined

  constructor(
    ops: Operator[],
    private readonly inputs: string[],
    private readonly out: LineSink,
    private readonly lateOut: LineSink | undefined,
    private readonly deadOut: LineSink | undefined,
    private readonly opts: JobOptions,
    state: KeyedStateBackend,
    private readonly durable: DurableJob | undefined,
    private readonly parsing?: ParsePlan,
    private readonly pipeIn?: PipeReader,
    private readonly pipeOut?: PipeWriter,
    /** a later stage of a chain's job: its barriers come from the stage before it */
    private readonly barriersFromUpstream = false,
  ) {
    this.clock = opts.clock ?? wallClock
    const stats = (this.stats = opts.stats ?? newStats())
    const fates = (this.fates = new Fates(stats))
    // what reaches the sinks is tallied for the record read that caused it (stream/stats.ts)
    const tally = fates.tally
    out.onWritten = (lines) => (stats.linesWritten += lines)
    this.chain = new Chain(ops, {
      record: pipeOut
        ? (rec) => {
            pipeOut.record(rec)
            out.push(recordText(rec))
            if (!rec.derived) tally.written++
          }
        : (rec) => {
            out.push(recordText(rec))
            if (!rec.derived) tally.written++
          },
      watermark: pipeOut
        ? (t) => {
            this.watermark = t
            pipeOut.watermark(t)
          }
        : (t) => {
            this.watermark = t
          },
      pane: pipeOut ? (e) => pipeOut.pane(e) : undefined,
      late: (rec) => {
        tally.late++
        if (lateOut) lateOut.push(recordText(rec))
        else tally.lateDropped++
      },
    })
    // named by the line its input held, without the window fields a window stage added (as the
    // then form, where window and aggregate fuse, names it)
    const badRecord = (rec: Rec, why: string) => this.bad(rec, inputText(rec), why)
    const warned = new Set<string>()
    const warn = (message: string) => {
      if (warned.has(message)) return
      warned.add(message)
      process.stderr.write(`weir: warning: ${printable(message)}\n`)
    }
    this.chain.open((op) => ({ uid: op.uid, state, clock: this.clock, stats: tally, badRecord, warn, stateTtl: opts.stateTtl }))
    // (not behind a pipe reader: forwardBatch does not put the channel's entries between lines)
    const passes = ops.length === 1 && !pipeIn ? ops[0]!.passesWhenPresent : undefined
    if (passes && parsing && (!pipeOut || pipeOut.countsOnly)) {
      const cols = passes.map((f) => parsing.fields.indexOf(f))
      if (cols.every((c) => c >= 0)) this.forwardCols = cols
    }
    if (parsing && (!pipeOut || !pipeOut.linesHaveEntries)) this.windowPath = windowPathOf(ops, parsing.fields)
    if (parsing && pipeIn) this.carriedPath = carriedPathOf(ops, parsing.fields)
    this.positions = durable ? durable.startPositions() : inputs.map((path) => ({ path, dev: 0, ino: 0, offset: 0, line: 0, done: false }))
    if (durable) {
      this.chain.restore(durable.snapshots)
      this.checkpoints = durable.coordinator(
        {
          snapshotOperators: () => this.chain.snapshot(),
          state,
          sources: () => this.positions.map(({ rotatedTo: _r, ...p }) => p),
          sinks: durable.sinks([
            { role: 'output', sink: out },
            ...(lateOut ? [{ role: 'late' as const, sink: lateOut }] : []),
            ...(deadOut ? [{ role: 'dead-letter' as const, sink: deadOut }] : []),
          ]),
          stats,
        },
        this.clock,
      )
      const checkpoints = this.checkpoints
      if (barriersFromUpstream && pipeIn)
        // a barrier reaches this stage between two lines: every record before it has passed
        // through every operator here, so the snapshot is aligned; it goes on at once
        pipeIn.onBarrier = (id, final) => {
          if (final) this.finalBarrier = id
          else this.barrier(checkpoints.trigger('running', id))
        }
    }
  }

  /** the watermark at the end of the chain, for a progress line */
  private watermark: number | undefined

  /**
   * When the chain is one operator that passes records on unchanged given some fields
   * (Operator.passesWhenPresent): those fields' columns in a projected batch. Such records' bytes
   * go to the output as they are, never decoded (forwardBatch).
   */
  private forwardCols: number[] | undefined

  /** When the chain is a lone tumbling window after its time assigner: see windowBatch. */
  private windowPath: WindowPath | undefined
  private carriedPath: CarriedPath | undefined

  /** A checkpoint was taken here: its barrier goes on to the weir stage after this one, if any. */
  private barrier(id: number): void {
    this.pipeOut?.barrier(id)
  }

  /** whether the weir stage after this one failed (its reader went away without saying it stopped on purpose) */
  private readerFailed: boolean | undefined

  /** the id of the first stage's last checkpoint, taken here after the end or stop that follows it */
  private finalBarrier: number | undefined

  /** One record read through the chain, and its one fate counted. */
  private push(rec: Rec): void {
    this.fates.begin()
    try {
      this.chain.push(rec)
    } finally {
      this.fates.end()
    }
  }

  /**
   * Input `index`'s records up to this line were read before, up to a checkpoint of a run this one
   * does not continue (restored from an older checkpoint): they count as replayed.
   */
  private replayUntil(index: number): number {
    return this.durable?.replayUntil(this.positions[index]!) ?? 0
  }

  /**
   * The bad-input policy: fail (exit 65), skip (counted) or dead-letter (counted, bytes kept).
   * bytes: the line's own bytes, when they are not UTF-8 (raw then has replacement characters).
   */
  private bad(pos: Position, raw: string, why: string, bytes?: Uint8Array): void {
    const policy = this.opts.onError ?? 'fail'
    // compressed bytes on stdin (a file is decompressed): say so rather than only "not UTF-8"
    if (pos.line === 1 && bytes && bytes[0] === 0x1f && bytes[1] === 0x8b) why += ': gzip-compressed? use zcat FILE | weir … -'
    if (policy === 'fail') throw dataError(pos, why)
    // a bad line is its record's fate; a record a stage finds bad is tallied with the rest of it
    const counts = this.fates.counts
    if (policy === 'skip') counts.skipped++
    else {
      counts.deadLettered++
      // a record read has one fate, so one dead letter: the copies a sliding window made of it
      // (one per window, the same letter once their window fields are gone) are found bad by a
      // later stage of this process one after another
      const letter = deadLetter(pos, raw, why, bytes)
      if (letter === this.lastLetter && this.stats.read === this.lastLetterRead) return
      this.lastLetter = letter
      this.lastLetterRead = this.stats.read
      this.deadOut!.push(letter)
    }
  }

  /** the last dead letter written, and the record read it belongs to (the count of records read then) */
  private lastLetter: string | undefined
  private lastLetterRead = -1

  async run(bytesTotal?: number): Promise<JobResult> {
    const started = Date.now()
    // in a pipe chain on a terminal only the first stage draws one (they would overwrite each
    // other's), unless a later one is asked with --progress
    const onProgress = this.pipeIn && !this.opts.progress ? undefined : this.opts.onProgress
    const progress = (done: boolean) =>
      onProgress?.({
        bytesRead: this.positions.reduce((sum, p) => sum + p.offset, 0),
        bytesTotal,
        records: this.stats.read,
        elapsedMs: Date.now() - started,
        watermark: this.watermark,
        windowsOpen: this.chain.openWindows(),
        checkpoint: this.checkpoints?.lastCompleted,
        done,
      })
    // a short job shows none: the first line after a second
    let ticker: NodeJS.Timeout | undefined
    const firstTick = onProgress
      ? setTimeout(() => (ticker = setInterval(() => progress(false), PROGRESS_EVERY_MS).unref()), 1000).unref()
      : undefined
    try {
      return await this.runJob()
    } finally {
      clearTimeout(firstTick)
      if (ticker) {
        clearInterval(ticker)
        progress(true)
      }
    }
  }

  private async runJob(): Promise<JobResult> {
    // with a weir stage before this one, a signal waits up to a second for its 'stop' (it got
    // the signal too: decisions.md 31), so the chain stops as one
    const onAbort = () => {
      // signalled: a broken pipe that Ctrl-C caused downstream (its stage died of the same
      // signal, maybe before this one saw it) is then no failure of this stage's reader
      this.signalled = true
      if (!this.pipeIn) return this.halt('signal')
      setTimeout(() => this.halt('signal'), 1000).unref()
    }
    this.opts.signal?.addEventListener('abort', onAbort)
    let drained = false
    try {
      // checkpoint 0 of this run: a run killed before its first interval resumes from here and
      // cuts what it wrote (decisions.md 29)
      if (this.checkpoints && !this.barriersFromUpstream) this.barrier(this.checkpoints.trigger('running'))
      // the worker reads each input under its own name: a rotated one is finished on this thread
      if (this.parsing?.worker && !this.positions.some((p) => p.rotatedTo !== undefined)) {
        await this.pumpParsed(this.parsing.fields)
        if (this.failure) throw this.failure
      } else
        for (let i = 0; i < this.inputs.length; i++) {
          if (this.stopped) break
          if (this.positions[i]!.done) continue
          const rotated = this.positions[i]!.rotatedTo
          if (rotated !== undefined) {
            // the old file, under its new name, to its end (its last line even unterminated):
            // meanwhile the position still names the old inode, so a kill here resumes the same way
            await this.pump(i, rotated, false)
            if (this.failure) throw this.failure
            if (this.stopped) break
            const now = identifyInput(this.inputs[i]!)
            Object.assign(this.positions[i]!, { dev: now.dev, ino: now.ino, offset: 0, line: 0, done: false, rotatedTo: undefined })
          }
          if (this.opts.follow && i === this.inputs.length - 1) await this.pumpFollow(i)
          else await this.pump(i)
          if (this.failure) throw this.failure
        }
      this.clearTimer()
      // Ctrl-C reaches every process of a pipeline at once: the program before this one may die
      // of it and close the pipe while our own signal is still on its way through the event
      // loop. One turn of the loop lets it arrive, so the end of input it caused is not taken
      // for the end of the stream (which would drain and exit 0). The same with a weir stage
      // before this one whose 'stop' says a signal stopped it: the turn decides between 130
      // (ours came) and a stop from upstream alone (`kill -INT` of that stage only).
      const foreignEnd = this.inputs[this.inputs.length - 1] === STDIN && !this.pipeIn && !this.stopped && isPipe(0)
      const signalledUpstream = this.pipeIn?.ended === 'stop' && this.pipeIn.stopReason === 'signal' && !this.signalled
      if (foreignEnd || signalledUpstream) await new Promise<void>((resolve) => setTimeout(resolve, SIGNAL_GRACE_MS))
      if (this.pipeIn?.ended === 'stop') this.stopped ??= this.signalled ? 'signal' : 'upstream'
      if (this.stopped || this.opts.noFlush) this.chain.stop()
      else {
        this.chain.end()
        drained = true
      }
      let finalId: number | undefined
      if (this.checkpoints) {
        // the final checkpoint: after a drain it marks the job finished; after a stop (--no-flush,
        // a signal) it is what the next run continues from. A later stage of a chain takes the
        // first stage's, once the end or stop after its barrier has run here.
        await this.checkpoints.settled()
        this.out.flush()
        this.lateOut?.flush()
        this.deadOut?.flush()
        if (!this.out.closedByReader && (!this.barriersFromUpstream || this.finalBarrier !== undefined))
          finalId = this.checkpoints.trigger(drained ? 'drained' : 'stopped', this.finalBarrier)
      }
      if (this.pipeOut && !this.out.closedByReader) {
        if (finalId !== undefined) this.pipeOut.barrier(finalId, true)
        this.pipeOut.finish(drained ? 'end' : { stop: this.stopped === 'upstream' ? this.pipeIn!.stopReason ?? 'upstream' : (this.stopped ?? 'no-flush') })
      }
      await this.checkpoints?.settled()
    } catch (e) {
      this.clearTimer()
      // what was produced before the failure still goes out, as jq and Miller do
      await this.closeSinks().catch(() => {})
      throw e
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort)
    }
    await this.closeSinks()
    // a weir reader that went away failed (it opened the channel), unless it said it stopped on
    // purpose: not the quiet end of `| head` (decisions.md 31)
    if (this.out.closedByReader && (this.readerFailed ?? this.pipeOut?.channel.readerFailed()) && this.stopped !== 'signal' && !this.signalled)
      throw new WeirError('io', 'stdout: the weir stage after this one stopped reading (killed, or see its message)')
    return {
      stats: this.stats,
      stopped: this.stopped ?? (this.out.closedByReader ? 'reader-closed' : undefined),
      totals: this.checkpoints?.totals(),
      checkpoint: this.checkpoints?.lastCompleted,
      windowsOpen: this.chain.openWindows(),
      channelBytes: this.pipeOut?.channel.bytes,
    }
  }

  private async closeSinks(): Promise<void> {
    await this.out.close()
    await this.lateOut?.close()
    await this.deadOut?.close()
  }

  private halt(why: NonNullable<JobResult['stopped']>): void {
    // this stage stops on purpose when its own reader went away quietly (`| head`): said before
    // stdin closes, so the weir stage before it takes its broken pipe quietly too. A weir reader
    // that failed makes this stage fail, and the one before it as well.
    if (why === 'reader-closed' && !this.stopped) {
      this.readerFailed = this.pipeOut?.channel.readerFailed() ?? false
      if (!this.readerFailed) this.pipeIn?.channel.stoppingQuietly()
    }
    this.stopped ??= why
    this.current?.destroy()
  }

  /**
   * Lines to records for one input from `start`: projected batches or whole records, on this
   * thread. `feed` takes a chunk, which the splitter may keep by reference (the start of an
   * unfinished line): callers hand it a buffer they do not reuse. `finish` ends the input (an
   * unterminated last line is still a line).
   */
  private lineReader(input: string, start: { offset: number; line: number }, replayUntil = 0) {
    const source = sourceName(input)
    const stats = this.stats
    const chain = this.chain
    const pipeIn = input === STDIN ? this.pipeIn : undefined
    let feed: (chunk: Buffer) => void
    let finishInput: () => void
    let reader: { offset: number; lineNo: number; partialBytes: number }
    const fields = this.parsing?.fields
    if (fields) {
      // projected records, as the parse worker makes them, but on this thread
      // a stage that only forwards records holding their key fields needs to know no values
      const presenceOnly = this.forwardCols !== undefined && this.forwardCols.length === fields.length
      const batcher = new LineBatcher(fields, source, start, this.opts.maxLineBytes, presenceOnly)
      reader = batcher
      const take = (batch: ParsedBatch | undefined) => {
        if (batch) this.onParsedBatch(batch, fields, replayUntil)
      }
      feed = (chunk) => take(batcher.feed(chunk))
      finishInput = () => take(batcher.finish())
    } else {
      const splitter = new LineSplitter(start, this.opts.maxLineBytes)
      reader = splitter
      const onLine = (text: string, line: number, why?: string, bytes?: Buffer) => {
        // as recordsOf: entries first (a barrier among them snapshots the counters: this line
        // is not read yet), then the record, named after its input line upstream
        let at = source
        if (pipeIn) at = pipeIn.arrive(line, chain, source)
        stats.read++
        if (line <= replayUntil) stats.replayed++
        if (pipeIn) line = pipeIn.lineOf(line)
        if (why !== undefined) return this.bad({ source: at, line }, text, why, bytes)
        let value: unknown
        try {
          value = JSON.parse(text)
        } catch (e) {
          return this.bad({ source: at, line }, text, `malformed JSON: ${(e as Error).message}`)
        }
        this.push({ raw: text, value, source: at, line })
      }
      feed = (chunk) => splitter.feed(chunk, onLine)
      finishInput = () => splitter.finish(onLine)
    }
    if (pipeIn) {
      // having seen a line, every channel entry before it is in the file: read them once per
      // chunk, and apply those after the chunk's last line without waiting for the next one
      const feedLines = feed
      const finishLines = finishInput
      feed = (chunk) => {
        pipeIn.channel.poll()
        feedLines(chunk)
        pipeIn.before(reader.lineNo + 1, chain)
      }
      finishInput = () => {
        pipeIn.checkFinished(reader.partialBytes > 0)
        finishLines()
        pipeIn.atEof(reader.lineNo, chain)
      }
    }
    return { feed, finish: finishInput, position: () => ({ offset: reader.offset, line: reader.lineNo }) }
  }

  /** Reads input `index` from its position; `path` when the file is read under another name (rotated). */
  private pump(index: number, path?: string, keepPartialLine?: boolean): Promise<void> {
    const input = path ?? this.inputs[index]!
    const position = this.positions[index]!
    const start = { offset: position.offset, line: position.line }
    const { feed, finish: finishInput, position: at } = this.lineReader(input, start, this.replayUntil(index))
    // --no-flush and --follow leave the last input's unterminated last line for a later run, so
    // offsets always sit on line boundaries (decisions.md 20)
    const keepPartial = keepPartialLine ?? (this.opts.noFlush === true && index === this.inputs.length - 1)
    const advance = () => {
      const p = at()
      position.offset = p.offset
      position.line = p.line
    }
    return new Promise<void>((resolve) => {
      const stream = openSource(input, start.offset)
      this.current = stream
      let done = false
      // a quiet pipe from a weir stage may still have entries after its last line (a watermark
      // from an idle timeout, a processing-time firing): look for them now and then
      const pipeIn = input === STDIN ? this.pipeIn : undefined
      const idle = pipeIn
        ? setInterval(() => {
            if (done || this.stopped) return
            try {
              pipeIn.channel.poll()
              pipeIn.before(at().line + 1, this.chain)
            } catch (e) {
              return fail(e)
            }
            this.afterBatch(stream)
          }, PIPE_IDLE_POLL_MS)
        : undefined
      idle?.unref()
      const finish = () => {
        if (done) return
        done = true
        if (idle) clearInterval(idle)
        this.current = undefined
        resolve()
      }
      const fail = (e: unknown) => {
        this.failure ??= e
        stream.destroy()
        finish()
      }
      // libuv reads a pipe up to 32 chunks at a time in one turn of the loop, and the completion of
      // a write to the next stage's pipe waits for the turn to end: meanwhile that pipe runs dry,
      // and the next stage waits. After a chunk with such a write under way, let the loop turn.
      // The 3-stage bench chain's last stage waited 0.9 s instead of 1.3 s for input.
      const yieldTurns = input === STDIN
      stream.on('data', (chunk: Buffer) => {
        if (this.stopped || done) return
        try {
          feed(chunk)
        } catch (e) {
          return fail(e)
        }
        advance()
        this.afterBatch(stream)
        if (yieldTurns && !this.backpressured && this.out.writingToPipe) {
          stream.pause()
          setImmediate(() => {
            if (!this.backpressured) stream.resume()
          })
        }
      })
      const onEnd = () => {
        try {
          if (!this.stopped && !keepPartial) {
            finishInput()
            advance()
            position.done = true
          }
        } catch (e) {
          return fail(e)
        }
        this.afterBatch(stream)
        finish()
      }
      // stdin may have ended while the job was opening (an empty pipe whose writer is gone: its
      // 'end' and 'close' came and went): the end is still the end
      if (stream.readableEnded) return onEnd()
      stream.on('end', onEnd)
      stream.on('error', (e: NodeJS.ErrnoException) => fail(new WeirError('io', `${sourceName(input)}: read failed: ${e.message}`)))
      stream.on('close', finish)
      // stdin may have been left paused by the look for a side channel (upstreamChannel)
      stream.resume()
    })
  }

  /**
   * --follow: reads a growing file as `tail -F` does, from its checkpointed offset, for as long
   * as the job runs (a signal ends it). At the end of the data it waits, polling, and keeps
   * taking checkpoints. When the path names another file (rotated: renamed away and created
   * anew), the old file is read to its end through the descriptor still open, its unterminated
   * last line included, and the new file is read from its start; a file that shrank (truncated
   * in place) is read again from its start, with a warning: what was between is lost.
   */
  private async pumpFollow(index: number): Promise<void> {
    const input = this.inputs[index]!
    const position = this.positions[index]!
    let reader = this.lineReader(input, { offset: position.offset, line: position.line }, this.replayUntil(index))
    let file = await open(input, 'r').catch((e: Error) => {
      throw new WeirError('no-input', `${input}: ${e.message}`)
    })
    let at = position.offset
    let wake: (() => void) | undefined
    let blocked: Promise<void> | undefined
    let ended = false
    const handle: Pausable = {
      pause: () => (blocked ??= new Promise<void>((r) => (wake = r))),
      resume: () => {
        blocked = undefined
        wake?.()
      },
      destroy: () => {
        ended = true
        wake?.()
      },
    }
    this.current = handle
    const sleep = (ms: number) =>
      new Promise<void>((r) => {
        const t = setTimeout(r, ms)
        wake = () => {
          clearTimeout(t)
          r()
        }
      })
    try {
      while (!ended && !this.stopped && !this.failure) {
        if (blocked) await blocked
        const buf = Buffer.allocUnsafe(1 << 18)
        const { bytesRead } = await file.read(buf, 0, buf.length, at)
        if (bytesRead > 0) {
          at += bytesRead
          reader.feed(buf.subarray(0, bytesRead))
          Object.assign(position, reader.position())
          this.afterBatch(handle)
          continue
        }
        const now = await stat(input).catch(() => undefined)
        const mine = await file.stat()
        if (now && now.ino !== mine.ino) {
          // rotated: this file is complete; its last line, even unterminated, is a line
          reader.finish()
          await file.close()
          file = await open(input, 'r')
          at = 0
          reader = this.lineReader(input, { offset: 0, line: 0 })
          Object.assign(position, { offset: 0, line: 0, dev: now.dev, ino: now.ino })
          this.afterBatch(handle)
          continue
        }
        if (mine.size < at) {
          this.opts.warn?.(`${input}: truncated in place (copytruncate?): reading it again from its start; lines written between the last read and the truncation are lost`)
          at = 0
          reader = this.lineReader(input, { offset: 0, line: 0 })
          Object.assign(position, { offset: 0, line: 0 })
          continue
        }
        // no data: checkpoints keep coming while the file is quiet
        this.afterBatch(handle)
        await sleep(FOLLOW_POLL_MS)
      }
    } catch (e) {
      this.failure ??= e instanceof WeirError ? e : new WeirError('io', `${input}: read failed: ${(e as Error).message}`)
    } finally {
      this.current = undefined
      await file.close().catch(() => {})
    }
  }

  /** Reads every input through the parse worker (io/parse-worker.ts). */
  private pumpParsed(fields: string[]): Promise<void> {
    const replayUntil = this.positions.map((_, i) => this.replayUntil(i))
    return new Promise<void>((resolve) => {
      const workerData: WorkerInput = {
        paths: this.inputs,
        fields,
        starts: this.positions.map((p) => ({ offset: p.offset, line: p.line, done: p.done })),
        keepPartialLast: this.opts.noFlush === true,
        maxLineBytes: this.opts.maxLineBytes,
        credits: new Int32Array(new SharedArrayBuffer(4)).fill(CREDITS),
      }
      const credits = workerData.credits
      // The heap cap must not decide which lines are valid (--max-line-bytes does): a line as long
      // as allowed may be held as bytes, a two-byte string and a parsed value at once.
      const lineMb = Math.ceil((this.opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES) / (1 << 20))
      const resourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 24 + 6 * lineMb }
      const worker = new Worker(new URL('../io/parse-worker.js', import.meta.url), { workerData, resourceLimits })
      let done = false
      let paused = false
      let owed = 0 // acknowledgements held back while the output drains
      const finish = () => {
        if (done) return
        done = true
        this.current = undefined
        void worker.terminate()
        resolve()
      }
      const fail = (e: unknown) => {
        this.failure ??= e
        finish()
      }
      const handle: Pausable = {
        pause: () => (paused = true),
        resume: () => {
          paused = false
          if (owed > 0) acknowledge(credits, owed)
          owed = 0
        },
        destroy: finish,
      }
      this.current = handle
      worker.on('message', (m: WorkerMessage) => {
        if (done) return
        if ('batch' in m) {
          try {
            this.onParsedBatch(m.batch, fields, replayUntil[m.input])
          } catch (e) {
            return fail(e)
          }
          const p = this.positions[m.input]!
          p.offset = m.batch.endOffset!
          p.line = m.batch.endLine!
          this.afterBatch(handle)
          if (paused) owed++
          else acknowledge(credits)
        } else if ('inputDone' in m) {
          const p = this.positions[m.inputDone]!
          p.offset = m.offset
          p.line = m.line
          p.done = true
        } else if ('error' in m) fail(new WeirError('io', `${m.source}: read failed: ${m.error}`))
        else finish()
      })
      worker.on('error', (e) => fail(new WeirError('internal', `parse worker failed: ${e.message}`)))
      worker.on('exit', () => {
        if (!done) fail(new WeirError('internal', 'parse worker stopped before the end of the input'))
      })
    })
  }

  private onParsedBatch(batch: ParsedBatch, fields: string[], replayUntil = 0): void {
    if (this.forwardCols && batch.bytes) return this.forwardBatch(batch, this.forwardCols, fields, replayUntil)
    if (this.windowPath && batch.bytes) return this.windowBatch(batch, this.windowPath, fields, replayUntil)
    if (this.carriedPath && batch.source === 'stdin') return this.carriedBatch(batch, this.carriedPath, fields, replayUntil)
    this.recordsOf(batch, fields, replayUntil, 0, batch.lines.length)
  }

  /**
   * A batch from a weir pipe into the aggregate of the windows its records carry (CarriedPath):
   * each record whose key and window the columns give goes to the aggregate as its value, no
   * record built, no pipe reader run; any other line takes the record path in its place in the
   * order. Output, counts and state are those of recordsOf (test/cli/pipes.ts holds them so).
   */
  private carriedBatch(batch: ParsedBatch, path: CarriedPath, fields: string[], replayUntil: number): void {
    const { source, raws, starts, ends, lines, cols, bad, whole } = batch
    const stats = this.stats
    const chain = this.chain
    const pipeIn = this.pipeIn!
    const out = chain.outputOf(1)
    const fates = this.fates
    const { reader, add } = path
    const keys = cols[path.key]!
    const windowStarts = cols[path.start]!
    const windowEnds = cols[path.end]!
    const bytes = batch.bytes && Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength)
    // The record being added, for the aggregate to build only where it needs one (late, bad, a
    // function reading the record's bytes): one closure per batch over these, not one per record.
    let i = 0
    let value: Record<string, unknown> = {}
    let key: Key = NO_KEY
    let start = 0
    let end = 0
    let at = source
    let line = 0
    const rec = (): Rec => ({
      raw: raws ? raws[i]! : bytes ? bytes.toString('latin1', starts![i]!, ends![i]!) : '',
      value,
      key,
      window: { start, end },
      stamped: true,
      source: at,
      line,
    })
    for (; i < lines.length; i++) {
      if (this.stopped) return
      if (bad[i] !== undefined || (whole !== undefined && i in whole)) {
        this.recordsOf(batch, fields, replayUntil, i, i + 1)
        continue
      }
      // the entries before the line first: the first of them may say how times are written
      const read = lines[i]!
      at = pipeIn.arrive(read, chain, source)
      const k = reader.key(keys[i])
      const s = reader.bound(windowStarts[i])
      const e = reader.bound(windowEnds[i])
      if (k === undefined || s === undefined || e === undefined) {
        this.recordsOf(batch, fields, replayUntil, i, i + 1)
        continue
      }
      key = k
      start = s
      end = e
      stats.read++
      if (read <= replayUntil) stats.replayed++
      line = pipeIn.lineOf(read)
      value = valueAt(cols, fields, i)
      fates.begin()
      try {
        add(value, key, start, end, at, line, rec, out)
      } finally {
        fates.end()
      }
    }
  }

  /** Records [from, to) of the batch through the chain. */
  private recordsOf(batch: ParsedBatch, fields: string[], replayUntil: number, from: number, to: number): void {
    const { source, raws, starts, ends, lines, cols, bad, whole } = batch
    const stats = this.stats
    const chain = this.chain
    // records from a weir stage: its channel's entries go in between them
    const pipeIn = source === 'stdin' ? this.pipeIn : undefined
    // one string for the records' text (ASCII); each record's is a slice of it, which copies nothing
    const base = batch.bytes ? starts![from]! : 0
    const text = batch.bytes ? Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength).toString('latin1', base, ends![to - 1]!) : ''
    for (let i = from; i < to; i++) {
      if (this.stopped) return
      const raw = raws ? raws[i]! : text.slice(starts![i]! - base, ends![i]! - base)
      let line = lines[i]!
      // from a weir stage: its channel's entries go in before the line, and the record is named
      // after the input line it came from, as in the `then` form. The line is counted read only
      // after them: a barrier among them snapshots the counters, which must not hold a record
      // read with no fate yet (its fate comes after the barrier, so it belongs to the next one)
      let at = source
      if (pipeIn) at = pipeIn.arrive(line, chain, source)
      stats.read++
      if (line <= replayUntil) stats.replayed++
      if (pipeIn) line = pipeIn.lineOf(line)
      const why = bad[i]
      if (why !== undefined) {
        this.bad({ source: at, line }, raw, why, batch.badBytes?.[i])
        continue
      }
      if (whole !== undefined && i in whole) {
        this.push({ raw, value: whole[i], source: at, line })
        continue
      }
      const value = valueAt(cols, fields, i)
      this.push({ raw, value, source: at, line })
    }
  }

  /**
   * A batch through a chain that passes records unchanged when they have the fields in `need`
   * (forwardCols): runs of such lines are written as the batch's own bytes, counted as written;
   * any other line (bad input, not an object, a field missing, a CR before its LF) takes the
   * usual way, in its place in the order. The output is the bytes onParsedBatch would write.
   */
  private forwardBatch(batch: ParsedBatch, need: number[], fields: string[], replayUntil: number): void {
    const { starts, ends, lines, cols, bad, whole } = batch
    const bytes = Buffer.from(batch.bytes!.buffer, batch.bytes!.byteOffset, batch.bytes!.byteLength)
    const stats = this.stats
    const out = this.out
    const pipeOut = this.pipeOut
    // the run of lines to write as they are: bytes[runStart, runEnd), each line with its LF
    let runStart = 0
    let runEnd = -1
    let runLines = 0
    let runFirstLine = 0
    const writeRun = () => {
      if (runLines === 0) return
      out.pushBytes(bytes.subarray(runStart, runEnd), runLines)
      pipeOut?.records(runLines, batch.source, runFirstLine)
      stats.written += runLines
      runLines = 0
    }
    for (let i = 0; i < lines.length; i++) {
      if (this.stopped) return writeRun()
      const s = starts![i]!
      const e = ends![i]!
      let passes = bad[i] === undefined && (whole === undefined || !(i in whole)) && bytes[e] === 10
      for (let k = 0; passes && k < need.length; k++) passes = cols[need[k]!]![i] !== undefined
      if (passes) {
        stats.read++
        if (lines[i]! <= replayUntil) stats.replayed++
        if (runLines > 0 && s === runEnd) {
          runEnd = e + 1
          runLines++
        } else {
          writeRun()
          runStart = s
          runEnd = e + 1
          runLines = 1
          runFirstLine = lines[i]!
        }
        continue
      }
      writeRun()
      this.recordsOf(batch, fields, replayUntil, i, i + 1)
    }
    writeRun()
  }

  /**
   * A batch through a lone tumbling window (`weir window tumbling …`, the middle stage of a pipe
   * chain): each record that is an object without window fields, has a readable time and is not
   * late is written as its own bytes with its window's bounds added before the closing brace,
   * never decoded; the time assigner and the window run their part of it (Operator.stampsField,
   * windowTextOf), and the watermark it moves goes on through the chain. Every other line takes
   * the record path in its place in the order. Output, counts, channel and state are those of
   * recordsOf (test/cli/window.ts holds them so).
   */
  private windowBatch(batch: ParsedBatch, path: WindowPath, fields: string[], replayUntil: number): void {
    const { starts, ends, lines, cols, bad, whole, source } = batch
    const bytes = Buffer.from(batch.bytes!.buffer, batch.bytes!.byteOffset, batch.bytes!.byteLength)
    const stats = this.stats
    const chain = this.chain
    const pipeIn = source === 'stdin' ? this.pipeIn : undefined
    const pipeOut = this.pipeOut
    const times = cols[path.time]!
    const windowStarts = cols[path.start]!
    const windowEnds = cols[path.end]!
    // the lines made so far, as bytes of their own (the sink keeps a view of them until it writes)
    let buf = Buffer.allocUnsafe(bytes.length + lines.length * 48)
    let at = 0
    let made = 0
    const writeRun = () => {
      if (made === 0) return
      // buf is this batch's own, and what follows `at` is all that is written later
      this.out.pushBytes(buf.subarray(0, at), made, true)
      buf = buf.subarray(at)
      at = 0
      made = 0
    }
    let text: string | undefined
    let tail = EMPTY_BYTES // `,` text `}` LF
    for (let i = 0; i < lines.length; i++) {
      if (this.stopped) return writeRun()
      // from a weir stage: its entries before the line, and the line named as upstream read it
      let from = source
      let line = lines[i]!
      if (pipeIn) {
        from = pipeIn.arrive(line, chain, source)
        line = pipeIn.lineOf(line)
      }
      const s = starts![i]!
      const e = ends![i]!
      let t = NaN
      let w: string | undefined
      if (bad[i] === undefined && (whole === undefined || !(i in whole)) && bytes[e] === 10 && windowStarts[i] === undefined && windowEnds[i] === undefined) {
        t = path.stamps.time(times[i])
        if (t === t) w = path.textOf(t, from, line)
      }
      if (w === undefined) {
        // unreadable time, late, not a plain object line: the record path, which says why
        writeRun()
        this.recordsOf(batch, fields, replayUntil, i, i + 1)
        continue
      }
      stats.read++
      if (lines[i]! <= replayUntil) stats.replayed++
      // the record's closing brace (whitespace may follow it); it has a member, its time, before it
      let close = e - 1
      while (isJsonSpace(bytes[close]!)) close--
      if (w !== text) {
        text = w
        tail = Buffer.from(`,${w}}\n`)
      }
      if (at + (close - s) + tail.length > buf.length) {
        writeRun()
        buf = Buffer.allocUnsafe(Math.max(bytes.length, 2 * (close - s + tail.length)))
      }
      at += bytes.copy(buf, at, s, close)
      at += tail.copy(buf, at)
      made++
      stats.written++
      pipeOut?.passed(from, line)
      const wm = path.stamps.advance(t)
      if (wm !== undefined) chain.watermarkFrom(path.stampsAt, wm)
    }
    writeRun()
  }

  /** Writes what the batch produced, applies backpressure, and re-arms processing-time timers. */
  private afterBatch(stream: Pausable): void {
    this.heap.check()
    // A checkpoint barrier goes in at a batch boundary: in one process every record before it has
    // passed through every operator, so the snapshot is aligned without stopping the source.
    if (this.checkpoints && !this.barriersFromUpstream && !this.stopped && !this.failure) {
      try {
        if (this.checkpoints.due()) this.barrier(this.checkpoints.trigger('running'))
      } catch (e) {
        this.failure ??= e
        this.current?.destroy()
        return
      }
    }
    let flowing: boolean
    try {
      // every sink is flushed (no short-circuit): a side output's failure must not wait for the end
      this.deadOut?.flush()
      const lateFlowing = this.lateOut?.flush() ?? true
      flowing = this.out.flush() && lateFlowing
      // entries that no line follows yet (a watermark of a quiet stream) go out now
      this.pipeOut?.endBatch()
      this.pipeOut?.channel.flush()
    } catch (e) {
      // a failed write (ENOSPC, EIO): this runs in a source's event handler, where a throw would
      // escape as an uncaught exception with a stack trace; the pump rethrows it instead
      this.failure ??= e
      this.current?.destroy()
      return
    }
    if (this.out.closedByReader) return this.halt('reader-closed')
    if (!flowing && !this.backpressured) {
      this.backpressured = true
      stream.pause()
      Promise.all([this.out.drain(), this.lateOut?.drain()]).then(() => {
        this.backpressured = false
        if (this.out.closedByReader) this.halt('reader-closed')
        else stream.resume()
      })
    }
    this.armTimer()
  }

  private armTimer(): void {
    const next = this.chain.nextProcessingTime()
    if (next === undefined) return this.clearTimer()
    this.clearTimer()
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - this.clock.now()))
    // A pending timer must not keep a finished job alive; the source keeps a running one alive.
    this.timer.unref()
  }

  private onTimer(): void {
    this.timer = undefined
    if (this.stopped || this.failure) return
    try {
      this.chain.onProcessingTime(this.clock.now())
      this.out.flush()
      this.pipeOut?.channel.flush()
      this.lateOut?.flush()
    } catch (e) {
      this.failure ??= e
      this.current?.destroy()
      return
    }
    this.armTimer()
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }
}

/**
 * A dead letter is one JSON object per bad record, so `jq -r .raw` gives the lines back and the
 * reason travels with each: {"source", "line", "reason", "raw"}, and "raw_base64", the exact bytes,
 * when the line is not UTF-8 (JSON text cannot hold them). A record found bad by a stage (a
 * missing key) has its original line as raw. Written through the job's one dead-letter sink, whose
 * committed length the checkpoints record.
 */
export function deadLetter(pos: Position, raw: string, reason: string, bytes?: Uint8Array): string {
  const letter: { source: string; line: number | null; reason: string; raw: string; raw_base64?: string } = {
    source: pos.source,
    line: pos.line > 0 ? pos.line : null, // line 0 is in no input
    reason,
    raw,
  }
  if (bytes) letter.raw_base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  return JSON.stringify(letter)
}
