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
import type { KeyedStateBackend, Lineage } from '../../lib/state/backend.js'
import { extendLineage } from '../../lib/checkpoint/manifest.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
   * false: no restoring shadows, for scenarios whose output depends on wall-clock state that a
   * resume deliberately starts afresh (idleness: decisions.md 35).
   */
  restore?: boolean
  /** --state-ttl in ms */
  stateTtl?: number
  /** Which events the shadows snapshot and restore after (default: every one). */
  restoreAfter?: (event: number) => boolean
}

/** A chain with its outputs and keyed state, as the harness drives it. */
interface Driven {
  chain: Chain
  state: KeyedStateBackend
  out: string[]
  late: string[]
}

/** A shadow chain and how it is replaced by one restored from its own snapshot. */
interface Shadow {
  backend: string
  driven: Driven
  restore(): void
}

// One LMDB environment for every harness of a test file (lmdb-js opens an environment once per
// process), each harness with its own operator uids' worth of state: a fresh dir per harness.
const lmdbDirs: string[] = []
process.on('exit', () => {
  for (const d of lmdbDirs) rmSync(d, { recursive: true, force: true })
})

export async function harness(chain: string | string[][], opts: HarnessOptions = {}): Promise<OperatorHarness> {
  const spans = typeof chain === 'string' ? splitChain(chain) : chain
  const stages: Stage[] = []
  for (const [i, span] of spans.entries()) stages.push((await parseStage(span, `stage ${i + 1}`)).stage)
  const modules = await loadModules(stages)
  const stats = newStats()
  const clock = new ManualClock(opts.now ?? 0)

  function drive(state: KeyedStateBackend, out: string[], late: string[], snaps?: Record<string, unknown>): Driven {
    const c = new Chain(buildOperatorsWith(stages, modules), {
      record: (r: Rec) => out.push(recordText(r)),
      watermark: () => {},
      late: (r: Rec) => late.push(recordText(r)),
    })
    c.open((op) => ({ uid: op.uid, state, clock, stats: snaps ? newStats() : stats, stateTtl: opts.stateTtl, badRecord: (r, why) => { throw dataError(r, why) } }))
    if (snaps) c.restore(snaps)
    return { chain: c, state, out, late }
  }

  // operator snapshots go through JSON, as they do through a manifest
  const snapshotOf = (d: Driven) => JSON.parse(JSON.stringify(d.chain.snapshot())) as Record<string, unknown>

  const main = drive(new MemoryStateBackend(), [], [])
  const shadows: Shadow[] = []
  if (opts.restore !== false) {
    const memory: Shadow = {
      backend: 'memory',
      // empty key lists swept at every second one: the main run sweeps as the job does
      driven: drive(new MemoryStateBackend(2), [], [], {}),
      restore() {
        const d = this.driven
        // as a job checkpoints: the operators first (one may write keyed state as it snapshots:
        // the columnar windows), then their state
        const snaps = snapshotOf(d)
        this.driven = drive((d.state as MemoryStateBackend).copy(), d.out, d.late, snaps)
      },
    }
    // On LMDB a restore is a checkpoint (the dirty entries written under its epoch) and a backend
    // that sees only that checkpoint's lineage, with an empty cache; a cache of 3 entries makes
    // every scenario spill and evict too, and a head of 2 timer keys spills window timers to disk.
    const dir = mkdtempSync(join(tmpdir(), 'weir-harness-'))
    lmdbDirs.push(dir)
    const { openLmdbState } = await import('../../lib/state/lmdb.js')
    let backend = await openLmdbState(dir, { lineage: [], cacheEntries: 3, timerHeadKeys: 2, keySlice: 2, durable: false })
    let lineage: Lineage = []
    const lmdb: Shadow = {
      backend: 'lmdb',
      driven: drive(backend, [], [], {}),
      restore() {
        const d = this.driven
        const snaps = snapshotOf(d)
        const id = backend.pendingEpoch
        lineage = extendLineage(lineage, id)
        backend.checkpoint(id, lineage, id)
        backend = backend.restoredAt(lineage)
        this.driven = drive(backend, d.out, d.late, snaps)
      },
    }
    shadows.push(memory, lmdb)
  }
  let events = 0

  /** Runs one event on every chain, then restores each shadow from its own snapshot and compares. */
  function step(what: string, f: (c: Chain) => void): void {
    events++
    f(main.chain)
    const restoring = opts.restoreAfter?.(events) ?? true
    for (const sh of [...shadows]) {
      try {
        f(sh.driven.chain)
      } catch (e) {
        // a failing event must fail alike in a restored chain; the test sees the main chain's error
        shadows.splice(shadows.indexOf(sh), 1)
        throw e
      }
      if (restoring) sh.restore()
      const d = sh.driven
      const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i])
      if (!same(main.out, d.out) || !same(main.late, d.late))
        throw new Error(
          `restoring from a snapshot (${sh.backend} state) taken before event ${events} (${what}) changed the output:\n` +
            `  uninterrupted: ${JSON.stringify(main.out)} late ${JSON.stringify(main.late)}\n` +
            `  restored:      ${JSON.stringify(d.out)} late ${JSON.stringify(d.late)}`,
        )
    }
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
