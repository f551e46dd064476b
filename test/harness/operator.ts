// Drives operators in one process without the CLI, as Flink's KeyedOneInputStreamOperatorTestHarness:
// records, watermarks and processing time go in; emitted records, late records and the order of
// everything come out. Stages are written as a `then` chain, parsed by the commands' own parser.
import { parseStage } from '../../lib/commandline/parse-stage.js'
import { buildOperators } from '../../lib/pipeline/build.js'
import { Chain } from '../../lib/pipeline/chain.js'
import type { Stage } from '../../lib/pipeline/stages.js'
import { MemoryStateBackend } from '../../lib/state/memory.js'
import { dataError } from '../../lib/stream/errors.js'
import { recordText, type Rec } from '../../lib/stream/record.js'
import { newStats } from '../../lib/stream/stats.js'
import { ManualClock } from '../../lib/time/clock.js'

export interface OperatorHarness {
  /** Feeds one record (an object, or a JSON line to keep its bytes). */
  push(value: unknown): void
  watermark(t: number): void
  /** Sets the wall clock and runs due processing-time work. */
  tick(now: number): void
  end(): void
  /** Emitted lines (JSON text, bytes as written). */
  out: string[]
  late: string[]
  /** Emitted values. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  values(): any[]
  stats: ReturnType<typeof newStats>
  clock: ManualClock
}

export async function harness(chain: string | string[][], opts: { now?: number } = {}): Promise<OperatorHarness> {
  const spans = typeof chain === 'string' ? splitChain(chain) : chain
  const stages: Stage[] = []
  for (const [i, span] of spans.entries()) stages.push((await parseStage(span, `stage ${i + 1}`)).stage)
  const ops = await buildOperators(stages)
  const out: string[] = []
  const late: string[] = []
  const stats = newStats()
  const clock = new ManualClock(opts.now ?? 0)
  const c = new Chain(ops, {
    record: (r: Rec) => out.push(recordText(r)),
    watermark: () => {},
    late: (r: Rec) => late.push(recordText(r)),
  })
  const state = new MemoryStateBackend()
  c.open((op) => ({ uid: op.uid, state, clock, stats, badRecord: (r, why) => { throw dataError(r, why) } }))
  let line = 0
  return {
    push(value) {
      line++
      stats.read++
      const raw = typeof value === 'string' ? value : JSON.stringify(value)
      c.push({ raw, value: JSON.parse(raw), source: 'test', line })
    },
    watermark: (t) => c.watermark(t),
    tick(now) {
      clock.set(now)
      for (let n = c.nextProcessingTime(); n !== undefined && n <= now; n = c.nextProcessingTime()) {
        c.onProcessingTime(now)
        const again = c.nextProcessingTime()
        if (again === n) break // nothing more due at this instant
      }
    },
    end: () => c.end(),
    out,
    late,
    values: () => out.map((l) => JSON.parse(l)),
    stats,
    clock,
  }
}

/** Splits "keyby u then window tumbling 10ms --time t" into shell-like words per stage. */
function splitChain(text: string): string[][] {
  const spans: string[][] = [[]]
  for (const w of text.match(/'[^']*'|"[^"]*"|\S+/g) ?? []) {
    if (w === 'then') spans.push([])
    else spans[spans.length - 1]!.push(w.replace(/^'(.*)'$|^"(.*)"$/, '$1$2'))
  }
  return spans
}
