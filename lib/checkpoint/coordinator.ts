// Takes checkpoints of a running job, as Flink's checkpoint coordinator with one task: at a batch
// boundary (where, in one process, the barrier has passed every earlier record through every
// operator) it takes the synchronous part at once: the operators' snapshots, the keyed state's
// epoch (one durable LMDB transaction), the sources' positions and the sinks' lengths. The rest
// (waiting for the sinks' bytes to reach the disk, then the manifest) completes while records keep
// flowing. One checkpoint is in flight at a time; a checkpoint exists once its manifest does.
import type { KeyedStateBackend, Lineage } from '../state/backend.js'
import { MAX_KEY_GROUPS } from '../stream/key.js'
import { newStats, type Stats } from '../stream/stats.js'
import { WeirError } from '../stream/errors.js'
import { crashPoint } from './crash.js'
import { join } from 'node:path'
import {
  MANIFEST_FORMAT,
  STATE_FORMAT,
  checkpointsDir,
  extendLineage,
  listManifests,
  pruneManifests,
  readManifest,
  readPart,
  removeParts,
  writeManifest,
  writePart,
  type Manifest,
  type OperatorRecord,
  type PartFile,
  type SinkRecord,
  type SourcePosition,
  type StagePart,
} from './manifest.js'

/** How often: every so many ms of wall time, or every so many records read. */
export type CheckpointInterval = { ms: number } | { records: number }

/** A sink as the coordinator sees it: its identity in the manifest, its length, and a way to make it durable. */
export interface CheckpointedSink {
  record: Omit<SinkRecord, 'committed' | 'durable'>
  length(): number
  /** lines handed to it this run: those its length counts, written or still on their way */
  lines(): number
  readonly durable: boolean
  sync(): Promise<void>
}

export interface CheckpointParticipants {
  snapshotOperators(): Record<string, unknown>
  state: KeyedStateBackend
  sources(): SourcePosition[]
  sinks: CheckpointedSink[]
  /** this run's counters */
  stats: Stats
  /** the stage keeps no keyed state (a later stage of a chain with only filter, map, keyby) */
  stateless?: boolean
}

export interface JobIdentity {
  job: string
  version: string
  fingerprint: string
  operators: OperatorRecord[]
}

/**
 * Where this process stands in a pipe chain of weir stages (decisions.md 27). A single process is
 * stage 0 and completes its own checkpoints. In a chain the first stage injects barriers; each
 * stage snapshots its part when a barrier reaches it; a stage whose stdout is a pipe only records
 * its part (a file beside the manifests), and the completing stage (stdout not a pipe, or
 * --last-stage) gathers every part into the manifest once its own output is durable.
 */
export interface ChainRole {
  stage: number
  completes: boolean
  /** this stage's command line, in its part */
  command: string
  /** the process ids of the stages before this one: their parts are awaited while they live */
  upstreamPids: number[]
}

export const SINGLE_PROCESS: ChainRole = { stage: 0, completes: true, command: '', upstreamPids: [] }

/** How often a completing stage looks for the parts of the stages before it. */
const PART_POLL_MS = 10

export class CheckpointCoordinator {
  private readonly inFlight = new Set<Promise<void>>()
  private failure: unknown
  private lastAt: number
  private lastRecords = 0
  /** the next id this stage gives a checkpoint (the first stage) */
  private nextId: number
  /** the next epoch of this stage's state: the checkpoint id for the first stage, its own count for later ones */
  private nextEpoch: number
  private lineage: Lineage
  /** this stage's state epoch of each checkpoint it knows, by id */
  private readonly epochs = new Map<number, number>()
  /** this run's checkpoints, oldest first: their manifests may still be on their way */
  private readonly mine: number[] = []
  private warnedIncomplete = false
  lastCompleted: number | undefined

  constructor(
    private readonly jobDir: string,
    private readonly identity: JobIdentity,
    private readonly interval: CheckpointInterval,
    private readonly retain: number,
    private readonly p: CheckpointParticipants,
    start: { nextId: number; lineage: Lineage; totals: Stats; restored?: { id: number; epoch: number } },
    private readonly now: () => number,
    private readonly role: ChainRole = SINGLE_PROCESS,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.nextId = start.nextId
    this.nextEpoch = start.nextId
    this.lineage = start.lineage
    this.baseTotals = start.totals
    this.lastAt = now()
    if (start.restored) this.epochs.set(start.restored.id, start.restored.epoch)
  }

  private readonly baseTotals: Stats

