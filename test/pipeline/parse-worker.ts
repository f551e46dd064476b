// Projected parsing (io/batches.ts), on the main thread or in the parse worker (io/parse-worker.ts),
// must change nothing a user can see: the same rows, late records, dead letters, errors and counts
// as parsing whole records with JSON.parse (WEIR_PROJECT=0, the reference).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { weir, sh } from '../harness/cli.js'
import { fieldsNeeded } from '../../lib/pipeline/fields.js'
import { parseStage } from '../../lib/commandline/parse-stage.js'

/** The three ways records are parsed: whole (the reference), projected here, projected in the worker. */
const MODES = [
  { name: 'whole', env: { WEIR_PROJECT: '0' } },
  { name: 'main', env: { WEIR_PARSE_WORKER: '0' } },
  { name: 'worker', env: { WEIR_PARSE_WORKER: '1' } },
] as const

async function stagesOf(...spans: string[][]) {
  const out = []
  for (const s of spans) out.push((await parseStage(s, s[0]!)).stage)
  return out
}

t.test('fieldsNeeded: only when every stage names what it reads', async (t) => {
  t.same(
    fieldsNeeded(await stagesOf(['keyby', 'user,device.os'], ['window', 'tumbling', '1m', '--time', 'ts'], ['aggregate', 'count', 'sum:amount'])),
    ['user', 'device', 'ts', 'amount'],
  )
  t.same(fieldsNeeded(await stagesOf(['keyby', 'user'], ['aggregate', 'count'])), ['user', 'window_start', 'window_end'], 'a running aggregate warns on windowed records')
  t.same(fieldsNeeded(await stagesOf(['filter', 'r.a'])), ['a'], 'an expression that reads r.name only')
  t.equal(fieldsNeeded(await stagesOf(['filter', 'r[k]'])), undefined, 'an expression that may read anything')
  t.same(fieldsNeeded(await stagesOf(['map', '({x: r.a})'], ['keyby', 'x'])), ['a'], 'after map, stages read what map made')
  t.same(fieldsNeeded(await stagesOf(['window', 'tumbling', '1m', '--time', 'ts'])), ['ts', 'window_start', 'window_end'], 'window alone adds to the bytes it reads, and looks for the fields it adds')
  t.equal(fieldsNeeded(await stagesOf(['keyby', '[0]'])), undefined, 'a top-level array index')
  // after a pipe from `weir keyby user,country`: the key's fields only where a stage reads the key
  const keyed = { key: { fields: ['user', 'country'] }, names: ['user', 'country'] }
  t.same(fieldsNeeded(await stagesOf(['window', 'tumbling', '1m', '--time', 'ts']), keyed), ['ts', 'window_start', 'window_end'], 'a lone time window passes the key on unread')
  t.same(fieldsNeeded(await stagesOf(['filter', 'r.a']), keyed), ['a'], 'so does a filter')
  t.same(fieldsNeeded(await stagesOf(['aggregate', 'count']), keyed), ['user', 'country', 'window_start', 'window_end'], 'an aggregate keys by them')
  t.same(fieldsNeeded(await stagesOf(['window', 'session', '1m', '--time', 'ts']), keyed), ['user', 'country', 'ts', 'window_start', 'window_end'], 'a session window keeps state by key')
})

t.test('window alone writes whole records on every parse path, those that carry window fields already too', async (t) => {
  const dir = t.testdir({
    'in.ndjson':
      '{"ts":1000,"a":{"b":[1,2.50]},"big":12345678901234567890}\n{"ts":2000,"window_start":"x","n":1.0}\n{"ts":3000}\n{ "ts" : 4000 , "s":"é" }\n',
  })
  const outs = []
  for (const m of MODES) {
    const r = await weir(['window', 'sliding', '2s', '1s', '--time', 'ts', `${dir}/in.ndjson`], { env: m.env })
    t.equal(r.code, 0, r.stderr)
    outs.push(r.stdout)
  }
  t.match(outs[0], /"big":12345678901234567890,"window_start":0,"window_end":2000\}/, 'original bytes, window appended')
  t.match(outs[0], /\{"ts":2000,"window_start":1000,"n":1,"window_end":3000\}/, 'a record with a window field is written whole, with its window')
  for (let i = 1; i < outs.length; i++) t.equal(outs[i], outs[0], MODES[i]!.name)
})

