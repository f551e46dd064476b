// User code with keyed state and timers, modelled on Flink's KeyedProcessFunction. A module
// exports processElement(record, ctx) and optionally onTimer(timestamp, ctx) and open(ctx).
// ctx gives the current key, keyed value/list/map state, event- and processing-time timers, the
// current watermark, and emit. State wrappers copy values on read and write (decisions.md 22):
// mutating an object after update() does not change state, in memory as in LMDB.
import { WeirError, at, type Position } from '../stream/errors.js'
import { NO_KEY, compareCanon, type Key } from '../stream/key.js'
import { MAX_WATERMARK, MIN_WATERMARK, type Rec } from '../stream/record.js'
import type { Namespace, OperatorState } from '../state/backend.js'
import { TimerQueue } from '../time/timers.js'
import type { Operator, OperatorContext, Output } from './operator.js'

export interface ProcessFunctionModule {
  processElement: (record: unknown, ctx: ProcessContext) => void
  onTimer?: (timestamp: number, ctx: ProcessContext) => void
  open?: (ctx: { emit: (v: unknown) => void }) => void
}

export interface ValueState<T = unknown> {
  value(): T | undefined
  update(v: T): void
  clear(): void
}
export interface ListState<T = unknown> {
  get(): T[]
  add(v: T): void
  update(vs: T[]): void
  clear(): void
}
export interface MapState<V = unknown> {
  get(k: string): V | undefined
  put(k: string, v: V): void
  has(k: string): boolean
  remove(k: string): void
  keys(): string[]
  entries(): [string, V][]
  clear(): void
}
export interface TimerService {
  currentWatermark(): number
  currentProcessingTime(): number
  registerEventTimeTimer(ts: number): void
  deleteEventTimeTimer(ts: number): void
  registerProcessingTimeTimer(ts: number): void
  deleteProcessingTimeTimer(ts: number): void
}
export interface ProcessContext {
  /** The key's value (an array for a compound key); null when the stream is not keyed. */
  key: unknown
  /** The record's time (event, ingestion or processing), or the timer's time in onTimer. */
  timestamp: number | undefined
  /** 'event' or 'processing' in onTimer; undefined in processElement. */
  timeDomain: 'event' | 'processing' | undefined
  state: { value<T>(name: string): ValueState<T>; list<T>(name: string): ListState<T>; map<V>(name: string): MapState<V> }
  timerService: TimerService
  emit(value: unknown): void
}

export interface ProcessConfig {
  module: ProcessFunctionModule
  /** shown in errors */
  name: string
  /** records come with event times and watermarks (needed by --state-ttl) */
  eventTime?: boolean
}

/** --state-ttl: when the key's latest record was, and which namespaces the key has written. */
interface Touched {
  t: number
  ns: Namespace[]
}
const TOUCHED = 'x'

/** The operator's state, noting in the key's Touched record every namespace written, so expiry can drop them all. */
function tracking(raw: OperatorState): OperatorState {
  return {
    get: (k, ns) => raw.get(k, ns),
    put(k, ns, v) {
      raw.put(k, ns, v)
      const x = raw.get(k, TOUCHED) as Touched | undefined
      if (x && !x.ns.includes(ns)) {
        x.ns.push(ns)
        raw.put(k, TOUCHED, x)
      }
    },
    delete: (k, ns) => raw.delete(k, ns),
    forEachKey: (fn) => raw.forEachKey(fn),
    keys: () => raw.keys(),
    forEach: (fn) => raw.forEach(fn),
  }
}

/** A key's registered timers, by domain: event time and processing time. */
interface KeyTimers {
  e: number[]
  p: number[]
}
// user state names are prefixed 'v:', 'l:', 'm:', so this namespace cannot collide with one
const TIMERS = 't'

const copy = <T>(v: T): T => (v === undefined ? v : structuredClone(v))

