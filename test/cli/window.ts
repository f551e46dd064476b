import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { weir, sh, lines, records, WEIR, ROOT, PARSE_PATHS } from '../harness/cli.js'

const chain = ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '5s', '--lateness', '2s', 'then', 'aggregate', 'count', 'sum:amount', 'avg:amount', 'p95:latency', 'distinct:page']

t.test('the spec form and the then chain give identical output', async (t) => {
  const dir = t.testdir({})
  const viaSpec = await weir(['run', 'fixtures/jobs/clicks-per-minute.json', '-o', `${dir}/spec.ndjson`])
  t.equal(viaSpec.code, 0, viaSpec.stderr)
  const viaChain = await weir([...chain, 'fixtures/clicks.ndjson', '--late-output', `${dir}/late.ndjson`])
  t.equal(viaChain.code, 0)
  t.equal(viaChain.stdout, readFileSync(`${dir}/spec.ndjson`, 'utf8'))
  const rows = records(viaChain.stdout)
  t.ok(rows.length > 800)
  t.same(Object.keys(rows[0]!), ['user', 'window_start', 'window_end', 'count', 'amount_sum', 'amount_avg', 'latency_p95', 'page_distinct'])
  const late = lines(readFileSync(`${dir}/late.ndjson`, 'utf8'))
  t.equal(late.length, 1, 'one record is later than 5 s + 2 s')
  const input = new Set(lines(readFileSync(`${ROOT}/fixtures/clicks.ndjson`, 'utf8')))
  t.ok(input.has(late[0]!), 'late records are written as their original bytes')
})

