// Timers, as in Flink's InternalTimerService: a time, a key and a namespace (for windows, the
// window). They fire in order of time, then window start, then key in canonical order, which
// gives decisions.md 9's output order for window firings (a window fires at end − 1, so time order
// is end order). Timers follow from keyed state and are rebuilt from it on restore; with LMDB
// state, those beyond a bounded head in memory wait in a spill on disk (decisions.md 32).
import { inOneBatch, type TimerSpill } from '../state/backend.js'
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

/** Sorts one time's timers by order, then key. */
function sortTimers<P>(timers: Timer<P>[]): Timer<P>[] {
  let plain = true
  for (let i = 0; i < timers.length && plain; i++) plain = plainOrdered(timers[i]!.key.canon)
  return timers.sort(plain ? comparePlainTimers : compareTimers)
}

/** Timers read back from a spill at a time, while a time with spilled timers fires. */
const SPILL_READ = 16_384

/**
 * Timers grouped by time: a min-heap of distinct times, and for each time its timers. Windows of
 * many keys end together, so one time typically holds thousands of timers: they are sorted once
 * when their time comes, rather than compared key by key on every heap operation. A timer added
 * for a time that is being fired fires after the ones already sorted; one added for an earlier
 * time fires next, as in Flink's timer service (the rest of the time being fired is set aside
 * and sorted again with anything added for it meanwhile). Stale timers are dropped by the caller
 * when they fire.
 *
 * With a spill, at most `spill.headKeys` timers wait in memory: beyond that, the timers of the
 * latest times go to the spill, whole times at once, and a time whose timers were spilled fires
 * them a slice at a time, merged in order with those added for it in memory since.
 */
export class TimerQueue<P> {
  private times: number[] = []
  private readonly buckets = new Map<number, Timer<P>[]>()
  /** the time being fired, and its timers sorted: the current slice, from drainIndex on */
  private drainTime: number | undefined
  private draining: Timer<P>[] = []
  private drainIndex = 0
  /** of a time being fired from the spill: its timers in memory after the current slice, sorted */
  private drainRest: Timer<P>[] = []
  /**
   * Whether timers of the time being fired are left in the spill: `ahead` holds the next of them,
   * read one beyond the slice so that this is known, not guessed (peekTime must not name a time
   * with no timer left).
   */
  private drainMore = false
  private ahead: Timer<P> | undefined
  /** times with timers in the spill (besides the one being fired) */
  private readonly spilled = new Set<number>()
  /** timers in buckets (what the head bound counts) */
  private held = 0
  private count = 0
  /**
   * Times in the heap whose bucket delete emptied and removed (one each: a time given timers
   * again gets a second entry, and one of the two is left without a bucket either way)
   */
  private emptied = 0

  /** `queue`: this queue's lists in the spill, when a spill is shared */
  constructor(
    private readonly spill?: TimerSpill,
    private readonly queue = 0,
  ) {}

  get size(): number {
    return this.count
  }

  /**
   * Runs f (a firing of many timers) with the spill's reads and writes together, one transaction
   * on disk instead of one per time.
   */
  batched<T>(f: () => T): T {
    // nothing on disk to read back: no transaction to open
    return this.spilled.size > 0 || this.drainMore ? inOneBatch(this.spill, f) : f()
  }

  /** Whether the time being fired has timers left (in this slice, in memory or in the spill). */
  private drainingLeft(): boolean {
    return this.drainIndex < this.draining.length || this.drainRest.length > 0 || this.drainMore
  }

  peekTime(): number | undefined {
    this.dropEmptyTimes()
    const heapTop = this.times[0]
    if (this.drainTime !== undefined && this.drainingLeft()) {
      const t = this.drainTime
      return heapTop !== undefined && heapTop < t ? heapTop : t
    }
    return heapTop
  }

  add(t: Timer<P>): void {
    this.count++
    this.held++
    const bucket = this.buckets.get(t.time)
    if (bucket) bucket.push(t)
    else this.newBucket(t.time, [t])
    if (this.spill !== undefined && this.held > this.spill.headKeys) this.spillLatest(this.spill)
  }

  /**
   * Removes a timer waiting in memory (not one in the spill, nor one of the time being fired,
   * whose caller drops it when it fires, as before); returns whether it was there. A session that
   * grows replaces its timers: without this, a key whose session kept growing kept two dead timers
   * per record until their time (~270 bytes a record).
   */
  delete(time: number, order: number, key: Key): boolean {
    if (time === this.drainTime) return false
    const bucket = this.buckets.get(time)
    if (bucket === undefined) return false
    const canon = key.canon
    let i = bucket.length - 1
    while (i >= 0 && !(bucket[i]!.order === order && (bucket[i]!.key === key || bucket[i]!.key.canon === canon))) i--
    if (i < 0) return false
    bucket[i] = bucket[bucket.length - 1]!
    bucket.pop()
    this.count--
    this.held--
    // an emptied time leaves the heap when it comes to the top (dropEmptyTimes); one with timers
    // in the spill keeps its (empty) bucket, as spillLatest leaves it
    if (bucket.length === 0 && !this.spilled.has(time)) {
      this.buckets.delete(time)
      this.emptied++
    }
    return true
  }

