// stdout when it is a pipe, written by blocking write() calls on libuv's thread pool (fs.writev)
// instead of through process.stdout, which makes the pipe non-blocking and writes it from the
// event loop. A stage of a chain spends its time computing: with process.stdout its queued output
// reached the pipe only when the loop next turned, so the 64 KiB the kernel holds ran dry and the
// next stage waited while this one computed. A thread blocked in writev() refills the pipe the
// moment its reader takes from it, and each call takes everything queued since the last one
// (_writev), so the loop is needed once per call, not once per batch.
//
// fd 1 is blocking as the shell made it unless something set O_NONBLOCK on the pipe: Node does on
// opening process.stdout or process.stderr there (weir's own stderr, with `2>&1`), and so may any
// process sharing the pipe. writev() then fails with EAGAIN, and the rest goes through
// process.stdout, which waits for the pipe to take it.
import { writev } from 'node:fs'
import { Writable } from 'node:stream'

type Done = (e?: Error | null) => void

/** The one there is, once made: what runs after stdout has drained must wait for it too. */
let current: PipeStdout | undefined

/**
 * Calls `done` once everything written to stdout so far has reached it, through this writer or
 * process.stdout, whichever the job used (decisions.md 14: no exit while output is pending).
 */
export function afterStdout(done: () => void): void {
  if (current && !current.destroyed) current.write('', () => done())
  else process.stdout.write('', () => done())
}

export class PipeStdout extends Writable {
  private fallback: Writable | undefined

  constructor() {
    super()
    current = this
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: Done): void {
    this.writeAll([chunk], done)
  }

  override _writev(chunks: { chunk: Buffer }[], done: Done): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      done,
    )
  }

  private writeAll(buffers: Buffer[], done: Done): void {
    if (this.fallback) return this.writeThrough(buffers, done)
    const rest = buffers.filter((b) => b.length > 0)
    if (rest.length === 0) return done()
    writev(1, rest, null, (e, n) => {
      if (e && e.code !== 'EAGAIN') return done(e)
      if (e) {
        // the callback gets the error; the stream's own 'error' event must not go unheard
        this.fallback = process.stdout
        this.fallback.on('error', () => {})
        return this.writeThrough(rest, done)
      }
      // a write may take less than all (a signal): what it took goes, the rest is written again
      while (rest.length > 0 && n >= rest[0]!.length) n -= rest.shift()!.length
      if (rest.length > 0 && n > 0) rest[0] = rest[0]!.subarray(n)
      this.writeAll(rest, done)
    })
  }

  private writeThrough(buffers: Buffer[], done: Done): void {
    const last = buffers.length - 1
    if (last < 0) return done()
    for (let i = 0; i < last; i++) this.fallback!.write(buffers[i])
    this.fallback!.write(buffers[last], done)
  }
}
