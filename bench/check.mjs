// Correctness before time: the outputs of every tool running the same job are compared as
// multisets of normalised rows, and a row's time only counts if its output matches the reference.
//
// Tools differ in everything that does not matter — row order, key order, whitespace, `3` vs
// `3.0` vs `"3"`, NDJSON vs a JSON array — so each output row is reduced to a canonical string
// first: with a field list, the JSON array of those fields' values (numeric strings made
// numbers; absent fields stay absent and so differ); without one, the record as JSON with keys
// sorted at every depth. Sorting those strings makes equal multisets equal arrays.
import { createReadStream, openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { createHash } from 'node:crypto'

const NUMERIC = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/

function sortedKeys(v) {
  if (Array.isArray(v)) return v.map(sortedKeys)
  if (v && typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v).sort()) o[k] = sortedKeys(v[k])
    return o
  }
  return v
}

function canonical(record, fields) {
  if (!fields) return JSON.stringify(sortedKeys(record))
  return JSON.stringify(
    fields.map((f) => {
      const v = record?.[f]
      if (typeof v === 'string' && NUMERIC.test(v)) return Number(v)
      return v === undefined ? '<absent>' : v
    }),
  )
}

function firstByte(file) {
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.alloc(64)
    const n = readSync(fd, buf, 0, 64, 0)
    return buf.subarray(0, n).toString('utf8').trimStart()[0]
  } finally {
    closeSync(fd)
  }
}

/** The sorted canonical rows of an NDJSON file, or of a file holding one JSON array. */
export async function canonicalRows(file, fields) {
  const rows = []
  if (statSync(file).size === 0) return rows
  if (firstByte(file) === '[') {
    for (const r of JSON.parse(readFileSync(file, 'utf8'))) rows.push(canonical(r, fields))
  } else {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
    for await (const line of lines) if (line.trim()) rows.push(canonical(JSON.parse(line), fields))
  }
  return rows.sort()
}

/** How many rows of `a` have no partner in `b` and vice versa, with one example of each. */
export function diff(a, b) {
  let i = 0
  let j = 0
  let onlyA = 0
  let onlyB = 0
  let exampleA
  let exampleB
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) {
      exampleA ??= a[i]
      onlyA++
      i++
    } else if (i >= a.length || b[j] < a[i]) {
      exampleB ??= b[j]
      onlyB++
      j++
    } else {
      i++
      j++
    }
  }
  return { onlyA, onlyB, exampleA, exampleB }
}

const fingerprint = (rows) => {
  const h = createHash('sha256')
  for (const r of rows) h.update(r).update('\n')
  return h.digest('hex')
}

/**
 * Decides which outputs of one job are right. candidates: [{ id, file, rank }], lower rank
 * preferred. The reference is the output the most candidates agree on — a tie goes to the best
 * ranked — so that one broken tool cannot make all the others look wrong, whichever it is.
 * Only one fingerprint per output is kept, so a million-row job holds two row arrays at most.
 *
 * Returns { referenceId, results: Map id -> { status: 'ok'|'wrong'|'unchecked'|'error', rows,
 * differ, detail } }.
 */
export async function checkJob(candidates, fields) {
  const results = new Map()
  const prints = []
  for (const c of candidates) {
    try {
      const rows = await canonicalRows(c.file, fields)
      prints.push({ ...c, print: fingerprint(rows), rows: rows.length })
    } catch (e) {
      results.set(c.id, { status: 'error', rows: 0, differ: null, detail: `unreadable output: ${e.message}` })
    }
  }
  if (prints.length === 0) return { referenceId: null, results }

  const groups = new Map()
  for (const p of prints) groups.set(p.print, [...(groups.get(p.print) ?? []), p])
  const best = (g) => Math.min(...g.map((p) => p.rank))
  const refGroup = [...groups.values()].sort((x, y) => y.length - x.length || best(x) - best(y))[0]
  const ref = refGroup.reduce((x, y) => (y.rank < x.rank ? y : x))

  let refRows = null
  for (const p of prints) {
    if (p.print === ref.print) {
      results.set(p.id, { status: prints.length > 1 ? 'ok' : 'unchecked', rows: p.rows, differ: 0 })
      continue
    }
    refRows ??= await canonicalRows(ref.file, fields)
    const d = diff(await canonicalRows(p.file, fields), refRows)
    results.set(p.id, {
      status: 'wrong',
      rows: p.rows,
      differ: d.onlyA + d.onlyB,
      detail: `${d.onlyA} rows not in ${ref.id}'s output (e.g. ${d.exampleA ?? '-'}), ` +
        `${d.onlyB} of its rows missing (e.g. ${d.exampleB ?? '-'})`,
    })
  }
  return { referenceId: ref.id, results }
}
