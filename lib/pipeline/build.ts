// StageConfig → Operators. Adding an operator is one case here and one file in operators/.
// The build walks the stages in order and carries what later stages need to know about the
// stream: the names of the key fields (for output rows) and how times are written.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parsePath, pathLeafName } from '../expr/path.js'
import { runningAggregate } from '../operators/aggregate.js'
import { filter } from '../operators/filter.js'
import { keyby } from '../operators/keyby.js'
import { map } from '../operators/map.js'
import type { Operator } from '../operators/operator.js'
import { processOperator, type ProcessFunctionModule } from '../operators/process.js'
import { timestamps, type TimeInfo } from '../operators/timestamps.js'
import { windowOperator } from '../operators/window.js'
import type { AggSpec } from '../operators/aggregates/row.js'
import { WeirError, usageError } from '../stream/errors.js'
import { canonicalJson } from '../stream/key.js'
import { assertNever } from '../stream/record.js'
import { findSyntaxError } from './module-syntax.js'
import type { AggregateStageConfig, Stage, WindowStageConfig } from './stages.js'

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

/**
 * Whether a stage from `from` on, in this process, reads the key records carry: a stateful stage
 * (aggregate, process, a session, count or global window), or a stage that passes the key on per
 * line (map, and a writer whose key fields a window's bounds overwrite). Filters and lone
 * tumbling or sliding windows only pass records on; a pipe's reader finds the key again by the
 * selector. Errs towards yes: a key made and not read costs time, a key not made costs a result.
 */
export function keysReadAfter(stages: Stage[], from: number, keyFields: string[] | undefined): boolean {
  for (let i = from; i < stages.length; i++) {
    const c = stages[i]!.config
    if (c.op === 'filter') continue
    if (c.op === 'window' && (c.window.kind === 'tumbling' || c.window.kind === 'sliding')) continue
    return true
  }
  return keyFields !== undefined && keyFields.some((f) => f === 'window_start' || f === 'window_end')
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
export function buildOperatorsWith(stages: Stage[], modules: Map<string, ProcessFunctionModule>, upstream?: StreamContext): Operator[] {
  return buildChain(stages, modules, upstream).ops
}

/**
 * What a stage knows of the stream beyond its records, carried along the build: from the stages
 * before it in this process, or from an upstream weir process's side channel (the reader decides,
 * decisions.md 15). `buildChain` returns it as it stands after the last stage, which is what a
 * writer puts in its channel's header.
 */
export interface StreamContext {
  /**
   * How a record's key is found again from its bytes: by these key field paths ('selector'), or,
   * when a stage changed the records since the key was set (map, process), only per line.
   */
  key?: { fields: string[] } | 'lines'
  /** output names of the key fields, for rows */
  names: string[]
  /** a window whose records flow unaggregated, and how they carry it */
  window?: { config: WindowStageConfig; info: TimeInfo; carried: 'fields' | 'lines' }
  /**
   * The records are a time window's rows: each has its window (in window_start and window_end,
   * or per line once a map may have changed them) and the time end − 1, as the `then` form gives
   * them to a process function after `window … then aggregate`.
   */
  rows?: { info: TimeInfo; carried: 'fields' | 'lines' }
}

export function buildChain(
  stages: Stage[],
  modules: Map<string, ProcessFunctionModule>,
  upstream?: StreamContext,
): { ops: Operator[]; context: StreamContext } {
  const uids = operatorUids(stages)
  const dup = uids.find((u, i) => uids.indexOf(u) !== i)
  if (dup) throw usageError(`two stages have the uid '${dup}'`)
  const ops: Operator[] = []
  let names: string[] = upstream?.names ?? []
  let key = upstream?.key
  // a window stage whose records are not yet aggregated: an aggregate after it aggregates by the
  // window each record carries
  let openWindow = upstream?.window
  let rows = upstream?.rows
  const rowsOf = (w: WindowStageConfig, info: TimeInfo): StreamContext['rows'] =>
    w.window.kind === 'tumbling' || w.window.kind === 'sliding' || w.window.kind === 'session' ? { info, carried: 'fields' } : undefined
  // rows carry their key under its output names: found again by them when they are plain names
  const rowKey = () => (key === undefined ? undefined : names.every((n) => /^[A-Za-z_$][\w$]*$/.test(n)) ? { fields: names } : 'lines' as const)
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!
    const c = s.config
    const uid = uids[i]!
    // the stage an error is blamed on: the aggregate fused into a window answers for its own options
    let blamed = s
    try {
      switch (c.op) {
        case 'keyby':
          if (openWindow) throw usageError('keyby between a window and its aggregate would regroup the window: put it before the window')
          names = keyNames(c.fields)
          key = { fields: c.fields }
          ops.push(keyby(c, uid, keysReadAfter(stages, i + 1, c.fields)))
          break
        case 'filter':
          ops.push(filter(c, uid))
          break
        case 'map':
          ops.push(map(c, uid))
          // the key and window stay with the record, but its new value may not hold them
          if (key) key = 'lines'
          if (openWindow) openWindow = { ...openWindow, carried: 'lines' }
          if (rows) rows = { ...rows, carried: 'lines' }
          break
        case 'window': {
          if (openWindow) throw usageError('a window after a window that is not aggregated yet: put aggregate between them')
          const info: TimeInfo = { format: undefined }
          if (c.time) ops.push(timestamps(c.time, info, uid + '/time'))
          const next = stages[i + 1]?.config
          // An aggregate that reads a window bound as a field (collect:window_start) reads it from
          // the record the window writes, stamped with its window, as after a pipe or a filter:
          // the fused operator aggregates records before they are stamped, so it is not used.
          const fused = next?.op === 'aggregate' && !readsWindowBounds(next.specs) ? next : undefined
          if (fused) {
            blamed = stages[i + 1]!
            checkAfterWindow(names, fused, c)
            blamed = s
          }
          ops.push(
            windowOperator(
              { spec: c.window, lateness: c.lateness, timeMode: c.time?.mode ?? 'event', keyNames: names, timeInfo: info, aggregate: fused?.specs },
              uid,
            ),
          )
          rows = undefined
          if (fused) {
            i++ // window + aggregate run as one operator
            key = rowKey()
            rows = rowsOf(c, info)
          } else {
            openWindow = { config: c, info, carried: 'fields' }
            // a key field named like a window bound would be overwritten on the record
            if (key !== undefined && key !== 'lines' && key.fields.some((f) => f === 'window_start' || f === 'window_end')) key = 'lines'
          }
          break
        }
        case 'aggregate':
          if (openWindow) {
            // stateless stages stood between the window and this aggregate, or a pipe did
            const w = openWindow.config
            checkAfterWindow(names, c, w)
            ops.push(
              windowOperator(
                {
                  spec: w.window,
                  lateness: w.lateness,
                  timeMode: w.time?.mode ?? 'event',
                  keyNames: names,
                  timeInfo: openWindow.info,
                  aggregate: c.specs,
                  carried: true,
                },
                uid,
              ),
            )
            rows = rowsOf(w, openWindow.info)
            openWindow = undefined
            key = rowKey()
            break
          }
          rows = undefined
          checkRowNames(names, c.specs.map((x) => x.name), false)
          if (c.time) ops.push(timestamps(c.time, { format: undefined }, uid + '/time'))
          ops.push(
            runningAggregate(
              {
                specs: c.specs,
                emit: c.emit,
                keyNames: names,
                afterWindow: stages.slice(0, i).some((p) => p.config.op === 'window') || upstream?.window !== undefined,
                // event time reaches this operator: its own --time, or a process function's before it
                eventTime: c.time?.mode === 'event' || stages.slice(0, i).some((p) => p.config.op === 'process' && p.config.time?.mode === 'event'),
              },
              uid,
            ),
          )
          key = rowKey()
          break
        case 'process': {
          if (openWindow) throw usageError('process between a window and its aggregate: put it before the window or after the aggregate')
          if (c.time) ops.push(timestamps(c.time, { format: undefined }, uid + '/time'))
          ops.push(processOperator({ module: modules.get(c.module)!, name: c.module, eventTime: c.time?.mode === 'event' }, uid))
          if (key) key = 'lines'
          rows = undefined
          break
        }
        default:
          assertNever(c)
      }
    } catch (e) {
      if (e instanceof WeirError) throw new WeirError(e.kind, `${blamed.label}: ${e.message}`)
      throw e
    }
  }
  return { ops, context: { key, names, window: openWindow, ...(rows ? { rows } : {}) } }
}

