// Lines to batches of projected records: for jobs whose stages name every field they read
// (pipeline/fields.ts), a chunk of input becomes one batch holding each record's bytes, line
// number and the values of only those fields, read by the projecting scanner (project.ts) where
// it can and by JSON.parse where it declines (which also names what is wrong with a bad line).
// The parse worker (parse-worker.ts) makes batches on the second core; the driver makes them on
// the main thread for stdin, FIFOs and small files. Either way the driver consumes them alike.
//
// Lines follow io/splitter.ts exactly: split on LF, one CR before it stripped, blank lines (space,
// tab, CR) skipped but counted, an unterminated last line kept, a line that is not UTF-8 reported.
import { isAscii, isUtf8 } from 'node:buffer'
import { TOO_DEEP, nestedTooDeep } from './nesting.js'
import { DEFAULT_MAX_LINE_BYTES, PREFIX_BYTES, PendingLine, bomLength, tooLong } from './pending-line.js'
import { Projector } from './project.js'

export interface ParsedBatch {
  source: string
  /** The batch's lines, all ASCII: record i is bytes[starts[i], ends[i]). */
  bytes?: Uint8Array
  starts?: Int32Array
  ends?: Int32Array
  /** The records' texts, where the batch is not all ASCII (byte offsets are not string offsets). */
  raws?: string[]
  /** line number of each record */
  lines: Float64Array
  /** one column per wanted field; undefined where the record has no such own field */
  cols: unknown[][]
  /** index in the batch → why the line is bad input (not UTF-8, or JSON.parse's message) */
  bad: Record<number, string>
  /** index in the batch → the bytes of a bad line that is not UTF-8, for a lossless dead letter */
  badBytes?: Record<number, Uint8Array>
  /** index in the batch → the whole value of a record that is JSON but not an object (absent when none is) */
  whole?: Record<number, unknown>
  /** Where the input stands after this batch, for checkpoints: bytes and lines consumed. */
  endOffset?: number
  endLine?: number
}

const hasOwn = Object.prototype.hasOwnProperty

/**
 * The projector of the last batcher made, for the next one that wants the same fields: a job
 * reads its inputs one after the other with one set of fields, and a projector's tables (its
 * recent texts, 64k slots) cost more to make than a small file costs to read (5,000 files of 10
 * lines took 4.8 s against 0.6 s through cat). What it keeps across lines, the recent texts and
 * each field's last number, gives the same values whichever input a line is in.
 */
let lastProjector: { fields: string; presenceOnly: boolean; projector: Projector } | undefined
function projectorFor(fields: string[], presenceOnly: boolean): Projector {
  const names = fields.join('\0')
  if (lastProjector?.fields === names && lastProjector.presenceOnly === presenceOnly) return lastProjector.projector
  const projector = new Projector(fields, undefined, presenceOnly)
  lastProjector = { fields: names, presenceOnly, projector }
  return projector
}

/**
 * Makes batches from chunks of one input. A line cut between chunks is kept as a copy, so the
 * caller may reuse its chunk buffer; a batch refers to the chunk's bytes until it is consumed.
 */
export class LineBatcher {
  private readonly projector: Projector
  private readonly values: unknown[]
  /** the start of a line whose end is not read yet, bounded by --max-line-bytes, as copies */
  private readonly pending: PendingLine
  /** the first bytes of a line too long, whose end was just read: the next batch's first record */
  private overlong: Buffer | undefined
  /** lines seen so far, blank ones included */
  lineNo = 0
  /** bytes of the input up to the end of the last whole line seen: where a resumed run starts */
  offset = 0
  /** bytes fed after `offset`: the start of a line whose end is not read yet */
  private pendingBytes = 0
  /** Bytes of an unterminated line read so far (a line whose LF has not come). */
  get partialBytes(): number {
    return this.pendingBytes
  }

  constructor(
    private readonly fields: string[],
    private readonly source: string,
    start?: { offset: number; line: number },
    maxLineBytes = DEFAULT_MAX_LINE_BYTES,
    /** only whether each record has the fields is wanted (Projector's presenceOnly) */
    presenceOnly = false,
  ) {
    if (start) {
      this.offset = start.offset
      this.lineNo = start.line
    }
    this.projector = projectorFor(fields, presenceOnly)
    this.values = new Array<unknown>(fields.length)
    this.pending = new PendingLine(maxLineBytes, true)
  }

  /** The whole lines the chunk completes, as a batch (undefined if none). */
  feed(chunk: Buffer): ParsedBatch | undefined {
    const lastNl = chunk.lastIndexOf(10)
    if (lastNl < 0) {
      this.pending.add(chunk)
      this.pendingBytes += chunk.length
      return undefined
    }
    this.offset += this.pendingBytes + lastNl + 1
    this.pendingBytes = chunk.length - lastNl - 1
    let region: Buffer
    if (this.pending.overlong) {
      // the line too long ends at the chunk's first LF; the lines after it are read as usual
      this.takePending(EMPTY)
      region = chunk.subarray(chunk.indexOf(10) + 1, lastNl + 1)
    } else region = this.takePending(chunk.subarray(0, lastNl + 1))
    const batch = this.batch(region, region.length)
    if (lastNl + 1 < chunk.length) this.pending.add(chunk.subarray(lastNl + 1))
    return this.positioned(batch)
  }

