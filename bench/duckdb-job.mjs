#!/usr/bin/env node
// Runs one DuckDB statement in a process of its own, so that the bench's wall time and peak RSS
// are DuckDB's alone (including loading its native library, as any user of it pays).
//
//   node bench/duckdb-job.mjs MODULE THREADS SQL   run SQL with `SET threads=THREADS`
//   node bench/duckdb-job.mjs MODULE --version     print DuckDB's library version
//
// MODULE is the resolved path of @duckdb/node-api's entry file; bench/run.mjs finds it (in the
// project's node_modules or in bench/.peers) so that this script needs no resolution logic.
import { pathToFileURL } from 'node:url'

const [modulePath, threads, sql] = process.argv.slice(2)
if (!modulePath || !threads) {
  console.error('usage: node bench/duckdb-job.mjs MODULE (THREADS SQL | --version)')
  process.exit(2)
}
const mod = await import(pathToFileURL(modulePath).href)
const duckdb = mod.default ?? mod

if (threads === '--version') {
  console.log(duckdb.version())
} else {
  const instance = await duckdb.DuckDBInstance.create(':memory:')
  const connection = await instance.connect()
  await connection.run(`SET threads=${Number(threads)}`)
  await connection.run(sql)
  connection.closeSync?.()
}