const job = (dir: string, files: string[]) => [
  'keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--max-delay', '5s', '--lateness', '2s',
  'then', 'aggregate', 'count', 'sum:amount', 'distinct:page', ...files,
  '--late-output', `${dir}/late.ndjson`, '--on-error', 'dead-letter', '--dead-letter', `${dir}/dead.ndjson`, '-v',
]

t.test('the same output, late records, dead letters and counts with and without the worker', async (t) => {
  const dir = t.testdir({
    'bad.ndjson': '{"user":"x","ts":1732521600000,"amount":1}\nnot json\n{"user":"y","amount":2}\n{"user":"z","ts":1732523101327,"amount":"3"}\n[1,2]\n5\nnull\n',
  })
  const files = ['fixtures/clicks.ndjson', `${dir}/bad.ndjson`, 'fixtures/clicks.ndjson']
  const results = []
  for (const m of MODES) {
    const r = await weir(job(dir, files), { env: m.env })
    results.push({
      code: r.code,
      stdout: r.stdout,
      stderr: r.stderr,
      late: readFileSync(`${dir}/late.ndjson`, 'utf8'),
      dead: readFileSync(`${dir}/dead.ndjson`, 'utf8'),
    })
  }
  t.equal(results[0]!.code, 0)
  // (the string amount's time is the fixture's last: a late record would go to the late output first, as in a pipe)
  t.equal(results[0]!.dead.split('\n').length - 1, 6, 'six bad lines: not JSON, no time, a string amount, three that are not objects')
  t.ok(results[0]!.late.length > 0)
  t.same(results[1], results[0], 'projected on the main thread')
  t.same(results[2], results[0], 'projected in the worker')
})

t.test('many small inputs read as their lines in one: one projector and one read buffer serve them all, on every path', async (t) => {
  // each input its own batcher; the projector (its recent texts, each field's last number) and
  // the worker's read buffer go from one input to the next
  const files: Record<string, string> = {}
  let all = ''
  for (let i = 0; i < 120; i++) {
    let text = ''
    for (let j = 0; j < (i % 7) + (i % 11 === 0 ? 0 : 1); j++) {
      const ts = 1732521600000 + (i * 7 + j) * 1000
      text += i % 13 === 5 && j === 0 ? `{"user":"ü${i % 3}","ts":${ts},"amount":${j}.0}\n` : `{"user":"u${(i + j) % 5}","ts":${ts},"amount":${i}}\n`
    }
    if (i % 17 === 3) text += `{"user":"x","ts":`  // unterminated and malformed: a dead letter of its own input
    files[`f${String(i).padStart(3, '0')}.ndjson`] = text
    all += text.endsWith('\n') || text === '' ? text : text + '\n'
  }
  const dir = t.testdir({ ...files, 'all.ndjson': all })
  const names = Object.keys(files).map((f) => `${dir}/${f}`)
  const job = (inputs: string[]) => ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', '--on-error', 'skip', 'then', 'aggregate', 'count', 'sum:amount', 'last:amount', ...inputs]
  const reference = await weir(job([`${dir}/all.ndjson`]), { env: MODES[0].env })
  t.equal(reference.code, 0)
  t.ok(reference.stdout.split('\n').length > 20)
  for (const m of MODES) {
    const r = await weir(job(names), { env: m.env })
    t.same({ code: r.code, stdout: r.stdout }, { code: 0, stdout: reference.stdout }, `${m.name}: the lines of 120 inputs as in one`)
  }
})

