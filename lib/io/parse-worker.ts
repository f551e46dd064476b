// Runs in a worker thread: reads input files and turns them into batches of projected records
// (batches.ts: each record's bytes, line number and the few fields the job reads), so that reading
// and parsing, most of the cost of a keyed windowed job, run on the second core.
//
// The bytes of a batch travel as a transferred buffer, not a string per record: the main thread
// decodes the batch once and takes each record's text as a slice of it.
//
// Backpressure: the main thread acknowledges each batch once it has processed it and its output
// has drained; the worker keeps at most CREDITS batches unacknowledged. The acknowledgements are a
// count in shared memory, not messages: a postMessage('ack') took 70 µs of the main thread on the
// 10k-key bench and 320 µs on a million keys (1.3 s of a 27 s run), where Atomics.add and notify
// take about one.
import { parentPort, workerData } from 'node:worker_threads'
import { closeSync, openSync, readSync } from 'node:fs'
import { LineBatcher, type ParsedBatch } from './batches.js'

export type WorkerMessage =
  | { batch: ParsedBatch; input: number }
  | { inputDone: number; offset: number; line: number }
  | { error: string; source: string }
  | { done: true }

export interface WorkerInput {
  paths: string[]
  fields: string[]
  /** where each input starts (a resumed job), by index; absent: from its beginning */
  starts?: ({ offset: number; line: number; done: boolean } | undefined)[]
  /** leave the last input's unterminated last line for a later run (--no-flush, decisions.md 20) */
  keepPartialLast?: boolean
  /** --max-line-bytes */
  maxLineBytes?: number
  /** batches the worker may still send: the main thread adds one per batch it is done with (acknowledge) */
  credits: Int32Array
}

/** Batches in flight at most. */
export const CREDITS = 4

/** The main thread is done with a batch: the worker may send another. */
export function acknowledge(credits: Int32Array, n = 1): void {
  Atomics.add(credits, 0, n)
  Atomics.notify(credits, 0)
}

// 64 KiB of input per batch (about 500 records of the bench): its decoded text stays below V8's
// large-object size (128 KiB), and four in flight keep little memory busy.
const CHUNK = 64 << 10

if (parentPort) {
  const port = parentPort
  const { paths, fields, starts, keepPartialLast, maxLineBytes, credits } = workerData as WorkerInput

  const send = async (batch: ParsedBatch | undefined, input: number) => {
    if (!batch) return
    // this thread has nothing else to do meanwhile; a bounded wait lets terminate() in between
    while (Atomics.load(credits, 0) <= 0) Atomics.wait(credits, 0, Atomics.load(credits, 0), 100)
    Atomics.sub(credits, 0, 1)
    if (!batch.bytes) return port.postMessage({ batch, input } satisfies WorkerMessage)
    // the batch's bytes are a view of the read buffer, which is reused: send a copy of its own
    const own = new Uint8Array(batch.bytes.length)
    own.set(batch.bytes)
    batch.bytes = own
    port.postMessage({ batch, input } satisfies WorkerMessage, [own.buffer])
  }

  // one read buffer for every input: a batch sends a copy of its bytes (send)
  const buf = Buffer.allocUnsafeSlow(CHUNK)
  const readFile = async (path: string, input: number) => {
    // Synchronous reads: they block this thread only, which waits for nothing else meanwhile
    // (acknowledgements are taken while it waits for credits, and terminate() stops it between
    // reads). Each asynchronous open, read and close went through the thread pool and back: 5,000
    // files of 100 lines took 4.1 s against 0.9 s for the same lines in one file (here, under
    // load, an open-read-read-close took 0.4 ms that way and 10 µs synchronously).
    const start = starts?.[input]
    if (start?.done) return
    const fd = openSync(path, 'r')
    try {
      const batcher = new LineBatcher(fields, path, start, maxLineBytes)
      let at = start?.offset ?? 0
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, at)
        if (n === 0) break
        at += n
        await send(batcher.feed(buf.subarray(0, n)), input)
      }
      if (keepPartialLast && input === paths.length - 1) return
      await send(batcher.finish(), input)
      port.postMessage({ inputDone: input, offset: batcher.offset, line: batcher.lineNo } satisfies WorkerMessage)
    } finally {
      closeSync(fd)
    }
  }

  const run = async () => {
    for (const [input, path] of paths.entries()) {
      try {
        await readFile(path, input)
      } catch (e) {
        port.postMessage({ error: (e as Error).message, source: path } satisfies WorkerMessage)
        return
      }
    }
    port.postMessage({ done: true } satisfies WorkerMessage)
  }
  void run()
}
