// Checkpoint manifests: one JSON file per complete checkpoint in <job-dir>/checkpoints/, written
// atomically (temp file, fsync, rename, fsync of the directory) with a checksum over its body, so
// a torn or corrupted manifest is detected and the previous one is used instead. A manifest is
// written only after everything it names is durable: the state epoch (LMDB's synchronous commit)
// and every sink up to its committed length. It is the checkpoint: no manifest, no checkpoint.
import { createHash } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { OLDEST_STATE_FORMAT, STATE_FORMAT, type Lineage } from '../state/backend.js'
import { WeirError } from '../stream/errors.js'
import type { Stats } from '../stream/stats.js'
import { crashPoint } from './crash.js'

/** Bumped when the manifest's shape changes in a way an older weir would misread. */
export const MANIFEST_FORMAT = 1
export { STATE_FORMAT }

/** Where one input stood at the barrier: the next byte to read is `offset`, on line `line + 1`. */
export interface SourcePosition {
  path: string
  dev: number
  ino: number
  /** bytes of the input consumed, always at a line boundary */
  offset: number
  /** lines consumed (blank ones included) */
  line: number
  /** read to its end (a later run starts at the next input) */
  done: boolean
  /**
   * Not in manifests: on resume, the file the checkpoint was reading was rotated to this path
   * (NAME.1); it is finished from `offset` before NAME is read from its start.
   */
  rotatedTo?: string
}

/** One sink as decisions.md 29 describes it. Lengths are absolute byte offsets in the file. */
export interface SinkRecord {
  stage: number
  uid: string
  role: 'output' | 'late' | 'dead-letter'
  /** the file's path, or "stdout" */
  path: string
  dev: number
  ino: number
  /** what was in the file before this job first wrote to it: never cut */
  base: number
  committed: number
  /** false for a pipe, a terminal or /dev/null: that output is at-least-once (decisions.md 28) */
  durable: boolean
}

export interface OperatorRecord {
  uid: string
  label: string
}

export interface Manifest {
  format: number
  weir: string
  stateFormat: number
  job: string
  /** hash of the operator uids in order: a different pipeline has a different fingerprint */
  fingerprint: string
  operators: OperatorRecord[]
  maxKeyGroups: number
  id: number
  time: string
  /** every operator's own (non-keyed) state, by uid */
  snapshots: Record<string, unknown>
  state: { backend: 'lmdb'; epoch: number; lineage: Lineage; bytes: number }
  sources: SourcePosition[]
  sinks: SinkRecord[]
  /** the job's counters since its first run (decisions.md 34) */
  totals: Stats
  /** 'running': more input may come; 'drained': the input ended and every window fired */
  phase: 'running' | 'stopped' | 'drained'
  /**
   * A pipe chain (weir … | weir … | weir …): the parts of the stages after the first, in chain
   * order; the fields above are the first stage's. Absent for a single process.
   */
  chain?: StagePart[]
  checksum?: string
}

/**
 * One later stage's part of a pipe chain's checkpoint: what it restores from. Its state epochs
 * are its own (each stage has its own LMDB environment under the job dir), so `state.epoch` need
 * not equal the checkpoint id.
 */
export interface StagePart {
  stage: number
  /** the stage's command line, for messages */
  command: string
  fingerprint: string
  operators: OperatorRecord[]
  snapshots: Record<string, unknown>
  /** absent when the stage keeps no keyed state */
  state?: { backend: 'lmdb'; epoch: number; lineage: Lineage; bytes: number }
  sinks: SinkRecord[]
  totals: Stats
  phase: Manifest['phase']
}

/**
 * What a stage whose stdout is a pipe writes at a barrier: its part, for the completing stage to
 * gather into the manifest (decisions.md 27). The first stage's part has a manifest's shape.
 */
export type PartFile = { id: number; stage: number; first?: Manifest; part?: StagePart; checksum?: string }

