import t from 'tap'
import { MAX_KEY_GROUPS, NO_KEY, canonicalJson, compareCanon, exactKeyTexts, keyGroupOf, makeKey } from '../../lib/stream/key.js'

t.test('the canonical form ignores the order of object fields', async (t) => {
  const a = makeKey([{ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }])
  const b = makeKey([{ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }])
  t.equal(a.canon, b.canon)
  t.equal(a.canon, '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}')
  t.equal(a.group, b.group)
})

t.test('one key field gives the JSON of its value; several give an array', async (t) => {
  t.equal(makeKey(['u17']).canon, '"u17"')
  t.equal(makeKey([42]).canon, '42')
  t.equal(makeKey([null]).canon, 'null')
  t.equal(makeKey(['u17', 'FR']).canon, '["u17","FR"]')
  t.same(makeKey(['u17', 'FR']).values, ['u17', 'FR'])
  t.not(makeKey(['1']).canon, makeKey([1]).canon, 'the string "1" and the number 1 are different keys')
  t.equal(canonicalJson(undefined), 'null')
})

t.test('the key group is in [0, 128) and pinned: changing the hash breaks restore of checkpoints', async (t) => {
  t.equal(MAX_KEY_GROUPS, 128)
  // computed once with FNV-1a over UTF-16 code units, mod 128 (lib/stream/key.ts)
  t.equal(makeKey(['u17']).group, 74)
  t.equal(makeKey([42]).group, 3)
  t.equal(makeKey(['u17', 'FR']).group, 96)
  t.equal(makeKey(['é😀']).group, 89)
  t.equal(keyGroupOf('{"a":[1,2],"b":1}'), 62)
  for (let i = 0; i < 2000; i++) {
    const g = makeKey([`user-${i}`]).group
    if (!(Number.isInteger(g) && g >= 0 && g < MAX_KEY_GROUPS)) t.fail(`group ${g} of user-${i}`)
  }
  const used = new Set(Array.from({ length: 2000 }, (_, i) => makeKey([`user-${i}`]).group))
  t.ok(used.size > 120, `keys spread over the groups (${used.size} of 128 used)`)
  t.equal(NO_KEY.group, 0)
})

t.test('compareCanon orders by code point, as UTF-8 bytes do', async (t) => {
  const bmpTop = '"\uffff"'
  const astral = '"\u{10000}"'
  t.ok(astral < bmpTop, 'plain < compares UTF-16 units and puts U+10000 first')
  t.ok(compareCanon(bmpTop, astral) < 0, 'U+FFFF sorts before U+10000')
  t.ok(compareCanon(astral, bmpTop) > 0)
  t.ok(compareCanon('"\ue000"', '"😀"') < 0, 'U+E000 before U+1F600')
  t.equal(compareCanon('"a"', '"a"'), 0)
  t.ok(compareCanon('"a', '"ab') < 0, 'a prefix sorts first')
  t.ok(compareCanon('"b"', '"a"') > 0)

  const keys = ['"😀"', '"\uffff"', '"z"', '"é"', '"\u{10000}"', '"\ue000"', '"a"', '"ab"', '"\u{1F600}x"', '"\u{1F601}"', '42', '[1]', 'null']
  const byCompare = [...keys].sort(compareCanon)
  const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')))
  t.same(byCompare, byBytes, 'the same order as the bytes of the UTF-8 encoding (what LMDB sorts by)')
})

t.test('an integer beyond 2^53 keeps its exact text in the canonical form, and gives it back', async (t) => {
  const rounded = JSON.parse('9007199254740993') as number
  const a = makeKey([rounded], ['9007199254740993'])
  const b = makeKey([rounded], ['9007199254740992'])
  t.not(a.canon, b.canon, 'two keys')
  t.ok(compareCanon(b.canon, a.canon) < 0, 'in the order of their digits')
  t.same(exactKeyTexts(a), ['9007199254740993'])
  const multi = makeKey(['x,"]', rounded, 2], [undefined, '9007199254740993'])
  t.equal(multi.canon, '["x,\\"]",9007199254740993,2]')
  t.same(exactKeyTexts(multi), [undefined, '9007199254740993', undefined], 'read back from the canonical form alone (a restore)')
  t.same(exactKeyTexts({ values: multi.values, canon: multi.canon, group: multi.group }), exactKeyTexts(multi))
  t.equal(exactKeyTexts(makeKey(['u', 42])), undefined, 'nearly every key has none')
  t.equal(makeKey([rounded]).canon, '9007199254740992', 'without texts, as before')
})
