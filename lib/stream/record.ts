// The stream vocabulary: what flows from sources through operators to sinks.
import type { Key } from './key.js'
import type { Position } from './errors.js'

/** A window [start, end) in epoch milliseconds. Count and global windows have no time bounds. */
export interface Window {
  readonly start: number
  readonly end: number
}

/**
 * One record. It keeps the bytes of its line (decisions.md 1): a stage that does not change the
 * record writes `raw` unchanged, so `1.0`, `1e3` and integers above 2^53 survive and pass-through
 * costs no JSON.stringify. A stage that changes the value sets `raw` to undefined.
 */
export interface Rec extends Position {
  raw: string | undefined
  value: unknown
  /** Set by keyby; visible to every later operator without re-parsing. */
  key?: Key
  /** Event, ingestion or processing time in epoch ms, set by the time assigner. */
  time?: number
  /** Window assigned by a window stage (when the record is emitted with its window). */
  window?: Window
  /**
   * window_start and window_end end `raw` because a window stage added them to the record's own
   * text (not a row's, whose fields they are): a dead letter leaves them out (inputText).
   */
  stamped?: boolean
  /**
   * Made by a stage, not read (an aggregate's row, a process function's output): its lines are
   * counted, but it is no record read, so it has no fate of its own (stream/stats.ts).
   */
  derived?: true
  // Position (source, line) is spread into the record rather than nested: one object fewer per
  // record on the hot path. A record is its own position in error messages.
}

export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER
export const MIN_WATERMARK = Number.MIN_SAFE_INTEGER

/**
 * The stream as a union, for code that handles elements one at a time (the harness, and later the
 * side channel between processes). Operators receive the same events as method calls, which keeps
 * the hot path free of allocations.
 * - `end`: the input is bounded and finished: drain (watermark to the maximum, fire everything).
 * - `stop`: stop without draining (--no-flush, a signal, a dead upstream): open windows stay in state.
 * - `barrier`: a checkpoint barrier (a later issue takes the snapshot).
 */
export type StreamElement =
  | { kind: 'record'; rec: Rec }
  | { kind: 'watermark'; time: number }
  | { kind: 'barrier'; checkpoint: number }
  | { kind: 'end' }
  | { kind: 'stop' }

export function assertNever(x: never): never {
  throw new Error('unhandled stream element: ' + JSON.stringify(x))
}

/** The JSON text of a record: its original bytes when it is unchanged. */
export function recordText(rec: Rec): string {
  return rec.raw ?? JSON.stringify(rec.value) ?? 'null'
}

/**
 * The JSON text of an output row whose fields `names` hold key values with exact texts (integers
 * beyond 2^53: stream/key.ts), which JSON.stringify would write rounded.
 */
export function rowText(row: Record<string, unknown>, names: readonly string[], texts: readonly (string | undefined)[]): string {
  const exact = new Map<string, string>()
  names.forEach((n, i) => texts[i] !== undefined && exact.set(n, texts[i]!))
  const parts: string[] = []
  for (const [k, v] of Object.entries(row)) {
    const text = exact.get(k) ?? JSON.stringify(v)
    if (text !== undefined) parts.push(JSON.stringify(k) + ':' + text)
  }
  return '{' + parts.join(',') + '}'
}

/**
 * A record's text as its input held it, for a dead letter. A window stage adds window_start and
 * window_end at the end of a record's text (operators/window.ts withWindow, and the pipe path
 * that writes the same bytes), and a stage after it, in the same process or through a pipe,
 * holds that text; the then form, where window and aggregate fuse, names the input line. So the
 * two fields go when a window stage added them (Rec.stamped), end the text and hold the
 * record's own window. (Through a pipe, a record whose input ended with exactly those two fields
 * and values loses them here: the window stage would have set them so anyway.)
 */
export function inputText(rec: Rec): string {
  const raw = rec.raw ?? JSON.stringify(rec.value)
  const w = rec.window
  if (w === undefined || rec.stamped !== true) return raw
  const at = raw.lastIndexOf('"window_start":')
  if (at < 1) return raw
  let tail: Record<string, unknown>
  try {
    tail = JSON.parse('{' + raw.slice(at)) as Record<string, unknown>
  } catch {
    return raw
  }
  const names = Object.keys(tail)
  if (names.length !== 2 || names[1] !== 'window_end' || !isBound(tail.window_start, w.start) || !isBound(tail.window_end, w.end)) return raw
  // `,` before the fields, or `{` when the record was empty
  if (raw[at - 1] === ',') return raw.slice(0, at - 1) + '}'
  return raw.slice(0, at) + '}'
}

/** Whether a window bound as written (ms, s or ISO) is `ms`. */
function isBound(v: unknown, ms: number): boolean {
  if (typeof v === 'number') return v === ms || Math.round(v * 1000) === ms
  return typeof v === 'string' && Date.parse(v) === ms
}
