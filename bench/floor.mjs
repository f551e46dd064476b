#!/usr/bin/env node
// The Node floor: the least work any NDJSON-in/NDJSON-out tool written in Node must do — read,
// split on newlines, JSON.parse and JSON.stringify every record, write. A tool in Node can hardly
// beat it, so the bench reports every other row's throughput as a ratio to this one.
//
//   node bench/floor.mjs INPUT > OUTPUT
import { createReadStream } from 'node:fs'
import { once } from 'node:events'

const input = process.argv[2]
if (!input) {
  console.error('usage: node bench/floor.mjs INPUT > OUTPUT')
  process.exit(2)
}

// Batch output into ~64 KiB writes: one write per record would measure syscalls, not JSON. The
// await happens only at a flush, not per record, so the floor pays no per-record promise cost.
const FLUSH_AT = 1 << 16
let pending = ''
async function flush() {
  if (!process.stdout.write(pending)) await once(process.stdout, 'drain')
  pending = ''
}

let tail = '' // a line split across two chunks
for await (const chunk of createReadStream(input, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
  const lines = (tail + chunk).split('\n')
  tail = lines.pop()
  for (const line of lines) {
    if (line) pending += JSON.stringify(JSON.parse(line)) + '\n'
  }
  if (pending.length >= FLUSH_AT) await flush()
}
if (tail) pending += JSON.stringify(JSON.parse(tail)) + '\n'
await flush()