t.test('dropped late records are counted: one warning line, exit 0', async (t) => {
  const r = await weir(['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '5s', 'then', 'aggregate', 'count', 'fixtures/clicks.ndjson'])
  t.equal(r.code, 0)
  t.equal(r.stderr, 'weir: warning: 2 late record(s) dropped (keep them with --late-output FILE)\n')
})

t.test('quiet off a terminal on success; --verbose prints the accounting', async (t) => {
  const quiet = await weir([...chain, 'fixtures/clicks.ndjson', '--late-output', '/dev/null'])
  t.equal(quiet.stderr, '')
  const loud = await weir([...chain, 'fixtures/clicks.ndjson', '--late-output', '/dev/null', '-v'])
  t.equal(loud.stderr, 'weir: read 3000, wrote 879, aggregated 2999, late 1\n')
})

t.test('--no-flush stops at the end of input without firing open windows', async (t) => {
  const input = '{"u":"a","t":0}\n{"u":"a","t":70000}\n'
  const flushed = await weir(['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count'], { stdin: input })
  t.equal(lines(flushed.stdout).length, 2)
  const kept = await weir(['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count', '--no-flush'], { stdin: input })
  t.equal(kept.code, 0)
  t.same(records(kept.stdout), [{ u: 'a', window_start: 0, window_end: 60000, count: 1 }], 'only the window the watermark closed')
})

t.test('window alone adds window_start and window_end, keeping the bytes', async (t) => {
  const r = await weir(['window', 'tumbling', '1m', '--time', 'ts'], { stdin: '{"ts":"2024-05-01T10:00:30Z", "n":1.50}\n' })
  t.equal(r.stdout, '{"ts":"2024-05-01T10:00:30Z", "n":1.50,"window_start":"2024-05-01T10:00:00.000Z","window_end":"2024-05-01T10:01:00.000Z"}\n')
})

t.test('a missing time field names the line (exit 65); --on-error skip counts and goes on', async (t) => {
  const input = '{"ts":1}\n{"x":2}\n{"ts":3}\n'
  const r = await weir(['window', 'tumbling', '1s', '--time', 'ts'], { stdin: input })
  t.equal(r.code, 65)
  t.equal(r.stderr, "weir: stdin:2: time field 'ts' is missing\n")
  const s = await weir(['window', 'tumbling', '1s', '--time', 'ts', '--on-error', 'skip'], { stdin: input })
  t.equal(s.code, 0)
  t.equal(lines(s.stdout).length, 2)
  t.equal(s.stderr, 'weir: warning: 1 bad record(s) skipped\n')
  const dir = t.testdir({})
  const d = await weir(['window', 'tumbling', '1s', '--time', 'ts', '--on-error', 'dead-letter', '--dead-letter', `${dir}/dead.ndjson`], { stdin: input })
  t.equal(d.code, 0)
  t.equal(readFileSync(`${dir}/dead.ndjson`, 'utf8'), '{"source":"stdin","line":2,"reason":"time field \'ts\' is missing","raw":"{\\"x\\":2}"}\n')
})

t.test('usage errors: a time window without a time, a bad duration, an unknown aggregate', async (t) => {
  for (const [args, msg] of [
    [['window', 'tumbling', '1m'], /need a time: --time FIELD/],
    [['window', 'tumbling', '1x', '--time', 't'], /expected a number with a unit/],
    [['window', 'sliding', '1m', '2m', '--time', 't'], /slide 2m is longer than size 1m/],
    [['aggregate', 'cnt'], /unknown function 'cnt'/],
    [['aggregate', 'sum'], /sum needs a field/],
    // the watermark's options without an event time, and an option given twice: refused, not taken
    [['window', 'count', '2', '--max-delay', '5s'], /--max-delay applies to --time FIELD only/],
    [['window', 'global', '--idle-timeout', '1s'], /--idle-timeout applies to --time FIELD only/],
    [['process', 'fixtures/fn/failed-logins.mjs', '--time-unit', 's'], /--time-unit applies to --time FIELD only/],
    [['window', 'tumbling', '1s', '--time', 'ts', '--time', 'ts'], /--time given 2 times: give it once/],
    [['window', 'tumbling', '1s', '--time', 'ts', '--max-delay', '5s', '--max-delay', '1s'], /--max-delay given 2 times/],
  ] as const) {
    const r = await weir([...args], { stdin: '' })
    t.equal(r.code, 64, args.join(' '))
    t.match(r.stderr, msg)
  }
})

t.test('idle timeout: on a live input, a window closes while the input is quiet', async (t) => {
  // stdin stays open: only the idle timeout can close the window
  const child = spawn(process.execPath, [WEIR, 'window', 'tumbling', '100ms', '--time', 't', '--idle-timeout', '300ms', 'then', 'aggregate', 'count'], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.setEncoding('utf8')
  const firstLine = new Promise<string>((resolve) =>
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(out)
    }),
  )
  child.stdin.write('{"t":1000}\n{"t":1050}\n')
  const got = await firstLine
  t.same(JSON.parse(got.split('\n')[0]!), { window_start: 1000, window_end: 1100, count: 2 })
  child.stdin.end()
  await new Promise((r) => child.on('close', r))
})

t.test('output is not held back on a live input: each result reaches stdout at once', async (t) => {
  const child = spawn(process.execPath, [WEIR, 'filter', 'r.n % 2 === 0'], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdout.setEncoding('utf8')
  const seen: string[] = []
  const next = () => new Promise<string>((resolve) => child.stdout.once('data', resolve))
  for (const n of [2, 4]) {
    const p = next()
    child.stdin.write(`{"n":${n - 1}}\n{"n":${n}}\n`)
    seen.push(await p)
  }
  t.same(seen, ['{"n":2}\n', '{"n":4}\n'])
  child.stdin.end()
  await new Promise((r) => child.on('close', r))
})

t.test('running aggregate without a window: one row per key at the end, or updates', async (t) => {
  const input = '{"u":"b","x":1}\n{"u":"a","x":2}\n{"u":"b","x":null}\n{"u":"b","x":4}\n'
  const r = await weir(['keyby', 'u', 'then', 'aggregate', 'count', 'sum:x', 'count:x'], { stdin: input })
  t.same(records(r.stdout), [
    { u: 'a', count: 1, x_sum: 2, x_count: 1 },
    { u: 'b', count: 3, x_sum: 5, x_count: 2 },
  ])
  const u = await weir(['keyby', 'u', 'then', 'aggregate', 'sum:x=total', '--emit', 'updates'], { stdin: input })
  t.same(records(u.stdout), [{ u: 'b', total: 1 }, { u: 'a', total: 2 }, { u: 'b', total: 1 }, { u: 'b', total: 5 }])
})

t.test('pipe chain of separate processes: stateless stages compose through real pipes', async (t) => {
  const r = await sh('cat fixtures/clicks.ndjson | "$WEIR" keyby user | "$WEIR" filter \'r.event === "purchase"\' | "$WEIR" window tumbling 1m --time ts | wc -l')
  t.equal(r.code, 0, r.stderr)
  t.ok(Number(r.stdout.trim()) > 100)
})

t.test('bad input found by aggregate or window obeys --on-error too', async (t) => {
  const s = await weir(['aggregate', 'sum:x', '--on-error', 'skip'], { stdin: '{"x":"a"}\n{"x":2}\n' })
  t.same(records(s.stdout), [{ x_sum: 2 }], 'the bad record changes no accumulator')
  t.equal(s.stderr, 'weir: warning: 1 bad record(s) skipped\n')
  const f = await weir(['aggregate', 'sum:x'], { stdin: '{"x":1}\n{"x":"a"}\n' })
  t.equal(f.code, 65)
  t.equal(f.stderr, 'weir: stdin:2: sum:x: expected a number, got "a"\n')
  const w = await weir(['window', 'tumbling', '1s', '--time', 't', '--on-error', 'skip'], { stdin: '5\n{"t":1}\n' })
  t.equal(lines(w.stdout).length, 1)
})

t.test('ISO times: impossible dates and times without a zone are bad input', async (t) => {
  for (const bad of ['2024-05-01T10:00:30', '2024-02-30T10:00:30Z', '2024-13-01T00:00:00Z', '2024-05-01T10:00:30+2']) {
    const r = await weir(['window', 'tumbling', '1m', '--time', 't'], { stdin: JSON.stringify({ t: bad }) + '\n' })
    t.equal(r.code, 65, bad)
  }
  const ok = await weir(['window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count'], { stdin: '{"t":"2024-02-29T23:59:59-05:00"}\n' })
  t.same(records(ok.stdout), [{ window_start: '2024-03-01T04:59:00.000Z', window_end: '2024-03-01T05:00:00.000Z', count: 1 }])
})

t.test('options that would change nothing are refused', async (t) => {
  for (const args of [
    ['window', 'count', '5', '--time', 't'],
    ['window', 'session', '1m', '--time', 't', '--offset', '1m'],
    ['window', 'tumbling', '1m', '--processing-time', '--lateness', '5s'],
    ['window', 'tumbling', '1m', '--ingestion-time', '--max-delay', '5s'],
  ]) {
    const r = await weir(args, { stdin: '' })
    t.equal(r.code, 64, args.join(' '))
  }
  const clash = await weir(['keyby', 'count', 'then', 'aggregate', 'count'], { stdin: '{"count":"k"}\n' })
  t.equal(clash.code, 64)
  t.match(clash.stderr, /rename it with =NAME/)
})

t.test('a second aggregate after a windowed one aggregates its rows; words after -- are files', async (t) => {
  const r = await weir(['keyby', 'u', 'then', 'window', 'tumbling', '10ms', '--time', 't', 'then', 'aggregate', 'count', 'then', 'aggregate', 'max:count'], {
    stdin: '{"u":"a","t":1}\n{"u":"a","t":2}\n{"u":"a","t":15}\n',
  })
  t.same(records(r.stdout), [{ u: 'a', count_max: 2 }])
  const d = await weir(['aggregate', 'count', '--', 'fixtures/clicks.ndjson'], { stdin: '{"a":1}\n' })
  t.same(records(d.stdout), [{ count: 3000 }])
})

t.test('--stats FILE: every record read is accounted for, as JSON, however the job ends', async (t) => {
  const dir = t.testdir({})
  const ok = await weir([...chain, 'fixtures/clicks.ndjson', '--late-output', '/dev/null', '--stats', `${dir}/ok.json`])
  t.equal(ok.code, 0)
  const s = JSON.parse(readFileSync(`${dir}/ok.json`, 'utf8'))
  t.same(s, { status: 'ok', read: 3000, written: 0, linesWritten: 879, filtered: 0, consumed: 2999, late: 1, lateDropped: 0, skipped: 0, deadLettered: 0, failed: 0, replayed: 0 })
  t.equal(s.read, s.written + s.consumed + s.late + s.filtered + s.skipped + s.deadLettered, 'read = written + consumed + late + filtered + skipped + dead-lettered')
  const bad = await weir(['filter', 'r.n > 1', '--stats', `${dir}/bad.json`], { stdin: '{"n":1}\n{"n":2}\n{"n":\n' })
  t.equal(bad.code, 65)
  t.same(JSON.parse(readFileSync(`${dir}/bad.json`, 'utf8')), { status: 'failed', read: 3, written: 1, linesWritten: 1, filtered: 1, consumed: 0, late: 0, lateDropped: 0, skipped: 0, deadLettered: 0, failed: 1, replayed: 0 })
})

t.test('--stats: each record read has one fate, however many lines it makes or rows are made beside it (decisions.md 34)', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","t":1000}\n{"u":"b","t":2000}\n{"u":"a","t":3000}\n{"u":"a","t":70000}\n' })
  const stats = async (argv: string[]) => {
    const r = await weir([...argv, `${dir}/in.ndjson`, '--stats', `${dir}/s.json`])
    t.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`)
    const s = JSON.parse(readFileSync(`${dir}/s.json`, 'utf8')) as Record<string, number>
    t.equal(s.read, s.written! + s.filtered! + s.consumed! + s.late! + s.skipped! + s.deadLettered!, `${argv.join(' ')}: one fate each`)
    return s
  }
  t.match(await stats(['window', 'sliding', '2s', '1s', '--time', 't']), { read: 4, written: 4, linesWritten: 8 }, 'a sliding window writes a record once per window')
  t.match(await stats(['window', 'session', '5s', '--time', 't']), { read: 4, written: 0, consumed: 4, linesWritten: 4 }, 'a session holds its records until it fires')
  t.match(await stats(['keyby', 'u', 'then', 'aggregate', 'count', '--emit', 'updates']), { read: 4, consumed: 4, written: 0, linesWritten: 4 })
  t.match(
    await stats(['keyby', 'u', 'then', 'window', 'sliding', '2s', '1s', '--time', 't', 'then', 'filter', 'r.t > 1000', 'then', 'aggregate', 'count']),
    { read: 4, filtered: 1, consumed: 3, written: 0 },
    "a record whose copies are all filtered is filtered, though a row fires beside it",
  )
  t.match(await stats(['keyby', 'u', 'then', 'process', 'fixtures/fn/session-summary.mjs', '--time', 't']), { read: 4, consumed: 4, written: 0 })
})

t.test('--stats under | head -1: linesWritten counts the lines the output took, not those produced after its reader left', async (t) => {
  const line = '{"n":1,"pad":"' + 'x'.repeat(100) + '"}\n'
  const dir = t.testdir({ 'in.ndjson': line.repeat(20_000) })
  const r = await sh(`"$WEIR" filter true ${dir}/in.ndjson --stats ${dir}/s.json | head -1`)
  t.equal(r.code, 0, r.stderr)
  const s = JSON.parse(readFileSync(`${dir}/s.json`, 'utf8')) as Record<string, number | string>
  t.equal(s.status, 'reader-closed')
  t.ok((s.linesWritten as number) < (s.written as number), `linesWritten ${s.linesWritten} < written ${s.written}`)
  t.ok((s.linesWritten as number) * line.length <= 1 << 20, 'no more than a pipe buffer or two')
})

t.test('aggregate warns when window records reach it through a foreign program, not through a weir pipe', async (t) => {
  const piped = await sh('"$WEIR" window tumbling 1m --time ts --max-delay 20s fixtures/clicks.ndjson | "$WEIR" aggregate count')
  const then = await weir(['window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '20s', 'then', 'aggregate', 'count', 'fixtures/clicks.ndjson'])
  t.equal(piped.code, 0)
  t.equal(piped.stdout, then.stdout, 'through a weir pipe the window reaches the aggregate')
  t.equal(piped.stderr, '', 'and nothing to warn about')
  const r = await sh('"$WEIR" window tumbling 1m --time ts --max-delay 20s fixtures/clicks.ndjson | cat | "$WEIR" aggregate count')
  t.equal(r.code, 0)
  t.same(records(r.stdout), [{ count: 3000 }])
  t.match(r.stderr, /^weir: warning: aggregate: these records carry window_start and window_end, but stdin is not from a weir stage/)
  t.equal(lines(r.stderr).length, 1, 'once')
  const fused = await weir(['window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '20s', 'then', 'aggregate', 'count', 'then', 'aggregate', 'sum:count', 'fixtures/clicks.ndjson'])
  t.equal(fused.stderr, '', 'no warning when the window runs in the same process')
  t.same(records(fused.stdout), [{ count_sum: 3000 }])
})

t.test('window alone writes records as their bytes with the window added: the same output, late output, dead letters, counts and pipe as the record path', async (t) => {
  const edge = [
    '{"ts":1000,"user":"a"}',
    '  {"ts":2000 , "user":"b"}  ', // whitespace around and inside: kept, but for what follows the brace
    '{"ts":3000,"user":"c"}\r', // CRLF
    '',
    '   ',
    '{}', // no time: dead-lettered
    '{ "ts" : 4000 }', // one member, spaces
    '{"ts":"x","user":"d"}', // not a time
    '{"ts":1.5,"user":"d"}', // not an integer
    '{"ts":5000,"window_start":1,"user":"e"}', // has a window field already
    '{"ts":6000,"a":{"b":[1,{"c":"}"}]},"user":"f"}', // a brace in a nested string
    '[1,2]',
    '7',
    'not json',
    '{"ts":7000,"ts":8000,"user":"g"}', // a repeated name: the last
    '{"ts":' + '['.repeat(80) + ']'.repeat(80) + '}', // deeper than the projector tracks
    '{"ts":1,"user":"late"}', // later than the delay and the lateness
  ]
  const dir = t.testdir({})
  const body: string[] = []
  // times rise with jitter; now and then one behind the watermark, within the lateness (its window
  // fires again downstream) or beyond it (late)
  const behind = (i: number) => (i % 501 === 0 ? 30_000 : i % 251 === 0 ? 2_500 : 0)
  for (let i = 0; i < 40_000; i++)
    body.push(i % 997 === 0 ? edge[(i / 997) % edge.length]! : `{"user":"u${i % 31}","ts":${10_000 + i * 7 - (i % 13) * 40 - behind(i)},"pad":"${'x'.repeat(i % 50)}"}`)
  const iso = (ms: number) => new Date(Date.UTC(2024, 10, 25) + ms).toISOString()
  const inputs: Record<string, { text: string; args: string[] }> = {
    ms: { text: '\ufeff' + [...edge, ...body].join('\n') + '\n{"ts":999999,"user":"last"}', args: [] }, // a byte-order mark, an unterminated last line
    seconds: { text: body.map((l) => l.replace(/"ts":(\d+)/, (_, n: string) => `"ts":${Number(n) / 1000}`)).join('\n') + '\n', args: ['--time-unit', 's'] },
    iso: { text: body.map((l) => l.replace(/"ts":(\d+)/, (_, n: string) => `"ts":"${iso(Number(n))}"`)).join('\n') + '\n', args: [] },
    unicode: { text: [...edge, '{"ts":9000,"user":"ü"}', ...body.slice(0, 3000)].join('\n') + '\n', args: [] },
  }
  for (const [name, { text, args }] of Object.entries(inputs)) {
    const file = `${dir}/${name}.ndjson`
    writeFileSync(file, text)
    const run = async (mode: string, env: NodeJS.ProcessEnv) => {
      const f = (x: string) => `${file}.${mode}.${x}`
      const r = await weir(
        ['window', 'tumbling', '10s', '--time', 'ts', ...args, '--max-delay', '2s', '--lateness', '1s', file, '--late-output', f('late'), '--on-error', 'dead-letter', '--dead-letter', f('dead'), '--stats', f('stats')],
        { env },
      )
      t.equal(r.code, 0, `${name} ${mode}: ${r.stderr}`)
      const stats = JSON.parse(readFileSync(f('stats'), 'utf8')) as Record<string, unknown>
      const read = (x: string) => (existsSync(f(x)) ? readFileSync(f(x), 'utf8') : '')
      return { out: r.stdout, late: read('late'), dead: read('dead'), counts: [stats.read, stats.written, stats.late, stats.deadLettered, stats.linesWritten] }
    }
    const reference = await run('whole', { WEIR_PROJECT: '0' })
    t.ok(reference.out.length > 10_000, `${name}: the reference wrote the records`)
    t.ok(name !== 'ms' || (reference.late.length > 0 && /time field 'ts' is missing/.test(reference.dead)), `${name}: late and bad records`)
    for (const [mode, env] of PARSE_PATHS) {
      const got = await run(mode, env)
      t.equal(got.out, reference.out, `${name} ${mode}: the same bytes`)
      t.equal(got.late, reference.late, `${name} ${mode}: the same late output`)
      t.equal(got.dead, reference.dead, `${name} ${mode}: the same dead letters`)
      t.same(got.counts, reference.counts, `${name} ${mode}: the same counts (read, written, late, dead-lettered, lines)`)
    }
  }
  // through real pipes: the watermarks it moves and the lines it writes reach the next stage as the record path's
  for (const name of ['ms', 'iso']) {
    const q = `'${dir}/${name}.ndjson'`
    const w = 'window tumbling 10s --time ts --max-delay 2s --lateness 1s'
    const piped = await sh(`"$WEIR" keyby user ${q} --on-error skip | "$WEIR" ${w} --on-error skip | "$WEIR" aggregate count`)
    const fused = await sh(`"$WEIR" keyby user then ${w} then aggregate count ${q} --on-error skip`)
    t.equal(piped.code, 0, piped.stderr)
    t.equal(piped.stdout, fused.stdout, `${name}: keyby | window | aggregate = then`)
    t.ok(fused.stdout.split('\n').length > 100, 'rows per key and window')
    const rows = records(fused.stdout).map((r) => `${String(r.user)} ${String(r.window_start)}`)
    t.ok(rows.length > new Set(rows).size, `${name}: windows fired again for records within the lateness`)
  }
})
