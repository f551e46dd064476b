import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { weir, lines, sh, ROOT, PARSE_PATHS } from '../harness/cli.js'

// keyby sets the key for later stages and does not touch the record: its bytes go out unchanged
// (decisions.md 1), so numbers JSON.parse would rewrite must survive.
t.test('records pass through byte for byte', async (t) => {
  const input = [
    '{"user":"a","amount":1.0}',
    '{"user":"b","amount":1e3,"x":{"y":[1.50,2E2]}}',
    '{"user":12345678901234567890,"amount":-0}',
    '{ "user" : "c" ,  "spaced":true }',
    '{"user":"\\u00e9t\\u00e9","emoji":"😀"}',
  ]
  const r = await weir(['keyby', 'user'], { stdin: input.join('\n') + '\n' })
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
  t.equal(r.stdout, input.join('\n') + '\n')
})

t.test('the fixture passes through unchanged, from a file argument', async (t) => {
  const r = await weir(['keyby', 'user', 'fixtures/clicks.ndjson'])
  t.equal(r.code, 0)
  t.equal(r.stdout, readFileSync(`${ROOT}/fixtures/clicks.ndjson`, 'utf8'))
})

t.test('compound keys and nested paths are accepted', async (t) => {
  const cases: [string, string][] = [
    ['user,country', '{"user":"a","country":"FR"}'],
    ['payload.user_id', '{"payload":{"user_id":7}}'],
    ['items[0].sku', '{"items":[{"sku":"x1"},{"sku":"x2"}]}'],
    ['["odd key"].x', '{"odd key":{"x":false}}'],
    ['user,payload.user_id,items[0].sku', '{"user":"a","payload":{"user_id":7},"items":[{"sku":"x1"}]}'],
  ]
  for (const [fields, line] of cases) {
    const r = await weir(['keyby', fields], { stdin: line + '\n' })
    t.equal(r.code, 0, fields)
    t.equal(r.stdout, line + '\n', fields)
  }
})

t.test('a null key value is a key, not a missing field', async (t) => {
  const r = await weir(['keyby', 'user'], { stdin: '{"user":null}\n' })
  t.equal(r.code, 0)
  t.equal(r.stdout, '{"user":null}\n')
})

t.test('a key number beyond a double (1e400) is refused, not taken as the key null', async (t) => {
  // JSON.parse reads it as Infinity, which JSON writes as null: as a key it would merge with null
  const stdin = '{"k":null,"x":1}\n{"k":1E400,"x":2}\n{"k":null,"x":3}\n'
  const r = await weir(['keyby', 'k', 'then', 'aggregate', 'count'], { stdin })
  t.equal(r.code, 65)
  t.equal(r.stderr, "weir: stdin:2: key field 'k' is a number beyond ±1.8e308, which JSON cannot keep\n")
  const skipped = await weir(['keyby', 'k', 'then', 'aggregate', 'count', '--on-error', 'skip'], { stdin })
  t.equal(skipped.stdout, '{"k":null,"count":2}\n', 'skipped, the key null counts its own records only')
  const piped = await sh(`printf '${stdin.replaceAll('\n', '\\n')}' | "$WEIR" keyby k | "$WEIR" aggregate count --on-error skip`)
  t.equal(piped.stdout, skipped.stdout, 'a pipe refuses it too')
})

t.test('a record missing the key field stops the run with exit 65 and its line', async (t) => {
  const cases: [string, string, string][] = [
    ['user', '{"user":"a"}\n\n{"name":"b"}\n{"user":"c"}\n', "weir: stdin:3: key field 'user' is missing\n"],
    ['user,country', '{"user":"a","country":"FR"}\n{"user":"b"}\n', "weir: stdin:2: key field 'country' is missing\n"],
    ['payload.user_id', '{"payload":{"user_id":1}}\n{"payload":"flat"}\n', "weir: stdin:2: key field 'payload.user_id' is missing\n"],
    ['items[0].sku', '{"items":[{"sku":"x"}]}\n{"items":[]}\n', "weir: stdin:2: key field 'items[0].sku' is missing\n"],
  ]
  for (const [fields, stdin, err] of cases) {
    const r = await weir(['keyby', fields], { stdin })
    t.equal(r.code, 65, fields)
    t.equal(r.stderr, err, `${fields}: one line naming the line and the field`)
    t.equal(r.stdout, stdin.split('\n')[0] + '\n', `${fields}: records before the bad one are written`)
  }
})

