// Window assigners: which windows a record belongs to. Pure functions of the timestamp, as
// Flink's WindowAssigner; when a window fires is the window operator's business.
import type { Window } from '../../stream/record.js'

export type WindowSpec =
  | { kind: 'tumbling'; size: number; offset: number }
  | { kind: 'sliding'; size: number; slide: number; offset: number }
  | { kind: 'session'; gap: number }
  | { kind: 'global' }
  | { kind: 'count'; size: number }

/**
 * Start of the window of length `size` containing ts: ts − floorMod(ts − offset, size).
 * JavaScript's % truncates toward zero, so a floor-mod is needed for times before the epoch or
 * the offset: for ts −8 and size 7 the window starts at −14, as in Flink (decisions.md 4).
 */
export function windowStart(ts: number, offset: number, size: number): number {
  const r = (ts - offset) % size
  return ts - (r < 0 ? r + size : r)
}

export function tumbling(ts: number, size: number, offset: number): Window {
  const start = windowStart(ts, offset, size)
  return { start, end: start + size }
}

/** Every window of a sliding assigner containing ts, in order of start. */
export function sliding(ts: number, size: number, slide: number, offset: number): Window[] {
  const out: Window[] = []
  const last = windowStart(ts, offset, slide)
  let first = last
  while (first - slide > ts - size) first -= slide
  for (let start = first; start <= last; start += slide) out.push({ start, end: start + size })
  return out
}

/**
 * Flink's TimeWindow.intersects: ≤ on both ends, so windows that only touch merge, and two
 * records exactly GAP apart are in one session (decisions.md 6).
 */
export function intersects(a: Window, b: Window): boolean {
  return a.start <= b.end && a.end >= b.start
}

export function cover(a: Window, b: Window): Window {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) }
}
