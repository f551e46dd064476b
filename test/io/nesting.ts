import t from 'tap'
import { MAX_NESTING, nestedTooDeep } from '../../lib/io/nesting.js'
import { weir, lines, records } from '../harness/cli.js'

/** {"x":{"a":{"a":…1…}}} with `depth` objects in all (the record itself included) */
const deepObject = (depth: number) => '{"x":' + '{"a":'.repeat(depth - 1) + '1' + '}'.repeat(depth) + ''
const deepArray = (depth: number) => '{"x":' + '['.repeat(depth - 1) + ']'.repeat(depth - 1) + '}'

t.test('nestedTooDeep counts objects and arrays inside one another, not brackets in strings', async (t) => {
  for (const make of [deepObject, deepArray]) {
    t.equal(nestedTooDeep(make(MAX_NESTING)), false, `${MAX_NESTING} levels are fine`)
    t.equal(nestedTooDeep(make(MAX_NESTING + 1)), true, 'one more is too deep')
    t.equal(nestedTooDeep(Buffer.from(make(MAX_NESTING + 1))), true, 'as bytes too')
  }
  const strings = JSON.stringify({ s: '{['.repeat(2000), t: '\\"[[[[' + '['.repeat(1000) })
  t.equal(nestedTooDeep(strings), false, 'brackets in strings (escaped quotes too) do not nest')
  const siblings = JSON.stringify({ a: Array.from({ length: 2000 }, () => ({ b: [1] })) })
  t.equal(nestedTooDeep(siblings), false, 'many brackets side by side are not deep')
  const line = '  ' + deepArray(MAX_NESTING + 1) + '  '
  t.equal(nestedTooDeep(line, 2, line.length - 2), true, 'within bounds')
  t.equal(nestedTooDeep(line, 2, 600), false, 'only the range counts')
})

// A record 10,000 deep overflowed the stack (exit 70, no line) in map, aggregate collect:x and
// distinct:x, keys, and state; it is now bad input with its line on every parse path.
t.test('a record nested 10,000 deep is bad input with its line, on every parse path and command', async (t) => {
  const input = '{"x":1}\n' + deepObject(10_000) + '\n' + deepArray(10_000) + '\n{"x":2}\n'
  const dir = t.testdir({ 'in.ndjson': input })
  const commands = [['map', 'r'], ['aggregate', 'collect:x', 'distinct:x'], ['keyby', 'x', 'then', 'aggregate', 'count'], ['filter', 'true']]
  const paths = [{ WEIR_PARSE_WORKER: '0' }, { WEIR_PARSE_WORKER: '1' }, { WEIR_PROJECT: '0' }]
  for (const argv of commands)
    for (const env of paths) {
      const name = `${argv.join(' ')} ${JSON.stringify(env)}`
      const f = await weir([...argv, `${dir}/in.ndjson`], { env })
      t.equal(f.code, 65, name)
      t.equal(f.stderr, `weir: ${dir}/in.ndjson:2: nested deeper than ${MAX_NESTING} levels\n`, name)
    }
  const s = await weir(['aggregate', 'collect:x', `${dir}/in.ndjson`, '--on-error', 'skip'])
  t.same([s.code, s.stdout], [0, '{"x_collect":[1,2]}\n'], 'under --on-error skip the others go on')
  t.match(s.stderr, /2 bad record\(s\) skipped/)
})

t.test(`a record ${MAX_NESTING} deep goes through the stages that recurse, in memory and in LMDB`, async (t) => {
  const input = deepObject(MAX_NESTING) + '\n'
  const dir = t.testdir({})
  for (const argv of [['map', '({y: r.x})'], ['aggregate', 'collect:x', 'distinct:x'], ['keyby', 'x', 'then', 'aggregate', 'first:x', '--job-dir', `${dir}/j`]]) {
    const r = await weir(argv, { stdin: input })
    t.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`)
    t.equal(lines(r.stdout).length, 1)
  }
  const c = await weir(['aggregate', 'collect:x'], { stdin: input })
  t.same(records(c.stdout), [{ x_collect: [(JSON.parse(input) as { x: unknown }).x] }])
})
