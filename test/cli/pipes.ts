// Stateful stages through real shell pipes (bash -c): every cut of a chain into processes gives
// the bytes of its `then` form, while the pipes themselves carry plain NDJSON only. The context
// (key, window, watermarks, panes, end or stop) travels in the side channel (man/weir-protocol.7).
import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sh, ROOT, WEIR } from '../harness/cli.js'
import { rng } from '../harness/random.js'
import { cmdline, fdTargets, ppid } from '../harness/proc.js'

const F = 'fixtures/clicks.ndjson'
const W = '"$WEIR"'
const dir = mkdtempSync(join(tmpdir(), 'weir-pipes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

/** Runs several pipelines at once (they are processes: two cores keep busy). */
async function all<T>(jobs: (() => Promise<T>)[], width = 4): Promise<T[]> {
  const results: T[] = new Array(jobs.length)
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < jobs.length; i = next++) results[i] = await jobs[i]!()
    }),
  )
  return results
}

const WINDOWS = [
  'tumbling 1m --time ts --max-delay 5s --lateness 3s',
  'sliding 1m 20s --time ts --max-delay 5s --lateness 3s',
  'session 30s --time ts --max-delay 5s --lateness 20s',
  'count 7',
  'global',
]
const AGG = 'count sum:amount first:page last:page'

function fdTarget(pid: string, fd: number): string {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`)
  } catch {
    return ''
  }
}

t.test('a pipe carries plain NDJSON: the original bytes, nothing added', async (t) => {
  const r = await sh(`${W} keyby user ${F} | cat`)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, readFileSync(join(ROOT, F), 'utf8'), 'keyby through a pipe writes its input unchanged')
  const w = await sh(`${W} window tumbling 1m --time ts ${F} | ${W} filter true | jq -c 'keys' | sort -u`)
  t.equal(w.stdout.trim(), '["amount","country","device","event","latency","page","ts","user","window_end","window_start"]', 'only the fields window adds')
})

t.test('keyby | aggregate: running aggregates per key, as the then form', async (t) => {
  const [a, b, c, d] = await all([
    () => sh(`${W} keyby user then aggregate ${AGG} ${F}`),
    () => sh(`${W} keyby user ${F} | ${W} aggregate ${AGG}`),
    () => sh(`${W} keyby user,country then aggregate count --emit updates ${F}`),
    () => sh(`${W} keyby user,country ${F} | ${W} filter 'r.amount >= 0' | ${W} aggregate count --emit updates`),
  ])
  t.equal(b!.code, 0, b!.stderr)
  t.ok(a!.stdout.split('\n').length > 40, 'one row per user')
  t.equal(b!.stdout, a!.stdout)
  t.equal(d!.code, 0, d!.stderr)
  t.equal(d!.stdout, c!.stdout, 'through a filter in a third process, updates as they come')
})

t.test('64-bit ids as keys: a pipe keeps them apart and keeps their digits, as then does', async (t) => {
  // JSON.parse reads both ids as 12345678901234567000; the keys are their texts (decisions.md 2)
  const ids = join(dir, 'ids.ndjson')
  writeFileSync(ids, ['{"id":12345678901234567891,"ts":1000}', '{"id":12345678901234567892,"ts":2000}', '{"id":12345678901234567891,"ts":61000}', '{"id":[1,12345678901234567893],"ts":3000}', ''].join('\n'))
  const [a, b, c, d] = await all([
    () => sh(`${W} keyby id then aggregate count ${ids}`),
    () => sh(`${W} keyby id ${ids} | ${W} aggregate count`),
    () => sh(`${W} keyby id then window tumbling 1m --time ts then aggregate count ${ids}`),
    () => sh(`${W} keyby id ${ids} | ${W} window tumbling 1m --time ts | ${W} aggregate count`),
  ])
  t.equal(b!.code, 0, b!.stderr)
  // (an id inside an array is rounded, by then and by a pipe alike: only a key field's own value keeps its digits)
  t.match(a!.stdout, /^\{"id":12345678901234567891,"count":2\}\n\{"id":12345678901234567892,"count":1\}\n/)
  t.equal(b!.stdout, a!.stdout, 'keyby | aggregate')
  t.equal(d!.code, 0, d!.stderr)
  t.match(c!.stdout, /"id":12345678901234567892,"window_start":0,"window_end":60000,"count":1/)
  t.equal(d!.stdout, c!.stdout, 'keyby | window | aggregate')
})

t.test('keyby | window | aggregate, all five kinds, every cut: the bytes of the then form', async (t) => {
  for (const w of WINDOWS) {
    const id = w.split(' ')[0]
    const latePath = (n: number) => `${dir}/late-${id}-${n}`
    const late = (n: number) => (w.includes('--time') ? `--late-output ${latePath(n)}` : '')
    // every cut for two kinds (one emitting at once, one by pane); the three-process form for all
    const everyCut = w.startsWith('sliding') || w.startsWith('session')
    const [fused, three, between, twoA, twoB] = await all([
      () => sh(`${W} keyby user then window ${w} ${late(0)} then aggregate ${AGG} ${F}`),
      () => sh(`${W} keyby user ${F} | ${W} window ${w} ${late(1)} | ${W} aggregate ${AGG}`),
      () => sh(`${W} keyby user then window ${w} ${F} | ${W} filter 'r.amount >= 0' then map 'r' | ${W} aggregate ${AGG}`),
      ...(everyCut
        ? [() => sh(`${W} keyby user then window ${w} ${F} | ${W} aggregate ${AGG}`), () => sh(`${W} keyby user ${F} | ${W} window ${w} then aggregate ${AGG}`)]
        : []),
    ])
    t.equal(three!.code, 0, `${w}: ${three!.stderr}`)
    t.ok(fused!.stdout.length > 1000, `${w}: rows`)
    t.equal(three!.stdout, fused!.stdout, `${w}: keyby | window | aggregate`)
    t.equal(between!.stdout, fused!.stdout, `${w}: window | filter then map | aggregate`)
    if (everyCut) {
      t.equal(twoA!.stdout, fused!.stdout, `${w}: keyby then window | aggregate`)
      t.equal(twoB!.stdout, fused!.stdout, `${w}: keyby | window then aggregate`)
    }
    if (late(0)) t.equal(readFileSync(latePath(1), 'utf8'), readFileSync(latePath(0), 'utf8'), `${w}: the window stage's own late output`)
  }
})

