// A state file that LMDB left shorter than its header's last page is not damaged: a transaction
// that allocates pages at the end of the file and frees them before it commits (LMDB's loose
// pages: a bulk delete, as a reclaim or a sweep does) counts them in the meta page's last page but
// never writes them. Refusing such a file as cut short made a job dir unusable for good (exit 74
// at every resume), after a SIGKILL and after clean runs alike.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { openLmdbState } from '../../lib/state/lmdb.js'
import { makeKey } from '../../lib/stream/key.js'

const nd = { durable: false, keySlice: 2 }

/** The file's size, and the bytes the newest meta page's last page asks for. */
function shortness(file: string): { size: number; last: number } {
  const fd = openSync(file, 'r')
  try {
    const page = Buffer.alloc(160)
    let newest = { txn: -1n, last: 0n }
    for (const at of [0, 4096]) {
      readSync(fd, page, 0, 160, at)
      const txn = page.readBigUInt64LE(152)
      if (txn > newest.txn) newest = { txn, last: page.readBigUInt64LE(144) }
    }
    return { size: fstatSync(fd).size, last: Number((newest.last + 1n) * 4096n) }
  } finally {
    closeSync(fd)
  }
}

t.test('a state file whose last pages were freed unwritten opens, with its state', async (t) => {
  const dir = t.testdir()
  let b = await openLmdbState(dir, { lineage: [], pendingEpoch: 0, ...nd })
  b.operator('w').put(makeKey(['u1']), 60000, [3, 42])
  b.checkpoint(0, [[0, 0]], 0)
  await b.close()
  // what a reclaim does to versions a checkpoint wrote before: one transaction writes many, a
  // later one removes them all, and its pages freed on the way are never written
  const { open } = await import('lmdb')
  const root = open(dir, { noSubdir: false, maxDbs: 8 })
  const state = root.openDB('state', {})
  const n = 8300
  state.transactionSync(() => {
    for (let i = 0; i < n; i++) void state.put(['junk', i % 128, `"k${i}"`, 5, 0], { k: [`k${i}`], v: [1, 2] })
  })
  state.transactionSync(() => {
    for (let i = 0; i < n; i++) void state.remove(['junk', i % 128, `"k${i}"`, 5, 0])
  })
  await root.close()
  const { size, last } = shortness(join(dir, 'data.mdb'))
  t.ok(size < last, `the file (${size} bytes) is shorter than its header's last page (${last}), as LMDB left it`)
  b = await openLmdbState(dir, { lineage: [[0, 0]], pendingEpoch: 1, ...nd })
  t.same(b.operator('w').get(makeKey(['u1']), 60000), [3, 42], 'opens, and its state is there')
  b.operator('w').put(makeKey(['u2']), 60000, [1, 1])
  b.checkpoint(1, [[0, 1]], 0)
  await b.close()
  b = await openLmdbState(dir, { lineage: [[0, 1]], pendingEpoch: 2, ...nd })
  t.same(b.operator('w').get(makeKey(['u2']), 60000), [1, 1], 'and goes on')
  await b.close()
})
