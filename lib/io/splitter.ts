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

/** bad: why the line is bad input (not UTF-8, nested too deeply), when it is */
export type LineHandler = (text: string, lineNo: number, bad?: string) => void

export class LineSplitter {
  private pieces: Buffer[] = []
  lineNo = 0
  /** bytes of the input up to the end of the last whole line seen: where a resumed run starts */
  offset = 0
  private pendingBytes = 0

  constructor(start?: { offset: number; line: number }) {
    if (start) {
      this.offset = start.offset
      this.lineNo = start.line
    }
  }

  feed(chunk: Buffer, onLine: LineHandler): void {
    const last = chunk.lastIndexOf(10)
    if (last < 0) {
      this.pieces.push(chunk)
      this.pendingBytes += chunk.length
      return
    }
    this.offset += this.pendingBytes + last + 1
    this.pendingBytes = chunk.length - last - 1
    let bytes: Buffer
    if (this.pieces.length > 0) {
      this.pieces.push(chunk.subarray(0, last))
      bytes = Buffer.concat(this.pieces)
      this.pieces = []
    } else {
      bytes = chunk.subarray(0, last)
    }
    if (last + 1 < chunk.length) this.pieces.push(chunk.subarray(last + 1))
    this.emitBytes(bytes, onLine)
  }

  /** The input ended: an unterminated last line is still a line. */
  finish(onLine: LineHandler): void {
    if (this.pieces.length === 0) return
    const bytes = Buffer.concat(this.pieces)
    this.pieces = []
    this.offset += this.pendingBytes
    this.pendingBytes = 0
    this.emitBytes(bytes, onLine)
  }

  private emitBytes(bytes: Buffer, onLine: LineHandler): void {
    if (isUtf8(bytes)) return this.emitLines(bytes.toString('utf8'), onLine)
    // some line is not UTF-8: go line by line, so the others are unaffected
    let start = 0
    for (;;) {
      const nl = bytes.indexOf(10, start)
      const line = bytes.subarray(start, nl < 0 ? bytes.length : nl)
      if (isUtf8(line)) this.emitLines(line.toString('utf8'), onLine)
      else {
        this.lineNo++
        onLine(line.toString('utf8'), this.lineNo, 'not valid UTF-8')
      }
      if (nl < 0) return
      start = nl + 1
    }
  }

  private emitLines(text: string, onLine: LineHandler): void {
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      let end = nl < 0 ? text.length : nl
      if (end > start && text.charCodeAt(end - 1) === 13) end--
      this.lineNo++
      if (end > start && !isBlank(text, start, end)) onLine(text.slice(start, end), this.lineNo, nestedTooDeep(text, start, end) ? TOO_DEEP : undefined)
      if (nl < 0) return
      start = nl + 1
    }
  }
}

function isBlank(text: string, start: number, end: number): boolean {
  const c = text.charCodeAt(start)
  if (c !== 32 && c !== 9 && c !== 13) return false // the common case: a line starting with '{'
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i)
    if (d !== 32 && d !== 9 && d !== 13) return false
  }
  return true
}
