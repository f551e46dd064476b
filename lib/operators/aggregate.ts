// A running aggregate per key, for `aggregate` with no window before it: one row per key at the
// end of the input (in key order), or the key's updated row after every record (--emit updates).
// Directly after a window stage, `aggregate` is fused into the window operator instead (window.ts).
import { NO_KEY } from '../stream/key.js'
import { RowWriter } from '../stream/row-text.js'
import type { OperatorState } from '../state/backend.js'
import type { Operator, OperatorContext, Output } from './operator.js'
import { RowAggregator, overflowed, type AggSpec } from './aggregates/row.js'
import type { Key } from '../stream/key.js'
import { usageError, type Position } from '../stream/errors.js'
import { TimerQueue } from '../time/timers.js'

export type EmitMode = 'final' | 'updates'

export interface RunningAggregateConfig {
  specs: AggSpec[]
  emit: EmitMode
  keyNames: string[]
  /** A window stage runs earlier in this process (its rows carry window_start legitimately). */
  afterWindow?: boolean
  /** Records reach this operator with event times and watermarks (needed by --state-ttl). */
  eventTime?: boolean
}

const ACC = 'a'
/** --state-ttl: the event time of the key's latest record */
const TOUCHED = 'x'

export function runningAggregate(cfg: RunningAggregateConfig, uid: string): Operator {
  const agg = new RowAggregator(cfg.specs)
  const rows = new RowWriter(cfg.keyNames, false, agg.names)
  let state: OperatorState
  let ctx: OperatorContext
  let seq = 0
  let ttl: number | undefined
  // expiry timers, at last touch + ttl; a key touched since is renewed when its timer comes
  // (made at open: on LMDB they spill beyond a bounded head, decisions.md 32)
  let expiries: TimerQueue<null>
  // Records carrying window bounds with no window before this aggregate (in this process or in
  // the side channel) come from a weir window through a foreign program (`weir window … | grep x
  // | weir aggregate …`), which starts a new stream: the result mixes windows. Say so once.
  let checkedWindowFields = cfg.afterWindow === true || cfg.keyNames.includes('window_start')

  function emit(key: Key, accs: unknown[], pos: Position, out: Output): void {
    const row: Record<string, unknown> = {}
    for (let i = 0; i < cfg.keyNames.length; i++) row[cfg.keyNames[i]!] = key.values[i]
    agg.results(accs, row)
    out.record({ raw: rows.text(row, key, undefined), value: row, key, source: pos.source, line: pos.line, derived: true })
  }

  return {
    uid,
    open(c) {
      ctx = c
      agg.onNonFinite = (name) => c.warn?.(overflowed(name))
      state = c.state.operator(uid)
      ttl = c.stateTtl
      expiries = new TimerQueue(ttl === undefined ? undefined : state.timerSpill?.())
      if (ttl !== undefined && !cfg.eventTime)
        throw usageError('--state-ttl is measured in event time: give aggregate --time FIELD (or put it after process --time)')
    },
    processRecord(rec, out) {
      if (!checkedWindowFields) {
        checkedWindowFields = true
        const v = rec.value as Record<string, unknown> | null
        if (v !== null && typeof v === 'object' && 'window_start' in v && 'window_end' in v)
          ctx.warn?.(
            'aggregate: these records carry window_start and window_end, but stdin is not from a weir stage, so no window or key reached this one (a program between weir stages starts a new stream): this aggregates across windows and keys. Keep window and aggregate on the same side of that program',
          )
      }
      const why = agg.check(rec.value)
      if (why !== undefined) return ctx.badRecord(rec, why)
      const key = rec.key ?? NO_KEY
      const accs = (state.get(key, ACC) as unknown[] | undefined) ?? agg.create()
      agg.add(accs, rec.value, seq++, rec)
      state.put(key, ACC, accs) // the write-back contract: a changed value is put again
      if (ttl !== undefined && rec.time !== undefined) {
        const before = state.get(key, TOUCHED) as number | undefined
        if (before === undefined) expiries.add({ time: rec.time + ttl, order: 0, key, payload: null })
        if (before === undefined || rec.time > before) state.put(key, TOUCHED, rec.time)
      }
      ctx.stats.consumed++
      if (cfg.emit === 'updates') emit(key, accs, rec, out)
    },
    // seq orders first/last/collect across runs: a resumed job continues the count
    snapshot: () => ({ seq, checkedWindowFields }),
    restore(s) {
      const snap = s as { seq: number; checkedWindowFields: boolean }
      seq = snap.seq
      checkedWindowFields = snap.checkedWindowFields
      if (ttl !== undefined)
        state.forEach((key, ns, value) => {
          if (ns === TOUCHED) expiries.add({ time: (value as number) + ttl!, order: 0, key, payload: null })
        })
    },
    // its records are new ones (rows, a function's output): an upstream pane ends here
    processPane() {},
    processWatermark(t, out) {
      // keys untouched for the ttl are finished: their row goes out (nothing is lost), then their state
      if (ttl !== undefined)
        for (let x = expiries.pollUpTo(t); x; x = expiries.pollUpTo(t)) {
          const touched = state.get(x.key, TOUCHED) as number | undefined
          if (touched === undefined) continue
          // touched since this timer was set: it expires at touched + ttl, in time order with the
          // other keys' (a restored job sets its timer there at once), even when that is ≤ t
          if (touched + ttl > x.time) {
            expiries.add({ time: touched + ttl, order: 0, key: x.key, payload: null })
            continue
          }
          if (cfg.emit === 'final') emit(x.key, state.get(x.key, ACC) as unknown[], { source: 'aggregate', line: 0 }, out)
          state.delete(x.key, ACC)
          state.delete(x.key, TOUCHED)
        }
      out.watermark(t)
    },
    endInput(out) {
      if (cfg.emit === 'updates') return
      state.forEachKey((key) => emit(key, state.get(key, ACC) as unknown[], { source: 'aggregate', line: 0 }, out))
    },
  }
}
