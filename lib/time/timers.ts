// Timers, as in Flink's InternalTimerService: a time, a key and a namespace (for windows, the
// window). They fire in order of time, then window start, then key in canonical order, which
// gives decisions.md 9's output order for window firings (a window fires at end − 1, so time order
// is end order). Timers are state: a durable backend will store this queue (a later issue).
import { compareCanon, type Key } from '../stream/key.js'

export interface Timer<P> {
  time: number
  /** tie-breaker after time: the window start */
  order: number
  key: Key
  payload: P
}

function before<P>(a: Timer<P>, b: Timer<P>): boolean {
  if (a.time !== b.time) return a.time < b.time
  if (a.order !== b.order) return a.order < b.order
  return compareCanon(a.key.canon, b.key.canon) < 0
}

/** A binary min-heap of timers. Stale timers are dropped by the caller when they fire. */
export class TimerQueue<P> {
  private heap: Timer<P>[] = []

  get size(): number {
    return this.heap.length
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time
  }

  add(t: Timer<P>): void {
    const h = this.heap
    h.push(t)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  /** Removes and returns the first timer if its time is ≤ limit. */
  pollUpTo(limit: number): Timer<P> | undefined {
    const h = this.heap
    if (h.length === 0 || h[0]!.time > limit) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l]!, h[m]!)) m = l
        if (r < h.length && before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}
