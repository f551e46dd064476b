import t from 'tap'
import { readFileSync } from 'node:fs'
import { weir, lines } from '../harness/cli.js'

// A line longer than --max-line-bytes is bad input with its line number, read past without being
// held, on every parse path: one across many read chunks (300 KB) and one inside a chunk.
t.test('--max-line-bytes: a longer line is bad input with its line, on every parse path', async (t) => {
  const long = '{"u":"a","x":"' + 'y'.repeat(300_000) + '"}'
  const input = ['{"u":"a","t":1}', long, '{"u":"b","x":"' + 'z'.repeat(150) + '"}', '{"u":"b","t":2}'].join('\n') + '\n'
  const dir = t.testdir({ 'in.ndjson': input })
  const argv = ['keyby', 'u', 'then', 'aggregate', 'count', `${dir}/in.ndjson`, '--max-line-bytes', '100']
  for (const env of [{ WEIR_PARSE_WORKER: '0' }, { WEIR_PARSE_WORKER: '1' }, { WEIR_PROJECT: '0' }]) {
    const name = JSON.stringify(env)
    const f = await weir(argv, { env })
    t.equal(f.code, 65, name)
    t.equal(f.stderr, `weir: ${dir}/in.ndjson:2: longer than 100 bytes (--max-line-bytes)\n`, name)
    const d = await weir([...argv, '--on-error', 'dead-letter', '--dead-letter', `${dir}/dead`], { env })
    t.same(lines(d.stdout), ['{"u":"a","count":1}', '{"u":"b","count":1}'], `${name}: the lines after it are read`)
    const dead = lines(readFileSync(`${dir}/dead`, 'utf8')).map((l) => JSON.parse(l) as { line: number; reason: string; raw: string })
    t.equal(dead.length, 2, name)
    t.same(dead.map((l) => l.raw.length), [1024, 166], `${name}: the dead letters get each line's first KiB`)
    t.same(dead.map((l) => [l.line, l.reason]), [[2, 'longer than 100 bytes (--max-line-bytes)'], [3, 'longer than 100 bytes (--max-line-bytes)']], name)
  }
  const ok = await weir(['filter', 'true', '--max-line-bytes', '1M'], { stdin: long + '\n' })
  t.same([ok.code, ok.stdout], [0, long + '\n'], 'within the limit (K, M suffixes)')
  const bad = await weir(['filter', 'true', '--max-line-bytes', '0'], { stdin: '' })
  t.equal(bad.code, 64)
})
