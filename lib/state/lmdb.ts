// The durable keyed-state backend (decisions.md 18): one LMDB environment per stateful process,
// state versioned by checkpoint epoch behind a bounded write-back cache. Operators never write to
// LMDB per record; dirty entries reach the disk at a checkpoint barrier, in one synchronous
// transaction, or earlier when the cache overflows (a spill, under the epoch the next checkpoint
// will take, invisible to any restore until that checkpoint completes).
//
// Layout. Named DBs only (lmdb-js misbehaves when the root DB holds entries beside named DBs):
//   state  [uid, keyGroup, canon, ns, epoch] → {k: key values, v: value} | {d: 1} (a tombstone)
//   meta   'stateFormat' → STATE_FORMAT (the manifests' number: one count of what is stored),
//          'maxEpoch' → highest epoch ever written
//          'expiry' → [epoch, {uid: bound}][]: each operator's expiry bound (OperatorState.expireBelow)
//          at each checkpoint a retained one may read, oldest first: a version whose numeric
//          namespace is below its operator's bound at a checkpoint is dead there, tombstone or not
//          'reads' → [dev, ino, line, offset][]: the furthest line of each input file any checkpoint
//          recorded (backend.ts ReadMark), the newest MAX_READ_MARKS files
// and, in an environment of its own in the folder `timers/` (never synced: openScratch),
//   timers [spill, queue, time, order, canon, seq] → {k: key values, v: payload}: timers beyond
//          their queue's head in memory (backend.ts TimerSpill). Scratch, not state: cleared when a job opens and closes,
//          never versioned, since a restore rebuilds timers from the windows in state. (Before, a
//          DB of the state's environment: an older job's is emptied at open.)
// Key group first, as in every backend, so that state can later be split by key group. The epoch
// last, so one (uid, key, ns)'s versions are adjacent and a reverse range read finds the newest.
//
// This file is the only importer of 'lmdb': the native module loads only for jobs with a job dir.
import { createHash } from 'node:crypto'
import { accessSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import { getHeapStatistics } from 'node:v8'
import { open, type Database, type Key as LmdbKey, type RootDatabase } from 'lmdb'
import { WeirError } from '../stream/errors.js'
import { MAX_KEY_GROUPS, compareCanon, keyGroupOf, type Key } from '../stream/key.js'
import { OLDEST_STATE_FORMAT, STATE_FORMAT, type KeyedStateBackend, type SpilledTimer, type TimerSpill, type Lineage, type Namespace, type OperatorState, type ReadMark } from './backend.js'

export interface LmdbStateOptions {
  /** Epochs this run's reads see (see Lineage in backend.ts): the restored checkpoint's lineage, [] on a fresh job. */
  lineage: Lineage
  /** The id the next checkpoint will take: entries spilled before it are written under this epoch. Must be > maxEpoch() of the dir. */
  pendingEpoch?: number
  /**
   * Instead of pendingEpoch: a lower bound for it (say, above every manifest's id). The backend
   * takes the least id above both this and every epoch in the dir, and `pendingEpoch` tells which:
   * a crashed run may have written epochs no manifest names, and they must not be reused.
   */
  minPendingEpoch?: number
  /** Bound of the in-memory write-back cache, in entries (default: defaultCacheEntries()). */
  cacheEntries?: number
  /** false: skip fsync (tests only). Default true. */
  durable?: boolean
  /** Least entries the reclaim sweep reads per checkpoint (default 10_000; tests make it small). */
  sweepEntries?: number
  /** Timers each timer queue keeps in memory before spilling to disk (default 100_000). */
  timerHeadKeys?: number
  /** Keys read from a key group at a time by forEachKey (default KEY_SLICE; tests make it small). */
  keySlice?: number
}

/**
 * The write-back cache's bound when a job does not set one: an entry per 10 KiB of V8's heap limit
 * (an entry takes some 300 bytes with its chain and value, so about 3% of the heap), at least
 * 100,000; WEIR_STATE_CACHE sets it. On node's default 4 GB heap that is 424,000 entries. The
 * bound also caps the rows a window operator holds in its columnar tables (heldEntries): on a
 * million keys a minute's windows number 120,000 to 200,000, and with a bound of 100,000 the
 * operator left its tables for per-record state through a thrashing cache (121 s against 32 s
 * with 400,000, and 12 s in memory). A heap capped with --max-old-space-size gets the floor.
 */
export function defaultCacheEntries(): number {
  const set = Number(process.env.WEIR_STATE_CACHE)
  if (Number.isSafeInteger(set) && set > 0) return set
  return Math.max(100_000, Math.floor(getHeapStatistics().heap_size_limit / 10_240))
}

const MAX_DBS = 8
/** entries written per transaction when a compaction rewrites the state */
const COMPACT_BATCH = 10_000
/** The address space reserved for the state file's map (see openEnv): 256 GiB; a larger state grows it. */
const MAP_SIZE = 2 ** 38
/** files whose read marks are kept: a cron job over a rotated log sees a new inode per rotation */
const MAX_READ_MARKS = 64
const TOP_EPOCH = Number.MAX_SAFE_INTEGER
// transactionSync flags: 1 abortable, 2 commit before returning, 0x10000 do not wait for the flush.
// A checkpoint waits for its flush (it is acknowledged only once on disk); a spill need not, since
// nothing restores it before the checkpoint that completes its epoch, whose flush covers it too.
// (Measured: with overlappingSync LMDB still syncs every commit, by the next one at the latest, so
// a spill costs an fdatasync anyway; only noSync, for tests, avoids them.)
const FLUSHED = 3
const UNFLUSHED = 0x10003
/** a scratch write (the timers DB): commits before returning, waits for no flush */
const SCRATCH: number = UNFLUSHED

// LMDB refuses keys above 1978 bytes (4026 with a larger page), and a key may be any JSON value,
// so no page size bounds it. A canon above this many UTF-8 bytes is stored as LONG_MARK + its
// SHA-256 instead, with the full canon in the value ("c"), checked on every read. Short canons,
// nearly all of them, keep their text in the key and so their order in storage. LONG_MARK cannot
// start a canon (JSON text starts with " - digit [ { t f n), so the two kinds never meet.
const LONG_CANON_BYTES = 1000
const LONG_MARK = '#'
// uid and namespace strings share the rest of the key's room; they are code, not data
const MAX_UID_BYTES = 300
const MAX_NS_BYTES = 500
// ordered-binary escapes U+0000–U+0004 in short strings but not in long ones, where U+0000 is its
// element separator, and it writes lone surrogates as U+FFFD; refuse such names rather than misread
const BAD_NAME = /[\u0000-\u0004]|\p{Cs}/u
const LONE_SURROGATE = /\p{Cs}/u

/**
 * The sweep (see LmdbStateBackend.sweep) reads as many entries per checkpoint as were written, at
 * least this many. If every write left one version for the sweep to find, garbage would settle
 * near the live size; writes to keys read first reclaim their own old versions, so it is far less.
 */
const SWEEP_ENTRIES = 10_000

/** Keys read from a key group at a time when every key is visited in order (forEachKey). */
const KEY_SLICE = 512

type DiskKey = [uid: string, group: number, canon: string, ns: Namespace, epoch: number]
type Path = (string | number)[]

/** One stored version. */
interface Version {
  /** the key's values (absent in a tombstone, or when `j` holds them) */
  k?: unknown[]
  v?: unknown
  /** {k, v} as JSON text, for what msgpack would change (see encodeVersion) */
  j?: string
  /** paths in v of -0, which msgpack writes as 0 (inside `j` when there is one) */
  z?: Path[]
  /** tombstone */
  d?: 1
  /** the full canon of a long key */
  c?: string
}

interface Entry {
  readonly op: LmdbOperatorState
  readonly key: Key
  readonly ns: Namespace
  /** undefined: no state (deleted, or never there) */
  value: unknown
  /** changed since the last write to LMDB */
  dirty: boolean
  /** LMDB is known to hold no visible version, so a delete needs no tombstone */
  baseAbsent: boolean
  /** used since the eviction scan last passed (a second chance, as in CLOCK) */
  hot: boolean
  /**
   * put by `putHeld`: the operator holds the value itself, so the entry leaves the cache once
   * written. (Kept, such entries doubled a 1M-key window job's heap: every open window twice.)
   */
  held: boolean
  /**
   * The versions LMDB holds for this (uid, key, ns), as read on a miss and kept up to date by
   * writes; undefined when not known (a put without a get). It lets a flush reclaim a key's old
   * versions without reading them. The sweep may have removed some since, which is harmless:
   * removing what is gone does nothing, and the sweep removes a version only with every older one,
   * so a stale list never makes a flush remove a version that is still needed.
   */
  chain: Chain | undefined
  /** the filter this chain is known to be in (a filter never loses a chain): no hashing to check */
  filtered?: ChainFilter
}

/** A chain whose newest version, written at checkpoint `epoch`, is a tombstone. */
interface DeadChain {
  ck: [string, number, string, Namespace]
  epoch: number
  chain: Chain
}

/** How many dead chains wait for their reclaim in memory (about 100 bytes each). */
const DEAD_CHAINS = 200_000

/**
 * A chain deleted below its operator's expiry bound (no tombstone written): removed whole at the
 * first checkpoint whose oldest retained one is at or past `epoch`, the checkpoint that first
 * records it expired. `epochs`: its versions, as the cache knew them.
 */
interface ExpiredChain {
  op: LmdbOperatorState
  key: Key
  ns: number
  epoch: number
  epochs: readonly number[]
}


/** One checkpoint's expiry bounds, by operator uid (meta 'expiry'). */
type Bounds = Record<string, number>

/** One (uid, key, ns)'s versions: ascending epochs, and which of them are tombstones. */
interface Chain {
  epochs: number[]
  tombs: boolean[]
}

/**
 * What a miss on a chain that was never written reads (shared: a flush copies a chain before it
 * adds to it, and frozen, so that a change made in place would fail loudly).
 */
const NEVER_WRITTEN: { value: undefined; chain: Chain } = Object.freeze({
  value: undefined,
  chain: Object.freeze({ epochs: Object.freeze([]) as unknown as number[], tombs: Object.freeze([]) as unknown as boolean[] }),
})

/** Which epochs a run sees: its lineage, plus its own (spilled, not yet checkpointed) ones. */
class Epochs {
  private readonly from: number[] = []
  private readonly to: number[] = []
  constructor(
    lineage: Lineage,
    /** epochs at or above this are the run's own */
    readonly own: number,
  ) {
    const sorted = lineage.filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0])
    for (const [a, b] of sorted) {
      const n = this.to.length
      if (n > 0 && a <= this.to[n - 1]! + 1) this.to[n - 1] = Math.max(this.to[n - 1]!, b)
      else this.from.push(a), this.to.push(b)
    }
  }
  inLineage(e: number): boolean {
    let lo = 0
    let hi = this.from.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (e < this.from[mid]!) hi = mid - 1
      else if (e > this.to[mid]!) lo = mid + 1
      else return true
    }
    return false
  }
  visible(e: number): boolean {
    return e >= this.own || this.inLineage(e)
  }
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8')
}

