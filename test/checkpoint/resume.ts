// Resuming durable jobs through the real binary: cron runs with --no-flush over a growing file,
// the lock, a corrupted manifest, `>` versus `>>`, a changed pipeline, and piped stdin. (Kills at
// random moments are in chaos.ts.) The seed is printed: WEIR_SEED=N npx tap test/checkpoint/resume.ts
import t from 'tap'
import { rng } from '../harness/random.js'
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, WEIR, sh, weir } from '../harness/cli.js'

const seed = Number(process.env.WEIR_SEED ?? Math.floor(Math.random() * 1e9))
t.comment(`seed ${seed} (replay: WEIR_SEED=${seed})`)
const random = rng(seed)

function generate(dir: string, events: number, extra: string[] = []): string {
  const path = join(dir, 'in.ndjson')
  const r = spawnSync(process.execPath, [join(ROOT, 'fixtures/gen.mjs'), '--events', String(events), '--keys', '40', '--max-delay', '2000', '--late', '0.02', '--seed', String(seed % 1000), ...extra], { maxBuffer: 1 << 30 })
  writeFileSync(path, r.stdout)
  return path
}

const manifests = (jobDir: string) => {
  try {
    return readdirSync(join(jobDir, 'checkpoints')).filter((n) => /^chk-\d+\.json$/.test(n)).length
  } catch {
    return 0
  }
}
const JOB = ['keyby', 'user', 'then', 'window', 'tumbling', '2s', '--time', 'ts', '--max-delay', '2s', '--lateness', '1s', 'then', 'aggregate', 'count', 'sum:amount', 'collect:page']

t.test('cron: runs with --no-flush over a growing file, then one without, equal the one-shot run', async (t) => {
  const dir = t.testdir({})
  const all = readFileSync(generate(dir, 6000), 'utf8')
  const ref = await weir([...JOB, join(dir, 'in.ndjson')])
  t.equal(ref.code, 0, ref.stderr)
  const growing = join(dir, 'growing.ndjson')
  writeFileSync(growing, '')
  const jobDir = join(dir, 'job')
  // cut the file at random byte positions, mid-line included: an unterminated last line waits
  const cuts = [0.1, 0.35, 0.36, 0.6, 0.9].map((f) => Math.floor(all.length * f) + Math.floor(random() * 50))
  let at = 0
  for (const cut of [...cuts, all.length]) {
    appendFileSync(growing, all.slice(at, cut))
    at = cut
    const last = cut === all.length
    const r = await sh(`"$WEIR" ${JOB.join(' ')} "${growing}" --job-dir "${jobDir}" --resume ${last ? '' : '--no-flush'} >> "${dir}/out.ndjson"`)
    t.equal(r.code, 0, r.stderr)
    t.match(r.stderr, /^(weir: warning: \d+ late record\(s\) dropped \(keep them with --late-output FILE\)\n)?$/, 'quiet off a terminal but for the late-data warning')
  }
  t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), ref.stdout, 'the same bytes as one run over the whole file')
  const again = await sh(`"$WEIR" ${JOB.join(' ')} "${growing}" --job-dir "${jobDir}" --resume >> "${dir}/out.ndjson"`)
  t.equal(again.code, 0, 'a finished job whose input did not change: nothing to do')
  t.match(again.stderr, /finished at checkpoint \d+ and its input has not changed: nothing to do/)
  t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), ref.stdout, 'and nothing written')
  appendFileSync(growing, all.slice(0, 200))
  const grown = await sh(`"$WEIR" ${JOB.join(' ')} "${growing}" --job-dir "${jobDir}" --resume >> "${dir}/out.ndjson"`)
  t.equal(grown.code, 64, 'a finished job is not continued over new input: those records would be lost')
  t.match(grown.stderr, /finished at checkpoint \d+: its input ended/)
})

t.test('cron over several inputs: lines appended to an earlier input, read to its end, are read by the next run too', async (t) => {
  const dir = t.testdir({})
  const a = join(dir, 'a.ndjson')
  const b = join(dir, 'b.ndjson')
  const rows = (u: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `{"u":"${u}","n":${from + i}}\n`).join('')
  writeFileSync(a, rows('a', 0, 3))
  writeFileSync(b, rows('b', 0, 3))
  const job = ['keyby', 'u', 'then', 'aggregate', 'count', a, b, '--job-dir', join(dir, 'job'), '--resume']
  const first = await weir([...job, '--no-flush'])
  t.equal(first.code, 0, first.stderr)
  appendFileSync(a, rows('a', 3, 5))
  appendFileSync(b, rows('b', 3, 4))
  const second = await weir(job)
  t.equal(second.code, 0, second.stderr)
  t.equal(first.stdout + second.stdout, '{"u":"a","count":5}\n{"u":"b","count":4}\n', 'the two lines appended to a.ndjson are counted')
})

