// --follow: a live log read as tail -F reads it, exactly-once with a job dir. Data is appended
// while the job waits, the job is SIGKILLed and resumed, the log is rotated (renamed away and
// created anew), and a SIGINT ends it: the output equals one run over all the data that stops
// without firing (--no-flush), byte for byte.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, WEIR, weir } from '../harness/cli.js'

const JOB = ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '5s', 'then', 'aggregate', 'count', 'sum:amount']
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function start(args: string[]) {
  const child = spawn(process.execPath, [WEIR, ...args], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const closed = new Promise<{ code: number | null; signal: string | null; err: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, err })))
  return { child, closed }
}

/** Waits until the job's newest checkpoint has read `line` lines of the file now at `path`. */
async function readUpTo(jobDir: string, path: string, line: number): Promise<void> {
  const ino = statSync(path).ino
  for (let i = 0; i < 500; i++) {
    let names: string[] = []
    try {
      names = readdirSync(join(jobDir, 'checkpoints')).filter((n) => n.endsWith('.json')).sort()
    } catch {
      // not created yet
    }
    const newest = names[names.length - 1]
    if (newest) {
      const m = JSON.parse(readFileSync(join(jobDir, 'checkpoints', newest), 'utf8')) as { sources: { line: number; ino: number }[] }
      if (m.sources[0]!.ino === ino && m.sources[0]!.line >= line) return
    }
    await sleep(20)
  }
  throw new Error(`the job never checkpointed line ${line}`)
}

t.test('--follow with a job dir: appends, a SIGKILL, a resume and a rotation, every result exactly once', async (t) => {
  const dir = t.testdir({})
  const gen = spawnSync(process.execPath, [join(ROOT, 'fixtures/gen.mjs'), '--events', '6000', '--keys', '30', '--seed', '11'], { maxBuffer: 1 << 26 })
  const lines = String(gen.stdout).split('\n').filter((l) => l !== '')
  const chunk = (a: number, b: number) => lines.slice(a, b).join('\n') + '\n'
  const log = join(dir, 'app.log')
  const jobDir = join(dir, 'job')
  const out = join(dir, 'out.ndjson')
  const args = [...JOB, log, '--follow', '--job-dir', jobDir, '--checkpoint-interval', '100ms', '-o', out]
  writeFileSync(log, chunk(0, 1000))
  let job = start(args)
  await readUpTo(jobDir, log, 1000)
  appendFileSync(log, chunk(1000, 2500))
  await readUpTo(jobDir, log, 2500)
  job.child.kill('SIGKILL')
  t.equal((await job.closed).signal, 'SIGKILL')
  appendFileSync(log, chunk(2500, 3000)) // written while nobody was reading
  job = start([...args, '--resume'])
  await readUpTo(jobDir, log, 3000)
  renameSync(log, log + '.1')
  writeFileSync(log, chunk(3000, 4500))
  await readUpTo(jobDir, log, 1500) // the new file's lines
  appendFileSync(log, chunk(4500, 6000))
  await readUpTo(jobDir, log, 3000)
  job.child.kill('SIGINT')
  const end = await job.closed
  t.equal(end.code, 130, end.err)
  writeFileSync(join(dir, 'all.ndjson'), chunk(0, 6000))
  const ref = await weir([...JOB, join(dir, 'all.ndjson'), '--no-flush'])
  t.equal(ref.code, 0)
  t.equal(readFileSync(out, 'utf8'), ref.stdout, 'the same rows as one run over all the data')
})

t.test('--follow refuses stdin', async (t) => {
  const r = await weir(['filter', 'true', '--follow'], { stdin: '' })
  t.equal(r.code, 64)
  t.match(r.stderr, /--follow reads a growing file/)
})