t.test('random inputs with late data and re-firings: pipe = then = spec for every window kind', async (t) => {
  const seed = Number(process.env.WEIR_SEED ?? Date.now() % 100000)
  t.comment(`seed ${seed} (replay with WEIR_SEED=${seed})`)
  const rand = rng(seed)
  const jobs: (() => Promise<void>)[] = []
  for (let n = 0; n < 5; n++) {
    const input = join(dir, `random-${n}.ndjson`)
    const keys = 1 + Math.floor(rand() * 30)
    const iso = rand() < 0.4 ? '--iso' : ''
    await sh(`node fixtures/gen.mjs --events 1000 --keys ${keys} --rate ${[5, 50, 500][n % 3]} --late 0.08 --seed ${seed + n} ${iso} > ${input}`)
    const gap = ['500ms', '3s', '20s'][Math.floor(rand() * 3)]
    const lateness = ['0s', '2s', '15s'][Math.floor(rand() * 3)]
    const w = [
      `tumbling ${['1s', '10s', '1m'][n % 3]} --time ts --max-delay 2s --lateness ${lateness}`,
      `sliding ${['10s 5s', '9s 5s', '10s 3s'][Math.floor(rand() * 3)]} --time ts --max-delay 1s --lateness ${lateness}`,
      `session ${gap} --time ts --max-delay 2s --lateness ${lateness}`,
      `count ${2 + Math.floor(rand() * 5)}`,
      'global',
    ][n]!
    const agg = 'count sum:amount max:latency collect:page'
    const spec = join(dir, `random-${n}.json`)
    writeFileSync(spec, JSON.stringify({ source: { path: input }, stages: ['keyby user', `window ${w}`, `aggregate ${agg}`] }))
    jobs.push(async () => {
      const [a, b, c] = await all(
        [
          () => sh(`${W} keyby user then window ${w} then aggregate ${agg} ${input}`),
          () => sh(`${W} keyby user ${input} | ${W} window ${w} | ${W} filter true | ${W} aggregate ${agg}`),
          () => sh(`${W} run ${spec}`),
        ],
        3,
      )
      t.equal(b!.code, 0, b!.stderr)
      t.equal(b!.stdout, a!.stdout, `pipe = then: ${w} (${keys} keys ${iso})`)
      t.equal(c!.stdout, a!.stdout, `spec = then: ${w}`)
    })
  }
  await all(jobs, 1)
})

