// SIGINT and SIGTERM stop a job without draining: what was written stays written, open windows
// do not fire, and the exit status says which signal (130, 143).
import t from 'tap'
import { spawn } from 'node:child_process'
import { WEIR } from '../harness/cli.js'

function startJob(args: string[]) {
  const child = spawn(process.execPath, [WEIR, ...args], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const closed = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('close', (code) => resolve({ code, out, err })))
  const seen = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => (out.includes(text) ? resolve() : setTimeout(check, 10))
      check()
    })
  return { child, closed, seen }
}

for (const [signal, status] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  t.test(`${signal} stops without firing open windows (exit ${status})`, async (t) => {
    const job = startJob(['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count'])
    job.child.stdin.write('{"u":"a","t":0}\n{"u":"a","t":61000}\n') // closes [0, 60000)
    await job.seen('"count":1')
    job.child.stdin.write('{"u":"b","t":62000}\n')
    await new Promise((r) => setTimeout(r, 100))
    job.child.kill(signal)
    const r = await job.closed
    t.equal(r.code, status)
    t.equal(r.out, '{"u":"a","window_start":0,"window_end":60000,"count":1}\n', 'only the window the watermark closed')
    t.equal(r.err, '')
  })
}

t.test('a stateless stage keeps what it wrote when stopped', async (t) => {
  const job = startJob(['filter', 'true'])
  job.child.stdin.write('{"n":1}\n')
  await job.seen('{"n":1}')
  job.child.kill('SIGTERM')
  const r = await job.closed
  t.equal(r.code, 143)
  t.equal(r.out, '{"n":1}\n')
})
