// The side channel between weir processes (man/weir-protocol.7). A pipe carries plain NDJSON and
// nothing else; what the next weir stage needs beside the records (the key, an open window,
// watermarks, panes, end or stop) travels in a file named after the pipe's identity (device and
// inode, which both ends see in fstat). The writer creates it as it starts, and gives it its
// header before its first byte (provisionalChannel); entries are
// indexed by output line number and each is in the file before the line after it is in the pipe,
// so a reader that has seen line k + 1, or EOF, finds every entry up to k: the pipe itself orders
// the two, with no timeout (decisions.md 15). The reader decides: a weir stage whose stdin has a
// channel continues the stream, one without (a file, a terminal, a foreign program) starts anew.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WeirError } from '../../stream/errors.js'

/**
 * The protocol version. A reader reads channels of its version and older; a newer one is refused
 * with a message naming both. Entry fields a reader does not know are ignored, so a version only
 * changes when an old reader would misread.
 */
export const CHANNEL_VERSION = 1

export interface ChannelHeader {
  weir: 'channel'
  version: number
  /** the writing process */
  pid: number
  /** the command line of every weir stage upstream, first to last (the writer's own last) */
  stages: string[]
  /** the stream's context after the writer's stages (pipeline/build.ts StreamContext, as JSON) */
  context: unknown
  /** the process id of every weir stage upstream, as `stages` (a completing stage waits for live ones only) */
  pids?: number[]
  /** the durable job the chain runs as, when its first stage has a job dir (man/weir-protocol.7, JOBS) */
  job?: ChainJob
}

/**
 * A pipe chain's durable job, as its first stage decided it: every later stage keeps its state in
 * the same job dir under its own place in the chain, and restores the same checkpoint.
 */
export interface ChainJob {
  /** the job dir, absolute */
  dir: string
  /** the writer's place in the chain: 0 for the first stage */
  stage: number
  /** the checkpoint every stage restores; absent on a fresh start */
  restore?: number
  /** the restored checkpoint ended the job and nothing was added: every stage has nothing to do */
  finished?: boolean
  /** restore a checkpoint of a chain whose stages changed (--allow-changed-pipeline on the first stage) */
  allowChangedPipeline?: boolean
}

/**
 * One entry, after `n` lines of output (before line n + 1). Exactly one of the other fields:
 * - wm: the watermark;
 * - pane: 'begin' | 'end', the edges of a window's firing;
 * - fmt: how window bounds are written on records ('ms', 's', 'iso'), once known;
 * - key, win: the key values and window of line n + 1, when they cannot be found from its bytes;
 * - barrier: a checkpoint's barrier after line n: each stage snapshots its state there and passes
 *   it on; `final` marks the last one, which a stage takes after the end or stop that follows;
 * - end: the stream is complete (n lines); stop: it stopped without draining, with the reason.
 */
export interface ChannelEntry {
  n: number
  wm?: number
  pane?: 'begin' | 'end'
  fmt?: string
  key?: readonly unknown[]
  /** with `key`: the digits of its integer values beyond 2^53, which a JSON number would round, by position (null elsewhere) */
  kt?: (string | null)[]
  win?: [number, number]
  barrier?: number
  final?: true
  end?: true
  stop?: string
  /**
   * Where line n+1 came from: its input's name and its line there. The lines after it, until the
   * next such entry, came from the input lines after that one, one each, or with `step` 0 (rows a
   * stage made, named after the record last read before them) from that same line.
   */
  src?: string
  line?: number
  step?: 0
}

/**
 * The per-user folder of channels, mode 0700: $XDG_RUNTIME_DIR/weir, else weir-UID under the temp
 * folder. Another user's folder of that name is refused rather than trusted.
 */
export function channelDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR
  const uid = process.getuid?.() ?? 0
  const dir = runtime ? join(runtime, 'weir') : join(tmpdir(), `weir-${uid}`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = statSync(dir)
  if (st.uid !== uid || (st.mode & 0o077) !== 0)
    throw new WeirError('io', `${dir}: the side-channel folder must belong to you with mode 0700 (it has ${(st.mode & 0o777).toString(8)}); remove it`)
  return dir
}

const channelName = (dev: number, ino: number) => `pipe-${dev}-${ino}.ndjson`
const quietMarker = (channel: string) => channel.replace(/\.ndjson$/, '.quiet')

/** Whether a descriptor is a pipe (not a file, a terminal or a socket). */
export function isPipe(fd: number): boolean {
  return pipeOf(fd) !== undefined
}

