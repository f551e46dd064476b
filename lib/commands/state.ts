// `weir state DIR`: what a durable job keeps in its keyed state at a checkpoint (by default the
// newest complete one): one row per (operator, key, namespace, value). Not a stage: it opens the
// job's LMDB read-only, as it stood at that checkpoint's lineage, and runs no job. NDJSON rows
// stream out in storage order; the terminal table is sorted by operator and key.
import type { Argv } from 'yargs'
import { checkJobDir, guardStdout, noteWriteError, stdout, writeOut } from '../commandline/stdout.js'
import { join } from 'node:path'
import { listManifests, readManifest, type Manifest, type OperatorRecord } from '../checkpoint/manifest.js'
import type { Lineage } from '../state/backend.js'
import { WeirError, usageError } from '../stream/errors.js'
import { compareCanon, type Key, exactKeyTexts } from '../stream/key.js'

export const command = 'state <dir>'
export const describe = 'Show the keyed state of a durable job (--job-dir) at a checkpoint'

export const builder = (y: Argv) =>
  y
    .positional('dir', { type: 'string', describe: 'the job dir (the --job-dir of the job)' })
    .option('operator', { type: 'string', describe: "only this operator's state: its uid, its stage label, or a kind (window, process, aggregate)" })
    .option('key', { type: 'string', describe: 'only this key: its canonical JSON text, or its single value as a string (alice for "alice")' })
    .option('checkpoint', { type: 'string', default: 'latest', describe: 'the checkpoint to read: latest (the newest complete one) or an id' })
    .option('json', { type: 'boolean', describe: 'NDJSON even on a terminal: one object per (operator, key, ns, value)' })
    .option('stage', { type: 'string', default: '1', describe: 'in a job run as a pipe chain of weir stages: the stage to show (1 is the first)' })
    .option('compact', { type: 'boolean', describe: 'rewrite the state file compactly (LMDB files never shrink by themselves); the job must not be running' })
    .example('$0 state .weir/clicks', 'the state of the latest checkpoint: open windows, running aggregates, timers')
    .example('$0 state .weir/clicks --key u07 --json', "user u07's state, as NDJSON")
    .example('$0 state .weir/clicks --operator window --checkpoint 12', 'the window state as of checkpoint 12')
    .example('$0 state .weir/chain --stage 2', 'the state of the second weir process of a pipe chain (weir keyby … | weir window …)')
    .example('$0 state .weir/clicks --compact', 'shrink the state file of a job that is not running')
    .epilogue(
      'A row is {"operator", "key", "ns", "value"}: key is the key value (an array for a key of several fields); ns is a window ' +
        "start (a number), 's' for a key's session list, 'g' for a global pane, 'c' for a count pane; a process function's states " +
        "are 'v:NAME', 'l:NAME' and 'm:NAME' and its timers 't'. The job may be running: its checkpoints are read, never changed. " +
        'See weir-state(1).',
    )

interface StateArgs {
  dir: string
  operator?: string
  key?: string
  checkpoint?: string
  stage?: string
  json?: boolean
  compact?: boolean
}

interface Row {
  operator: string
  key: unknown
  ns: string | number
  value: unknown
}

/** Raised by the row callback to end the scan early: stdout went away or failed. */
const STOP = Symbol('stop')

