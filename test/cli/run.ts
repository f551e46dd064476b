import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { weir, sh, lines, ROOT } from '../harness/cli.js'

const clicks = readFileSync(`${ROOT}/fixtures/clicks.ndjson`, 'utf8')
const DEMO = 'fixtures/jobs/clicks-per-user.json'

// The demo job, computed without weir: purchases, projected to user, ts and cents.
const purchases =
  lines(clicks)
    .map((l) => JSON.parse(l) as { user: string; ts: number; event: string; amount: number })
    .filter((r) => r.event === 'purchase')
    .map((r) => JSON.stringify({ user: r.user, ts: r.ts, cents: r.amount * 100 }))
    .join('\n') + '\n'

const FILTER = 'r.event === "purchase"'
const MAP = '({user: r.user, ts: r.ts, cents: r.amount * 100})'

/** A spec file in a fresh test dir; returns its path. */
function spec(t: Test, doc: unknown, files: Record<string, string> = {}): string {
  const dir = t.testdir({ 'spec.json': typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2), ...files })
  return `${dir}/spec.json`
}

t.test('the demo job writes its sink, out/purchases.ndjson', async (t) => {
  // run in a test dir that sees the fixtures, so the spec's relative sink lands there, not in the repo
  const dir = t.testdir({ fixtures: t.fixture('symlink', `${ROOT}/fixtures`) })
  const r = await weir(['run', DEMO], { cwd: dir })
  t.equal(r.code, 0)
  t.equal(r.stdout, '', 'records go to the sink, not stdout')
  t.equal(r.stderr, '', 'quiet off a terminal')
  t.equal(readFileSync(`${dir}/out/purchases.ndjson`, 'utf8'), purchases)
  t.ok(lines(purchases).length > 10, 'the fixture has purchases')
})

t.test('-o overrides the sink', async (t) => {
  const dir = t.testdir({})
  const r = await weir(['run', DEMO, '-o', `${dir}/p.ndjson`])
  t.equal(r.code, 0)
  t.equal(readFileSync(`${dir}/p.ndjson`, 'utf8'), purchases)
})

t.test('positional files override the source', async (t) => {
  const dir = t.testdir({
    'other.ndjson': '{"user":"z","ts":1,"event":"purchase","amount":2}\n{"user":"y","ts":2,"event":"view","amount":0}\n',
  })
  const r = await weir(['run', DEMO, `${dir}/other.ndjson`, '-o', `${dir}/p.ndjson`])
  t.equal(r.code, 0)
  t.equal(readFileSync(`${dir}/p.ndjson`, 'utf8'), '{"user":"z","ts":1,"cents":200}\n')
})

// `zcat day.ndjson.gz | weir run job.json -` is the second example of `weir run --help`
t.test("'-' reads stdin instead of the spec's source", async (t) => {
  const dir = t.testdir({})
  const stdin = '{"user":"z","ts":1,"event":"purchase","amount":2}\n'
  const r = await weir(['run', DEMO, '-', '-o', `${dir}/q.ndjson`], { stdin })
  t.equal(r.code, 0)
  t.equal(readFileSync(`${dir}/q.ndjson`, 'utf8'), '{"user":"z","ts":1,"cents":200}\n')
})

t.test('source and sink default to stdin and stdout', async (t) => {
  const s = spec(t, { stages: ['filter "r.n > 1"'] })
  const r = await weir(['run', s], { stdin: '{"n":1}\n{"n":2.0}\n' })
  t.equal(r.code, 0)
  t.equal(r.stdout, '{"n":2.0}\n')
})

t.test('source paths are read in order', async (t) => {
  const s = spec(t, { source: { paths: ['a.ndjson', 'b.ndjson'] }, stages: ['keyby k'] }, {
    'a.ndjson': '{"k":1}\n',
    'b.ndjson': '{"k":2}\n',
  })
  const dir = s.replace(/\/spec\.json$/, '')
  const r = await weir(['run', 'spec.json'], { cwd: dir })
  t.equal(r.code, 0)
  t.equal(r.stdout, '{"k":1}\n{"k":2}\n', 'relative paths are relative to the current directory')
})