/** An aggregate of a window's records: final rows only, and the window's time. */
function checkAfterWindow(names: string[], agg: AggregateStageConfig, w: WindowStageConfig): void {
  checkRowNames(names, agg.specs.map((x) => x.name), w.window.kind !== 'count' && w.window.kind !== 'global')
  if (agg.emit !== 'final') throw usageError('--emit updates is for running aggregates; after a window, rows are emitted when windows fire')
  if (agg.time) throw usageError("after a window, aggregate takes the window's time: drop aggregate's time options")
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
    // a syntax error names its file and line, as node does for a script it runs
    const at = e instanceof SyntaxError ? findSyntaxError(path) : undefined
    if (at) {
      const itself = at.file === resolve(path)
      const where = `${itself ? path : at.file}:${at.line}${at.column ? `:${at.column}` : ''}`
      throw new WeirError('usage', `${where}: syntax error: ${at.message}${itself ? '' : ` (imported by ${path})`}`)
    }
    throw new WeirError('usage', `${path}: cannot load: ${(e as Error).message}`)
  }
  const m = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as Record<string, unknown>
  if (typeof m.processElement !== 'function') throw usageError(`${path}: must export a function processElement(record, ctx)`)
  if (m.onTimer !== undefined && typeof m.onTimer !== 'function') throw usageError(`${path}: onTimer must be a function`)
  return m as unknown as ProcessFunctionModule
}

/** Whether an aggregate reads window_start or window_end (or a path under them) of its records. */
function readsWindowBounds(specs: readonly AggSpec[]): boolean {
  return specs.some((x) => {
    if (x.field === undefined) return false
    const first = parsePath(x.field)[0]
    return first === 'window_start' || first === 'window_end'
  })
}