t.test('a malformed line fails with the same message, after the same output', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"u":"a","t":1}\n{"u":"a","t":70000}\n{"u":\n{"u":"b","t":1}\n' })
  const args = ['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count', `${dir}/in.ndjson`]
  const main = await weir(args, { env: MODES[0].env })
  const worker = await weir(args, { env: MODES[2].env })
  t.same(await weir(args, { env: MODES[1].env }), main)
  t.equal(main.code, 65)
  t.match(main.stderr, /in\.ndjson:3: malformed JSON/)
  t.same(worker, main)
})

t.test('backpressure through the worker: a slow reader still gets every row', async (t) => {
  const r = await sh(
    'node fixtures/gen.mjs --events 60000 --keys 3000 --rate 50 > "$TMPDIR/big.ndjson" && ' +
      'WEIR_PARSE_WORKER=1 "$WEIR" keyby user then window tumbling 1s --time ts --max-delay 5s then aggregate count "$TMPDIR/big.ndjson" | (sleep 1; cat) | wc -l && ' +
      'WEIR_PARSE_WORKER=0 "$WEIR" keyby user then window tumbling 1s --time ts --max-delay 5s then aggregate count "$TMPDIR/big.ndjson" | wc -l',
    { env: { TMPDIR: t.testdir({}) } },
  )
  t.equal(r.code, 0, r.stderr)
  const [a, b] = r.stdout.trim().split('\n').map(Number)
  t.ok(a! > 10000)
  t.equal(a, b)
})

t.test('a line that is not UTF-8 is bad input on both paths', async (t) => {
  const dir = t.testdir({})
  const { writeFileSync } = await import('node:fs')
  writeFileSync(`${dir}/in.ndjson`, Buffer.concat([Buffer.from('{"u":"a"}\n{"u":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"u":"b"}\n')]))
  const args = ['keyby', 'u', 'then', 'aggregate', 'count', `${dir}/in.ndjson`]
  for (const m of MODES) {
    const r = await weir(args, { env: m.env })
    t.equal(r.code, 65, m.name)
    t.equal(r.stderr, `weir: ${dir}/in.ndjson:2: not valid UTF-8\n`)
  }
})

t.test('every record keeps its exact bytes through the worker: non-ASCII, CRLF, blank, huge and unterminated lines', async (t) => {
  // Event times fall by more than a window per line, so every record after the first is late and
  // goes to --late-output as its original text: the late file shows each record's bytes.
  const { writeFileSync } = await import('node:fs')
  const dir = t.testdir({})
  const parts: Buffer[] = []
  const expected: string[] = []
  let ts = 1732521600000 + 5000 * 61000
  for (let i = 0; i < 5000; i++) {
    ts -= 61000
    const kind = i % 23
    const user = kind === 3 ? 'é😀' : kind === 5 ? 'x'.repeat(150000) : `u${i % 7}`
    const line =
      kind === 7
        ? `{ "ts" : ${ts} , "user":"us\\u0065r${i}", "n":1.50 }`
        : kind === 11
          ? `{"user":${JSON.stringify(user)},"ts":${ts},"nested":{"a":[1,"日本",{"b":null}]},"big":12345678901234567890}`
          : `{"ts":${ts},"user":${JSON.stringify(user)},"amount":${i}}`
    expected.push(line)
    parts.push(Buffer.from(line + (kind === 13 ? '\r\n' : '\n')))
    if (kind === 17) parts.push(Buffer.from('\n  \t\r\n'))
  }
  const last = `{"ts":1,"user":"tail"}`
  expected.push(last)
  parts.push(Buffer.from(last)) // no newline at the end
  writeFileSync(`${dir}/in.ndjson`, Buffer.concat(parts))
  const results = []
  for (const m of MODES) {
    const r = await weir(
      ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', 'then', 'aggregate', 'count', `${dir}/in.ndjson`, '--late-output', `${dir}/late-${m.name}.ndjson`, '-v'],
      { env: m.env },
    )
    t.equal(r.code, 0, r.stderr)
    results.push({ stdout: r.stdout, stderr: r.stderr, late: readFileSync(`${dir}/late-${m.name}.ndjson`, 'utf8') })
  }
  t.same(results[1], results[0], 'projected on the main thread')
  t.same(results[2], results[0], 'projected in the worker')
  t.same(results[0]!.late.split('\n').slice(0, -1), expected.slice(1), 'the late records, byte for byte, in input order')
})

