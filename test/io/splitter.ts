import t from 'tap'
import { LineSplitter } from '../../lib/io/splitter.js'

/** Feeds the chunks, then finishes; returns [lineNo, text] pairs. */
function split(chunks: (string | Buffer)[]): [number, string][] {
  const s = new LineSplitter()
  const got: [number, string][] = []
  const on = (text: string, n: number) => got.push([n, text])
  for (const c of chunks) s.feed(typeof c === 'string' ? Buffer.from(c) : c, on)
  s.finish(on)
  return got
}

t.test('splits on LF and strips a CR before it', async (t) => {
  t.same(split(['{"a":1}\r\n{"a":2}\n{"a":3}\r\n']), [
    [1, '{"a":1}'],
    [2, '{"a":2}'],
    [3, '{"a":3}'],
  ])
})

t.test('blank lines are skipped but counted, so line numbers match the file', async (t) => {
  t.same(split(['{"a":1}\n\n   \n\t\r\n\r\n{"a":2}\n']), [
    [1, '{"a":1}'],
    [6, '{"a":2}'],
  ])
})

t.test('a line with leading space is a line', async (t) => {
  t.same(split(['  {"a":1}\n']), [[1, '  {"a":1}']])
})

t.test('a multibyte UTF-8 character split across two chunks is kept whole', async (t) => {
  const bytes = Buffer.from('{"u":"é😀"}\n{"u":"x"}\n')
  const emoji = bytes.indexOf(Buffer.from('😀'))
  for (const cut of [emoji + 1, emoji + 2, emoji + 3, bytes.indexOf(Buffer.from('é')) + 1]) {
    t.same(split([bytes.subarray(0, cut), bytes.subarray(cut)]), [
      [1, '{"u":"é😀"}'],
      [2, '{"u":"x"}'],
    ], `cut at byte ${cut}`)
  }
})

t.test('a CRLF split between chunks', async (t) => {
  t.same(split(['{"a":1}\r', '\n{"a":2}\r', '\n']), [
    [1, '{"a":1}'],
    [2, '{"a":2}'],
  ])
})

t.test('an unterminated last line is emitted by finish()', async (t) => {
  const s = new LineSplitter()
  const got: [number, string][] = []
  const on = (text: string, n: number) => got.push([n, text])
  s.feed(Buffer.from('{"a":1}\n\n{"a":'), on)
  t.same(got, [[1, '{"a":1}']], 'nothing of the partial line before finish')
  s.feed(Buffer.from('2}'), on)
  t.same(got, [[1, '{"a":1}']])
  s.finish(on)
  t.same(got, [
    [1, '{"a":1}'],
    [3, '{"a":2}'],
  ])
  s.finish(on)
  t.equal(got.length, 2, 'a second finish emits nothing')
  t.same(split(['{"a":1}\r']), [[1, '{"a":1}']], 'a trailing CR without LF')
  t.same(split(['{"a":1}\n']), [[1, '{"a":1}']], 'a terminated last line is not emitted twice')
  t.same(split([]), [], 'empty input')
})

t.test('a line spanning three chunks', async (t) => {
  t.same(split(['{"a":1}\n{"lo', 'ng":"abcdef', 'gh"}\n{"b":2}']), [
    [1, '{"a":1}'],
    [2, '{"long":"abcdefgh"}'],
    [3, '{"b":2}'],
  ])
  const big = '{"x":"' + 'é'.repeat(1000) + '"}'
  const b = Buffer.from(big + '\n')
  t.same(split([b.subarray(0, 7), b.subarray(7, 1001), b.subarray(1001)]), [[1, big]], 'cuts inside multibyte characters')
})

t.test('one byte at a time gives the same lines', async (t) => {
  const text = '{"a":"é"}\r\n\n{"b":"😀"}\n{"c":3}'
  const bytes = Buffer.from(text)
  const chunks = Array.from(bytes, (b) => Buffer.from([b]))
  t.same(split(chunks), split([text]))
  t.same(split([text]), [
    [1, '{"a":"é"}'],
    [3, '{"b":"😀"}'],
    [4, '{"c":3}'],
  ])
})

t.test('a line that is not UTF-8 is reported, not decoded with replacement characters', async (t) => {
  const s = new LineSplitter()
  const got: [string, number, boolean][] = []
  const on = (text: string, n: number, bad?: string) => got.push([text, n, bad === 'not valid UTF-8'])
  s.feed(Buffer.concat([Buffer.from('{"a":"é"}\n{"b":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n\n{"c":1}\n')]), on)
  t.same(got.map(([, n, bad]) => [n, bad]), [[1, false], [2, true], [4, false]])
  t.equal(got[0]![0], '{"a":"é"}')
})

t.test('a UTF-8 byte-order mark on line 1 is skipped (as jq does), on line 2 it is kept', async (t) => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  t.same(split([Buffer.concat([bom, Buffer.from('{"a":1}\n')])]), [[1, '{"a":1}']])
  t.same(split([bom.subarray(0, 1), Buffer.concat([bom.subarray(1), Buffer.from('{"a":1}\n')])]), [[1, '{"a":1}']], 'cut between chunks')
  t.same(split([Buffer.concat([Buffer.from('{"a":1}\n'), bom, Buffer.from('{"a":2}')])]), [
    [1, '{"a":1}'],
    [2, '\ufeff{"a":2}'],
  ])
})
