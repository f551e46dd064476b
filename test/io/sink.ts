// Output that cannot be written is an I/O failure: exit 74, one line, --stats still written, for
// every command and both parse paths. /dev/full fails every write with ENOSPC.
import t, { type Test } from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { sh, weir, lines } from '../harness/cli.js'

const F = 'fixtures/clicks.ndjson'
const PROCESS_FN = 'fixtures/fn/session-summary.mjs'
// a spec without a sink, so that `weir run` writes to stdout too; in each test's own folder (a
// folder of the file's top level was seen gone before the last tests ran, under load)
const SPEC = { 'spec.json': JSON.stringify({ stages: ['keyby user', "map '({u: r.user})'"] }) }

/** One command line per command, each writing records for the fixture. */
const COMMANDS: Record<string, string[]> = {
  filter: ['filter', 'true'],
  map: ['map', '({u: r.user})'],
  keyby: ['keyby', 'user'],
  window: ['window', 'tumbling', '1m', '--time', 'ts'],
  process: ['keyby', 'user', 'then', 'process', PROCESS_FN, '--time', 'ts'],
  aggregate: ['aggregate', 'count'],
  chain: ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', 'then', 'aggregate', 'count'],
  run: ['run', 'spec.json'],
}

const q = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`

function checkFailure(t: Test, r: { code: number | null; stderr: string }, name: string, statsFile: string) {
  t.equal(r.code, 74, `${name}: exit 74`)
  t.same(lines(r.stderr), [`weir: ${name}: write failed: no space left on device`], 'one line')
  t.ok(existsSync(statsFile), '--stats is still written')
  if (existsSync(statsFile)) t.equal((JSON.parse(readFileSync(statsFile, 'utf8')) as { status: string }).status, 'failed')
}

for (const [what, argv] of Object.entries(COMMANDS)) {
  t.test(`${what}: stdout on a full disk`, async (t) => {
    const dir = t.testdir(SPEC)
    const stats = `${dir}/s.json`
    const args = argv.map((w) => (w === 'spec.json' ? `${dir}/spec.json` : w))
    const r = await sh(`"$WEIR" ${[...args, F, '--stats', stats].map(q).join(' ')} > /dev/full`)
    checkFailure(t, r, 'stdout', stats)
  })

  t.test(`${what}: -o /dev/full`, async (t) => {
    const dir = t.testdir(SPEC)
    const stats = `${dir}/s.json`
    const args = argv.map((w) => (w === 'spec.json' ? `${dir}/spec.json` : w))
    const r = await weir([...args, F, '-o', '/dev/full', '--stats', stats])
    checkFailure(t, r, '/dev/full', stats)
  })
}

t.test('the parse worker path: a write failure is exit 74 too', async (t) => {
  const dir = t.testdir({})
  const stats = `${dir}/s.json`
  const env = { WEIR_PARSE_WORKER: '1' }
  const r = await weir([...COMMANDS.chain!, F, '-o', '/dev/full', '--stats', stats], { env })
  checkFailure(t, r, '/dev/full', stats)
  const s = await sh(`"$WEIR" keyby user then aggregate count ${F} --stats ${q(stats)} > /dev/full`, { env })
  checkFailure(t, s, 'stdout', stats)
})

// Side outputs are outputs: records written nowhere while the job exits 0 is data lost.
t.test('a failing --late-output or --dead-letter is exit 74, on both parse paths', async (t) => {
  const dir = t.testdir({ 'bad.ndjson': readFileSync(F, 'utf8').split('\n').slice(0, 50).join('\n') + '\nnot json\n' })
  const late = [...COMMANDS.chain!, '--late-output', '/dev/full', F, '-o', '/dev/null']
  const dead = [...COMMANDS.chain!, '--on-error', 'dead-letter', '--dead-letter', '/dev/full', `${dir}/bad.ndjson`, '-o', '/dev/null']
  for (const worker of ['0', '1'])
    for (const argv of [late, dead]) {
      const stats = `${dir}/s${worker}.json`
      const r = await weir([...argv, '--stats', stats], { env: { WEIR_PARSE_WORKER: worker } })
      checkFailure(t, r, '/dev/full', stats)
    }
})

t.test('an output that is one of the inputs is refused before anything is written (exit 73)', async (t) => {
  const text = readFileSync(F, 'utf8').split('\n').slice(0, 20).join('\n') + '\n'
  const dir = t.testdir({ 'in.ndjson': text, 'other.ndjson': '{"a":1}\n' })
  const input = `${dir}/in.ndjson`
  const cases: [string, string][] = [
    [`"$WEIR" filter true -o ${input} ${dir}/other.ndjson ${input}`, input],
    [`"$WEIR" keyby user then window tumbling 1m --time ts --late-output ${input} then aggregate count ${input}`, input],
    [`"$WEIR" filter true --on-error dead-letter --dead-letter ${input} < ${input}`, input],
    [`"$WEIR" filter true ${input} >> ${input}`, 'stdout'],
    [`"$WEIR" filter true - < ${input} >> ${input}`, 'stdout'],
    // a hard link is the same file under another name
    [`ln -f ${input} ${dir}/link.ndjson && "$WEIR" map r ${dir}/link.ndjson -o ${input}`, input],
  ]
  for (const [cmd, output] of cases) {
    const r = await sh(cmd)
    t.equal(r.code, 73, cmd)
    t.match(r.stderr, new RegExp(`^weir: ${output.replace(/[/.]/g, '\\$&')}: is also an input \\(`), 'says which')
    t.equal(lines(r.stderr).length, 1)
    t.equal(readFileSync(input, 'utf8'), text, 'the input is untouched')
  }
  const r = await weir(['filter', 'true', `${dir}/other.ndjson`, '-o', '/dev/null', '--late-output', '/dev/null'])
  t.equal(r.code, 0, 'devices are not files: /dev/null may be both')
})

// --stats is what a script reads to check that nothing was lost: a stats file that could not be
// written, after a job that otherwise succeeded, is a write failure (74), not a silent 0
t.test('a --stats file that cannot be written is exit 74 after a job that succeeded; a failed job keeps its status', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"a":1}\n{"a":2}\n', 'bad.ndjson': '{"a":1}\nnot json\n' })
  const ok = await weir(['filter', 'true', `${dir}/in.ndjson`, '--stats', '/dev/full'])
  t.equal(ok.code, 74, 'exit 74')
  t.equal(ok.stdout, '{"a":1}\n{"a":2}\n', 'the records are written')
  t.same(lines(ok.stderr), ['weir: /dev/full: cannot write stats: ENOSPC: no space left on device, write'], 'one line naming the file')
  const head = await sh(`"$WEIR" filter true ${F} --stats /dev/full | head -1`)
  t.equal(head.code, 74, 'a reader that left early does not hide it')
  const bad = await weir(['filter', 'true', `${dir}/bad.ndjson`, '--stats', '/dev/full'])
  t.equal(bad.code, 65, 'bad input stays 65')
})

// stderr that cannot be written has nowhere to say so; it must not turn the job's status into
// node's crash (exit 1 and a stack) for an unheard 'error' event on process.stderr
t.test('a stderr that cannot be written leaves the exit status the job gives', async (t) => {
  const dir = t.testdir({ 'bad.ndjson': '{"a":1}\nnot json\n' })
  const late = await sh(`"$WEIR" window tumbling 1m --time ts ${F} 2>/dev/full > /dev/null`)
  t.equal(late.code, 0, 'a warning about late records that cannot be written: still 0')
  const bad = await sh(`"$WEIR" filter true ${dir}/bad.ndjson 2>/dev/full`)
  t.equal(bad.code, 65, 'bad input: still 65')
  t.equal(bad.stdout, '{"a":1}\n')
  const head = await sh(`"$WEIR" window tumbling 1m --time ts ${F} 2>&1 | head -1`)
  t.equal(head.code, 0, 'stdout and stderr into a reader that left (| head): 0')
  t.equal(lines(head.stdout).length, 1)
})