export async function execute(a: Record<string, unknown>): Promise<void> {
  const args = a as unknown as StateArgs
  const dir = String(args.dir)
  const which = args.checkpoint ?? 'latest'
  if (which !== 'latest' && !/^\d+$/.test(which)) throw usageError(`--checkpoint ${which}: give latest or a checkpoint id`)
  checkJobDir(dir)
  if (args.compact) return compact(dir)
  const m = pickCheckpoint(dir, which)
  const view = stageView(dir, m, args.stage ?? '1')
  const wanted = args.operator === undefined ? undefined : operatorsOf(m.id, view.operators, args.operator)
  const k = args.key
  const keep = (uid: string, key: Key) =>
    (wanted === undefined || wanted.has(uid)) &&
    (k === undefined || key.canon === k || (key.values.length === 1 && key.values[0] === k))
  const { readState } = await import('../state/lmdb.js')
  const { stateDir, lineage, epoch } = view
  if (args.json || !process.stdout.isTTY) {
    const out = new LineOut()
    try {
      await readState(stateDir, lineage, (uid, key, ns, value) => {
        if (keep(uid, key)) out.line(rowJson(row(uid, key, ns, value), key))
      }, epoch)
    } catch (e) {
      if (e !== STOP) throw e
    }
    await out.end()
    return
  }
  const rows: { canon: string; keyText: string; row: Row }[] = []
  await readState(stateDir, lineage, (uid, key, ns, value) => {
    if (keep(uid, key)) rows.push({ canon: key.canon, keyText: keyJson(key), row: row(uid, key, ns, value) })
  }, epoch)
  const order = new Map(view.operators.map((o, i) => [o.uid, i]))
  rows.sort(
    (x, y) =>
      (order.get(x.row.operator) ?? order.size) - (order.get(y.row.operator) ?? order.size) ||
      (x.row.operator < y.row.operator ? -1 : x.row.operator > y.row.operator ? 1 : 0) ||
      compareCanon(x.canon, y.canon) ||
      compareNs(x.row.ns, y.row.ns),
  )
  await writeOut(await renderTable(m, rows))
}

function row(uid: string, key: Key, ns: string | number, value: unknown): Row {
  return { operator: uid, key: key.values.length === 1 ? key.values[0] : key.values, ns, value }
}

/**
 * The key as JSON text: an integer beyond 2^53 with its digits (from the canonical form), which
 * JSON.stringify of the value would round, so two keys would show as one.
 */
function keyJson(key: Key): string {
  return exactKeyTexts(key) ? key.canon : JSON.stringify(key.values.length === 1 ? key.values[0] : key.values)
}

function rowJson(r: Row, key: Key): string {
  const text = JSON.stringify(r)
  if (!exactKeyTexts(key)) return text
  return JSON.stringify({ ...r, key: 0 }).replace('"key":0', () => `"key":${keyJson(key)}`)
}

function compareNs(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}


/** The checkpoint to read: the newest that verifies (saying which it skipped), or the one named. */
function pickCheckpoint(dir: string, which: string): Manifest {
  const files = listManifests(dir)
  if (files.length === 0) throw new WeirError('no-input', `${dir}: no checkpoints`)
  if (which === 'latest') {
    for (const f of files) {
      const r = readManifest(f.path)
      if (r.ok) return r.manifest
      if (r.why.includes('ENOENT')) continue // pruned by the running job since the listing
      process.stderr.write(`weir: warning: ${f.path}: ${r.why}; showing an older checkpoint\n`)
    }
    throw new WeirError('no-input', `${dir}: no complete checkpoint (see 'weir checkpoints ${dir}')`)
  }
  const f = files.find((x) => x.id === Number(which))
  if (!f) throw new WeirError('no-input', `${dir}: no checkpoint ${which} (there are: ${files.map((x) => x.id).reverse().join(', ')})`)
  const r = readManifest(f.path)
  if (!r.ok) throw new WeirError('data', `${f.path}: checkpoint ${which} is corrupt: ${r.why}`)
  return r.manifest
}

/** Stages that keep no keyed state, by their operators' labels. */
const STATELESS = new Set(['keyby', 'filter', 'map'])

/**
 * --stage N of a pipe chain (man/weir-protocol.7, JOBS): the first stage's state is in DIR/state,
 * a later stage's in DIR/stage-K/state, at the epochs its part of the manifest names.
 */
