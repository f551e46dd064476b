// Splits a byte stream into lines. Hand-written rather than the `ndjson` package's split stream:
// bench/ measures both (the package is a stream per stage with a callback per line; this is a
// loop over one decoded string per chunk). Each chunk is decoded once, up to its last newline, so
// a multi-byte character split across chunks is never cut. CRLF and blank lines are tolerated;
// line numbers count every line, blank ones included, so errors point at the right line.

export type LineHandler = (text: string, lineNo: number) => void

export class LineSplitter {
  private pieces: Buffer[] = []
  lineNo = 0

  feed(chunk: Buffer, onLine: LineHandler): void {
    const last = chunk.lastIndexOf(10)
    if (last < 0) {
      this.pieces.push(chunk)
      return
    }
    let text: string
    if (this.pieces.length > 0) {
      this.pieces.push(chunk.subarray(0, last))
      text = Buffer.concat(this.pieces).toString('utf8')
      this.pieces = []
    } else {
      text = chunk.toString('utf8', 0, last)
    }
    if (last + 1 < chunk.length) this.pieces.push(chunk.subarray(last + 1))
    this.emitLines(text, onLine)
  }

  /** The input ended: an unterminated last line is still a line. */
  finish(onLine: LineHandler): void {
    if (this.pieces.length === 0) return
    const text = Buffer.concat(this.pieces).toString('utf8')
    this.pieces = []
    this.emitLines(text, onLine)
  }

  private emitLines(text: string, onLine: LineHandler): void {
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      let end = nl < 0 ? text.length : nl
      if (end > start && text.charCodeAt(end - 1) === 13) end--
      this.lineNo++
      if (end > start && !isBlank(text, start, end)) onLine(text.slice(start, end), this.lineNo)
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