export function processOperator(cfg: ProcessConfig, uid: string): Operator {
  const fn = cfg.module
  // made at open: on LMDB, timers beyond a bounded head wait on disk (decisions.md 32)
  let eventTimers: TimerQueue<null>
  let procTimers: TimerQueue<null>
  let state: OperatorState
  let raw: OperatorState
  let ctx: OperatorContext
  let ttl: number | undefined
  let expiries: TimerQueue<null>
  let wm = MIN_WATERMARK
  let key: Key = NO_KEY
  let out: Output
  let pos: Position = { source: cfg.name, line: 0 }
  // The number of entries of a map state's object, while it is the one in state: whether a
  // remove emptied it, without listing its keys at every remove (Object.keys of a large map is
  // slow). Only this operator changes those objects (user code gets copies); an object state
  // gives anew (LMDB, after an eviction) is counted once.
  const mapSizes = new WeakMap<object, number>()
  const pc: ProcessContext = {
    key: null,
    timestamp: undefined,
    timeDomain: undefined,
    state: {
      value: <T>(name: string): ValueState<T> => {
        const ns = 'v:' + name
        return {
          value: () => copy(state.get(key, ns) as T | undefined),
          update: (v) => (v === undefined ? state.delete(key, ns) : state.put(key, ns, copy(v))),
          clear: () => state.delete(key, ns),
        }
      },
      list: <T>(name: string): ListState<T> => {
        const ns = 'l:' + name
        const cur = () => (state.get(key, ns) as T[] | undefined) ?? []
        return {
          get: () => copy(cur()),
          // in place, and put back (the write-back contract of state/backend.ts): the user only
          // ever holds copies. A new list at every add made a key's list quadratic (one key, 100k
          // adds: 111 s, against 1.8 s over 100k keys)
          add: (v) => {
            const c = copy(v)
            const l = state.get(key, ns) as T[] | undefined
            if (l === undefined) return state.put(key, ns, [c])
            l.push(c)
            state.put(key, ns, l)
          },
          update: (vs) => (vs.length === 0 ? state.delete(key, ns) : state.put(key, ns, copy(vs))),
          clear: () => state.delete(key, ns),
        }
      },
      map: <V>(name: string): MapState<V> => {
        const ns = 'm:' + name
        const cur = () => (state.get(key, ns) as Record<string, V> | undefined) ?? {}
        return {
          get: (k) => copy(cur()[k]),
          // in place too, as a list's add (a new object at every put was quadratic in the map's size);
          // defined, not assigned, so that a key named __proto__ is an entry like any other
          put: (k, v) => {
            const c = copy(v)
            const m = (state.get(key, ns) as Record<string, V> | undefined) ?? {}
            const added = !Object.prototype.hasOwnProperty.call(m, k)
            Object.defineProperty(m, k, { value: c, writable: true, enumerable: true, configurable: true })
            const n = mapSizes.get(m)
            if (added && n !== undefined) mapSizes.set(m, n + 1)
            state.put(key, ns, m)
          },
          has: (k) => Object.prototype.hasOwnProperty.call(cur(), k),
          remove: (k) => {
            const m = state.get(key, ns) as Record<string, V> | undefined
            if (m === undefined) return state.delete(key, ns)
            if (!Object.prototype.hasOwnProperty.call(m, k)) return // unchanged
            delete m[k]
            const was = mapSizes.get(m)
            const n = was === undefined ? Object.keys(m).length : was - 1
            mapSizes.set(m, n)
            if (n === 0) state.delete(key, ns)
            else state.put(key, ns, m)
          },
          keys: () => Object.keys(cur()).sort(),
          entries: () => copy(Object.entries(cur()).sort(([a], [b]) => compareCanon(a, b))),
          clear: () => state.delete(key, ns),
        }
      },
    },
    timerService: {
      currentWatermark: () => wm,
      currentProcessingTime: () => ctx.clock.now(),
      registerEventTimeTimer: (ts) => register('e', eventTimers, ts),
      deleteEventTimeTimer: (ts) => unregister(key, 'e', ts),
      registerProcessingTimeTimer: (ts) => register('p', procTimers, ts),
      deleteProcessingTimeTimer: (ts) => unregister(key, 'p', ts),
    },
    emit(value) {
      if (refused) return // an async function's emit after its await: the run has already failed
      if (value === undefined) throw new Error('emit(undefined): emit a JSON value')
      out.record({ raw: undefined, value: copy(value), key, time: pc.timestamp, source: pos.source, line: pos.line, derived: true })
    },
  }

  // A key's registered timers are keyed state (namespace TIMERS), as in Flink: a checkpoint keeps
  // them with the rest of the key's state, and the queues are rebuilt from it on restore. The
  // queues may hold timers deleted since; a timer fires only while state still lists it.
  function timersOf(k: Key): KeyTimers {
    return (state.get(k, TIMERS) as KeyTimers | undefined) ?? { e: [], p: [] }
  }

  // A key's times are kept in ascending order (restore sorts those written before they were), so
  // that a key with many timers pending finds one by bisection: a scan of them at every
  // registration made a hot key's timers quadratic (one key, a timer 5 min after each of 200k
  // records: 32 s, against 5 s over 100k keys).
  function register(domain: 'e' | 'p', q: TimerQueue<null>, ts: number): void {
    if (!Number.isFinite(ts)) throw new Error(`timer time must be a number, got ${ts}`)
    const kt = timersOf(key)
    const times = kt[domain]
    const i = lowerBound(times, ts)
    if (times[i] === ts) return // one timer per (key, time), as Flink
    if (i === times.length) times.push(ts)
    else times.splice(i, 0, ts)
    state.put(key, TIMERS, kt)
    q.add({ time: ts, order: 0, key, payload: null })
  }

  /** Removes a registered timer; false when there was none. */
  function unregister(k: Key, domain: 'e' | 'p', ts: number): boolean {
    const kt = state.get(k, TIMERS) as KeyTimers | undefined
    if (!kt) return false
    const times = kt[domain]
    const i = lowerBound(times, ts)
    if (times[i] !== ts) return false
    // timers fire in time order: the first, whose removal V8 does without moving the rest
    if (i === 0) times.shift()
    else times.splice(i, 1)
    if (kt!.e.length === 0 && kt!.p.length === 0) state.delete(k, TIMERS)
    else state.put(k, TIMERS, kt)
    return true
  }

  /** Drops the state of keys no record has touched for the ttl (after their due timers fired). */
  function expire(t: number): void {
    for (let e = expiries.pollUpTo(t); e; e = expiries.pollUpTo(t)) {
      const x = raw.get(e.key, TOUCHED) as Touched | undefined
      if (!x) continue
      if (x.t + ttl! > t) {
        expiries.add({ time: x.t + ttl!, order: 0, key: e.key, payload: null })
        continue
      }
      for (const ns of x.ns) raw.delete(e.key, ns)
      raw.delete(e.key, TIMERS) // its pending timers become stale: they fire only while listed
      raw.delete(e.key, TOUCHED)
    }
  }

  let refused = false
  function call(what: string, f: () => unknown): void {
    let result: unknown
    try {
      result = f()
    } catch (e) {
      if (e instanceof WeirError) throw e
      throw new WeirError('user-code', `${at(pos)}process ${cfg.name}: ${what} threw: ${(e as Error)?.message ?? e}`)
    }
    // an async function: what it emits after an await would come after its record (or after the
    // end), and a rejection would crash the process with a stack. Refused at its first record,
    // its rejection heard so that it cannot.
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      ;(result as PromiseLike<unknown>).then(undefined, () => {})
      refused = true
      throw new WeirError('user-code', `${at(pos)}process ${cfg.name}: ${what} returned a Promise: process functions run synchronously (no async or await)`)
    }
  }

  function fire(domain: 'e' | 'p', q: TimerQueue<null>, limit: number, o: Output): void {
    if (!fn.onTimer) return
    for (let t = q.pollUpTo(limit); t; t = q.pollUpTo(limit)) {
      if (!unregister(t.key, domain, t.time)) continue // deleted
      out = o
      key = t.key
      pc.key = keyValue(t.key)
      pc.timestamp = t.time
      pc.timeDomain = domain === 'e' ? 'event' : 'processing'
      pos = { source: cfg.name, line: 0 }
      call('onTimer', () => fn.onTimer!(t.time, pc))
    }
  }

  return {
    uid,
    open(c) {
      ctx = c
      raw = c.state.operator(uid)
      eventTimers = new TimerQueue(raw.timerSpill?.())
      procTimers = new TimerQueue(raw.timerSpill?.())
      expiries = new TimerQueue(raw.timerSpill?.())
      ttl = c.stateTtl
      if (ttl !== undefined && !cfg.eventTime) throw new WeirError('usage', '--state-ttl is measured in event time: give process --time FIELD')
      state = ttl === undefined ? raw : tracking(raw)
      if (fn.open) call('open', () => fn.open!({ emit: () => { throw new Error('emit is not available in open') } }))
    },
    processRecord(rec: Rec, o: Output) {
      out = o
      key = rec.key ?? NO_KEY
      pc.key = keyValue(key)
      pc.timestamp = rec.time
      pc.timeDomain = undefined
      pos = rec
      if (ttl !== undefined && rec.time !== undefined) {
        const x = raw.get(key, TOUCHED) as Touched | undefined
        if (!x) {
          raw.put(key, TOUCHED, { t: rec.time, ns: [] } satisfies Touched)
          expiries.add({ time: rec.time + ttl, order: 0, key, payload: null })
        } else if (rec.time > x.t) {
          x.t = rec.time
          raw.put(key, TOUCHED, x)
        }
      }
      call('processElement', () => fn.processElement(copy(rec.value), pc))
      ctx.stats.consumed++
    },
    snapshot: () => wm,
    restore(snap) {
      wm = snap as number
      // state written before the times were kept in order (register) holds them in the order
      // registered: sorted and put back once the visit is over
      const unsorted: [Key, KeyTimers][] = []
      state.forEach((k, ns, value) => {
        if (ns === TOUCHED && ttl !== undefined) expiries.add({ time: (value as Touched).t + ttl, order: 0, key: k, payload: null })
        if (ns !== TIMERS) return
        const kt = value as KeyTimers
        for (const ts of kt.e) eventTimers.add({ time: ts, order: 0, key: k, payload: null })
        for (const ts of kt.p) procTimers.add({ time: ts, order: 0, key: k, payload: null })
        if (!ascending(kt.e) || !ascending(kt.p)) unsorted.push([k, kt])
      })
      for (const [k, kt] of unsorted) state.put(k, TIMERS, { e: [...kt.e].sort((a, b) => a - b), p: [...kt.p].sort((a, b) => a - b) })
    },
    // its records are new ones (rows, a function's output): an upstream pane ends here
    processPane() {},
    processWatermark(t, o) {
      if (t <= wm) return
      wm = t
      // expiries and timers in time order: a key that expired does not fire its later timers
      // (a timer at the expiry instant itself fires first)
      for (;;) {
        const next = ttl === undefined ? undefined : expiries.peekTime()
        if (next === undefined || next > t) {
          fire('e', eventTimers, t, o)
          break
        }
        fire('e', eventTimers, next, o)
        expire(next)
      }
      o.watermark(t)
    },
    endInput(o) {
      // Flink fires event-time timers at the final watermark; processing-time timers that have
      // not come due are dropped, as there is no more processing time for a finished input.
      wm = MAX_WATERMARK
      fire('e', eventTimers, MAX_WATERMARK, o)
    },
    nextProcessingTime: () => procTimers.peekTime(),
    onProcessingTime(now, o) {
      fire('p', procTimers, now, o)
    },
  }
}

/** The first index whose time is not below ts. */
function lowerBound(times: number[], ts: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! < ts) lo = mid + 1
    else hi = mid
  }
  return lo
}

function ascending(times: number[]): boolean {
  for (let i = 1; i < times.length; i++) if (!(times[i - 1]! < times[i]!)) return false
  return true
}

function keyValue(k: Key): unknown {
  if (k.values.length === 0) return null
  return k.values.length === 1 ? k.values[0] : [...k.values]
}
