import t from 'tap'
import { makeKey } from '../../lib/stream/key.js'
import { RowWriter } from '../../lib/stream/row-text.js'
import { rowText } from '../../lib/stream/record.js'

// The row writer must write what JSON.stringify writes for the same row (and, for keys with
// integers beyond 2^53, what rowText writes): a row's text is what the user reads, and a resumed
// job's output is compared byte for byte with an uninterrupted one's.

function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const VALUES: unknown[] = [
  0, -0, 1, -17, 0.1, 1e21, 1e-7, 123456.789, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity,
  '', 'u17', 'quote " and \\ backslash', 'tab\tnewline\n', 'é😀', '\u2028', '\ud800 lone surrogate',
  true, false, null, undefined, [], [1, 'a', null], {}, { b: 1, a: [2] }, { nested: { x: undefined } },
]

function build(keyNames: string[], keyValues: unknown[], window: [unknown, unknown] | undefined, aggNames: string[], results: unknown[]) {
  const row: Record<string, unknown> = {}
  for (let i = 0; i < keyNames.length; i++) row[keyNames[i]!] = keyValues[i]
  if (window) {
    row.window_start = window[0]
    row.window_end = window[1]
  }
  for (let i = 0; i < aggNames.length; i++) row[aggNames[i]!] = results[i]
  return row
}

t.test('a row written by the writer is JSON.stringify of the row, for every kind of value', async (t) => {
  const rnd = random(19)
  const pick = () => VALUES[Math.floor(rnd() * VALUES.length)]
  let checked = 0
  for (let n = 0; n < 3000; n++) {
    const keyNames = ['user', 'country', 'k3'].slice(0, Math.floor(rnd() * 4))
    // keys are never undefined: keyby makes a missing key field bad input
    const keyValues = keyNames.map(() => {
      const v = pick()
      return v === undefined ? null : v
    })
    const windowed = rnd() < 0.6
    const window: [unknown, unknown] | undefined = windowed ? (rnd() < 0.5 ? [1700000000000, 1700000060000] : ['2024-05-01T08:00:00Z', '2024-05-01T08:01:00Z']) : undefined
    const aggNames = ['count', 'amount_sum', 'p95', 'pages'].slice(0, 1 + Math.floor(rnd() * 4))
    const results = aggNames.map(pick)
    const row = build(keyNames, keyValues, window, aggNames, results)
    const key = makeKey(keyValues)
    const writer = new RowWriter(keyNames, windowed, aggNames)
    const text = writer.text(row, key, window && RowWriter.windowText(window[0], window[1]))
    if (text !== JSON.stringify(row)) {
      t.equal(text, JSON.stringify(row), `row ${n}`)
      return
    }
    checked++
  }
  t.equal(checked, 3000, 'every random row came out as JSON.stringify writes it')
})

t.test('integers beyond 2^53 in the key keep their digits, as rowText writes them', async (t) => {
  const one = makeKey([12345678901234567000], ['12345678901234567891'])
  const row = build(['id'], one.values as unknown[], [0, 60000], ['count'], [3])
  t.equal(new RowWriter(['id'], true, ['count']).text(row, one, RowWriter.windowText(0, 60000)), '{"id":12345678901234567891,"window_start":0,"window_end":60000,"count":3}')
  const two = makeKey(['a', 12345678901234567000], [undefined, '12345678901234567891'])
  const row2 = build(['s', 'id'], two.values as unknown[], undefined, ['count'], [1])
  const text = new RowWriter(['s', 'id'], false, ['count']).text(row2, two, undefined)
  t.equal(text, '{"s":"a","id":12345678901234567891,"count":1}')
  t.equal(text, rowText(row2, ['s', 'id'], [undefined, '12345678901234567891']))
})

t.test('a name given twice or an array-index name keeps JavaScript object order (JSON.stringify decides)', async (t) => {
  for (const [keyNames, aggNames] of [
    [['user'], ['count', 'user']],
    [['user'], ['window_start']],
    [['user'], ['count', '7']],
    [['0'], ['count']],
  ] as [string[], string[]][]) {
    const key = makeKey(['u1'])
    const row = build(keyNames, ['u1'], [0, 10], aggNames, aggNames.map((_, i) => i + 5))
    t.equal(new RowWriter(keyNames, true, aggNames).text(row, key, RowWriter.windowText(0, 10)), JSON.stringify(row), `${keyNames} then ${aggNames}`)
  }
})