  /** The job's counters since its first run: the restored checkpoint's plus this run's. */
  totals(): Stats {
    const t = newStats()
    // a manifest written before a counter existed (linesWritten, replayed) counts it from 0
    for (const k of Object.keys(t) as (keyof Stats)[]) t[k] = (this.baseTotals[k] ?? 0) + this.p.stats[k]
    // The output's lines in the checkpoint: those its committed length holds. The run's counter
    // counts a write once it completed, and at a barrier some are still on their way.
    const output = this.p.sinks.find((s) => s.record.role === 'output')
    if (output) t.linesWritten = (this.baseTotals.linesWritten ?? 0) + Math.max(this.p.stats.linesWritten, output.lines())
    return t
  }

  /** Whether a checkpoint is due at this batch boundary (and none is in flight). The first stage only. */
  due(): boolean {
    if (this.failure) throw this.failure
    if (this.inFlight.size > 0) return false
    if ('ms' in this.interval) return this.now() - this.lastAt >= this.interval.ms
    return this.p.stats.read - this.lastRecords >= this.interval.records
  }

  /**
   * Takes a checkpoint: the synchronous part now, the rest in the background (await settled()).
   * Call only where a barrier stands: at a batch boundary in the first stage, where its entry is
   * in a later stage. `id` is the barrier's (later stages); the first stage gives the next one.
   * Returns the checkpoint's id.
   */
  trigger(phase: Manifest['phase'], id?: number): number {
    if (this.failure) throw this.failure
    if (id === undefined) id = this.nextId++
    const epoch = this.role.stage === 0 ? id : this.nextEpoch++
    const lineage = extendLineage(this.lineage, epoch)
    // Versions only checkpoints older than every retained one need can go: a checkpoint still
    // completing may yet be retained, so it bounds the reclaim as well.
    const oldestRetained = this.oldestRetainedEpoch(epoch)
    const snapshots = this.p.snapshotOperators()
    const sources = this.p.sources()
    try {
      // with the state: how far each file was read, so a later fallback knows what it replays
      this.p.state.checkpoint(epoch, lineage, oldestRetained, sources.map(({ dev, ino, line, offset }) => ({ dev, ino, line, offset })))
    } catch (e) {
      // a full disk or a failing device: this checkpoint fails, the previous one stays usable
      if (e instanceof WeirError && e.kind !== 'internal') throw new WeirError(e.kind, `checkpoint ${id} failed (the previous one is still usable): ${e.message}`)
      throw new WeirError('io', `checkpoint ${id} failed (the previous one is still usable): state: ${(e as Error).message}`)
    }
    crashPoint('after-state')
    this.lineage = lineage
    this.epochs.set(id, epoch)
    this.mine.push(id)
    const sinks = this.p.sinks.map((s) => ({ ...s.record, committed: s.length(), durable: s.durable }))
    const state = { backend: 'lmdb' as const, epoch, lineage, bytes: this.p.state.size() }
    const done =
      this.role.stage === 0
        ? this.complete({
            format: MANIFEST_FORMAT,
            weir: this.identity.version,
            stateFormat: STATE_FORMAT,
            job: this.identity.job,
            fingerprint: this.identity.fingerprint,
            operators: this.identity.operators,
            maxKeyGroups: MAX_KEY_GROUPS,
            id,
            time: new Date(this.now()).toISOString(),
            snapshots,
            state,
            sources,
            sinks,
            totals: this.totals(),
            phase,
          })
        : this.completeLater(id, {
            stage: this.role.stage,
            command: this.role.command,
            fingerprint: this.identity.fingerprint,
            operators: this.identity.operators,
            snapshots,
            ...(this.p.stateless ? {} : { state }),
            sinks,
            totals: this.totals(),
            phase,
          })
    this.lastAt = this.now()
    this.lastRecords = this.p.stats.read
    const tracked: Promise<void> = done.finally(() => this.inFlight.delete(tracked))
    this.inFlight.add(tracked)
    return id
  }

  /** The first stage's part: the manifest itself, or (stdout a pipe) its part of one. */
  private async complete(m: Manifest): Promise<void> {
    try {
      await Promise.all(this.p.sinks.map((s) => s.sync()))
      crashPoint('after-sinks')
      if (this.role.completes) this.finishManifest(m)
      else writePart(this.jobDir, { id: m.id, stage: 0, first: m })
    } catch (e) {
      this.fail(m.id, e)
    }
  }

