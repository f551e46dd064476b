// The JSON text of an aggregate's rows, written by a writer made once per operator for the rows'
// fixed shape: the key fields, then window_start and window_end (windowed), then the aggregates.
// JSON.stringify of each row was the largest single cost on sparse keys, where nearly every record
// makes a row (issue 19): here the key's text is its canonical form, already made by keyby, the
// window's text is made once per window rather than once per row, and the names are written out
// once. It writes what JSON.stringify would, byte for byte (test/stream/row-text.ts holds it to
// that), and integers beyond 2^53 in the key keep their digits, as rowText does.
import { exactKeyTexts, type Key } from './key.js'
import { rowText } from './record.js'

/** JSON.stringify of one value, faster for the numbers and strings that rows are made of. */
function valueText(v: unknown): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? '' + v : 'null'
  return JSON.stringify(v)
}

/** A name JavaScript orders before all others in an object (an array index), whatever its place. */
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/

export class RowWriter {
  private readonly keyPrefixes: string[]
  private readonly aggPrefixes: string[]
  /** false when the row's fields would not come out in the order assumed (a name twice, an index) */
  private readonly compiled: boolean

  constructor(
    private readonly keyNames: readonly string[],
    windowed: boolean,
    private readonly aggNames: readonly string[],
  ) {
    const names = [...keyNames, ...(windowed ? ['window_start', 'window_end'] : []), ...aggNames]
    this.compiled = new Set(names).size === names.length && !names.some((n) => ARRAY_INDEX.test(n) && Number(n) < 2 ** 32 - 1)
    this.keyPrefixes = keyNames.map((n) => JSON.stringify(n) + ':')
    this.aggPrefixes = aggNames.map((n) => JSON.stringify(n) + ':')
  }

  /** The text of window_start and window_end, with their leading comma: made once per window. */
  static windowText(start: unknown, end: unknown): string {
    return `"window_start":${valueText(start)},"window_end":${valueText(end)}`
  }

  /**
   * The text of `row`, which holds the key's values, the window's (as `windowText` wrote them)
   * and the aggregates' results under the names given to the constructor.
   */
  text(row: Record<string, unknown>, key: Key, windowText: string | undefined): string {
    if (!this.compiled) {
      const texts = exactKeyTexts(key)
      return texts ? rowText(row, this.keyNames, texts) : JSON.stringify(row)
    }
    let s = '{'
    const values = key.values
    if (this.keyNames.length === 1) {
      const v = values[0]
      // the canonical form of a plain value is its JSON text, exact digits included
      const t = v === null || (typeof v !== 'object' && v !== undefined) ? key.canon : JSON.stringify(v)
      if (t !== undefined) s += this.keyPrefixes[0] + t
    } else if (this.keyNames.length > 1) {
      const texts = exactKeyTexts(key)
      for (let i = 0; i < this.keyNames.length; i++) {
        const t = texts?.[i] ?? valueText(values[i])
        if (t !== undefined) s += (s.length > 1 ? ',' : '') + this.keyPrefixes[i] + t
      }
    }
    if (windowText !== undefined) s += (s.length > 1 ? ',' : '') + windowText
    const names = this.aggNames
    for (let i = 0; i < names.length; i++) {
      const t = valueText(row[names[i]!])
      if (t !== undefined) s += (s.length > 1 ? ',' : '') + this.aggPrefixes[i] + t
    }
    return s + '}'
  }
}
