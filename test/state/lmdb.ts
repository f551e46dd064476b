// The durable keyed-state backend: what a user of a job dir would notice if it were wrong. State
// that comes back after a restart, at the checkpoint restored and not a newer one; a crashed run's
// half-written state that never leaks into a resume; old checkpoints that stay restorable while
// their space is reclaimed; a small cache over many keys; keys of any size and text. The
// randomized test prints its seed:  WEIR_SEED=1234 npx tap test/state/lmdb.ts
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { rng } from '../harness/random.js'
import type { Lineage, Namespace } from '../../lib/state/backend.js'
import { openLmdbState, readState, type LmdbStateBackend } from '../../lib/state/lmdb.js'
import { WeirError } from '../../lib/stream/errors.js'
import { NO_KEY, compareCanon, makeKey, type Key } from '../../lib/stream/key.js'

// fsync proves nothing here and costs seconds; slices of 2 keys make forEachKey read each key
// group in many slices and merge them
const nd = { durable: false, keySlice: 2 }


const sortKeys = (ks: Key[]) => ks.slice().sort((a, b) => compareCanon(a.canon, b.canon))

t.test('put, get and delete, before and after a checkpoint and a reopen', async (t) => {
  const dir = t.testdir()
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  t.equal(b.maxEpoch(), -1, 'a fresh dir has no epoch')
  let s = b.operator('agg#1')
  const u1 = makeKey(['u1'])
  const u2 = makeKey(['u2', 'FR'])
  t.equal(s.get(u1, 0), undefined)
  s.put(u1, 0, [1, 2])
  s.put(u1, 'm:x', { a: 1 })
  s.put(u2, 0, 'two')
  t.same(s.get(u1, 0), [1, 2])
  t.equal(s.get(u1, '0'), undefined, 'the string "0" and the number 0 are different namespaces')
  s.delete(u2, 0)
  t.equal(s.get(u2, 0), undefined)
  t.same(s.keys(), [u1])
  t.equal(b.operator('other').get(u1, 0), undefined, 'operators do not share state')
  b.checkpoint(0, [[0, 0]], 0)
  t.equal(b.maxEpoch(), 0)
  s.put(u2, 0, 'back')
  s.delete(u1, 'm:x')
  b.checkpoint(1, [[0, 1]], 0)
  await b.close()

  b = await openLmdbState(dir, { lineage: [[0, 1]], pendingEpoch: 2, ...nd })
  s = b.operator('agg#1')
  t.same(s.get(u1, 0), [1, 2], 'values survive close and reopen')
  t.equal(s.get(u1, 'm:x'), undefined, 'a delete survives too')
  t.equal(s.get(u2, 0), 'back')
  t.same(s.keys().map((k) => k.canon), ['"u1"', '["u2","FR"]'])
  const seen: [string, Namespace, unknown][] = []
  s.forEach((k, ns, v) => seen.push([k.canon, ns, v]))
  t.same(seen.sort(), [['"u1"', 0, [1, 2]], ['["u2","FR"]', 0, 'back']].sort())
  t.ok(b.size() > 0)
  await b.close()

  await t.rejects(openLmdbState(dir, { lineage: [[0, 1]], pendingEpoch: 1, ...nd }), new WeirError('internal', `${dir}: the next checkpoint id 1 must be above every epoch in the state (1)`), 'a next checkpoint id at or below an epoch in the dir is refused')
  b = await openLmdbState(dir, { lineage: [[0, 1]], minPendingEpoch: 1, ...nd })
  t.equal(b.pendingEpoch, 2, 'or taken above them, from a lower bound')
  await b.close()
})