export function checkpointsDir(jobDir: string): string {
  return join(jobDir, 'checkpoints')
}

function fileName(id: number): string {
  return `chk-${String(id).padStart(8, '0')}.json`
}

function partName(id: number, stage: number): string {
  return `chk-${String(id).padStart(8, '0')}.stage-${stage}.json`
}

function checksumOf(m: { checksum?: string }): string {
  const { checksum: _omit, ...body } = m
  return 'sha256:' + createHash('sha256').update(JSON.stringify(body)).digest('hex')
}

/** Writes the manifest so that a reader sees the whole file or none of it, and so it survives power loss. */
export function writeManifest(jobDir: string, m: Manifest): string {
  const path = writeAtomically(jobDir, fileName(m.id), m)
  // A hint beside checkpoints/, not a record: a job dir holding it and no manifest lost its
  // checkpoints (removed), and starting over would repeat every result (pipeline/durable.ts).
  // Not synced: a crash that loses it loses only that check.
  writeFileSync(join(jobDir, CHECKPOINTED), `${m.id}\n`, { mode: 0o664 })
  return path
}

const CHECKPOINTED = 'checkpointed'

/** Whether a manifest of this job dir was ever completed (see writeManifest). */
export function everCheckpointed(jobDir: string): boolean {
  return existsSync(join(jobDir, CHECKPOINTED))
}

/** Writes a stage's part of a pipe chain's checkpoint, as atomically and durably as a manifest. */
export function writePart(jobDir: string, p: PartFile): string {
  return writeAtomically(jobDir, partName(p.id, p.stage), p)
}

/** A stage's part of checkpoint `id`, once it is there and verifies; undefined before. */
export function readPart(jobDir: string, id: number, stage: number): PartFile | undefined {
  let p: PartFile
  try {
    p = JSON.parse(readFileSync(join(checkpointsDir(jobDir), partName(id, stage)), 'utf8')) as PartFile
  } catch {
    return undefined
  }
  return p && typeof p === 'object' && checksumOf(p) === p.checksum ? p : undefined
}

/** Whether any stage's part of a checkpoint is in the job dir. */
export function hasParts(jobDir: string): boolean {
  try {
    return readdirSync(checkpointsDir(jobDir)).some((n) => /^chk-\d+\.stage-\d+\.json$/.test(n))
  } catch {
    return false
  }
}

/** Removes the parts of checkpoints up to `id` (gathered into a manifest, or never to be). */
export function removeParts(jobDir: string, upTo: number): void {
  let names: string[]
  try {
    names = readdirSync(checkpointsDir(jobDir))
  } catch {
    return
  }
  for (const n of names) {
    const m = /^chk-(\d+)\.stage-\d+\.json$/.exec(n)
    if (m && Number(m[1]) <= upTo)
      try {
        unlinkSync(join(checkpointsDir(jobDir), n))
      } catch {
        // removed by another stage meanwhile
      }
  }
}

function writeAtomically(jobDir: string, name: string, body: { checksum?: string }): string {
  const dir = checkpointsDir(jobDir)
  // never writable by others, whatever the umask: a resume trusts what is here (pipeline/durable.ts)
  mkdirSync(dir, { recursive: true, mode: 0o775 })
  const text = JSON.stringify({ ...body, checksum: checksumOf(body) }, null, 1) + '\n'
  const path = join(dir, name)
  const tmp = path + '.tmp'
  const fd = openSync(tmp, 'w', 0o664)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  crashPoint('manifest-temp')
  renameSync(tmp, path)
  const d = openSync(dir, 'r')
  try {
    fsyncSync(d)
  } finally {
    closeSync(d)
  }
  return path
}

export type ManifestRead = { ok: true; manifest: Manifest; path: string } | { ok: false; path: string; why: string }

