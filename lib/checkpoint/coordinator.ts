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
import {
  MANIFEST_FORMAT,
  STATE_FORMAT,
  extendLineage,
  listManifests,
  pruneManifests,
  writeManifest,
  type Manifest,
  type OperatorRecord,
  type SinkRecord,
  type SourcePosition,
} from './manifest.js'

/** How often: every so many ms of wall time, or every so many records read. */
export type CheckpointInterval = { ms: number } | { records: number }

/** A sink as the coordinator sees it: its identity in the manifest, its length, and a way to make it durable. */
export interface CheckpointedSink {
  record: Omit<SinkRecord, 'committed' | 'durable'>
  length(): number
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
}

export interface JobIdentity {
  job: string
  version: string
  fingerprint: string
  operators: OperatorRecord[]
}

export class CheckpointCoordinator {
  private inFlight: Promise<void> | undefined
  private failure: unknown
  private lastAt: number
  private lastRecords = 0
  private nextId: number
  private lineage: Lineage
  /** ids of the manifests kept, oldest first */
  private retained: number[]
  lastCompleted: number | undefined

  constructor(
    private readonly jobDir: string,
    private readonly identity: JobIdentity,
    private readonly interval: CheckpointInterval,
    private readonly retain: number,
    private readonly p: CheckpointParticipants,
    start: { nextId: number; lineage: Lineage; totals: Stats },
    private readonly now: () => number,
  ) {
    this.nextId = start.nextId
    this.lineage = start.lineage
    this.baseTotals = start.totals
    this.lastAt = now()
    this.retained = listManifests(jobDir)
      .map((m) => m.id)
      .sort((a, b) => a - b)
  }

  private readonly baseTotals: Stats

  /** The job's counters since its first run: the restored checkpoint's plus this run's. */
  totals(): Stats {
    const t = newStats()
    // a manifest written before a counter existed counts it from 0
    for (const k of Object.keys(t) as (keyof Stats)[]) t[k] = (this.baseTotals[k] ?? 0) + this.p.stats[k]
    return t
  }

  /** Whether a checkpoint is due at this batch boundary (and none is in flight). */
  due(): boolean {
    if (this.failure) throw this.failure
    if (this.inFlight) return false
    if ('ms' in this.interval) return this.now() - this.lastAt >= this.interval.ms
    return this.p.stats.read - this.lastRecords >= this.interval.records
  }

  /**
   * Takes a checkpoint: the synchronous part now, the rest in the background (await settled()).
   * Call only at a batch boundary.
   */
  trigger(phase: Manifest['phase']): void {
    if (this.failure) throw this.failure
    const id = this.nextId++
    const lineage = extendLineage(this.lineage, id)
    // Versions only checkpoints older than every retained one need can go: the oldest retained is
    // still the oldest until this checkpoint's manifest exists, so it bounds the reclaim.
    const oldestRetained = this.retained[0] ?? id
    const snapshots = this.p.snapshotOperators()
    const sources = this.p.sources()
    try {
      // with the state: how far each file was read, so a later fallback knows what it replays
      this.p.state.checkpoint(id, lineage, oldestRetained, sources.map(({ dev, ino, line, offset }) => ({ dev, ino, line, offset })))
    } catch (e) {
      // a full disk or a failing device: this checkpoint fails, the previous one stays usable
      if (e instanceof WeirError && e.kind !== 'internal') throw new WeirError(e.kind, `checkpoint ${id} failed (the previous one is still usable): ${e.message}`)
      throw new WeirError('io', `checkpoint ${id} failed (the previous one is still usable): state: ${(e as Error).message}`)
    }
    crashPoint('after-state')
    this.lineage = lineage
    const sinks = this.p.sinks.map((s) => ({ ...s.record, committed: s.length(), durable: s.durable }))
    const manifest: Manifest = {
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
      state: { backend: 'lmdb', epoch: id, lineage, bytes: this.p.state.size() },
      sources,
      sinks,
      totals: this.totals(),
      phase,
    }
    this.lastAt = this.now()
    this.lastRecords = this.p.stats.read
    this.inFlight = this.complete(manifest).finally(() => (this.inFlight = undefined))
  }

  private async complete(m: Manifest): Promise<void> {
    try {
      await Promise.all(this.p.sinks.map((s) => s.sync()))
      crashPoint('after-sinks')
      writeManifest(this.jobDir, m)
      crashPoint('after-manifest')
      this.retained.push(m.id)
      if (this.retained.length > this.retain) {
        this.retained = this.retained.slice(-this.retain)
        pruneManifests(this.jobDir, this.retain)
      }
      this.lastCompleted = m.id
    } catch (e) {
      const why = e instanceof WeirError ? e.message : (e as Error).message
      this.failure ??= new WeirError('io', `checkpoint ${m.id} failed (the previous one is still usable): ${why}`)
    }
  }

  /** Waits for the checkpoint in flight, if any; throws if it failed. */
  async settled(): Promise<void> {
    await this.inFlight
    if (this.failure) throw this.failure
  }
}
