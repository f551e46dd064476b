// Failures and bad input through real shell pipes (split from pipes.ts, which it would take past
// tap's two minutes per file under load): a bad record named by its own input, dead letters as in
// the then form, a stage that fails, dies, is killed or stopped, and many pipelines at once.
import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { all, sh, ROOT, WEIR } from '../harness/cli.js'
import { cmdline, fdTargets, ppid } from '../harness/proc.js'

const F = 'fixtures/clicks.ndjson'
const W = '"$WEIR"'
const dir = mkdtempSync(join(tmpdir(), 'weir-pipes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))



function fdTarget(pid: string, fd: number): string {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`)
  } catch {
    return ''
  }
}

t.test('a record a later stage finds bad is named by its own input and line, as the then form names it, not by its stdin line', async (t) => {
  // two inputs; blank lines, a record keyby drops and a late one shift the stdin lines of later stages
  const a = join(dir, 'pos-a.ndjson')
  const b = join(dir, 'pos-b.ndjson')
  writeFileSync(a, '{"ts":1000,"user":"a"}\n\n{"user":"b"}\n{"ts":90000,"user":"c"}\n\n\n{"ts":"x","user":"c"}\n')
  writeFileSync(b, '{"ts":1000,"user":"late"}\n{"ts":1500}\n{"ts":95000,"user":"b","amount":"many"}\n{"user":"d"}\n{"ts":99000,"user":"e","amount":2}\n')
  const letters = (f: string, rowsOnly = false) =>
    readFileSync(f, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { source: string; line: number; reason: string; raw: string })
      .filter((l) => !rowsOnly || l.raw.includes('"window_start"'))
      .map((l) => `${l.source}:${l.line} ${l.reason}`)
      .sort()
  const opts = (n: string) => `--on-error dead-letter --dead-letter ${join(dir, `pos-${n}.dead`)}`
  const [thenForm, pipe, failing, rowsThen, rowsPipe] = await all([
    () => sh(`${W} keyby user ${a} ${b} ${opts('then')} then window tumbling 1m --time ts then aggregate count sum:amount`),
    () =>
      sh(
        `${W} keyby user ${a} ${b} ${opts('1')} | ${W} window tumbling 1m --time ts ${opts('2')} | ${W} aggregate count sum:amount ${opts('3')}`,
      ),
    () => sh(`${W} keyby user ${a} ${b} --on-error skip | ${W} filter true | ${W} window tumbling 1m --time ts | ${W} aggregate count`),
    // rows have no ts: each is named after the record read last before its window fired
    () => sh(`${W} keyby user ${a} ${b} --on-error skip then window tumbling 1m --time ts then aggregate count then window tumbling 1h --time ts ${opts('rows-then')}`),
    () => sh(`${W} keyby user ${a} ${b} --on-error skip then window tumbling 1m --time ts then aggregate count | ${W} window tumbling 1h --time ts ${opts('rows-pipe')}`),
  ])
  t.equal(pipe!.code, 0, pipe!.stderr)
  t.equal(pipe!.stdout, thenForm!.stdout)
  const piped = ['1', '2', '3'].flatMap((n) => letters(join(dir, `pos-${n}.dead`)))
  t.same(piped.sort(), letters(join(dir, 'pos-then.dead')), 'the same dead letters, each naming its file and line')
  t.ok(piped.includes(`${a}:7 time field 'ts' is "x", expected ISO-8601 with Z or an offset (+02:00), or epoch ms`), piped.join('\n'))
  t.ok(piped.some((l) => l.startsWith(`${b}:3 `)), 'a bad amount in the third stage names the second file')
  t.equal(failing!.code, 74, 'the chain fails from the window stage')
  t.match(failing!.stderr, `weir: ${a}:3: time field 'ts' is missing`, 'two stages and a filter on: its file and line')
  t.notMatch(failing!.stderr, /stdin:\d/)
  t.equal(rowsPipe!.code, 0, rowsPipe!.stderr)
  t.equal(rowsThen!.code, 0, rowsThen!.stderr)
  // (the then form's --on-error is the whole job's: its file has the records keyby skipped too)
  const rows = letters(join(dir, 'pos-rows-pipe.dead'))
  t.same(rows, letters(join(dir, 'pos-rows-then.dead'), true), 'rows a stage made: named alike')
  t.ok(rows.length >= 3 && rows.some((l) => l.startsWith(`${b}:5 `)), rows.join('\n'))
})

t.test('bad input in every stage position, --on-error given where it is seen: the dead letters and counts of the then form, raw as the input held it', async (t) => {
  const lines = readFileSync(join(ROOT, F), 'utf8').split('\n').slice(0, 200)
  const edit = (i: number, f: (r: Record<string, unknown>) => void) => {
    const r = JSON.parse(lines[i]!) as Record<string, unknown>
    f(r)
    lines[i] = JSON.stringify(r)
  }
  lines[4] = '{"ts":1732521601000,"user":"u01", bad'
  edit(9, (r) => delete r.user) // keyby, stage 2 below
  edit(19, (r) => delete r.ts) // window, stage 3
  edit(29, (r) => (r.amount = 'ten')) // aggregate, stage 4
  edit(99, (r) => (r.ts = 1732521000000)) // late
  const input = join(dir, 'every-stage.ndjson')
  writeFileSync(input, lines.join('\n') + '\n')
  const dead = (n: string) => `--on-error dead-letter --dead-letter ${join(dir, `every-${n}.dead`)}`
  const letters = (...names: string[]) =>
    names
      .flatMap((n) => readFileSync(join(dir, `every-${n}.dead`), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l) as { line: number; reason: string; raw: string })
      .sort((a, b) => a.line - b.line)
  const stats = (n: string) => JSON.parse(readFileSync(join(dir, `every-${n}.stats`), 'utf8')) as Record<string, number>
  for (const win of ['tumbling 1m --time ts --max-delay 5s', 'session 30s --time ts --max-delay 5s', 'sliding 1m 20s --time ts --max-delay 5s']) {
    const kind = win.split(' ')[0]!
    const late = (n: string) => `--late-output ${join(dir, `every-${n}.late`)}`
    const [fused, split, pipe] = await all([
      () => sh(`${W} filter true then keyby user then window ${win} then aggregate count sum:amount ${input} ${dead('fused')} ${late('fused')} --stats ${dir}/every-fused.stats`),
      // a filter between window and aggregate: no fusing, the aggregate sees the stamped records
      () => sh(`${W} filter true then keyby user then window ${win} then filter true then aggregate count sum:amount ${input} ${dead('split')} ${late('split')} --stats ${dir}/every-split.stats`),
      () =>
        sh(
          `${W} filter true ${input} ${dead('1')} --stats ${dir}/every-1.stats | ${W} keyby user ${dead('2')} --stats ${dir}/every-2.stats | ${W} window ${win} ${dead('3')} ${late('pipe')} --stats ${dir}/every-3.stats | ${W} aggregate count sum:amount ${dead('4')} --stats ${dir}/every-4.stats`,
        ),
    ])
    for (const r of [fused!, split!, pipe!]) t.equal(r.code, 0, r.stderr)
    t.equal(split!.stdout, fused!.stdout, `${kind}: rows`)
    t.equal(pipe!.stdout, fused!.stdout, `${kind}: rows through pipes`)
    const want = letters('fused')
    t.same(
      want.map((l) => [l.line, l.raw === lines[l.line - 1]]),
      [[5, true], [10, true], [20, true], [30, true]],
      `${kind}: one dead letter per bad record, its raw the input line`,
    )
    t.same(letters('split'), want, `${kind}: then form, window and aggregate apart`)
    if (kind !== 'sliding') t.same(letters('1', '2', '3', '4'), want, `${kind}: pipes`)
    else {
      // through a pipe a sliding window's copies (a line per window) are records of the next stage
      const piped = letters('1', '2', '3', '4')
      t.same(piped.filter((l) => l.line !== 30), want.filter((l) => l.line !== 30), `${kind}: pipes`)
      t.ok(piped.filter((l) => l.line === 30).every((l) => l.raw === lines[29]), `${kind}: pipes, raw the input line`)
    }
    t.equal(readFileSync(join(dir, 'every-pipe.late'), 'utf8'), readFileSync(join(dir, 'every-fused.late'), 'utf8'), `${kind}: late output`)
    const f = stats('fused')
    t.match(stats('split'), { read: 200, deadLettered: 4, late: 1, consumed: f.consumed }, `${kind}: counts, apart`)
    t.match(f, { read: 200, deadLettered: 4, late: 1, consumed: 195 })
    const p = [1, 2, 3, 4].map((n) => stats(String(n)))
    t.same(p.map((x) => x.deadLettered).slice(0, 3), [1, 1, 1], `${kind}: each stage counts what it found`)
    t.same([p[0]!.read, p[1]!.read, p[2]!.read], [200, 199, 198])
    t.equal(p[2]!.late, 1)
    if (kind !== 'sliding') t.match(p[3], { read: 196, deadLettered: 1, consumed: 195 })
  }
})

t.test('a foreign program between weir stages starts a new stream, and the next stage says what it lacks', async (t) => {
  const r = await sh(`${W} keyby user then window tumbling 1m --time ts --max-delay 5s --lateness 2s ${F} | grep -v NOPE | ${W} aggregate count`)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '{"count":2999}\n', 'no key or window crossed the foreign program: one count')
  t.match(r.stderr, /not from a weir stage/, 'said once on stderr')
})

t.test('a stage that fails before its first output (a usage error) makes the next exit 74 naming it, not an empty success', async (t) => {
  const r = await sh(`${W} keyby user ${F} | ${W} window tumbling 1m --time ts --bogus | ${W} aggregate count; echo "status \${PIPESTATUS[*]}"`)
  t.match(r.stdout, /^status \d+ 64 74$/m, r.stderr)
  t.match(r.stderr, /stdin: the stage before this one \('weir window tumbling 1m --time ts --bogus'\) ended without finishing its stream/)
  t.notMatch(r.stdout, /count/, 'no rows')
  // a stage that writes to a file, not its pipe, leaves the next stage an empty stream, as before
  const o = await sh(`${W} keyby user ${F} -o ${dir}/keyed.ndjson | ${W} aggregate count; echo "status \${PIPESTATUS[*]}"`)
  t.match(o.stdout, /^status 0 0$/m, o.stderr)
})

t.test('an upstream stage killed mid-stream: the next exits 74 and flushes nothing', async (t) => {
  const child = spawn('bash', ['-o', 'pipefail', '-c', `${W} keyby user | ${W} window tumbling 1h --time ts | ${W} aggregate count`], {
    env: { ...process.env, NODE_OPTIONS: '', WEIR },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
  child.stdin.write(readFileSync(join(ROOT, F), 'utf8').split('\n').slice(0, 1000).join('\n') + '\n')
  // kill the first stage once the last has opened its side channel: the stream is under way
  const stage = (word: string) => readdirSync('/proc').find((p) => /^\d+$/.test(p) && cmdline(p).includes(`weir ${word}`) && ppid(p) === child.pid)
  let keyby: string | undefined
  for (let i = 0; i < 300; i++) {
    keyby = stage('keyby')
    const agg = stage('aggregate')
    if (keyby && agg && fdTargets(agg).some((l) => /weir.*pipe-.*ndjson/.test(l))) break
    await new Promise((r) => setTimeout(r, 50))
  }
  process.kill(Number(keyby), 'SIGKILL')
  const code = await closed
  t.equal(code, 74, err)
  t.equal(out, '', 'the open windows are not flushed: no results that look final')
  t.match(err, /\('weir window tumbling 1h --time ts'\) ended without finishing its stream/, 'the window stage fails, naming its upstream')
  t.match(err, /\('weir keyby user'\) ended without finishing its stream/)
  child.stdin.destroy()
})

for (const kind of ['global', 'count 5']) {
  t.test(`a ${kind} window stage killed before its first output byte: the next exits 74 naming it, not an empty success`, async (t) => {
    // the window stage waits for its input (stdin held open, nothing written yet): it has written
    // nothing, and a global window writes nothing before the end anyway
    const runtime = mkdtempSync(join(dir, 'run-'))
    const child = spawn('bash', ['-c', `${W} keyby user | ${W} window ${kind} | ${W} aggregate count; echo "status \${PIPESTATUS[*]}" >&2`], {
      env: { ...process.env, NODE_OPTIONS: '', WEIR, XDG_RUNTIME_DIR: runtime },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()))
    // killed once it is running: its channel is there (without the fix it never comes; then the
    // kill is after 3 s, well inside the wait)
    const stage = (word: string) => readdirSync('/proc').find((p) => /^\d+$/.test(p) && cmdline(p).includes(`weir ${word}`) && ppid(p) === child.pid)
    let win: string | undefined
    for (let i = 0; i < 60; i++) {
      win = stage('window')
      const pipe = win && /^pipe:\[(\d+)\]$/.exec(fdTarget(win, 1))
      const names = (() => {
        try {
          return readdirSync(join(runtime, 'weir'))
        } catch {
          return []
        }
      })()
      if (pipe && names.some((n) => n.endsWith(`-${pipe[1]}.ndjson`))) break
      await new Promise((r) => setTimeout(r, 50))
    }
    t.ok(win, 'the window stage runs')
    process.kill(Number(win), 'SIGKILL')
    child.stdin.end(readFileSync(join(ROOT, F), 'utf8').split('\n').slice(0, 100).join('\n') + '\n')
    await closed
    t.match(err, /^status \d+ 137 74$/m, err)
    t.equal(out, '', 'no rows that look final')
    t.match(err, new RegExp(`stdin: the stage before this one \\('weir window ${kind}'\\) ended without finishing its stream`))
  })
}

t.test('Ctrl-C to the process group: every stage stops without draining and exits 130 promptly', async (t) => {
  const child = spawn('bash', ['-c', `${W} keyby user | ${W} window tumbling 1h --time ts | ${W} aggregate count; echo "\${PIPESTATUS[*]}" >&2`], {
    env: { ...process.env, NODE_OPTIONS: '', WEIR },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own process group, as a shell gives a pipeline
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
  // the test is the source, and keeps writing: the first stage is the one to stop reading
  child.stdin.on('error', () => {})
  child.stdin.write(readFileSync(join(ROOT, F), 'utf8').split('\n').slice(0, 1000).join('\n') + '\n')
  for (let i = 0; i < 300; i++) {
    const agg = readdirSync('/proc').find((p) => /^\d+$/.test(p) && cmdline(p).includes('weir aggregate') && ppid(p) === child.pid)
    if (agg && fdTargets(agg).some((l) => /weir.*pipe-.*ndjson/.test(l))) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const start = Date.now()
  process.kill(-child.pid!, 'SIGINT')
  await closed
  t.ok(Date.now() - start < 5000, `stopped in ${Date.now() - start} ms`)
  t.equal(err.trim(), '130 130 130', 'each stage exits 130')
  t.equal(out, '', 'the open hour windows do not fire')
  child.stdin.destroy()
})

t.test('--no-flush upstream stops the whole chain without draining', async (t) => {
  const r = await sh(`${W} keyby user --no-flush ${F} | ${W} window tumbling 1h --time ts | ${W} aggregate count`)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '', 'the open window stays open')
})

t.test('a weir reader that fails makes its writer fail (74), a quiet head does not', async (t) => {
  const big = join(dir, 'big.ndjson')
  await sh(`for i in 1 2 3 4 5 6 7 8; do cat ${F}; done > ${big}`)
  const r = await sh(`${W} filter true ${big} | ${W} filter 'r.amount.nope.x > 0'`)
  t.not(r.code, 0)
  t.match(r.stderr, /the weir stage after this one stopped reading/)
  const h = await sh(`${W} filter true ${big} | head -1`)
  t.equal(h.code, 0, h.stderr)
  // three stages: the failure travels back through the middle one, which must not tell the first
  // that it stopped on purpose
  const three = await sh(`${W} filter true ${big} | ${W} filter true | ${W} filter 'r.amount.nope.x > 0'; echo "\${PIPESTATUS[*]}" >&2`)
  t.match(three.stderr, /74 74 1\n$/, 'every stage before the failed one exits 74')
  const quiet = await sh(`${W} filter true ${big} | ${W} filter true | head -1 > /dev/null; echo "\${PIPESTATUS[*]}" >&2`)
  t.match(quiet.stderr, /^0 0 0\n$/, 'a quiet head is quiet all along the chain')
})

t.test('a slow reader of a pipe gets every byte, whether the pipe is blocking or another process made it non-blocking', async (t) => {
  // some 10 MB: more than the pipe and the queue kept beside it (PIPE_QUEUE_BUDGET), so the
  // writer waits for its reader again and again
  const big = join(dir, 'slow.ndjson')
  await sh(`for i in $(seq 26); do cat ${F}; done > ${big}`)
  const want = readFileSync(big, 'utf8')
  const out = join(dir, 'slow-out.ndjson')
  const blocking = await sh(`${W} filter true ${big} | (sleep 1; cat) > ${out}; echo "\${PIPESTATUS[*]}" >&2`)
  t.match(blocking.stderr, /^0 0\n$/, blocking.stderr)
  t.ok(readFileSync(out, 'utf8') === want, 'a blocking pipe: written by a thread, every byte in order')
  // with stderr on the same pipe (2>&1), weir's own process.stderr sets O_NONBLOCK on it, for
  // stdout too: its writes then meet EAGAIN and go on through process.stdout
  const shared = await sh(`${W} filter true ${big} 2>&1 | (sleep 1; cat) > ${out}; echo "\${PIPESTATUS[*]}" >&2`)
  t.match(shared.stderr, /^0 0\n$/, shared.stderr)
  t.ok(readFileSync(out, 'utf8') === want, 'a non-blocking pipe: every byte in order')
  const head = await sh(`${W} filter true ${big} 2>&1 | head -c 100 > /dev/null; echo "\${PIPESTATUS[*]}" >&2`)
  t.match(head.stderr, /^0 0\n$/, 'a reader that leaves early is a quiet end there too')
})

t.test('many pipelines at once under CPU load: every weir reader gets its context, no other reader sees any, no channel is left behind', async (t) => {
  const runtime = mkdtempSync(join(tmpdir(), 'weir-runtime-'))
  t.teardown(() => rmSync(runtime, { recursive: true, force: true }))
  const env = { XDG_RUNTIME_DIR: runtime }
  const load = spawn(process.execPath, ['-e', 'const end = Date.now() + 30000; while (Date.now() < end) {}'], { stdio: 'ignore' })
  load.unref()
  const perUser = (await sh(`${W} keyby user then aggregate count ${F}`)).stdout
  const input = readFileSync(join(ROOT, F), 'utf8')
  const jqForm = (await sh(`jq -c . ${F}`)).stdout
  const kinds: [string, string][] = [
    [`${W} keyby user ${F} | ${W} aggregate count`, perUser],
    [`${W} keyby user ${F} | (sleep 0.5; ${W} aggregate count)`, perUser],
    [`${W} keyby user ${F} | (sleep 0.2; cat) | cat > /dev/null; ${W} keyby user ${F} | ${W} filter true | (sleep 0.3; ${W} aggregate count)`, perUser],
    [`${W} keyby user ${F} | jq -c .`, jqForm],
    [`${W} keyby user ${F} | cat > ${dir}/cat-$$.ndjson; cat ${dir}/cat-$$.ndjson`, input],
    [`${W} keyby user ${F} | while IFS= read -r l; do printf '%s\\n' "$l"; done`, input],
  ]
  const results = await all(
    Array.from({ length: 12 }, (_, i) => () => sh(kinds[i % kinds.length]![0], { env }).then((r) => ({ r, i }))),
    6,
  )
  let misses = 0
  for (const { r, i } of results) {
    if (r.code !== 0 || r.stdout !== kinds[i % kinds.length]![1]) {
      misses++
      t.fail(`pipeline ${i}: ${kinds[i % kinds.length]![0]}: exit ${r.code} ${r.stderr}`)
    }
  }
  load.kill('SIGKILL')
  t.equal(misses, 0, '12 pipelines, each with the bytes of its then form')
  // channels that no weir read (jq, cat, a while loop) are removed by a later writer once their
  // pipes are gone; only that writer's own is left
  await sh(`${W} keyby user ${F} | cat > /dev/null`, { env })
  const left = readdirSync(join(runtime, 'weir'))
  t.ok(left.length <= 1, `channels left: ${left.join(' ')}`)
})
