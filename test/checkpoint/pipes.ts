// A durable job as a pipe chain (issue 17): the first stage names the job dir, the others learn it
// from the side channel. Who completes the checkpoints (decisions.md 27), what a changed chain gets,
// and a finished job resumed.
import t from 'tap'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sh } from '../harness/cli.js'

const F = 'fixtures/clicks.ndjson'
const W = '"$WEIR"'
const CHAIN = (jobDir: string, first = '', last = '') =>
  `${W} keyby user --job-dir '${jobDir}' ${first} ${F} | ${W} window tumbling 1m --time ts --max-delay 5s | ${W} aggregate count sum:amount ${last}`

const manifests = (jobDir: string) => readdirSync(join(jobDir, 'checkpoints')).filter((n) => /^chk-\d+\.json$/.test(n))

t.test('stdout through gzip: --last-stage completes the checkpoints; without it the next run says why none exist', async (t) => {
  const dir = t.testdir({})
  const ref = await sh(`${W} keyby user then window tumbling 1m --time ts --max-delay 5s then aggregate count sum:amount ${F}`)
  const job = join(dir, 'with')
  const r = await sh(`${CHAIN(job, '', '--last-stage')} | gzip > '${dir}/out.gz' && zcat '${dir}/out.gz'`)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, ref.stdout, 'the rows of the then form')
  t.ok(manifests(job).length > 0, 'a complete checkpoint')
  const m = JSON.parse(readFileSync(join(job, 'checkpoints', manifests(job).pop()!), 'utf8')) as { phase: string; chain: { stage: number; command: string }[] }
  t.equal(m.phase, 'drained')
  t.same(
    m.chain.map((p) => [p.stage, p.command]),
    [
      [1, 'weir window tumbling 1m --time ts --max-delay 5s'],
      [2, 'weir aggregate count sum:amount --last-stage'],
    ],
    'the manifest lists the part of every later stage',
  )

  const without = join(dir, 'without')
  const a = await sh(`${CHAIN(without, '--no-flush')} | gzip > /dev/null`)
  t.equal(a.code, 0, a.stderr)
  t.same(manifests(without), [], 'no stage completed a checkpoint')
  const b = await sh(`${CHAIN(without, '--resume')} | gzip > /dev/null`)
  t.equal(b.code, 0, b.stderr)
  t.match(b.stderr, /no checkpoint of this job was ever completed: its last weir stage wrote to a pipe\. Give that stage --last-stage/, 'the next run says why')
})

t.test('a resumed chain with a stage changed, removed or added is refused, naming the stage; the first stage may allow it', async (t) => {
  const dir = t.testdir({})
  const job = join(dir, 'job')
  const out = join(dir, 'out.ndjson')
  const first = await sh(`${CHAIN(job, '--no-flush')} >> '${out}'`)
  t.equal(first.code, 0, first.stderr)
  const changed = await sh(`${W} keyby user --job-dir '${job}' --resume ${F} | ${W} window tumbling 5m --time ts --max-delay 5s | ${W} aggregate count sum:amount >> '${out}'`)
  // the window stage refuses (64); the aggregate after it then reads no end from it and exits 74,
  // which pipefail reports, being the last
  t.equal(changed.code, 74, changed.stderr)
  t.match(changed.stderr, /ended without finishing its stream/)
  t.match(changed.stderr, /took stage 2 of the chain \('weir window tumbling 5m --time ts --max-delay 5s'\) as 'weir window tumbling 1m --time ts --max-delay 5s'/)
  const removed = await sh(`${W} keyby user --job-dir '${job}' --resume ${F} | ${W} window tumbling 1m --time ts --max-delay 5s >> '${out}'`)
  t.equal(removed.code, 64, removed.stderr)
  t.match(removed.stderr, /stage 3 \('weir aggregate count sum:amount'\) gone/)
  const added = await sh(`${CHAIN(job, '--resume')} | ${W} filter true >> '${out}'`)
  t.equal(added.code, 64, added.stderr)
  t.match(added.stderr, /stage 4 of the chain \('weir filter true'\) was not in it/)
  const allowed = await sh(
    `${W} keyby user --job-dir '${job}' --resume --allow-changed-pipeline ${F} | ${W} window tumbling 5m --time ts --max-delay 5s | ${W} aggregate count sum:amount >> '${out}'`,
  )
  t.equal(allowed.code, 0, allowed.stderr)
  t.match(allowed.stderr, /the rest starts empty/)
})

t.test('a finished chain resumed: every stage exits 0 at once and the output is untouched', async (t) => {
  const dir = t.testdir({})
  const job = join(dir, 'job')
  const out = join(dir, 'out.ndjson')
  const r = await sh(`${CHAIN(job)} >> '${out}'`)
  t.equal(r.code, 0, r.stderr)
  const before = readFileSync(out, 'utf8')
  const again = await sh(`${CHAIN(job, '--resume')} >> '${out}'`)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /finished at checkpoint \d+ and its input has not changed: nothing to do/)
  t.equal(readFileSync(out, 'utf8'), before, 'not one line more')
})

t.test('--job-dir on a later stage must name the job dir of the chain', async (t) => {
  const dir = t.testdir({})
  const r = await sh(`${W} keyby user --job-dir '${dir}/a' ${F} | ${W} aggregate count --job-dir '${dir}/b'`)
  t.equal(r.code, 64, r.stderr)
  t.match(r.stderr, /the stage before this one runs the job in .*\/a; a chain has one job dir/)
})