t.test('values of every type, and tens of thousands of distinct keys, read the same', async (t) => {
  const { writeFileSync } = await import('node:fs')
  const dir = t.testdir({})
  const odd = ['true', 'false', 'null', '{"a":[1,2]}', '[1,"x"]', JSON.stringify('y'.repeat(100)), '-0', '1e400', '0.1', '"é"', '"a\\"b"']
  const lines: string[] = []
  for (let i = 0; i < 90000; i++) {
    const k = i % 10 === 0 ? odd[(i / 10) % odd.length]! : JSON.stringify(`k${i % 20000 === 7 ? 7 : i}`)
    lines.push(`{"k":${k},"n":${i % 7 === 0 ? '"x"' : i % 13 === 0 ? 'null' : i}}`)
  }
  writeFileSync(`${dir}/in.ndjson`, lines.join('\n') + '\n')
  const outs = []
  for (const m of MODES) {
    const r = await weir(['keyby', 'k', 'then', 'aggregate', 'count', 'sum:n', `${dir}/in.ndjson`, '--on-error', 'skip', '-v'], { env: m.env })
    t.equal(r.code, 0, r.stderr)
    outs.push(r)
  }
  t.ok(outs[0]!.stdout.split('\n').length > 66000, 'one row per key')
  t.same(outs[1], outs[0], 'projected on the main thread')
  t.same(outs[2], outs[0], 'projected in the worker')
})

t.test('filter and map read only the fields their expressions name, with the same results', async (t) => {
  const dir = t.testdir({
    'in.ndjson': [
      '{"event":"purchase","user":"a","amount":3,"extra":{"deep":[1,2]}}',
      '{"event":"view","user":"b"}',
      '{"user":"c","amount":1.50,"event":"purchase"}',
      '[1,2]',
      '7',
      'null',
      '{"event":"purchase","user":"d","amount":null,"event":"view"}',
      '{"event":"purchase","nested":{"event":"x"},"user":"é"}',
      '',
    ].join('\n'),
  })
  const jobs = [
    ['filter', 'r?.event === "purchase"'],
    ['filter', 'r?.event === "purchase"', 'then', 'map', '({user: r.user, cents: r.amount * 100})'],
    ['map', '({u: r?.user ?? null, e: r?.extra?.deep ?? null})', 'then', 'filter', 'r.u !== null'],
    ['filter', 'r.event === "purchase"'], // throws on 7 and null: the same error, after the same output
  ]
  for (const job of jobs) {
    const outs = []
    for (const m of MODES) outs.push(await weir([...job, `${dir}/in.ndjson`], { env: m.env }))
    t.same(outs[1], outs[0], `${job.join(' ')}: projected on the main thread`)
    t.same(outs[2], outs[0], `${job.join(' ')}: projected in the worker`)
  }
  const first = await weir([...jobs[0]!, `${dir}/in.ndjson`])
  t.equal(first.stdout.split('\n')[0], '{"event":"purchase","user":"a","amount":3,"extra":{"deep":[1,2]}}', 'a record that passes keeps its bytes')
  const last = await weir([...jobs[3]!, `${dir}/in.ndjson`])
  t.equal(last.code, 1)
  t.match(last.stderr, /in\.ndjson:6: filter 'r\.event === "purchase"' threw/)
})