t.test('a second run on a busy job dir exits 75 at once; SIGKILL frees the lock', async (t) => {
  const dir = t.testdir({})
  const jobDir = join(dir, 'job')
  const child = spawn(process.execPath, [WEIR, 'keyby', 'u', 'then', 'aggregate', 'count', '--job-dir', jobDir], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['pipe', 'ignore', 'pipe'] })
  child.stdin.write('{"u":"a"}\n')
  while (manifests(jobDir) === 0) await new Promise((r) => setTimeout(r, 10))
  const busy = await weir(['keyby', 'u', 'then', 'aggregate', 'count', '--job-dir', jobDir, '--resume'])
  t.equal(busy.code, 75)
  t.match(busy.stderr, /another weir is running this job/)
  child.kill('SIGKILL')
  await new Promise((r) => child.on('close', r))
  // stdin was a pipe: it resumes from a file on stdin ('<' is seekable; a pipe would be refused)
  writeFileSync(join(dir, 'in.ndjson'), '{"u":"a"}\n{"u":"b"}\n')
  const after = await sh(`"$WEIR" keyby u then aggregate count --job-dir "${jobDir}" --resume < "${dir}/in.ndjson"`)
  t.equal(after.code, 0, after.stderr)
  t.equal(after.stdout, '{"u":"a","count":1}\n{"u":"b","count":1}\n')
})

t.test('a corrupted newest manifest is detected by its checksum: the run falls back and says so', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","t":1}\n{"u":"b","t":2}\n' })
  const jobDir = join(dir, 'job')
  const args = ['keyby', 'u', 'then', 'aggregate', 'count', join(dir, 'in.ndjson'), '--job-dir', jobDir, '--no-flush']
  t.equal((await weir(args)).code, 0)
  const names = readdirSync(join(jobDir, 'checkpoints')).sort()
  const newest = join(jobDir, 'checkpoints', names[names.length - 1]!)
  writeFileSync(newest, readFileSync(newest, 'utf8').replace('"phase": "stopped"', '"phase": "running"'))
  const r = await weir([...args.slice(0, -1), '--resume'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, /checksum mismatch \(corrupted\); falling back to the previous checkpoint/)
  t.equal(r.stdout, '{"u":"a","count":1}\n{"u":"b","count":1}\n', 'the fallback checkpoint (the start) replays the input once')
})

t.test('a job dir that lost its manifests or its state is refused, not resumed from nothing (results would repeat or go wrong)', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","t":1}\n{"u":"b","t":1500}\n' })
  const job = (jobDir: string) => `"$WEIR" keyby u then window tumbling 1s --time t then aggregate count "${dir}/in.ndjson" --job-dir "${jobDir}" --no-flush --checkpoint-interval 1r`
  const fresh = async (name: string) => {
    const jobDir = join(dir, name)
    const r = await sh(`${job(jobDir)} >> "${dir}/${name}.out"`)
    t.equal(r.code, 0, r.stderr)
    t.equal(readFileSync(join(dir, `${name}.out`), 'utf8'), '{"u":"a","window_start":0,"window_end":1000,"count":1}\n')
    return jobDir
  }
  const resume = (name: string) => sh(`${job(join(dir, name))} --resume >> "${dir}/${name}.out"`)
  const corrupt = await fresh('corrupt')
  for (const n of readdirSync(join(corrupt, 'checkpoints'))) writeFileSync(join(corrupt, 'checkpoints', n), '{"trunc')
  const c = await resume('corrupt')
  t.equal(c.code, 74, 'every manifest corrupt')
  t.match(c.stderr, /no earlier checkpoint\n.*every manifest in checkpoints\/ is corrupt/s)
  t.equal(readFileSync(join(dir, 'corrupt.out'), 'utf8').split('\n').length, 2, 'nothing written a second time')
  const gone = await fresh('gone')
  rmSync(join(gone, 'checkpoints'), { recursive: true })
  const g = await resume('gone')
  t.equal(g.code, 74, 'checkpoints/ removed')
  t.match(g.stderr, /checkpoints were completed here, but checkpoints\/ holds no manifest/)
  const noState = await fresh('nostate')
  rmSync(join(noState, 'state', 'data.mdb'))
  const n = await resume('nostate')
  t.equal(n.code, 74, 'state removed')
  t.match(n.stderr, /holds no state of checkpoint \d+ \(its newest is none\)/)
  // and a job dir that never completed a checkpoint still starts with --resume (a cron job's first run)
  const first = await sh(`${job(join(dir, 'first'))} --resume >> "${dir}/first.out"`)
  t.equal(first.code, 0, first.stderr)
})

