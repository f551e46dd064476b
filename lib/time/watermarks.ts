// Bounded out-of-orderness, as Flink's BoundedOutOfOrdernessWatermarks, applied per record so the
// output does not depend on timing: watermark = max(watermark, maxTs − maxDelay − 1). The −1 is
// Flink's: a watermark t says "no more records with time ≤ t", and a record at exactly
// maxTs − maxDelay is still on time. Before the first record the watermark is the minimum.
//
// Idleness (--idle-timeout D) is weir's own rule, not Flink's (Flink only marks an input idle):
// when no record has arrived for D of wall time, the watermark advances as if a record with time
// maxTs + elapsed had arrived, so windows of a quiet live log still close. It depends on timing and
// so falls outside the "replay gives the same output" guarantee.
import { MIN_WATERMARK } from '../stream/record.js'

export class BoundedOutOfOrderness {
  private maxTs = MIN_WATERMARK
  private wm = MIN_WATERMARK
  private lastArrival: number | undefined
  private lastIdleCheck = Number.MIN_SAFE_INTEGER

  constructor(
    private readonly maxDelay: number,
    private readonly idleTimeout?: number,
  ) {}

  get current(): number {
    return this.wm
  }

  /** What a checkpoint keeps: the event-time part. Idleness is wall-clock time and restarts. */
  snapshot(): { maxTs: number; wm: number } {
    return { maxTs: this.maxTs, wm: this.wm }
  }

  restore(s: { maxTs: number; wm: number }): void {
    this.maxTs = s.maxTs
    this.wm = s.wm
  }

  /** Returns the new watermark if it advanced, else undefined. */
  onEvent(ts: number, now: number): number | undefined {
    this.lastArrival = now
    if (ts > this.maxTs) this.maxTs = ts
    return this.advanceTo(this.maxTs - this.maxDelay - 1)
  }

  /** When the idle rule next has something to do (wall clock), if ever. */
  nextIdleCheck(): number | undefined {
    if (this.idleTimeout === undefined || this.lastArrival === undefined) return undefined
    const idleAt = this.lastArrival + this.idleTimeout
    // once idle, keep advancing in steps, so a window closes within a step of its end
    const step = Math.max(10, Math.min(this.idleTimeout, 1000))
    return Math.max(idleAt, this.lastIdleCheck + step)
  }

  onIdleCheck(now: number): number | undefined {
    if (this.idleTimeout === undefined || this.lastArrival === undefined) return undefined
    const elapsed = now - this.lastArrival
    if (elapsed < this.idleTimeout) return undefined
    this.lastIdleCheck = now
    return this.advanceTo(this.maxTs + elapsed - this.maxDelay - 1)
  }

  private advanceTo(candidate: number): number | undefined {
    if (candidate <= this.wm) return undefined
    this.wm = candidate
    return candidate
  }
}
