import t from 'tap'
import { harness } from '../harness/operator.js'
import { weir, records } from '../harness/cli.js'
import { processOperator } from '../../lib/operators/process.js'
import { MemoryStateBackend } from '../../lib/state/memory.js'
import { makeKey } from '../../lib/stream/key.js'
import { newStats } from '../../lib/stream/stats.js'
import { ManualClock } from '../../lib/time/clock.js'
import type { Rec } from '../../lib/stream/record.js'

const MIN = Number.MIN_SAFE_INTEGER
const fail = (user: string, ts: number) => ({ user, ts, event: 'login_failed' })

t.test('failed-logins example: three failures within a minute raise one alert', async (t) => {
  const h = await harness('keyby user then process fixtures/fn/failed-logins.mjs --time ts --max-delay 1s')
  h.push(fail('a', 0))
  h.push(fail('b', 1_000))
  h.push(fail('a', 30_000))
  h.push({ user: 'a', ts: 31_000, event: 'view' })
  t.same(h.values(), [], 'two failures are not enough')
  h.push(fail('a', 59_000))
  t.same(h.values(), [{ user: 'a', alert: 'failed_logins', count: 3, first: 0, last: 59_000 }])
  h.push(fail('b', 70_000)) // b's first failure aged out (its timer at 61 s cleared it)
  h.push(fail('b', 80_000))
  h.end()
  t.equal(h.values().length, 1, 'b never had three within a minute')
})

t.test('session-summary example: a summary after 10 minutes of inactivity, per user', async (t) => {
  const h = await harness('keyby user then process fixtures/fn/session-summary.mjs --time ts')
  const min = 60_000
  h.push({ user: 'a', ts: 0, event: 'view' })
  h.push({ user: 'a', ts: 5 * min, event: 'purchase', amount: 7 })
  h.push({ user: 'b', ts: 6 * min, event: 'view' })
  h.push({ user: 'a', ts: 9 * min, event: 'view' }) // extends a's session: its timer moves to 19 min
  h.push({ user: 'b', ts: 18 * min, event: 'view' }) // watermark 18 min − 1: b's timer (16 min) fires
  t.same(h.values(), [{ user: 'b', session_start: 6 * min, session_end: 6 * min, events: 1, purchases: 0, amount: 0 }])
  h.push({ user: 'c', ts: 40 * min, event: 'view' }) // closes a's session (19 min) and b's second (28 min), in time order
  t.same(h.values().slice(1), [
    { user: 'a', session_start: 0, session_end: 9 * min, events: 3, purchases: 1, amount: 7 },
    { user: 'b', session_start: 18 * min, session_end: 18 * min, events: 1, purchases: 0, amount: 0 },
  ])
  h.end()
  t.same(h.values()[3], { user: 'c', session_start: 40 * min, session_end: 40 * min, events: 1, purchases: 0, amount: 0 }, 'end of input fires the rest')
})

t.test('state is copied: mutating an object after update() does not change state', async (t) => {
  const dir = t.testdir({
    'fn.mjs': `
      export function processElement(r, ctx) {
        const s = ctx.state.value('s')
        const o = s.value() ?? { n: 0, seen: [] }
        o.n++
        s.update(o)
        o.n = 1000          // after update: must not reach state
        o.seen.push('oops')
        const m = ctx.state.map('m')
        m.put(String(r.x), { x: r.x })
        ctx.emit({ key: ctx.key, n: s.value().n, seen: s.value().seen.length, keys: m.keys() })
      }`,
  })
  const h = await harness(`keyby k then process ${dir}/fn.mjs`)
  h.push({ k: 'a', x: 2 })
  h.push({ k: 'a', x: 1 })
  h.push({ k: 'b', x: 3 })
  t.same(h.values(), [
    { key: 'a', n: 1, seen: 0, keys: ['2'] },
    { key: 'a', n: 2, seen: 0, keys: ['1', '2'] },
    { key: 'b', n: 1, seen: 0, keys: ['3'] },
  ])
})