/** The canon as it appears in the LMDB key. */
function canonElement(canon: string): string {
  // a UTF-16 unit is at most 3 UTF-8 bytes, so short texts need no byte count
  if (canon.length * 3 <= LONG_CANON_BYTES || byteLength(canon) <= LONG_CANON_BYTES) return canon
  return LONG_MARK + createHash('sha256').update(canon).digest('base64url')
}

function isLongElement(el: string): boolean {
  return el.charCodeAt(0) === 0x23 // LONG_MARK
}

/**
 * Which chains (uid, key, namespace) may have versions on disk: a Bloom filter, so that a miss on
 * state that was never written (a new key, a new window: nearly every access on sparse keys)
 * costs a few hashes instead of an LMDB range read. A chain is added when a version of it is
 * written; nothing is removed (a chain reclaimed away only costs the read it would have cost).
 * Built on first use from the keys on disk, rebuilt twice as large when it fills.
 */
class ChainFilter {
  private bits: Int32Array
  private readonly mask: number
  private added = 0
  constructor(readonly log2Bits: number) {
    this.bits = new Int32Array(1 << (log2Bits - 5))
    this.mask = (1 << log2Bits) - 1
  }
  /** past ~12 bits per chain the false-positive rate climbs above ~0.5%: time to grow */
  get full(): boolean {
    return this.added * 12 > this.mask
  }
  add(uid: string, canonEl: string, ns: Namespace): void {
    hashChain(uid, canonEl, ns)
    this.addHashed(hashA, hashB)
  }
  /** Adds a chain by its two hashes (hashChain). */
  addHashed(a: number, b: number): void {
    this.added++
    let h1 = a
    for (let i = 0; i < 6; i++, h1 = (h1 + b) | 0) {
      const bit = h1 & this.mask
      this.bits[bit >>> 5]! |= 1 << (bit & 31)
    }
  }
  has(uid: string, canonEl: string, ns: Namespace): boolean {
    hashChain(uid, canonEl, ns)
    let h1 = hashA
    for (let i = 0; i < 6; i++, h1 = (h1 + hashB) | 0) {
      const b = h1 & this.mask
      if ((this.bits[b >>> 5]! & (1 << (b & 31))) === 0) return false
    }
    return true
  }
}

// The two hashes of the chain hashed last (hashChain): globals rather than an array or an id
// string per call, since every miss on new state asks the filter (on sparse keys, nearly every
// window: the id string and the array were a tenth of such a job's time, issue 19).
let hashA = 0
let hashB = 0

/** Feeds one UTF-16 unit to both hashes (FNV-1a and a multiplicative one). */
function mixUnit(c: number): void {
  hashA = Math.imul(hashA ^ c, 0x01000193)
  hashB = Math.imul(hashB ^ c, 0x5bd1e995) ^ (hashB >>> 15)
}

function mixText(s: string): void {
  for (let i = 0; i < s.length; i++) mixUnit(s.charCodeAt(i))
}

/** Two independent 32-bit hashes of a chain (uid, key, namespace), for double hashing. */
function hashChain(uid: string, canonEl: string, ns: Namespace): void {
  hashA = 0x811c9dc5
  hashB = 0x9e3779b9
  mixText(uid)
  mixUnit(0)
  mixText(canonEl)
  mixUnit(0)
  // "1" and 1 are different namespaces, as they are in the memory backend
  if (typeof ns === 'string') {
    mixUnit(0x73)
    mixText(ns)
  } else if (Number.isInteger(ns) && Math.abs(ns) <= Number.MAX_SAFE_INTEGER) {
    mixUnit(0x6e)
    const lo = ns >>> 0
    const hi = Math.floor(ns / 2 ** 32) | 0
    mixUnit(lo & 0xffff)
    mixUnit(lo >>> 16)
    mixUnit(hi & 0xffff)
    mixUnit(hi >>> 16)
  } else {
    mixUnit(0x66)
    mixText(String(ns))
  }
  hashB |= 1
}

function nsTag(ns: Namespace): string {
  // "1" and 1 are different namespaces, as they are in the memory backend
  return typeof ns === 'number' ? 'n' + ns : 's' + ns
}

function checkName(what: string, s: string, maxBytes: number): void {
  if (BAD_NAME.test(s)) throw new WeirError('usage', `state ${what} ${JSON.stringify(s)}: control characters U+0000–U+0004 and lone surrogates cannot be stored`)
  if (s.length * 3 > maxBytes && byteLength(s) > maxBytes) throw new WeirError('usage', `state ${what} "${s.slice(0, 40)}…" is longer than ${maxBytes} bytes`)
}

// -- values ------------------------------------------------------------------------------------

interface Scan {
  z: Path[] | undefined
  /** msgpack cannot keep it: an object key "__proto__" (msgpackr renames it) or a lone surrogate */
  odd: boolean
}

function walk(x: unknown, path: Path, scan: Scan, zeros: boolean): void {
  if (typeof x === 'number') {
    if (zeros && x === 0 && 1 / x < 0) (scan.z ??= []).push(path.slice())
  } else if (typeof x === 'string') {
    if (LONE_SURROGATE.test(x)) scan.odd = true
  } else if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      path.push(i)
      walk(x[i], path, scan, zeros)
      path.pop()
    }
  } else if (x !== null && typeof x === 'object') {
    for (const k of Object.keys(x)) {
      if (k === '__proto__' || LONE_SURROGATE.test(k)) scan.odd = true
      path.push(k)
      walk((x as Record<string, unknown>)[k], path, scan, zeros)
      path.pop()
    }
  }
}

/**
 * The stored form of a live value. lmdb's msgpack keeps numbers exactly (above 2^53 too) and any
 * well-formed text, but writes -0 as 0, renames an object key "__proto__" and turns lone surrogates
 * into U+FFFD; all three come out of JSON.parse, and the memory backend keeps them. So -0 is noted
 * by path, and the rare value with one of the other two is stored as JSON text (exact for plain
 * data, which is what state values are: backend.ts).
 */
function encodeVersion(key: Key, value: unknown, long: boolean): Version {
  const scan: Scan = { z: undefined, odd: false }
  walk(value, [], scan, true)
  if (!scan.odd) walk(key.values, [], scan, false)
  // the paths go inside the JSON too: a path may hold a lone surrogate
  const rec: Version = scan.odd ? { j: JSON.stringify({ k: key.values, v: value, z: scan.z }) } : { k: key.values as unknown[], v: value }
  if (scan.z && !scan.odd) rec.z = scan.z
  if (long) rec.c = key.canon
  return rec
}

function tombstone(key: Key, long: boolean): Version {
  return long ? { d: 1, c: key.canon } : { d: 1 }
}

function decodeVersion(rec: Version): { values: unknown[]; value: unknown } {
  let values = rec.k
  let value = rec.v
  let z = rec.z
  if (rec.j !== undefined) {
    const o = JSON.parse(rec.j) as { k: unknown[]; v: unknown; z?: Path[] }
    values = o.k
    value = o.v
    z = o.z
  }
  if (z) for (const p of z) value = setPath(value, p, -0)
  return { values: values ?? [], value }
}

function setPath(root: unknown, path: Path, leaf: unknown): unknown {
  if (path.length === 0) return leaf
  let o = root as Record<string | number, unknown>
  for (let i = 0; i < path.length - 1; i++) o = o[path[i]!] as Record<string | number, unknown>
  o[path[path.length - 1]!] = leaf
  return root
}

// -- errors ------------------------------------------------------------------------------------

/** Wraps a callback's own error so the I/O guard passes it through untouched. */
class CallbackError {
  constructor(readonly error: unknown) {}
}

function guard<T>(dir: string, doing: 'unreadable' | 'not writable', f: () => T): T {
  try {
    return f()
  } catch (err) {
    throw ioError(dir, doing, err)
  }
}

function ioError(dir: string, doing: string, err: unknown): unknown {
  if (err instanceof CallbackError) return err.error
  if (err instanceof WeirError) return err
  const message = err instanceof Error ? err.message : String(err)
  // A page write that fails (a full disk) makes LMDB's C code print "Write error: … position …,
  // size …" on stderr itself, with no line end, and put this text in the error: end its line, so
  // that weir's own message still starts a line of its own.
  if (message.includes('Attempting to write page')) process.stderr.write('\n')
  // LMDB reports a page write that found the disk full as EIO: say what the disk says
  return new WeirError('io', `${dir}: state is ${doing}: ${message}${/Input\/output error|EIO|ENOSPC/.test(message) && diskFull(dir) ? ' (no space left on the device)' : ''}`)
}

/** Whether the file system holding `dir` has no room left for a user's writes (under 1 MiB). */
function diskFull(dir: string): boolean {
  try {
    const fs = statfsSync(dir)
    return fs.bavail * fs.bsize < 1 << 20
  } catch {
    return false
  }
}

// -- reading chains ----------------------------------------------------------------------------