t.test('the spec, the then chain and the shell pipe give byte-identical output', async (t) => {
  const dir = t.testdir({})
  const viaSpec = await weir(['run', DEMO, '-o', `${dir}/spec.ndjson`])
  t.equal(viaSpec.code, 0)
  const fromSpec = readFileSync(`${dir}/spec.ndjson`, 'utf8')

  const chain = await weir(['filter', FILTER, 'then', 'keyby', 'user', 'then', 'map', MAP, 'fixtures/clicks.ndjson'])
  t.equal(chain.code, 0)
  t.equal(chain.stdout, fromSpec, 'then chain')

  const pipe = await sh(`"$WEIR" filter '${FILTER}' fixtures/clicks.ndjson | "$WEIR" keyby user | "$WEIR" map '${MAP}'`)
  t.equal(pipe.code, 0)
  t.equal(pipe.stdout, fromSpec, 'shell pipe')
  t.equal(fromSpec, purchases)
})

t.test('a stage may be an array of words, or {"stage", "uid"}', async (t) => {
  const forms = [
    [['filter', FILTER], ['keyby', 'user'], ['map', MAP]],
    [{ stage: `filter '${FILTER}'`, uid: 'purchases' }, { stage: ['keyby', 'user'] }, { stage: `map '${MAP}'`, uid: 'cents' }],
    // double quotes and backslashes, as a shell reads them
    [`filter "r.event === \\"purchase\\""`, 'keyby user', `map ${MAP.replace(/[ (){}:,*]/g, (c) => '\\' + c)}`],
  ]
  for (const stages of forms) {
    const s = spec(t, { source: { path: `${ROOT}/fixtures/clicks.ndjson` }, stages })
    const r = await weir(['run', s])
    t.equal(r.code, 0, JSON.stringify(stages))
    t.equal(r.stderr, '')
    t.equal(r.stdout, purchases, JSON.stringify(stages))
  }
})

t.test('--verbose prints a summary; without it a successful run is silent', async (t) => {
  const quiet = await weir(['run', DEMO, '-o', `${t.testdir({})}/o.ndjson`])
  t.equal(quiet.stderr, '')
  const loud = await weir(['run', DEMO, '-o', `${t.testdir({})}/o.ndjson`, '--verbose'])
  t.equal(loud.code, 0)
  const n = lines(purchases).length
  t.equal(loud.stderr, `weir: read 3000, wrote ${n}, filtered ${3000 - n}\n`)
})

// Every spec error is found before any record is read: the source below is malformed (reading it
// would exit 65) and the sink must not be created.
const BAD_SOURCE = { 'bad.ndjson': 'not json\n' }
async function specError(t: Test, doc: unknown, code: number, want: RegExp | string) {
  const s = spec(t, typeof doc === 'string' ? doc : { source: { path: 'bad.ndjson' }, sink: { path: 'out/o.ndjson' }, ...(doc as object) }, BAD_SOURCE)
  const dir = s.replace(/\/spec\.json$/, '')
  const r = await weir(['run', 'spec.json'], { cwd: dir })
  t.equal(r.code, code, `exit ${code}`)
  t.equal(r.stdout, '')
  t.equal(lines(r.stderr).length, 1, 'one line')
  t.match(r.stderr, want)
  t.notOk(existsSync(`${dir}/out`), 'no output created')
  return r
}

