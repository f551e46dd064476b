// Progress and quiet (issue 18): a progress line for long runs, on a terminal or with --progress,
// never otherwise; --quiet silences the summary.
import t from 'tap'
import { sh } from '../harness/cli.js'

const F = 'fixtures/clicks.ndjson'
const W = '"$WEIR"'

t.test('--progress off a terminal: a line per update once the job has run a second; none without it', async (t) => {
  // a source that pauses: the job runs past its first second
  const slow = `(cat ${F}; sleep 1.8; cat ${F})`
  const p = await sh(`${slow} | ${W} keyby user then window tumbling 1m --time ts then aggregate count --progress > /dev/null`)
  t.equal(p.code, 0, p.stderr)
  const lines = p.stderr.split('\n').filter((l) => /records\/s/.test(l))
  t.ok(lines.length >= 1, `progress lines: ${lines.length}`)
  t.match(lines[0], /^weir: 0\.4 MB read, [\d,]+ records\/s, watermark 2024-11-25T\d\d:\d\d:\d\d\.\d{3}Z, windows open \d+$/)
  const q = await sh(`${slow} | ${W} filter true > /dev/null`)
  t.equal(q.code, 0, q.stderr)
  t.equal(q.stderr, '', 'nothing off a terminal without --progress')
})

t.test('--quiet: no summary even with --verbose; warnings about dropped records stay', async (t) => {
  const r = await sh(`${W} keyby user then window tumbling 1m --time ts then aggregate count ${F} --verbose --quiet > /dev/null`)
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /weir: read/)
  t.match(r.stderr, /late record\(s\) dropped/)
  const v = await sh(`${W} keyby user then aggregate count ${F} --verbose > /dev/null`)
  t.match(v.stderr, /^weir: read 3000, wrote \d+/)
})