/**
 * Visits, for every (uid, key, ns) in [start, end), its newest version visible under `epochs`
 * (a tombstone included), with the key it is stored under. One read pass, no snapshot: a long
 * scan must not pin old pages and make the file grow (style.md, lmdb-js notes).
 */
function scanChains(db: Database<Version, DiskKey>, start: unknown[] | undefined, end: unknown[] | undefined, epochs: Epochs, fn: (dk: DiskKey, rec: Version) => void): void {
  let chain: DiskKey | undefined
  let best: { key: DiskKey; value: Version } | undefined
  const range = db.getRange({ ...(start && { start: start as DiskKey }), ...(end && { end: end as DiskKey }), snapshot: false })
  for (const entry of range) {
    const dk = entry.key
    if (chain === undefined || dk[3] !== chain[3] || dk[2] !== chain[2] || dk[1] !== chain[1] || dk[0] !== chain[0]) {
      if (best) fn(best.key, best.value)
      best = undefined
      chain = dk
    }
    // ascending epochs: the last visible one wins
    if (epochs.visible(dk[4])) best = entry
  }
  if (best) fn(best.key, best.value)
}

function sameChain(a: DiskKey, b: DiskKey): boolean {
  return a[3] === b[3] && a[2] === b[2] && a[1] === b[1] && a[0] === b[0]
}

/**
 * Which versions of one chain (ascending epochs) no retained checkpoint can need, for a run that
 * sees `epochs` and keeps checkpoints from `oldest` on:
 * - versions older than b, the newest in-lineage version at or below `oldest`: every retained
 *   checkpoint has b (or newer) in its lineage, so never reads them;
 * - versions below `oldest` outside the lineage: a crashed run's unfinished epochs (checkpoints
 *   after the one a run resumed from are not retained: the job drops their manifests);
 * - b itself when it is a tombstone: with nothing older left, no version at all reads the same.
 * `chain` must hold every version from the oldest on, or dropping a tombstone would bring an
 * unseen older version back.
 */
function reclaimable(chain: number[], epochs: Epochs, oldest: number, isTombstone: (i: number) => boolean): number[] {
  let b = -1
  for (let i = 0; i < chain.length; i++) if (chain[i]! <= oldest && epochs.inLineage(chain[i]!)) b = i
  const out: number[] = []
  for (let i = 0; i < chain.length; i++) if (i < b || (chain[i]! < oldest && !epochs.inLineage(chain[i]!))) out.push(i)
  if (b >= 0 && isTombstone(b)) out.push(b)
  return out
}

// -- the backend -------------------------------------------------------------------------------

class LmdbOperatorState implements OperatorState {
  /**
   * This operator's part of the write-back cache: canonical key → its cached (key, ns) entries.
   * Found by the key's canon as the memory backend finds it, then by namespace in a short list:
   * no id string is built per access (an id of uid + canon + namespace cost a concatenation, a
   * number-to-text conversion and a fresh hash on every get and put). Insertion order is the
   * eviction order (see LmdbStateBackend.evict).
   */
  readonly cache = new Map<string, Entry[]>()
  /** numeric namespaces below this are expired (expireBelow): deleted without a tombstone */
  bound = -Infinity
  constructor(
    private readonly store: LmdbStateBackend,
    readonly uid: string,
  ) {}
  get(key: Key, ns: Namespace): unknown {
    return this.store._get(this, key, ns)
  }
  put(key: Key, ns: Namespace, value: unknown): void {
    this.store._put(this, key, ns, value, false)
  }
  putHeld(key: Key, ns: Namespace, value: unknown): void {
    this.store._put(this, key, ns, value, true)
  }
  delete(key: Key, ns: Namespace): void {
    if (this.expired(ns)) this.store._expire(this, key, ns)
    else this.store._put(this, key, ns, undefined, false)
  }
  expireBelow(bound: number): void {
    if (bound > this.bound) this.bound = bound
  }
  /** below the bound: dead, whatever LMDB holds */
  expired(ns: Namespace): ns is number {
    return typeof ns === 'number' && ns < this.bound
  }
  forEachKey(fn: (key: Key) => void): void {
    this.store._forEachKey(this, fn)
  }
  keys(): Key[] {
    const keys: Key[] = []
    this.forEachKey((k) => keys.push(k))
    return keys
  }
  forEach(fn: (key: Key, ns: Namespace, value: unknown) => void): void {
    this.store._forEach(this, fn)
  }
  timerSpill(): TimerSpill {
    return this.store._timerSpill()
  }
}

type SpillKey = [spill: number, queue: number, time: number, order: number, canon: string, seq: number]

/** Numbers the spills of this process: an operator restored in place never reads an abandoned one's lists. */
let spills = 0

/**
 * Timers beyond their queue's head (decisions.md 32), in the `timers` DB: written a time at a time
 * and taken back a slice at a time, each in one transaction that does not wait for its flush
 * (nothing here needs to survive a crash). Keys come back in UTF-8 byte order, compareCanon's; a
 * sequence number last keeps timers equal in all else apart.
 */
class LmdbTimerSpill implements TimerSpill {
  private readonly id = ++spills
  private seq = 0
  constructor(
    private readonly dir: string,
    private readonly db: Database<Version, SpillKey>,
    readonly headKeys: number,
    private readonly used: () => void,
  ) {}

  /** inside batch(): writes join its transaction */
  private batching = false

  batch<T>(f: () => T): T {
    if (this.batching) return f()
    return guard(this.dir, 'not writable', () =>
      this.db.transactionSync(() => {
        this.batching = true
        try {
          return f()
        } catch (e) {
          // what f throws (a stage's error while windows fire) goes through as it is; the
          // spill's own writes and reads in it say what failed on disk themselves (guard)
          throw new CallbackError(e)
        } finally {
          this.batching = false
        }
      }, SCRATCH),
    )
  }

  write(queue: number, time: number, timers: readonly SpilledTimer[]): SpilledTimer[] {
    this.used()
    const kept: SpilledTimer[] = []
    const put = () => {
      for (const t of timers)
        if (byteLength(t.key.canon) > LONG_CANON_BYTES) kept.push(t)
        else void this.db.put([this.id, queue, time, t.order, t.key.canon, this.seq++], encodeVersion(t.key, t.payload, false))
    }
    guard(this.dir, 'not writable', () => (this.batching ? put() : this.db.transactionSync(put, SCRATCH)))
    return kept
  }

  take(queue: number, time: number, limit: number): SpilledTimer[] {
    const read = (): SpilledTimer[] => {
      const timers: SpilledTimer[] = []
      const taken: SpillKey[] = []
      for (const { key: sk, value } of this.db.getRange({ start: [this.id, queue, time] as unknown as SpillKey, limit })) {
        if (sk[0] !== this.id || sk[1] !== queue || sk[2] !== time) break
        const canon = sk[4]
        const { values, value: payload } = decodeVersion(value)
        timers.push({ time, order: sk[3], key: { values, canon, group: keyGroupOf(canon) }, payload })
        taken.push(sk)
      }
      for (const sk of taken) void this.db.remove(sk)
      return timers
    }
    return guard(this.dir, 'not writable', () => (this.batching ? read() : this.db.transactionSync(read, SCRATCH)))
  }

}

export class LmdbStateBackend implements KeyedStateBackend {
  readonly heldEntries: number
  private readonly ops = new Map<string, LmdbOperatorState>()
  // The write-back cache lives in the operators (LmdbOperatorState.cache); this counts its entries.
  // Insertion order is the eviction order, with a second chance for entries used since: cheap,
  // and near enough to LRU for keyed streams, whose hot keys are used again and again.
  private cached = 0
  /** lists emptied since the last sweep of empty lists (some may hold entries again) */
  private emptied = 0
  private readonly cacheEntries: number
  private readonly timerHeadKeys: number
  private readonly keySlice: number
  private readonly sweepEntries: number
  private epochs: Epochs
  private pending: number
  private maxWritten: number
  /** oldestRetained of this run's last checkpoint; -1 before its first */
  private oldest = -1
  /** something was spilled under `pending` */
  private spilled = false
  /** the last key of the chain the reclaim sweep stopped after; undefined: from the start */
  private sweepAfter: DiskKey | undefined
  private closed = false
  /**
   * The entry the last cache hit found: the put that follows a get (the write-back contract)
   * finds it without a second lookup. Forgotten whenever an entry leaves the cache.
   */
  private hit: Entry | undefined
  /** chains that may be on disk; undefined until the first miss builds it */
  private filter: ChainFilter | undefined
  /**
   * Chains a checkpoint ended with a tombstone (a fired window), oldest first: each is removed
   * whole, by the keys it is known to have, at the first checkpoint whose oldest retained one is
   * at or past its tombstone, without the sweep having to find it. Bounded (DEAD_CHAINS): what
   * does not fit, and what a restart forgets, the sweep still finds.
   */
  private dead: DeadChain[] = []
  /** entries spills wrote since the last checkpoint (the sweep reads as many, see flush) */
  private writtenSince = 0
  /** Chains deleted below their bound, oldest first (see ExpiredChain); bounded by half the cache (_expire). */
  private expired: ExpiredChain[] = []
  /** meta 'expiry' as this run last wrote or read it */
  private expiry: [number, Bounds][]
  /** the bounds of the checkpoint this run restored (its operators start from them) */
  private readonly restoredBounds: Bounds

  /** @internal use openLmdbState */
  constructor(
    private readonly dir: string,
    private readonly root: RootDatabase,
    private readonly state: Database<Version, DiskKey>,
    private readonly meta: Database<unknown, string>,
    /** the timers DB in its own environment (openScratch), and whether any spill wrote to it since it was last cleared */
    private readonly scratch: { root: RootDatabase; db: Database<Version, SpillKey>; used: boolean },
    maxEpoch: number,
    opts: LmdbStateOptions,
  ) {
    this.timerHeadKeys = Math.max(1, opts.timerHeadKeys ?? 100_000)
    this.keySlice = Math.max(1, opts.keySlice ?? KEY_SLICE)
    this.cacheEntries = Math.max(1, opts.cacheEntries ?? defaultCacheEntries())
    this.heldEntries = this.cacheEntries
    this.sweepEntries = Math.max(1, opts.sweepEntries ?? SWEEP_ENTRIES)
    this.pending = opts.pendingEpoch ?? Math.max(opts.minPendingEpoch ?? 0, maxEpoch + 1)
    this.maxWritten = maxEpoch
    this.epochs = new Epochs(opts.lineage, this.pending)
    this.expiry = readExpiry(dir, meta)
    const restored = opts.lineage.reduce((m, [, to]) => Math.max(m, to), -1)
    this.restoredBounds = boundsAt(this.expiry, restored, this.epochs) ?? {}
  }