  /** Drops the times at the top of the heap whose timers were all deleted. */
  private dropEmptyTimes(): void {
    // (peekTime runs for every record: without deletes, nothing to look up)
    if (this.emptied === 0) return
    const h = this.times
    while (h.length > 0 && !this.buckets.has(h[0]!)) heapPop(h), this.emptied--
  }

  private newBucket(time: number, timers: Timer<P>[]): void {
    this.buckets.set(time, timers)
    heapPush(this.times, time)
  }

  /** Removes and returns the first timer if its time is ≤ limit. */
  pollUpTo(limit: number): Timer<P> | undefined {
    this.dropEmptyTimes()
    if (this.drainTime !== undefined && this.drainingLeft() && this.times.length > 0 && this.times[0]! < this.drainTime) {
      // an earlier timer came in while this time fires: it fires next, the rest of this time after
      // (what is left of the slice comes before the rest in memory: the two stay sorted)
      const time = this.drainTime
      const rest = this.draining.slice(this.drainIndex).concat(this.drainRest)
      if (this.ahead) rest.push(this.ahead) // a bucket is sorted when its time comes
      this.held += rest.length
      const bucket = this.buckets.get(time)
      if (bucket) bucket.push(...rest)
      else this.newBucket(time, rest)
      if (this.drainMore) this.spilled.add(time)
      this.endDrain()
    }
    // the next slice of the time being fired, else the next time; a slice may come out empty
    // (the spill's last read was a full one, and nothing was left)
    while (this.drainIndex >= this.draining.length) {
      if (this.drainTime !== undefined && (this.drainRest.length > 0 || this.drainMore)) {
        if (this.drainTime > limit) return undefined
        this.nextSlice()
        continue
      }
      this.endDrain()
      this.dropEmptyTimes()
      const h = this.times
      if (h.length === 0 || h[0]! > limit) return undefined
      const time = heapPop(h)
      const bucket = this.buckets.get(time)!
      this.buckets.delete(time)
      this.held -= bucket.length
      this.drainTime = time
      if (this.spilled.delete(time)) {
        this.drainRest = sortTimers(bucket)
        this.drainMore = true
        this.nextSlice()
      } else this.draining = sortTimers(bucket)
    }
    const t = this.draining[this.drainIndex]!
    if (t.time > limit) return undefined
    this.draining[this.drainIndex++] = undefined as unknown as Timer<P> // let it be collected
    this.count--
    return t
  }

  private endDrain(): void {
    this.drainTime = undefined
    this.draining = []
    this.drainIndex = 0
    this.drainRest = []
    this.drainMore = false
    this.ahead = undefined
  }

  /** The next slice of the time being fired: timers from the spill merged with those in memory. */
  private nextSlice(): void {
    const time = this.drainTime!
    const slice = Math.max(1, Math.min(SPILL_READ, this.spill!.headKeys))
    let disk: Timer<P>[] = []
    if (this.drainMore) {
      const read = this.spill!.take(this.queue, time, this.ahead ? slice : slice + 1) as Timer<P>[]
      disk = this.ahead ? [this.ahead, ...read] : read
      this.ahead = disk.length > slice ? disk.pop() : undefined
      this.drainMore = this.ahead !== undefined
    }
    // memory timers up to the slice's last go with it; with nothing left in the spill, all of them
    const last = this.drainMore ? disk[disk.length - 1] : undefined
    const mem = this.drainRest
    const out: Timer<P>[] = []
    let d = 0
    let m = 0
    for (;;) {
      const a = d < disk.length ? disk[d]! : undefined
      const b = m < mem.length && (last === undefined || compareTimers(mem[m]!, last) <= 0) ? mem[m]! : undefined
      if (a === undefined && b === undefined) break
      if (b === undefined || (a !== undefined && compareTimers(a, b) <= 0)) out.push(a!), d++
      else out.push(b), m++
    }
    this.drainRest = m === 0 ? mem : mem.slice(m)
    this.draining = out
    this.drainIndex = 0
  }

  /**
   * Brings the timers in memory down to 90% of the head's bound (so a spill writes at least a
   * tenth of it at once), moving whole times, the latest first; never the time being fired. Timers
   * a spill cannot keep (a key too long) stay in memory.
   */
  private spillLatest(spill: TimerSpill): void {
    const target = spill.headKeys - Math.max(1, Math.floor(spill.headKeys / 10))
    // the times in a typed array, sorted without a comparator: a session's timers are nearly all
    // of distinct times, so this sorts some 100,000 times per spill (3 s of a 57 s run as an array
    // of numbers sorted by a callback)
    const times = new Float64Array(this.buckets.size)
    let n = 0
    for (const [time, bucket] of this.buckets) if (time !== this.drainTime && bucket.length > 0) times[n++] = time
    const latestFirst = times.subarray(0, n).sort().reverse()
    // every time in one write: timers all of distinct times (a session's, one per record) made a
    // write, and so a commit, per timer
    const move = () => {
      for (const time of latestFirst) {
        if (this.held <= target) return
        const bucket = this.buckets.get(time)!
        const kept = spill.write(this.queue, time, bucket) as Timer<P>[]
        this.held -= bucket.length - kept.length
        this.buckets.set(time, kept)
        this.spilled.add(time)
      }
    }
    inOneBatch(spill, move)
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