  /** The pending line completed by `end`: its bytes, or, when too long, none (noted in `overlong`). */
  private takePending(end: Buffer): Buffer {
    const line = this.pending.take(end)
    if (!line.overlong) return line.bytes
    this.overlong = line.prefix
    return EMPTY
  }

  private positioned(batch: ParsedBatch | undefined): ParsedBatch | undefined {
    if (batch) {
      batch.endOffset = this.offset
      batch.endLine = this.lineNo
    }
    return batch
  }

  /** The input ended: an unterminated last line is still a line. */
  finish(): ParsedBatch | undefined {
    if (this.pending.empty) return undefined
    this.offset += this.pendingBytes
    this.pendingBytes = 0
    const rest = this.takePending(EMPTY)
    return this.positioned(this.batch(rest, rest.length))
  }

  /** Splits buf[0, len), which ends at a line end or at the end of the input, into a batch. */
  batch(buf: Buffer, len: number): ParsedBatch | undefined {
    const fields = this.fields
    const nf = fields.length
    const values = this.values
    const region = buf.subarray(0, len)
    // line 1 of the input starts here (not after a line too long, which was line 1 itself)
    const first = this.lineNo === 0 && this.overlong === undefined ? bomLength(buf, 0, len) : 0
    const ascii = isAscii(region.subarray(first))
    const utf8 = ascii || isUtf8(region.subarray(first))
    const starts: number[] = []
    const ends: number[] = []
    const lines: number[] = []
    // a line too long is kept as its first bytes, which only a batch of texts can hold
    const overlong = this.overlong
    const raws: string[] | undefined = ascii && overlong === undefined ? undefined : []
    const cols: unknown[][] = fields.map(() => [])
    const bad: Record<number, string> = {}
    const max = this.pending.max
    if (overlong !== undefined) {
      this.overlong = undefined
      lines.push(++this.lineNo)
      starts.push(0)
      ends.push(0)
      raws!.push(overlong.subarray(this.lineNo === 1 ? bomLength(overlong) : 0).toString('utf8'))
      bad[0] = tooLong(max)
      for (let f = 0; f < nf; f++) cols[f]!.push(undefined)
    }
    let whole: Record<number, unknown> | undefined
    let badBytes: Record<number, Uint8Array> | undefined
    let s = first
    while (s < len) {
      let nl = buf.indexOf(10, s)
      if (nl < 0 || nl >= len) nl = len
      let e = nl
      this.lineNo++
      if (e > s && buf[e - 1] === 13) e--
      if (e > s && !isBlank(buf, s, e)) {
        const i = lines.length
        lines.push(this.lineNo)
        const long = e - s > max
        if (long) e = Math.min(e, s + PREFIX_BYTES) // what the dead letters get of it
        starts.push(s)
        ends.push(e)
        const lineOk = utf8 || isUtf8(buf.subarray(s, e))
        if (raws) raws.push(buf.toString('utf8', s, e))
        // the projector declines what nests deeper than it tracks: only such lines need the check
        const read = long
          ? tooLong(max)
          : !lineOk
            ? 'not valid UTF-8'
            : this.projector.project(buf, s, e, values)
              ? undefined
              : nestedTooDeep(buf, s, e)
                ? TOO_DEEP
                : parse(buf, s, e)
        // a copy: the chunk buffer is reused once the batch is made
        if (!lineOk && !long) (badBytes ??= {})[i] = Uint8Array.from(buf.subarray(s, e))
        if (read === undefined) {
          for (let f = 0; f < nf; f++) cols[f]!.push(values[f])
        } else if (typeof read === 'string') {
          bad[i] = read
          for (let f = 0; f < nf; f++) cols[f]!.push(undefined)
        } else {
          // declined, and JSON.parse read it
          const r = read.value
          const obj = r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined
          if (!obj) (whole ??= {})[i] = r // a stage sees it as it is, as without projection
          for (let f = 0; f < nf; f++) cols[f]!.push(obj && hasOwn.call(obj, fields[f]!) ? obj[fields[f]!] : undefined)
        }
      }
      s = nl + 1
    }
    if (lines.length === 0) return undefined
    const batch: ParsedBatch = { source: this.source, lines: Float64Array.from(lines), cols, bad }
    if (whole) batch.whole = whole
    if (badBytes) batch.badBytes = badBytes
    if (!raws) {
      batch.bytes = region
      batch.starts = Int32Array.from(starts)
      batch.ends = Int32Array.from(ends)
    } else batch.raws = raws
    return batch
  }
}

/** JSON.parse of a line the projector declined: its value, or what is wrong with it. */
function parse(buf: Buffer, s: number, e: number): { value: unknown } | string {
  try {
    return { value: JSON.parse(buf.toString('utf8', s, e)) }
  } catch (err) {
    return `malformed JSON: ${(err as Error).message}`
  }
}

const EMPTY = Buffer.alloc(0)

function isBlank(buf: Buffer, s: number, e: number): boolean {
  const c = buf[s]!
  if (c !== 32 && c !== 9 && c !== 13) return false // the common case: a line starting with '{'
  for (let i = s; i < e; i++) {
    const d = buf[i]!
    if (d !== 32 && d !== 9 && d !== 13) return false
  }
  return true
}