t.test('restoring an older retained checkpoint gives its values, not newer ones', async (t) => {
  const dir = t.testdir()
  const k = makeKey(['k'])
  const gone = makeKey(['gone'])
  const late = makeKey(['late'])
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0 }) // durable: each checkpoint synced
  const s = b.operator('op')
  s.put(k, 1, 'at 0')
  s.put(gone, 1, 'at 0')
  b.checkpoint(0, [[0, 0]], 0)
  s.put(k, 1, 'at 1')
  s.delete(gone, 1)
  s.put(late, 1, 'at 1')
  b.checkpoint(1, [[0, 1]], 0)
  s.put(k, 1, 'at 2')
  b.checkpoint(2, [[0, 2]], 0)
  await b.close()
  for (const [id, want] of [
    [0, { k: 'at 0', gone: 'at 0', late: undefined }],
    [1, { k: 'at 1', gone: undefined, late: 'at 1' }],
    [2, { k: 'at 2', gone: undefined, late: 'at 1' }],
  ] as const) {
    const r = await openLmdbState(dir, { lineage: [[0, id]], pendingEpoch: 3, ...nd })
    const o = r.operator('op')
    t.same({ k: o.get(k, 1), gone: o.get(gone, 1), late: o.get(late, 1) }, want, `checkpoint ${id}`)
    t.same(
      o.keys().map((x) => x.canon),
      Object.entries(want)
        .filter(([, v]) => v !== undefined)
        .map(([n]) => JSON.stringify(n))
        .sort(),
    )
    await r.close()
    const read: Record<string, unknown> = {}
    await readState(dir, [[0, id]], (uid, key, ns, v) => {
      t.equal(uid, 'op')
      t.equal(ns, 1)
      read[key.values[0] as string] = v
    })
    t.same(read, Object.fromEntries(Object.entries(want).filter(([, v]) => v !== undefined)), `weir state at checkpoint ${id}`)
  }
})

t.test('a crashed run leaves nothing a resume can see, and the resume builds on its checkpoint', async (t) => {
  const dir = t.testdir()
  const keys = Array.from({ length: 300 }, (_, i) => makeKey([`k${i}`]))
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, cacheEntries: 50, ...nd })
  let s = b.operator('op')
  for (const k of keys) s.put(k, 0, 'good')
  b.checkpoint(0, [[0, 0]], 0)
  // the crashed run: more writes than the cache holds, so most reach LMDB (under epoch 1)
  for (const k of keys) s.put(k, 0, 'crashed')
  s.delete(keys[0]!, 0)
  s.put(makeKey(['new']), 0, 'crashed')
  t.equal(b.maxEpoch(), 1, 'the spills were written under the pending epoch')
  await b.close() // no checkpoint 1: as if killed

  b = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 2, cacheEntries: 50, ...nd })
  s = b.operator('op')
  t.ok(
    keys.every((k) => s.get(k, 0) === 'good'),
    'every key has its checkpoint-0 value',
  )
  t.equal(s.get(makeKey(['new']), 0), undefined)
  t.equal(s.keys().length, 300)
  for (const k of keys.slice(0, 100)) s.put(k, 0, 'resumed')
  s.delete(keys[299]!, 0)
  // checkpoint 2 continues checkpoint 0; keeping only itself reclaims the crashed epoch too
  b.checkpoint(2, [[0, 0], [2, 2]], 2)
  await b.close()

  b = await openLmdbState(dir, { lineage: [[0, 0], [2, 2]], pendingEpoch: 3, cacheEntries: 50, ...nd })
  s = b.operator('op')
  const got = keys.map((k) => s.get(k, 0))
  t.same(got, [...Array(100).fill('resumed'), ...Array(199).fill('good'), undefined])
  t.equal(s.get(makeKey(['new']), 0), undefined)
  t.same(
    s.keys().map((k) => k.canon),
    sortKeys(keys.slice(0, 299)).map((k) => k.canon),
  )
  await b.close()
})

t.test('a key deleted, spilled, and put again before the checkpoint keeps its new value', async (t) => {
  const dir = t.testdir()
  const a = makeKey(['a'])
  const x = [1, 2, 3, 4].map((i) => makeKey([`x${i}`]))
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, cacheEntries: 4, ...nd })
  const s = b.operator('op')
  for (const k of x.slice(0, 3)) s.put(k, 0, 'x')
  s.put(a, 0, 1)
  b.checkpoint(0, [[0, 0]], 0)
  for (const k of x.slice(0, 3)) s.put(k, 0, 'y')
  s.delete(a, 0)
  s.put(x[3]!, 0, 'y') // over the bound, all dirty: spilled under epoch 1, a as a tombstone, and a stays cached
  t.equal(b.maxEpoch(), 1)
  s.put(a, 0, 2)
  // keeping only checkpoint 1 reclaims everything older than its own versions
  b.checkpoint(1, [[0, 1]], 1)
  await b.close()
  const r = await openLmdbState(dir, { lineage: [[0, 1]], pendingEpoch: 2, ...nd })
  t.equal(r.operator('op').get(a, 0), 2)
  await r.close()
})

