// What a job with a job dir adds to the driver: the lock, the choice of where to start (fresh, or
// a checkpoint's manifest), keyed state in LMDB at that checkpoint's epoch, the inputs' positions
// to seek to, the sinks' committed lengths to cut back to, and the checkpoint coordinator.
//
// Job dir layout:
//   <job-dir>/state/             the LMDB environment (keyed state, versioned by checkpoint epoch)
//   <job-dir>/checkpoints/chk-N.json   one manifest per complete checkpoint (checkpoint/manifest.ts)
// and, for a pipe chain of weir stages sharing the job (decisions.md 16, 27):
//   <job-dir>/stage-K/state/     stage K's own LMDB environment (K ≥ 1, stages with keyed state)
//   <job-dir>/checkpoints/chk-N.stage-K.json   stage K's part of checkpoint N, until the
//                                completing stage gathers the parts into chk-N.json
import { mkdirSync, unlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { lockJobDir, type JobLock } from '../checkpoint/lock.js'
import { CheckpointCoordinator, type ChainRole, type CheckpointParticipants, type CheckpointedSink } from '../checkpoint/coordinator.js'
import { everCheckpointed, findManifest, hasParts, latestManifest, listManifests, removeParts, type Manifest, type OperatorRecord, type SourcePosition, type StagePart } from '../checkpoint/manifest.js'
import type { ChainJob } from '../io/protocol/channel.js'
import { MemoryStateBackend } from '../state/memory.js'
import type { Stats } from '../stream/stats.js'
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
  /** this stage's totals in the restored checkpoint */
  restoredTotals: Stats
  /** what the side channel tells the stages after this one (man/weir-protocol.7, JOBS) */
  chainJob: ChainJob
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

/** This process's place in a pipe chain, when a weir stage with a job is before it. */
export interface ChainPlace {
  /** the job as the stage before this one passed it on */
  job: ChainJob
  /** the command lines and process ids of the stages before this one */
  upstream: string[]
  pids: number[]
}

const VERSION = '0.1.0'

/**
 * A job dir and its folders: the user's umask decides, but never writable by others, whatever the
 * umask: another user who could write there could plant a manifest (or state) that a resume trusts.
 */
export const JOB_DIR_MODE = 0o775

/** Operators that keep keyed state: a later stage of a chain without them opens no LMDB. */
const STATEFUL = new Set(['window', 'aggregate', 'process'])

/**
 * Opens a durable job: the first stage's (a job dir of its own) or, in a pipe chain, a later
 * stage's, which learns the job dir and the checkpoint to restore from the stage before it.
 * `completes`: this stage writes the manifests (decisions.md 27).
 */
export async function openDurableJob(stages: Stage[], inputs: string[], opts: JobOptions, completes: boolean, place?: ChainPlace): Promise<DurableJob> {
  const stage = place ? place.job.stage + 1 : 0
  const jobDir = place ? place.job.dir : resolve(opts.jobDir!)
  if (place && opts.jobDir !== undefined && resolve(opts.jobDir) !== jobDir)
    throw usageError(`--job-dir ${opts.jobDir}: the stage before this one runs the job in ${jobDir}; a chain has one job dir (name it on the first stage)`)
  const warn = opts.warn ?? (() => {})
  try {
    mkdirSync(jobDir, { recursive: true, mode: JOB_DIR_MODE })
  } catch (e) {
    throw new WeirError('cant-create', `${jobDir}: cannot create the job dir: ${(e as Error).message}`)
  }
  const lock: JobLock = await lockJobDir(jobDir, stage === 0 ? 'job' : `stage-${stage}`)
  let state: KeyedStateBackend | undefined
  try {
    const uids = operatorUids(stages)
    const operators: OperatorRecord[] = stages.map((s, i) => ({ uid: uids[i]!, label: s.label }))
    const fingerprint = hash8(uids.join('\n'))
    const command = opts.commandLine ?? 'weir ' + stages.map((s) => s.label).join(' then ')
    const allowChanged = opts.allowChangedPipeline === true || place?.job.allowChangedPipeline === true
    let restored: Manifest | undefined
    let finished = false
    if (!place && listManifests(jobDir).length === 0 && hasParts(jobDir))
      // parts but never a manifest: the chain's stages recorded their parts and none completed
      // them (decisions.md 27); resuming would start afresh every time
      warn(
        `${jobDir}: no checkpoint of this job was ever completed: its last weir stage wrote to a pipe. Give that stage --last-stage (weir … --last-stage | gzip > out.gz), or let it write to a file`,
      )
    if (place) {
      if (place.job.restore !== undefined) restored = findManifest(jobDir, String(place.job.restore), warn).manifest
      finished = place.job.finished === true
    } else {
      if (opts.fromCheckpoint !== undefined) restored = findManifest(jobDir, opts.fromCheckpoint, warn).manifest
      else if (opts.resume) {
        restored = latestManifest(jobDir, warn)?.manifest
        // Starting over here would write every result a second time (after `>> out`, beside the
        // first): the corrupt manifests are refused, not passed over.
        if (!restored && listManifests(jobDir).length > 0)
          throw new WeirError(
            'io',
            `${jobDir}: no checkpoint to resume from: every manifest in checkpoints/ is corrupt, and starting over would repeat every result already written. Restore a manifest, or remove the job dir to start over`,
          )
      }
      else if (listManifests(jobDir).length > 0)
        throw usageError(`${jobDir}: holds checkpoints of an earlier run: --resume continues it; to start over, remove the job dir`)
    }
    // checkpoints were completed here and none is left: checkpoints/ was removed, and starting
    // over would repeat every result
    if (!place && !restored && listManifests(jobDir).length === 0 && everCheckpointed(jobDir))
      throw new WeirError(
        'io',
        `${jobDir}: checkpoints were completed here, but checkpoints/ holds no manifest: starting over would repeat every result already written. Restore checkpoints/, or remove the job dir to start over`,
      )
    // this stage's part of the restored checkpoint
    let part: StagePart | undefined
    if (restored && !place) {
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
      checkPipeline(restored, operators, fingerprint, allowChanged, warn)
      if (completes && restored.chain?.length)
        refuseOrWarn(allowChanged, warn, `checkpoint ${restored.id} was taken by a chain of ${restored.chain.length + 1} weir stages, and this one ends the chain at the first: ${describeStages(restored.chain)} gone`)
      if (inputs.includes(STDIN) && !identifyInput(STDIN).seekable)
        throw usageError(
          `stdin is a pipe, which cannot be rewound to checkpoint ${restored.id}'s offset: give the file as an argument or with '<' (a pipe on stdin is at-least-once)`,
        )
      // checkpoints after the restored one are a branch this run no longer follows: their state
      // versions are not in this run's lineage and will be reclaimed, so they must not be resumed
      for (const m of listManifests(jobDir)) if (m.id > restored.id) unlinkSync(m.path)
    } else if (restored && place) {
      part = restored.chain?.find((p) => p.stage === stage)
      const me = `stage ${stage + 1} of the chain ('${command}')`
      if (!part) refuseOrWarn(allowChanged, warn, `checkpoint ${restored.id} was taken by a chain of ${(restored.chain?.length ?? 0) + 1} weir stages: ${me} was not in it`)
      else if (part.fingerprint !== fingerprint)
        refuseOrWarn(allowChanged, warn, `checkpoint ${restored.id} took ${me} as '${part.command}': ${pipelineDiff(part.operators, operators)}`)
      const after = restored.chain?.filter((p) => p.stage > stage) ?? []
      if (completes && after.length > 0) refuseOrWarn(allowChanged, warn, `checkpoint ${restored.id} had more stages after ${me}: ${describeStages(after)} gone`)
    }
    // parts of checkpoints a chain never completed: nothing will gather them now
    if (!place) removeParts(jobDir, Number.POSITIVE_INFINITY)
    const maxId = listManifests(jobDir).reduce((m, x) => Math.max(m, x.id), -1)
    const restoredEpoch = place ? part?.state?.epoch : restored?.state.epoch
    let nextId = maxId + 1
    if (!place || stages.some((s) => STATEFUL.has(s.config.op))) {
      const { openLmdbState } = await import('../state/lmdb.js')
      const dir = place ? join(jobDir, `stage-${stage}`, 'state') : join(jobDir, 'state')
      mkdirSync(dir, { recursive: true, mode: JOB_DIR_MODE })
      const lineage = place ? part?.state?.lineage ?? [] : restored?.state.lineage ?? []
      const lmdb = await openLmdbState(dir, { lineage, minPendingEpoch: place ? 0 : maxId + 1 })
      // state the checkpoint wrote and the dir no longer holds (data.mdb removed or replaced):
      // restoring from it would be restoring from nothing, with no error
      if (restoredEpoch !== undefined && lmdb.maxEpoch() < restoredEpoch) {
        await lmdb.close()
        throw new WeirError(
          'io',
          `${dir}: holds no state of checkpoint ${restored!.id} (its newest is ${lmdb.maxEpoch() < 0 ? 'none' : lmdb.maxEpoch()}): the state was removed or replaced. Restore it, or remove the job dir to start over`,
        )
      }
      state = lmdb
      nextId = lmdb.pendingEpoch
    }
    const backend = state ?? new MemoryStateBackend()
    const stateless = state === undefined
    // how far each input was read at any checkpoint (a later stage reads only its pipe: none)
    const marks = place ? [] : backend.readMarks()
    const identity = { job: opts.name ?? 'weir', version: VERSION, fingerprint, operators }
    const lastUid = uids[stages.length - 1] ?? ''
    const mySinks = place ? part?.sinks ?? [] : restored?.sinks ?? []
    const restoredTotals = (place ? part?.totals : restored?.totals) ?? newStats()
    const chainJob: ChainJob = {
      dir: jobDir,
      stage,
      ...(restored ? { restore: restored.id } : {}),
      ...(finished ? { finished } : {}),
      ...(allowChanged ? { allowChangedPipeline: true } : {}),
    }
    const role: ChainRole = { stage, completes, command, upstreamPids: place?.pids ?? [] }
    return {
      finished,
      state: backend,
      snapshots: (place ? part?.snapshots : restored?.snapshots) ?? {},
      restored,
      restoredTotals,
      chainJob,
      startPositions: () => (place ? inputs.map((path) => ({ path, dev: 0, ino: 0, offset: 0, line: 0, done: false })) : startPositions(inputs, restored, warn)),
      replayUntil(p) {
        const m = marks.find((m) => m.ino === p.ino && m.dev === p.dev)
        if (!m || m.line <= p.line) return 0
        // a file now shorter than where the mark was taken was truncated: what it holds is new
        return safeIdentify(p.rotatedTo ?? p.path).size >= m.offset ? m.line : 0
      },
      sinkResume(role, path) {
        const r = mySinks.find((s) => s.role === role)
        if (!r || !restored) return undefined
        if (r.path !== absolute(path)) {
          warn(`checkpoint ${restored.id} wrote its ${role} to ${r.path}, this run to ${path}: that file is written from scratch`)
          return undefined
        }
        return { ino: r.ino, base: r.base, committed: r.committed, checkpoint: restored.id }
      },
      sinks: (list) =>
        list.map(({ role, sink }) => ({
          record: { stage, uid: lastUid, role, path: absolute(sink.name), dev: sink.dev, ino: sink.ino, base: sink.base },
          length: () => sink.length(),
          lines: () => sink.lines,
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
          { ...p, stateless },
          {
            nextId,
            lineage: (place ? part?.state?.lineage : restored?.state.lineage) ?? [],
            totals: restoredTotals,
            ...(restored && restoredEpoch !== undefined ? { restored: { id: restored.id, epoch: restoredEpoch } } : {}),
          },
          () => clock.now(),
          role,
          warn,
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

function refuseOrWarn(allow: boolean, warn: (m: string) => void, what: string): void {
  if (!allow) throw usageError(`${what}; --allow-changed-pipeline on the first stage restores what still matches`)
  warn(`${what}: what matches by uid keeps its state, the rest starts empty`)
}

function describeStages(parts: StagePart[]): string {
  return parts.map((p) => `stage ${p.stage + 1} ('${p.command}')`).join(', ')
}

function pipelineDiff(then: OperatorRecord[], now: OperatorRecord[]): string {
  const nowUids = new Set(now.map((o) => o.uid))
  const thenUids = new Set(then.map((o) => o.uid))
  const gone = then.filter((o) => !nowUids.has(o.uid)).map((o) => `'${o.label}' is gone`)
  const added = now.filter((o) => !thenUids.has(o.uid)).map((o) => `'${o.label}' is new`)
  return [...gone, ...added].join(', ') || 'the operators are in another order'
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
    // An input before the last that was read to its end and has grown since: its new lines are
    // read too, from where the checkpoint left it, before the inputs after it go on (they were
    // skipped as done, and lost without a word)
    if (r.done && path !== STDIN && id.size > r.offset) return { ...r, dev: id.dev, ino: id.ino, done: false }
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