t.test('a key field named like an Object method (constructor, __proto__) is missing when the record lacks it, on every parse path', async (t) => {
  for (const env of [{ WEIR_PROJECT: '0' }, { WEIR_PARSE_WORKER: '0' }, { WEIR_PARSE_WORKER: '1' }]) {
    for (const field of ['constructor', '__proto__', 'toString']) {
      const r = await weir(['keyby', field, 'then', 'aggregate', 'count'], { stdin: `{"${field}":"k"}\n{"a":1}\n`, env })
      t.equal(r.code, 65, `${field} ${JSON.stringify(env)}: exit 65`)
      t.equal(r.stderr, `weir: stdin:2: key field '${field}' is missing\n`)
    }
    const c = await weir(['keyby', 'a', 'then', 'aggregate', 'count:constructor', 'collect:constructor'], { stdin: '{"a":1}\n', env })
    t.equal(c.stdout, '{"a":1,"constructor_count":0,"constructor_collect":[]}\n', 'an aggregate of a missing field counts nothing')
    const w = await weir(['window', 'tumbling', '1m', '--time', 'constructor'], { stdin: '{"a":1}\n', env })
    t.equal(w.stderr, "weir: stdin:1: time field 'constructor' is missing\n", 'a time field too')
  }
})

t.test('a missing key field in a file names the file', async (t) => {
  const dir = t.testdir({ 'in.ndjson': '{"user":"a"}\n{"u":"b"}\n' })
  const r = await weir(['keyby', 'user', `${dir}/in.ndjson`])
  t.equal(r.code, 65)
  t.equal(r.stderr, `weir: ${dir}/in.ndjson:2: key field 'user' is missing\n`)
})

t.test('a bad field path is a usage error before any record is read', async (t) => {
  // the input is malformed: had a record been read, the exit would be 65
  for (const bad of ['a[x', 'a]', 'a.', '.a', 'user,', 'items[-1]', 'a..b']) {
    const r = await weir(['keyby', bad], { stdin: 'not json\n' })
    t.equal(r.code, 64, bad)
    t.equal(r.stdout, '', bad)
    t.equal(lines(r.stderr).length, 1, `${bad}: one line`)
    t.match(r.stderr, /^weir: field path/, bad)
  }
  const r = await weir(['keyby', 'a[x'], { stdin: '' })
  t.match(r.stderr, /field path 'a\[x': missing '\]'/)
})

t.test('keyby without fields is a usage error', async (t) => {
  const r = await weir(['keyby'], { stdin: '{"a":1}\n' })
  t.equal(r.code, 64)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^weir: /)
})

t.test("'-' among files reads stdin at that place", async (t) => {
  const dir = t.testdir({ 'a.ndjson': '{"user":"a"}\n' })
  const r = await weir(['keyby', 'user', `${dir}/a.ndjson`, '-'], { stdin: '{"user":"b"}\n' })
  t.equal(r.code, 0)
  t.equal(r.stdout, '{"user":"a"}\n{"user":"b"}\n')
})

// Miller gives two rows: 64-bit ids are everyday data, and JSON.parse rounds them to one double.
t.test('integer keys and distinct values beyond 2^53 keep their exact digits, in memory and in LMDB', async (t) => {
  const input = '{"id":9007199254740993,"t":1}\n{"id":9007199254740992,"t":2}\n{"id":9007199254740993,"t":3}\n'
  const dir = t.testdir({ 'in.ndjson': input })
  const want = ['{"id":9007199254740992,"count":1}', '{"id":9007199254740993,"count":2}']
  const r = await weir(['keyby', 'id', 'then', 'aggregate', 'count'], { stdin: input })
  t.same(lines(r.stdout), want, 'two keys, in the order of their digits')
  const d = await weir(['keyby', 'id', 'then', 'aggregate', 'count', `${dir}/in.ndjson`, '--job-dir', `${dir}/job`], { env: { WEIR_PARSE_WORKER: '1' } })
  t.same(lines(d.stdout), want, 'through the parse worker and LMDB state')
  const w = await weir(['keyby', 'id', 'then', 'window', 'tumbling', '1s', '--time', 't', 'then', 'aggregate', 'count'], { stdin: input })
  t.same(lines(w.stdout), ['{"id":9007199254740992,"window_start":0,"window_end":1000,"count":1}', '{"id":9007199254740993,"window_start":0,"window_end":1000,"count":2}'])
  const n = await weir(['aggregate', 'distinct:id', 'approx-distinct:id'], { stdin: input })
  t.same(lines(n.stdout), ['{"id_distinct":2,"id_approx_distinct":2}'])
  // one value written several ways is one key, as 1 and 1.0 are; the rounded neighbour is another
  const forms = ['12345678901234567890', '12345678901234567890.0', '1.2345678901234567890e19', '12345678901234567000', '1e21', '1000000000000000000000']
  const written = forms.map((f) => `{"id":${f}}`).join('\n') + '\n'
  const k = await weir(['keyby', 'id', 'then', 'aggregate', 'count'], { stdin: written })
  t.same(lines(k.stdout), ['{"id":1000000000000000000000,"count":2}', '{"id":12345678901234567000,"count":1}', '{"id":12345678901234567890,"count":3}'])
  const dn = await weir(['aggregate', 'distinct:id'], { stdin: written })
  t.same(lines(dn.stdout), ['{"id_distinct":3}'])
})

