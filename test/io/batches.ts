// Batches of projected records must hold exactly what the line splitter and JSON.parse give, line
// for line, however the input is cut into chunks.
import t from 'tap'
import { LineBatcher, type ParsedBatch } from '../../lib/io/batches.js'
import { LineSplitter } from '../../lib/io/splitter.js'

const FIELDS = ['u', 'n']

interface Seen {
  line: number
  raw: string
  values?: unknown[]
  bad?: string
  /** a record that is JSON but not an object, whole */
  whole?: unknown
}

function fromBatches(chunks: Buffer[]): Seen[] {
  const b = new LineBatcher(FIELDS, 'in')
  const seen: Seen[] = []
  const take = (batch: ParsedBatch | undefined) => {
    if (!batch) return
    const text = batch.bytes ? Buffer.from(batch.bytes).toString('latin1') : ''
    for (let i = 0; i < batch.lines.length; i++) {
      const raw = batch.raws ? batch.raws[i]! : text.slice(batch.starts![i]!, batch.ends![i]!)
      const why = batch.bad[i]
      const line = batch.lines[i]!
      if (why !== undefined) seen.push({ line, raw, bad: why })
      else if (batch.whole && i in batch.whole) seen.push({ line, raw, whole: batch.whole[i] })
      else seen.push({ line, raw, values: batch.cols.map((c) => c[i]) })
    }
  }
  for (const c of chunks) take(b.feed(c))
  take(b.finish())
  return seen
}

function reference(input: Buffer): Seen[] {
  const s = new LineSplitter()
  const seen: Seen[] = []
  const on = (text: string, line: number, bad?: string) => {
    if (bad !== undefined) return seen.push({ line, raw: text, bad })
    let v: unknown
    try {
      v = JSON.parse(text)
    } catch (e) {
      return seen.push({ line, raw: text, bad: `malformed JSON: ${(e as Error).message}` })
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return seen.push({ line, raw: text, whole: v })
    const o = v as Record<string, unknown>
    seen.push({ line, raw: text, values: FIELDS.map((f) => (Object.prototype.hasOwnProperty.call(o, f) ? o[f] : undefined)) })
  }
  s.feed(input, on)
  s.finish(on)
  return seen
}

const input = Buffer.concat([
  Buffer.from('{"u":"a","n":1}\r\n\n   \n{"u":"é😀","n":2.50}\n{"n":3,"u":"b","u":"c"}\n'),
  Buffer.from('{"u":"'),
  Buffer.from([0xc3, 0x28]),
  Buffer.from('","n":4}\nnot json\n[1,2]\nnull\n5\n{"u":{"deep":[1,{"x":null}]},"n":-0}\r\n'),
  Buffer.from(`{"u":${'['.repeat(600)}${']'.repeat(600)}}\n`),
  Buffer.from(`{"u":"${'x'.repeat(3000)}","n":1e400}\n{"u":"tail"}`),
])

t.test('the same records as splitter + JSON.parse, however the input is cut', async (t) => {
  const want = reference(input)
  t.equal(want.length, 12)
  t.same(want.filter((s) => 'whole' in s).map((s) => s.whole), [[1, 2], null, 5], 'JSON that is not an object stays whole')
  t.same(want.filter((s) => s.bad).map((s) => s.line), [6, 7, 12], 'a line not UTF-8, a line not JSON, a line nested too deeply')
  t.same(fromBatches([input]), want, 'one chunk')
  t.same(fromBatches([...input].map((b) => Buffer.from([b]))), want, 'a byte at a time')
  let seed = 3
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  for (let k = 0; k < 200; k++) {
    const chunks: Buffer[] = []
    for (let at = 0; at < input.length; ) {
      const n = 1 + Math.floor(rand() * 64)
      chunks.push(input.subarray(at, at + n))
      at += n
    }
    const got = fromBatches(chunks)
    if (JSON.stringify(got) !== JSON.stringify(want)) return t.same(got, want, `chunking ${k}`)
  }
  t.pass('200 random chunkings')
})

t.test('a chunk buffer may be reused once fed: a cut line is kept as a copy', async (t) => {
  const b = new LineBatcher(FIELDS, 'in')
  const buf = Buffer.from('{"u":"a"}\n{"u":"b')
  const first = b.feed(buf)!
  t.equal(first.lines.length, 1)
  buf.fill(0x20)
  const second = b.feed(Buffer.from('c"}\n'))!
  t.same(second.cols[0], ['bc'])
})

t.test('a UTF-8 byte-order mark on line 1 is skipped, as by the splitter, however the input is cut', async (t) => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  const body = Buffer.from('{"u":"a","n":1}\n{"u":"b"}\n')
  const withBom = Buffer.concat([bom, body])
  const want = reference(body)
  t.same(reference(withBom), want, 'the splitter')
  t.same(fromBatches([withBom]), want, 'one chunk')
  t.same(fromBatches([withBom.subarray(0, 2), withBom.subarray(2)]), want, 'the mark cut between chunks')
  const nonAscii = Buffer.concat([bom, Buffer.from('{"u":"é"}\n')])
  t.same(fromBatches([nonAscii]), reference(Buffer.from('{"u":"é"}\n')), 'a batch of texts')
  const later = Buffer.concat([body, bom, body])
  t.equal(fromBatches([later])[2]!.bad?.startsWith('malformed JSON'), true, 'a mark on line 3 is not skipped')
  t.same(fromBatches([later]), reference(later), 'and both paths agree on it')
  t.same(fromBatches([Buffer.concat([bom, Buffer.from('\n{"u":"x"}\n')])]).map((s) => s.line), [2], 'a line 1 of only the mark is blank')
})