  /**
   * The backend as a restart restored at `lineage` would see it, over the same open environment:
   * an empty cache and this run's unfinished epochs invisible. This instance is done with. The
   * operator test harness restores between any two records this way without reopening LMDB
   * (lmdb-js opens one environment once per process).
   */
  restoredAt(lineage: Lineage): LmdbStateBackend {
    this.assertOpen()
    this.closed = true
    this.clearCache()
    const next = new LmdbStateBackend(this.dir, this.root, this.state, this.meta, this.scratch, this.maxWritten, {
      lineage,
      minPendingEpoch: this.maxWritten + 1,
      cacheEntries: this.cacheEntries,
      sweepEntries: this.sweepEntries,
      timerHeadKeys: this.timerHeadKeys,
      keySlice: this.keySlice,
    })
    next.filter = this.filter // the disk is the same
    return next
  }

  /** The id the next checkpoint takes, under which spills are written. */
  get pendingEpoch(): number {
    return this.pending
  }

  /** The highest epoch ever written in this dir, -1 if none. */
  maxEpoch(): number {
    return this.maxWritten
  }

  operator(uid: string): OperatorState {
    let op = this.ops.get(uid)
    if (!op) {
      checkName('uid', uid, MAX_UID_BYTES)
      this.ops.set(uid, (op = new LmdbOperatorState(this, uid)))
      op.bound = this.restoredBounds[uid] ?? -Infinity
    }
    return op
  }

  checkpoint(id: number, lineage: Lineage, oldestRetained: number, reads?: ReadMark[]): void {
    this.assertOpen()
    const next = new Epochs(lineage, id + 1)
    if (!(id >= this.pending) || !next.inLineage(id) || (this.spilled && !next.inLineage(this.pending)))
      throw new WeirError('internal', `state checkpoint ${id}: expected an id ≥ ${this.pending} inside its own lineage ${JSON.stringify(lineage)}${this.spilled ? `, which must include the spilled epoch ${this.pending}` : ''}`)
    const expiry = this.expiryWith(id, next, oldestRetained)
    this.flush(id, FLUSHED, next, oldestRetained, true, reads && this.mergeReads(reads), expiry)
    if (expiry) this.expiry = expiry
    this.epochs = next
    this.pending = id + 1
    this.oldest = oldestRetained
    this.spilled = false
  }

  /**
   * meta 'expiry' as checkpoint `id` leaves it: this checkpoint's bounds added, and only what a
   * retained checkpoint may read kept (on the lineage, from the newest at or below the oldest
   * retained one on); undefined when there is nothing to write.
   */
  private expiryWith(id: number, lineage: Epochs, oldest: number): [number, Bounds][] | undefined {
    // an operator this run has not opened keeps the bound it was restored with
    const bounds: Bounds = { ...this.restoredBounds }
    let any = Object.keys(bounds).length > 0
    for (const op of this.ops.values())
      if (op.bound > -Infinity) {
        bounds[op.uid] = op.bound
        any = true
      }
    if (!any && this.expiry.length === 0) return undefined
    const kept = this.expiry.filter(([e]) => e < id && lineage.inLineage(e))
    let from = 0
    for (let i = 0; i < kept.length; i++) if (kept[i]![0] <= oldest) from = i
    const out = kept.slice(from)
    if (any) out.push([id, bounds])
    return out
  }

  readMarks(): ReadMark[] {
    this.assertOpen()
    const stored = guard(this.dir, 'unreadable', () => this.meta.get('reads'))
    if (!Array.isArray(stored)) return []
    return stored.filter((m): m is number[] => Array.isArray(m) && m.length === 4).map(([dev, ino, line, offset]) => ({ dev: dev!, ino: ino!, line: line!, offset: offset! }))
  }

  /** The stored marks raised to `reads`, newest files last, at most MAX_READ_MARKS of them. */
  private mergeReads(reads: ReadMark[]): number[][] {
    const byFile = new Map<string, ReadMark>()
    for (const m of [...this.readMarks(), ...reads]) {
      const id = m.dev + ':' + m.ino
      const was = byFile.get(id)
      byFile.delete(id) // re-inserted: the file read now goes last
      byFile.set(id, was && was.line > m.line ? { ...was } : { dev: m.dev, ino: m.ino, line: m.line, offset: m.offset })
    }
    return [...byFile.values()].slice(-MAX_READ_MARKS).map((m) => [m.dev, m.ino, m.line, m.offset])
  }