t.test('randomized: every retained checkpoint restores exactly, across reclaims, spills and fallbacks', async (t) => {
  const seed = Number(process.env.WEIR_SEED ?? Date.now() % 100000)
  t.comment(`seed ${seed} (replay with WEIR_SEED=${seed})`)
  const rand = rng(seed)
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!
  const keys = Array.from({ length: 200 }, (_, i) =>
    makeKey(
      i % 10 === 0 ? [`u${i}`, i] : i % 10 === 1 ? [`😀${i}`] : i % 10 === 2 ? [{ n: i, s: '\u{10000}' }] : i % 50 === 3 ? ['x'.repeat(5000) + i] : [`u${i}`],
    ),
  )
  const nss: Namespace[] = [0, -7, 'm:x']
  type State = Map<string, { key: Key; ns: Namespace; value: unknown }>
  const id = (k: Key, ns: Namespace) => `${k.canon}|${typeof ns}|${ns}`
  const done: { id: number; lineage: Lineage; state: State }[] = []
  // the manifests kept, oldest first, as the checkpoint coordinator keeps them (retain 3)
  let retained: number[] = []
  let model: State = new Map()
  let lineage: Lineage = []
  let next = 0
  const dir = t.testdir()
  // a sweep of a few entries per checkpoint stops inside chains and goes round many times
  const open = (l: Lineage, pending: number) => openLmdbState(dir, { lineage: l, pendingEpoch: pending, cacheEntries: 40, sweepEntries: 1 + Math.floor(rand() * 60), ...nd })
  let b: LmdbStateBackend = await open([], 0)
  let crashes = 0

  const verify = async (c: (typeof done)[number]) => {
    const r = await open(c.lineage, b.maxEpoch() + 1)
    const s = r.operator('op')
    let bad = 0
    for (const k of keys)
      for (const ns of nss) {
        const want = c.state.get(id(k, ns))?.value
        if (JSON.stringify(s.get(k, ns)) !== JSON.stringify(want)) bad++
      }
    t.equal(bad, 0, `checkpoint ${c.id}: every get`)
    const live = new Map<string, Key>()
    for (const x of c.state.values()) live.set(x.key.canon, x.key)
    t.same(
      s.keys().map((k) => k.canon),
      sortKeys([...live.values()]).map((k) => k.canon),
      `checkpoint ${c.id}: keys()`,
    )
    const each = new Map<string, unknown>()
    s.forEach((k, ns, v) => each.set(id(k, ns), v))
    t.same(each, new Map([...c.state].map(([i, x]) => [i, x.value])), `checkpoint ${c.id}: forEach`)
    await r.close()
  }

  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 150; i++) {
      const k = pick(keys)
      const ns = pick(nss)
      // as operators do: read a value, then put it back changed or delete it (the cache finds the
      // entry of the get again), with another key's miss (which may evict) in between sometimes
      if (rand() < 0.3) {
        const got = b.operator('op').get(k, ns)
        if (JSON.stringify(got) !== JSON.stringify(model.get(id(k, ns))?.value)) t.fail(`round ${round}: get before a write of ${k.canon.slice(0, 20)} ${ns}`)
        if (rand() < 0.5) for (let j = Math.floor(rand() * 30); j > 0; j--) b.operator('op').get(pick(keys), pick(nss))
      }
      if (rand() < 0.6) {
        const v = { n: Math.floor(rand() * 1000), at: round }
        b.operator('op').put(k, ns, v)
        model.set(id(k, ns), { key: k, ns, value: v })
      } else {
        b.operator('op').delete(k, ns)
        model.delete(id(k, ns))
      }
      if (rand() < 0.3) {
        const got = b.operator('op').get(k, ns)
        if (JSON.stringify(got) !== JSON.stringify(model.get(id(k, ns))?.value)) t.fail(`round ${round}: get of ${k.canon.slice(0, 20)} ${ns}`)
      }
    }
    if (round % 8 === 7 && done.length > 0) {
      // crash before this checkpoint completes, then resume from a retained one, not always the last
      const rid = pick(retained)
      const r = done.find((c) => c.id === rid)!
      const max = b.maxEpoch()
      await b.close()
      crashes++
      retained = retained.filter((c) => c <= rid) // a resume drops the manifests it does not follow
      model = new Map(r.state)
      lineage = r.lineage
      next = max + 1
      b = await open(lineage, next)
      continue
    }
    const cid = next++
    lineage = [...lineage, [cid, cid]]
    // until this checkpoint's manifest is written, the oldest kept one may still be restored
    b.checkpoint(cid, lineage, retained[0] ?? cid)
    done.push({ id: cid, lineage, state: new Map(model) })
    retained = [...retained, cid].slice(-3)
    if (round % 3 === 2 || round === 29) {
      const max = b.maxEpoch()
      await b.close()
      for (const c of retained) await verify(done.find((d) => d.id === c)!)
      b = await open(lineage, max + 1)
    }
  }
  await b.close()
  t.ok(crashes >= 3, `${crashes} crashes`)
  // weir state sees what a restore sees
  const last = done[done.length - 1]!
  const read = new Map<string, unknown>()
  await readState(dir, last.lineage, (uid, k, ns, v) => {
    if (uid !== 'op') t.fail(uid)
    read.set(id(k, ns), v)
  })
  t.same(read, new Map([...last.state].map(([i, x]) => [i, x.value])))
})

