#!/usr/bin/env node
// The floor again, but splitting and parsing with the `ndjson` npm package's parse() stream
// (split2 + through2, one object per stream chunk) instead of a plain String#split. Output is
// written exactly as bench/floor.mjs writes it, so the gap between the two rows is the cost of
// the package's parse stream alone: the measurement behind weir having its own splitter.
//
//   node bench/ndjson-pkg.mjs INPUT > OUTPUT
import { createReadStream } from 'node:fs'
import { once } from 'node:events'
import { createRequire } from 'node:module'

// Resolved from the project root, where it is a dependency; it is CommonJS.
const ndjson = createRequire(import.meta.url)('ndjson')

const input = process.argv[2]
if (!input) {
  console.error('usage: node bench/ndjson-pkg.mjs INPUT > OUTPUT')
  process.exit(2)
}

const FLUSH_AT = 1 << 16
let pending = ''
// 'data' events rather than for-await: an await per record would charge the package for a
// promise per record that its ordinary use (pipe / 'data') never pays.
const records = createReadStream(input).pipe(ndjson.parse())
records.on('data', (record) => {
  pending += JSON.stringify(record) + '\n'
  if (pending.length >= FLUSH_AT) {
    if (!process.stdout.write(pending)) {
      records.pause()
      process.stdout.once('drain', () => records.resume())
    }
    pending = ''
  }
})
await once(records, 'end')
process.stdout.write(pending)
