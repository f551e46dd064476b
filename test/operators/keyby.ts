// KeyReader keeps the keys it saw lately (one field, or several, one map level per field): a key
// read through it must be the key made from the record's values, whatever the values and however
// full the recent keys are.
import t from 'tap'
import { KeyReader } from '../../lib/operators/keyby.js'
import { makeKey } from '../../lib/stream/key.js'
import type { Rec } from '../../lib/stream/record.js'

t.test('keys read through the recent keys equal keys made from the values, for one field and several', async (t) => {
  let seed = 99
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const int = (n: number) => Math.floor(rand() * n)
  const values: unknown[] = ['a', 'b', '1', 1, -0, 0, 2.5, '', 's3:x', 'n1;', 'ü😀', null, true, { o: 1 }, [1, 2], 2 ** 53 + 2]
  const value = () => (rand() < 0.6 ? `u${int(80_000)}` : rand() < 0.5 ? int(1000) : values[int(values.length)])
  for (const fields of [['a'], ['a', 'b'], ['a', 'b', 'c']]) {
    const reader = new KeyReader(fields)
    let wrong = 0
    let read = 0
    // more distinct keys than the recent keys hold (65,536), so they are emptied on the way
    for (let i = 0; i < 150_000; i++) {
      const vals = fields.map(value)
      const record: Record<string, unknown> = {}
      fields.forEach((f, k) => (record[f] = vals[k]))
      if (rand() < 0.02) delete record[fields[int(fields.length)]!]
      const rec: Rec = { raw: undefined, value: record, source: 'test', line: i + 1 }
      const got = reader.read(rec)
      const missing = fields.findIndex((f) => !(f in record))
      if (missing >= 0) {
        if ((got !== undefined || reader.missing !== missing) && wrong++ < 3) t.fail(`${JSON.stringify(record)}: a missing field, read as ${got?.canon}`)
        continue
      }
      read++
      const want = makeKey(fields.map((f) => record[f]))
      if ((got === undefined || got.canon !== want.canon || got.group !== want.group || JSON.stringify(got.values) !== JSON.stringify(want.values)) && wrong++ < 3)
        t.fail(`${JSON.stringify(record)}: read ${got?.canon}, made ${want.canon}`)
    }
    t.equal(wrong, 0, `${fields.join(',')}: every key of ${read} is the key made from its values`)
  }
})