function stageView(dir: string, m: Manifest, stage: string): { operators: OperatorRecord[]; stateDir: string; lineage: Lineage; epoch?: number } {
  const n = Number(stage)
  const stages = 1 + (m.chain?.length ?? 0)
  if (!Number.isInteger(n) || n < 1 || n > stages)
    throw usageError(`--stage ${stage}: checkpoint ${m.id} has ${stages === 1 ? 'one stage (1)' : `stages 1 to ${stages}`}`)
  if (n === 1) {
    // the first stage holds the job's state folder even when its own stages keep none (keyby, filter, map)
    if (stages > 1 && m.operators.every((o) => STATELESS.has(o.label.split(' ')[0]!)))
      throw new WeirError('no-input', `stage 1 ('${m.operators.map((o) => o.label).join(' then ')}') keeps no keyed state`)
    return { operators: m.operators, stateDir: join(dir, 'state'), lineage: m.state.lineage, epoch: m.state.epoch }
  }
  const part = m.chain!.find((p) => p.stage === n - 1)!
  if (!part.state) throw new WeirError('no-input', `stage ${n} ('${part.command}') keeps no keyed state`)
  return { operators: part.operators, stateDir: join(dir, `stage-${n - 1}`, 'state'), lineage: part.state.lineage, epoch: part.state.epoch }
}

/** --operator: a uid, a stage label, or a kind (window-1a2b3c4d-1 is a window). */
function operatorsOf(id: number, operators: OperatorRecord[], name: string): Set<string> {
  const uids = operators.filter((o) => o.uid === name || o.label === name || o.uid.startsWith(name + '-')).map((o) => o.uid)
  if (uids.length === 0) {
    const known = operators.map((o) => `${o.uid} (${o.label})`).join(', ')
    throw usageError(`checkpoint ${id} has no operator '${name}'; its operators: ${known || 'none'}`)
  }
  return new Set(uids)
}

// ---- output ------------------------------------------------------------------------------------

/**
 * NDJSON to stdout in batches. A pipe or file stdout is synchronous in Node on Linux, so the scan
 * (which cannot wait inside its read) is held back by the reader; a reader that went away
 * (`| head -1`) stops the scan and ends the command quietly.
 */
class LineOut {
  private buf = ''
  constructor() {
    guardStdout()
  }
  line(s: string): void {
    if (stdout.gone || stdout.failure || process.stdout.destroyed) throw STOP
    this.buf += s + '\n'
    if (this.buf.length >= 1 << 16) {
      process.stdout.write(this.buf, noteWriteError)
      this.buf = ''
    }
  }
  async end(): Promise<void> {
    // even an empty write: its callback comes after every earlier one's
    await writeOut(this.buf)
  }
}

async function renderTable(m: Manifest, rows: { keyText: string; row: Row }[]): Promise<string> {
  const paint = await painter()
  const width = process.stdout.columns || 100
  const header = ['OPERATOR', 'KEY', 'NS', 'VALUE']
  const cells = rows.map(({ row: r, keyText }) => [r.operator, keyText, typeof r.ns === 'number' ? String(r.ns) : r.ns, JSON.stringify(r.value) ?? 'undefined'])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => {
    const fixed = c.slice(0, 3).map((x, i) => (i === 2 && /^\d/.test(x) ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ') + '  '
    // the value takes what is left of the line; the whole of it is in --json
    const room = Math.max(20, width - fixed.length)
    const v = c[3]!.length > room ? c[3]!.slice(0, room - 1) + '…' : c[3]!
    return (fixed + v).trimEnd()
  }
  let out = paint.dim(`checkpoint ${m.id}, ${m.time}, ${m.phase}: ${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}`) + '\n'
  if (rows.length === 0) return out
  out += paint.header(line(header)) + '\n'
  for (const c of cells) out += line(c) + '\n'
  return out
}

/** Colours for the table: chalk, loaded only for a terminal, and none under NO_COLOR (no-color.org). */
async function painter(): Promise<{ header: (s: string) => string; dim: (s: string) => string }> {
  if (process.env.NO_COLOR) return { header: (s) => s, dim: (s) => s }
  const { default: chalk } = await import('chalk')
  return { header: (s) => chalk.bold(s), dim: (s) => chalk.dim(s) }
}


/** --compact: under the job's lock (a running job makes this exit 75 and touch nothing). */
async function compact(dir: string): Promise<void> {
  const { lockJobDir } = await import('../checkpoint/lock.js')
  const lock = await lockJobDir(dir, 'job')
  try {
    const { compactState } = await import('../state/lmdb.js')
    const { before, after } = await compactState(join(dir, 'state'))
    process.stdout.write(`${join(dir, 'state')}: ${before} bytes, ${after} after compacting\n`)
  } finally {
    await lock.release()
  }
}