t.test('weir state --stage N shows a later stage of a chain: the open windows the then form keeps', async (t) => {
  const dir = t.testdir({})
  const chain = join(dir, 'chain')
  const fused = join(dir, 'fused')
  const a = await sh(`${CHAIN(chain, '--no-flush')} > /dev/null`)
  t.equal(a.code, 0, a.stderr)
  const b = await sh(`${W} keyby user then window tumbling 1m --time ts --max-delay 5s then aggregate count sum:amount ${F} --job-dir '${fused}' --no-flush > /dev/null`)
  t.equal(b.code, 0, b.stderr)
  const entries = (s: string) =>
    s
      .split('\n')
      .filter((l) => l)
      .map((l) => JSON.parse(l) as { key: unknown; ns: unknown; value: unknown })
      .map((r) => JSON.stringify([r.key, r.ns, r.value]))
      .sort()
  const third = await sh(`${W} state '${chain}' --stage 3 --json`)
  t.equal(third.code, 0, third.stderr)
  const one = await sh(`${W} state '${fused}' --json`)
  t.ok(entries(one.stdout).length > 10, 'open windows to compare')
  t.same(entries(third.stdout), entries(one.stdout), 'the aggregate stage holds what the fused window holds')
  const none = await sh(`${W} state '${chain}' --stage 4`)
  t.equal(none.code, 64)
  t.match(none.stderr, /--stage 4: checkpoint \d+ has stages 1 to 3/)
  const keyby = await sh(`${W} state '${chain}' --stage 1`)
  t.equal(keyby.code, 66, 'the keyby stage keeps no keyed state, and says so')
  t.match(keyby.stderr, /stage 1 \('keyby'\) keeps no keyed state/)
})

t.test('a stage many checkpoints ahead of the one completing them keeps the state of each it took: a resume from the oldest restores it', async (t) => {
  const dir = t.testdir({})
  const input = join(dir, 'in.ndjson')
  const pad = 'x'.repeat(60)
  // some 3.5 MB: the first stage reads it in a dozen chunks or more, a checkpoint at each
  writeFileSync(input, Array.from({ length: 40000 }, (_, i) => JSON.stringify({ k: `k${i % 5}`, v: i, pad }) + '\n').join(''))
  const ref = await sh(`${W} keyby k then aggregate count sum:v '${input}'`)
  t.equal(ref.code, 0, ref.stderr)
  const job = join(dir, 'job')
  const out = join(dir, 'out.ndjson')
  // the last stage starts a second late: the first takes all its checkpoints before any of them
  // completes; the last completes checkpoints 0 and 1, and is killed
  const run = (crash: string) =>
    sh(`${W} keyby k then aggregate count sum:v '${input}' --job-dir '${job}' --checkpoint-interval 1000r --resume | (sleep 1; WEIR_CRASH_AT=${crash} ${W} filter true >> '${out}')`)
  const killed = await run('after-manifest:2')
  t.equal(killed.code, 137, killed.stderr)
  // which two completed depends on how far the first stage got in that second (0 and 1 on a quiet
  // machine; 0 and 2, or 1 and 3, under load): in each case older than its latest checkpoints
  t.equal(manifests(job).length, 2, manifests(job).join(' '))
  const again = await run('none')
  t.equal(again.code, 0, again.stderr)
  t.equal(readFileSync(out, 'utf8'), ref.stdout, 'checkpoint 1 restored its counts, which the later ones had not reclaimed')
})

t.test("every stage's part of every checkpoint has read = the sum of its fates (decisions.md 12, 34), on each parse path", async (t) => {
  // A barrier reaches a later stage as a channel entry before the line after it: that line is read
  // only after the snapshot, so no part counts a record read whose fate falls in the next one
  // (checkpoint 0 showed read 1 and no fate in every later stage's part).
  interface Totals {
    read: number
    written: number
    filtered: number
    consumed: number
    late: number
    skipped: number
    deadLettered: number
    failed?: number
  }
  const fates = (x: Totals) => x.written + x.filtered + x.consumed + x.late + x.skipped + x.deadLettered + (x.failed ?? 0)
  for (const [path, env] of [
    ['projected', {}],
    ['whole records', { WEIR_PROJECT: '0' }],
  ] as const) {
    for (const win of ['count 5', 'session 30s --time ts', 'global']) {
      const dir = t.testdir({})
      const job = join(dir, 'job')
      const r = await sh(
        `${W} keyby user --job-dir '${job}' --checkpoint-interval 1000r ${F} | ${W} window ${win} | ${W} filter 'r.amount >= 0' | ${W} aggregate count sum:amount >> '${dir}/out.ndjson'`,
        { env },
      )
      t.equal(r.code, 0, r.stderr)
      const seen: string[] = []
      for (const name of manifests(job)) {
        const m = JSON.parse(readFileSync(join(job, 'checkpoints', name), 'utf8')) as { id: number; totals: Totals; chain: { stage: number; totals: Totals }[] }
        for (const part of [{ stage: 0, totals: m.totals }, ...m.chain]) {
          const { read } = part.totals
          seen.push(`${m.id}/${part.stage}: read ${read}, fates ${fates(part.totals)}`)
          t.equal(fates(part.totals), read, `${path}, window ${win}: checkpoint ${m.id}, stage ${part.stage}`)
        }
      }
      t.ok(seen.length >= 8, `${path}, window ${win}: several checkpoints of four stages (${seen.join('; ')})`)
    }
  }
})
