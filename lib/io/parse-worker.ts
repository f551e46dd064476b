// Runs in a worker thread: reads input files, splits lines and reads from each record only the
// top-level fields the job's stages need (pipeline/fields.ts), and sends the main thread those
// values as columns with the batch's bytes. Parsing is most of the cost of a keyed windowed job;
// here it runs on the second core, and mostly without JSON.parse: the projecting scanner
// (project.ts) validates each line and extracts the fields in one pass, and JSON.parse decides
// only the lines it declines (malformed ones get JSON.parse's own message).
//
// The bytes of a batch travel as a transferred buffer, not a string per record: the main thread
// decodes the batch once and takes each record's text as a slice of it, only where it is needed.
// A batch with non-ASCII bytes sends its lines as strings instead, since its byte offsets are not
// string offsets.
//
// Lines follow io/splitter.ts exactly: split on LF, one CR before it stripped, blank lines (space,
// tab, CR) skipped but counted, an unterminated last line kept, a line that is not UTF-8 reported.
//
// Backpressure: the main thread acknowledges each batch once it has processed it and its output
// has drained; the worker keeps at most CREDITS batches unacknowledged.
import { parentPort, workerData } from 'node:worker_threads'
import { open } from 'node:fs/promises'
import { isAscii, isUtf8 } from 'node:buffer'
import { Projector } from './project.js'

export interface ParsedBatch {
  source: string
  /** The batch's lines, all ASCII: record i is bytes[starts[i], ends[i]). */
  bytes?: Uint8Array
  starts?: Int32Array
  ends?: Int32Array
  /** The records' texts, where the batch is not all ASCII. */
  raws?: string[]
  /** line number of each record */
  lines: Float64Array
  /** one column per wanted field; undefined where the record has no such own field */
  cols: unknown[][]
  /** index in the batch → why the line is bad input (not UTF-8, or JSON.parse's message) */
  bad: Record<number, string>
}

export type WorkerMessage = { batch: ParsedBatch } | { error: string; source: string } | { done: true }

export interface WorkerInput {
  paths: string[]
  fields: string[]
}

const CREDITS = 4
// 64 KiB of input per batch (about 500 records of the bench): its decoded text stays below V8's
// large-object size (128 KiB), and four in flight keep little memory busy.
const CHUNK = 64 << 10

if (parentPort) {
  const port = parentPort
  const { paths, fields } = workerData as WorkerInput
  let credits = CREDITS
  let wake: (() => void) | undefined
  port.on('message', (m) => {
    if (m === 'ack') {
      credits++
      wake?.()
      wake = undefined
    }
  })
  const nf = fields.length
  const projector = new Projector(fields)
  const hasOwn = Object.prototype.hasOwnProperty
  const values: unknown[] = new Array(nf)

  /** Splits buf[0, len) — whole lines only, the last one unterminated when `last` — into a batch. */
  function batchOf(source: string, buf: Buffer, len: number, firstLine: number): { batch: ParsedBatch; lineNo: number } {
    const region = buf.subarray(0, len)
    const ascii = isAscii(region)
    const utf8 = ascii || isUtf8(region)
    const starts: number[] = []
    const ends: number[] = []
    const lines: number[] = []
    const raws: string[] | undefined = ascii ? undefined : []
    const cols: unknown[][] = fields.map(() => [])
    const bad: Record<number, string> = {}
    let lineNo = firstLine
    let s = 0
    while (s < len) {
      let nl = buf.indexOf(10, s)
      if (nl < 0 || nl >= len) nl = len
      let e = nl
      lineNo++
      if (e > s && buf[e - 1] === 13) e--
      if (e > s && !isBlank(buf, s, e)) {
        const i = lines.length
        starts.push(s)
        ends.push(e)
        lines.push(lineNo)
        const lineOk = utf8 || isUtf8(buf.subarray(s, e))
        if (raws) raws.push(buf.toString('utf8', s, e))
        if (!lineOk) {
          bad[i] = 'not valid UTF-8'
          for (let f = 0; f < nf; f++) cols[f]!.push(undefined)
        } else if (projector.project(buf, s, e, values)) {
          for (let f = 0; f < nf; f++) cols[f]!.push(values[f])
        } else {
          // declined: JSON.parse decides, and names what is wrong
          let r: unknown
          try {
            r = JSON.parse(buf.toString('utf8', s, e))
          } catch (err) {
            bad[i] = `malformed JSON: ${(err as Error).message}`
            for (let f = 0; f < nf; f++) cols[f]!.push(undefined)
            s = nl + 1
            continue
          }
          const obj = r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined
          for (let f = 0; f < nf; f++) cols[f]!.push(obj && hasOwn.call(obj, fields[f]!) ? obj[fields[f]!] : undefined)
        }
      }
      s = nl + 1
    }
    const batch: ParsedBatch = { source, lines: Float64Array.from(lines), cols, bad }
    if (ascii) {
      batch.bytes = region
      batch.starts = Int32Array.from(starts)
      batch.ends = Int32Array.from(ends)
    } else batch.raws = raws
    return { batch, lineNo }
  }

  const send = async (batch: ParsedBatch) => {
    if (batch.lines.length === 0) return
    if (credits === 0) await new Promise<void>((r) => (wake = r))
    credits--
    port.postMessage({ batch } satisfies WorkerMessage, batch.bytes ? [batch.bytes.buffer as ArrayBuffer] : [])
  }

  const readFile = async (path: string) => {
    // Asynchronous reads: the worker keeps taking acknowledgements (and termination) while a read
    // is in flight.
    const file = await open(path, 'r')
    try {
      let lineNo = 0
      let carry: Buffer | undefined // the start of a line whose end is not read yet
      for (;;) {
        // a fresh buffer per batch: it is transferred to the main thread, not reused
        const size = Math.max(CHUNK, carry ? carry.length * 2 : 0)
        const buf = Buffer.allocUnsafeSlow(size)
        let filled = carry ? carry.copy(buf) : 0
        carry = undefined
        const n = (await file.read(buf, filled, size - filled, null)).bytesRead
        filled += n
        if (n === 0) {
          // the end: an unterminated last line is still a line
          if (filled > 0) await send(batchOf(path, buf, filled, lineNo).batch)
          return
        }
        const lastNl = buf.lastIndexOf(10, filled - 1)
        if (lastNl < 0) {
          carry = buf.subarray(0, filled) // no line ends here yet: read on into a larger buffer
          continue
        }
        if (lastNl + 1 < filled) carry = Buffer.from(buf.subarray(lastNl + 1, filled))
        const r = batchOf(path, buf, lastNl + 1, lineNo)
        lineNo = r.lineNo
        await send(r.batch)
      }
    } finally {
      await file.close()
    }
  }

  const run = async () => {
    for (const path of paths) {
      try {
        await readFile(path)
      } catch (e) {
        port.postMessage({ error: (e as Error).message, source: path } satisfies WorkerMessage)
        return
      }
    }
    port.postMessage({ done: true } satisfies WorkerMessage)
  }
  void run()
}

function isBlank(buf: Buffer, s: number, e: number): boolean {
  const c = buf[s]!
  if (c !== 32 && c !== 9 && c !== 13) return false // the common case: a line starting with '{'
  for (let i = s; i < e; i++) {
    const d = buf[i]!
    if (d !== 32 && d !== 9 && d !== 13) return false
  }
  return true
}