  size(): number {
    try {
      return statSync(join(this.dir, 'data.mdb')).size
    } catch {
      return 0
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // Dirty entries are dropped, as a crash would drop them: only a checkpoint makes state durable.
    this.clearCache()
    // spilled timers of windows still open (--no-flush) would only take room in the file: the next
    // run rebuilds them. A failure here loses nothing, and the next open clears them anyway.
    if (this.scratch.used)
      try {
        this.scratch.db.clearSync()
        this.scratch.used = false
      } catch {
        // ignored: see above
      }
    await this.scratch.root.close()
    await this.root.close()
  }

  // -- operator calls --------------------------------------------------------------------------

  /**
   * The key's list of cached entries (maybe empty), or undefined when it has none. The list the
   * key last led to (Key's stateSlots) is taken when it is this operator's and still in the cache:
   * every list leaves the cache marked (dropList).
   */
  private listOf(op: LmdbOperatorState, key: Key): Entry[] | undefined {
    const cached = key.stateSlots as Entry[] | undefined
    if (cached !== undefined && key.stateOwner === op && cached[0] !== DROPPED) return cached
    const list = op.cache.get(key.canon)
    if (list !== undefined) {
      key.stateOwner = op
      key.stateSlots = list
    }
    return list
  }

  /** @internal */
  _get(op: LmdbOperatorState, key: Key, ns: Namespace): unknown {
    const list = this.listOf(op, key)
    const e = list && cachedEntry(list, ns)
    if (e !== undefined) {
      e.hot = true
      this.hit = e
      return e.value
    }
    this.assertOpen()
    const { value, chain } = this.read(op, key, ns)
    this.insert(op, list, { op, key, ns, value, dirty: false, baseAbsent: value === undefined, hot: false, held: false, chain })
    return value
  }

  /** @internal put, or delete with `undefined` */
  _put(op: LmdbOperatorState, key: Key, ns: Namespace, value: unknown, held: boolean): void {
    const hit = this.hit
    if (hit !== undefined && value !== undefined && hit.ns === ns && hit.op === op && hit.key.canon === key.canon) {
      // the put after a get (the write-back contract): no second lookup
      hit.value = value
      hit.dirty = true
      hit.held = held
      return
    }
    const list = this.listOf(op, key)
    const e = list && cachedEntry(list, ns)
    if (e !== undefined) {
      if (value === undefined && e.baseAbsent) {
        this.hit = undefined
        // deleting what LMDB does not have (put and deleted since it was last read) writes nothing,
        // and leaves nothing worth keeping: a fired window is not read again, and a read would
        // find nothing on disk. Kept, such entries filled the cache on sparse keys, where nearly
        // every window opens and closes between two checkpoints, and made it evict (issue 19).
        // the key's list stays, empty, until the next flush or eviction: on sparse keys its next
        // window opens soon, and removing the list and adding it again cost more than keeping it
        const i = list!.indexOf(e)
        list!.splice(i, 1)
        this.cached--
        if (list!.length === 0) this.noteEmptied()
        return
      }
      e.hot = true
      e.value = value
      e.dirty = true
      e.held = held
      return
    }
    this.assertOpen()
    // a put of state not read first (an operator that keeps its state in a form of its own puts
    // it at a snapshot: the columnar windows): the filter says, as for a read, whether LMDB may
    // hold a version of it. Where it cannot, a delete before the next flush writes nothing and
    // the flush reads no chain.
    const absent = !this.mayBeOnDisk(this.chainKey(op, key, ns))
    this.insert(op, list, { op, key, ns, value, dirty: true, baseAbsent: absent, hot: false, held, chain: absent ? NEVER_WRITTEN.chain : undefined })
  }

  /**
   * @internal A delete below the operator's expiry bound: no tombstone, since every checkpoint from
   * the pending one on records the chain expired; its versions wait in `expired` for the retained
   * checkpoints that may still read them to pass.
   */
  _expire(op: LmdbOperatorState, key: Key, ns: number): void {
    const list = this.listOf(op, key)
    const e = list && cachedEntry(list, ns)
    // Only a chain the cache knows is listed (an entry not cached, or whose versions are not known,
    // such as a window put by putHeld, is the sweep's: it reads the bounds, and passes over the file at
    // the pace of the writes, which costs less than reading each chain here)
    if (e === undefined) return
    this.uncache(e)
    if (e.baseAbsent || e.chain === undefined) return // nothing visible on disk; a crashed run's versions are the sweep's
    // Bounded by half the cache: an entry keeps its Key alive (some 250 bytes in all), and on sparse
    // keys about as many windows expire per checkpoint as are open, waiting for the retained
    // checkpoints to pass. (A fixed 400,000 ran a 1M-key job out of a 320 MB heap.) What does not
    // fit is left to the sweep, which knows the bounds too.
    if (this.expired.length < this.cacheEntries / 2) this.expired.push({ op, key, ns, epoch: this.pending, epochs: e.chain.epochs })
  }

  /**
   * @internal Every key holding state, in canonical order, without listing them all at once: each
   * key group is read a slice of keys at a time (LMDB gives a group's canons in UTF-8 byte order,
   * compareCanon's), and the groups' slices are merged. What the cache holds overrides LMDB per
   * (canon, ns), as it was when the visit began: a visit changes the state of the key it visits,
   * which every later key is beyond. Keys live in the cache, and long keys (stored by hash, out of
   * order), are listed up front, sorted: at most the cache's bound, plus the long keys.
   */
  _forEachKey(op: LmdbOperatorState, fn: (key: Key) => void): void {
    this.assertOpen()
    const over = new Map<string, { key: Key; ns: Map<string, boolean> }>()
    for (const list of op.cache.values())
      for (const e of list) {
        let o = over.get(e.key.canon)
        if (!o) over.set(e.key.canon, (o = { key: e.key, ns: new Map() }))
        o.ns.set(nsTag(e.ns), e.value !== undefined)
      }
    const up: Key[] = []
    const listed = new Set<string>()
    for (const o of over.values())
      if ([...o.ns.values()].some(Boolean)) {
        up.push(o.key)
        listed.add(o.key.canon)
      }
    for (let g = 0; g < MAX_KEY_GROUPS; g++) {
      // long canons start with LONG_MARK, so a group's are adjacent: ['#', '$') in byte order
      const slice = this.readKeys(op, g, LONG_MARK, Infinity, over, listed, true)
      for (const k of slice.keys) up.push(k)
    }
    up.sort((a, b) => compareCanon(a.canon, b.canon))
    interface Cursor {
      keys: Key[]
      at: number
      group: number
      after: string | undefined
      done: boolean
    }
    const cursors: Cursor[] = [{ keys: up, at: 0, group: -1, after: undefined, done: true }]
    const fill = (c: Cursor) => {
      const slice = this.readKeys(op, c.group, c.after, this.keySlice, over, listed, false)
      c.keys = slice.keys
      c.at = 0
      c.after = slice.last
      c.done = slice.done
    }
    for (let g = 0; g < MAX_KEY_GROUPS; g++) {
      const c: Cursor = { keys: [], at: 0, group: g, after: undefined, done: false }
      do fill(c)
      while (c.keys.length === 0 && !c.done)
      cursors.push(c)
    }
    const heads = cursors.filter((c) => c.keys.length > 0)
    const less = (a: Cursor, b: Cursor) => compareCanon(a.keys[a.at]!.canon, b.keys[b.at]!.canon) < 0
    const down = (i: number) => {
      for (;;) {
        let m = i
        const l = 2 * i + 1
        const r = l + 1
        if (l < heads.length && less(heads[l]!, heads[m]!)) m = l
        if (r < heads.length && less(heads[r]!, heads[m]!)) m = r
        if (m === i) return
        ;[heads[i], heads[m]] = [heads[m]!, heads[i]!]
        i = m
      }
    }
    for (let i = (heads.length >> 1) - 1; i >= 0; i--) down(i)
    while (heads.length > 0) {
      const c = heads[0]!
      const key = c.keys[c.at++]!
      if (c.at === c.keys.length) {
        // read on before visiting: a visit may write, and no read is open meanwhile
        while (c.at === c.keys.length && !c.done) fill(c)
        if (c.at === c.keys.length) {
          heads[0] = heads[heads.length - 1]!
          heads.pop()
        }
      }
      if (heads.length > 0) down(0)
      fn(key)
    }
  }

  /**
   * Up to `limit` live keys of key group `g` after the canon `after`, in storage order, with the
   * canon read last (where the next slice starts) and whether the group is done. `long`: read the
   * group's long keys (from `after` = LONG_MARK to the end of them) instead of skipping them.
   * Keys in `listed` are skipped (the cache has them live).
   */
  private readKeys(
    op: LmdbOperatorState,
    g: number,
    after: string | undefined,
    limit: number,
    over: Map<string, { key: Key; ns: Map<string, boolean> }>,
    listed: Set<string>,
    long: boolean,
  ): { keys: Key[]; last: string | undefined; done: boolean } {
    const keys: Key[] = []
    let last = after
    let done = true
    let cur: { el: string; canon: string; live: boolean; key: Key | undefined } | undefined
    let chain: DiskKey | undefined
    let best: Version | undefined
    const endChain = () => {
      if (!cur || !chain || !best) return
      const forced = over.get(cur.canon)?.ns.get(nsTag(chain[3]))
      const live = forced ?? (best.d === undefined && !op.expired(chain[3]))
      if (live && !cur.live) {
        cur.live = true
        if (forced === undefined) cur.key = { values: decodeVersion(best).values, canon: cur.canon, group: g }
      }
    }
    const endKey = () => {
      if (!cur) return
      last = cur.el
      if (cur.live && !listed.has(cur.canon)) keys.push(cur.key ?? over.get(cur.canon)!.key)
      cur = undefined
    }
    const start = after === undefined ? [op.uid, g] : [op.uid, g, after]
    guard(this.dir, 'unreadable', () => {
      for (const { key: dk, value: rec } of this.state.getRange({ start: start as unknown as DiskKey, end: [op.uid, g + 1] as unknown as DiskKey, snapshot: false })) {
        const el = dk[2]
        if (isLongElement(el) !== long) {
          if (long) break // past the long keys
          continue // read up front
        }
        if (!long && el === after) continue
        if (chain === undefined || !sameChain(dk, chain)) {
          endChain()
          if (cur && cur.el !== el) {
            endKey()
            if (keys.length >= limit) {
              done = false
              break
            }
          }
          cur ??= { el, canon: long ? this.longCanon(rec) : el, live: false, key: undefined }
          chain = dk
          best = undefined
        }
        if (this.epochs.visible(dk[4])) best = rec
      }
      if (done) {
        endChain()
        endKey()
      }
    })
    return { keys, last, done }
  }

  /** @internal */
  _timerSpill(): TimerSpill {
    this.assertOpen()
    return new LmdbTimerSpill(this.dir, this.scratch.db, this.timerHeadKeys, () => (this.scratch.used = true))
  }

  /** @internal */
  _forEach(op: LmdbOperatorState, fn: (key: Key, ns: Namespace, value: unknown) => void): void {
    this.assertOpen()
    const over = new Map<string, Entry>()
    for (const list of op.cache.values()) for (const e of list) over.set(e.key.canon + '\u0000' + nsTag(e.ns), e)
    // A key group's entries are gathered first and visited once its read is over: the callback may
    // read state (a miss can spill, a write) and must not run inside an open iteration.
    for (let g = 0; g < MAX_KEY_GROUPS; g++) {
      const found: [Key, Namespace, unknown][] = []
      guard(this.dir, 'unreadable', () =>
        scanChains(this.state, [op.uid, g], [op.uid, g + 1], this.epochs, (dk, rec) => {
          if (rec.d !== undefined || op.expired(dk[3])) return
          const canon = isLongElement(dk[2]) ? this.longCanon(rec) : dk[2]
          if (over.has(canon + '\u0000' + nsTag(dk[3]))) return
          const { values, value } = decodeVersion(rec)
          found.push([{ values, canon, group: g }, dk[3], value])
        }),
      )
      for (const [k, ns, v] of found) fn(k, ns, v)
    }
    for (const e of over.values()) if (e.value !== undefined && !op.expired(e.ns)) fn(e.key, e.ns, e.value)
  }

  // -- internals -------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new WeirError('internal', `${this.dir}: state used after close`)
  }

  private chainKey(op: LmdbOperatorState, key: Key, ns: Namespace): [string, number, string, Namespace] {
    if (typeof ns === 'string') checkName('namespace', ns, MAX_NS_BYTES)
    // ordered-binary writes -0 apart from 0, but they are one namespace
    return [op.uid, key.group, canonElement(key.canon), ns === 0 ? 0 : ns]
  }

  private longCanon(rec: Version): string {
    if (typeof rec.c !== 'string') throw new WeirError('io', `${this.dir}: state is unreadable: a long key's entry has no key text`)
    return rec.c
  }

  /**
   * What a miss reads: the newest visible version of the chain, and all its epochs (a chain is
   * short: reclaim keeps about one version per retained checkpoint).
   */
  private read(op: LmdbOperatorState, key: Key, ns: Namespace): { value: unknown; chain: Chain } {
    const ck = this.chainKey(op, key, ns)
    if (!this.mayBeOnDisk(ck)) return NEVER_WRITTEN
    return guard(this.dir, 'unreadable', () => {
      const chain: Chain = { epochs: [], tombs: [] }
      let found: Version | undefined
      for (const { key: dk, value: rec } of this.state.getRange({ start: [...ck, TOP_EPOCH], end: ck as unknown as DiskKey, reverse: true })) {
        chain.epochs.push(dk[4])
        chain.tombs.push(rec.d !== undefined)
        if (found || !this.epochs.visible(dk[4])) continue
        // SHA-256 of two different canons: not expected in the life of the universe, but checked
        if (rec.c !== undefined && rec.c !== key.canon) throw new WeirError('internal', `${this.dir}: two state keys share a hash: ${key.canon.slice(0, 60)}… and ${rec.c.slice(0, 60)}…`)
        found = rec
      }
      chain.epochs.reverse()
      chain.tombs.reverse()
      return { value: found && found.d === undefined ? decodeVersion(found).value : undefined, chain }
    })
  }

  /** Adds an entry to its key's list (`list`, undefined when the key has none cached). */
  private insert(op: LmdbOperatorState, list: Entry[] | undefined, e: Entry): void {
    if (list === undefined) {
      const created = [e]
      op.cache.set(e.key.canon, created)
      e.key.stateOwner = op
      e.key.stateSlots = created
    } else list.push(e)
    if (++this.cached > this.cacheEntries) this.evict()
  }

  private uncache(e: Entry): void {
    this.hit = undefined
    const list = this.listOf(e.op, e.key)
    const i = list ? list.indexOf(e) : -1
    if (i < 0) return
    list!.splice(i, 1) // an emptied list stays until the next flush or eviction, as in _put
    this.cached--
    if (list!.length === 0) this.noteEmptied()
  }

