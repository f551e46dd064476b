// Keyed state behind one interface. Every stateful operator keeps its keyed state here, per key and
// per namespace (a window, a user state name), addressed by key group first: [uid, keyGroup, key,
// ns]. The memory backend (memory.ts) serves runs without a job dir; the LMDB backend (lmdb.ts)
// serves durable jobs behind a bounded write-back cache flushed at checkpoint barriers, versioned by
// checkpoint epoch (decisions.md 18), with the same key layout, so that a job can later be split by
// key group across workers and rescaled. The job chooses the backend and injects it; an operator
// never names one.
//
// Ownership: a value given to `put` belongs to the backend, and values are plain data (JSON-like:
// numbers, strings, null, booleans, arrays, plain objects), never class instances, Sets or Maps.
// An operator may mutate a value it got from `get` but must `put` it again: the put is what marks
// it dirty for the write-back cache, and a mutation without one is lost on LMDB. User code
// (process functions) never sees these objects: its state wrappers copy on read and write
// (decisions.md 22), so mutating an object after `update` behaves the same in every backend.
import type { Key } from '../stream/key.js'

export type Namespace = string | number

/**
 * Bumped when what is stored changes: a key's canonical form, an accumulator's layout, an
 * operator snapshot's shape (decisions.md 33). A job dir of another format is refused, naming both,
 * unless this weir reads it as it is (OLDEST_STATE_FORMAT): its state is then marked as this
 * format once this weir writes to it, so that an older weir refuses it rather than misread it.
 * 2: integer keys and distinct values beyond 2^53 keep their exact digits
 * 3: a session, count or global window whose records the aggregate all refused is marked (none)
 * 4: numeric namespaces below an operator's expiry bound at a checkpoint are dead without a
 *    tombstone (OperatorState.expireBelow; LMDB meta 'expiry'): a weir of format 3 would read them
 *    as live windows and fire them again
 */
export const STATE_FORMAT = 4
/** The oldest format this weir reads: 2 lacks only what 3 added (no window is marked none there). */
export const OLDEST_STATE_FORMAT = 2

export interface OperatorState {
  get(key: Key, ns: Namespace): unknown
  put(key: Key, ns: Namespace, value: unknown): void
  /**
   * A put of a value the operator also keeps in a form of its own (heldEntries: the columnar
   * windows at a snapshot), which it will not `get`: a durable backend writes it at the next
   * checkpoint and need not keep it cached after. Absent: `put`.
   */
  putHeld?(key: Key, ns: Namespace, value: unknown): void
  delete(key: Key, ns: Namespace): void
  /**
   * Visits every key holding state, in canonical key order (decisions.md 9: the output order),
   * whatever the storage order: a key-group-first store merges its groups' sorted ranges, a slice
   * at a time, never listing every key at once (decisions.md 32). `fn` may read and change the
   * state of the key it visits; a key that gains state during the visit may or may not be visited.
   */
  forEachKey(fn: (key: Key) => void): void
  /** forEachKey's keys, as one list (for tests and small states). */
  keys(): Key[]
  /**
   * Visits every (key, namespace, value), in no promised order; used on restore to rebuild what
   * follows from state (a window's timers). The callback must not change state.
   */
  forEach(fn: (key: Key, ns: Namespace, value: unknown) => void): void
  /**
   * Declares every numeric namespace below `bound` expired, for good (bounds only rise): a time
   * window whose cleanup the watermark has passed (decisions.md 32). The operator deletes such
   * state as before, but a durable backend then writes no tombstone: a checkpoint records the
   * bound, and a restore, `forEach`, `forEachKey` and `weir state` skip what lies below it, while
   * the versions themselves are removed once no retained checkpoint predates the delete. On sparse
   * keys nearly every window is written once and expires once, and the tombstone was half of
   * what a checkpoint wrote. The operator must call it before the deletes it covers, and must not
   * `get` an expired namespace after deleting it (a window past its cleanup is late: no record
   * reads it again); `get` is not filtered, so that a window firing and expiring at once is read
   * as it is. Absent where deletes cost nothing (memory).
   */
  expireBelow?(bound: number): void
  /**
   * A fresh place for one of this operator's timer queues beyond a bounded head in memory
   * (decisions.md 32), or undefined where timers may stay in memory (the memory backend: its
   * timers are no larger than its state).
   */
  timerSpill?(): TimerSpill | undefined
}