/** The pipe on a descriptor, or undefined when it is not a pipe (a file, a terminal, a socket). */
function pipeOf(fd: number): { dev: number; ino: number } | undefined {
  try {
    const st = fstatSync(fd)
    return st.isFIFO() ? { dev: st.dev, ino: st.ino } : undefined
  } catch {
    return undefined
  }
}

/** Whether this process made the channel of its stdout's pipe (ChannelWriter.create). */
let madeChannel = false

/**
 * A stage that fails before making its channel (a usage error, a job dir refusing a changed
 * job) makes one now, with no end in it: the weir stage reading its pipe then exits 74 naming it,
 * as for a stage that died mid-stream, rather than reading an empty stream that looks complete
 * (`… | weir window … | weir aggregate … >> out` from cron, without pipefail). Nothing when stdout
 * is not a pipe, or the channel was made.
 */
export function channelOfFailedStage(commandLine: string): void {
  if (madeChannel) return
  try {
    ChannelWriter.create({ stages: [commandLine], context: {} })?.close()
  } catch {
    // the stage's own error is what matters: the reader then sees a plain empty stream
  }
}

/**
 * A stage whose stdout is a pipe makes its channel as it starts, before it waits for anything
 * (its own input's first byte, a lock, a module): a header with its command line, no context and
 * no entries, which create() replaces before the stage's first byte of output. A stage killed
 * (SIGKILL) while it has written nothing yet, a global or count window minutes into its input,
 * so leaves its reader a channel without an end, and the reader exits 74 naming it, rather than a
 * plain empty pipe that reads as an empty stream. Only a kill within node's start-up, before
 * weir runs, still leaves no channel. Nothing when stdout is not a pipe.
 */
export function provisionalChannel(commandLine: string): void {
  try {
    ChannelWriter.create({ stages: [commandLine], context: {} }, 1, false)?.close()
  } catch {
    // create() fails the same way when the stage writes its first byte, and says why then
  }
}

export class ChannelWriter {
  private pending = ''
  private written = 0

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  /**
   * When stdout is a pipe: replaces any old channel of that pipe atomically (temp file + rename)
   * with a header, before the first byte of output (decisions.md 26). Undefined otherwise.
   */
  static create(header: Omit<ChannelHeader, 'weir' | 'version' | 'pid'>, fd = 1, clean = true): ChannelWriter | undefined {
    const pipe = pipeOf(fd)
    if (!pipe) return undefined
    const dir = channelDir()
    const name = channelName(pipe.dev, pipe.ino)
    // (once per process is enough: the provisional channel leaves it to the real one)
    if (clean) removeStaleChannels(dir, name)
    const path = join(dir, name)
    const temp = `${path}.${process.pid}.tmp`
    const full: ChannelHeader = { weir: 'channel', version: CHANNEL_VERSION, pid: process.pid, ...header }
    writeFileSync(temp, JSON.stringify(full) + '\n', { mode: 0o600 })
    renameSync(temp, path)
    madeChannel = true
    return new ChannelWriter(path, openSync(path, 'a'))
  }

  /** Queues an entry; flush() writes the queue, and must run before the output it refers to. */
  add(entry: ChannelEntry): void {
    this.pending += JSON.stringify(entry) + '\n'
  }

  /** Writes queued entries (one write): call before handing output lines to the pipe. */
  flush(): void {
    if (this.pending === '') return
    const text = this.pending
    this.pending = ''
    this.written += Buffer.byteLength(text)
    writeSync(this.fd, text)
  }

  /** bytes of entries written (the benchmark reports them beside the stream's) */
  get bytes(): number {
    return this.written
  }

  /**
   * A weir reader opened the channel (it unlinks it on opening) and went away without saying it
   * stopped on purpose (its own reader closed: `weir … | weir … | head`): its EPIPE is a failure.
   */
  readerFailed(): boolean {
    if (existsSync(this.path)) return false
    const quiet = quietMarker(this.path)
    if (!existsSync(quiet)) return true
    try {
      unlinkSync(quiet)
    } catch {
      // gone already
    }
    return false
  }

  close(): void {
    this.flush()
    closeSync(this.fd)
  }
}

export class ChannelReader {
  private buf = ''
  private readonly queue: ChannelEntry[] = []
  private head = 0

  private constructor(
    readonly header: ChannelHeader,
    private readonly fd: number,
    rest: string,
    private readonly path: string,
  ) {
    this.buf = rest
    this.parse()
  }