  /**
   * A list was emptied. Empty lists wait for the next flush or eviction, which drop them; a job
   * whose windows open and close between checkpoints, with few entries cached, may not evict for a
   * long time, so they are also dropped once as many were emptied as the cache holds entries.
   */
  private noteEmptied(): void {
    if (++this.emptied < this.cacheEntries) return
    this.emptied = 0
    for (const op of this.ops.values()) for (const [canon, list] of op.cache) if (list.length === 0) dropList(op, canon, list)
  }

  private clearCache(): void {
    this.hit = undefined
    for (const op of this.ops.values()) {
      for (const [canon, list] of op.cache) dropList(op, canon, list)
      op.cache.clear()
    }
    this.cached = 0
  }



  /**
   * Brings the cache down to 90% of its bound, so the scan is paid once per many inserts: clean
   * entries go, oldest first, unless used since the last scan; when only dirty entries are left,
   * all of them are spilled in one transaction and become clean.
   */
  private evict(): void {
    this.hit = undefined
    const target = this.cacheEntries - Math.max(1, Math.floor(this.cacheEntries / 10))
    const pass = (secondChance: boolean) => {
      for (const op of this.ops.values())
        for (const [canon, list] of op.cache) {
          if (this.cached <= target) return
          let kept = 0
          for (let i = 0; i < list.length; i++) {
            const e = list[i]!
            if (this.cached > target && !e.dirty) {
              if (secondChance && e.hot) e.hot = false
              else {
                this.cached--
                continue
              }
            }
            list[kept++] = e
          }
          if (kept === 0) dropList(op, canon, list)
          else list.length = kept
        }
    }
    pass(true)
    if (this.cached > target) pass(false)
    if (this.cached > target) {
      this.flush(this.pending, UNFLUSHED, this.epochs, this.oldest, false)
      this.spilled = true
      pass(false)
    }
  }

  /**
   * Writes every dirty entry under `epoch` in one transaction, with meta.maxEpoch, and reclaims
   * what no retained checkpoint can need (when `oldest` is known): the older versions of each key
   * written, and at a checkpoint a slice of everything else (the sweep).
   */
  private flush(epoch: number, flags: number, epochs: Epochs, oldest: number, sweep: boolean, reads?: number[][], expiry?: [number, Bounds][]): void {
    this.hit = undefined
    const written: Entry[] = []
    // entries change only once the commit is through: a failed flush leaves them dirty
    const chains: (Chain | undefined)[] = []
    const cks: [string, number, string, Namespace][] = []
    // The dirty entries in key order: LMDB then walks its B-tree once, left to right, instead of
    // copying a leaf page for each write in cache order. Clean entries of absent state (a window
    // that fired and whose tombstone is written, or one opened and closed since the last write)
    // leave the cache: a later read finds the tombstone, or the filter answers.
    const dirty: { e: Entry; ck: [string, number, string, Namespace] }[] = []
    for (const op of this.ops.values())
      for (const [canon, list] of op.cache) {
        let kept = 0
        for (let i = 0; i < list.length; i++) {
          const e = list[i]!
          if (e.dirty) dirty.push({ e, ck: this.chainKey(e.op, e.key, e.ns) })
          else if (e.value === undefined) {
            this.cached--
            continue
          }
          list[kept++] = e
        }
        if (kept === 0) dropList(op, canon, list)
        else list.length = kept
      }
    dirty.sort((a, b) => compareChainKeys(a.ck, b.ck))
    guard(this.dir, 'not writable', () =>
      this.state.transactionSync(() => {
        for (const { e, ck } of dirty) {
          const long = isLongElement(ck[2])
          void this.state.put([ck[0], ck[1], ck[2], ck[3], epoch], e.value === undefined ? tombstone(e.key, long) : encodeVersion(e.key, e.value, long))
          // before the commit, so a failed flush only leaves the filter too generous, never short
          if (this.filter && e.filtered !== this.filter) {
            if (!this.filter.has(ck[0], ck[2], ck[3])) this.filter.add(ck[0], ck[2], ck[3])
            e.filtered = this.filter
          }
          const deleted = e.value === undefined
          let chain = e.chain && { epochs: e.chain.epochs.slice(), tombs: e.chain.tombs.slice() }
          if (chain) {
            // epochs only grow; a spill and then its checkpoint write the same one
            if (chain.epochs[chain.epochs.length - 1] === epoch) chain.tombs[chain.tombs.length - 1] = deleted
            else chain.epochs.push(epoch), chain.tombs.push(deleted)
          } else if (oldest >= 0) chain = this.readChain(ck) // a key put without being read: read once, here
          if (chain && oldest >= 0) this.reclaimChain(ck, chain, epochs, oldest)
          written.push(e)
          chains.push(chain)
          cks.push(ck)
        }
        if (epoch > this.maxWritten) void this.meta.put('maxEpoch', epoch)
        if (reads) void this.meta.put('reads', reads)
        if (expiry) void this.meta.put('expiry', expiry)
        if (sweep && oldest >= 0) {
          this.reclaimDead(epochs, oldest)
          this.reclaimExpired(oldest)
          // as many as were written since the last checkpoint, spills included: on a cache
          // smaller than the windows open at once most writes are spills, and their chains too
          // expire or are deleted (counting the checkpoint's own writes only, a test's file grew
          // to twenty times its live state)
          this.sweep(epochs, oldest, Math.max(this.sweepEntries, this.writtenSince + written.length))
        }
      }, flags),
    )
    if (epoch > this.maxWritten) this.maxWritten = epoch
    this.writtenSince = sweep ? 0 : this.writtenSince + written.length
    written.forEach((e, i) => {
      e.dirty = false
      e.baseAbsent = e.value === undefined
      e.chain = chains[i]
      if (e.value === undefined) {
        this.uncache(e)
        // only a checkpoint's: a spill's epoch is written again by its checkpoint, maybe with a value
        const chain = chains[i]
        // Beyond the bound the newest are left to the sweep, not the oldest: those are due first,
        // and dropping them kept a list always full of chains not yet due (a 1M-key job reclaimed
        // one tombstoned window in six and its file grew to 600 MB).
        if (sweep && chain && chain.epochs[chain.epochs.length - 1] === epoch && this.dead.length < DEAD_CHAINS) this.dead.push({ ck: cks[i]!, epoch, chain })
      } else if (e.held) this.uncache(e)
    })
  }

  /** False when the chain has certainly never been written (see ChainFilter). */
  private mayBeOnDisk(ck: [string, number, string, Namespace], canBuild = true): boolean {
    if (!this.filter || this.filter.full) {
      // never inside a write transaction (a flush): its own puts may not show in the scan yet
      if (!canBuild) return true
      this.buildFilter()
    }
    return this.filter!.has(ck[0], ck[2], ck[3])
  }

  /**
   * Sized for the chains on disk now (24 bits each, at least 2^20 bits): what was reclaimed since
   * the last build no longer counts, so the filter follows the live state, not the run's history.
   */
  private buildFilter(): void {
    guard(this.dir, 'unreadable', () => {
      // The filter's size needs the count of chains first, so their two hashes are kept until
      // then: 8 bytes a chain. (Keeping the keys read, as arrays of strings, took some 150 bytes a
      // chain and ran a 1M-key job out of a 320 MB heap.)
      let hashes = new Int32Array(1 << 16)
      let n = 0
      let last: DiskKey | undefined
      for (const dk of this.state.getKeys({ snapshot: false })) {
        const same = last !== undefined && sameChain(dk, last) // a chain's versions are adjacent
        last = dk
        if (same) continue
        hashChain(dk[0], dk[2], dk[3])
        if (2 * n + 2 > hashes.length) {
          const bigger = new Int32Array(hashes.length * 2)
          bigger.set(hashes)
          hashes = bigger
        }
        hashes[2 * n] = hashA
        hashes[2 * n + 1] = hashB
        n++
      }
      const f = new ChainFilter(Math.max(20, Math.ceil(Math.log2(n * 24 + 1))))
      for (let i = 0; i < n; i++) f.addHashed(hashes[2 * i]!, hashes[2 * i + 1]!)
      this.filter = f
    })
  }

  private readChain(ck: [string, number, string, Namespace]): Chain {
    const chain: Chain = { epochs: [], tombs: [] }
    if (!this.mayBeOnDisk(ck, false)) return chain
    for (const { key, value } of this.state.getRange({ start: ck as unknown as DiskKey, end: [...ck, TOP_EPOCH] })) {
      chain.epochs.push(key[4])
      chain.tombs.push(value.d !== undefined)
    }
    return chain
  }

  /** Removes what `reclaimable` finds in one chain, from LMDB and from `chain`. */
  private reclaimChain(ck: [string, number, string, Namespace], chain: Chain, epochs: Epochs, oldest: number): void {
    if (chain.epochs.length < 2 && !(chain.epochs[0]! <= oldest)) return // the common case: nothing to do
    const gone = reclaimable(chain.epochs, epochs, oldest, (i) => chain.tombs[i]!)
    if (gone.length === 0) return
    for (const i of gone) void this.state.remove([...ck, chain.epochs[i]!])
    chain.epochs = chain.epochs.filter((_, i) => !gone.includes(i))
    chain.tombs = chain.tombs.filter((_, i) => !gone.includes(i))
  }

  /**
   * Removes the dead chains no retained checkpoint needs any more: what `reclaimable` finds in
   * each as it was when its tombstone was written (versions written since are newer, and only
   * add to what may go), in key order.
   */
  private reclaimDead(epochs: Epochs, oldest: number): void {
    let n = 0
    while (n < this.dead.length && this.dead[n]!.epoch <= oldest) n++
    if (n === 0) return
    const due = this.dead.splice(0, n).sort((a, b) => compareChainKeys(a.ck, b.ck))
    for (const { ck, chain } of due)
      for (const i of reclaimable(chain.epochs, epochs, oldest, (i) => chain.tombs[i]!)) void this.state.remove([ck[0], ck[1], ck[2], ck[3], chain.epochs[i]!])
  }

