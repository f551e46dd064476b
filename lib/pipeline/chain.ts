// A chain of operators run in one process. Output i feeds operator i + 1; the last output feeds
// the sink. Everything here is synchronous: the driver (run.ts) hands it records a batch at a time.
import type { Operator, OperatorContext, Output, PaneEdge } from '../operators/operator.js'
import type { Rec } from '../stream/record.js'

export interface ChainSink {
  record(rec: Rec): void
  watermark(time: number): void
  late(rec: Rec): void
  /** Pane edges that reach the end of the chain (a lone window's firings), for the side channel. */
  pane?(edge: PaneEdge): void
}

export class Chain {
  private readonly outs: Output[]
  private readonly head: Output

  constructor(
    private readonly ops: Operator[],
    sink: ChainSink,
  ) {
    const n = ops.length
    this.outs = new Array<Output>(n)
    let next: Output = {
      record: (r) => sink.record(r),
      watermark: (t) => sink.watermark(t),
      late: (r) => sink.late(r),
      pane: sink.pane ? (e) => sink.pane!(e) : () => {},
    }
    for (let i = n - 1; i >= 0; i--) {
      const op = ops[i]!
      const downstream = next
      this.outs[i] = downstream
      next = {
        record: (r) => op.processRecord(r, downstream),
        watermark: op.processWatermark ? (t) => op.processWatermark!(t, downstream) : (t) => downstream.watermark(t),
        late: (r) => sink.late(r),
        pane: op.processPane ? (e) => op.processPane!(e, downstream) : (e) => downstream.pane(e),
      }
    }
    this.head = next
  }

  open(ctxFor: (op: Operator) => OperatorContext): void {
    for (const op of this.ops) op.open?.(ctxFor(op))
  }

  /**
   * A checkpoint barrier: every operator's own state, by uid. In one process the chain is
   * synchronous and the driver calls this between batches, so the barrier has passed every
   * record before it through every operator: the snapshots are aligned by construction.
   */
  snapshot(): Record<string, unknown> {
    const snaps: Record<string, unknown> = {}
    for (const op of this.ops) if (op.snapshot) snaps[op.uid] = op.snapshot()
    return snaps
  }

  /** Restores each operator that has a snapshot; an operator without one starts empty. */
  restore(snaps: Record<string, unknown>): void {
    for (const op of this.ops) if (op.restore && Object.prototype.hasOwnProperty.call(snaps, op.uid)) op.restore(snaps[op.uid])
  }

  push(rec: Rec): void {
    this.head.record(rec)
  }

  watermark(time: number): void {
    this.head.watermark(time)
  }

  /** A watermark that operator `index` emits, into what follows it (a driver ran its part: run.ts windowBatch). */
  watermarkFrom(index: number, time: number): void {
    this.outs[index]!.watermark(time)
  }

  /** What operator `index` emits into (a driver that runs its part of a record: run.ts carriedBatch). */
  outputOf(index: number): Output {
    return this.outs[index]!
  }

  /** A pane edge from upstream (read from a side channel). */
  pane(edge: PaneEdge): void {
    this.head.pane(edge)
  }

  /** Drain: each operator in turn fires and flushes everything before the next one is ended. */
  end(): void {
    for (let i = 0; i < this.ops.length; i++) this.ops[i]!.endInput?.(this.outs[i]!)
  }

  stop(): void {
    for (const op of this.ops) op.stop?.()
  }

  /** Windows holding state, over every window operator; undefined when the chain has none. */
  openWindows(): number | undefined {
    let n: number | undefined
    for (const op of this.ops) if (op.openWindows) n = (n ?? 0) + op.openWindows()
    return n
  }

  nextProcessingTime(): number | undefined {
    let t: number | undefined
    for (const op of this.ops) {
      const x = op.nextProcessingTime?.()
      if (x !== undefined && (t === undefined || x < t)) t = x
    }
    return t
  }

  onProcessingTime(now: number): void {
    for (let i = 0; i < this.ops.length; i++) this.ops[i]!.onProcessingTime?.(now, this.outs[i]!)
  }
}
