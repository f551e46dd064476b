// Drives operators in one process without the CLI, as Flink's KeyedOneInputStreamOperatorTestHarness:
// records, watermarks and processing time go in; emitted records, late records and the order of
// everything come out. Stages are written as a `then` chain, parsed by the commands' own parser.
//
// Snapshot and restore come free with every scenario: beside the chain under test runs a shadow
// chain that, after every event, is snapshotted (operator snapshots and a copy of its keyed
// state) and replaced by fresh operators restored from that snapshot, as a resumed job would be.
// After every event the shadow must have emitted exactly what the chain under test did, or the
// harness throws: so every exact scenario is also a resume test at every position.
import { parseStage } from '../../lib/commandline/parse-stage.js'
import { buildOperatorsWith, loadModules } from '../../lib/pipeline/build.js'
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

export interface HarnessOptions {
  now?: number
  /**
   * false: no restoring shadow, for scenarios whose output depends on wall-clock state that a
   * resume deliberately starts afresh (idleness: decisions.md 35).
   */
  restore?: boolean
}

/** A chain with its outputs and keyed state, as the harness drives it. */
interface Driven {
  chain: Chain
  state: MemoryStateBackend
  out: string[]
  late: string[]
}

export async function harness(chain: string | string[][], opts: HarnessOptions = {}): Promise<OperatorHarness> {
  const spans = typeof chain === 'string' ? splitChain(chain) : chain
  const stages: Stage[] = []
  for (const [i, span] of spans.entries()) stages.push((await parseStage(span, `stage ${i + 1}`)).stage)
  const modules = await loadModules(stages)
  const stats = newStats()
  const clock = new ManualClock(opts.now ?? 0)

  function drive(state: MemoryStateBackend, out: string[], late: string[], snaps?: Record<string, unknown>): Driven {
    const c = new Chain(buildOperatorsWith(stages, modules), {
      record: (r: Rec) => out.push(recordText(r)),
      watermark: () => {},
      late: (r: Rec) => late.push(recordText(r)),
    })
    c.open((op) => ({ uid: op.uid, state, clock, stats: snaps ? newStats() : stats, badRecord: (r, why) => { throw dataError(r, why) } }))
    if (snaps) c.restore(snaps)
    return { chain: c, state, out, late }
  }

  const main = drive(new MemoryStateBackend(), [], [])
  let shadow: Driven | undefined = opts.restore === false ? undefined : drive(new MemoryStateBackend(), [], [], {})
  let events = 0

  /** Runs one event on both chains, then restores the shadow from its own snapshot and compares. */
  function step(what: string, f: (c: Chain) => void): void {
    events++
    f(main.chain)
    if (!shadow) return
    try {
      f(shadow.chain)
    } catch (e) {
      // a failing event must fail alike in the restored chain; the test sees the main chain's error
      shadow = undefined
      throw e
    }
    const snaps = JSON.parse(JSON.stringify(shadow.chain.snapshot())) as Record<string, unknown>
    shadow = drive(shadow.state.copy(), shadow.out, shadow.late, snaps)
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i])
    if (!same(main.out, shadow.out) || !same(main.late, shadow.late))
      throw new Error(
        `restoring from a snapshot taken before event ${events} (${what}) changed the output:\n` +
          `  uninterrupted: ${JSON.stringify(main.out)} late ${JSON.stringify(main.late)}\n` +
          `  restored:      ${JSON.stringify(shadow.out)} late ${JSON.stringify(shadow.late)}`,
      )
  }

  let line = 0
  return {
    push(value) {
      line++
      stats.read++
      const raw = typeof value === 'string' ? value : JSON.stringify(value)
      const n = line
      // each chain gets its own record object: operators may set fields on it (time, key)
      step(`record ${raw}`, (c) => c.push({ raw, value: JSON.parse(raw), source: 'test', line: n }))
    },
    watermark: (t) => step(`watermark ${t}`, (c) => c.watermark(t)),
    tick(now) {
      clock.set(now)
      step(`clock ${now}`, (c) => {
        for (let n = c.nextProcessingTime(); n !== undefined && n <= now; n = c.nextProcessingTime()) {
          c.onProcessingTime(now)
          const again = c.nextProcessingTime()
          if (again === n) break // nothing more due at this instant
        }
      })
    },
    end: () => step('end', (c) => c.end()),
    out: main.out,
    late: main.late,
    values: () => main.out.map((l) => JSON.parse(l) as unknown),
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
