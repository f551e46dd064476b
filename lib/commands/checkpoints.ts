// `weir checkpoints DIR`: the checkpoints of a durable job, newest first, each verified as a
// resume would verify it. Not a stage: it reads the job dir and runs no job. A table on a
// terminal, NDJSON otherwise (or with --json), so scripts can ask "how far did the job get?".
import type { Argv } from 'yargs'
import { checkJobDir, writeOut } from '../commandline/stdout.js'
import { listManifests, readManifest, type Manifest } from '../checkpoint/manifest.js'
import { WeirError } from '../stream/errors.js'

export const command = 'checkpoints <dir>'
export const describe = 'List the checkpoints of a durable job (--job-dir), newest first, and verify them'

export const builder = (y: Argv) =>
  y
    .positional('dir', { type: 'string', describe: 'the job dir (the --job-dir of the job)' })
    .option('json', { type: 'boolean', describe: 'NDJSON even on a terminal: one object per checkpoint' })
    .example('$0 checkpoints .weir/clicks', 'a table of the checkpoints of the job in .weir/clicks')
    .example("$0 checkpoints .weir/clicks --json | head -1 | jq '.sources[0].offset'", 'how far the latest checkpoint read its input')
    .epilogue(
      'One row per manifest file: id, time, phase, where each input stood (path:offset, line), the size of the state, ' +
        'the committed length of each sink, and whether the manifest verifies (complete) or not (corrupt: why). ' +
        'A job dir without checkpoints is exit 66. See weir-checkpoints(1).',
    )

interface CheckpointsArgs {
  dir: string
  json?: boolean
}

/** One checkpoint as the NDJSON form shows it: the manifest's main fields, and whether it verifies. */
type CheckpointRow =
  | ({ id: number; complete: true; file: string; stages: number } & Pick<Manifest, 'time' | 'job' | 'phase' | 'weir' | 'operators' | 'sources' | 'sinks' | 'state' | 'totals' | 'snapshots' | 'chain'>)
  | { id: number; complete: false; file: string; why: string }


function checkpointRows(dir: string): CheckpointRow[] {
  checkJobDir(dir)
  const files = listManifests(dir)
  if (files.length === 0) throw new WeirError('no-input', `${dir}: no checkpoints`)
  const rows = files.map(({ id, path }): CheckpointRow | undefined => {
    let r: ReturnType<typeof readManifest>
    try {
      r = readManifest(path)
    } catch (e) {
      // a manifest of another format verifies, but this weir cannot use it: say why, go on
      return { id, complete: false, file: path, why: e instanceof Error ? e.message.replace(`${path}: `, '') : String(e) }
    }
    // pruned by the running job since the listing: no longer a checkpoint
    if (!r.ok && r.why.includes('ENOENT')) return undefined
    if (!r.ok) return { id, complete: false, file: path, why: r.why }
    const m = r.manifest
    return {
      id: m.id,
      complete: true,
      file: path,
      time: m.time,
      job: m.job,
      phase: m.phase,
      weir: m.weir,
      operators: m.operators,
      sources: m.sources,
      // a pipe chain's sinks are every stage's; the pipes between its stages are not sinks
      sinks: m.chain ? [...m.sinks, ...m.chain.flatMap((p) => p.sinks)].filter((s) => s.durable || s.path !== 'stdout') : m.sinks,
      // the state of every stage of a pipe chain
      state: { ...m.state, bytes: m.state.bytes + (m.chain ?? []).reduce((sum, p) => sum + (p.state?.bytes ?? 0), 0) },
      totals: m.totals,
      snapshots: m.snapshots,
      stages: 1 + (m.chain?.length ?? 0),
      ...(m.chain ? { chain: m.chain } : {}),
    }
  })
  return rows.filter((r): r is CheckpointRow => r !== undefined)
}

export async function execute(a: Record<string, unknown>): Promise<void> {
  const args = a as unknown as CheckpointsArgs
  const rows = checkpointRows(String(args.dir))
  if (args.json || !process.stdout.isTTY) await writeOut(rows.map((r) => JSON.stringify(r) + '\n').join(''))
  else await writeOut(await renderTable(rows))
}

// ---- the terminal table ------------------------------------------------------------------------

async function renderTable(rows: CheckpointRow[]): Promise<string> {
  const paint = await painter()
  const header = ['ID', 'TIME', 'PHASE', 'INPUT (path:offset, line)', 'STATE', 'SINKS (committed)', 'STATUS']
  const cells = rows.map((r) =>
    r.complete
      ? [
          String(r.id),
          r.time,
          r.phase,
          r.sources.map((s) => `${s.path}:${s.offset}, line ${s.line}${s.done ? ' (done)' : ''}`).join('; ') || '-',
          humanBytes(r.state.bytes),
          r.sinks.map((s) => `${s.role === 'output' ? '' : s.role + ' '}${s.path}:${s.committed}`).join('; ') || '-',
          'complete',
        ]
      : [String(r.id), '-', '-', '-', '-', '-', `corrupt: ${r.why}`],
  )
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === c.length - 1 ? x : i === 0 || i === 4 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  let out = paint.header(line(header)) + '\n'
  cells.forEach((c, i) => (out += (rows[i]!.complete ? line(c) : paint.bad(line(c))) + '\n'))
  return out
}

/** Colours for the table: chalk, loaded only for a terminal, and none under NO_COLOR (no-color.org). */
async function painter(): Promise<{ header: (s: string) => string; bad: (s: string) => string }> {
  if (process.env.NO_COLOR) return { header: (s) => s, bad: (s) => s }
  const { default: chalk } = await import('chalk')
  return { header: (s) => chalk.bold(s), bad: (s) => chalk.red(s) }
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let x = n
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[i]}`
}

