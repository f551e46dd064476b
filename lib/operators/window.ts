// The window operator: the glue of Flink's WindowOperator. The assigner says which windows a
// record belongs to (windows/assigners.ts); state holds each window's contents, namespaced by
// window; timers (time/window-timers.ts for time windows, time/timers.ts for sessions) fire a
// window when the watermark reaches end − 1 and clean it up at end − 1 + lateness; records too
// late for all their windows go to the side output.
//
// What a firing computes is the window function: either a row of aggregates (window followed by
// aggregate, fused in one operator), or the records themselves with their window added (window
// alone, as Flink SQL's window table functions). Tumbling and sliding windows emit records at
// once, one line per window; session, count and global windows when the window fires, since only
// then are the bounds known (decisions.md 7).
import { type Key, NO_KEY } from '../stream/key.js'
import { MAX_WATERMARK, MIN_WATERMARK, type Rec, type Window } from '../stream/record.js'
import { RowWriter } from '../stream/row-text.js'
import type { OperatorState } from '../state/backend.js'
import { TimerQueue, type Timer } from '../time/timers.js'
import { WindowTimers, cleanupTimeOf, type WindowEvent } from '../time/window-timers.js'
import { formatTime } from '../time/timestamps.js'
import type { Operator, OperatorContext, Output, PaneEdge } from './operator.js'
import type { Position } from '../stream/errors.js'
import { RowAggregator, overflowed, type AggSpec } from './aggregates/row.js'
import { cover, sliding, windowStart, type WindowSpec } from './windows/assigners.js'
import { ColumnAggregator } from './aggregates/columns.js'
import { PaneTables, type Pane as PaneTable } from './windows/panes.js'
import type { TimeInfo } from './timestamps.js'

export interface WindowOperatorConfig {
  spec: WindowSpec
  /** Allowed lateness in ms (event time only). */
  lateness: number
  timeMode: 'event' | 'ingestion' | 'processing'
  /** Output names of the key fields, in keyby order; empty when the stream is not keyed. */
  keyNames: string[]
  timeInfo: TimeInfo
  /** The fused aggregate; absent when window stands alone. */
  aggregate?: AggSpec[]
  /**
   * An aggregate that is not fused with its window: stateless stages (or a pipe) stand between
   * them. It aggregates by the window each record carries (`rec.window`, from a tumbling or
   * sliding window) or by pane (a session, count or global window's firing), with the window
   * stage's spec and lateness. Its rows are those the fused operator gives.
   */
  carried?: boolean
}

/**
 * A timer's payload is its window's end (its start is the timer's order). Whether it fires the
 * window, cleans it up, or both follows from its time: end − 1 fires, end − 1 + lateness cleans
 * up. One number instead of two objects per timer keeps the heap small with many keys.
 */
type TimerPayload = number

/**
 * A record held in a window until it fires (a lone session, count or global window): plain data,
 * so state can be stored and checkpointed. `seq` is its arrival number, which orders the records
 * of merged sessions; the key is the state's own.
 */
interface HeldRec {
  raw?: string
  value: unknown
  time?: number
  source: string
  line: number
  seq: number
}

/** A window's contents: accumulators when aggregating, records otherwise. */
interface Pane {
  accs?: unknown[]
  recs?: HeldRec[]
  /**
   * Every record in it was refused by the aggregate (--on-error skip or dead-letter): it has a
   * window's extent (a session's bounds, a count window's records) but no row, as when the
   * aggregate runs as a stage of its own and never sees an accepted record of it. Absent in
   * state written before it existed, when every pane held an accepted record.
   */
  none?: true
}
interface Session extends Pane, Window {}
interface CountPane extends Pane {
  n: number
}

const SESSIONS = 's'
/** the recent windows' bounds (boundsOf): a power of two */
const BOUNDS_SLOTS = 256
const GLOBAL = 'g'
const COUNT = 'c'

