// A stage's two ends when they are pipes to other weir processes (man/weir-protocol.7). The
// writer end puts the stream's context beside the pipe: the header says how a reader finds each
// record's key and window again, entries carry what records cannot (watermarks, panes, end or
// stop). The reader end turns them back into what the chain of a `then` form would have seen, so
// every cut of a chain into processes gives the same bytes.
import type { ChannelEntry, ChannelReader, ChannelWriter } from '../io/protocol/channel.js'
import type { Operator, OperatorContext, PaneEdge } from '../operators/operator.js'
import type { TimeInfo } from '../operators/timestamps.js'
import { KeyReader } from '../operators/keyby.js'
import { topLevelName } from '../expr/path.js'
import { WeirError } from '../stream/errors.js'
import { exactKeyTexts, makeKey } from '../stream/key.js'
import type { Rec, Window } from '../stream/record.js'
import { isoMillis, type TimeFormat } from '../time/timestamps.js'
import type { StreamContext } from './build.js'
import type { WindowStageConfig } from './stages.js'

/** The context as the header carries it: the window's time format arrives later, as an entry. */
interface ContextJson {
  key?: { fields: string[] } | 'lines'
  names: string[]
  window?: { config: WindowStageConfig; carried: 'fields' | 'lines' }
  /** (since 0.1.0 of this protocol's version 1; older readers ignore it) */
  rows?: { carried: 'fields' | 'lines' }
}

export function contextToJson(c: StreamContext): ContextJson {
  return {
    key: c.key,
    names: c.names,
    window: c.window && { config: c.window.config, carried: c.window.carried },
    ...(c.rows ? { rows: { carried: c.rows.carried } } : {}),
  }
}

export function contextFromJson(j: ContextJson): StreamContext {
  return {
    key: j.key,
    names: j.names ?? [],
    window: j.window && { config: j.window.config, carried: j.window.carried, info: { format: undefined } },
    ...(j.rows ? { rows: { carried: j.rows.carried === 'lines' ? 'lines' : 'fields', info: { format: undefined } } } : {}),
  }
}

/** Lines between watermark entries that cannot change anything downstream (issue: "small"). */
const WATERMARK_EVERY_LINES = 1000

/**
 * The writer end: turns what reaches the end of the chain into channel entries, each queued
 * before the output line after it (the driver flushes the channel before the output).
 */
export class PipeWriter {
  /** lines written to the pipe */
  private n = 0
  private fmtSent = false
  private lastWm: number | undefined
  private pendingWm: number | undefined
  private lastWmLine = 0
  private readonly perLine: boolean
  private readonly info: TimeInfo | undefined
  /** the watermark crossing a multiple of this (shifted) is what can fire or clean up a window downstream */
  private readonly grid: { slide: number; offsets: number[] } | undefined
  /** where the last line written came from (see cameFrom) */
  private from: string | undefined
  private fromLine = 0
  private fromStep: 0 | 1 = 1

  constructor(
    readonly channel: ChannelWriter,
    context: StreamContext,
  ) {
    this.perLine = context.key === 'lines' || context.window?.carried === 'lines' || context.rows?.carried === 'lines'
    this.info = context.window?.info ?? context.rows?.info
    const w = context.window?.config
    if (w && (w.window.kind === 'tumbling' || w.window.kind === 'sliding') && (w.time?.mode ?? 'event') !== 'processing') {
      const slide = w.window.kind === 'tumbling' ? w.window.size : w.window.slide
      // firing at end − 1 and cleanup at end − 1 + lateness, with ends on offset + size + k·slide
      // (a sliding window's size need not be a multiple of its slide: 9s every 5s ends at 9, 14, …)
      const end = w.window.offset + w.window.size
      this.grid = { slide, offsets: [end - 1, end - 1 + w.lateness] }
    }
  }

  record(rec: Rec): void {
    this.watermarkBeforeLine()
    // a record for a window the watermark has passed (late, within the lateness): downstream it
    // re-fires that window, under the watermark it has now in one process, not the last one sent
    if (rec.window && this.pendingWm !== undefined && rec.window.end - 1 <= this.pendingWm) this.writeWm(this.pendingWm)
    this.cameFrom(rec.source, rec.line, rec.derived ? 0 : 1, 1)
    this.fmtOnce()
    if (this.perLine) {
      const e: ChannelEntry = { n: this.n }
      if (rec.key) {
        e.key = rec.key.values
        // an integer beyond 2^53 keeps its digits (12345678901234567891 is not …7000)
        const texts = exactKeyTexts(rec.key)
        if (texts) e.kt = texts.map((x) => x ?? null)
      }
      if (rec.window) e.win = [rec.window.start, rec.window.end]
      this.channel.add(e)
    }
    this.n++
    if (this.pendingWm !== undefined && this.n - this.lastWmLine >= WATERMARK_EVERY_LINES) this.writeWm(this.pendingWm)
  }

