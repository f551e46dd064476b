// Splits a byte stream into lines. Hand-written rather than the `ndjson` package's split stream:
// bench/ measures both (the package is a stream per stage with a callback per line; this is a
// loop over one decoded string per chunk). Each chunk is decoded once, up to its last newline, so
// a multi-byte character split across chunks is never cut. CRLF and blank lines are tolerated;
// line numbers count every line, blank ones included, so errors point at the right line.
//
// A record keeps its bytes, so a line that is not valid UTF-8 cannot be decoded without changing
// them: it is reported as bad input (`invalid`), never passed on with replacement characters.
// Checking a chunk is one native pass (buffer.isUtf8); only a chunk that fails is split by bytes.
import { isUtf8 } from 'node:buffer'
import { TOO_DEEP, nestedTooDeep } from './nesting.js'
import { DEFAULT_MAX_LINE_BYTES, PREFIX_BYTES, PendingLine, bomLength, prefixText, textTooLong, tooLong } from './pending-line.js'

/**
 * bad: why the line is bad input (not UTF-8, nested too deeply), when it is; bytes: the line's
 * bytes when they are not UTF-8 (text then has replacement characters), for a lossless dead letter
 */
export type LineHandler = (text: string, lineNo: number, bad?: string, bytes?: Buffer) => void

export class LineSplitter {
  /** the start of a line whose end is not read yet, bounded by --max-line-bytes */
  private readonly pending: PendingLine
  lineNo = 0
  /** bytes of the input up to the end of the last whole line seen: where a resumed run starts */
  offset = 0
  private pendingBytes = 0
  /** Bytes of an unterminated line read so far (a line whose LF has not come). */
  get partialBytes(): number {
    return this.pendingBytes
  }

  constructor(start?: { offset: number; line: number }, maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    if (start) {
      this.offset = start.offset
      this.lineNo = start.line
    }
    this.pending = new PendingLine(maxLineBytes, false)
  }

  feed(chunk: Buffer, onLine: LineHandler): void {
    const last = chunk.lastIndexOf(10)
    if (last < 0) {
      this.pending.add(chunk)
      this.pendingBytes += chunk.length
      return
    }
    this.offset += this.pendingBytes + last + 1
    this.pendingBytes = chunk.length - last - 1
    if (this.pending.overlong) {
      // the line too long ends at the chunk's first LF; the lines after it are read as usual
      const first = chunk.indexOf(10)
      this.emitTaken(EMPTY, onLine)
      if (first < last) this.emitBytes(chunk.subarray(first + 1, last), onLine)
    } else this.emitTaken(chunk.subarray(0, last), onLine)
    if (last + 1 < chunk.length) this.pending.add(chunk.subarray(last + 1))
  }

  /** The input ended: an unterminated last line is still a line. */
  finish(onLine: LineHandler): void {
    if (this.pending.empty) return
    this.offset += this.pendingBytes
    this.pendingBytes = 0
    this.emitTaken(EMPTY, onLine)
  }

  /** The pending line completed by `end` (and whole lines after it, when end holds LFs). */
  private emitTaken(end: Buffer, onLine: LineHandler): void {
    const line = this.pending.take(end)
    if (!line.overlong) return this.emitBytes(line.bytes, onLine)
    const prefix = this.lineNo === 0 ? line.prefix.subarray(bomLength(line.prefix)) : line.prefix
    this.lineNo++
    onLine(prefix.toString('utf8'), this.lineNo, tooLong(this.pending.max))
  }

  private emitBytes(bytes: Buffer, onLine: LineHandler): void {
    // line 1 of the input is next: its bytes start here, after any cut between chunks
    if (this.lineNo === 0) bytes = bytes.subarray(bomLength(bytes))
    if (isUtf8(bytes)) return this.emitLines(bytes.toString('utf8'), onLine)
    // some line is not UTF-8: go line by line, so the others are unaffected
    let start = 0
    for (;;) {
      const nl = bytes.indexOf(10, start)
      const line = bytes.subarray(start, nl < 0 ? bytes.length : nl)
      if (isUtf8(line)) this.emitLines(line.toString('utf8'), onLine)
      else {
        this.lineNo++
        const long = line.length > this.pending.max
        const kept = line.subarray(0, long ? PREFIX_BYTES : line.length)
        // a line too long is known by its first KiB, as text, on every path: no bytes for it
        if (long) onLine(kept.toString('utf8'), this.lineNo, tooLong(this.pending.max))
        else onLine(kept.toString('utf8'), this.lineNo, 'not valid UTF-8', Buffer.from(kept))
      }
      if (nl < 0) return
      start = nl + 1
    }
  }

  private emitLines(text: string, onLine: LineHandler): void {
    const max = this.pending.max
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      let end = nl < 0 ? text.length : nl
      if (end > start && text.charCodeAt(end - 1) === 13) end--
      this.lineNo++
      if (end > start && !isBlank(text, start, end)) {
        if (textTooLong(text, start, end, max)) onLine(prefixText(text, start, end), this.lineNo, tooLong(max))
        else onLine(text.slice(start, end), this.lineNo, nestedTooDeep(text, start, end) ? TOO_DEEP : undefined)
      }
      if (nl < 0) return
      start = nl + 1
    }
  }
}

const EMPTY = Buffer.alloc(0)

function isBlank(text: string, start: number, end: number): boolean {
  const c = text.charCodeAt(start)
  if (c !== 32 && c !== 9 && c !== 13) return false // the common case: a line starting with '{'
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i)
    if (d !== 32 && d !== 9 && d !== 13) return false
  }
  return true
}