t.test('records the aggregate refuses (--on-error skip) still shape sessions and count windows, and bounds read as fields are the stamped ones, in every form', async (t) => {
  // A fused window + aggregate must give the rows of the window stage followed by the aggregate
  // stage: there, the window assigns every record (a refused one opens, extends and bridges
  // sessions, and is one of a count window's n) and stamps it, and only then does the aggregate
  // refuse it or read its window_start. The input: random times, late records, an amount that is
  // sometimes a string, and a window_start of the input's own on some records.
  const rand = rng(Number(process.env.WEIR_SEED ?? 5))
  const lines: string[] = []
  let ts = 1_000_000
  for (let i = 0; i < 600; i++) {
    ts += Math.floor(rand() * 4000)
    const late = rand() < 0.1 ? -Math.floor(rand() * 20000) : 0
    const amount = rand() < 0.25 ? '"n/a"' : String(Math.floor(rand() * 100))
    const own = rand() < 0.2 ? ',"window_start":"theirs"' : ''
    lines.push(`{"ts":${ts + late},"user":"u${Math.floor(rand() * 4)}","amount":${amount}${own}}`)
  }
  const input = join(dir, 'refused.ndjson')
  writeFileSync(input, lines.join('\n') + '\n')
  const agg = 'count sum:amount collect:window_start count:window_end --on-error skip'
  const sums = 'count sum:amount --on-error skip'
  for (const w of ['session 5s --time ts --max-delay 2s --lateness 10s', 'count 3', 'tumbling 10s --time ts --max-delay 2s --lateness 5s', 'sliding 10s 4s --time ts --max-delay 2s', 'global']) {
    for (const a of [agg, sums]) {
      const [fused, piped, between] = await all([
        () => sh(`${W} keyby user then window ${w} then aggregate ${a} ${input}`),
        () => sh(`${W} keyby user ${input} | ${W} window ${w} | ${W} aggregate ${a}`),
        () => sh(`${W} keyby user then window ${w} then filter true then aggregate ${a} ${input}`),
      ])
      t.equal(piped!.code, 0, piped!.stderr)
      t.ok(fused!.stdout.split('\n').length > 3, `${w}: rows`)
      t.equal(piped!.stdout, fused!.stdout, `${w} | aggregate ${a}: pipe = then`)
      t.equal(between!.stdout, fused!.stdout, `${w} then filter then aggregate ${a} = then`)
    }
  }
})

t.test('a sliding window whose size is not a multiple of its slide fires downstream when its own end passes', async (t) => {
  // ends at 9 s, 14 s, … (not on multiples of the 5 s slide): the watermark past 9 s must reach
  // the aggregate before the record that is late for [0, 9 s), which re-fires it
  const input = join(dir, 'sliding-ends.ndjson')
  writeFileSync(input, '{"k":"a","ts":8900}\n{"k":"a","ts":9900}\n{"k":"a","ts":8800}\n')
  const w = 'sliding 9s 5s --time ts --lateness 2s'
  const then = await sh(`${W} keyby k then window ${w} then aggregate count ${input}`)
  t.equal(
    then.stdout,
    '{"k":"a","window_start":0,"window_end":9000,"count":1}\n{"k":"a","window_start":0,"window_end":9000,"count":2}\n{"k":"a","window_start":5000,"window_end":14000,"count":3}\n',
  )
  for (const cut of [`keyby k ${input} | ${W} window ${w} | ${W} aggregate count`, `keyby k then window ${w} ${input} | ${W} aggregate count`]) {
    const r = await sh(`${W} ${cut}`)
    t.equal(r.stdout, then.stdout, cut)
  }
})

t.test('keys and windows that records no longer show travel per line: after map, and rows keyed by their key fields', async (t) => {
  const cases = [
    [`keyby user then map '({u: r.user, amount: r.amount})'`, 'aggregate count sum:amount'],
    [`keyby user then window tumbling 1m --time ts --max-delay 5s then map '({amount: r.amount})'`, 'aggregate count sum:amount'],
    ['keyby user,country then aggregate count', "filter 'r.count > 3' then aggregate count max:count"],
  ]
  const results = await all(
    cases.flatMap(([up, down]) => [() => sh(`${W} ${up} then ${down} ${F}`), () => sh(`${W} ${up} ${F} | ${W} ${down}`)]),
  )
  for (let i = 0; i < cases.length; i++) {
    const [then, pipe] = [results[2 * i]!, results[2 * i + 1]!]
    t.equal(pipe.code, 0, pipe.stderr)
    t.ok(then.stdout.length > 100)
    t.equal(pipe.stdout, then.stdout, cases[i]!.join(' | '))
  }
  // keys beyond 2^53 keep their digits on the channel: rounded, these two would be one key
  const big = join(dir, 'big-keys.ndjson')
  writeFileSync(big, '{"k":12345678901234567891}\n{"k":12345678901234567892}\n{"k":12345678901234567891}\n')
  const want = '{"k":12345678901234567891,"count":2}\n{"k":12345678901234567892,"count":1}\n'
  t.equal((await sh(`${W} keyby k then map r then aggregate count ${big}`)).stdout, want)
  t.equal((await sh(`${W} keyby k ${big} | ${W} map r | ${W} aggregate count`)).stdout, want, 'a big integer key across a map in a pipe')
})

