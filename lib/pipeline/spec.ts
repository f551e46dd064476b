// Pipeline spec files: a whole chain, its source and its sink, in one JSON file.
//   { "name": "…", "source": {"path": "in.ndjson"}, "stages": ["keyby user", …], "sink": {"path": "out.ndjson"} }
// Source and sink default to stdin and stdout. Relative paths are relative to the spec file's
// folder (decisions.md 36, as tsconfig, Cargo and compose do), so a cron job finds the same files
// and job dir from any cwd: a job dir found in the wrong place would silently start afresh and
// duplicate output. Stage strings are parsed by the commands (commands/run.ts); this file only
// reads and checks the file's shape, with file:line in every error.
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, relative, resolve } from 'node:path'
import { WeirError, usageError } from '../stream/errors.js'

export interface SpecStage {
  /** 1-based, as users count */
  index: number
  /** the stage as written: a command line, or an array of words */
  words: string | string[]
  uid?: string
}

export interface Spec {
  name: string
  inputs: string[]
  output?: string
  lateOutput?: string
  /** Where bad lines go; implies --on-error dead-letter. */
  deadLetter?: string
  stages: SpecStage[]
  /** "checkpoint": {"dir", "interval", "retain"}: a durable job */
  checkpoint?: { dir: string; interval?: string; retain?: number }
}

const TOP_KEYS = new Set(['name', 'description', 'source', 'stages', 'sink', 'late', 'dead-letter', 'checkpoint'])

export function readSpec(path: string): Spec {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new WeirError('no-input', `${path}: ${code === 'ENOENT' ? 'no such spec file' : (e as Error).message}`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw usageError(`${path}${lineOfJsonError(text, e as Error)}: not valid JSON: ${(e as Error).message}`)
  }
  const fail = (what: string) => usageError(`${path}: ${what}`)
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw fail('expected a JSON object')
  const o = doc as Record<string, unknown>
  for (const k of Object.keys(o)) if (!TOP_KEYS.has(k)) throw fail(`unknown field "${k}" (expected one of ${[...TOP_KEYS].join(', ')})`)
  if (!Array.isArray(o.stages)) throw fail('"stages" must be an array of stage strings')
  if (o.name !== undefined && typeof o.name !== 'string') throw fail('"name" must be a string')
  const stages = o.stages.map((s: unknown, i: number): SpecStage => {
    const index = i + 1
    if (typeof s === 'string' || isStringArray(s)) return { index, words: s }
    if (s && typeof s === 'object' && !Array.isArray(s)) {
      const so = s as Record<string, unknown>
      for (const k of Object.keys(so)) if (k !== 'stage' && k !== 'uid') throw fail(`stage ${index}: unknown field "${k}" (expected stage, uid)`)
      const words = so.stage
      if (typeof words === 'string' || isStringArray(words)) {
        if (so.uid !== undefined && typeof so.uid !== 'string') throw fail(`stage ${index}: "uid" must be a string`)
        return { index, words, uid: so.uid as string | undefined }
      }
    }
    throw fail(`stage ${index}: expected a command line string, an array of words, or {"stage": …, "uid": …}`)
  })
  const here = (p: string | undefined) => (p === undefined ? undefined : specRelative(path, p))
  return {
    name: typeof o.name === 'string' ? o.name : path,
    inputs: pathsOf(o.source, 'source', fail).map((p) => here(p)!),
    output: here(pathsOf(o.sink, 'sink', fail)[0]),
    lateOutput: here(pathsOf(o.late, 'late', fail)[0]),
    deadLetter: here(pathsOf(o['dead-letter'], 'dead-letter', fail)[0]),
    stages,
    checkpoint: checkpointOf(o.checkpoint, fail, here),
  }
}

/**
 * A path in the spec, resolved against the spec's folder; shown relative to the cwd when it lies
 * below it (so messages stay short), absolute otherwise. '-' (stdin) stays itself.
 */
function specRelative(specPath: string, p: string): string {
  if (p === '-' || isAbsolute(p)) return p
  const abs = resolve(dirname(specPath), p)
  const rel = relative(process.cwd(), abs)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs
}

function checkpointOf(x: unknown, fail: (w: string) => Error, here: (p: string) => string | undefined): Spec['checkpoint'] {
  if (x === undefined) return undefined
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw fail('"checkpoint" must be {"dir": "DIR", "interval": "10s", "retain": 3}')
  const o = x as Record<string, unknown>
  for (const k of Object.keys(o)) if (!['dir', 'interval', 'retain'].includes(k)) throw fail(`"checkpoint": unknown field "${k}" (expected dir, interval, retain)`)
  if (typeof o.dir !== 'string' || o.dir === '') throw fail('"checkpoint": "dir" must name the job dir')
  if (o.interval !== undefined && typeof o.interval !== 'string') throw fail('"checkpoint": "interval" is a duration ("10s") or a record count ("50000r")')
  if (o.retain !== undefined && (typeof o.retain !== 'number' || !Number.isInteger(o.retain) || o.retain < 1))
    throw fail('"checkpoint": "retain" is a whole number of checkpoints ≥ 1')
  return { dir: here(o.dir)!, interval: o.interval as string | undefined, retain: o.retain as number | undefined }
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.length > 0 && x.every((w) => typeof w === 'string')
}

function pathsOf(x: unknown, field: string, fail: (w: string) => Error): string[] {
  if (x === undefined) return []
  if (x && typeof x === 'object' && !Array.isArray(x)) {
    const o = x as Record<string, unknown>
    const allowed = field === 'source' ? ['path', 'paths'] : ['path']
    for (const k of Object.keys(o)) if (!allowed.includes(k)) throw fail(`"${field}": unknown field "${k}" (expected ${allowed.join(' or ')})`)
    if (o.path !== undefined && o.paths !== undefined) throw fail(`"${field}": "path" or "paths", not both`)
    if (typeof o.path === 'string' && o.path !== '') return [o.path]
    if (field === 'source' && isStringArray(o.paths)) return o.paths
  }
  throw fail(`"${field}" must be {"path": "FILE"}${field === 'source' ? ' or {"paths": [...]}' : ''}`)
}

/** V8 names the character position of a JSON error; turn it into ":line". */
function lineOfJsonError(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message)
  const pos = m ? Number(m[1]) : firstBadChar(text)
  let line = 1
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++
  return `:${line}`
}

/**
 * Some V8 messages ("Unexpected token ']', … is not valid JSON") give no position. A prefix of
 * the text that could still become valid JSON fails only at its end, so the shortest prefix
 * that fails earlier ends with the offending character: binary search for it.
 */
function firstBadChar(text: string): number {
  const viable = (k: number) => {
    try {
      JSON.parse(text.slice(0, k))
      return true
    } catch (e) {
      const msg = (e as Error).message
      const p = /position (\d+)/.exec(msg)
      return /end of JSON input/.test(msg) || (p !== null && Number(p[1]) >= k)
    }
  }
  let lo = 0 // viable
  let hi = text.length // not viable
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (viable(mid)) lo = mid
    else hi = mid
  }
  return hi - 1
}