  /**
   * A record passed on, as `record` writes one, for a driver that builds none: line `line` of
   * `source`, with no entry of its own (not perLine).
   */
  passed(source: string, line: number): void {
    this.watermarkBeforeLine()
    this.cameFrom(source, line, 1, 1)
    this.fmtOnce()
    this.n++
    if (this.pendingWm !== undefined && this.n - this.lastWmLine >= WATERMARK_EVERY_LINES) this.writeWm(this.pendingWm)
  }

  /** Whether each line has an entry of its own (its key or window), which only `record` writes. */
  get linesHaveEntries(): boolean {
    return this.perLine
  }

  /** The window bounds' format, once known, before the first line that has them. */
  private fmtOnce(): void {
    if (!this.fmtSent && this.info?.format !== undefined) {
      this.fmtSent = true
      this.channel.add({ n: this.n, fmt: this.info.format })
    }
  }

  /** Whether a record needs nothing of the channel but to be counted (no entry of its own). */
  get countsOnly(): boolean {
    return !this.perLine && this.info === undefined
  }

  /**
   * `count` records written that need only counting (countsOnly): a stage that forwards lines,
   * here lines `line`… of the input `source`, one after another.
   */
  records(count: number, source: string, line: number): void {
    this.watermarkBeforeLine()
    this.cameFrom(source, line, 1, count)
    this.n += count
    if (this.pendingWm !== undefined && this.n - this.lastWmLine >= WATERMARK_EVERY_LINES) this.writeWm(this.pendingWm)
  }

  watermark(t: number): void {
    if (this.lastWm === undefined || this.crossesGrid(this.lastWm, t)) {
      // the watermark just before the one that fires goes first: downstream it is the watermark a
      // firing's rows are made under, as in one process (a process function reads it)
      if (this.pendingWm !== undefined) this.writeWm(this.pendingWm)
      this.writeWm(t)
    } else this.pendingWm = t
  }

  /**
   * With no window downstream to fire (rows, a process function's records), what a watermark
   * can change there is not known here: a process function's timers may be set at any time. So
   * the latest one goes before each line, as the `then` form hands it on before the next record.
   */
  private watermarkBeforeLine(): void {
    if (!this.grid && this.pendingWm !== undefined) this.writeWm(this.pendingWm)
  }

  /** A batch is done: a watermark no line followed goes out (watermarkBeforeLine; a quiet stream). */
  endBatch(): void {
    this.watermarkBeforeLine()
  }

  pane(edge: PaneEdge): void {
    this.channel.add({ n: this.n, pane: edge })
  }

  /** A checkpoint's barrier after the lines written so far; `final` before the end or stop. */
  barrier(id: number, final = false): void {
    this.channel.add(final ? { n: this.n, barrier: id, final: true } : { n: this.n, barrier: id })
  }

  /** The stream's last entry: complete (drained), or stopped with a reason. */
  finish(how: 'end' | { stop: string }): void {
    if (this.pendingWm !== undefined) this.writeWm(this.pendingWm)
    this.channel.add(how === 'end' ? { n: this.n, end: true } : { n: this.n, stop: how.stop })
    this.channel.flush()
  }

  /**
   * Where the next `count` lines come from: lines `line`… of input `source` (step 1, records), or
   * all that one line (step 0, rows a stage made while at it). An entry only where that does not
   * follow from the line before (the first line, another input, a line left out: bad, late,
   * filtered, blank; a firing's rows), so the channel stays small. A reader names each record's own
   * input and line in its messages and dead letters, as the `then` form does, not its stdin line.
   */
  private cameFrom(source: string, line: number, step: 0 | 1, count: number): void {
    // a row made from the record after the last line's (a running aggregate's update per record)
    // comes from the next input line, as a record passed on does: it continues a run of step 1
    if (step === 0 && count === 1 && source === this.from && line === this.fromLine + 1) step = 1
    if (source !== this.from || step !== this.fromStep || line !== this.fromLine + step)
      this.channel.add(step === 1 ? { n: this.n, src: source, line } : { n: this.n, src: source, line, step })
    this.from = source
    this.fromStep = step
    this.fromLine = line + step * (count - 1)
  }

