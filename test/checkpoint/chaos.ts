// Chaos (decisions.md 25, 38): durable jobs SIGKILLed at moments chosen from their observed
// progress (a new checkpoint appearing, then a random few ms), resumed each time with --resume,
// until one run finishes. Output and late output must equal an uninterrupted run's, byte for byte.
// Three jobs: tumbling windows with lateness and a late output, a process function with keyed
// state and timers, and session windows.
//   npm test:       ~25k records, a handful of kills per job (seconds each)
//   npm run chaos:  WEIR_CHAOS=full, 100k records, ≥ 20 kills per job
// The seed is printed; replay with WEIR_SEED=N.
import t from 'tap'
import { chaosSettings, newestId } from '../harness/jobdir.js'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, WEIR, weir } from '../harness/cli.js'

const { events: EVENTS, kills: KILLS, seed, random } = chaosSettings((text) => t.comment(text), { events: 25_000, kills: 5 })

/** Runs weir; once its newest checkpoint id reaches `killAtId`, SIGKILLs it after a random few ms. */
function runUntilKilled(args: string[], jobDir: string, killAtId: number | undefined) {
  return new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [WEIR, ...args], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    let timer: NodeJS.Timeout | undefined
    if (killAtId !== undefined) {
      const poll = () => {
        if (newestId(jobDir) >= killAtId) timer = setTimeout(() => child.kill('SIGKILL'), Math.floor(random() * 10))
        else timer = setTimeout(poll, 2)
      }
      poll()
    }
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({ code, signal, stderr })
    })
  })
}

const JOBS: { name: string; stages: string[]; late: boolean }[] = [
  {
    name: 'tumbling windows with lateness and a late output',
    stages: ['keyby', 'user', 'then', 'window', 'tumbling', '2s', '--time', 'ts', '--max-delay', '2s', '--lateness', '1s', 'then', 'aggregate', 'count', 'sum:amount', 'collect:page', 'first:page'],
    late: true,
  },
  {
    name: 'a process function with keyed state and timers',
    stages: ['keyby', 'user', 'then', 'process', 'fixtures/fn/session-summary.mjs', '--time', 'ts', '--max-delay', '2s'],
    late: false,
  },
  {
    name: 'session windows',
    stages: ['keyby', 'user', 'then', 'window', 'session', '20s', '--time', 'ts', '--max-delay', '2s', '--lateness', '3s', 'then', 'aggregate', 'count', 'max:latency'],
    late: true,
  },
]

for (const job of JOBS) {
  t.test(`${job.name}: SIGKILLed ≥ ${KILLS} times and resumed, every result exactly once`, async (t) => {
    const dir = t.testdir({})
    const input = join(dir, 'in.ndjson')
    const gen = spawnSync(process.execPath, [join(ROOT, 'fixtures/gen.mjs'), '--events', String(EVENTS), '--keys', '60', '--max-delay', '2000', '--late', '0.02', '--seed', String(seed % 10007)], { maxBuffer: 1 << 30 })
    writeFileSync(input, gen.stdout)
    const lateArgs = (name: string) => (job.late ? ['--late-output', join(dir, name)] : [])
    const ref = await weir([...job.stages, input, '-o', join(dir, 'ref.ndjson'), ...lateArgs('ref-late.ndjson')])
    t.equal(ref.code, 0, ref.stderr)
    const jobDir = join(dir, 'job')
    // enough checkpoints that the kills, each a few checkpoints apart, fall before the job's end
    const every = Math.max(150, Math.floor(EVENTS / (KILLS * 10)))
    const args = [...job.stages, input, '-o', join(dir, 'out.ndjson'), ...lateArgs('late.ndjson'), '--job-dir', jobDir, '--checkpoint-interval', `${every}r`, '--resume']
    let kills = 0
    for (let runs = 1; ; runs++) {
      if (runs > KILLS * 3) {
        t.fail(`the job did not finish in ${runs - 1} runs`)
        break
      }
      const target = kills < KILLS ? newestId(jobDir) + 1 + Math.floor(random() * 2) : undefined
      const r = await runUntilKilled(args, jobDir, target)
      if (r.signal === 'SIGKILL') {
        kills++
        continue
      }
      t.equal(r.code, 0, r.stderr)
      break
    }
    t.ok(kills >= KILLS, `killed ${kills} times`)
    t.equal(readFileSync(join(dir, 'out.ndjson'), 'utf8'), readFileSync(join(dir, 'ref.ndjson'), 'utf8'), 'output equals the uninterrupted run, byte for byte')
    if (job.late) t.equal(readFileSync(join(dir, 'late.ndjson'), 'utf8'), readFileSync(join(dir, 'ref-late.ndjson'), 'utf8'), 'late output too')
  })
}
