// Timers of time windows (tumbling and sliding): one entry per window, not one per key. Every
// window of such an assigner has the same size, so a window's firing time (end − 1) and cleanup
// time (end − 1 + lateness) follow from its start, and windows fire in order of start. What a
// window needs is the list of keys holding state in it: when its time comes they are sorted once
// into canonical order (decisions.md 9) and visited. With sparse keys, where most windows hold one
// record, a timer object per key and window was a third of the garbage (issue 19); a key in a list
// is one pointer.
import { inOneBatch, type TimerSpill } from '../state/backend.js'
import { compareCanon, plainOrdered, type Key } from '../stream/key.js'
import { heapPop, heapPush } from './timers.js'

/** Keys read back from a spill at a time, while a window of spilled keys fires. */
const SPILL_READ = 16_384

/** How many keys the queues hold in memory, and where the rest go (decisions.md 32). */
interface Head {
  held: number
  readonly spill: TimerSpill | undefined
}

/** Keys per window start, with a min-heap of the starts that have any. */
class StartQueue {
  private readonly heap: number[] = []
  private readonly keys = new Map<number, Key[]>()
  /** starts some of whose keys are in the spill */
  private readonly spilled = new Set<number>()

  constructor(
    private readonly head: Head,
    /** this queue's lists in the spill */
    private readonly id: number,
  ) {}

  add(start: number, key: Key): void {
    this.head.held++
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

  /** Whether some of its keys are in the spill. */
  get spills(): boolean {
    return this.spilled.size > 0
  }

  /**
   * Removes the first start and visits its keys in canonical order: in one list, or, when some
   * are in the spill, in several, each read from disk and merged with those in memory.
   */
  take(visit: (keys: Key[]) => void): void {
    const start = heapPop(this.heap)
    const list = this.keys.get(start)!
    this.keys.delete(start)
    this.head.held -= list.length
    const inMemory = sortByCanon(list)
    if (!this.spilled.delete(start)) return visit(inMemory)
    const spill = this.head.spill!
    // read in slices no larger than the head, none open while visiting (a visit reads and writes state)
    const slice = Math.max(1, Math.min(SPILL_READ, spill.headKeys))
    let m = 0
    for (;;) {
      const disk = spill.take(this.id, start, slice).map((t) => t.key)
      const more = disk.length === slice
      const last = more ? disk[disk.length - 1]!.canon : undefined
      const out: Key[] = []
      let d = 0
      for (;;) {
        const a = d < disk.length ? disk[d]! : undefined
        const b = m < inMemory.length && (last === undefined || compareCanon(inMemory[m]!.canon, last) <= 0) ? inMemory[m]! : undefined
        if (a === undefined && b === undefined) break
        const c = a === undefined ? 1 : b === undefined ? -1 : compareCanon(a.canon, b.canon)
        if (c < 0) out.push(a!), d++
        else if (c > 0) out.push(b!), m++
        else out.push(a!), d++, m++ // in both (not expected): once
      }
      if (out.length > 0) visit(out)
      if (!more) return
    }
  }

  /** (start, keys in memory) of every start that has keys in memory. */
  lists(): IterableIterator<[number, Key[]]> {
    return this.keys.entries()
  }

  /** Moves a start's keys in memory to the spill. */
  spillList(start: number): void {
    const list = this.keys.get(start)!
    const kept = this.head.spill!.write(this.id, start, list.map((key) => ({ time: start, order: 0, key, payload: null })))
    this.head.held -= list.length - kept.length
    this.keys.set(start, kept.map((t) => t.key))
    this.spilled.add(start)
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
 * When a window [.., end) is cleaned up: at end − 1 + lateness (capped at `maxTime`, the last
 * watermark), or with no lateness at end − 1, when it fires. Sessions and time windows alike.
 */
export function cleanupTimeOf(end: number, lateness: number, maxTime: number): number {
  return lateness > 0 ? Math.min(maxTime, end - 1 + lateness) : end - 1
}

/**
 * The firing and cleanup timers of windows [start, start + size). A window created after its
 * firing time (late, within the lateness) has only its cleanup. With no lateness one timer does
 * both. Times are ordered as Flink's timer service orders them: by time, then window start.
 */
export class WindowTimers {
  private readonly head: Head
  private readonly fires: StartQueue
  private readonly cleanups: StartQueue

  /**
   * `spill`: where keys go beyond `spill.headKeys` in memory, the windows that fire last first;
   * without one every key stays in memory.
   */
  constructor(
    private readonly size: number,
    private readonly lateness: number,
    private readonly maxTime: number,
    spill?: TimerSpill,
  ) {
    this.head = { held: 0, spill }
    this.fires = new StartQueue(this.head, 0)
    this.cleanups = new StartQueue(this.head, 1)
  }

  fireTime(start: number): number {
    return start + this.size - 1
  }

  cleanupTime(start: number): number {
    return cleanupTimeOf(start + this.size, this.lateness, this.maxTime)
  }

  /** Registers a key's new window: its firing unless `fired` already, and its cleanup. */
  add(key: Key, start: number, fired: boolean): void {
    const separate = this.cleanupTime(start) !== this.fireTime(start)
    if (!fired) this.fires.add(start, key)
    if (separate) this.cleanups.add(start, key)
    const spill = this.head.spill
    if (spill !== undefined && this.head.held > spill.headKeys) this.spillFurthest(spill.headKeys)
  }

  /**
   * Brings the keys in memory down to 90% of the head's bound (so a spill writes at least a tenth
   * of it at once), moving whole lists, the windows whose timers come last first. Keys too long to
   * spill stay in memory and may keep the head above its bound: a key of a kilobyte is rare.
   */
  private spillFurthest(bound: number): void {
    const target = bound - Math.max(1, Math.floor(bound / 10))
    const lists: { queue: StartQueue; start: number; time: number }[] = []
    for (const [start, keys] of this.fires.lists()) if (keys.length > 0) lists.push({ queue: this.fires, start, time: this.fireTime(start) })
    for (const [start, keys] of this.cleanups.lists()) if (keys.length > 0) lists.push({ queue: this.cleanups, start, time: this.cleanupTime(start) })
    lists.sort((a, b) => b.time - a.time || b.start - a.start)
    // every list in one write (TimerQueue.spillLatest)
    const move = () => {
      for (const l of lists) {
        if (this.head.held <= target) return
        l.queue.spillList(l.start)
      }
    }
    inOneBatch(this.head.spill, move)
  }

  /** Runs f (a firing of many windows) with the spill's reads and writes together (TimerQueue.batched). */
  batched<T>(f: () => T): T {
    // nothing on disk to read back: no transaction to open
    return this.fires.spills || this.cleanups.spills ? inOneBatch(this.head.spill, f) : f()
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
   * with its keys in canonical order (in several consecutive visits when some were spilled). A
   * window's firing comes before its own cleanup.
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
        const event = this.cleanupTime(f!) !== ft ? 'fire' : 'both'
        this.fires.take((keys) => visit(f!, keys, event))
      } else this.cleanups.take((keys) => visit(c!, keys, 'cleanup'))
    }
  }
}