  private writeWm(t: number): void {
    this.channel.add({ n: this.n, wm: t })
    this.lastWm = t
    this.lastWmLine = this.n
    this.pendingWm = undefined
  }

  private crossesGrid(from: number, to: number): boolean {
    if (!this.grid) return false
    const { slide, offsets } = this.grid
    for (const o of offsets) if (Math.floor((to - o) / slide) !== Math.floor((from - o) / slide)) return true
    return false
  }
}

/** The key and window of the next line, from the channel when its bytes cannot tell them. */
interface LineContext {
  key?: readonly unknown[]
  kt?: (string | null)[]
  win?: [number, number]
}

/**
 * The reader end: an operator at the head of the chain that gives each record the key and window
 * it had upstream, and the entries to apply between lines.
 */
export class PipeReader {
  /** from the header: the stages upstream, for messages */
  readonly upstream: string
  readonly context: StreamContext
  private next: LineContext | undefined
  ended: 'end' | 'stop' | undefined
  stopReason: string | undefined
  private endAt = 0
  /** the last entry saying where lines came from: line n+1 is line `line` of `src` */
  private from: { n: number; src: string; line: number; step: number } | undefined
  /** what this stage does at a checkpoint barrier of the chain's job (set by a durable stage) */
  onBarrier: ((id: number, final: boolean) => void) | undefined

  constructor(readonly channel: ChannelReader) {
    const h = channel.header
    this.upstream = h.stages[h.stages.length - 1] ?? 'weir'
    this.context = contextFromJson(h.context as ContextJson)
  }

  /**
   * Applies the entries that come before line `line` (1-based), as far as they have been read:
   * a reader that has seen that line may rely on every entry before it being in the file, so
   * one poll after each chunk arrives finds them all.
   */
  before(line: number, chain: { watermark(t: number): void; pane(e: PaneEdge): void }): void {
    // the driver reads the channel once per chunk of input (poll): per line, only the queue
    for (let e = this.channel.peek(); e !== undefined && e.n < line; e = this.channel.peek()) {
      this.channel.shift()
      this.apply(e, chain)
    }
  }

  /**
   * Line `line` of stdin arrives: the entries before it are applied, and the input it came from
   * upstream is returned: the one the first stage read it from (a row: the record read last
   * before it was made), or, from a weir that does not say, `stdin`.
   */
  arrive(line: number, chain: { watermark(t: number): void; pane(e: PaneEdge): void }, stdin: string): string {
    this.before(line, chain)
    return this.from?.src ?? stdin
  }

  /** With arrive: the line there (two calls rather than an object: this runs for every record). */
  lineOf(line: number): number {
    const f = this.from
    return f ? f.line + f.step * (line - f.n - 1) : line
  }

  /**
   * At EOF, before the last (unterminated) line is taken: an upstream stage that died mid-line
   * left a cut line, which is its failure, not bad input here.
   */
  checkFinished(partialLine: boolean): void {
    this.channel.poll()
    if (this.ended === undefined && !this.channel.holds((e) => e.end === true || e.stop !== undefined)) throw this.died()
    // a weir stage writes whole lines: one cut off is its output cut short (its end entry goes
    // to the channel before the last batch of lines, so a kill inside that batch leaves an end)
    if (partialLine)
      throw new WeirError('io', `stdin: the stage before this one ('${this.upstream}') ended in the middle of a line (killed, or it failed): nothing was flushed`)
  }

  /** At EOF: every entry is there. Throws when the upstream stage died (no end, no stop). */
  atEof(lines: number, chain: { watermark(t: number): void; pane(e: PaneEdge): void }): void {
    this.channel.poll()
    this.before(Number.MAX_SAFE_INTEGER, chain)
    if (this.ended === undefined) throw this.died()
    if (this.endAt !== lines)
      throw new WeirError('io', `stdin: '${this.upstream}' announced ${this.endAt} lines but ${lines} arrived: its output was cut short`)
  }

  private died(): WeirError {
    return new WeirError(
      'io',
      `stdin: the stage before this one ('${this.upstream}') ended without finishing its stream (killed, or it failed): nothing was flushed`,
    )
  }