t.test('a byte-order mark on line 1 of each input is skipped on every parse path, and a quoted line never carries raw control bytes', async (t) => {
  const dir = t.testdir({})
  const { writeFileSync } = await import('node:fs')
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  writeFileSync(`${dir}/a.ndjson`, Buffer.concat([bom, Buffer.from('{"u":"a","t":1}\n{"u":"b","t":2}\n')]))
  writeFileSync(`${dir}/b.ndjson`, Buffer.concat([bom, Buffer.from('{"u":"é","t":3}\n')]))
  writeFileSync(`${dir}/c.ndjson`, '{"u":"a","t":1}\n{"t":\x1b[2J\x9b\x07}\n')
  for (const m of MODES) {
    const r = await weir(['keyby', 'u', 'then', 'aggregate', 'count', `${dir}/a.ndjson`, `${dir}/b.ndjson`], { env: m.env })
    t.equal(r.code, 0, `${m.name}: ${r.stderr}`)
    t.same(r.stdout, '{"u":"a","count":1}\n{"u":"b","count":1}\n{"u":"é","count":1}\n', m.name)
    const bad = await weir(['keyby', 'u', 'then', 'aggregate', 'count', `${dir}/c.ndjson`], { env: m.env })
    t.equal(bad.code, 65, m.name)
    t.notMatch(bad.stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/, `${m.name}: no control byte in ${JSON.stringify(bad.stderr)}`)
    t.match(bad.stderr, /^weir: .*c\.ndjson:2: malformed JSON: .*"\{"t":\\u001b\[2J\\u009b\\u0007\}" is not valid JSON\n$/, m.name)
  }
})

t.test('dead letters are NDJSON on every parse path: jq -r .raw gives the lines back, raw_base64 the exact bytes of a line not UTF-8', async (t) => {
  const dir = t.testdir({})
  const { writeFileSync } = await import('node:fs')
  const notUtf8 = Buffer.concat([Buffer.from('{"u":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])
  const badLines = ['not json', '{"n":"é\\u0001"}', '  {"u":1} tail']
  writeFileSync(
    `${dir}/in.ndjson`,
    Buffer.concat([Buffer.from(`{"u":"a"}\n${badLines[0]}\n${badLines[1]}\n`), notUtf8, Buffer.from(`\n${badLines[2]}\n{"u":"b"}\n`)]),
  )
  const args = ['keyby', 'u', 'then', 'aggregate', 'count', `${dir}/in.ndjson`, '--on-error', 'dead-letter', '--dead-letter', `${dir}/dead.ndjson`]
  const seen: string[] = []
  for (const m of MODES) {
    const r = await weir(args, { env: m.env })
    t.equal(r.code, 0, `${m.name}: ${r.stderr}`)
    const text = readFileSync(`${dir}/dead.ndjson`, 'utf8')
    seen.push(text)
    const letters = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
    t.same(Object.keys(letters[0]!), ['source', 'line', 'reason', 'raw'], m.name)
    t.same(letters.map((l) => l.line), [2, 3, 4, 5], m.name)
    t.same(letters.map((l) => l.source), [1, 2, 3, 4].map(() => `${dir}/in.ndjson`), m.name)
    t.same(letters.filter((l) => l.line !== 4).map((l) => l.raw), badLines, `${m.name}: raw is the line, byte for byte`)
    t.equal(letters[1]!.reason, "key field 'u' is missing", m.name)
    t.equal(letters[2]!.reason, 'not valid UTF-8', m.name)
    t.same(Buffer.from(letters[2]!.raw_base64 as string, 'base64'), notUtf8, `${m.name}: the exact bytes`)
    t.same(letters.filter((l) => 'raw_base64' in l).length, 1, `${m.name}: only where the bytes are not UTF-8`)
  }
  t.equal(seen[1], seen[0], 'projected on the main thread')
  t.equal(seen[2], seen[0], 'projected in the worker')
  const jq = await sh(`jq -r .raw ${dir}/dead.ndjson`)
  if (jq.code === 127) return
  t.equal(jq.stdout, [badLines[0], badLines[1], notUtf8.toString('utf8'), badLines[2]].join('\n') + '\n', 'jq -r .raw')
})
