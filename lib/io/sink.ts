// Line sinks: stdout or a file. Lines are gathered per batch and written with one write() call;
// the driver waits for 'drain' before reading more (backpressure). EPIPE on stdout means the
// reader stopped reading (`| head -1`): the sink reports it as closed and the job ends quietly.
import { createWriteStream, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Writable } from 'node:stream'
import { WeirError } from '../stream/errors.js'

export class LineSink {
  private batch = ''
  /** Set when the reader of stdout went away. */
  closedByReader = false
  private failure: WeirError | undefined
  lines = 0

  private constructor(
    readonly name: string,
    private readonly stream: Writable,
    private readonly ownsStream: boolean,
  ) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' && !ownsStream) this.closedByReader = true
      else this.failure ??= new WeirError('io', `${name}: write failed: ${e.message}`)
    })
  }

  static stdout(): LineSink {
    return new LineSink('stdout', process.stdout, false)
  }

  /** Opens FILE for writing (truncating it), creating its directory. Fails with 'cant-create'. */
  static async file(path: string): Promise<LineSink> {
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch (e) {
      throw new WeirError('cant-create', `${path}: cannot create directory: ${(e as Error).message}`)
    }
    const stream = createWriteStream(path)
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', (e) => reject(new WeirError('cant-create', `${path}: cannot create: ${e.message}`)))
    })
    return new LineSink(path, stream, true)
  }

  push(line: string): void {
    this.batch += line + '\n'
    this.lines++
  }

  /** Writes the batch. Returns false when the caller should wait for drain(). */
  flush(): boolean {
    if (this.failure) throw this.failure
    if (this.batch === '' || this.closedByReader) return true
    const b = this.batch
    this.batch = ''
    return this.stream.write(b)
  }

  drain(): Promise<void> {
    if (this.closedByReader || !this.stream.writableNeedDrain) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done)
        this.stream.off('error', done)
        resolve()
      }
      this.stream.on('drain', done)
      this.stream.on('error', done)
    })
  }

  /** Flushes and, for files, closes. Never ends process.stdout: Node flushes it before exit. */
  async close(): Promise<void> {
    this.flush()
    if (this.ownsStream) {
      await new Promise<void>((resolve) => this.stream.end(resolve))
    } else if (!this.closedByReader) {
      await new Promise<void>((resolve) => this.stream.write('', () => resolve()))
    }
    if (this.failure) throw this.failure
  }
}
