// What a job with a job dir adds to the driver: the lock, the choice of where to start (fresh, or
// a checkpoint's manifest), keyed state in LMDB at that checkpoint's epoch, the inputs' positions
// to seek to, the sinks' committed lengths to cut back to, and the checkpoint coordinator.
//
// Job dir layout:
//   <job-dir>/state/             the LMDB environment (keyed state, versioned by checkpoint epoch)
//   <job-dir>/checkpoints/chk-N.json   one manifest per complete checkpoint (checkpoint/manifest.ts)
import { mkdirSync, unlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { lockJobDir, type JobLock } from '../checkpoint/lock.js'
import { CheckpointCoordinator, type CheckpointParticipants, type CheckpointedSink } from '../checkpoint/coordinator.js'
import { findManifest, latestManifest, listManifests, type Manifest, type OperatorRecord, type SourcePosition } from '../checkpoint/manifest.js'
import { STDIN, identifyInput } from '../io/source.js'
import { STDOUT, type LineSink, type SinkResume } from '../io/sink.js'
import type { KeyedStateBackend } from '../state/backend.js'
import { WeirError, usageError } from '../stream/errors.js'
import { newStats } from '../stream/stats.js'
import type { Clock } from '../time/clock.js'
import { hash8, operatorUids } from './build.js'
import type { JobOptions } from './run.js'
import type { Stage } from './stages.js'

export const DEFAULT_CHECKPOINT_INTERVAL = { ms: 10_000 }
export const DEFAULT_RETAIN = 3

export interface DurableJob {
  /** the restored checkpoint ended the job and no input changed since: nothing to do */
  finished: boolean
  state: KeyedStateBackend
  /** the restored checkpoint's operator snapshots ({} on a fresh start) */
  snapshots: Record<string, unknown>
  /** the restored checkpoint, if any */
  restored: Manifest | undefined
  startPositions(): SourcePosition[]
  /**
   * Up to which line a source's file was read already, up to some checkpoint's state commit (0:
   * none): records at or below it that this run reads are `replayed` (decisions.md 34).
   */
  replayUntil(p: SourcePosition & { rotatedTo?: string }): number
  sinkResume(role: 'output' | 'late' | 'dead-letter', path: string): SinkResume | undefined
  sinks(list: { role: 'output' | 'late' | 'dead-letter'; sink: LineSink }[]): CheckpointedSink[]
  coordinator(p: CheckpointParticipants, clock: Clock): CheckpointCoordinator
  close(): Promise<void>
}

const VERSION = '0.1.0'

export async function openDurableJob(stages: Stage[], inputs: string[], opts: JobOptions): Promise<DurableJob> {
  const jobDir = opts.jobDir!
  const warn = opts.warn ?? (() => {})
  try {
    mkdirSync(jobDir, { recursive: true })
  } catch (e) {
    throw new WeirError('cant-create', `${jobDir}: cannot create the job dir: ${(e as Error).message}`)
  }
  const lock: JobLock = await lockJobDir(jobDir, 'job')
  let state: KeyedStateBackend | undefined
  try {
    const uids = operatorUids(stages)
    const operators: OperatorRecord[] = stages.map((s, i) => ({ uid: uids[i]!, label: s.label }))
    const fingerprint = hash8(uids.join('\n'))
    let restored: Manifest | undefined
    if (opts.fromCheckpoint !== undefined) restored = findManifest(jobDir, opts.fromCheckpoint, warn).manifest
    else if (opts.resume) restored = latestManifest(jobDir, warn)?.manifest
    else if (listManifests(jobDir).length > 0)
      throw usageError(`${jobDir}: holds checkpoints of an earlier run: --resume continues it; to start over, remove the job dir`)
    let finished = false
    if (restored) {
      if (restored.phase === 'drained') {
        // A finished job with nothing new to read is done (a run killed after its last
        // checkpoint, resumed by a retry loop): nothing to do. With new input it is an error, not
        // a quiet exit 0: those records would be lost.
        const grown = inputs.filter((p, i) => {
          const r = restored!.sources[i]
          const id = safeIdentify(p)
          return !r || p === STDIN || absolute(p) !== r.path || id.ino !== r.ino || id.size !== r.offset
        })
        if (grown.length > 0)
          throw usageError(
            `${jobDir}: the job finished at checkpoint ${restored.id}: its input ended and every window fired, so ${grown.join(', ')} cannot continue it. Use --no-flush for runs that keep windows open for the next one, or a new job dir`,
          )
        warn(`${jobDir}: the job finished at checkpoint ${restored.id} and its input has not changed: nothing to do`)
        finished = true
      }
      checkPipeline(restored, operators, fingerprint, opts.allowChangedPipeline === true, warn)
      if (inputs.includes(STDIN) && !identifyInput(STDIN).seekable)
        throw usageError(
          `stdin is a pipe, which cannot be rewound to checkpoint ${restored.id}'s offset: give the file as an argument or with '<' (a pipe on stdin is at-least-once)`,
        )
      // checkpoints after the restored one are a branch this run no longer follows: their state
      // versions are not in this run's lineage and will be reclaimed, so they must not be resumed
      for (const m of listManifests(jobDir)) if (m.id > restored.id) unlinkSync(m.path)
    }
    const maxId = listManifests(jobDir).reduce((m, x) => Math.max(m, x.id), -1)
    const { openLmdbState } = await import('../state/lmdb.js')
    const lmdb = await openLmdbState(join(jobDir, 'state'), { lineage: restored?.state.lineage ?? [], minPendingEpoch: maxId + 1 })
    state = lmdb
    const nextId = lmdb.pendingEpoch
    const marks = lmdb.readMarks()
    const identity = { job: opts.name ?? 'weir', version: VERSION, fingerprint, operators }
    const lastStage = stages.length - 1
    const lastUid = uids[lastStage] ?? ''
    const backend = state
    return {
      finished,
      state: backend,
      snapshots: restored?.snapshots ?? {},
      restored,
      startPositions: () => startPositions(inputs, restored, warn),
      replayUntil(p) {
        const m = marks.find((m) => m.ino === p.ino && m.dev === p.dev)
        if (!m || m.line <= p.line) return 0
        // a file now shorter than where the mark was taken was truncated: what it holds is new
        return safeIdentify(p.rotatedTo ?? p.path).size >= m.offset ? m.line : 0
      },
      sinkResume(role, path) {
        const r = restored?.sinks.find((s) => s.role === role)
        if (!r || !restored) return undefined
        if (r.path !== absolute(path)) {
          warn(`checkpoint ${restored.id} wrote its ${role} to ${r.path}, this run to ${path}: that file is written from scratch`)
          return undefined
        }
        return { ino: r.ino, base: r.base, committed: r.committed, checkpoint: restored.id }
      },
      sinks: (list) =>
        list.map(({ role, sink }) => ({
          record: { stage: 0, uid: lastUid, role, path: absolute(sink.name), dev: sink.dev, ino: sink.ino, base: sink.base },
          length: () => sink.length(),
          get durable() {
            return sink.durable
          },
          sync: () => sink.sync(),
        })),
      coordinator: (p, clock) =>
        new CheckpointCoordinator(
          jobDir,
          identity,
          opts.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL,
          opts.retain ?? DEFAULT_RETAIN,
          p,
          { nextId, lineage: restored?.state.lineage ?? [], totals: restored?.totals ?? newStats() },
          () => clock.now(),
        ),
      async close() {
        await backend.close()
        await lock.release()
      },
    }
  } catch (e) {
    await state?.close()
    await lock.release()
    throw e
  }
}

/** A checkpoint restores into the same pipeline, or, with the override, into what matches by uid. */
function checkPipeline(m: Manifest, operators: OperatorRecord[], fingerprint: string, allow: boolean, warn: (m: string) => void): void {
  if (m.fingerprint === fingerprint) return
  const now = new Set(operators.map((o) => o.uid))
  const then = new Set(m.operators.map((o) => o.uid))
  const gone = m.operators.filter((o) => !now.has(o.uid)).map((o) => `'${o.label}' is gone`)
  const added = operators.filter((o) => !then.has(o.uid)).map((o) => `'${o.label}' is new`)
  const diff = [...gone, ...added].join(', ') || 'the stages are in another order'
  if (!allow)
    throw usageError(`checkpoint ${m.id} is of another pipeline: ${diff}; --allow-changed-pipeline restores the operators that match by uid`)
  warn(`checkpoint ${m.id} is of another pipeline (${diff}): operators matched by uid keep their state, new ones start empty`)
}

/** Where each input starts: the checkpoint's position, unless the file there is another one now. */
function startPositions(inputs: string[], restored: Manifest | undefined, warn: (m: string) => void): SourcePosition[] {
  return inputs.map((given, i) => {
    // absolute in the manifest: a cron job resumed from another cwd names the same files
    const path = given === STDIN ? STDIN : absolute(given)
    const id = safeIdentify(given)
    const fresh: SourcePosition = { path, dev: id.dev, ino: id.ino, offset: 0, line: 0, done: false }
    const r = restored?.sources[i]
    if (!r) return fresh
    if (r.path !== path)
      throw usageError(`input ${i + 1} is ${path}, but checkpoint ${restored!.id} read ${r.path}: give the same inputs in the same order`)
    if (path !== STDIN && id.ino !== r.ino && !r.done) {
      // rotated (logrotate renamed it to NAME.1 and a new NAME began): finish the old file
      // where it went, from the checkpoint's offset, then read the new one from its start
      const old = safeIdentify(given + '.1')
      if (old.ino === r.ino && old.size >= r.offset) return { ...r, rotatedTo: given + '.1' }
    }
    if (path !== STDIN && (id.ino !== r.ino || id.size < r.offset)) {
      warn(
        `${path}: not the file checkpoint ${restored!.id} read (${id.ino !== r.ino ? 'another inode' : 'it shrank'}: rotated or replaced); reading it from the start. Lines after offset ${r.offset} of the old file may be lost`,
      )
      return fresh
    }
    return { ...r, dev: id.dev, ino: id.ino }
  })
}

/** Paths in manifests are absolute (stdin and stdout stay themselves). */
function absolute(path: string): string {
  return path === STDIN || path === STDOUT ? path : resolve(path)
}

function safeIdentify(path: string): { dev: number; ino: number; size: number } {
  try {
    return identifyInput(path)
  } catch {
    return { dev: 0, ino: 0, size: 0 }
  }
}