t.test('resuming into an output file replaced by another non-empty one is refused (73); a new or empty file is written from scratch', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","t":1}\n{"u":"a","t":5000}\n' })
  const jobDir = join(dir, 'job')
  const out = join(dir, 'out.ndjson')
  const job = ['keyby', 'u', 'then', 'window', 'tumbling', '1s', '--time', 't', 'then', 'aggregate', 'count', join(dir, 'in.ndjson'), '--job-dir', jobDir, '-o', out]
  t.equal((await weir([...job, '--no-flush'])).code, 0)
  const committed = readFileSync(out, 'utf8')
  t.equal(committed, '{"u":"a","window_start":0,"window_end":1000,"count":1}\n')
  // the same bytes under a new inode, as `cp out out.tmp && mv out.tmp out` leaves them
  writeFileSync(out + '.tmp', committed)
  renameSync(out + '.tmp', out)
  const r = await weir([...job, '--resume'])
  t.equal(r.code, 73, r.stderr)
  t.match(r.stderr, /another file by that name: copied or replaced\), and not empty/)
  t.equal(readFileSync(out, 'utf8'), committed, 'the committed row is still there')
  rmSync(out) // rotated away: the rest starts a new file
  const rotated = await weir([...job, '--resume'])
  t.equal(rotated.code, 0, rotated.stderr)
  t.match(rotated.stderr, /rotated away or replaced by an empty one\): writing it from scratch/)
  t.equal(readFileSync(out, 'utf8'), '{"u":"a","window_start":5000,"window_end":6000,"count":1}\n')
})

t.test("resuming into stdout opened with '>' is refused (73); '>>' works", async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","t":1}\n{"u":"a","t":5000}\n' })
  const jobDir = join(dir, 'job')
  const job = `"$WEIR" keyby u then window tumbling 1s --time t then aggregate count "${dir}/in.ndjson" --job-dir "${jobDir}"`
  const first = await sh(`${job} --no-flush > "${dir}/out.ndjson"`)
  t.equal(first.code, 0, first.stderr)
  const committed = readFileSync(join(dir, 'out.ndjson'), 'utf8')
  t.equal(committed, '{"u":"a","window_start":0,"window_end":1000,"count":1}\n')
  const bad = await sh(`${job} --resume > "${dir}/out.ndjson"`)
  t.equal(bad.code, 73)
  t.match(bad.stderr, /resume with '>>'/)
  t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), '', "the shell's '>' emptied the file before weir could refuse")
  const cut = await sh(`${job} --resume >> "${dir}/out.ndjson"`)
  t.equal(cut.code, 73, 'a sink shorter than its committed length is refused, not padded')
  t.match(cut.stderr, /is 0 bytes, but checkpoint \d+ committed 55/)
  writeFileSync(join(dir, 'out.ndjson'), committed) // the user restores it (same inode)
  const good = await sh(`${job} --resume >> "${dir}/out.ndjson"`)
  t.equal(good.code, 0, good.stderr)
  t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), committed + '{"u":"a","window_start":5000,"window_end":6000,"count":1}\n')
})

t.test('a checkpoint of another pipeline is refused, naming the stages that differ', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","n":1}\n' })
  const jobDir = join(dir, 'job')
  t.equal((await weir(['keyby', 'u', 'then', 'aggregate', 'count', join(dir, 'in.ndjson'), '--job-dir', jobDir, '--no-flush'])).code, 0)
  const r = await weir(['keyby', 'u', 'then', 'aggregate', 'sum:n', join(dir, 'in.ndjson'), '--job-dir', jobDir, '--resume'])
  t.equal(r.code, 64)
  t.match(r.stderr, /another pipeline: 'stage 2 \(aggregate\)' is gone, 'stage 2 \(aggregate\)' is new/)
  const ok = await weir(['keyby', 'u', 'then', 'aggregate', 'sum:n', join(dir, 'in.ndjson'), '--job-dir', jobDir, '--resume', '--allow-changed-pipeline'])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stderr, /new ones start empty/)
})