  /**
   * The channel of the pipe on stdin, if a weir writer made one. Call it only once the pipe has
   * shown its first byte or EOF: a weir writer creates its channel before either. The channel is
   * unlinked once open (decisions.md 26): the writer may see that its reader is weir.
   */
  static open(fd = 0): ChannelReader | undefined {
    const pipe = pipeOf(fd)
    if (!pipe) return undefined
    const path = join(channelDir(), channelName(pipe.dev, pipe.ino))
    let cfd: number
    try {
      cfd = openSync(path, 'r')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new WeirError('io', `${path}: cannot open the side channel: ${(e as Error).message}`)
    }
    try {
      unlinkSync(path)
    } catch {
      // already gone: another reader of the same pipe took it, which weir does not support
    }
    const text = readAll(cfd)
    const nl = text.indexOf('\n')
    let header: ChannelHeader
    try {
      header = JSON.parse(text.slice(0, nl)) as ChannelHeader
    } catch {
      throw new WeirError('io', `${path}: the side channel's header is not JSON`)
    }
    if (header.weir !== 'channel' || typeof header.version !== 'number')
      throw new WeirError('io', `${path}: not a weir side channel`)
    if (header.version > CHANNEL_VERSION)
      throw new WeirError(
        'usage',
        `stdin: the weir stage before this one speaks side-channel version ${header.version}, this weir reads ${CHANNEL_VERSION} and older: use the same weir for every stage`,
      )
    return new ChannelReader(header, cfd, text.slice(nl + 1), path)
  }

  /** Reads what the writer has added since; entries become visible in order. */
  poll(): void {
    const more = readAll(this.fd)
    if (more === '') return
    this.buf += more
    this.parse()
  }

  /** The next entry, if it is in the file now. */
  peek(): ChannelEntry | undefined {
    return this.head < this.queue.length ? this.queue[this.head] : undefined
  }

  /** Whether an entry read but not yet taken matches. */
  holds(test: (e: ChannelEntry) => boolean): boolean {
    for (let i = this.head; i < this.queue.length; i++) if (test(this.queue[i]!)) return true
    return false
  }

  shift(): ChannelEntry | undefined {
    const e = this.peek()
    if (e === undefined) return undefined
    this.head++
    if (this.head > 4096) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    return e
  }

  close(): void {
    closeSync(this.fd)
  }

  /**
   * This stage stops reading on purpose (its own reader went away, as `| head` does): said before
   * the pipe closes, so the writer's broken pipe is quiet too (a marker beside the channel).
   */
  stoppingQuietly(): void {
    try {
      writeFileSync(quietMarker(this.path), '', { mode: 0o600 })
    } catch {
      // the writer will report a failure: noisier, not wrong
    }
  }

  private parse(): void {
    let start = 0
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n', start)) {
      const line = this.buf.slice(start, nl)
      start = nl + 1
      let e: ChannelEntry
      try {
        e = JSON.parse(line) as ChannelEntry
      } catch {
        throw new WeirError('io', `stdin: the side channel holds a line that is not JSON: ${line.slice(0, 80)}`)
      }
      this.queue.push(e)
    }
    // an entry being written is left for the next poll: only whole lines count
    this.buf = this.buf.slice(start)
  }
}

function readAll(fd: number): string {
  const chunks: Buffer[] = []
  const b = Buffer.allocUnsafe(1 << 16)
  for (;;) {
    const n = readSync(fd, b, 0, b.length, null)
    if (n <= 0) break
    chunks.push(Buffer.from(b.subarray(0, n)))
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Channels whose pipe no process holds any more (a reader that never came: `weir … | head`) are
 * removed by a later writer (decisions.md 26): a pipe's birth time reads 0, so age cannot tell.
 * Looking at every process's descriptors costs a few milliseconds, so it is done only when some
 * other channel is there.
 */
function removeStaleChannels(dir: string, mine: string): void {
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n !== mine && n.startsWith('pipe-'))
  } catch {
    return
  }
  if (names.length === 0) return
  const held = new Set<string>()
  let procs: string[]
  try {
    procs = readdirSync('/proc').filter((p) => /^\d+$/.test(p))
  } catch {
    return // no /proc: leave them
  }
  for (const p of procs) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${p}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${p}/fd/${fd}`)
        if (target.startsWith('pipe:[')) held.add(target.slice(6, -1))
      } catch {
        // closed meanwhile
      }
    }
  }
  for (const n of names) {
    const m = /^pipe-(\d+)-(\d+)\.(?:ndjson(?:\.\d+\.tmp)?|quiet)$/.exec(n)
    if (!m || held.has(m[2]!)) continue
    try {
      unlinkSync(join(dir, n))
    } catch {
      // removed by another writer meanwhile
    }
  }
}