/** A timer as a spill keeps it: a time, a tie-breaker (a window start), a key, and plain data. */
export interface SpilledTimer {
  time: number
  order: number
  key: Key
  payload: unknown
}

/**
 * Timers on disk, by (queue, time), read back in order of `order`, then key in canonical order
 * (among timers equal in both, in no promised order): where timers go once more wait than a
 * queue's head keeps in memory. Not state: a restore rebuilds timers from the state they follow
 * from, so a checkpoint never writes these and a crash leaves nothing in them to trust (they are
 * cleared when the job opens).
 */
export interface TimerSpill {
  /** timers a queue may hold in memory before the latest ones go to disk */
  readonly headKeys: number
  /** Stores timers of one time under (queue, time); returns those it cannot (a key too long for an LMDB key). */
  write(queue: number, time: number, timers: readonly SpilledTimer[]): SpilledTimer[]
  /** Removes and returns the first `limit` timers of (queue, time), in order ([] when none are left). */
  take(queue: number, time: number, limit: number): SpilledTimer[]
  /** Runs f, its writes together (one transaction on disk): a spill of many times at once. */
  batch?<T>(f: () => T): T
}

/** Runs f with the spill's reads and writes in one batch where the spill has batches. */
export function inOneBatch<T>(spill: TimerSpill | undefined, f: () => T): T {
  return spill?.batch ? spill.batch(f) : f()
}

/**
 * Which epochs of state a checkpoint sees: inclusive ranges [from, to]. A fresh job's checkpoint n
 * sees [[0, n]]; a job resumed from checkpoint r whose next checkpoint id is m (ids are never
 * reused, so m is above anything a crashed run wrote) sees lineage(r) plus [m, n]. Versions
 * written under an epoch outside the lineage (a crashed run's unfinished checkpoint) are invisible.
 */
export type Lineage = [number, number][]

/**
 * How far one input file (by device and inode) was read at a checkpoint: its line number. The
 * backend keeps, per file, the furthest any checkpoint's state commit recorded, whichever lineage
 * it was on, so that a run restored from an older checkpoint knows which records it reads again
 * (`replayed`, decisions.md 34).
 */
export interface ReadMark {
  dev: number
  ino: number
  line: number
  /** the byte offset after that line: a file now shorter was truncated, and the mark is stale */
  offset: number
}

/**
 * A backend's life: operators put and delete freely; only `checkpoint` makes anything durable.
 * `close` drops what was not checkpointed, as a crash would. A checkpoint's `oldestRetained` is the
 * oldest checkpoint whose manifest is still kept: every retained checkpoint is on the current
 * lineage (a resume discards the manifests after the one it restores), which lets versions be
 * reclaimed incrementally.
 */
export interface KeyedStateBackend {
  /**
   * How many entries an operator may keep in a form of its own on the heap between snapshots
   * (the columnar windows, operators/windows/panes.ts), writing them into state as it snapshots:
   * unbounded in memory, where all state is on the heap anyway; on LMDB the write-back cache's
   * bound, so that state beyond it still goes to disk (decisions.md 32).
   */
  readonly heldEntries: number
  operator(uid: string): OperatorState
  /**
   * Makes everything put so far part of checkpoint `id` (LMDB: dirty entries written under epoch
   * `id` in one synchronous transaction, flushed to disk before this returns). `oldestRetained` is
   * the oldest checkpoint that may still be restored: versions only older ones need are reclaimed.
   */
  checkpoint(id: number, lineage: Lineage, oldestRetained: number, reads?: ReadMark[]): void
  /** The furthest line of each input file any checkpoint recorded (see ReadMark); [] in memory. */
  readMarks(): ReadMark[]
  /** Bytes the state takes on disk (0 in memory). */
  size(): number
  close(): Promise<void>
}