/** Reads and verifies one manifest: its checksum, its format and its state format. */
export function readManifest(path: string): ManifestRead {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return { ok: false, path, why: (e as Error).message }
  }
  let m: Manifest
  try {
    m = JSON.parse(text) as Manifest
  } catch {
    return { ok: false, path, why: 'not valid JSON (truncated or corrupted)' }
  }
  if (m === null || typeof m !== 'object' || typeof m.checksum !== 'string') return { ok: false, path, why: 'no checksum' }
  if (checksumOf(m) !== m.checksum) return { ok: false, path, why: 'checksum mismatch (corrupted)' }
  if (m.format !== MANIFEST_FORMAT)
    throw new WeirError('usage', `${path}: manifest format ${m.format}, but this weir reads format ${MANIFEST_FORMAT} (written by weir ${m.weir})`)
  if (!(m.stateFormat >= OLDEST_STATE_FORMAT && m.stateFormat <= STATE_FORMAT))
    throw new WeirError(
      'usage',
      `${path}: state format ${m.stateFormat} (weir ${m.weir}), but this weir reads state formats ${OLDEST_STATE_FORMAT} to ${STATE_FORMAT}; finish the job with weir ${m.weir}, or start a new job dir`,
    )
  return { ok: true, manifest: m, path }
}

/** Every manifest file in the job dir, newest first (by id, from the file name). */
export function listManifests(jobDir: string): { id: number; path: string }[] {
  let names: string[]
  try {
    names = readdirSync(checkpointsDir(jobDir))
  } catch {
    return []
  }
  return names
    .map((n) => /^chk-(\d+)\.json$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ id: Number(m[1]), path: join(checkpointsDir(jobDir), m[0]) }))
    .sort((a, b) => b.id - a.id)
}

/**
 * The newest manifest that verifies. Corrupt ones are skipped, each reported through `warn`, so a
 * run falls back to the previous complete checkpoint and says so.
 */
export function latestManifest(jobDir: string, warn: (message: string) => void): ManifestRead & { ok: true } | undefined {
  const all = listManifests(jobDir)
  for (const [i, { path }] of all.entries()) {
    const r = readManifest(path)
    if (r.ok) return r
    warn(`${path}: ${r.why}; ${i + 1 < all.length ? 'falling back to the previous checkpoint' : 'no earlier checkpoint'}`)
  }
  return undefined
}

/** Resolves --from-checkpoint latest|ID|PATH to a verified manifest. */
export function findManifest(jobDir: string, which: string, warn: (message: string) => void): ManifestRead & { ok: true } {
  if (which === 'latest') {
    const r = latestManifest(jobDir, warn)
    if (!r) throw new WeirError('no-input', `${jobDir}: no complete checkpoint to resume from`)
    return r
  }
  const path = /^\d+$/.test(which) ? join(checkpointsDir(jobDir), fileName(Number(which))) : which
  const r = readManifest(path)
  if (!r.ok) throw new WeirError(r.why.includes('ENOENT') ? 'no-input' : 'io', `${path}: cannot resume from this checkpoint: ${r.why}`)
  return r
}

/**
 * Deletes manifests beyond the newest `retain` (and temp files a crash left; a stage's part being
 * written is not touched).
 */
export function pruneManifests(jobDir: string, retain: number): void {
  const all = listManifests(jobDir)
  for (const { path } of all.slice(retain)) unlinkSync(path)
  try {
    for (const n of readdirSync(checkpointsDir(jobDir))) if (/^chk-\d+\.json\.tmp$/.test(n)) unlinkSync(join(checkpointsDir(jobDir), n))
  } catch {
    // nothing to clean
  }
}

/** Lineage helpers: a checkpoint sees the epochs of its ancestors (state/backend.ts). */
export function extendLineage(lineage: Lineage, id: number): Lineage {
  const last = lineage[lineage.length - 1]
  if (last && last[1] === id - 1) return [...lineage.slice(0, -1), [last[0], id]]
  return [...lineage, [id, id]]
}
