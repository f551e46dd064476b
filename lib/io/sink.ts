// Line sinks: stdout or a file. Lines are gathered per batch and written with one write() call;
// the driver waits for 'drain' before reading more (backpressure). EPIPE on stdout means the
// reader stopped reading (`| head -1`): the sink reports it as closed and the job ends quietly.
//
// For checkpoints a sink knows its length: where its file began for this job (`base`, never cut)
// and how many bytes it has written since, so a barrier can record a committed length, and
// `sync()` makes everything up to it durable. A resumed job reopens the file cut back to the
// committed length of its checkpoint (decisions.md 19 and 29).
import { createWriteStream, fstatSync, fsync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { dirname } from 'node:path'
import type { Writable } from 'node:stream'
import { WeirError, systemMessage } from '../stream/errors.js'
import { PipeStdout } from './pipe-stdout.js'
import { firstEvent } from './events.js'

export const STDOUT = 'stdout'

/**
 * A batch this long (UTF-16 units) is written before the batch ends. One watermark can fire a
 * window over a million keys within one batch, and its rows, gathered as one string, took over a
 * hundred megabytes of heap: with state in LMDB the rows were what the heap bound did not cover.
 */
const EARLY_WRITE_CHARS = 1 << 20

/**
 * Output bytes stdout may have queued, when it is a pipe, before the driver stops reading (its
 * `queueBudget`); reading starts again once a quarter is left. Waiting for Node's 'drain' instead
 * (16 KiB of high-water mark) stopped a pipe stage after nearly every batch until its reader had
 * emptied the queue, so the stages of a chain took turns more than they ran side by side: a 64 KiB
 * kernel pipe holds less than one batch. This is the buffer the pipe lacks, and memory stays
 * bounded by it (plus one batch). The 3-stage bench chain, against 256 KiB, 512 KiB and 1 MiB:
 * 0.93x, 0.95x, 0.97x the time (9 pairs each).
 *
 * Not for a chain with checkpoints: a checkpoint completes once its barrier has passed every
 * stage, so data queued between stages delays it, as Flink's buffer debloating says; a stage of
 * such a chain keeps to what the pipe holds, and its checkpoints come as often as before.
 */
export const PIPE_QUEUE_BUDGET = 1 << 21

/** What a checkpoint recorded of a sink, as a resume needs it. */
export interface SinkResume {
  ino: number
  base: number
  committed: number
  checkpoint: number
}

export class LineSink {
  private batch = ''
  /**
   * Lines pushed as bytes (pushBytes), in order before `batch`: a stage that forwards records
   * unchanged writes its input's bytes without decoding them into strings and encoding them again.
   */
  private chunks: Uint8Array[] = []
  /** the one chunk there is was pushed as the caller's own (pushBytes `own`) */
  private chunksOwn = false
  private chunkBytes = 0
  /** Set when the reader of stdout went away. */
  closedByReader = false
  private failure: WeirError | undefined
  lines = 0
  /** lines pushed since the last write */
  private batchLines = 0
  /** Told how many lines each write took, once it completed without error (`--stats` linesWritten). */
  onWritten: ((lines: number) => void) | undefined
  /** Runs before each write: the side channel's entries go out before the lines they precede. */
  beforeWrite: (() => void) | undefined
  /** bytes handed to write() by this run */
  private bytes = 0
  private writesIssued = 0
  private writesDone = 0
  private waiters: { upTo: number; resolve: () => void }[] = []
  /**
   * Bytes that may be queued before flush() asks the caller to wait (PIPE_QUEUE_BUDGET); 0: as
   * the stream says (its high-water mark, and its 'drain').
   */
  queueBudget = 0
  /** drain()'s promise and its resolve, settled by the write that brings the queue down */
  private drained: Promise<void> | undefined
  private draining: (() => void) | undefined

  private constructor(
    readonly name: string,
    private readonly stream: Writable,
    private readonly ownsStream: boolean,
    /** the file descriptor to fsync, when the sink is a regular file */
    private readonly fd: number | undefined,
    readonly dev: number,
    readonly ino: number,
    /** where this job's bytes begin in the file: nothing below is ever cut */
    readonly base: number,
    /** the file's length when this run opened it (after any cut) */
    private readonly start: number,
  ) {
    stream.on('error', (e: NodeJS.ErrnoException) => this.noteError(e))
  }

  /**
   * A write error, from the 'error' event or a write's callback, whichever comes first: a file
   * stream calls end()'s callback before it emits 'error', so close() would miss a failure known
   * only to the event (the data lost, the exit 0 of issue 18).
   */
  private noteError(e: NodeJS.ErrnoException | null | undefined): void {
    if (!e) return
    if (e.code === 'EPIPE' && !this.ownsStream) this.closedByReader = true
    else this.failure ??= new WeirError('io', `${this.name}: write failed: ${systemMessage(e)}`)
  }

  /**
   * stdout. When it is a regular file (`> out`, `>> out`) it is a file sink like any other and can
   * be exactly-once; a pipe or a terminal cannot be made durable (decisions.md 28).
   */
  static stdout(resume?: SinkResume): LineSink {
    let st: Stats | undefined
    try {
      st = fstatSync(1)
    } catch {
      st = undefined
    }
    if (!st || !st.isFile()) return new LineSink(STDOUT, st?.isFIFO() ? new PipeStdout() : process.stdout, false, undefined, st?.dev ?? 0, st?.ino ?? 0, 0, 0)
    let base = st.size
    let start = st.size
    if (resume && resume.ino === st.ino) {
      // '>' emptied the file before weir started: say so, rather than that it is too short
      if (resume.committed > 0 && !stdoutAppends())
        throw new WeirError(
          'cant-create',
          `stdout: checkpoint ${resume.checkpoint} committed ${resume.committed} bytes of this file, and '>' empties it: resume with '>>'`,
        )
      checkLength(STDOUT, st.size, resume)
      ftruncateSync(1, resume.committed)
      base = resume.base
      start = resume.committed
    }
    return new LineSink(STDOUT, process.stdout, false, 1, st.dev, st.ino, base, start)
  }

  /**
   * Opens FILE for writing, creating its directory. A fresh job writes it from scratch; a resumed
   * one cuts it back to the committed length and appends. Fails with 'cant-create'.
   */
  static async file(path: string, resume?: SinkResume, onRotated?: (message: string) => void): Promise<LineSink> {
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch (e) {
      throw new WeirError('cant-create', `${path}: cannot create directory: ${(e as Error).message}`)
    }
    let fd: number
    let base = 0
    let start = 0
    try {
      const existing = resume ? statOrUndefined(path) : undefined
      if (resume && existing && existing.ino === resume.ino) {
        checkLength(path, existing.size, resume)
        fd = openSync(path, 'a')
        ftruncateSync(fd, resume.committed)
        base = resume.base
        start = resume.committed
      } else {
        // Another file by that name. Rotated away and gone, or left empty (logrotate's create): a
        // new file starts. Anything else (a copy put in its place, a restored backup) may hold the
        // committed lines, and writing it from scratch would erase them: refused.
        if (resume && existing && existing.size > 0)
          throw new WeirError(
            'cant-create',
            `${path}: not the file checkpoint ${resume.checkpoint} wrote (another file by that name: copied or replaced), and not empty: resuming would overwrite it. Move it away to start a new file, or put the original back`,
          )
        if (resume && resume.committed > resume.base)
          onRotated?.(`${path}: not the file checkpoint ${resume.checkpoint} wrote (rotated away or replaced by an empty one): writing it from scratch`)
        fd = openSync(path, 'w')
      }
    } catch (e) {
      if (e instanceof WeirError) throw e
      throw new WeirError('cant-create', `${path}: cannot create: ${(e as Error).message}`)
    }
    const st = fstatSync(fd)
    const stream = createWriteStream('', { fd, autoClose: true })
    return new LineSink(path, stream, true, st.isFile() ? fd : undefined, st.dev, st.ino, base, start)
  }

  push(line: string): void {
    this.batch += line + '\n'
    this.lines++
    this.batchLines++
    if (this.batch.length >= EARLY_WRITE_CHARS) this.writeEarly()
  }

  /**
   * `lines` whole lines as UTF-8 bytes, each ending in LF. The bytes are copied before the batch
   * is written (at its end or when it is long), so the caller's buffer need live only until then;
   * `own`: the caller never writes over them, so a batch of just these is written without a copy.
   */
  pushBytes(bytes: Uint8Array, lines: number, own = false): void {
    if (this.batch !== '') {
      this.chunks.push(Buffer.from(this.batch))
      this.chunkBytes += this.chunks[this.chunks.length - 1]!.length
      this.batch = ''
    }
    if (this.chunks.length === 0) this.chunksOwn = own
    this.chunks.push(bytes)
    this.chunkBytes += bytes.length
    this.lines += lines
    this.batchLines += lines
    if (this.chunkBytes >= EARLY_WRITE_CHARS) this.writeEarly()
  }

  /** What the batch holds, as one string or (with bytes pushed) one Buffer of its own, and empties it. */
  private takeBatch(): string | Buffer {
    let data: string | Buffer = this.batch
    if (this.chunks.length === 1 && this.batch === '' && this.chunksOwn) {
      const b = this.chunks[0]!
      data = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
      this.chunks = []
      this.chunkBytes = 0
    } else if (this.chunks.length > 0) {
      if (this.batch !== '') this.chunks.push(Buffer.from(this.batch))
      data = Buffer.concat(this.chunks) // a copy: the chunks may be the caller's buffers
      this.chunks = []
      this.chunkBytes = 0
    }
    this.batch = ''
    this.batchLines = 0
    return data
  }

  /**
   * Writes a long batch now. A regular file with no write in flight is written synchronously, at
   * the position the stream would write at, so the rows leave memory at once; otherwise the batch
   * joins the stream's queue (as a Buffer, off the heap), since a firing cannot wait for 'drain'.
   */
  private writeEarly(): void {
    if (this.failure || this.closedByReader) return // flush() reports or skips it
    if (this.fd === undefined || this.writesDone !== this.writesIssued) {
      this.flush()
      return
    }
    this.beforeWrite?.()
    const lines = this.batchLines
    const taken = this.takeBatch()
    const b = typeof taken === 'string' ? Buffer.from(taken) : taken
    this.bytes += b.length
    this.writesIssued++
    try {
      for (let at = 0; at < b.length; ) at += writeSync(this.fd, b, at, b.length - at)
    } catch (e) {
      this.written(e as Error, lines)
      return
    }
    this.written(null, lines)
  }

  /** Writes the batch. Returns false when the caller should wait for drain(): too much is queued. */
  flush(): boolean {
    if (this.failure) throw this.failure
    if ((this.batch === '' && this.chunks.length === 0) || this.closedByReader) return true
    this.beforeWrite?.()
    const lines = this.batchLines
    const b = this.takeBatch()
    this.bytes += typeof b === 'string' ? Buffer.byteLength(b) : b.length
    this.writesIssued++
    const below = this.stream.write(b, (e) => this.written(e, lines))
    return this.queueBudget > 0 ? this.stream.writableLength < this.queueBudget : below
  }

  private written(e: Error | null | undefined, lines: number): void {
    this.noteError(e)
    if (!e) this.onWritten?.(lines)
    this.writesDone++
    if (this.draining && (this.stream.writableLength <= this.queueBudget / 4 || this.closedByReader || this.failure)) {
      const resolve = this.draining
      this.draining = this.drained = undefined
      resolve()
    }
    if (this.waiters.length === 0) return
    const ready = this.waiters.filter((w) => w.upTo <= this.writesDone)
    this.waiters = this.waiters.filter((w) => w.upTo > this.writesDone)
    for (const w of ready) w.resolve()
  }

  /** The file's length once everything pushed so far is written (flush first). */
  length(): number {
    return this.start + this.bytes + this.chunkBytes + Buffer.byteLength(this.batch)
  }

  /**
   * Whether a write to a pipe is under way on a thread of its own (PipeStdout): its completion,
   * which starts the next write, waits for this thread's event loop to turn.
   */
  get writingToPipe(): boolean {
    return this.pipe && this.stream.writableLength > 0
  }

  /** Whether this is stdout and stdout is a pipe. */
  get pipe(): boolean {
    return this.stream instanceof PipeStdout
  }

  /** Whether sync() can make this sink durable: a regular file, not a pipe or a terminal. */
  get durable(): boolean {
    return this.fd !== undefined
  }

  /**
   * Flushes, waits until every write issued so far has reached the file, and fsyncs it.
   * Writes issued later may be synced too: more is durable, never less.
   */
  async sync(): Promise<void> {
    this.flush()
    const upTo = this.writesIssued
    if (this.writesDone < upTo) await new Promise<void>((resolve) => this.waiters.push({ upTo, resolve }))
    if (this.failure) throw this.failure
    if (this.fd === undefined) return
    const fd = this.fd
    await new Promise<void>((resolve, reject) =>
      fsync(fd, (e) => (e ? reject(new WeirError('io', `${this.name}: cannot make the output durable: ${systemMessage(e)}`)) : resolve())),
    )
  }

  /** Resolves once the queue is down to a quarter of its budget, or has drained (no budget); or the write failed, or the reader left. */
  drain(): Promise<void> {
    if (this.queueBudget === 0) {
      if (this.closedByReader || !this.stream.writableNeedDrain) return Promise.resolve()
      return firstEvent(this.stream, 'drain', 'error')
    }
    if (this.closedByReader || this.failure || this.stream.writableLength <= this.queueBudget / 4) return Promise.resolve()
    // every write's callback runs, with its error if it failed (a destroyed stream errors the
    // writes it still held), so the write that empties the queue or fails is the one to wait for
    return (this.drained ??= new Promise<void>((resolve) => (this.draining = resolve)))
  }

  /** Flushes and, for files, closes. Never ends process.stdout: Node flushes it before exit. */
  async close(): Promise<void> {
    this.flush()
    if (this.ownsStream) {
      await new Promise<void>((resolve) =>
        this.stream.end((e?: Error | null) => {
          this.noteError(e)
          resolve()
        }),
      )
    } else if (!this.closedByReader) {
      await new Promise<void>((resolve) =>
        this.stream.write('', (e) => {
          this.noteError(e)
          resolve()
        }),
      )
    }
    if (this.failure) throw this.failure
  }
}

/**
 * Refuses an output that is one of the inputs (the same device and inode, regular files only),
 * before anything is opened for writing: opening `-o in.ndjson` empties the input the job is about
 * to read, and an appended one would be read back forever. stdout counts when it is a regular file
 * (`> in.ndjson` has already emptied it, but `>>` has not). Exit 73, "the output cannot be
 * created", as for the other refusals of an output file (a '>' that emptied a checkpointed file):
 * the command line parses fine, it is this file that cannot be written; cat and sort -o refuse
 * the same case, and jq's and Miller's `> in` silently lose the input.
 */
export function refuseInputsAsOutputs(inputs: { name: string; path: string | 0 }[], outputs: { name: string; path: string | 1 }[]): void {
  const id = (st: Stats | undefined) => (st?.isFile() ? `${st.dev}:${st.ino}` : undefined)
  const stat = (p: string | number) => {
    try {
      return typeof p === 'number' ? fstatSync(p) : statSync(p)
    } catch {
      return undefined // missing: a new output, or an input checkInputs reports
    }
  }
  const inputIds = new Map<string, string>()
  for (const i of inputs) {
    const k = id(stat(i.path))
    if (k !== undefined && !inputIds.has(k)) inputIds.set(k, i.name)
  }
  for (const o of outputs) {
    const input = inputIds.get(id(stat(o.path)) ?? '')
    if (input !== undefined)
      throw new WeirError(
        'cant-create',
        `${o.name}: is also an input (${input}): writing it would empty or grow the input while it is read; write to another file, then rename it`,
      )
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/** A sink shorter than its committed length was changed outside weir: cutting would pad it with NULs. */
function checkLength(name: string, size: number, r: SinkResume): void {
  if (size < r.committed)
    throw new WeirError(
      'cant-create',
      `${name}: is ${size} bytes, but checkpoint ${r.checkpoint} committed ${r.committed}: it was changed outside weir; restore it or start a new job`,
    )
}

/** Whether fd 1 was opened with O_APPEND (`>>`), as /proc/self/fdinfo/1 tells (decisions.md 29). */
function stdoutAppends(): boolean {
  try {
    const m = /^flags:\s*([0-7]+)/m.exec(readFileSync('/proc/self/fdinfo/1', 'utf8'))
    return m !== null && (parseInt(m[1]!, 8) & 0o2000) !== 0
  } catch {
    return false
  }
}