  private apply(e: ChannelEntry, chain: { watermark(t: number): void; pane(e: PaneEdge): void }): void {
    if (e.wm !== undefined) chain.watermark(e.wm)
    else if (e.pane !== undefined) chain.pane(e.pane)
    else if (e.barrier !== undefined) this.onBarrier?.(e.barrier, e.final === true)
    else if (e.fmt !== undefined) {
      if (this.context.window) this.context.window.info.format = e.fmt as TimeFormat
      if (this.context.rows) this.context.rows.info.format = e.fmt as TimeFormat
    } else if (e.end) {
      this.ended = 'end'
      this.endAt = e.n
    } else if (e.stop !== undefined) {
      this.ended = 'stop'
      this.stopReason = e.stop
      this.endAt = e.n
    } else if (e.src !== undefined) this.from = { n: e.n, src: e.src, line: e.line ?? 0, step: e.step ?? 1 }
    else if (e.key !== undefined || e.win !== undefined) this.next = { key: e.key, kt: e.kt, win: e.win }
    // an entry of a kind this weir does not know is ignored (man/weir-protocol.7, versions)
  }

  /**
   * The operator that puts the key and window back on each record. `keysRead`: whether a stage of
   * this process reads keys (build.ts keysReadAfter); when none does, they are not made.
   */
  operator(uid: string, keysRead = true): Operator {
    const ctx = this.context
    let octx: OperatorContext
    const keys = keysRead && ctx.key !== undefined && ctx.key !== 'lines' ? new KeyReader(ctx.key.fields) : undefined
    const window = ctx.window
    const span = window?.config.window
    const timeWindows = span?.kind === 'tumbling' || span?.kind === 'sliding' || span?.kind === 'session'
    const rows = ctx.rows
    const bound = (v: unknown): number | undefined => {
      const f = (window ?? rows)!.info.format
      if (typeof v === 'string') {
        // weir writes ISO bounds as toISOString does, the form isoMillis reads without Date.parse
        const fast = isoMillis(v)
        if (fast === fast) return fast
        const ms = Date.parse(v)
        return Number.isNaN(ms) ? undefined : ms
      }
      if (typeof v !== 'number') return undefined
      return f === 's' ? Math.round(v * 1000) : v
    }
    let last: Window | undefined
    // nothing here reads the key or a window: every record passes on as it is
    const passes = !keys && !(window && timeWindows) && !(keysRead && ctx.key === 'lines') && !rows
    // a key of one top-level field and tumbling windows in the records' fields: a driver may read
    // both from parsed columns (Operator.carriesFields)
    const keyField = keys?.fields.length === 1 ? topLevelName(keys.fields[0]!) : undefined
    const carriesFields =
      keys && keyField !== undefined && span?.kind === 'tumbling' && window!.carried === 'fields' ? { keyField: keyField, key: (v: unknown) => keys.plainKey(v), bound } : undefined
    return {
      uid,
      ...(passes ? { passesWhenPresent: [] } : {}),
      ...(carriesFields ? { carriesFields } : {}),
      open(c) {
        octx = c
      },
      processRecord: (rec, out) => {
        const line = this.next
        this.next = undefined
        if (!keysRead) {
          // nothing here reads the key: the next process finds it again as this one would
        } else if (ctx.key === 'lines') {
          if (line?.key) rec.key = makeKey([...line.key], line.kt?.map((x) => (typeof x === 'string' && /^-?\d+$/.test(x) ? x : undefined)))
        } else if (keys) {
          const key = keys.read(rec)
          if (key === undefined) return octx.badRecord(rec, keys.why(this.upstream))
          rec.key = key
        }
        // an open window's record, or a window's row (whose time is end − 1, as one process gives it)
        const carried = window && timeWindows ? window.carried : rows?.carried
        if (carried !== undefined) {
          let w: Window | undefined
          if (carried === 'lines') w = line?.win && { start: line.win[0], end: line.win[1] }
          else {
            const v = rec.value as Record<string, unknown> | null
            const start = v && typeof v === 'object' ? bound(v.window_start) : undefined
            const end = v && typeof v === 'object' ? bound(v.window_end) : undefined
            // consecutive records mostly share a window: one object for them (windows are immutable)
            if (start !== undefined && end !== undefined) w = last !== undefined && last.start === start && last.end === end ? last : (last = { start, end })
          }
          if (!w) return octx.badRecord(rec, `window_start and window_end (set by '${this.upstream}') are missing or not times`)
          rec.window = w
          if (!(window && timeWindows)) rec.time = w.end - 1
          // the window stage added the fields to the record's text (a row's are its own)
          else if (carried === 'fields') rec.stamped = true
        }
        out.record(rec)
      },
    }
  }
}