t.test('spec errors name the stage and exit 64 before reading', async (t) => {
  t.test('unknown command', (t) =>
    specError(t, { stages: ['keyby user', 'windw tumbling 1m'] }, 64, /^weir: spec\.json: stage 2 .*unknown command 'windw'/),
  )
  t.test('keyby with no fields', (t) => specError(t, { stages: ['filter true', 'keyby'] }, 64, /^weir: spec\.json: stage 2 \(keyby\): /))
  t.test('an invalid expression', (t) =>
    specError(t, { stages: ["filter 'r.a >'"] }, 64, /^weir: spec\.json: stage 1 \(filter 'r\.a >'\): .*invalid expression/),
  )
  t.test('an unknown option', (t) => specError(t, { stages: ['keyby user --bogus'] }, 64, /stage 1 .*bogus/))
  t.test('input files inside a stage', (t) =>
    specError(t, { stages: ['keyby user', 'filter true data.ndjson'] }, 64, /stage 2 .*input files belong in the spec's "source"/),
  )
  t.test('a source with both path and paths', (t) => specError(t, { source: { path: 'a', paths: ['b'] }, stages: ['filter true'] }, 64, /"source": "path" or "paths", not both/))
  t.test('a name that is not a string', (t) => specError(t, { name: 5, stages: ['filter true'] }, 64, /"name" must be a string/))
  t.test('--output inside a stage', (t) => specError(t, { stages: ['filter true -o x.ndjson'] }, 64, /stage 1 .*--output belongs in the spec/))
  // not taken and ignored: a job the user thinks durable would run in memory
  for (const o of ['--job-dir jd', '--follow', '--resume', '--checkpoint-interval 1s', '--max-line-bytes 5', '--verbose'])
    t.test(`${o} inside a stage`, (t) =>
      specError(t, { stages: [`keyby user ${o}`, 'aggregate count'] }, 64, new RegExp(`stage 1 .*--${o.split(' ')[0]!.slice(2)} is an option of the whole job: give it to weir run`)),
    )
  t.test('an array stage with an unknown command', (t) =>
    specError(t, { stages: ['filter true', ['filtr', 'r.amount > 0']] }, 64, /stage 2 .*unknown command 'filtr'/),
  )
  t.test('an unterminated quote', (t) => specError(t, { stages: ['keyby user', "filter 'r.a"] }, 64, /unterminated '/))
  t.test('a stage of the wrong type', (t) =>
    specError(t, { stages: ['keyby user', 42] }, 64, /^weir: spec\.json: stage 2: expected a command line string/),
  )
  t.test('a uid that is not a string', (t) => specError(t, { stages: [{ stage: 'keyby user', uid: 5 }] }, 64, /stage 1: "uid" must be a string/))
  t.test('two stages with one uid', (t) =>
    specError(t, { stages: [{ stage: 'keyby user', uid: 'x' }, { stage: 'filter true', uid: 'x' }] }, 64, /^weir: spec\.json: stages 1 and 2 have the uid 'x'/),
  )
  t.test('an unknown top-level field', (t) => specError(t, { stages: [], stage: ['keyby user'] }, 64, /^weir: spec\.json: unknown field "stage"/))
  t.test('no stages array', (t) => specError(t, { stages: 'keyby user' }, 64, /"stages" must be an array/))
  t.test('a sink without a path', (t) => specError(t, { stages: [], sink: 'out/o.ndjson' }, 64, /"sink" must be \{"path": "FILE"\}/))
  t.test('not an object', (t) => specError(t, '["keyby user"]\n', 64, /^weir: spec\.json: expected a JSON object/))
  t.test('malformed JSON names the spec path', (t) =>
    specError(t, '{\n  "stages": ["keyby user",]\n}\n', 64, /^weir: spec\.json(:\d+)?: not valid JSON/),
  )
  t.test('malformed JSON with a position names the line', (t) =>
    specError(t, '{\n  "stages": ["keyby user"]\n  "sink": {"path": "o"}\n}\n', 64, /^weir: spec\.json:3: not valid JSON/),
  )
  t.end()
})

t.test('a malformed spec names its line even when V8 gives no position', (t) =>
  specError(t, '{\n  "stages": ["keyby user",]\n}\n', 64, /^weir: spec\.json:2: not valid JSON/),
)

t.test('a missing spec file exits 66', async (t) => {
  const r = await weir(['run', 'no/such/spec.json'], { stdin: 'not json\n' })
  t.equal(r.code, 66)
  t.equal(r.stderr, 'weir: no/such/spec.json: no such spec file\n')
})

t.test('a missing source file exits 66 and creates no output', async (t) => {
  const r = await specError(t, { source: { path: 'missing.ndjson' }, stages: ['keyby user'] }, 66, 'weir: missing.ndjson: no such file\n')
  t.equal(r.stderr, 'weir: missing.ndjson: no such file\n')
})

t.test('a missing positional input exits 66 and creates no output', async (t) => {
  const dir = t.testdir({})
  const r = await weir(['run', DEMO, `${dir}/missing.ndjson`, '-o', `${dir}/o.ndjson`])
  t.equal(r.code, 66)
  t.notOk(existsSync(`${dir}/o.ndjson`))
})

t.test("-o - writes to stdout, as '-' reads stdin", async (t) => {
  const dir = t.testdir({ fixtures: t.fixture('symlink', `${ROOT}/fixtures`) })
  const r = await weir(['run', DEMO, '-o', '-'], { cwd: dir })
  t.equal(r.stdout, purchases)
  t.notOk(existsSync(`${dir}/-`))
})

// `weir keyby user --on-error skip` skips; in a then chain the option applies to the job; in a spec
// stage it is parsed by keyby's builder and then dropped, so the run fails on the first bad record.
t.test('a job option inside a spec stage is not silently ignored', async (t) => {
  const s = spec(t, { stages: ['keyby user --on-error skip'] })
  const r = await weir(['run', s], { stdin: '{"user":"a"}\n{"name":"b"}\n' })
  t.ok(r.code === 64 || (r.code === 0 && r.stdout === '{"user":"a"}\n'), `rejected (64) or applied (0), not ignored (exit ${r.code})`)
})

t.test("a process function's module in a spec is found beside the spec, from any directory", async (t) => {
  const dir = t.testdir({
    jobs: {
      'spec.json': JSON.stringify({ stages: ['keyby k', 'process fn.mjs'] }),
      'fn.mjs': 'export function processElement(r, ctx) { ctx.emit({ k: ctx.key, beside: true }) }\n',
    },
    // a module of that name where the run starts must not be taken instead
    'fn.mjs': 'export function processElement(r, ctx) { ctx.emit({ k: ctx.key, beside: false }) }\n',
  })
  const r = await weir(['run', 'jobs/spec.json'], { cwd: dir, stdin: '{"k":"a"}\n' })
  t.same([r.code, r.stdout], [0, '{"k":"a","beside":true}\n'], r.stderr)
})

// A misspelt "uid" would silently hand the stage a derived uid, and so other state on restore.
t.test('a misspelt field inside a stage, source or sink object is an error', async (t) => {
  const docs = [
    { stages: [{ stage: 'keyby user', uuid: 'per-user' }] },
    { source: { path: 'bad.ndjson', format: 'csv' }, stages: [] },
    { stages: [], sink: { path: 'out/o.ndjson', append: true } },
  ]
  for (const doc of docs) {
    const s = spec(t, doc, BAD_SOURCE)
    const r = await weir(['run', 'spec.json'], { cwd: s.replace(/\/spec\.json$/, '') })
    t.equal(r.code, 64, JSON.stringify(doc))
    t.match(r.stderr, /unknown field "(uuid|format|append)"/)
  }
})

t.test('a spec can keep bad lines in a dead-letter file', async (t) => {
  const dir = t.testdir({
    'in.ndjson': '{"user":"a","n":1}\nnot json\n{"n":2}\n{"user":"b","n":3}\n',
    'job.json': JSON.stringify({ stages: ['keyby user', 'aggregate sum:n'], 'dead-letter': { path: 'DIR/dead.ndjson' } }),
  })
  const { writeFileSync, readFileSync } = await import('node:fs')
  writeFileSync(`${dir}/job.json`, readFileSync(`${dir}/job.json`, 'utf8').replace('DIR', dir))
  const r = await weir(['run', `${dir}/job.json`, `${dir}/in.ndjson`])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '{"user":"a","n_sum":1}\n{"user":"b","n_sum":3}\n')
  const dead = readFileSync(`${dir}/dead.ndjson`, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(dead, [
    { source: `${dir}/in.ndjson`, line: 2, reason: `malformed JSON: Unexpected token 'o', "not json" is not valid JSON`, raw: 'not json' },
    { source: `${dir}/in.ndjson`, line: 3, reason: "key field 'user' is missing", raw: '{"n":2}' },
  ])
  t.equal(r.stderr, 'weir: warning: 2 bad record(s) written to the dead-letter file\n')
  writeFileSync(`${dir}/skip.json`, JSON.stringify({ stages: ['keyby user --on-error dead-letter'] }))
  const bad = await weir(['run', `${dir}/skip.json`, `${dir}/in.ndjson`])
  t.equal(bad.code, 64)
  t.match(bad.stderr, /needs "dead-letter"/)
})
