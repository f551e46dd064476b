// --explain (issue 18): what a job would do, without reading a record or touching a job dir.
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { weir } from '../harness/cli.js'

const F = 'fixtures/clicks.ndjson'

t.test('a then chain: its operators, key, time, windows, fields and state, and nothing run', async (t) => {
  const dir = t.testdir({})
  const job = join(dir, 'job')
  const r = await weir(['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '5s', '--lateness', '30s', 'then', 'aggregate', 'count', 'sum:amount', F, '--job-dir', job, '--checkpoint-interval', '2s', '--resume', '--explain', '-o', join(dir, 'out.ndjson')])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^job     weir keyby user then window tumbling 1m/m)
  t.match(r.stdout, /key: user/)
  t.match(r.stdout, /tumbling windows of 1m/)
  t.match(r.stdout, /event time from field ts \(ms\); watermark: the largest time seen minus 5s/)
  t.match(r.stdout, /allowed lateness 30s/)
  t.match(r.stdout, /\(fused into the window before it: one operator\)/)
  t.match(r.stdout, /count as count, sum:amount as amount_sum/)
  t.match(r.stdout, /only the fields "user", "ts", "amount" of each record, on the main thread/)
  t.match(r.stdout, /LMDB in .*job\/state/)
  t.match(r.stdout, /every 2s, keeping 3; resumes from the latest checkpoint/)
  t.notOk(existsSync(job), 'the job dir is not created')
  t.notOk(existsSync(join(dir, 'out.ndjson')), 'no output is written')
})

t.test('a spec, and a filter that reads the whole record', async (t) => {
  const r = await weir(['run', 'fixtures/jobs/clicks-per-minute.json', '--explain'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^output  out\/clicks-per-minute\.ndjson$/m)
  t.match(r.stdout, /^late    out\/late\.ndjson$/m)
  const w = await weir(['filter', 'Object.keys(r).length > 3', F, '--explain'])
  t.equal(w.code, 0, w.stderr)
  t.match(w.stdout, /whole records \(JSON\.parse\)/)
  t.match(w.stdout, /^state   in memory/m)
})