t.test('list and map state change in place and stay copies: adds, puts, removes to empty, __proto__ as a key', async (t) => {
  const dir = t.testdir({
    'fn.mjs': `
      export function processElement(r, ctx) {
        const l = ctx.state.list('l')
        const m = ctx.state.map('m')
        const v = { x: r.x }
        if (r.op === 'add') { l.add(v); m.put(r.name, v) }
        if (r.op === 'remove') m.remove(r.name)
        if (r.op === 'reset') l.update([])
        v.x = 'mutated after' // must reach neither state
        const got = l.get()
        got.push('not in state')
        ctx.emit({ key: ctx.key, list: l.get(), keys: m.keys(), entries: m.entries(), proto: m.has('__proto__') })
      }`,
  })
  const h = await harness(`keyby k then process ${dir}/fn.mjs`)
  h.push({ k: 'a', op: 'add', name: 'p', x: 1 })
  h.push({ k: 'a', op: 'add', name: '__proto__', x: 2 })
  h.push({ k: 'b', op: 'add', name: 'q', x: 3 })
  h.push({ k: 'a', op: 'remove', name: 'nope' })
  h.push({ k: 'a', op: 'add', name: 'p', x: 4 })
  h.push({ k: 'a', op: 'remove', name: 'p' })
  h.push({ k: 'a', op: 'remove', name: '__proto__' }) // a's map is empty now: gone from state
  h.push({ k: 'a', op: 'reset' })
  h.push({ k: 'a', op: 'add', name: 'r', x: 5 })
  t.same(h.values(), [
    { key: 'a', list: [{ x: 1 }], keys: ['p'], entries: [['p', { x: 1 }]], proto: false },
    { key: 'a', list: [{ x: 1 }, { x: 2 }], keys: ['__proto__', 'p'], entries: [['__proto__', { x: 2 }], ['p', { x: 1 }]], proto: true },
    { key: 'b', list: [{ x: 3 }], keys: ['q'], entries: [['q', { x: 3 }]], proto: false },
    { key: 'a', list: [{ x: 1 }, { x: 2 }], keys: ['__proto__', 'p'], entries: [['__proto__', { x: 2 }], ['p', { x: 1 }]], proto: true },
    { key: 'a', list: [{ x: 1 }, { x: 2 }, { x: 4 }], keys: ['__proto__', 'p'], entries: [['__proto__', { x: 2 }], ['p', { x: 4 }]], proto: true },
    { key: 'a', list: [{ x: 1 }, { x: 2 }, { x: 4 }], keys: ['__proto__'], entries: [['__proto__', { x: 2 }]], proto: true },
    { key: 'a', list: [{ x: 1 }, { x: 2 }, { x: 4 }], keys: [], entries: [], proto: false },
    { key: 'a', list: [], keys: [], entries: [], proto: false },
    { key: 'a', list: [{ x: 5 }], keys: ['r'], entries: [['r', { x: 5 }]], proto: false },
  ])
})

t.test('processing-time timers fire on the clock; timers are per key and deduplicated', async (t) => {
  const dir = t.testdir({
    'fn.mjs': `
      export function processElement(r, ctx) {
        const now = ctx.timerService.currentProcessingTime()
        ctx.timerService.registerProcessingTimeTimer(now + 100)
        ctx.timerService.registerProcessingTimeTimer(now + 100)
      }
      export function onTimer(ts, ctx) { ctx.emit({ key: ctx.key, ts, domain: ctx.timeDomain }) }`,
  })
  const h = await harness(`keyby k then process ${dir}/fn.mjs`, { now: 1000 })
  h.push({ k: 'x' })
  h.push({ k: 'y' })
  h.tick(1099)
  t.same(h.values(), [])
  h.tick(1100)
  t.same(h.values(), [
    { key: 'x', ts: 1100, domain: 'processing' },
    { key: 'y', ts: 1100, domain: 'processing' },
  ])
})

t.test('event-time timers registered in any order fire once each, in time order; deleted ones do not', async (t) => {
  // a key's times are kept in order and found by bisection: registrations out of order, again,
  // and deletions of times registered and not
  const dir = t.testdir({
    'fn.mjs': `
      export function processElement(r, ctx) {
        for (const d of r.add ?? []) ctx.timerService.registerEventTimeTimer(d)
        for (const d of r.del ?? []) ctx.timerService.deleteEventTimeTimer(d)
      }
      export function onTimer(ts, ctx) {
        ctx.emit({ key: ctx.key, ts })
        if (ts === 50) ctx.timerService.registerEventTimeTimer(55)
      }`,
  })
  const h = await harness(`keyby k then process ${dir}/fn.mjs --time t`)
  h.push({ k: 'a', t: 0, add: [90, 30, 60, 10, 30, 70, 50] })
  h.push({ k: 'b', t: 0, add: [40, 20, 40] })
  h.push({ k: 'a', t: 1, add: [20, 10], del: [60, 65, 10] })
  h.push({ k: 'a', t: 52 }) // watermark 51: a's 20, 30, 50 and b's 20, 40, in time order; 50 registers 55
  t.same(h.values(), [
    { key: 'a', ts: 20 },
    { key: 'b', ts: 20 },
    { key: 'a', ts: 30 },
    { key: 'b', ts: 40 },
    { key: 'a', ts: 50 },
  ])
  h.end()
  t.same(h.values().slice(5), [
    { key: 'a', ts: 55 },
    { key: 'a', ts: 70 },
    { key: 'a', ts: 90 },
  ])
})

t.test('timers kept in state in the order registered (as before they were sorted) are restored and found', async (t) => {
  const fired: unknown[] = []
  const op = processOperator(
    {
      name: 'fn',
      eventTime: true,
      module: {
        processElement(_r, ctx) {
          ctx.timerService.deleteEventTimeTimer(30)
          ctx.timerService.registerEventTimeTimer(20) // registered already: not twice
        },
        onTimer(ts, ctx) {
          ctx.emit(ts)
        },
      },
    },
    'process-test',
  )
  const backend = new MemoryStateBackend()
  const key = makeKey(['a'])
  backend.operator('process-test').put(key, 't', { e: [40, 20, 30, 10], p: [] })
  op.open!({ uid: 'process-test', state: backend, clock: new ManualClock(), stats: newStats(), badRecord: () => t.fail('bad record') })
  op.restore!(MIN)
  t.same(backend.operator('process-test').get(key, 't'), { e: [10, 20, 30, 40], p: [] }, 'sorted and put back')
  const out = { record: (r: Rec) => fired.push(r.value), watermark() {}, late() {}, pane() {} }
  op.processRecord({ raw: undefined, value: {}, key, time: 5, source: 'x', line: 1 }, out)
  op.endInput!(out)
  t.same(fired, [10, 20, 40])
})

