// Assigns each record its time and generates watermarks, as Flink's
// assignTimestampsAndWatermarks: event time from a field with bounded out-of-orderness,
// ingestion time (stamped when read, watermark following the wall clock), or processing time
// (stamped when processed; no watermarks: windows fire on the wall clock).
import type { Rec } from '../stream/record.js'
import { BoundedOutOfOrderness } from '../time/watermarks.js'
import { timeExtractor, type TimeFormat, type TimeUnit } from '../time/timestamps.js'
import { parsePath } from '../expr/path.js'
import type { Operator, OperatorContext, Output } from './operator.js'

export type TimeConfig =
  | { mode: 'event'; field: string; unit: TimeUnit; maxDelay: number; idleTimeout?: number }
  | { mode: 'ingestion' }
  | { mode: 'processing' }

/** Shared with the window operator, which writes window bounds in the input's own format. */
export interface TimeInfo {
  format: TimeFormat | undefined
}

/** How often ingestion time moves the watermark while the input is quiet (Flink's default is 200 ms). */
export const INGESTION_WATERMARK_INTERVAL = 200

export function timestamps(cfg: TimeConfig, info: TimeInfo, uid: string): Operator {
  let ctx: OperatorContext
  if (cfg.mode === 'event') {
    const extract = timeExtractor(cfg.field, cfg.unit)
    const wm = new BoundedOutOfOrderness(cfg.maxDelay, cfg.idleTimeout)
    const idle = cfg.idleTimeout !== undefined
    const steps = parsePath(cfg.field)
    const topLevel = steps.length === 1 && typeof steps[0] === 'string' ? steps[0] : undefined
    return {
      uid,
      // what processRecord does, for a driver that builds no record (an idle timeout reads the clock)
      ...(topLevel !== undefined && !idle
        ? {
            stampsField: {
              field: topLevel,
              time(v: unknown) {
                const ms = extract.msOf(v)
                if (ms === ms) info.format ??= extract.formatOf(v)
                return ms
              },
              advance: (ms: number) => wm.onEvent(ms, 0),
            },
          }
        : {}),
      open(c) {
        ctx = c
      },
      processRecord(rec: Rec, out: Output) {
        const ms = extract.ms(rec.value)
        if (ms !== ms) return ctx.badRecord(rec, extract.why(rec.value)) // NaN: unreadable
        info.format ??= extract.format(rec.value)
        rec.time = ms
        out.record(rec)
        // the wall clock is read only when idleness needs it: it costs more than the rest of this stage
        const advanced = wm.onEvent(ms, idle ? ctx.clock.now() : 0)
        if (advanced !== undefined) out.watermark(advanced)
      },
      // the learned format goes with the watermark: a resumed ISO job must not write epoch ms
      snapshot: () => ({ ...wm.snapshot(), format: info.format ?? null }),
      restore(s) {
        const snap = s as { maxTs: number; wm: number; format: TimeFormat | null }
        wm.restore(snap)
        info.format = snap.format ?? undefined
      },
      nextProcessingTime: () => wm.nextIdleCheck(),
      onProcessingTime(now, out) {
        const advanced = wm.onIdleCheck(now)
        if (advanced !== undefined) out.watermark(advanced)
      },
    }
  }
  info.format = 'ms'
  if (cfg.mode === 'processing') {
    return {
      uid,
      open(c) {
        ctx = c
      },
      processRecord(rec, out) {
        rec.time = ctx.clock.now()
        out.record(rec)
      },
    }
  }
  // ingestion time: monotonic by construction, so the watermark is simply "now − 1"
  let current = Number.MIN_SAFE_INTEGER
  let lastTick = 0
  const advance = (now: number, out: Output) => {
    lastTick = now
    if (now - 1 > current) {
      current = now - 1
      out.watermark(current)
    }
  }
  return {
    uid,
    open(c) {
      ctx = c
      lastTick = c.clock.now()
    },
    // the watermark never goes back, even if the clock did between two runs
    snapshot: () => current,
    restore(s) {
      current = s as number
    },
    processRecord(rec, out) {
      const now = ctx.clock.now()
      rec.time = now
      out.record(rec)
      advance(now, out)
    },
    nextProcessingTime: () => lastTick + INGESTION_WATERMARK_INTERVAL,
    onProcessingTime: (now, out) => advance(now, out),
  }
}
