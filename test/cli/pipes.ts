// Stateful stages through real shell pipes (bash -c): every cut of a chain into processes gives
// the bytes of its `then` form, while the pipes themselves carry plain NDJSON only. The context
// (key, window, watermarks, panes, end or stop) travels in the side channel (man/weir-protocol.7).
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { all, sh, ROOT } from '../harness/cli.js'
import { rng } from '../harness/random.js'

const F = 'fixtures/clicks.ndjson'
const W = '"$WEIR"'
const dir = mkdtempSync(join(tmpdir(), 'weir-pipes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))


const WINDOWS = [
  'tumbling 1m --time ts --max-delay 5s --lateness 3s',
  'sliding 1m 20s --time ts --max-delay 5s --lateness 3s',
  'session 30s --time ts --max-delay 5s --lateness 20s',
  'count 7',
  'global',
]
const AGG = 'count sum:amount first:page last:page'


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