t.test('a process function that throws is an error with the line number (exit 1)', async (t) => {
  const dir = t.testdir({ 'fn.mjs': `export function processElement(r) { if (r.bad) throw new Error('no good') }` })
  const r = await weir(['process', `${dir}/fn.mjs`], { stdin: '{"a":1}\n{"bad":true}\n' })
  t.equal(r.code, 1)
  t.match(r.stderr, /^weir: stdin:2: process .*fn\.mjs: processElement threw: no good\n$/)
})

// An async function's rejection crashed weir with a stack (exit 1, no file or line), and what it
// emits after an await would come after its record: async functions are refused with one line.
t.test('an async process function is refused at its first record with one line (exit 1), never a crash', async (t) => {
  const dir = t.testdir({
    'reject.mjs': `export function processElement(r) { return Promise.reject(new Error('async boom')) }`,
    'async.mjs': `export async function processElement(r, ctx) { await null; ctx.emit(r) }`,
    'timer.mjs': `export function processElement(r, ctx) { ctx.timerService.registerEventTimeTimer(ctx.timestamp) }\nexport async function onTimer() {}`,
  })
  for (const f of ['reject', 'async']) {
    const r = await weir(['process', `${dir}/${f}.mjs`], { stdin: '{"a":1}\n{"a":2}\n' })
    t.equal(r.code, 1, `${f}: exit 1`)
    t.match(r.stderr, new RegExp(`^weir: stdin:1: process .*${f}\\.mjs: processElement returned a Promise: process functions run synchronously \\(no async or await\\)\n$`), `${f}: one line`)
    t.equal(r.stdout, '')
  }
  const r = await weir(['keyby', 'a', 'then', 'process', `${dir}/timer.mjs`, '--time', 'a'], { stdin: '{"a":1}\n' })
  t.equal(r.code, 1, 'onTimer: exit 1')
  t.match(r.stderr, /^weir: process .*timer\.mjs: onTimer returned a Promise: .*\n$/)
})

t.test('a module without processElement is refused before reading (exit 64); a missing one exits 66', async (t) => {
  const dir = t.testdir({ 'fn.mjs': `export const x = 1` })
  const r = await weir(['process', `${dir}/fn.mjs`], { stdin: '{"a":1}\n' })
  t.equal(r.code, 64)
  t.match(r.stderr, /must export a function processElement/)
  const m = await weir(['process', `${dir}/nope.mjs`], { stdin: '' })
  t.equal(m.code, 66)
})

t.test('the examples run on the fixtures through the CLI', async (t) => {
  const r = await weir(['keyby', 'user', 'then', 'process', 'fixtures/fn/session-summary.mjs', '--time', 'ts', '--max-delay', '5s', 'fixtures/clicks.ndjson'])
  t.equal(r.code, 0, r.stderr)
  const rows = records(r.stdout)
  t.ok(rows.length >= 40, `${rows.length} sessions`)
  const events = rows.reduce((s, x) => s + (x.events as number), 0)
  t.equal(events, 3000, 'every event is in exactly one session summary')
})

t.test('a module that does not load says why; a syntax error names its file, line and column, in an imported file too', async (t) => {
  const dir = t.testdir({
    'bad.mjs': 'export function processElement(r, ctx) {\n  ctx.emit(r)\n  let x = ;\n}\n',
    'imports-bad.mjs': "import './bad.mjs'\nexport function processElement(r, ctx) { ctx.emit(r) }\n",
    'throws.mjs': "throw new Error('boom')\n",
  })
  const bad = await weir(['process', `${dir}/bad.mjs`], { stdin: '{}\n' })
  t.equal(bad.code, 64)
  t.equal(bad.stderr, `weir: process: ${dir}/bad.mjs:3:11: syntax error: Unexpected token ';' (see 'weir process --help')\n`)
  const imp = await weir(['process', 'imports-bad.mjs'], { stdin: '{}\n', cwd: dir })
  t.equal(imp.code, 64)
  t.equal(imp.stderr, `weir: process: ${dir}/bad.mjs:3:11: syntax error: Unexpected token ';' (imported by ${dir}/imports-bad.mjs) (see 'weir process --help')\n`)
  const thrown = await weir(['process', `${dir}/throws.mjs`], { stdin: '{}\n' })
  t.equal(thrown.code, 64)
  t.equal(thrown.stderr, `weir: process: ${dir}/throws.mjs: cannot load: boom (see 'weir process --help')\n`)
})
