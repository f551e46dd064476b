// The start of a line whose end is not read yet, bounded by --max-line-bytes: past the limit its
// bytes are dropped (only a prefix is kept, for the dead letters) while reading on to its end, so a
// 50 MB line costs no 50 MB of memory and is bad input with its line number, on every parse path
// (the splitter on the main thread, the batcher there and in the parse worker).

/** The default of --max-line-bytes: 16 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 16 << 20

/** How much of a line too long to keep is written to the dead letters. */
export const PREFIX_BYTES = 1024

export const tooLong = (max: number) => `longer than ${max} bytes (--max-line-bytes)`

/** A line's bytes, or what is left of a line that was too long: its first bytes. */
export type LineBytes = { bytes: Buffer; overlong?: false } | { prefix: Buffer; overlong: true }

export class PendingLine {
  private pieces: Buffer[] = []
  private size = 0
  private prefix: Buffer | undefined

  constructor(
    readonly max: number,
    /** keep copies: the caller reuses its chunk buffers */
    private readonly copy: boolean,
  ) {}

  get empty(): boolean {
    return this.size === 0 && this.prefix === undefined
  }

  get overlong(): boolean {
    return this.prefix !== undefined
  }

  /** More of the line (no LF in part). */
  add(part: Buffer): void {
    if (this.prefix !== undefined) return
    this.pieces.push(this.copy ? Buffer.from(part) : part)
    this.size += part.length
    if (this.size > this.max) {
      this.prefix = Buffer.concat(this.pieces).subarray(0, PREFIX_BYTES)
      this.pieces = []
    }
  }

  /** The line ends with `end` (the bytes before its LF, or before the end of the input). */
  take(end: Buffer): LineBytes {
    const prefix = this.prefix
    const line: LineBytes =
      prefix !== undefined
        ? { prefix, overlong: true }
        : { bytes: this.pieces.length === 0 ? end : Buffer.concat([...this.pieces, end]) }
    this.pieces = []
    this.size = 0
    this.prefix = undefined
    return line
  }
}

/** Whether text[start, end), as UTF-8, is longer than max bytes (a UTF-16 unit is 1 to 3 bytes). */
export function textTooLong(text: string, start: number, end: number, max: number): boolean {
  return end - start > max || ((end - start) * 3 > max && Buffer.byteLength(text.slice(start, end)) > max)
}

/** The first bytes of a line too long, as text for the dead letters. */
export function prefixText(text: string, start: number, end: number): string {
  return Buffer.from(text.slice(start, Math.min(end, start + PREFIX_BYTES))).subarray(0, PREFIX_BYTES).toString('utf8')
}

/**
 * The length of a UTF-8 byte-order mark at the start of bytes (3), or 0. Some Windows tools start
 * a file with one; jq skips it on line 1 and so does weir, on every parse path, where JSON.parse
 * would call line 1 malformed. A mark anywhere else is the line's business.
 */
export function bomLength(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf ? 3 : 0
}