t.test("a window's rows reach a process function with their time and the watermark, in every cut", async (t) => {
  // the row's time is its window's end − 1; timers fire as the watermark passes them, between rows
  const fn = join(dir, 'row-timers.mjs')
  writeFileSync(
    fn,
    'export function processElement(row, ctx) {\n' +
      '  ctx.emit({ k: ctx.key, at: ctx.timestamp, wm: ctx.timerService.currentWatermark(), n: row.count })\n' +
      '  ctx.timerService.registerEventTimeTimer(ctx.timestamp + 1500)\n' +
      '}\n' +
      // not the watermark inside onTimer: between two rows a pipe carries only the latest (README, departures)
      'export function onTimer(t, ctx) { ctx.emit({ k: ctx.key, timer: t }) }\n',
  )
  const input = join(dir, 'rows-in.ndjson')
  await sh(`node fixtures/gen.mjs --events 400 --keys 5 --rate 20 --late 0.05 --seed 7 > ${input}`)
  // with lateness, a late record re-fires its window: the stage after gets it under the watermark
  // of that moment, and so does the row it makes
  for (const w of ['window tumbling 1s --time ts --max-delay 500ms', 'window tumbling 1s --time ts --max-delay 200ms --lateness 3s', 'window sliding 2s 1s --time ts --lateness 3s']) {
    const then = await sh(`${W} keyby user then ${w} then aggregate count then process ${fn} ${input}`)
    t.equal(then.code, 0, then.stderr)
    t.ok(then.stdout.split('\n').length > 100)
    for (const cut of [
      `keyby user ${input} | ${W} ${w} | ${W} aggregate count | ${W} process ${fn}`,
      `keyby user then ${w} ${input} | ${W} aggregate count | ${W} process ${fn}`,
      `keyby user then ${w} then aggregate count ${input} | ${W} process ${fn}`,
      `keyby user then ${w} then aggregate count ${input} | ${W} filter true | ${W} process ${fn}`,
    ]) {
      const r = await sh(`${W} ${cut}`)
      t.equal(r.code, 0, r.stderr)
      t.equal(r.stdout, then.stdout, cut)
    }
    const mapped = await sh(`${W} keyby user then ${w} then aggregate count then map '({n: r.count})' then process ${fn} ${input}`)
    const mappedPipe = await sh(`${W} keyby user ${input} | ${W} ${w} | ${W} aggregate count | ${W} map '({n: r.count})' | ${W} process ${fn}`)
    t.equal(mappedPipe.stdout, mapped.stdout, `after a map, the window and time travel per line: ${w}`)
  }
})

t.test("a running aggregate's updates, a row per record, need no channel entry each, and keep their input lines", async (t) => {
  const input = join(dir, 'updates.ndjson')
  writeFileSync(input, '{"k":1}\n\n' + Array.from({ length: 999 }, (_, i) => `{"k":${i + 2}}\n`).join(''))
  const stats = join(dir, 'updates.stats.json')
  const r = await sh(`${W} aggregate count --emit updates ${input} --stats ${stats} | ${W} filter true`)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.split('\n').length, 1001)
  const bytes = (JSON.parse(readFileSync(stats, 'utf8')) as { channelBytes: number }).channelBytes
  t.ok(bytes < 1000, `${bytes} channel bytes beside 1,000 rows`)
  // the third row is made from line 4 (line 2 is blank): a later stage names that line
  const fails = `filter 'r.count === 3 ? r.x.y : true'`
  const then = await sh(`${W} aggregate count --emit updates then ${fails} ${input}`)
  const pipe = await sh(`${W} aggregate count --emit updates ${input} | ${W} ${fails}`)
  t.match(then.stderr, /updates\.ndjson:4: filter .* threw/)
  t.same([pipe.code, pipe.stdout, pipe.stderr], [then.code, then.stdout, then.stderr])
})

t.test('keyby | process, and a first stage reading several files', async (t) => {
  const a = await sh(`${W} keyby user then process fixtures/fn/failed-logins.mjs --time ts ${F} ${F}`)
  const b = await sh(`${W} keyby user ${F} ${F} | ${W} process fixtures/fn/failed-logins.mjs --time ts`)
  t.equal(b.code, 0, b.stderr)
  t.ok(a.stdout.length > 0)
  t.equal(b.stdout, a.stdout)
})

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
