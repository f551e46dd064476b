// The columnar windows' tables (lib/operators/windows/panes.ts), below the window operator: their
// timers' order and what a key may keep of a table that is gone.
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { PaneTables } from '../../lib/operators/windows/panes.js'
import { ColumnAggregator } from '../../lib/operators/aggregates/columns.js'
import { RowAggregator, parseAggSpec } from '../../lib/operators/aggregates/row.js'
import { makeKey } from '../../lib/stream/key.js'

const MAX = Number.MAX_SAFE_INTEGER
const tablesOf = (size: number, lateness: number) => new PaneTables(new ColumnAggregator(new RowAggregator([parseAggSpec('count')])), size, lateness, MAX)

t.test('tables fire in order of time then start, each firing before its own cleanup, rows in key order', async (t) => {
  const tables = tablesOf(10, 5)
  const events: string[] = []
  for (const [u, start] of [['b', 10], ['a', 0], ['c', 10], ['a', 10]] as const) tables.row(tables.pane(start, false), makeKey([u]))
  t.equal(tables.rows, 4)
  t.equal(tables.peekTime(), 9, 'the first firing: end − 1 of [0, 10)')
  tables.pollUpTo(19, (p, fire, cleanup) =>
    events.push(`${p.start}:${fire ? 'fire ' + fire.map((r) => p.keys[r]!.values[0]).join('') : ''}${cleanup ? 'cleanup' : ''}`),
  )
  t.same(events, ['0:fire a', '0:cleanup', '10:fire abc'], '[0, 10) cleans up at 14, before [10, 20) fires at 19')
  t.equal(tables.rows, 3)
  t.equal(tables.peekTime(), 24)
})

t.test('a key kept elsewhere (the keys seen lately) does not keep a table that is gone', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const tables = tablesOf(10, 0)
  // two Key objects of one key, as keyby makes again once its recent keys were emptied: the second
  // finds its row through the table's map, not through the table's list of keys
  const first = makeKey(['u'])
  const second = makeKey(['u'])
  let pane: ReturnType<PaneTables['pane']> | undefined = tables.pane(0, false)
  const row = tables.row(pane, first)
  t.equal(tables.row(pane, second), row, 'one row for both')
  const gone = new WeakRef(pane)
  pane = undefined
  tables.pollUpTo(9, () => {})
  t.equal(tables.rows, 0)
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  t.equal(gone.deref(), undefined, 'collected while both keys live on')
  t.ok(first.canon === second.canon)
})

t.test("a firing's rows are in canonical key order: code point order, astral keys after U+FFFF", async (t) => {
  const order = (values: string[]) => {
    const tables = tablesOf(10, 0)
    const p = tables.pane(0, false)
    for (const v of values) tables.row(p, makeKey([v]))
    let got: string[] = []
    tables.pollUpTo(9, (q, fire) => (got = fire!.map((r) => q.keys[r]!.values[0] as string)))
    return got
  }
  t.same(order(['u2', 'u10', 'u1', 'b']), ['b', 'u1', 'u10', 'u2'], 'plain keys: as strings')
  // UTF-16 order would put U+10000 (a surrogate pair, D800 DC00) before U+FFFF
  t.same(order(['\u{10000}', 'a', '\uffff']), ['a', '\uffff', '\u{10000}'], 'with an astral key: by code point')
})