t.test('reclaiming a long history in small slices never brings a deleted key back', async (t) => {
  const dir = t.testdir()
  const k = makeKey(['k'])
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, sweepEntries: 1, ...nd })
  const s = b.operator('op')
  // every checkpoint retained: eleven versions, the last a tombstone
  for (let c = 0; c < 10; c++) {
    s.put(k, 0, c)
    b.checkpoint(c, [[0, c]], 0)
  }
  s.delete(k, 0)
  b.checkpoint(10, [[0, 10]], 0)
  s.put(makeKey(['other']), 0, 'x')
  b.checkpoint(11, [[0, 11]], 11)
  // nothing written: the sweep alone, with a budget of one entry per checkpoint
  for (let c = 12; c < 30; c++) b.checkpoint(c, [[0, c]], c - 1)
  await b.close()
  for (const at of [28, 29]) {
    const r = await openLmdbState(dir, { lineage: [[0, at]], pendingEpoch: 30, ...nd })
    t.equal(r.operator('op').get(k, 0), undefined, `deleted at checkpoint ${at}`)
    t.same(
      r.operator('op').keys().map((x) => x.canon),
      ['"other"'],
    )
    await r.close()
  }
})

t.test('a cache of 100 entries over 10,000 keys spills and still answers right, in canonical key order', async (t) => {
  const dir = t.testdir()
  const second = ['😀', '\uffff', '\u{10000}', '\ue000', 'é', 'z', '\u{1F601}x', '']
  const keys: Key[] = [NO_KEY]
  for (let i = 0; i < 10_000; i++) keys.push(makeKey(i % 3 === 0 ? [`k${i % 977}${second[i % second.length]}`, i] : i % 3 === 1 ? [i] : [`${second[i % second.length]}${i}`]))
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, cacheEntries: 100, ...nd })
  let s = b.operator('op')
  keys.forEach((k, i) => s.put(k, 'v', i))
  t.ok(b.maxEpoch() === 0, 'dirty entries were spilled')
  const alive = keys.filter((_, i) => i % 7 !== 3)
  keys.forEach((k, i) => i % 7 === 3 && s.delete(k, 'v'))
  t.ok(
    keys.every((k, i) => s.get(k, 'v') === (i % 7 === 3 ? undefined : i)),
    'every get, through spills and evictions',
  )
  const want = sortKeys(alive).map((k) => k.canon)
  t.same(
    s.keys().map((k) => k.canon),
    want,
    'keys() is in compareCanon order, dirty entries included and deleted ones left out',
  )
  b.checkpoint(0, [[0, 0]], 0)
  await b.close()

  b = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, cacheEntries: 100, ...nd })
  s = b.operator('op')
  const got = s.keys()
  t.same(
    got.map((k) => k.canon),
    want,
  )
  const byCanon = new Map(keys.map((k) => [k.canon, k]))
  t.ok(
    got.every((k) => {
      const m = byCanon.get(k.canon)!
      return JSON.stringify(k.values) === JSON.stringify(m.values) && k.group === m.group
    }),
    'keys read back have the values and group makeKey gives',
  )
  await b.close()
})

