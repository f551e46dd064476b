// Timers, as in Flink's InternalTimerService: a time, a key and a namespace (for windows, the
// window). They fire in order of time, then window start, then key in canonical order, which
// gives decisions.md 9's output order for window firings (a window fires at end − 1, so time order
// is end order). Timers are state: a durable backend will store this queue (a later issue).
import { compareCanon, plainOrdered, type Key } from '../stream/key.js'

export interface Timer<P> {
  time: number
  /** tie-breaker after time: the window start */
  order: number
  key: Key
  payload: P
}

function compareTimers<P>(a: Timer<P>, b: Timer<P>): number {
  return a.order - b.order || compareCanon(a.key.canon, b.key.canon)
}

/** compareTimers, where every key is plainOrdered. */
function comparePlainTimers<P>(a: Timer<P>, b: Timer<P>): number {
  const d = a.order - b.order
  if (d !== 0) return d
  const x = a.key.canon
  const y = b.key.canon
  return x === y ? 0 : x < y ? -1 : 1
}

/**
 * Timers grouped by time: a min-heap of distinct times, and for each time its timers. Windows of
 * many keys end together, so one time typically holds thousands of timers: they are sorted once
 * when their time comes, rather than compared key by key on every heap operation. A timer added
 * for a time that is being fired fires after the ones already sorted; one added for an earlier
 * time fires next, as in Flink's timer service (the rest of the time being fired is set aside
 * and sorted again with anything added for it meanwhile). Stale timers are dropped by the caller
 * when they fire.
 */
export class TimerQueue<P> {
  private times: number[] = []
  private readonly buckets = new Map<number, Timer<P>[]>()
  private draining: Timer<P>[] = []
  private drainIndex = 0
  private count = 0

  get size(): number {
    return this.count
  }

  peekTime(): number | undefined {
    const heapTop = this.times[0]
    if (this.drainIndex < this.draining.length) {
      const t = this.draining[this.drainIndex]!.time
      return heapTop !== undefined && heapTop < t ? heapTop : t
    }
    return heapTop
  }

  add(t: Timer<P>): void {
    this.count++
    const bucket = this.buckets.get(t.time)
    if (bucket) bucket.push(t)
    else this.newBucket(t.time, [t])
  }

  private newBucket(time: number, timers: Timer<P>[]): void {
    this.buckets.set(time, timers)
    heapPush(this.times, time)
  }

  /** Removes and returns the first timer if its time is ≤ limit. */
  pollUpTo(limit: number): Timer<P> | undefined {
    if (this.drainIndex < this.draining.length && this.times.length > 0 && this.times[0]! < this.draining[this.drainIndex]!.time) {
      // an earlier timer came in while this time fires: it fires next, the rest of this time after
      const rest = this.draining.slice(this.drainIndex)
      const bucket = this.buckets.get(rest[0]!.time)
      if (bucket) bucket.push(...rest)
      else this.newBucket(rest[0]!.time, rest)
      this.draining = []
      this.drainIndex = 0
    }
    if (this.drainIndex >= this.draining.length) {
      const h = this.times
      if (h.length === 0 || h[0]! > limit) return undefined
      const time = this.popTime()
      const bucket = this.buckets.get(time)!
      this.buckets.delete(time)
      let plain = true
      for (let i = 0; i < bucket.length && plain; i++) plain = plainOrdered(bucket[i]!.key.canon)
      bucket.sort(plain ? comparePlainTimers : compareTimers)
      this.draining = bucket
      this.drainIndex = 0
    }
    const t = this.draining[this.drainIndex]!
    if (t.time > limit) return undefined
    this.draining[this.drainIndex++] = undefined as unknown as Timer<P> // let it be collected
    this.count--
    return t
  }

  private popTime(): number {
    return heapPop(this.times)
  }
}

/** Adds x to a binary min-heap of numbers kept in an array. */
export function heapPush(h: number[], x: number): void {
  h.push(x)
  let i = h.length - 1
  while (i > 0) {
    const p = (i - 1) >> 1
    if (h[p]! <= h[i]!) break
    ;[h[i], h[p]] = [h[p]!, h[i]!]
    i = p
  }
}

/** Removes and returns the least number of a non-empty binary min-heap. */
export function heapPop(h: number[]): number {
  const top = h[0]!
  const last = h.pop()!
  if (h.length > 0) {
    h[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && h[l]! < h[m]!) m = l
      if (r < h.length && h[r]! < h[m]!) m = r
      if (m === i) break
      ;[h[i], h[m]] = [h[m]!, h[i]!]
      i = m
    }
  }
  return top
}
