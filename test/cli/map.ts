import t from 'tap'
import { readFileSync } from 'node:fs'
import { weir, sh, lines, records, ROOT } from '../harness/cli.js'

const clicks = readFileSync(`${ROOT}/fixtures/clicks.ndjson`, 'utf8')

t.test('replaces each record by the value of the expression', async (t) => {
  const r = await weir(['map', '({...r, cents: r.amount*100})'], { stdin: '{"user":"a","amount":5}\n\n{"user":"b","amount":0.5,"x":[1]}\n' })
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
  t.equal(r.stdout, '{"user":"a","amount":5,"cents":500}\n{"user":"b","amount":0.5,"x":[1],"cents":50}\n')
})

t.test('any JSON value may be a record: arrays, strings, numbers, null', async (t) => {
  const r = await weir(['map', '[r.a, String(r.a), r.a + 1, null]'], { stdin: '{"a":1}\n{"a":2}\n' })
  t.equal(r.code, 0)
  t.same(lines(r.stdout), ['[1,"1",2,null]', '[2,"2",3,null]'])
})

t.test('a projection over the whole fixture keeps one output line per input line', async (t) => {
  const r = await weir(['map', '({user: r.user, os: r.device.os})', 'fixtures/clicks.ndjson'])
  t.equal(r.code, 0)
  const want = lines(clicks).map((l) => {
    const v = JSON.parse(l) as { user: string; device: { os: string } }
    return JSON.stringify({ user: v.user, os: v.device.os })
  })
  t.same(lines(r.stdout), want)
})

t.test('an expression returning undefined stops the run with exit 1 and names the line', async (t) => {
  const r = await weir(['map', 'r.a'], { stdin: '{"a":1}\n{"a":2}\n\n{"b":3}\n{"a":4}\n' })
  t.equal(r.code, 1)
  t.equal(r.stderr, "weir: stdin:4: map 'r.a' returned undefined, not a JSON value\n")
  t.same(lines(r.stdout), ['1', '2'], 'what came before the failure is written')
})

t.test('an expression returning a function is not a JSON value either', async (t) => {
  const r = await weir(['map', '() => r'], { stdin: '{"a":1}\n' })
  t.equal(r.code, 1)
  t.match(r.stderr, /^weir: stdin:1: map '\(\) => r' returned function, not a JSON value\n$/)
})

t.test('a value JSON cannot write (BigInt, cycle, throwing toJSON) is the expression\'s fault: exit 1, its line, one line', async (t) => {
  const cases: [string, RegExp][] = [
    ['({b: 10n})', /BigInt/],
    ['(() => { const o = {}; o.o = o; return o })()', /circular/],
    ['({toJSON() { throw new Error("nope") }})', /nope/],
  ]
  for (const [expr, why] of cases)
    for (const chain of [[], ['then', 'aggregate', 'collect:b']]) {
      const r = await weir(['map', expr, ...chain], { stdin: '{"a":1}\n' })
      t.equal(r.code, 1, expr)
      t.equal(lines(r.stderr).length, 1, 'one line, no stack trace')
      t.ok(r.stderr.startsWith(`weir: stdin:1: map '${expr}': the value is not JSON: `), r.stderr)
      t.match(r.stderr, why)
    }
})

t.test('an expression that throws names the line and exits 1', async (t) => {
  const r = await weir(['map', 'r.device.os'], { stdin: '{"device":{"os":"ios"}}\n{"x":1}\n' })
  t.equal(r.code, 1)
  t.match(r.stderr, /^weir: stdin:2: map 'r\.device\.os' threw: Cannot read properties of undefined/)
  t.equal(lines(r.stderr).length, 1, 'one line, no stack trace')
  t.same(lines(r.stdout), ['"ios"'])
})

t.test('an invalid expression is a usage error before any record is read', async (t) => {
  for (const bad of ['({a: 1', 'r.a; r.b', '']) {
    const r = await weir(['map', bad], { stdin: 'not json\n' })
    t.equal(r.code, 64, JSON.stringify(bad))
    t.equal(r.stdout, '')
    t.equal(lines(r.stderr).length, 1)
  }
})

t.test('a real pipe: cat | weir keyby user | weir map', async (t) => {
  const r = await sh(`cat fixtures/clicks.ndjson | "$WEIR" keyby user | "$WEIR" map '({user: r.user, cents: r.amount * 100})'`)
  t.equal(r.code, 0)
  t.equal(r.stderr, '')
  const out = records(r.stdout)
  t.equal(out.length, lines(clicks).length, 'one output line per input line')
  t.same(
    out,
    lines(clicks).map((l) => {
      const v = JSON.parse(l) as { user: string; amount: number }
      return { user: v.user, cents: v.amount * 100 }
    }),
  )
})