t.test('keys of 5,000 characters work, keep their order and never collide', async (t) => {
  const dir = t.testdir()
  const long = 'é'.repeat(4990)
  const keys = [makeKey([long + 'b']), makeKey([long + 'a']), makeKey([long]), makeKey(['a']), makeKey(['z']), makeKey([long + '😀']), makeKey([{ big: long }])]
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, cacheEntries: 2, ...nd })
  let s = b.operator('op')
  keys.forEach((k, i) => s.put(k, 0, i))
  s.delete(keys[0]!, 0)
  s.put(keys[0]!, 1, 'other ns')
  b.checkpoint(0, [[0, 0]], 0)
  await b.close()
  b = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, cacheEntries: 2, ...nd })
  s = b.operator('op')
  t.same(
    keys.map((k) => s.get(k, 0)),
    [undefined, 1, 2, 3, 4, 5, 6],
  )
  t.equal(s.get(keys[0]!, 1), 'other ns')
  t.same(
    s.keys().map((k) => k.canon),
    sortKeys(keys).map((k) => k.canon),
  )
  const seen = new Map<string, unknown>()
  s.forEach((k, ns, v) => seen.set(`${k.canon}|${ns}`, v))
  t.same(seen, new Map([...keys.slice(1).map((k, i): [string, unknown] => [`${k.canon}|0`, i + 1]), [`${keys[0]!.canon}|1`, 'other ns']]), 'forEach gives long keys back')
  await b.close()
})

t.test('values come back as they went in', async (t) => {
  const dir = t.testdir()
  const values: unknown[] = [
    -0,
    { a: [1, -0, { b: -0 }] },
    2 ** 53 + 2,
    -(2 ** 60),
    1e300,
    5e-324,
    0.1 + 0.2,
    [[[[]]], {}, [{}], null, true, false],
    'é😀\u{10FFFF}\u0000\n"\\',
    JSON.parse('{"__proto__": {"x": 1}, "lone": "\\ud800", "\\udc00": -0}'),
    'x'.repeat(100_000),
  ]
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  const key = makeKey([JSON.parse('{"__proto__": 1, "s": "\\ud83d"}')])
  values.forEach((v, i) => b.operator('op').put(key, i, v))
  b.checkpoint(0, [[0, 0]], 0)
  await b.close()
  b = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, ...nd })
  const s = b.operator('op')
  values.forEach((v, i) => t.same(s.get(key, i), v, `value ${i}`))
  t.ok(Object.is(s.get(key, 0), -0), '-0')
  const o = s.get(key, 1) as { a: [number, number, { b: number }] }
  t.ok(Object.is(o.a[1], -0) && Object.is(o.a[2].b, -0), 'nested -0')
  const p = s.get(key, 9) as Record<string, unknown>
  t.ok(Object.hasOwn(p, '__proto__') && Object.getPrototypeOf(p) === Object.prototype, '"__proto__" stays a plain field')
  t.equal(p.lone, '\ud800', 'a lone surrogate stays')
  t.ok(Object.is(p['\udc00'], -0))
  const [k] = s.keys()
  t.same(k!.values, key.values, 'key values too')
  t.equal(k!.canon, key.canon)
  await b.close()
})

t.test('rewriting the same keys at every checkpoint does not grow the file', async (t) => {
  const dir = t.testdir()
  const keys = Array.from({ length: 2000 }, (_, i) => makeKey([`k${i}`]))
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  const s = b.operator('op')
  for (const k of keys) s.get(k, 0)
  let at20 = 0
  for (let c = 0; c < 60; c++) {
    // half the keys come and go (a tombstone each time), half are updated
    keys.forEach((k, i) => (i % 2 === 0 || c % 2 === 0 ? s.put(k, 0, [c, i]) : s.delete(k, 0)))
    b.checkpoint(c, [[0, c]], Math.max(0, c - 1))
    if (c === 20) at20 = b.size()
  }
  t.ok(b.size() <= at20 * 1.25, `size at checkpoint 20: ${at20}, at 59: ${b.size()}`)
  await b.close()
})

