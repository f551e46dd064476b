import t from 'tap'
import { readFileSync } from 'node:fs'
import { weir, lines } from '../harness/cli.js'

// `then` chains run several stages in one process, as Miller's `then`: each span is parsed by its
// command's own parser, so a chain, a spec and a shell pipe mean the same thing.
const FILTER = 'r.event === "purchase"'
const MAP = '({user: r.user, ts: r.ts, cents: r.amount * 100})'

t.test('a then chain gives the same bytes as the spec of the same stages', async (t) => {
  const dir = t.testdir({})
  const spec = await weir(['run', 'fixtures/jobs/clicks-per-user.json', '-o', `${dir}/spec.ndjson`])
  t.equal(spec.code, 0)
  const chain = await weir(['filter', FILTER, 'then', 'keyby', 'user', 'then', 'map', MAP, 'fixtures/clicks.ndjson'])
  t.equal(chain.code, 0)
  t.equal(chain.stderr, '')
  t.ok(lines(chain.stdout).length > 10)
  t.equal(chain.stdout, readFileSync(`${dir}/spec.ndjson`, 'utf8'))
})

t.test('options of any span apply to the job: -o in the last span', async (t) => {
  const dir = t.testdir({})
  const r = await weir(['keyby', 'k', 'then', 'map', '({k: r.k, n: r.n + 1})', '-o', `${dir}/o.ndjson`], { stdin: '{"k":"a","n":1}\n{"k":"b","n":2}\n' })
  t.equal(r.code, 0)
  t.equal(r.stdout, '')
  t.equal(readFileSync(`${dir}/o.ndjson`, 'utf8'), '{"k":"a","n":2}\n{"k":"b","n":3}\n')
})

t.test('reads stdin when no span names a file', async (t) => {
  const r = await weir(['filter', 'r.n > 1', 'then', 'keyby', 'k'], { stdin: '{"k":1,"n":1}\n{"k":2,"n":2.50}\n' })
  t.equal(r.code, 0)
  t.equal(r.stdout, '{"k":2,"n":2.50}\n', 'unchanged records keep their bytes through the chain')
})

t.test('an empty span is a usage error before any record is read', async (t) => {
  const cases: [string[], RegExp][] = [
    [['filter', 'true', 'then', 'then', 'keyby', 'user'], /^weir: empty stage 2 in a 'then' chain/],
    [['filter', 'true', 'then'], /^weir: empty stage 2 in a 'then' chain/],
    [['keyby', 'user', 'then', 'map', 'r', 'then', 'then'], /^weir: empty stage 3 in a 'then' chain/],
  ]
  for (const [argv, want] of cases) {
    const r = await weir(argv, { stdin: 'not json\n' })
    t.equal(r.code, 64, argv.join(' '))
    t.equal(r.stdout, '')
    t.equal(lines(r.stderr).length, 1)
    t.match(r.stderr, want)
  }
})

t.test('a chain cannot start with then', async (t) => {
  const r = await weir(['then', 'filter', 'true'], { stdin: '{"a":1}\n' })
  t.equal(r.code, 64)
  t.equal(r.stdout, '')
})

t.test('a bad stage names its place in the chain and exits 64 before reading', async (t) => {
  const cases: [string[], RegExp][] = [
    [['keyby', 'user', 'then', 'windw', 'tumbling', '1m'], /^weir: stage 2 \(windw\): unknown command 'windw'/],
    [['filter', 'true', 'then', 'keyby', 'a[x'], /^weir: stage 2 \(keyby\): field path 'a\[x'/],
    [['filter', 'true', 'then', 'map', 'r.a; r.b'], /^weir: stage 2 \(map\): .*invalid expression/],
    [['filter', 'r.a >', 'then', 'keyby', 'user'], /^weir: stage 1 \(filter\): .*invalid expression/],
    [['filter', 'true', 'then', 'keyby'], /^weir: stage 2 \(keyby\): /],
    // the aggregate fused into the window before it answers for its own options
    [['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count', '--emit', 'updates'], /^weir: stage 3 \(aggregate\): --emit updates is for running aggregates/],
    [['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', 'then', 'aggregate', 'count=u'], /^weir: stage 3 \(aggregate\): aggregate name 'u'/],
  ]
  for (const [argv, want] of cases) {
    const r = await weir(argv, { stdin: 'not json\n' })
    t.equal(r.code, 64, argv.join(' '))
    t.equal(r.stdout, '')
    t.equal(lines(r.stderr).length, 1)
    t.match(r.stderr, want)
  }
})

t.test('errors on records inside a chain name the line', async (t) => {
  const missing = await weir(['filter', 'true', 'then', 'keyby', 'user'], { stdin: '{"user":"a"}\n{"u":"b"}\n' })
  t.equal(missing.code, 65)
  t.equal(missing.stderr, "weir: stdin:2: key field 'user' is missing\n")
  t.equal(missing.stdout, '{"user":"a"}\n')

  const threw = await weir(['keyby', 'user', 'then', 'map', 'r.x.y'], { stdin: '{"user":"a","x":{"y":1}}\n{"user":"b"}\n' })
  t.equal(threw.code, 1)
  t.match(threw.stderr, /^weir: stdin:2: map 'r\.x\.y' threw: /)
  t.equal(threw.stdout, '1\n')
})