t.test('--from-checkpoint with a piped stdin is refused; without a job dir the durable options are refused', async (t) => {
  const dir = t.testdir({})
  const jobDir = join(dir, 'job')
  t.equal((await weir(['keyby', 'u', 'then', 'aggregate', 'count', '--job-dir', jobDir, '--no-flush'], { stdin: '{"u":"a"}\n' })).code, 0)
  const r = await weir(['keyby', 'u', 'then', 'aggregate', 'count', '--job-dir', jobDir, '--from-checkpoint', 'latest'], { stdin: '{"u":"a"}\n' })
  t.equal(r.code, 64)
  t.match(r.stderr, /stdin is a pipe, which cannot be rewound/)
  const nodir = await weir(['keyby', 'u', '--resume'], { stdin: '' })
  t.equal(nodir.code, 64)
  t.match(nodir.stderr, /--resume needs --job-dir DIR/)
  t.ok(existsSync(jobDir))
})

t.test('a log rotated between cron runs: the old file is finished under NAME.1, then NAME is read from its start', async (t) => {
  const dir = t.testdir({})
  const all = readFileSync(generate(dir, 4000), 'utf8')
  const ref = await weir([...JOB, join(dir, 'in.ndjson')])
  const log = join(dir, 'app.log')
  const jobDir = join(dir, 'job')
  const cut1 = Math.floor(all.length * 0.3)
  const cut2 = all.indexOf('\n', Math.floor(all.length * 0.6)) + 1 // logrotate moves whole lines
  writeFileSync(log, all.slice(0, cut1))
  const run = (flags: string) => sh(`"$WEIR" ${JOB.join(' ')} "${log}" --job-dir "${jobDir}" --resume ${flags} >> "${dir}/out.ndjson"`)
  t.equal((await run('--no-flush')).code, 0)
  appendFileSync(log, all.slice(cut1, cut2)) // written after the run, before the rotation
  const { renameSync } = await import('node:fs')
  renameSync(log, log + '.1')
  writeFileSync(log, all.slice(cut2))
  const r = await run('')
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /may be lost/, 'nothing lost, so no warning')
  t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), ref.stdout, 'the same bytes as one run over all the lines')
})

t.test("--stats of a resumed job gives this run's counts and the job's totals since its first run", async (t) => {
  const dir = t.testdir({})
  const lines = ['{"u":"a","t":1}', '{"u":"b","t":2}', 'not json', '{"u":"a","t":3}', '{"u":"c","t":4}']
  const file = join(dir, 'in.ndjson')
  writeFileSync(file, lines.slice(0, 3).join('\n') + '\n')
  const jobDir = join(dir, 'job')
  const args = ['keyby', 'u', 'then', 'aggregate', 'count', file, '--job-dir', jobDir, '--on-error', 'skip']
  t.equal((await weir([...args, '--no-flush', '--stats', join(dir, 's1.json')])).code, 0)
  appendFileSync(file, lines.slice(3).join('\n') + '\n')
  const r = await weir([...args, '--resume', '--stats', join(dir, 's2.json')])
  t.equal(r.code, 0, r.stderr)
  const s1 = JSON.parse(readFileSync(join(dir, 's1.json'), 'utf8'))
  const s2 = JSON.parse(readFileSync(join(dir, 's2.json'), 'utf8'))
  t.match(s1, { status: 'ok', read: 3, consumed: 2, skipped: 1, job: { read: 3, consumed: 2, skipped: 1 } })
  t.match(s2, { status: 'ok', read: 2, consumed: 2, skipped: 0, written: 0, linesWritten: 3, job: { read: 5, consumed: 4, skipped: 1, written: 0, linesWritten: 3 } })
  t.type(s2.job.checkpoint, 'number')
})