t.test('windows that open and fire leave nothing behind once no retained checkpoint needs them', async (t) => {
  const dir = t.testdir()
  const keys = Array.from({ length: 2000 }, (_, i) => makeKey([`k${i}`]))
  // a sweep of one entry per written one: the fired windows must go without it finding them
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, sweepEntries: 1, ...nd })
  const s = b.operator('op')
  let at20 = 0
  for (let c = 0; c < 60; c++) {
    // each key's window c opens (read first, as a window operator does) and window c - 1 fires
    for (const k of keys) {
      s.put(k, c, [(s.get(k, c) as number[] | undefined)?.[0] ?? c])
      if (c > 0) s.delete(k, c - 1)
    }
    b.checkpoint(c, [[0, c]], Math.max(0, c - 2))
    if (c === 20) at20 = b.size()
  }
  t.ok(b.size() <= at20 * 1.25, `size at checkpoint 20: ${at20}, at 59: ${b.size()}`)
  // and every retained checkpoint still restores: checkpoint 57 sees window 57 open, 56 fired
  const r = b.restoredAt([[0, 57]])
  const o = r.operator('op')
  t.same(o.get(keys[7]!, 57), [57])
  t.equal(o.get(keys[7]!, 56), undefined)
  t.equal(r.operator('op').keys().length, 2000)
  await r.close()
})

// The dead list of a run (chains it ended with a tombstone) is gone with the process: what it
// would have removed is left to the sweep, which must tell the tombstones from live versions.
t.test('keys deleted for good before a restart leave nothing on disk once no retained checkpoint needs them', async (t) => {
  const dir = t.testdir()
  const keys = Array.from({ length: 300 }, (_, i) => makeKey([`k${i}`]))
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  let s = b.operator('op')
  for (const k of keys) s.put(k, 0, [1])
  s.put(makeKey(['kept']), 0, [2])
  b.checkpoint(0, [[0, 0]], 0)
  for (const k of keys) s.delete(k, 0)
  // checkpoint 0 is still retained: both versions of each key stay
  b.checkpoint(1, [[0, 1]], 0)
  await b.close()
  b = await openLmdbState(dir, { lineage: [[0, 1]], pendingEpoch: 2, ...nd })
  s = b.operator('op')
  // only the newest checkpoint retained from now on: a deleted key's versions are all garbage
  for (let c = 2; c < 5; c++) b.checkpoint(c, [[0, c]], c)
  t.same(s.get(makeKey(['kept']), 0), [2])
  t.equal(s.get(keys[9]!, 0), undefined)
  await b.close()
  const { open } = await import('lmdb')
  const root = open(dir, { readOnly: true, maxDbs: 8, noSubdir: false })
  const onDisk = root.openDB('state', {}).getKeysCount()
  await root.close()
  t.equal(onDisk, 1, 'only the key still holding state is on disk')
})

