// The projecting scanner must agree with JSON.parse wherever it answers: on generated records
// (escapes, unicode, nesting, duplicate names, numbers in every form, odd whitespace) and on the
// same records mutated byte by byte into near-JSON. Where it declines, the worker falls back to
// JSON.parse, so declining is always safe; but it must not decline the records it is for.
import t from 'tap'
import { Projector } from '../../lib/io/project.js'

const seed = Number(process.env.WEIR_SEED ?? Date.now() % 100000)
t.comment(`seed ${seed} (replay with WEIR_SEED=${seed})`)
let state = seed || 1
const rnd = () => {
  // xorshift32: deterministic, so a failure replays
  state ^= state << 13
  state ^= state >>> 17
  state ^= state << 5
  return (state >>> 0) / 4294967296
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!

const FIELDS = ['user', 'ts', 'amount', 'é', '😀k']
const NAMES = [...FIELDS, 'other', 'device', 'u', 'usera', 'use', '', 'ts ', 'Ts', '__proto__', 'constructor']
const NUMBERS = [
  '0', '-0', '1', '-1', '7', '42', '123456789012345', '-123456789012345', '1234567890123456', '12345678901234567890',
  '9007199254740993', '0.5', '-0.0', '3.14159', '1e3', '1E3', '1e+3', '1e-3', '-2.5E-7', '1e400', '-1e400', '4.9e-325',
  '0.1', '100', '1732521600000', '17325216000000000000000', '0.000001', '2.2250738585072014e-308',
]
const STRING_PARTS = ['a', 'abc', 'é', 'ü', '日本', '😀', '\\n', '\\"', '\\\\', '\\/', '\\u0041', '\\u00e9', '\\ud83d\\ude00', '\\t', ' ', ',', ':', '{', ']']
const WS = ['', '', '', ' ', '  ', '\t', '\r', '\n ', ' \t ']

function str(): string {
  let s = ''
  const n = Math.floor(rnd() * 4)
  for (let i = 0; i < n; i++) s += pick(STRING_PARTS)
  return `"${s}"`
}
const ws = () => pick(WS)

function value(depth: number): string {
  const r = rnd()
  if (r < 0.3) return pick(NUMBERS)
  if (r < 0.55) return str()
  if (r < 0.65) return pick(['true', 'false', 'null'])
  if (depth > 3) return pick(NUMBERS)
  if (r < 0.82) return object(depth + 1)
  const n = Math.floor(rnd() * 4)
  const items = Array.from({ length: n }, () => ws() + value(depth + 1) + ws())
  return `[${items.join(',')}${n === 0 ? ws() : ''}]`
}

function name(): string {
  const r = rnd()
  if (r < 0.75) return `"${pick(NAMES)}"`
  if (r < 0.85) return '"us\\u0065r"' // "user", spelled with an escape
  return str()
}

function object(depth: number): string {
  const n = Math.floor(rnd() * 6)
  const members = Array.from({ length: n }, () => `${ws()}${name()}${ws()}:${ws()}${value(depth)}${ws()}`)
  return `{${members.join(',')}${n === 0 ? ws() : ''}}`
}

function mutate(text: string): string {
  const bytes = [...Buffer.from(text)]
  const k = Math.floor(rnd() * 3) + 1
  for (let m = 0; m < k; m++) {
    const at = Math.floor(rnd() * (bytes.length + 1))
    const r = rnd()
    // JSON's punctuation, number and literal letters, and control characters (a raw tab or 0x1f in a string is an error)
    const b = pick([...Buffer.from('{}[]",:\\ -+.eE0123456789tfnul"a'), 0x00, 0x09, 0x0a, 0x1f, 0x7f])
    if (r < 0.35) bytes.splice(at, 1)
    else if (r < 0.7) bytes.splice(at, 0, b)
    else if (at < bytes.length) bytes[at] = b
    else bytes.length = Math.max(0, bytes.length - 1)
  }
  return Buffer.from(bytes).toString('utf8')
}

function reference(text: string): unknown[] | 'reject' | 'not-object' {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return 'reject'
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not-object'
  const o = v as Record<string, unknown>
  return FIELDS.map((f) => (Object.prototype.hasOwnProperty.call(o, f) ? o[f] : undefined))
}

const projector = new Projector(FIELDS)

/** Why the scanner and JSON.parse disagree on this line, or undefined. */
function check(text: string, mustAnswer: boolean): string | undefined {
  // pad the line inside a larger buffer, as the worker scans lines in place within a chunk
  const pre = Buffer.from('{"x":1}\n')
  const line = Buffer.from(text)
  const buf = Buffer.concat([pre, line, Buffer.from('\ntrue\n')])
  const out: unknown[] = []
  const answered = projector.project(buf, pre.length, pre.length + line.length, out)
  const ref = reference(text)
  if (answered) {
    if (!Array.isArray(ref)) return `answered where JSON.parse says ${ref}: ${JSON.stringify(text)}`
    for (let f = 0; f < FIELDS.length; f++)
      if (!deepSame(out[f], ref[f])) return `field ${FIELDS[f]}: got ${show(out[f])}, JSON.parse gives ${show(ref[f])} in ${JSON.stringify(text)}`
  } else if (mustAnswer && Array.isArray(ref)) return `declined a valid record: ${JSON.stringify(text)}`
  return undefined
}

const show = (v: unknown) => (Object.is(v, -0) ? '-0' : JSON.stringify(v) ?? 'undefined')

function deepSame(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b)
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  return ka.every((k, i) => k === kb[i] && deepSame((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}


t.test('generated records: the same fields as JSON.parse, and no plain record declined', async (t) => {
  let answered = 0
  const N = 20000
  for (let i = 0; i < N; i++) {
    const text = ws() + object(0) + ws()
    const why = check(text, true)
    if (why) return t.fail(why)
    answered++
  }
  t.equal(answered, N, 'every generated record answered by the scanner')
})

t.test('mutated records: never an answer JSON.parse would not give', async (t) => {
  let rejectedByBoth = 0
  const N = 40000
  for (let i = 0; i < N; i++) {
    const text = mutate(object(0))
    const why = check(text, false)
    if (why) return t.fail(why)
    if (reference(text) === 'reject') rejectedByBoth++
  }
  t.ok(rejectedByBoth > N / 4, `${rejectedByBoth} of ${N} mutations were malformed JSON`)
})

t.test('edge cases', async (t) => {
  const cases = [
    '{}', ' { } ', '{"user":"a","user":"b"}', '{"ts":1,"ts":"x"}', '{"user":"a"} x', '{"user":"a",}', '{"user" "a"}',
    '{"user":01}', '{"user":-}', '{"user":1.}', '{"user":.5}', '{"user":1e}', '{"user":+1}', '{"user":tru}', '{"user":nulll}',
    '{"user":"\u0001"}', '{"user":"a\\x"}', '{"user":"\\u12"}', '{"user":"\\uD83D"}', '{"user":[1,2,]}', '{"user":{"a":}}',
    '{"user":{"a":1}}', '{"user":[[[[]]]]}', '[1]', '"user"', '1', 'null', '{"user":1}{"ts":2}', '{"device":{"os":"x","v":[1,{"a":null}]},"user":"u"}',
    '{"user":"' + 'x'.repeat(5000) + '"}', '{"amount":' + '['.repeat(100) + ']'.repeat(100) + '}', '{"ts":-0}', '{"ts":1E400}',
    '\ufeff{"user":"a"}', '{"user":"a"}\u00a0', '{"__proto__":1,"user":2}',
  ]
  for (const c of cases) {
    const why = check(c, false)
    if (why) return t.fail(why)
  }
  const out: unknown[] = []
  t.ok(projector.project(Buffer.from('{"user":"a","user":"b"}'), 0, 23, out))
  t.equal(out[0], 'b', 'a repeated name: the last one wins, as in JSON.parse')
})

t.test('short texts read again come from the recent texts: the same values as JSON.parse', async (t) => {
  // More distinct texts than the cache has slots, of lengths 0–7 over a small alphabet, so slots
  // collide between texts of equal and of different lengths (a prefix among them), and bytes
  // above 127 beside them; each read twice, in two orders. A cache of 4 slots makes every kind of
  // collision common.
  const alphabet = ['a', 'b', 'c', 'é', '0', '日']
  const texts = new Set<string>()
  while (texts.size < 100_000) {
    let s = ''
    const n = Math.floor(rnd() * 8)
    for (let i = 0; i < n; i++) s += pick(alphabet)
    texts.add(s)
  }
  const all = [...texts]
  const order = [...all, ...all.slice().sort(() => rnd() - 0.5)]
  const lines = order.map((s) => Buffer.from(JSON.stringify({ ts: 1, user: s })))
  for (const slots of [undefined, 4]) {
    const p = new Projector(['user'], slots)
    const out: unknown[] = []
    let wrong = 0
    for (let i = 0; i < order.length; i++) if (!p.project(lines[i]!, 0, lines[i]!.length, out) || out[0] !== order[i]) wrong++
    t.equal(wrong, 0, `${order.length} reads of ${all.length} texts, each its own value (${slots ?? 'default'} slots)`)
  }
})

t.test('a number read again gives the value of its own text, and long or same-length names are told apart', async (t) => {
  // Number texts that often equal the one before, or differ from it in one byte or in length only
  // (-0 after 0, 1e2 beside 100, a window's bounds in turn), each compared with JSON.parse.
  const texts = ['0', '-0', '100', '1e2', '1E2', '1.5', '1.50', '1732521600000', '1732521660000', '-1732521600000',
    '12345678901234567890', '12345678901234567891', '0.1', '1e400', '123456789012345678901234567']
  const long = 'n'.repeat(70)
  const longToo = 'n'.repeat(69) + 'm'
  const fields = ['ts', 'page', 'user', long, 'window_start']
  const p = new Projector(fields)
  const out: unknown[] = []
  let wrong = 0
  let n = 0
  for (let i = 0; i < 20000; i++) {
    const a = rnd() < 0.6 && i > 0 ? texts[(i >> 3) % texts.length]! : pick(texts)
    const b = pick(texts)
    const text = `{"ts":${a},"user":${b},"pags":${b},"${longToo}":1,"${long}":${a},"window_start":${rnd() < 0.5 ? a : b}}`
    const ref = JSON.parse(text) as Record<string, unknown>
    const buf = Buffer.from(text)
    n++
    if (!p.project(buf, 0, buf.length, out)) wrong++
    else for (let f = 0; f < fields.length; f++) if (!Object.is(out[f], ref[fields[f]!])) wrong++
  }
  t.equal(wrong, 0, `${n} records: every field as JSON.parse gives it`)
})

t.test('presence only: the same records answered and rejected, and each field present exactly where JSON.parse has it', async (t) => {
  // the first stage of `weir keyby user | …` asks only whether the key fields are there
  const presence = new Projector(FIELDS, undefined, true)
  let wrong = 0
  let answered = 0
  const N = 20000
  for (let i = 0; i < N; i++) {
    const text = i % 2 === 0 ? ws() + object(0) + ws() : mutate(object(0))
    const buf = Buffer.from(text)
    const out: unknown[] = []
    const ok = presence.project(buf, 0, buf.length, out)
    const ref = reference(text)
    if (!ok) {
      // declining is safe (JSON.parse then decides) but a valid record must not be declined
      if (i % 2 === 0 && Array.isArray(ref)) wrong++
      continue
    }
    answered++
    if (!Array.isArray(ref)) {
      wrong++
      continue
    }
    for (let f = 0; f < FIELDS.length; f++) {
      const v = ref[f]
      const expected = v === undefined ? undefined : v === false || v === null ? v : true
      if (out[f] !== expected) wrong++
    }
  }
  t.equal(wrong, 0, `${answered} of ${N} records answered, each field's presence as JSON.parse has it`)
})