t.test("each manifest's linesWritten is the lines its committed output holds, so a resume's job totals count the output", async (t) => {
  const dir = t.testdir({})
  const input = join(dir, 'in.ndjson')
  writeFileSync(input, Array.from({ length: 20000 }, (_, i) => JSON.stringify({ u: `k${i % 50}`, ts: 1_700_000_000_000 + i * 37 }) + '\n').join(''))
  const out = join(dir, 'out.ndjson')
  const jobDir = join(dir, 'job')
  const job = ['keyby', 'u', 'then', 'window', 'tumbling', '10s', '--time', 'ts', 'then', 'aggregate', 'count', input, '--job-dir', jobDir, '-o', out]
  const r = await weir([...job, '--checkpoint-interval', '3000r', '--retain', '10'])
  t.equal(r.code, 0, r.stderr)
  const text = readFileSync(out, 'utf8')
  const chk = readdirSync(join(jobDir, 'checkpoints')).filter((n) => /^chk-\d+\.json$/.test(n))
  t.ok(chk.length >= 3, `${chk.length} checkpoints`)
  for (const name of chk) {
    const m = JSON.parse(readFileSync(join(jobDir, 'checkpoints', name), 'utf8')) as { sinks: { committed: number }[]; totals: { linesWritten: number } }
    const held = Buffer.from(text).subarray(0, m.sinks[0]!.committed).toString().split('\n').length - 1
    t.equal(m.totals.linesWritten, held, `${name}: linesWritten = lines in the committed output`)
  }
  const stats = join(dir, 'stats.json')
  const again = await weir([...job, '--from-checkpoint', '1', '--stats', stats])
  t.equal(again.code, 0, again.stderr)
  const s = JSON.parse(readFileSync(stats, 'utf8')) as { job: { linesWritten: number } }
  t.equal(s.job.linesWritten, readFileSync(out, 'utf8').split('\n').length - 1, 'the job totals count every line of the output')
})

t.test('records read again after a fallback to an older checkpoint are counted as replayed, in this run and the totals', async (t) => {
  const dir = t.testdir({})
  const file = generate(dir, 20000) // some 40 chunks: checkpoints fall between them
  const total = readFileSync(file, 'utf8').split('\n').filter(Boolean).length
  const jobDir = join(dir, 'job')
  const out = join(dir, 'out.ndjson')
  const stats = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'))
  const chk = (id: number) => JSON.parse(readFileSync(join(jobDir, 'checkpoints', `chk-${String(id).padStart(8, '0')}.json`), 'utf8'))
  const run = (extra: string[], statsFile: string, env: NodeJS.ProcessEnv = {}) =>
    weir([...JOB, file, '--job-dir', jobDir, '--checkpoint-interval', '2000r', '--retain', '5', '-o', out, '--stats', join(dir, statsFile), ...extra], { env })
  for (const worker of ['0', '1']) {
    t.test(`parsed on ${worker === '1' ? 'the worker' : 'the main thread'}`, async (t) => {
      const env = { WEIR_PARSE_WORKER: worker }
      rmSync(jobDir, { recursive: true, force: true })
      // killed between checkpoint 3's state commit and its manifest: the resume falls back to 2
      // and reads again what 3 had counted
      const killed = await run(['--no-flush'], 'k.json', { ...env, WEIR_CRASH_AT: 'after-state:4' })
      t.equal(killed.signal, 'SIGKILL', killed.stderr)
      const two = chk(2).sources[0].line
      const r1 = await run(['--resume', '--no-flush'], 's1.json', env)
      t.equal(r1.code, 0, r1.stderr)
      const s1 = stats('s1.json')
      t.equal(s1.read, total - two, 'the resume reads from checkpoint 2 on')
      t.ok(s1.replayed > 0 && s1.replayed < s1.read, `what checkpoint 3 had read is replayed (${s1.replayed} of ${s1.read})`)
      t.equal(s1.job.read, total, 'each record is read once in the totals')
      t.equal(s1.job.replayed, s1.replayed)
      // the oldest retained checkpoint, by id: everything after it was read before
      const oldest = Math.min(...readdirSync(join(jobDir, 'checkpoints')).filter((n) => /^chk-\d+\.json$/.test(n)).map((n) => Number(n.slice(4, 12))))
      const older = chk(oldest)
      t.ok(older.sources[0].line < total)
      const r2 = await run(['--from-checkpoint', String(oldest), '--no-flush'], 's2.json', env)
      t.equal(r2.code, 0, r2.stderr)
      const s2 = stats('s2.json')
      t.equal(s2.read, total - older.sources[0].line)
      t.equal(s2.replayed, s2.read, 'every record after checkpoint 1 had been read up to a checkpoint')
      t.equal(s2.job.read, total)
      t.equal(s2.job.replayed, older.totals.replayed + s2.replayed, "the restored checkpoint's replays plus this run's")
      // continuing from the latest replays nothing
      const r3 = await run(['--resume'], 's3.json', env)
      t.equal(r3.code, 0, r3.stderr)
      const s3 = stats('s3.json')
      t.equal(s3.read, 0)
      t.equal(s3.replayed, 0, 'a resume from the latest checkpoint replays nothing')
      t.equal(s3.job.replayed, s2.job.replayed)
    })
  }
})
