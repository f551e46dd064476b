// The heap budget must really collect: if a node version stopped exposing the collector at run
// time, the budget would silently do nothing and peak memory would grow with the input again.
import t from 'tap'
import { getHeapSpaceStatistics } from 'node:v8'
import { HeapBudget } from '../../lib/pipeline/heap-budget.js'

const oldUsed = () =>
  getHeapSpaceStatistics()
    .filter((s) => s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space')
    .reduce((n, s) => n + s.space_used_size, 0)

t.test('collects once the old generation outgrows its budget, then budgets twice what lived', async (t) => {
  const budget = new HeapBudget()
  // state that lives long enough to be promoted, as window state does: about 40 MB of it
  const live: number[][] = []
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 10000; i++) live.push([i, i + 0.5, round])
    await new Promise((r) => setImmediate(r)) // young collections promote it
  }
  const grown = oldUsed()
  t.ok(grown > 24 << 20, `old generation grew to ${(grown / 1e6).toFixed(0)} MB`)
  budget.check()
  t.equal(budget.collections, 1, 'one full collection (the collector is reachable)')
  budget.check()
  t.equal(budget.collections, 1, 'none while within twice what lived')
  t.equal(live.length, 500000)
})
