import t from 'tap'
import { compilePath, parsePath, pathLeafName } from '../../lib/expr/path.js'
import { WeirError } from '../../lib/stream/errors.js'

t.test('parsePath splits a path into names and indexes', async (t) => {
  t.same(parsePath('user'), ['user'])
  t.same(parsePath('payload.user_id'), ['payload', 'user_id'])
  t.same(parsePath('items[0].sku'), ['items', 0, 'sku'])
  t.same(parsePath('["odd key"].x'), ['odd key', 'x'])
  t.same(parsePath('a["b.c"][12]'), ['a', 'b.c', 12])
  t.same(parsePath('a[ 3 ]'), ['a', 3], 'spaces inside brackets')
  t.same(parsePath('["say \\"hi\\""]'), ['say "hi"'], 'JSON escapes in quoted names')
  t.same(parsePath('données.été'), ['données', 'été'], 'non-ASCII names')
  t.same(parsePath('0'), ['0'], 'a bare number is a name, not an index')
})

t.test('parsePath rejects bad syntax with a usage error that points at the character', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /^field path is empty$/],
    ['a[x', /^field path 'a\[x': missing '\]' at character 2$/],
    ['a[x]', /^field path 'a\[x\]': expected an index or a "quoted name" inside \[ \] at character 2$/],
    ['a[-1]', /expected an index/],
    ["a['b']", /expected an index or a "quoted name"/],
    ['a]', /^field path 'a\]': expected a field name at character 2$/],
    ['.a', /^field path '\.a': unexpected '\.' at character 1$/],
    ['a.', /^field path 'a\.': unexpected '\.' at character 2$/],
    ['a..b', /^field path 'a\.\.b': unexpected '\.' at character 2$/],
    ['a.b..c', /^field path 'a\.b\.\.c': unexpected '\.' at character 4$/],
  ]
  for (const [text, msg] of cases) {
    t.throws(() => parsePath(text), msg, JSON.stringify(text))
    try {
      parsePath(text)
    } catch (e) {
      t.ok(e instanceof WeirError && e.kind === 'usage', `${JSON.stringify(text)} is a usage error (exit 64)`)
    }
  }
})

t.test('compilePath reads the value, or undefined when any step is missing', async (t) => {
  const rec = { user: 'a', payload: { user_id: 7, zero: 0, nil: null }, items: [{ sku: 'x1' }, { sku: 'x2' }], 'odd key': { x: false } }
  t.equal(compilePath('user')(rec), 'a')
  t.equal(compilePath('payload.user_id')(rec), 7)
  t.equal(compilePath('payload.zero')(rec), 0, 'falsy values are values')
  t.equal(compilePath('payload.nil')(rec), null, 'null is a value, not missing')
  t.equal(compilePath('items[0].sku')(rec), 'x1')
  t.equal(compilePath('items[1].sku')(rec), 'x2')
  t.equal(compilePath('["odd key"].x')(rec), false)
  t.same(compilePath('items')(rec), rec.items)

  t.equal(compilePath('nope')(rec), undefined)
  t.equal(compilePath('items[5].sku')(rec), undefined)
  t.equal(compilePath('payload.nil.x')(rec), undefined, 'through null')
  t.equal(compilePath('user.length.x')(rec), undefined, 'through a string')
  t.equal(compilePath('user')(null), undefined, 'a record that is null')
  t.equal(compilePath('user')('text'), undefined, 'a record that is a string')
  t.equal(compilePath('a.b')([{ b: 1 }]), undefined)
  t.same(compilePath('[0]')([{ b: 1 }]), { b: 1 }, 'a top-level index')
  t.same(compilePath('[0].b')([{ b: 1 }]), 1)
})

// A parsed record is a plain object: without an own-field check, `constructor`, `toString` or
// `__proto__` read Object.prototype's, so a record lacking the field had a key (null or {}) and
// a count of it was 1, where it is missing (bad input for a key or a time).
t.test('compilePath reads only the own fields of a record, never what its prototype has', async (t) => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    t.equal(compilePath(name)({ a: 1 }), undefined, `${name}: missing`)
    t.equal(compilePath(`a.${name}`)({ a: {} }), undefined, `a.${name}: missing`)
    t.equal(compilePath(`a[0].${name}`)({ a: [{}] }), undefined, `a[0].${name}: missing`)
  }
  t.equal(compilePath('a.map')({ a: [1] }), undefined, "an array's methods are not fields")
  t.equal(compilePath('a.at.x')({ a: [1] }), undefined)
  const own = JSON.parse('{"constructor":"c","__proto__":"p","toString":{"x":1}}') as unknown
  t.equal(compilePath('constructor')(own), 'c', 'a field of that name is read')
  t.equal(compilePath('__proto__')(own), 'p', 'JSON.parse makes __proto__ an own field')
  t.equal(compilePath('toString.x')(own), 1)
  t.equal(compilePath('a.length')({ a: [1, 2] }), 2, "an array's length is its own")
})

t.test('compilePath fails on bad syntax at compile time, not per record', async (t) => {
  t.throws(() => compilePath('a[x'), /missing '\]'/)
})

t.test('pathLeafName is the last named step', async (t) => {
  t.equal(pathLeafName('user'), 'user')
  t.equal(pathLeafName('payload.user_id'), 'user_id')
  t.equal(pathLeafName('items[0].sku'), 'sku')
  t.equal(pathLeafName('items[0]'), 'items')
  t.equal(pathLeafName('["odd key"]'), 'odd key')
})
