import t from 'tap'
import { sh } from '../harness/cli.js'

t.test('a closed stdin is an error, as in jq and Miller; an empty one is no input', async (t) => {
  const closed = await sh('"$WEIR" filter true <&-')
  t.equal(closed.code, 66)
  t.match(closed.stderr, /^weir: stdin: closed .*name an input file, or give '< \/dev\/null' for none\n$/)
  const chained = await sh('"$WEIR" keyby user then aggregate count - <&-')
  t.equal(chained.code, 66, "'-' names stdin too")
  const empty = await sh('"$WEIR" filter true < /dev/null')
  t.same([empty.code, empty.stdout, empty.stderr], [0, '', ''])
  const files = await sh('"$WEIR" aggregate count fixtures/clicks.ndjson <&-')
  t.same([files.code, files.stdout], [0, '{"count":3000}\n'], 'stdin closed does not matter when it is not read')
})

t.test('stdin from a directory and an unreadable input file are refused (66) before any output is created', async (t) => {
  const { chmodSync, copyFileSync, existsSync } = await import('node:fs')
  const dir = t.testdir({ sub: {} })
  const fromDir = await sh(`"$WEIR" filter true < "${dir}/sub"`)
  t.same([fromDir.code, fromDir.stderr], [66, 'weir: stdin: is a directory, expected NDJSON\n'])
  copyFileSync('fixtures/clicks.ndjson', `${dir}/in.ndjson`)
  chmodSync(`${dir}/in.ndjson`, 0o600)
  // root reads any file: the refusal is seen as another user, where one can be switched to
  const asNobody = process.getuid?.() === 0 && (await sh('command -v su')).code === 0
  if (!asNobody) return t.pass('not root: cannot read the file as another user', { skip: true })
  chmodSync(dir, 0o777)
  const r = await sh(`su nobody -s /bin/sh -c '"$WEIR" filter true "${dir}/in.ndjson" -o "${dir}/out.ndjson"'`)
  t.same([r.code, r.stderr], [66, `weir: ${dir}/in.ndjson: cannot be read: permission denied\n`])
  t.notOk(existsSync(`${dir}/out.ndjson`), 'the output file is not created')
})

t.test('a closed stdout is said on stderr: the results are discarded', async (t) => {
  const closed = await sh('"$WEIR" aggregate count fixtures/clicks.ndjson >&-')
  t.equal(closed.code, 0)
  t.match(closed.stderr, /^weir: warning: stdout: closed, or \/dev\/null opened read-write: every result is discarded \(-o FILE keeps them\)\n$/)
  const discarded = await sh('"$WEIR" aggregate count fixtures/clicks.ndjson > /dev/null')
  t.same([discarded.code, discarded.stderr], [0, ''], "'> /dev/null' discards them quietly")
})

t.test('a gzip-compressed input is read through zlib, by its magic bytes, on every parse path; where it cannot be, the message says what to do', async (t) => {
  const { gzipSync } = await import('node:zlib')
  const { readFileSync, writeFileSync } = await import('node:fs')
  const { weir } = await import('../harness/cli.js')
  const plain = readFileSync('fixtures/clicks.ndjson')
  const gz = gzipSync(plain)
  const dir = t.testdir({})
  writeFileSync(`${dir}/clicks.ndjson.gz`, gz)
  writeFileSync(`${dir}/no-suffix`, gz) // the bytes say it, not the name
  writeFileSync(`${dir}/cut.gz`, gz.subarray(0, gz.length >> 1))
  const job = ['keyby', 'user', 'then', 'window', 'tumbling', '1m', '--time', 'ts', 'then', 'aggregate', 'count', 'sum:amount']
  const want = await weir([...job, 'fixtures/clicks.ndjson'])
  t.equal(want.code, 0)
  for (const env of [{ WEIR_PROJECT: '0' }, { WEIR_PARSE_WORKER: '0' }, { WEIR_PARSE_WORKER: '1' }]) {
    for (const f of ['clicks.ndjson.gz', 'no-suffix']) {
      const r = await weir([...job, `${dir}/${f}`], { env })
      t.same([r.code, r.stdout, r.stderr], [0, want.stdout, want.stderr], `${f} ${JSON.stringify(env)}`)
    }
  }
  const filtered = await weir(['filter', 'true', `${dir}/clicks.ndjson.gz`])
  t.equal(filtered.stdout, plain.toString(), 'pass-through gives the decompressed bytes')
  const cut = await weir(['filter', 'true', `${dir}/cut.gz`, '-o', '/dev/null'])
  t.equal(cut.code, 74, 'a cut gzip file is a read failure')
  t.match(cut.stderr, /^weir: .*cut\.gz: read failed: unexpected end of file\n$/)
  const durable = await weir([...job, `${dir}/clicks.ndjson.gz`, '--job-dir', `${dir}/job`])
  t.equal(durable.code, 64)
  t.match(durable.stderr, /^weir: .*clicks\.ndjson\.gz: gzip-compressed: --job-dir reads inputs by byte offset; decompress it first \(zcat .* > FILE\)/)
  const piped = await sh(`"$WEIR" filter true < ${dir}/clicks.ndjson.gz`)
  t.equal(piped.code, 65)
  t.equal(piped.stderr, 'weir: stdin:1: not valid UTF-8: gzip-compressed? use zcat FILE | weir … -\n', 'stdin is not looked at twice, but line 1 says what it is')
})