// A time window's state below its operator's expiry bound (its cleanup passed) is deleted without
// a tombstone: every checkpoint from then on records the bound, and a restore, keys() and weir
// state skip what lies below it. Crashes lose the in-memory list of such chains: the sweep, which
// reads the bounds too, must still find them.
t.test('windows deleted below an expiry bound write no tombstones, restore as the bounds say, and leave nothing behind', async (t) => {
  const dir = t.testdir()
  const keys = Array.from({ length: 400 }, (_, i) => makeKey([`k${i}`]))
  // a cache smaller than the windows open at once: spills, and deletes of entries not cached
  const opts = { cacheEntries: 150, sweepEntries: 5, ...nd }
  type Live = Map<string, { key: Key; ns: number; value: unknown }>
  const id = (k: Key, ns: number) => `${k.canon}|${ns}`
  const done: { id: number; lineage: Lineage; window: number; live: Live }[] = []
  let retained: number[] = []
  let lineage: Lineage = []
  let live: Live = new Map()
  let epoch = 0
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...opts })
  const rawCounts = async () => {
    const { open } = await import('lmdb')
    const root = open(dir, { readOnly: true, maxDbs: 8, noSubdir: false })
    let entries = 0
    let tombstones = 0
    for (const { value } of root.openDB('state', {}).getRange({})) {
      entries++
      if ((value as { d?: 1 }).d !== undefined) tombstones++
    }
    await root.close()
    return { entries, tombstones }
  }
  const verify = async (c: (typeof done)[number]) => {
    const r = b.restoredAt(c.lineage)
    const each = new Map<string, unknown>()
    r.operator('w').forEach((k, ns, v) => each.set(id(k, ns as number), v))
    t.same(each, new Map([...c.live].map(([i, x]) => [i, x.value])), `checkpoint ${c.id}: forEach`)
    t.same(r.operator('w').keys().map((k) => k.canon), sortKeys([...new Map([...c.live.values()].map((x) => [x.key.canon, x.key])).values()]).map((k) => k.canon), `checkpoint ${c.id}: keys()`)
    b = r
  }
  let crashes = 0
  for (let w = 0; w < 40; w++) {
    const s = b.operator('w')
    // a key has windows two at a time, then none for two (its expired ones then all it has on
    // disk), and the last hundred keys only at first; a window's cleanup comes two windows later
    for (let i = 0; i < keys.length; i++)
      if ((i + w) % 4 < 2 && (i < 300 || w < 10)) {
        const v = [w, i]
        s.put(keys[i]!, w, v)
        live.set(id(keys[i]!, w), { key: keys[i]!, ns: w, value: v })
      }
    s.expireBelow!(w - 1)
    for (const k of keys) if (w >= 2) s.delete(k, w - 2), live.delete(id(k, w - 2))
    if ((w === 17 || w === 29) && crashes < 2) {
      // a crash before this checkpoint: resume from the oldest retained one, whose windows come again
      crashes++
      const r = done.find((d) => d.id === retained[0])!
      const max = b.maxEpoch()
      await b.close()
      t.equal((await rawCounts()).tombstones, 0, 'no tombstone was written')
      retained = [r.id]
      lineage = r.lineage
      live = new Map(r.live)
      epoch = max + 1
      w = r.window
      b = await openLmdbState(dir, { lineage, pendingEpoch: epoch, ...opts })
      continue
    }
    const cid = epoch++
    lineage = [...lineage, [cid, cid]]
    b.checkpoint(cid, lineage, retained[0] ?? cid)
    done.push({ id: cid, lineage, window: w, live: new Map(live) })
    retained = [...retained, cid].slice(-3)
  }
  t.equal(crashes, 2)
  for (const c of retained) await verify(done.find((d) => d.id === c)!)
  // weir state shows a checkpoint as its restore does
  const last = done.find((d) => d.id === retained[retained.length - 1])!
  const shown = new Map<string, unknown>()
  await readState(dir, last.lineage, (_uid, k, ns, v) => shown.set(id(k, ns as number), v), last.id)
  t.same(shown, new Map([...last.live].map(([i, x]) => [i, x.value])), 'weir state')
  // Only the last checkpoint retained from now on, nothing new written: what the crashes left, and
  // the windows not cached when they expired, are found by the sweep, 50 entries a checkpoint
  // (the sweep of a job reads at least 10,000)
  await b.close()
  b = await openLmdbState(dir, { lineage, pendingEpoch: epoch, ...opts, sweepEntries: 50 })
  for (let i = 0; i < 200; i++) {
    const cid = epoch++
    lineage = [...lineage, [cid, cid]]
    b.checkpoint(cid, lineage, cid)
  }
  await b.close()
  t.same(await rawCounts(), { entries: last.live.size, tombstones: 0 }, 'on disk: the live windows, once each')
})

t.test('a file that is not LMDB state is an I/O error, not a crash', async (t) => {
  const dir = t.testdir({ 'data.mdb': 'this is not an LMDB file\n'.repeat(1000) })
  const check = (err: unknown) => {
    t.ok(err instanceof WeirError, String(err))
    t.equal((err as WeirError).kind, 'io')
    t.match((err as Error).message, dir)
    t.match((err as Error).message, 'state is unreadable')
    return true
  }
  await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd }).then(
    () => t.fail('opened'),
    (err: unknown) => check(err),
  )
  await readState(dir, [], () => {}).then(
    () => t.fail('read'),
    (err: unknown) => check(err),
  )
  writeFileSync(join(dir, 'data.mdb'), Buffer.alloc(64 * 1024, 0xff))
  await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd }).then(() => t.fail('opened'), check)
  writeFileSync(join(dir, 'data.mdb'), 'x')
  await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd }).then(() => t.fail('opened'), check)
  // an empty file is what LMDB leaves when killed while creating one: no state yet
  writeFileSync(join(dir, 'data.mdb'), '')
  await readState(dir, [], () => t.fail('state in an empty file'))
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  t.equal(b.operator('op').get(makeKey([1]), 0), undefined)
  await b.close()
})