  /**
   * Removes the expired chains no retained checkpoint predates: every version, since each retained
   * checkpoint records them expired (and no window opens again below its bound), in key order.
   */
  private reclaimExpired(oldest: number): void {
    let n = 0
    while (n < this.expired.length && this.expired[n]!.epoch <= oldest) n++
    if (n === 0) return
    const due = this.expired
      .splice(0, n)
      .map((x) => ({ ck: this.chainKey(x.op, x.key, x.ns), epochs: x.epochs }))
      .sort((a, b) => compareChainKeys(a.ck, b.ck))
    for (const { ck, epochs } of due) for (const e of epochs) void this.state.remove([ck[0], ck[1], ck[2], ck[3], e])
  }

  /**
   * Reclaims, a slice per checkpoint and wrapping round, what per-key reclaim never visits: keys
   * not written again (a tombstone left behind, versions of a crashed run), so a job whose keys
   * come and go does not grow its file forever.
   */
  private sweep(epochs: Epochs, oldest: number, budget: number): void {
    // Keys only: whether a version is a tombstone matters only for the newest version a retained
    // checkpoint may see at or below `oldest` (reclaimable), which most chains lack (their versions
    // are newer: windows opened since); that one is read when asked (tombAt). Decoding every value
    // the sweep passed cost more than these few gets.
    let keys: DiskKey[] = []
    let tombs: (boolean | undefined)[] = []
    let read = 0
    const range = this.state.getKeys({ ...(this.sweepAfter && { start: this.sweepAfter, exclusiveStart: true }), limit: budget, snapshot: false })
    for (const key of range) {
      read++
      if (Array.isArray(key) && key.length === 5) keys.push(key), tombs.push(undefined)
    }
    const tombAt = (i: number): boolean => (tombs[i] ??= this.state.get(keys[i]!)?.d !== undefined)
    const atEnd = read < budget
    let chains: [number, number][] = [] // [first, end) index ranges of keys
    for (let i = 0; i < keys.length; i++)
      if (i === 0 || !sameChain(keys[i]!, keys[i - 1]!)) chains.push([i, i + 1])
      else chains[chains.length - 1]![1] = i + 1
    // The last chain may go on past the batch: it is left for the next one, so every chain is
    // seen whole; one that fills the batch alone (longer than the budget) is read to its end.
    if (!atEnd && chains.length > 1) chains.pop()
    else if (!atEnd) {
      const prefix = keys[0]!.slice(0, 4) as [string, number, string, Namespace]
      const whole = this.readChain(prefix)
      keys = whole.epochs.map((e) => [...prefix, e])
      tombs = whole.tombs
      chains = [[0, keys.length]]
    }
    // a chain below its operator's bound at the oldest retained checkpoint is dead at every one
    const below = boundsAt(this.expiry, oldest, epochs)
    for (const [a, b] of chains) {
      const first = keys[a]!
      const bound = below?.[first[0]]
      const ns = first[3]
      if (bound !== undefined && typeof ns === 'number' && ns < bound) {
        for (let i = a; i < b; i++) void this.state.remove(keys[i]!)
        continue
      }
      // most chains are one version newer than the oldest retained checkpoint (a window opened
      // since): reclaimable finds nothing in them
      if (b - a === 1 && first[4] > oldest) continue
      const chain = keys.slice(a, b)
      for (const i of reclaimable(
        chain.map((dk) => dk[4]),
        epochs,
        oldest,
        (i) => tombAt(a + i),
      ))
        void this.state.remove(chain[i]!)
    }
    const last = chains[chains.length - 1]
    this.sweepAfter = atEnd || !last ? undefined : keys[last[1] - 1]
  }
}

/** meta 'expiry' as stored ([] when absent: a job dir of format 3 or older, or no bound yet). */
function readExpiry(dir: string, meta: Database<unknown, string>): [number, Bounds][] {
  const stored = guard(dir, 'unreadable', () => meta.get('expiry'))
  if (stored === undefined) return []
  if (!Array.isArray(stored) || !stored.every((x) => Array.isArray(x) && typeof x[0] === 'number' && typeof x[1] === 'object' && x[1] !== null))
    throw new WeirError('io', `${dir}: state is unreadable: its expiry bounds are malformed`)
  return stored as [number, Bounds][]
}

/**
 * The bounds in force at checkpoint `id`: those of the newest checkpoint at or below it on the
 * lineage (bounds only rise along a lineage, so an older one's are a safe lower bound), or
 * undefined when none is recorded.
 */
function boundsAt(expiry: readonly [number, Bounds][], id: number, lineage: Epochs): Bounds | undefined {
  let found: Bounds | undefined
  for (const [e, b] of expiry) if (e <= id && lineage.inLineage(e)) found = b
  return found
}

/**
 * Near enough to LMDB's order of [uid, group, canon, ns] for writes to walk the B-tree in order
 * (strings by UTF-16 units, not UTF-8 bytes: only locality depends on it).
 */
function compareChainKeys(a: [string, number, string, Namespace], b: [string, number, string, Namespace]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  if (a[1] !== b[1]) return a[1] - b[1]
  if (a[2] !== b[2]) return a[2] < b[2] ? -1 : 1
  const x = a[3]
  const y = b[3]
  if (typeof x === typeof y) return x < y ? -1 : x > y ? 1 : 0
  return typeof x === 'number' ? -1 : 1 // ordered-binary: numbers before strings
}

/** Merges lists each sorted by compareCanon (a heap of their heads). */
// -- opening -----------------------------------------------------------------------------------

interface Env {
  root: RootDatabase
  state: Database<Version, DiskKey> | undefined
  meta: Database<unknown, string> | undefined
}

// Offsets in an LMDB data file (the page header of lmdb-js 3.5's LMDB, then MDB_meta), see
// mdb_env_read_header in its mdb.c
const P_META = 0x08
const MDB_MAGIC = 0xbeefc0de
const MDB_DATA_VERSION = 2
// freeRoot, mainRoot: md_root of mm_dbs[FREE_DBI] and mm_dbs[MAIN_DBI] (P_INVALID for an empty tree)
const META = { flags: 18, magic: 24, version: 28, pageSize: 48, freeRoot: 88, mainRoot: 136, lastPage: 144, end: 160 }
const P_INVALID = 0xffffffffffffffffn

/**
 * Refuses what LMDB would crash on. lmdb-js 3.5.6 takes the process down (SIGSEGV, in its cleanup
 * after a failed open) on any file LMDB rejects, and LMDB itself faults on a file cut short (SIGBUS
 * on the mapped pages past its end) or with a damaged meta page. So both meta pages are checked
 * here as LMDB reads them, and the file must reach the last page each one names. A data page
 * damaged in the middle still cannot be caught: LMDB keeps no page checksums.
 */
function checkDataFile(dir: string, readOnly: boolean): 'none' | 'lmdb' {
  const bad = (why: string) => new WeirError('io', `${dir}: state is unreadable: data.mdb ${why}`)
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK) // LMDB writes its lock file even to read
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none'
    throw ioError(dir, 'unreadable', err)
  }
  let fd: number
  try {
    fd = openSync(join(dir, 'data.mdb'), readOnly ? 'r' : 'r+')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none'
    throw ioError(dir, 'unreadable', err)
  }
  try {
    const size = fstatSync(fd).size
    if (size === 0) return 'none' // LMDB starts an empty file afresh (and crashes reading one)
    const page = Buffer.alloc(META.end)
    const meta = (at: number) => {
      if (readSync(fd, page, 0, META.end, at) < META.end) throw bad(`is cut short (${size} bytes)`)
      if (!(page.readUInt16LE(META.flags) & P_META) || page.readUInt32LE(META.magic) !== MDB_MAGIC) throw bad('is not an LMDB file')
      const version = page.readUInt32LE(META.version) & 0xffff
      if (version !== MDB_DATA_VERSION) throw bad(`is LMDB file version ${version}, not ${MDB_DATA_VERSION}`)
      const roots = [page.readBigUInt64LE(META.freeRoot), page.readBigUInt64LE(META.mainRoot)].filter((r) => r !== P_INVALID)
      return { pageSize: page.readUInt32LE(META.pageSize), lastPage: page.readBigUInt64LE(META.lastPage), roots }
    }
    const first = meta(0)
    if (first.pageSize < 512 || first.pageSize > 65536 || (first.pageSize & (first.pageSize - 1)) !== 0) throw bad(`has a damaged header (page size ${first.pageSize})`)
    const second = meta(first.pageSize)
    // The file need not reach a meta's last page: pages a transaction allocated at the end and
    // freed again before its commit (LMDB's loose pages) count in it but are never written, and
    // LMDB reads no page of its free list before writing it. What a commit always writes are the
    // pages its trees' roots name, so a file that holds those, in whole pages, is not cut short.
    const pageSize = BigInt(first.pageSize)
    if (BigInt(size) % pageSize !== 0n) throw bad(`is cut short: ${size} bytes, not a whole number of ${first.pageSize}-byte pages`)
    for (const m of [first, second]) {
      const need = m.roots.reduce((n, r) => (r + 1n > n ? r + 1n : n), 2n) * pageSize
      if (BigInt(size) < need) throw bad(`is cut short: ${size} bytes, its header needs ${need}`)
    }
    return 'lmdb'
  } finally {
    closeSync(fd)
  }
}

function openEnv(dir: string, readOnly: boolean, durable: boolean): Env {
  // noSubdir is explicit: lmdb-js would take a dir named like `clicks.v2` for a file name. Without
  // noSync, LMDB syncs every commit, even one flagged not to wait for it (the next one does).
  // mapSize: address space, not memory. Without it lmdb-js maps the file anew each time it outgrows
  // the map and keeps the old maps (13 of them at 10M keys, the largest 1.5 GB, all from offset 0):
  // the same pages then count once per map in the process's resident size, which reached 2.8 GB
  // for a 1.4 GB file. One map, reserved once, counts each page once.
  const root = guard(dir, 'unreadable', () => open(dir, { noSubdir: false, maxDbs: MAX_DBS, readOnly, mapSize: MAP_SIZE, ...(!durable && { noSync: true }) }))
  try {
    return {
      root,
      state: root.openDB<Version, DiskKey>('state', {}),
      meta: root.openDB<unknown, string>('meta', {}),
    }
  } catch (err) {
    void root.close()
    throw ioError(dir, 'unreadable', err)
  }
}

