// The fast stage parser (yargs-parser over recorded declarations) must agree with full yargs on
// every well-formed command line, and decline (so yargs answers) on everything else.
import t from 'tap'
import { fastParse } from '../../lib/commandline/fast-parse.js'
import { findCommand, type CommandModule } from '../../lib/commandline/table.js'
import { protectDash, restoreDash } from '../../lib/commandline/common.js'
import { parseWithYargs } from '../../lib/commandline/parse-stage.js'

async function viaYargs(mod: CommandModule, words: string[]): Promise<Record<string, unknown> | Error> {
  try {
    return await parseWithYargs(mod, words, words[0]!)
  } catch (e) {
    return e as Error
  }
}

const WELL_FORMED = [
  ['filter', 'r.amount > 10'],
  ['filter', 'r.amount > 10', 'a.ndjson', '-', 'b.ndjson', '-o', 'out.ndjson'],
  ['filter', '1e3', '123', '--on-error', 'skip'],
  ['map', '({...r, n: 1})', '--output=x.ndjson', '-v'],
  ['keyby', 'user,country', 'f.ndjson'],
  ['keyby', 'payload.user_id', '--on-error', 'dead-letter', '--dead-letter', 'dead.ndjson'],
  ['window', 'tumbling', '1m', '--time', 'ts'],
  ['window', 'tumbling', '1d', '--offset=-8h', '--time', 'ts', '--max-delay', '5s', '--lateness', '30s', 'in.ndjson'],
  ['window', 'sliding', '10m', '1m', '-t', 'ts', '--time-unit', 's', '--late-output', 'late.ndjson'],
  ['window', 'session', '30s', '--time', 'ts', '--idle-timeout', '2s', '--no-flush'],
  ['window', 'count', '5', 'a.ndjson', 'b.ndjson'],
  ['window', 'global'],
  ['window', 'tumbling', '1m', '--ingestion-time'],
  ['window', 'tumbling', '1m', '--processing-time', '--flush'],
  ['aggregate', 'count', 'sum:amount', 'p95:latency=slow', 'fixtures/clicks.ndjson'],
  ['aggregate', 'count', '--emit', 'updates', '--', 'count'],
  ['process', 'fixtures/fn/failed-logins.mjs', '--time', 'ts'],
  ['run', 'job.json', '-', '-o', 'out.ndjson'],
]

const DECLINED = [
  ['filter', 'x', '--bogus'],
  ['filter'],
  ['window', 'weekly', '1m'],
  ['window', 'tumbling', '1m', '--time-unit', 'h', '--time', 'ts'],
  ['aggregate', 'count', '--emit', 'sometimes'],
  ['map', 'r', '--help'],
  ['filter', 'x', '-o', 'a', '-o', 'b'],
]

t.test('well-formed command lines parse the same with and without yargs', async (t) => {
  for (const words of WELL_FORMED) {
    const mod = await findCommand(words[0]!)!.load()
    const fast = fastParse(mod, protectDash(words))
    t.ok(fast, `fast path takes: ${words.join(' ')}`)
    const slow = await viaYargs(mod, words)
    t.notOk(slow instanceof Error, `yargs takes it too: ${slow instanceof Error ? slow.message : ''}`)
    const f = restoreDash(fast!)
    const s = slow as Record<string, unknown>
    for (const k of ['files', 'output', 'late-output', 'dead-letter', 'on-error', 'flush', 'verbose', 'spec', 'emit'])
      t.same(f[k], s[k], `${words.join(' ')}: ${k}`)
    if (mod.toStage) t.same(mod.toStage(f), mod.toStage(s), `${words.join(' ')}: the same stage`)
  }
})

t.test('anything unusual is left to yargs', async (t) => {
  for (const words of DECLINED) {
    const mod = await findCommand(words[0]!)!.load()
    t.equal(fastParse(mod, protectDash(words)), undefined, words.join(' '))
  }
})
