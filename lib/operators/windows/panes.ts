// The open windows of a tumbling or sliding window with its aggregate, as tables: one per window
// (all of one size; a sliding window's record is in several), a row per key holding state in it,
// the accumulators in columns (aggregates/columns.ts). The columnar route
// of issue 19: instead of an accumulator array per (key, window) in keyed state, a slot for it in
// the key's state list and the key in the window's timer list, a window is one table that knows
// its keys, and a key's rows are numbers next to its neighbours'. Each table has one timer, its
// firing or its cleanup, ordered as WindowTimers orders them (time, then start).
//
// Only where state is held in memory anyway (KeyedStateBackend.holdsAllInMemory): on LMDB, state
// beyond the write-back cache goes to disk, and tables of every open key would not (decisions.md
// 32). The window operator writes the tables into keyed state when it is snapshotted and reads
// them back on restore, in the reference route's layout, so a snapshot is the same either way.
import { compareCanon, plainOrdered, type Key } from '../../stream/key.js'
import type { ColumnAggregator, ColumnTable } from '../aggregates/columns.js'
import { cleanupTimeOf } from '../../time/window-timers.js'

const FIRST_CAPACITY = 16

/** Numbers the tables of every operator in the process (Key.paneId: 0 is none). */
let nextPaneId = 1

/** One open window [start, end): its keys by row, and their accumulators. */
export interface Pane {
  readonly start: number
  readonly end: number
  readonly keys: Key[]
  /** this table's number, unique in the process (Key.paneId) */
  readonly id: number
  /** rows by canonical key, for a key whose Key object does not point here (Key.paneId) */
  readonly rowOf: Map<string, number>
  readonly columns: ColumnTable
  /** has fired: what comes now is late within the lateness, and only its cleanup is due */
  fired: boolean
  /** its rows were written to keyed state by a snapshot: cleanup deletes them there too */
  stored: boolean
  /**
   * Once stored, the rows changed since (1): a snapshot writes only these. On sparse keys a window
   * holds one or two records and outlives a checkpoint or two unchanged; each write of it again
   * was a put, an encoding and an LMDB write at the checkpoint.
   */
  changed: Uint8Array
  /** its next timer: its firing, or once fired its cleanup */
  next: number
}

export class PaneTables {
  private readonly byStart = new Map<number, Pane>()
  /** the pane found last: consecutive records mostly fall into one window */
  private last: Pane | undefined
  /** panes by (next, start) */
  private readonly heap: Pane[] = []
  /** (key, window) pairs holding state */
  rows = 0

  constructor(
    private readonly columns: ColumnAggregator,
    private readonly size: number,
    private readonly lateness: number,
    private readonly maxTime: number,
  ) {}

  private cleanupTime(end: number): number {
    return cleanupTimeOf(end, this.lateness, this.maxTime)
  }

  /** The pane of the window starting at `start`, opened if need be (`fired`: its firing time has passed). */
  pane(start: number, fired: boolean): Pane {
    const last = this.last
    if (last !== undefined && last.start === start) return last
    let p = this.byStart.get(start)
    if (p === undefined) {
      const end = start + this.size
      p = {
        id: nextPaneId++,
        start,
        end,
        keys: [],
        rowOf: new Map(),
        columns: this.columns.table(FIRST_CAPACITY),
        fired,
        stored: false,
        changed: new Uint8Array(FIRST_CAPACITY),
        next: fired ? this.cleanupTime(end) : end - 1,
      }
      this.byStart.set(start, p)
      this.push(p)
    }
    this.last = p
    return p
  }

  /** The key's row in the pane, added (as create() makes accumulators) if it has none. */
  row(p: Pane, key: Key): number {
    if (key.paneId === p.id) return key.paneRow!
    let row = p.rowOf.get(key.canon)
    if (row === undefined) {
      row = p.keys.length
      if (row === p.columns.capacity) {
        this.columns.grow(p.columns, row * 2)
        const changed = new Uint8Array(row * 2)
        changed.set(p.changed)
        p.changed = changed
      }
      this.columns.clear(p.columns, row)
      p.keys.push(key)
      p.rowOf.set(key.canon, row)
      this.rows++
    }
    key.paneId = p.id
    key.paneRow = row
    return row
  }

  /** The time of the next timer, or undefined. */
  peekTime(): number | undefined {
    return this.heap.length === 0 ? undefined : this.heap[0]!.next
  }

  /** Every pane, in no promised order (for snapshots). */
  panes(): IterableIterator<Pane> {
    return this.byStart.values()
  }

  /**
   * Visits every pane whose timer is at or before limit, in order of time and start: `fire` with
   * its rows in canonical key order when it fires, `cleanup` when it goes (after its firing, when
   * both are at one time). A cleaned-up pane is forgotten.
   */
  pollUpTo(limit: number, visit: (p: Pane, fire: number[] | undefined, cleanup: boolean) => void): void {
    const heap = this.heap
    while (heap.length > 0 && heap[0]!.next <= limit) {
      const p = heap[0]!
      const cleanupAt = this.cleanupTime(p.end)
      const fire = !p.fired
      const cleanup = !fire || cleanupAt === p.next
      p.fired = true
      if (cleanup) {
        this.pop()
        this.byStart.delete(p.start)
        if (this.last === p) this.last = undefined
        this.rows -= p.keys.length
      } else {
        p.next = cleanupAt
        this.siftDown(0)
      }
      visit(p, fire ? rowsByCanon(p) : undefined, cleanup)
    }
  }

  // a binary heap by (next, start); few windows are open at once, but a job with small windows
  // and a long delay has thousands

  private less(a: Pane, b: Pane): boolean {
    return a.next < b.next || (a.next === b.next && a.start < b.start)
  }

  private push(p: Pane): void {
    const heap = this.heap
    let i = heap.push(p) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }

  private pop(): void {
    const heap = this.heap
    const last = heap.pop()!
    if (heap.length === 0) return
    heap[0] = last
    this.siftDown(0)
  }

  private siftDown(i: number): void {
    const heap = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
      i = m
    }
  }
}

/**
 * The pane's rows in canonical key order (decisions.md 9). Where every canonical text is plain
 * (compareCanon is then UTF-16 order), the texts go through the default sort, which compares
 * strings without calling back into JavaScript, and each finds its row in the pane's map: 0.75×
 * the time of a comparator over the rows (3,000 keys a window, micro-benchmark).
 */
function rowsByCanon(p: Pane): number[] {
  const keys = p.keys
  const n = keys.length
  const rows = new Array<number>(n)
  const canons = new Array<string>(n)
  let plain = true
  for (let i = 0; i < n; i++) {
    const c = keys[i]!.canon
    canons[i] = c
    if (plain) plain = plainOrdered(c)
  }
  if (plain) {
    canons.sort()
    for (let i = 0; i < n; i++) rows[i] = p.rowOf.get(canons[i]!)!
    return rows
  }
  for (let i = 0; i < n; i++) rows[i] = i
  return rows.sort((a, b) => compareCanon(canons[a]!, canons[b]!))
}
