// StageConfig → Operators. Adding an operator is one case here and one file in operators/.
// The build walks the stages in order and carries what later stages need to know about the
// stream: the names of the key fields (for output rows) and how times are written.
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { pathLeafName } from '../expr/path.js'
import { runningAggregate } from '../operators/aggregate.js'
import { filter } from '../operators/filter.js'
import { keyby } from '../operators/keyby.js'
import { map } from '../operators/map.js'
import type { Operator } from '../operators/operator.js'
import { processOperator, type ProcessFunctionModule } from '../operators/process.js'
import { timestamps, type TimeInfo } from '../operators/timestamps.js'
import { windowOperator } from '../operators/window.js'
import { WeirError, usageError } from '../stream/errors.js'
import { canonicalJson } from '../stream/key.js'
import { assertNever } from '../stream/record.js'
import type { Stage } from './stages.js'

/**
 * Operator identity (decisions.md 17): the kind, a hash of the stage's canonical options, and an
 * occurrence number among stages with the same kind and options, unless the spec sets a uid.
 * Inserting a different stage does not change any other stage's uid.
 */
export function operatorUids(stages: Stage[]): string[] {
  const seen = new Map<string, number>()
  return stages.map((s) => {
    if (s.uid) return s.uid
    const base = `${s.config.op}-${hash8(canonicalJson(s.config))}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return `${base}-${n}`
  })
}

export function hash8(text: string): string {
  // FNV-1a, 32 bits: enough to tell options apart, and no crypto import on the start-up path
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, '0')
}

/** Output names of key fields: the leaf of each path, or the whole path where leaves collide. */
export function keyNames(fields: string[]): string[] {
  const leaves = fields.map(pathLeafName)
  return leaves.map((l, i) => (leaves.indexOf(l) !== leaves.lastIndexOf(l) ? fields[i]! : l))
}

/** Builds every stage before any record is read, so a bad stage fails with its label first. */
export async function buildOperators(stages: Stage[]): Promise<Operator[]> {
  return buildOperatorsWith(stages, await loadModules(stages))
}

/** The process modules a job names, loaded once (module path → module). */
export async function loadModules(stages: Stage[]): Promise<Map<string, ProcessFunctionModule>> {
  const modules = new Map<string, ProcessFunctionModule>()
  for (const s of stages) {
    const c = s.config
    if (c.op !== 'process' || modules.has(c.module)) continue
    try {
      modules.set(c.module, await loadProcessModule(c.module))
    } catch (e) {
      if (e instanceof WeirError) throw new WeirError(e.kind, `${s.label}: ${e.message}`)
      throw e
    }
  }
  return modules
}

/**
 * The synchronous part of the build, given the loaded modules: a restore builds fresh operators
 * this way (the operator test harness does so between any two records).
 */
export function buildOperatorsWith(stages: Stage[], modules: Map<string, ProcessFunctionModule>): Operator[] {
  const uids = operatorUids(stages)
  const dup = uids.find((u, i) => uids.indexOf(u) !== i)
  if (dup) throw usageError(`two stages have the uid '${dup}'`)
  const ops: Operator[] = []
  let names: string[] = []
  let unfusedWindow = false // a window stage whose records are not yet aggregated
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!
    const c = s.config
    const uid = uids[i]!
    try {
      switch (c.op) {
        case 'keyby':
          names = keyNames(c.fields)
          ops.push(keyby(c, uid))
          break
        case 'filter':
          ops.push(filter(c, uid))
          break
        case 'map':
          ops.push(map(c, uid))
          break
        case 'window': {
          const info: TimeInfo = { format: undefined }
          if (c.time) ops.push(timestamps(c.time, info, uid + '/time'))
          const next = stages[i + 1]?.config
          const fused = next?.op === 'aggregate' ? next : undefined
          if (fused) checkRowNames(names, fused.specs.map((x) => x.name), c.window.kind !== 'count' && c.window.kind !== 'global')
          if (fused && fused.emit !== 'final') throw usageError('--emit updates is for running aggregates; after a window, rows are emitted when windows fire')
          if (fused?.time) throw usageError("after a window, aggregate takes the window's time: drop aggregate's time options")
          ops.push(
            windowOperator(
              { spec: c.window, lateness: c.lateness, timeMode: c.time?.mode ?? 'event', keyNames: names, timeInfo: info, aggregate: fused?.specs },
              uid,
            ),
          )
          if (fused) i++ // window + aggregate run as one operator
          else unfusedWindow = true
          break
        }
        case 'aggregate':
          if (unfusedWindow)
            throw usageError('aggregate must come directly after its window stage; move the stages between them before the window')
          checkRowNames(names, c.specs.map((x) => x.name), false)
          if (c.time) ops.push(timestamps(c.time, { format: undefined }, uid + '/time'))
          ops.push(
            runningAggregate(
              {
                specs: c.specs,
                emit: c.emit,
                keyNames: names,
                afterWindow: stages.slice(0, i).some((p) => p.config.op === 'window'),
                // event time reaches this operator: its own --time, or a process function's before it
                eventTime: c.time?.mode === 'event' || stages.slice(0, i).some((p) => p.config.op === 'process' && p.config.time?.mode === 'event'),
              },
              uid,
            ),
          )
          break
        case 'process': {
          if (c.time) ops.push(timestamps(c.time, { format: undefined }, uid + '/time'))
          ops.push(processOperator({ module: modules.get(c.module)!, name: c.module, eventTime: c.time?.mode === 'event' }, uid))
          break
        }
        default:
          assertNever(c)
      }
    } catch (e) {
      if (e instanceof WeirError) throw new WeirError(e.kind, `${s.label}: ${e.message}`)
      throw e
    }
  }
  return ops
}

/** Output rows hold key fields, window bounds and aggregates: no name may hide another (8). */
function checkRowNames(keys: string[], aggs: string[], bounds: boolean): void {
  const taken = new Set([...keys, ...(bounds ? ['window_start', 'window_end'] : [])])
  for (const a of aggs)
    if (taken.has(a)) throw usageError(`aggregate name '${a}' is also a key field or window bound; rename it with =NAME`)
}

async function loadProcessModule(path: string): Promise<ProcessFunctionModule> {
  if (!existsSync(path)) throw new WeirError('no-input', `${path}: no such module`)
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>
  } catch (e) {
    throw new WeirError('usage', `${path}: cannot load: ${(e as Error).message}`)
  }
  const m = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as Record<string, unknown>
  if (typeof m.processElement !== 'function') throw usageError(`${path}: must export a function processElement(record, ctx)`)
  if (m.onTimer !== undefined && typeof m.onTimer !== 'function') throw usageError(`${path}: onTimer must be a function`)
  return m as unknown as ProcessFunctionModule
}
