// Timers of time windows (tumbling and sliding): one entry per window, not one per key. Every
// window of such an assigner has the same size, so a window's firing time (end − 1) and cleanup
// time (end − 1 + lateness) follow from its start, and windows fire in order of start. What a
// window needs is the list of keys holding state in it: when its time comes they are sorted once
// into canonical order (decisions.md 9) and visited. With sparse keys, where most windows hold one
// record, a timer object per key and window was a third of the garbage (issue 19); a key in a list
// is one pointer.
import { compareCanon, plainOrdered, type Key } from '../stream/key.js'
import { heapPop, heapPush } from './timers.js'

/** Keys per window start, with a min-heap of the starts that have any. */
class StartQueue {
  private readonly heap: number[] = []
  private readonly keys = new Map<number, Key[]>()

  add(start: number, key: Key): void {
    const list = this.keys.get(start)
    if (list) {
      list.push(key)
      return
    }
    this.keys.set(start, [key])
    heapPush(this.heap, start)
  }

  first(): number | undefined {
    return this.heap[0]
  }

  /** Removes the first start and returns its keys in canonical order. */
  take(): Key[] {
    const start = heapPop(this.heap)
    const list = this.keys.get(start)!
    this.keys.delete(start)
    return sortByCanon(list)
  }
}

// Sorting a window's keys by rank (a native sort of numbers, the ranks kept in a map, then on the
// keys themselves) was tried twice and measured no faster in the job (issue 19): the sort is the
// first to reach each key's memory, and what it no longer pays, the firing that follows pays.
function sortByCanon(keys: Key[]): Key[] {
  if (keys.length < 2) return keys
  let plain = true
  for (let i = 0; i < keys.length && plain; i++) plain = plainOrdered(keys[i]!.canon)
  return keys.sort(plain ? (a, b) => (a.canon < b.canon ? -1 : a.canon > b.canon ? 1 : 0) : (a, b) => compareCanon(a.canon, b.canon))
}

export type WindowEvent = 'fire' | 'cleanup' | 'both'

/**
 * The firing and cleanup timers of windows [start, start + size). A window created after its
 * firing time (late, within the lateness) has only its cleanup. With no lateness one timer does
 * both. Times are ordered as Flink's timer service orders them: by time, then window start.
 */
export class WindowTimers {
  private readonly fires = new StartQueue()
  private readonly cleanups = new StartQueue()

  constructor(
    private readonly size: number,
    private readonly lateness: number,
    private readonly maxTime: number,
  ) {}

  fireTime(start: number): number {
    return start + this.size - 1
  }

  cleanupTime(start: number): number {
    return this.lateness > 0 ? Math.min(this.maxTime, start + this.size - 1 + this.lateness) : start + this.size - 1
  }

  /** Registers a key's new window: its firing unless `fired` already, and its cleanup. */
  add(key: Key, start: number, fired: boolean): void {
    const separate = this.cleanupTime(start) !== this.fireTime(start)
    if (!fired) this.fires.add(start, key)
    if (separate) this.cleanups.add(start, key)
  }

  /** The time of the next timer, or undefined. */
  peekTime(): number | undefined {
    const f = this.fires.first()
    const c = this.cleanups.first()
    const ft = f === undefined ? undefined : this.fireTime(f)
    const ct = c === undefined ? undefined : this.cleanupTime(c)
    if (ft === undefined) return ct
    if (ct === undefined) return ft
    return ft < ct ? ft : ct
  }

  /**
   * Visits every window whose next timer is at or before limit, in order of time and start, each
   * with its keys in canonical order. A window's firing comes before its own cleanup.
   */
  pollUpTo(limit: number, visit: (start: number, keys: Key[], event: WindowEvent) => void): void {
    for (;;) {
      const f = this.fires.first()
      const c = this.cleanups.first()
      const ft = f === undefined ? Infinity : this.fireTime(f)
      const ct = c === undefined ? Infinity : this.cleanupTime(c)
      if (ft > limit && ct > limit) return
      // at one time, the smaller start first; a window's firing before its cleanup
      if (ft < ct || (ft === ct && f! <= c!)) {
        const separate = this.cleanupTime(f!) !== ft
        visit(f!, this.fires.take(), separate ? 'fire' : 'both')
      } else visit(c!, this.cleanups.take(), 'cleanup')
    }
  }
}
