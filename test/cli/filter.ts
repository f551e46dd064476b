import t from 'tap'
import { weir, sh, lines } from '../harness/cli.js'

const input = ['{"user":"a","amount":5}', '{"user":"b","amount":1.0}', '', '{"user":"c","amount":1e3}\r', '{"user":"d","amount":12345678901234567890}'].join('\n') + '\n'

t.test('keeps matching records byte for byte, tolerating blank lines and CRLF', async (t) => {
  const r = await weir(['filter', 'r.amount >= 1'], { stdin: input })
  t.equal(r.code, 0)
  t.same(lines(r.stdout), ['{"user":"a","amount":5}', '{"user":"b","amount":1.0}', '{"user":"c","amount":1e3}', '{"user":"d","amount":12345678901234567890}'])
})

t.test('reads files given as arguments, in order', async (t) => {
  const r = await weir(['filter', 'r.event === "purchase" && r.amount > 190', 'fixtures/clicks.ndjson', 'fixtures/clicks.ndjson'])
  t.equal(r.code, 0)
  const got = lines(r.stdout)
  t.ok(got.length > 0 && got.length % 2 === 0, 'the same matches from both copies')
  t.same(got.slice(0, got.length / 2), got.slice(got.length / 2))
})

t.test('an expression that throws names the line and exits 1', async (t) => {
  const r = await weir(['filter', 'r.device.os === "ios"'], { stdin: '{"device":{"os":"ios"}}\n{"x":1}\n' })
  t.equal(r.code, 1)
  t.match(r.stderr, /^weir: stdin:2: filter 'r\.device\.os === "ios"' threw: Cannot read properties of undefined/)
  t.equal(lines(r.stderr).length, 1, 'one line, no stack trace')
  t.same(lines(r.stdout), ['{"device":{"os":"ios"}}'], 'what came before the failure is written')
})

t.test('a malformed line stops the run with file, line and exit 65', async (t) => {
  const r = await weir(['filter', 'true', '-'], { stdin: '{"a":1}\n\n{"a": nope}\n{"a":3}\n' })
  t.equal(r.code, 65)
  t.match(r.stderr, /^weir: stdin:3: malformed JSON: /)
  t.same(lines(r.stdout), ['{"a":1}'])
})

t.test('an invalid expression is a usage error before any record is read', async (t) => {
  for (const bad of ['r.a >', 'r.a; r.b', 'r.a), (r.b']) {
    const r = await weir(['filter', bad], { stdin: '{"a":1}\n' })
    t.equal(r.code, 64, bad)
    t.match(r.stderr, /invalid expression/)
    t.equal(r.stdout, '')
  }
})

t.test('a missing input file exits 66', async (t) => {
  const r = await weir(['filter', 'true', 'no/such/file.ndjson'])
  t.equal(r.code, 66)
  t.equal(r.stderr, 'weir: no/such/file.ndjson: no such file\n')
})

t.test('writing to a closed pipe exits quietly with 0', async (t) => {
  const r = await sh('cat fixtures/clicks.ndjson fixtures/clicks.ndjson fixtures/clicks.ndjson | "$WEIR" filter true | head -1; echo "status ${PIPESTATUS[1]}"')
  t.equal(r.stderr, '')
  t.match(r.stdout, /^\{"ts".*\nstatus 0\n$/)
})

t.test('--output writes to a file', async (t) => {
  const dir = t.testdir({})
  const r = await weir(['filter', 'r.n > 1', '-o', `${dir}/sub/out.ndjson`], { stdin: '{"n":1}\n{"n":2}\n' })
  t.equal(r.code, 0)
  const { readFileSync } = await import('node:fs')
  t.equal(readFileSync(`${dir}/sub/out.ndjson`, 'utf8'), '{"n":2}\n')
})

t.test('empty input is not an error', async (t) => {
  const r = await weir(['filter', 'true'], { stdin: '' })
  t.equal(r.code, 0)
  t.equal(r.stdout, '')
})