t.test('state cut short or with a damaged header is an I/O error, not a crash', async (t) => {
  const dir = t.testdir()
  const b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  for (let i = 0; i < 5000; i++) b.operator('op').put(makeKey([i]), 0, 'x'.repeat(50))
  b.checkpoint(0, [[0, 0]], 0)
  await b.close()
  const file = join(dir, 'data.mdb')
  const good = readFileSync(file)
  const damage = async (what: string, bytes: Buffer) => {
    writeFileSync(file, bytes)
    await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, ...nd }).then(
      () => t.fail(`${what}: opened`),
      (err: unknown) => {
        t.ok(err instanceof WeirError && err.kind === 'io' && err.message.startsWith(`${dir}: state is unreadable: data.mdb`), `${what}: ${String(err)}`)
      },
    )
  }
  await damage('cut in half', good.subarray(0, good.length >> 1))
  const second = Buffer.from(good)
  second.fill(0xab, 4096, 8192)
  await damage('second meta page overwritten', second)
  writeFileSync(file, good)
  const again = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, ...nd })
  t.equal(again.operator('op').get(makeKey([4999]), 0), 'x'.repeat(50), 'the intact file still opens')
  await again.close()
})

t.test('a state of the older format this weir reads is read as it is and marked as this format once opened; others are refused', async (t) => {
  const { open } = await import('lmdb')
  const { STATE_FORMAT, OLDEST_STATE_FORMAT } = await import('../../lib/state/backend.js')
  const setFormat = async (dir: string, format: number) => {
    const root = open(dir, { noSubdir: false, maxDbs: 8 })
    const meta = root.openDB('meta', {})
    await meta.put('stateFormat', format)
    await root.close()
  }
  const formatOf = async (dir: string) => {
    const root = open(dir, { noSubdir: false, maxDbs: 8, readOnly: true })
    const v = root.openDB('meta', {}).get('stateFormat')
    await root.close()
    return v
  }
  const dir = t.testdir()
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  const u = makeKey(['u'])
  b.operator('w#1').put(u, 's', [{ start: 1, end: 2, accs: [1] }])
  b.checkpoint(0, [[0, 0]], 0)
  await b.close()
  await setFormat(dir, OLDEST_STATE_FORMAT)
  b = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, ...nd })
  t.same(b.operator('w#1').get(u, 's'), [{ start: 1, end: 2, accs: [1] }], 'read as it is')
  await b.close()
  t.equal(await formatOf(dir), STATE_FORMAT, 'marked as this format: an older weir now refuses it')
  for (const bad of [OLDEST_STATE_FORMAT - 1, STATE_FORMAT + 1]) {
    await setFormat(dir, bad)
    await t.rejects(openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, ...nd }), /state format \d+ is not a format this weir reads/, `format ${bad} refused`)
  }
})

// The write-back cache's bound follows V8's heap limit unless WEIR_STATE_CACHE sets it (weir(1),
// ENVIRONMENT): a job under --max-old-space-size=320 gets the floor, a default heap more.
t.test('the cache bound: WEIR_STATE_CACHE, else one entry per 10 KiB of heap, at least 100,000', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { ROOT } = await import('../harness/cli.js')
  const bound = (nodeArgs: string[], env: Record<string, string> = {}) => {
    const script = `const m = await import(${JSON.stringify(join(ROOT, 'dist/state/lmdb.js'))}); const v8 = await import('node:v8'); console.log(m.defaultCacheEntries(), v8.getHeapStatistics().heap_size_limit)`
    const out = execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' })
    const [entries, heap] = out.trim().split(' ').map(Number)
    return { entries: entries!, heap: heap! }
  }
  t.equal(bound(['--max-old-space-size=320']).entries, 100_000, 'a heap capped at 320 MB: the floor')
  const big = bound(['--max-old-space-size=8192'])
  t.equal(big.entries, Math.floor(big.heap / 10_240), 'an 8 GB heap: one entry per 10 KiB of it')
  t.ok(big.entries > 700_000, `${big.entries} entries`)
  t.equal(bound([], { WEIR_STATE_CACHE: '1234' }).entries, 1234, 'WEIR_STATE_CACHE sets it')
  t.equal(bound(['--max-old-space-size=320'], { WEIR_STATE_CACHE: 'lots' }).entries, 100_000, 'a value that is not a count is ignored')
})
