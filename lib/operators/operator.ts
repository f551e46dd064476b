// The operator contract. An operator knows nothing of the CLI, argv, stdout or a concrete state
// backend: it receives records and control events and emits through an Output. Calls are
// synchronous: the driver hands a whole batch of records to the chain with no `await` per record.
import type { Rec } from '../stream/record.js'
import type { Key } from '../stream/key.js'
import type { KeyedStateBackend } from '../state/backend.js'
import type { Clock } from '../time/clock.js'
import type { Stats } from '../stream/stats.js'

export interface Output {
  record(rec: Rec): void
  /** Forward the watermark: every record emitted later has a time after it (or is late). */
  watermark(time: number): void
  /** Side output for records too late for every window: written as their original bytes. */
  late(rec: Rec): void
  /**
   * The edges of a pane: a lone session, count or global window emits the whole contents of a
   * window when it fires, between `begin` and `end`. An aggregate after it (past stateless stages,
   * or in another process) makes one row of each pane, so a re-fired window's re-emitted records
   * are never counted twice. Stateless operators forward panes; others end them.
   */
  pane(edge: PaneEdge): void
}

export type PaneEdge = 'begin' | 'end'

export interface OperatorContext {
  readonly uid: string
  readonly state: KeyedStateBackend
  readonly clock: Clock
  readonly stats: Stats
  /**
   * A record this operator cannot use (a missing or unparsable key or time field). The job's
   * bad-input policy decides: fail the run (exit 65, the default), or count it and go on.
   */
  badRecord(rec: Rec, why: string): void
  /** A warning for the user (one line on stderr, whatever the terminal). */
  warn?(message: string): void
  /**
   * --state-ttl: keyed state of a key that no record has touched for this long, in event time (by
   * the watermark, so a replay drops the same state), is dropped. Running aggregates and process
   * functions honour it; windows clean up after themselves.
   */
  readonly stateTtl?: number
}

export interface Operator {
  /** Stable identity of the operator's state: kind, hash of canonical options, occurrence. */
  readonly uid: string
  /**
   * Set by an operator that passes a record on unchanged, and does nothing else with it, whenever
   * the record has each of these top-level fields (with any value, null included). A driver may
   * then write such records' bytes on without making records of them (pipeline/run.ts); a record
   * lacking one goes through processRecord as usual.
   */
  readonly passesWhenPresent?: readonly string[]
  /**
   * Set by an event-time assigner whose time is a top-level field and that reads no clock: a
   * driver may run it on a record it does not build (pipeline/run.ts windowBatch). `time` is
   * processRecord's reading of the field's value (NaN: unreadable, and processRecord says why),
   * `advance` the watermark the record then moves to, if any, which the driver forwards.
   */
  readonly stampsField?: { readonly field: string; time(value: unknown): number; advance(time: number): number | undefined }
  /**
   * Set by a lone tumbling event-time window: what processRecord does to a record it does not
   * make late, for a driver that writes the record's bytes itself: the text its window adds to
   * them (`"window_start":…,"window_end":…`). Undefined when the record is late: the driver then
   * hands it to processRecord, which sends it to the late output.
   */
  windowTextOf?(time: number, source: string, line: number): string | undefined
  /**
   * Set by a pipe reader that puts back each record's key (one top-level field) and its tumbling
   * window (its window_start and window_end fields) and does nothing else: a driver that reads
   * those fields from parsed columns may find key and window itself (pipeline/run.ts
   * carriedBatch). Each returns undefined where processRecord must decide (a key value that is
   * not a string or an exact number, a bound that is not a time).
   */
  readonly carriesFields?: { readonly keyField: string; key(value: unknown): Key | undefined; bound(value: unknown): number | undefined }
  /**
   * Set by an aggregate of windows carried on the records: processRecord of a record given by
   * its value, key and window, for a driver that builds no record (pipeline/run.ts
   * carriedBatch). `rec` makes the record where one is needed (bad, late).
   */
  addCarried?(value: unknown, key: Key, start: number, end: number, source: string, line: number, rec: () => Rec, out: Output): void
  open?(ctx: OperatorContext): void
  processRecord(rec: Rec, out: Output): void
  /** Default (when absent): forward the watermark unchanged. When present, it must forward. */
  processWatermark?(time: number, out: Output): void
  /** Default (when absent): forward the pane edge. An operator that makes new records ends panes. */
  processPane?(edge: PaneEdge, out: Output): void
  /**
   * End of a bounded input: drain. Fire every open window (the watermark is implicitly the
   * maximum), flush what is left, but do not forward the end: the chain does that next.
   */
  endInput?(out: Output): void
  /** Stop without draining: open windows stay in state, nothing fires. */
  stop?(): void
  /**
   * Operator-scope state that is not keyed, taken when a checkpoint barrier reaches the operator:
   * its watermark, sequence numbers, a time format learned from the first record. Plain data
   * (JSON). Keyed state is not in it: that lives in ctx.state and the backend checkpoints it,
   * after every operator's snapshot, so an operator that keeps keyed state in a form of its own
   * between checkpoints (the columnar windows, windows/panes.ts) puts it into ctx.state here.
   */
  snapshot?(): unknown
  /**
   * Resume: called after open() and before any record with what snapshot() returned. Whatever
   * follows from keyed state (a window's timers) is rebuilt from ctx.state here rather than stored
   * twice, so the two can never disagree.
   */
  restore?(snapshot: unknown): void
  /** How many windows hold state now (a window operator), for the summary line. */
  openWindows?(): number
  /** The earliest wall-clock time at which onProcessingTime has work, if any. */
  nextProcessingTime?(): number | undefined
  onProcessingTime?(now: number, out: Output): void
}
