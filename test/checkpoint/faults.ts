// Faults inside checkpoints, for real: the process SIGKILLed at each step of a checkpoint in turn
// (WEIR_CRASH_AT, lib/checkpoint/crash.ts), a disk that fills up (a small tmpfs this test mounts;
// CI runs as root), a corrupted state file, and SIGINT/SIGTERM with a job dir. Each resume must be
// exactly-once: the output equals an uninterrupted run's, byte for byte.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, WEIR, sh, weir } from '../harness/cli.js'

const JOB = ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '5s', '--lateness', '10s', 'then', 'aggregate', 'count', 'sum:amount']

function input(dir: string, events: number): string {
  const path = join(dir, 'in.ndjson')
  const r = spawnSync(process.execPath, [join(ROOT, 'fixtures/gen.mjs'), '--events', String(events), '--keys', '50', '--late', '0.01', '--seed', '3'], { maxBuffer: 1 << 28 })
  writeFileSync(path, r.stdout)
  return path
}

for (const point of ['after-state', 'after-sinks', 'manifest-temp', 'after-manifest']) {
  t.test(`killed at ${point} of a checkpoint, the resume is exactly-once`, async (t) => {
    const dir = t.testdir({})
    const file = input(dir, 4000)
    const ref = await weir([...JOB, file, '--late-output', join(dir, 'ref-late.ndjson')])
    t.equal(ref.code, 0, ref.stderr)
    const jobDir = join(dir, 'job')
    const args = [...JOB, file, '-o', join(dir, 'out.ndjson'), '--late-output', join(dir, 'late.ndjson'), '--job-dir', jobDir, '--checkpoint-interval', '500r']
    const crashed = await weir(args, { env: { WEIR_CRASH_AT: `${point}:3` } })
    t.equal(crashed.signal, 'SIGKILL', `the run died at ${point}`)
    const r = await weir([...args, '--resume'])
    t.equal(r.code, 0, r.stderr)
    t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), ref.stdout, 'output equals the uninterrupted run')
    t.equal(readFileSync(join(dir, 'late.ndjson'), 'utf8'), readFileSync(join(dir, 'ref-late.ndjson'), 'utf8'), 'late output too')
    t.notOk(readdirSync(join(jobDir, 'checkpoints')).some((n) => n.endsWith('.tmp')), 'no half-written manifest is left')
  })
}

t.test('a disk that fills up during a checkpoint fails that checkpoint (74) and leaves the previous one usable', async (t) => {
  // outside the test dir, which tap removes while the tmpfs would still be mounted on it
  const mnt = mkdtempSync(join(tmpdir(), 'weir-full-'))
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt])
  if (mounted.status !== 0) {
    t.pass(`skipped: cannot mount a tmpfs here (${String(mounted.stderr).trim()}): run as root`)
    return
  }
  t.teardown(() => {
    spawnSync('umount', [mnt])
    rmSync(mnt, { recursive: true, force: true })
  })
  const dir = t.testdir({})
  const all = readFileSync(input(dir, 6000), 'utf8')
  const ref = await weir([...JOB, join(dir, 'in.ndjson')])
  const growing = join(dir, 'growing.ndjson')
  writeFileSync(growing, all.slice(0, all.length / 2))
  const jobDir = join(mnt, 'job')
  const run = (flags: string) => sh(`"$WEIR" ${JOB.join(' ')} "${growing}" --job-dir "${jobDir}" ${flags} >> "${dir}/out.ndjson"`)
  t.equal((await run('--no-flush')).code, 0)
  writeFileSync(growing, all)
  // fill the disk to the last block
  const fill = spawnSync('dd', ['if=/dev/zero', `of=${mnt}/filler`, 'bs=4k'])
  t.not(fill.status, null)
  const full = await run('--resume')
  t.equal(full.code, 74, 'a write failure')
  t.match(full.stderr, /^weir: checkpoint \d+ failed \(the previous one is still usable\): .*(ENOSPC|space)/m)
  // weir's message is one line; LMDB's C code may print one of its own before it (a page write
  // that failed: "Write error: …"), which weir ends with a line end so the two stay apart
  const lines = full.stderr.trim().split('\n')
  t.equal(lines.filter((l) => !l.startsWith('Write error: ')).length, 1, 'one line of weir, after any of LMDB')
  t.ok(lines.every((l) => l.startsWith('weir: checkpoint') || /^Write error: .* position \d+, size \d+$/.test(l)), full.stderr)
  rmSync(`${mnt}/filler`)
  const again = await run('--resume')
  t.equal(again.code, 0, again.stderr)
  t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), ref.stdout, 'exactly once after the disk was freed')
})

t.test('a corrupt state file is exit 74 with a clear message', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"user":"a","ts":1}\n' })
  const jobDir = join(dir, 'job')
  t.equal((await weir([...JOB, join(dir, 'in.ndjson'), '--job-dir', jobDir, '--no-flush'])).code, 0)
  const data = join(jobDir, 'state', 'data.mdb')
  t.ok(existsSync(data))
  writeFileSync(data, Buffer.alloc(8192, 0xab))
  const r = await weir([...JOB, join(dir, 'in.ndjson'), '--job-dir', jobDir, '--resume'])
  t.equal(r.code, 74)
  t.match(r.stderr, /^weir: .*state.*unreadable/)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace')
})

for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  t.test(`${signal} with a job dir takes a final checkpoint and exits ${status}; the resume continues exactly once`, async (t) => {
    const dir = t.testdir({})
    const jobDir = join(dir, 'job')
    const lines = ['{"user":"a","ts":0}', '{"user":"a","ts":61000}', '{"user":"b","ts":66000}', '{"user":"a","ts":125000}']
    const child = spawn(process.execPath, [WEIR, ...JOB, '--job-dir', jobDir, '-o', join(dir, 'out.ndjson')], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
    child.stdin.write(lines.slice(0, 3).join('\n') + '\n')
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    while (!existsSync(join(dir, 'out.ndjson')) || readFileSync(join(dir, 'out.ndjson'), 'utf8') === '') await new Promise((r) => setTimeout(r, 10))
    child.kill(signal)
    t.equal(await closed, status, err)
    const ids = readdirSync(join(jobDir, 'checkpoints'))
    const last = JSON.parse(readFileSync(join(jobDir, 'checkpoints', ids.sort()[ids.length - 1]!), 'utf8')) as { phase: string; sources: { line: number }[] }
    t.equal(last.phase, 'stopped', 'the final checkpoint')
    t.equal(last.sources[0]!.line, 3, 'at the last line read')
    // the rest comes from a file on stdin, which a resume may read from its offset
    writeFileSync(join(dir, 'all.ndjson'), lines.join('\n') + '\n')
    const r = await sh(`"$WEIR" ${JOB.join(' ')} --job-dir "${jobDir}" --resume -o "${dir}/out.ndjson" < "${dir}/all.ndjson"`)
    t.equal(r.code, 0, r.stderr)
    const ref = await weir(JOB, { stdin: lines.join('\n') + '\n' })
    t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), ref.stdout)
  })
}