  /** A later stage's part: recorded for the completing stage, or (this one completes) gathered with the others. */
  private async completeLater(id: number, part: StagePart): Promise<void> {
    try {
      await Promise.all(this.p.sinks.map((s) => s.sync()))
      crashPoint('after-sinks')
      if (!this.role.completes) {
        writePart(this.jobDir, { id, stage: part.stage, part })
        return
      }
      const parts = await this.gatherParts(id)
      if (!parts) return
      const first = parts[0]!.first!
      const chain = [...parts.slice(1).map((p) => p.part!), part]
      const phases = [first.phase, ...chain.map((p) => p.phase)]
      const phase = phases.every((x) => x === 'drained') ? 'drained' : phases.includes('running') ? 'running' : 'stopped'
      this.finishManifest({ ...first, chain, phase })
    } catch (e) {
      this.fail(id, e)
    }
  }

  /**
   * The parts of every stage before this one, as each records it. A stage that died before
   * recording its part leaves the checkpoint incomplete: not this stage's failure (the chain
   * reports that stage's end), so it is said once and the checkpoint is left.
   */
  private async gatherParts(id: number): Promise<PartFile[] | undefined> {
    const parts: PartFile[] = []
    for (let stage = 0; stage < this.role.stage; stage++) {
      for (;;) {
        const p = readPart(this.jobDir, id, stage)
        if (p && (stage === 0 ? p.first : p.part)) {
          parts.push(p)
          break
        }
        const pid = this.role.upstreamPids[stage]
        if (pid !== undefined && !alive(pid) && !readPart(this.jobDir, id, stage)) {
          if (!this.warnedIncomplete) this.warn(`checkpoint ${id} is not complete: stage ${stage + 1} of the chain ended without recording its part`)
          this.warnedIncomplete = true
          return undefined
        }
        await new Promise((r) => setTimeout(r, PART_POLL_MS))
      }
    }
    return parts
  }

  private finishManifest(m: Manifest): void {
    writeManifest(this.jobDir, m)
    crashPoint('after-manifest')
    pruneManifests(this.jobDir, this.retain)
    removeParts(this.jobDir, m.id)
    if (this.lastCompleted === undefined || m.id > this.lastCompleted) this.lastCompleted = m.id
  }

  private fail(id: number, e: unknown): void {
    const why = e instanceof WeirError ? e.message : (e as Error).message
    this.failure ??= new WeirError('io', `checkpoint ${id} failed (the previous one is still usable): ${why}`)
  }

  /**
   * The oldest state epoch a checkpoint that may yet be restored needs: the retained manifests'
   * (on disk, whoever wrote them) and this run's latest ones, whose manifests may be on their way.
   */
  private oldestRetainedEpoch(current: number): number {
    const onDisk = listManifests(this.jobDir).map((m) => m.id)
    const newest = onDisk[0] ?? -1
    let oldest = current
    for (const id of onDisk) oldest = Math.min(oldest, this.epochOf(id))
    for (const id of this.mine) if (id > newest) oldest = Math.min(oldest, this.epochs.get(id)!)
    // Every checkpoint of this run newer than the newest complete one may still complete and be
    // the one a resume restores, however many came after it: in a pipe chain the completing
    // stage can be many checkpoints behind this one (it learns of barriers as its input comes).
    // Those at or below the newest complete one are retained on disk, or gone for good.
    while (this.mine.length > 0 && this.mine[0]! <= newest) this.mine.shift()
    // checkpoints older than every retained one are gone for good: a job that runs for weeks
    // keeps a handful of entries here, not one per checkpoint it ever took
    const oldestId = Math.min(onDisk[onDisk.length - 1] ?? Number.POSITIVE_INFINITY, this.mine[0] ?? Number.POSITIVE_INFINITY)
    for (const id of this.epochs.keys()) if (id < oldestId) this.epochs.delete(id)
    return oldest
  }

  /** This stage's epoch in checkpoint `id` (read from its manifest when this run did not take it). */
  private epochOf(id: number): number {
    let e = this.epochs.get(id)
    if (e !== undefined) return e
    if (this.role.stage === 0) e = id
    else {
      const r = readManifest(join(checkpointsDir(this.jobDir), `chk-${String(id).padStart(8, '0')}.json`))
      e = (r.ok ? r.manifest.chain?.find((p) => p.stage === this.role.stage)?.state?.epoch : undefined) ?? Number.POSITIVE_INFINITY
    }
    this.epochs.set(id, e)
    return e
  }

  /** Waits for the checkpoints in flight; throws if one failed. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight])
    if (this.failure) throw this.failure
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