export function windowOperator(cfg: WindowOperatorConfig, uid: string): Operator {
  const spec = cfg.spec
  const agg = cfg.aggregate ? new RowAggregator(cfg.aggregate) : undefined
  // count and global windows have no bounds in their rows
  const rows = agg && new RowWriter(cfg.keyNames, spec.kind !== 'count' && spec.kind !== 'global', agg.names)
  /** the window whose rows or records were emitted last, with its bounds as written (see bounds) */
  let shown = { start: NaN, end: NaN, format: undefined as unknown, from: undefined as unknown, to: undefined as unknown, text: '' }
  const recentBounds = new Array<typeof shown | undefined>(BOUNDS_SLOTS).fill(undefined)
  const boundsUnit = spec.kind === 'sliding' ? spec.slide : spec.kind === 'tumbling' ? spec.size : 1
  const eventTime = cfg.timeMode !== 'processing'
  const lateness = eventTime ? cfg.lateness : 0
  // time windows (all one size) keep one timer per window with its keys; sessions one per key
  // (made at open: on LMDB they spill beyond a bounded head, decisions.md 32)
  let windowTimers: WindowTimers | undefined
  let timers: TimerQueue<TimerPayload>
  // The columnar route (windows/panes.ts): a time window's aggregates in one table per window.
  // Timers, state and the accumulator arrays are then unused between snapshots: a snapshot writes
  // the tables into state, a restore reads them back. The tables hold at most what the backend
  // lets an operator hold on the heap (KeyedStateBackend.heldEntries: LMDB's cache); beyond that
  // the operator leaves them for good and goes on in state (leaveTables).
  const columns = agg && (spec.kind === 'tumbling' || spec.kind === 'sliding') ? new ColumnAggregator(agg) : undefined
  let tables: PaneTables | undefined
  let tableBound = Infinity
  const nextTimerTime = () => (tables ? tables.peekTime() : windowTimers ? windowTimers.peekTime() : timers.peekTime())
  let state: OperatorState
  /** a table row into state at a snapshot: the tables hold it, so the state need not (OperatorState.putHeld) */
  let store: (key: Key, ns: number, value: unknown) => void
  let ctx: OperatorContext
  let wm = MIN_WATERMARK
  let seq = 0
  /** windows holding state: reported by --verbose, kept across a resume */
  let open = 0
  /** where the record read last came from: rows made at a firing are named after it */
  let lastSource = 'window'
  let lastLine = 0
  /** the pane being aggregated (carried mode): a firing never spans two events, so it is never in a snapshot */
  let pane: { accs?: unknown[]; key?: Key; window?: Window } | undefined

  const isLate = (w: Window) => eventTime && w.end - 1 + lateness <= wm
  // A time window's state is namespaced by its start: every start below this bound has been
  // cleaned up once the watermark is at t (isLate), and stays so. Told to the state before the
  // cleanups, it lets a durable backend delete them without tombstones (OperatorState.expireBelow).
  const timeWindowSize = spec.kind === 'tumbling' || spec.kind === 'sliding' ? spec.size : undefined
  const expireUpTo = (t: number) => {
    if (eventTime && timeWindowSize !== undefined) state.expireBelow?.(t - timeWindowSize - lateness + 2)
  }
  const hasFired = (w: Window) => eventTime && w.end - 1 <= wm

  function newPane(): Pane {
    return agg ? { accs: agg.create() } : { recs: [] }
  }

  function addTo(pane: Pane, rec: Rec, s: number): void {
    if (agg) {
      agg.add(pane.accs!, rec.value, s, rec)
      delete pane.none
    }
    else {
      const held: HeldRec = { value: rec.value, source: rec.source, line: rec.line, seq: s }
      if (rec.raw !== undefined) held.raw = rec.raw
      if (rec.time !== undefined) held.time = rec.time
      pane.recs!.push(held)
    }
  }

  /**
   * Two panes as one. May reuse (and change) the lists and accumulators of both: the caller keeps
   * only the result, as the sessions merged away leave state.
   */
  function mergePanes(a: Pane, b: Pane): Pane {
    if (agg) return a.none && b.none ? { accs: agg.merge(a.accs!, b.accs!), none: true } : { accs: agg.merge(a.accs!, b.accs!) }
    return { recs: mergeHeld(a.recs!, b.recs!) }
  }

  /**
   * Records keep arrival order: both lists are in arrival order, so they merge by sequence. In
   * place, into the longer list, from the back: the steps are the shorter list and the records of
   * the longer one that arrived after the shorter's first, not both lists whole (a session that
   * swallows a small one costs what the small one holds).
   */
  function mergeHeld(a: HeldRec[], b: HeldRec[]): HeldRec[] {
    const [x, y] = a.length >= b.length ? [a, b] : [b, a]
    let i = x.length - 1
    let j = y.length - 1
    let k = x.length + y.length - 1
    x.length = k + 1
    while (j >= 0) {
      if (i >= 0 && x[i]!.seq > y[j]!.seq) x[k--] = x[i--]!
      else x[k--] = y[j--]!
    }
    return x
  }

  const cleanupTime = (end: number) => cleanupTimeOf(end, lateness, MAX_WATERMARK)

  function registerTimers(key: Key, w: Window): void {
    if (windowTimers) return windowTimers.add(key, w.start, eventTime && w.end - 1 <= wm)
    const fireAt = w.end - 1
    const cleanupAt = cleanupTime(w.end)
    // a window created within its lateness, after its end, has fired already: it only needs cleaning up
    if (!eventTime || fireAt > wm) timers.add({ time: fireAt, order: w.start, key, payload: w.end })
    if (cleanupAt !== fireAt) timers.add({ time: cleanupAt, order: w.start, key, payload: w.end })
  }

  /** A session's timers, where they still wait in memory (registerTimers' two). */
  function deleteTimers(key: Key, w: Window): void {
    timers.delete(w.end - 1, w.start, key)
    timers.delete(cleanupTime(w.end), w.start, key)
  }

  // ---- emission --------------------------------------------------------------------------

  function fmt(ms: number): number | string {
    return formatTime(ms, cfg.timeInfo.format ?? 'ms')
  }

  function emitPane(key: Key, w: Window | undefined, pane: Pane, out: Output): void {
    if (agg) return pane.none ? undefined : emitRow(key, w, pane.accs!, out)
    // a firing is the window's whole contents, re-fired ones too: marked so an aggregate further
    // on makes one row of it rather than adding the records again
    out.pane('begin')
    for (const h of pane.recs!) {
      const r: Rec = { raw: h.raw, value: h.value, key: key === NO_KEY ? undefined : key, time: h.time, source: h.source, line: h.line }
      out.record(w ? withWindow(r, w) : r)
    }
    out.pane('end')
  }

  function emitRow(key: Key, w: Window | undefined, accs: unknown[] | undefined, out: Output, p?: PaneTable, paneRow = 0): void {
    const row: Record<string, unknown> = {}
    for (let i = 0; i < cfg.keyNames.length; i++) row[cfg.keyNames[i]!] = key.values[i]
    let windowText: string | undefined
    if (w) {
      const b = bounds(w)
      row.window_start = b.from
      row.window_end = b.to
      windowText = b.text
    }
    if (p) columns!.results(p.columns, paneRow, row)
    else agg!.results(accs!, row)
    out.record({ raw: rows!.text(row, key, windowText), value: row, key, time: w ? w.end - 1 : undefined, window: w, source: lastSource, line: lastLine, derived: true })
  }

  function emitPaneRow(key: Key, w: Window, p: PaneTable, row: number, out: Output): void {
    emitRow(key, w, undefined, out, p, row)
  }

  /** Adds the record to its key's row in the table of window w (the columnar route). */
  function addToPane(rec: Rec, key: Key, s: number, w: Window, out: Output): void {
    addValueToPane(rec.value, rec, key, s, w.start, w.end, out)
  }

  function addValueToPane(value: unknown, pos: Position & { raw?: string }, key: Key, s: number, start: number, end: number, out: Output): void {
    const fired = eventTime && end - 1 <= wm
    const p = tables!.pane(start, fired)
    const row = tables!.row(p, key)
    columns!.add(p.columns, row, value, s, pos)
    if (p.stored) p.changed[row] = 1
    if (fired) emitPaneRow(key, { start, end }, p, row, out) // a late record within the lateness: updated result at once
    if (tables!.rows > tableBound) leaveTables()
  }

  /**
   * From the tables to the reference route, for the rest of the run: every row into state, its
   * window's timers registered per key, as if the route had been the reference one all along.
   */
  function leaveTables(): void {
    for (const p of tables!.panes()) for (let row = 0; row < p.keys.length; row++) state.put(p.keys[row]!, p.start, columns!.accsOf(p.columns, row))
    open = tables!.rows
    dropTables()
  }

  /** The tables' rows are in state as they are: their timers go per key, the tables go. */
  function dropTables(): void {
    const size = (spec as { size: number }).size
    windowTimers = new WindowTimers(size, lateness, MAX_WATERMARK, state.timerSpill?.())
    for (const p of tables!.panes())
      for (const key of p.keys) windowTimers.add(key, p.start, p.fired)
    tables = undefined
  }

  /**
   * Operator.addCarried: processRecord of a carried tumbling window's record, without the
   * record. Where its position is all a function could want of it (none reads a rounded
   * integer's digits), one object serves every record.
   */
  const carriedPos = { source: '', line: 0 }
  const needsBytes = agg !== undefined && agg.integerTexts.some((x) => x !== undefined)
  function addCarried(value: unknown, key: Key, start: number, end: number, source: string, line: number, rec: () => Rec, out: Output): void {
    if (!tables) return processRecordOf(rec(), out)
    const why = agg!.check(value)
    if (why !== undefined) return ctx.badRecord(rec(), why)
    lastSource = source
    lastLine = line
    const s = seq++
    if (eventTime && end - 1 + lateness <= wm) return out.late(rec())
    let pos: Position & { raw?: string } = carriedPos
    if (needsBytes) pos = rec()
    else {
      carriedPos.source = source
      carriedPos.line = line
    }
    addValueToPane(value, pos, key, s, start, end, out)
    ctx.stats.consumed++
  }

  /**
   * The window's bounds as written (number or text, as the input's times), and their JSON text.
   * One window fires for many keys in a row, and consecutive records mostly fall in one window:
   * made once per window, not once per row or record.
   */
  function bounds(w: Window): typeof shown {
    return boundsOf(w.start, w.end)
  }

  function boundsOf(start: number, end: number): typeof shown {
    // the format too: it is learned from the first record, and a cached text must not outlive it
    if (start !== shown.start || end !== shown.end || cfg.timeInfo.format !== shown.format) {
      // a sliding window's record goes out in size/slide windows in turn, and the next record in
      // the same ones: the bounds of the windows shown lately, by their number (start / slide:
      // consecutive windows never share a slot) or, for sessions, their start (a window alone
      // sliding 60m by 1m spent a quarter of its time writing the same bounds' digits)
      const slot = (Math.floor(start / boundsUnit) | 0) & (BOUNDS_SLOTS - 1)
      const seen = recentBounds[slot]
      if (seen !== undefined && seen.start === start && seen.end === end && seen.format === cfg.timeInfo.format) shown = seen
      else {
        const from = fmt(start)
        const to = fmt(end)
        shown = { start, end, format: cfg.timeInfo.format, from, to, text: RowWriter.windowText(from, to) }
        recentBounds[slot] = shown
      }
    }
    return shown
  }

  /** The record with window_start and window_end added, keeping its original bytes otherwise. */
  /** `once`: the record goes out in this window only (tumbling), so its value can take the fields itself. */
  function withWindow(rec: Rec, w: Window, once = false): Rec {
    const b = bounds(w)
    let o = rec.value as Record<string, unknown>
    const bytes = rec.raw
    const spliced = bytes !== undefined && !('window_start' in o) && !('window_end' in o)
    // the value may hold only the fields the job reads (projected, pipeline/fields.ts, which
    // includes these two): a record that has them already is written whole, so parse it whole
    if (!spliced && bytes !== undefined) o = JSON.parse(bytes) as Record<string, unknown>
    // Object.assign and two stores: a spread with added fields took 35 times as long (measured, V8 12)
    const value = once && o === rec.value ? o : (Object.assign({}, o) as Record<string, unknown>)
    value.window_start = b.from
    value.window_end = b.to
    let raw: string | undefined
    if (spliced) {
      const close = bytes.lastIndexOf('}')
      let k = close - 1
      // JSON's whitespace: space, tab, LF, CR
      for (let c = bytes.charCodeAt(k); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = bytes.charCodeAt(--k));
      const empty = bytes.charCodeAt(k) === 0x7b // {
      raw = bytes.slice(0, close) + (empty ? '' : ',') + b.text + '}'
    }
    return { raw, value, key: rec.key, time: rec.time, window: w, stamped: spliced, source: rec.source, line: rec.line }
  }

  // ---- timers ------------------------------------------------------------------------------

  /** A session's timer (time windows have theirs per window: onWindowTimers). */
  function onTimer(t: Timer<TimerPayload>, out: Output): void {
    const w: Window = { start: t.order, end: t.payload }
    const fire = t.time === w.end - 1
    const cleanup = t.time === cleanupTime(w.end)
    const list = state.get(t.key, SESSIONS) as Session[] | undefined
    const i = list ? list.findIndex((s) => s.start === w.start && s.end === w.end) : -1
    if (i < 0) return // merged into a larger session since: that one has its own timers
    if (fire) emitPane(t.key, w, list![i]!, out)
    if (cleanup) {
      list!.splice(i, 1)
      open--
      if (list!.length === 0) state.delete(t.key, SESSIONS)
      else state.put(t.key, SESSIONS, list)
    }
  }

  /** Tumbling and sliding windows keep their accumulators directly, namespaced by window start. */
  function onWindowTimers(start: number, keys: Key[], event: WindowEvent, out: Output): void {
    const w: Window = { start, end: start + (spec as { size: number }).size }
    const fire = event !== 'cleanup'
    const cleanup = event !== 'fire'
    for (const key of keys) {
      const accs = state.get(key, start) as unknown[] | undefined
      if (!accs) continue
      if (fire) emitRow(key, w, accs, out)
      if (cleanup) {
        state.delete(key, start)
        open--
      }
    }
  }

  /** A table's timer: its rows go out in key order when it fires; its state goes at cleanup. */
  function onPaneTimer(p: PaneTable, fire: number[] | undefined, cleanup: boolean, out: Output): void {
    if (fire) {
      const w: Window = { start: p.start, end: p.end }
      for (const row of fire) emitPaneRow(p.keys[row]!, w, p, row, out)
    }
    if (cleanup && p.stored) for (const key of p.keys) state.delete(key, p.start)
  }

  function fireUpTo(limit: number, out: Output): void {
    if (tables) return tables.pollUpTo(limit, (p, fire, cleanup) => onPaneTimer(p, fire, cleanup, out))
    if (windowTimers) return windowTimers.batched(() => windowTimers!.pollUpTo(limit, (start, keys, event) => onWindowTimers(start, keys, event, out)))
    timers.batched(() => {
      for (let t = timers.pollUpTo(limit); t; t = timers.pollUpTo(limit)) onTimer(t, out)
    })
  }

  // ---- records -----------------------------------------------------------------------------

  function processTimeWindows(rec: Rec, key: Key, s: number, out: Output, refused: string | undefined): void {
    const ts = rec.time!
    if (spec.kind === 'tumbling') {
      // the common case, without allocating a window unless a new pane needs one
      const start = windowStart(ts, spec.offset, spec.size)
      const end = start + spec.size
      if (eventTime && end - 1 + lateness <= wm) return out.late(rec)
      if (refused !== undefined) return ctx.badRecord(rec, refused)
      if (!agg) out.record(withWindow(rec, { start, end }, true))
      else if (tables) addToPane(rec, key, s, { start, end }, out)
      else {
        let accs = state.get(key, start) as unknown[] | undefined
        if (accs === undefined) {
          accs = agg.create()
          registerTimers(key, { start, end })
          open++
        }
        agg.add(accs, rec.value, s, rec)
        state.put(key, start, accs) // the write-back contract: a changed value is put again
        if (eventTime && end - 1 <= wm) emitRow(key, { start, end }, accs, out) // late, within the lateness
      }
    } else if (spec.kind === 'sliding') {
      const windows = sliding(ts, spec.size, spec.slide, spec.offset)
      let onTime = false
      for (const w of windows) onTime ||= !isLate(w)
      if (!onTime) return out.late(rec)
      if (refused !== undefined) return ctx.badRecord(rec, refused)
      for (const w of windows) if (!isLate(w)) addToTimeWindow(rec, key, s, w, out)
    }
    if (agg) ctx.stats.consumed++
  }

  function addToTimeWindow(rec: Rec, key: Key, s: number, w: Window, out: Output): void {
    if (!agg) return out.record(withWindow(rec, w))
    if (tables) return addToPane(rec, key, s, w, out)
    let accs = state.get(key, w.start) as unknown[] | undefined
    if (accs === undefined) {
      accs = agg.create()
      registerTimers(key, w)
      open++
    }
    agg.add(accs, rec.value, s, rec)
    state.put(key, w.start, accs)
    if (hasFired(w)) emitRow(key, w, accs, out) // a late record within the lateness: updated result at once
  }

  function processSession(rec: Rec, key: Key, s: number, out: Output, refused: string | undefined): void {
    const ts = rec.time!
    const w: Window = { start: ts, end: ts + (spec as { gap: number }).gap }
    const list = (state.get(key, SESSIONS) as Session[] | undefined) ?? []
    // The key's sessions are disjoint and in order of start, so of end too: those that w touches
    // are the run [lo, hi), found by bisection. (A filter over the list, and a sort after, made a
    // key with thousands of open sessions, a long --max-delay, cost thousands of steps a record.)
    const lo = firstEndingFrom(list, w.start)
    const hi = firstStartingAfter(list, w.end, lo)
    const overlapping = list.slice(lo, hi)
    if (overlapping.length === 0 && isLate(w)) return out.late(rec)
    // a record the aggregate refuses still opens, extends and bridges sessions, as it does when
    // the window runs as a stage of its own (the aggregate after it then refuses it): it only adds nothing
    if (refused !== undefined) ctx.badRecord(rec, refused)
    let merged: Window = w
    // the record's own pane is empty: the first session it touches is the start, not merged into
    // an empty pane (that copied a session's records or values at every record it grew by)
    let pane: Pane
    if (overlapping.length === 0) {
      pane = newPane()
      if (refused !== undefined) pane.none = true
    } else {
      const o = overlapping[0]!
      pane = { accs: o.accs, recs: o.recs }
      if (refused !== undefined && o.none) pane.none = true
    }
    for (let i = 0; i < overlapping.length; i++) {
      const o = overlapping[i]!
      merged = cover(merged, o)
      if (i > 0) pane = mergePanes(pane, o)
    }
    if (refused === undefined) addTo(pane, rec, s)
    const session: Session = { start: merged.start, end: merged.end, accs: pane.accs, recs: pane.recs }
    if (pane.none) session.none = true
    // the session takes the run's place, in order, in the list itself (put again, as the state
    // contract asks; a snapshot holds a copy): in time order that is an append
    list.splice(lo, hi - lo, session)
    state.put(key, SESSIONS, list)
    open += 1 - (hi - lo)
    const grew = overlapping.length !== 1 || overlapping[0]!.start !== merged.start || overlapping[0]!.end !== merged.end
    if (grew) {
      // the sessions merged away have no timers to wait for any more (Flink deletes them on merge)
      for (const o of overlapping) deleteTimers(key, o)
      registerTimers(key, merged)
    }
    if (hasFired(merged)) emitPane(key, merged, session, out)
    if (refused === undefined) ctx.stats.consumed++
  }

  function processUnbounded(rec: Rec, key: Key, s: number, out: Output, refused: string | undefined): void {
    if (refused !== undefined) ctx.badRecord(rec, refused)
    if (spec.kind === 'global') {
      // a global window's refused record changes nothing: it has no extent
      if (refused !== undefined) return
      let pane = state.get(key, GLOBAL) as Pane | undefined
      if (!pane) {
        pane = newPane()
        open++
      }
      addTo(pane, rec, s)
      state.put(key, GLOBAL, pane)
    } else {
      let pane = state.get(key, COUNT) as CountPane | undefined
      if (!pane) {
        pane = { ...newPane(), n: 0 }
        if (refused !== undefined) pane.none = true
        open++
      }
      // a refused record is still one of the n, as in `weir window count N | weir aggregate …`
      if (refused === undefined) addTo(pane, rec, s)
      pane.n++
      if (pane.n >= (spec as { size: number }).size) {
        emitPane(key, undefined, pane, out)
        state.delete(key, COUNT)
        open--
      } else state.put(key, COUNT, pane)
    }
    if (refused === undefined) ctx.stats.consumed++
  }

  /** Carried mode: the record's own window (tumbling, sliding) or the pane it is in (the others). */
  function processCarried(rec: Rec, key: Key, s: number, out: Output): void {
    if (spec.kind === 'tumbling' || spec.kind === 'sliding') {
      const w = rec.window
      if (!w) return ctx.badRecord(rec, 'aggregate: the record carries no window (window_start and window_end)')
      if (isLate(w)) return out.late(rec)
      addToTimeWindow(rec, key, s, w, out)
    } else {
      if (!pane) return ctx.badRecord(rec, 'aggregate: the record is outside any window firing')
      if (!pane.accs) {
        pane.accs = agg!.create()
        pane.key = key
        pane.window = rec.window
      }
      agg!.add(pane.accs, rec.value, s, rec)
    }
    ctx.stats.consumed++
  }

  /**
   * processRecord of a lone tumbling event-time window on a record that is an object without
   * window fields, for a driver that writes its bytes itself (Operator.windowTextOf).
   */
  function windowTextOf(ts: number, source: string, line: number): string | undefined {
    const { size, offset } = spec as { size: number; offset: number }
    const start = windowStart(ts, offset, size)
    const end = start + size
    // late, or for a window that fired (a re-firing downstream, whose pipe must get the
    // watermark before it: PipeWriter.record): processRecord sends it on
    if (end - 1 <= wm) return undefined
    seq++
    lastSource = source
    lastLine = line
    return boundsOf(start, end).text
  }

  /** processRecord (addCarried is its part for a carried window's record that is not built) */
  function processRecordOf(rec: Rec, out: Output): void {
    if (cfg.carried) {
      const why = agg!.check(rec.value)
      if (why !== undefined) return ctx.badRecord(rec, why)
      lastSource = rec.source
      lastLine = rec.line
      return processCarried(rec, rec.key ?? NO_KEY, seq++, out)
    }
    // A record the aggregate refuses (--on-error skip or dead-letter) is refused where the window
    // stage of `weir window … | weir aggregate …` would have passed it on: after its lateness,
    // and having shaped its session or count window (processSession, processUnbounded).
    let refused: string | undefined
    if (agg) refused = agg.check(rec.value)
    else if (spec.kind === 'tumbling' || spec.kind === 'sliding' || spec.kind === 'session') {
      const v = rec.value
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        return ctx.badRecord(rec, 'window: a record must be a JSON object to carry window_start and window_end')
    }
    const key = rec.key ?? NO_KEY
    const s = seq++
    lastSource = rec.source
    lastLine = rec.line
    if (spec.kind === 'tumbling' || spec.kind === 'sliding') processTimeWindows(rec, key, s, out, refused)
    else if (spec.kind === 'session') processSession(rec, key, s, out, refused)
    else processUnbounded(rec, key, s, out, refused)
  }

  return {
    uid,
    ...(spec.kind === 'tumbling' && !agg && !cfg.carried && cfg.timeMode === 'event' ? { windowTextOf } : {}),
    open(c) {
      ctx = c
      state = c.state.operator(uid)
      const st = state
      store = st.putHeld ? (key, ns, value) => st.putHeld!(key, ns, value) : (key, ns, value) => st.put(key, ns, value)
      if (agg) agg.onNonFinite = (name) => c.warn?.(overflowed(name))
      if (columns) {
        tables = new PaneTables(columns, (spec as { size: number }).size, lateness, MAX_WATERMARK)
        tableBound = c.state.heldEntries
      } else if (spec.kind === 'tumbling' || spec.kind === 'sliding') windowTimers = new WindowTimers(spec.size, lateness, MAX_WATERMARK, state.timerSpill?.())
      timers = new TimerQueue(spec.kind === 'session' ? state.timerSpill?.() : undefined)
    },
    processPane(edge: PaneEdge, out: Output) {
      // only a carried aggregate reads panes; every window operator's output is its own
      if (!cfg.carried) return
      if (edge === 'begin') pane = {}
      else {
        if (pane?.accs) emitRow(pane.key!, pane.window, pane.accs, out)
        pane = undefined
      }
    },
    ...(columns && cfg.carried ? { addCarried } : {}),
    processRecord: (rec, out) => processRecordOf(rec, out),
    snapshot() {
      if (tables) {
        // the tables go into state as the reference route keeps them (accumulators by key and
        // window start), so a snapshot is the same whichever route made it
        // (a table stored before: only its rows changed since, the others are in state as they are)
        for (const p of tables.panes()) {
          const all = !p.stored
          for (let row = 0; row < p.keys.length; row++) if (all || p.changed[row] === 1) store(p.keys[row]!, p.start, columns!.accsOf(p.columns, row))
          if (!all) p.changed.fill(0, 0, p.keys.length)
          p.stored = true
        }
        open = tables.rows
      }
      return { wm, seq, open, lastPos: { source: lastSource, line: lastLine } }
    },
    restore(snap) {
      const x = snap as { wm: number; seq: number; open: number; lastPos: Position }
      wm = x.wm
      seq = x.seq
      open = x.open ?? 0
      lastSource = x.lastPos.source
      lastLine = x.lastPos.line
      // Timers follow from the windows in state: each open window has its firing timer (unless it
      // has fired) and its cleanup timer. Rebuilding them here stores nothing twice.
      if (tables) {
        // into the tables while they may hold it; past their bound, the rest as the reference route
        // keeps it (no state is written during the visit: what was read stays where it is)
        const size = (spec as { size: number }).size
        state.forEach((key, ns, value) => {
          const start = ns as number
          if (!tables) return registerTimers(key, { start, end: start + size })
          const p = tables.pane(start, hasFired({ start, end: start + size }))
          columns!.setAccs(p.columns, tables.row(p, key), value as unknown[])
          p.stored = true
          if (tables.rows > tableBound) dropTables()
        })
        return
      }
      state.forEach((key, ns, value) => {
        if (ns === SESSIONS) for (const x of value as Session[]) registerTimers(key, x)
        else if (typeof ns === 'number' && (spec.kind === 'tumbling' || spec.kind === 'sliding')) registerTimers(key, { start: ns, end: ns + spec.size })
      })
    },
    processWatermark(t, out) {
      if (t <= wm) return
      wm = t
      expireUpTo(t)
      const next = nextTimerTime()
      if (eventTime && next !== undefined && next <= t) fireUpTo(t, out)
      out.watermark(t)
    },
    endInput(out) {
      wm = MAX_WATERMARK
      expireUpTo(MAX_WATERMARK)
      fireUpTo(MAX_WATERMARK, out)
      if (spec.kind === 'global' || spec.kind === 'count') {
        // Unlike Flink, a partial count window and the global window fire at the end of a
        // bounded input: a shell user expects the remainder (decisions.md 8).
        const ns = spec.kind === 'global' ? GLOBAL : COUNT
        state.forEachKey((key) => {
          const pane = state.get(key, ns) as Pane | undefined
          if (!pane) return
          emitPane(key, undefined, pane, out)
          state.delete(key, ns)
          open--
        })
      }
    },
    openWindows: () => (tables ? tables.rows : open),
    nextProcessingTime: () => (eventTime ? undefined : nextTimerTime()),
    onProcessingTime(now, out) {
      if (!eventTime) fireUpTo(now, out)
    },
  }
}

/** The first of disjoint sessions in order whose end is at or after t (they touch a window starting at t). */
function firstEndingFrom(list: readonly Window[], t: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.end >= t) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** The first of disjoint sessions in order, from `from` on, whose start is after t (they do not touch a window ending at t). */
function firstStartingAfter(list: readonly Window[], t: number, from: number): number {
  let lo = from
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]!.start > t) hi = mid
    else lo = mid + 1
  }
  return lo
}