// A lone `keyby` by top-level fields writes the bytes of the records it passes without decoding
// them (pipeline/run.ts forwardBatch); every other line takes the record path in its place. The
// reference is the whole-record path (WEIR_PROJECT=0), which never forwards bytes.
t.test('forwarded bytes: the same output, counts, dead letters and pipe as the record path', async (t) => {
  const edge = [
    '{"user":"a","n":1}',
    '  {"user":"b" , "n":2}  ', // whitespace around and inside: kept as it is
    '{"user":"c","n":3}\r', // CRLF: written without its CR
    '',
    '   ',
    '{"user":null,"n":4}', // null is a key
    '{"n":5}', // no key: dead-lettered
    'not json',
    '[1,2]', // JSON, not an object
    '7',
    '{"user":{"deep":' + '['.repeat(80) + ']'.repeat(80) + '}}', // deeper than the projector tracks
    '{"user":"d","user":"e"}', // a repeated name
    '{"a":{"user":"x"}}', // user only nested: missing
    '{"user":"f","n":6}',
  ]
  const dir = t.testdir({})
  // many lines, so the file is read in several chunks and lines are cut between them
  const body: string[] = []
  for (let i = 0; i < 40_000; i++) body.push(i % 997 === 0 ? edge[(i / 997) % edge.length]! : `{"user":"u${i % 31}","i":${i},"pad":"${'x'.repeat(i % 50)}"}`)
  const inputs: Record<string, string> = {
    ascii: '\ufeff' + [...edge, ...body].join('\n') + '\n{"user":"last"}', // a byte-order mark, an unterminated last line
    unicode: [...edge, '{"user":"ü","n":7}', ...body.slice(0, 2000)].join('\n') + '\n',
  }
  for (const [name, text] of Object.entries(inputs)) {
    const file = `${dir}/${name}.ndjson`
    writeFileSync(file, text)
    const run = async (mode: string, env: NodeJS.ProcessEnv) => {
      const r = await weir(['keyby', 'user', file, '--on-error', 'dead-letter', '--dead-letter', `${file}.${mode}.dead`, '--stats', `${file}.${mode}.stats`], { env })
      t.equal(r.code, 0, `${name} ${mode}: ${r.stderr}`)
      const stats = JSON.parse(readFileSync(`${file}.${mode}.stats`, 'utf8')) as Record<string, unknown>
      return { out: r.stdout, dead: readFileSync(`${file}.${mode}.dead`, 'utf8'), counts: [stats.read, stats.written, stats.deadLettered, stats.linesWritten] }
    }
    const reference = await run('whole', { WEIR_PROJECT: '0' })
    t.ok(reference.out.length > 100_000 || name === 'unicode', `${name}: the reference wrote the records`)
    t.match(reference.dead, /key field 'user' is missing/, `${name}: the reference dead-lettered a missing key`)
    for (const [mode, env] of PARSE_PATHS) {
      const got = await run(mode, env)
      t.equal(got.out, reference.out, `${name} ${mode}: the same bytes`)
      t.equal(got.dead, reference.dead, `${name} ${mode}: the same dead letters`)
      t.same(got.counts, reference.counts, `${name} ${mode}: the same counts (read, written, dead-lettered, lines)`)
    }
  }
  // through a real pipe: the channel counts forwarded lines, so the next stage sees the stream end
  const q = `'${dir}/ascii.ndjson'`
  const piped = await sh(`"$WEIR" keyby user ${q} --on-error skip | "$WEIR" aggregate count --on-error skip`)
  const fused = await weir(['keyby', 'user', 'then', 'aggregate', 'count', `${dir}/ascii.ndjson`, '--on-error', 'skip'])
  t.equal(piped.code, 0, piped.stderr)
  t.equal(piped.stdout, fused.stdout, 'keyby | aggregate = keyby then aggregate')
  t.ok(fused.stdout.split('\n').length > 30, 'a row per key')
})