/**
 * The spilled timers' own environment, `timers/` in the state's folder, never synced: LMDB syncs
 * every commit of an environment (see FLUSHED), and a session window job past its timer head
 * spilled and took back timers a few records at a time, an fdatasync each: 120k records took 77 s
 * on LMDB against 1.2 s in memory. Nothing in it outlives the run (it is emptied at open), so a
 * crash that tears it loses nothing: it is rebuilt from the state.
 */
function openScratch(dir: string): { root: RootDatabase; db: Database<Version, SpillKey>; used: boolean } {
  const path = join(dir, 'timers')
  // made here with the state folder's mode (LMDB would make it 0777 less the umask)
  guard(dir, 'not writable', () => mkdirSync(path, { recursive: true, mode: statSync(dir).mode & 0o777 }))
  const root = guard(dir, 'not writable', () => open(path, { noSubdir: false, maxDbs: 1, mapSize: MAP_SIZE, noSync: true }))
  try {
    const db = guard(dir, 'unreadable', () => root.openDB<Version, SpillKey>('timers', {}))
    if (guard(dir, 'unreadable', () => db.getKeysCount({ limit: 1 })) > 0) guard(dir, 'not writable', () => db.clearSync())
    return { root, db, used: false }
  } catch (err) {
    void root.close()
    throw err
  }
}

function checkFormat(dir: string, format: unknown): void {
  if (typeof format !== 'number' || format < OLDEST_STATE_FORMAT || format > STATE_FORMAT)
    throw new WeirError(
      'io',
      `${dir}: state format ${JSON.stringify(format ?? 'unknown')} is not a format this weir reads (${OLDEST_STATE_FORMAT} to ${STATE_FORMAT}); use the weir version that wrote it`,
    )
}

export async function openLmdbState(dir: string, opts: LmdbStateOptions): Promise<LmdbStateBackend> {
  checkDataFile(dir, false)
  const env = openEnv(dir, false, opts.durable ?? true)
  try {
    const { state, meta } = env
    if (!state || !meta) throw new WeirError('io', `${dir}: state is unreadable: cannot open its databases`)
    const maxEpoch = guard(dir, 'unreadable', () => {
      const format = meta.get('stateFormat')
      if (format === undefined && state.getKeysCount({ limit: 1 }) === 0) {
        meta.transactionSync(() => {
          void meta.put('stateFormat', STATE_FORMAT)
          void meta.put('maxEpoch', -1)
        })
        return -1
      }
      checkFormat(dir, format)
      const m = meta.get('maxEpoch')
      if (typeof m !== 'number') throw new WeirError('io', `${dir}: state is unreadable: no maxEpoch in its metadata`)
      // an older format this weir reads as it is: from now on it may hold what only this format has
      if (format !== STATE_FORMAT) guard(dir, 'not writable', () => meta.transactionSync(() => void meta.put('stateFormat', STATE_FORMAT)))
      return m
    })
    // A version under an epoch at or below maxEpoch may be a crashed run's; writing this run's
    // versions there would make them part of a checkpoint they never belonged to.
    if (opts.pendingEpoch !== undefined && !(opts.pendingEpoch > maxEpoch))
      throw new WeirError('internal', `${dir}: the next checkpoint id ${opts.pendingEpoch} must be above every epoch in the state (${maxEpoch})`)
    // timers a crashed run spilled: scratch (see the layout above), rebuilt from state on restore.
    // Written by an earlier weir into the state's own environment: emptied, if any.
    const old = guard(dir, 'unreadable', () => env.root.openDB<Version, SpillKey>('timers', {}))
    if (guard(dir, 'unreadable', () => old.getKeysCount({ limit: 1 })) > 0) guard(dir, 'not writable', () => old.clearSync())
    const scratch = openScratch(dir)
    return new LmdbStateBackend(dir, env.root, state, meta, scratch, maxEpoch, opts)
  } catch (err) {
    await env.root.close()
    throw err
  }
}

/** Read-only inspection for `weir state`: every live (uid, key, ns, value) visible at a checkpoint's lineage. */
export async function readState(dir: string, lineage: Lineage, fn: (uid: string, key: Key, ns: Namespace, value: unknown) => void, epoch?: number): Promise<void> {
  // `epoch`: the checkpoint's, whose state must be here; gone (data.mdb removed or replaced), it is
  // an error, as for a resume, not an empty state
  const gone = () => new WeirError('io', `${dir}: holds no state of epoch ${epoch} (the checkpoint's): the state was removed or replaced`)
  // no state yet (a job that never checkpointed): nothing to show, and nothing for LMDB to open
  if (checkDataFile(dir, true) === 'none') {
    if (epoch !== undefined) throw gone()
    return
  }
  const env = openEnv(dir, true, true)
  try {
    if (!env.meta || !env.state) {
      if (epoch !== undefined) throw gone()
      return
    }
    const { state, meta } = env
    guard(dir, 'unreadable', () => {
      checkFormat(dir, meta.get('stateFormat'))
      const newest = meta.get('maxEpoch')
      if (epoch !== undefined && !(typeof newest === 'number' && newest >= epoch)) throw gone()
      const seen = new Epochs(lineage, Infinity)
      const bounds = boundsAt(readExpiry(dir, meta), epoch ?? lineage.reduce((m, [, to]) => Math.max(m, to), -1), seen)
      scanChains(state, undefined, undefined, seen, (dk, rec) => {
        if (rec.d !== undefined) return
        const bound = bounds?.[dk[0]]
        if (bound !== undefined && typeof dk[3] === 'number' && dk[3] < bound) return
        const canon = isLongElement(dk[2]) ? rec.c : dk[2]
        if (typeof canon !== 'string') throw new WeirError('io', `${dir}: state is unreadable: a long key's entry has no key text`)
        const { values, value } = decodeVersion(rec)
        try {
          fn(dk[0], { values, canon, group: dk[1] }, dk[3], value)
        } catch (err) {
          throw new CallbackError(err)
        }
      })
    })
  } finally {
    await env.root.close()
  }
}

/**
 * Rewrites the state file compactly: LMDB files never shrink by themselves (freed pages are reused,
 * not returned). A compacting copy is made with lmdb's backup(), checked entry by entry against the
 * original (a compacting backup was reported to produce a corrupt copy, lmdb-js #198), and only
 * then swapped in. The caller holds the job's lock, so nothing writes meanwhile.
 */
export async function compactState(dir: string): Promise<{ before: number; after: number }> {
  if (checkDataFile(dir, false) === 'none') return { before: 0, after: 0 }
  const before = statSync(join(dir, 'data.mdb')).size
  const copy = dir.replace(/\/+$/, '') + '.compact'
  rmSync(copy, { recursive: true, force: true })
  // it takes the state folder's place: its mode too
  mkdirSync(copy, { mode: statSync(dir).mode & 0o777 })
  const env = openEnv(dir, false, true)
  try {
    // Every entry written anew, in key order, into a fresh environment: its pages come out full
    // and it holds nothing else. (LMDB's own compacting copy, lmdb-js backup(path, true), made a
    // copy that passed the check below but whose free-page list was broken: the job's next
    // checkpoint then failed, MDB_BAD_VALSIZE, or aborted in mdb_page_alloc.)
    const fresh = openEnv(copy, false, true)
    try {
      for (const name of ['state', 'meta'] as const) {
        const from = env[name] as Database | undefined
        const to = fresh[name] as Database | undefined
        if (!from || !to) continue
        let batch: { key: LmdbKey; value: unknown }[] = []
        const write = () =>
          guard(copy, 'not writable', () =>
            to.transactionSync(() => {
              for (const e of batch) void to.put(e.key, e.value)
            }),
          )
        for (const e of from.getRange({ snapshot: false })) {
          batch.push({ key: e.key, value: e.value })
          if (batch.length === COMPACT_BATCH) {
            write()
            batch = []
          }
        }
        if (batch.length > 0) write()
      }
      // the copy is complete on disk before it takes the state's place
      await fresh.root.flushed
    } finally {
      await fresh.root.close()
    }
    const twin = openEnv(copy, true, true)
    try {
      for (const name of ['state', 'meta'] as const) {
        const a = env[name]
        const b = twin[name]
        if (!a || !b) continue
        const left = a.getRange({ snapshot: false })[Symbol.iterator]()
        for (const e of b.getRange({ snapshot: false })) {
          const o = left.next()
          if (o.done || JSON.stringify(o.value.key) !== JSON.stringify(e.key) || JSON.stringify(o.value.value) !== JSON.stringify(e.value))
            throw new WeirError('io', `${dir}: the compacted copy differs from the state (left unchanged)`)
        }
        if (!left.next().done) throw new WeirError('io', `${dir}: the compacted copy lacks entries (left unchanged)`)
      }
    } finally {
      await twin.root.close()
    }
  } catch (err) {
    rmSync(copy, { recursive: true, force: true })
    throw err
  } finally {
    await env.root.close()
  }
  const old = dir.replace(/\/+$/, '') + '.old'
  rmSync(old, { recursive: true, force: true })
  renameSync(dir, old)
  renameSync(copy, dir)
  rmSync(old, { recursive: true, force: true })
  if (!existsSync(join(dir, 'data.mdb'))) throw new WeirError('io', `${dir}: compaction lost the state file`)
  return { before, after: statSync(join(dir, 'data.mdb')).size }
}

/** A key's cached entry for one namespace: a key holds few (its open windows), so a scan. */
/** What a list that left the cache holds, and only such a list: [DROPPED]. */
const DROPPED = Object.freeze({}) as Entry

/**
 * A key's list leaves the cache emptied and marked: a Key object that still points at it
 * (Key.stateSlots) then looks the key up again instead of reading entries no longer cached.
 */
function dropList(op: LmdbOperatorState, canon: string, list: Entry[]): void {
  op.cache.delete(canon)
  list.length = 0
  list.push(DROPPED)
}

function cachedEntry(list: Entry[], ns: Namespace): Entry | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.ns === ns) return list[i]
  return undefined
}
