// fieldsReadBy must never answer too few fields: where it cannot follow every use of `r`, it must
// answer undefined (the record is then parsed whole).
import t from 'tap'
import { fieldsReadBy } from '../../lib/expr/fields.js'

t.test('answers the fields of r.name and r?.name uses', async (t) => {
  const cases: [string, string[]][] = [
    ['r.event === "purchase"', ['event']],
    ['({user: r.user, amount: r.amount, cents: r.amount * 100})', ['user', 'amount']],
    ['r.a.b.c > 1 && r?.d', ['a', 'd']],
    ['r . spaced', ['spaced']],
    ["r.s === 'r.hidden' || r.n / 2 > 1", ['s', 'n']],
    ['[r.x, r.y].map((v) => v * 2)', ['x', 'y']],
    ['r.length', ['length']],
    ['x.r + 1', []],
    ['true', []],
    ['Math.max(r.a, 0.5) ? .5 : r.b', ['a', 'b']],
  ]
  for (const [expr, fields] of cases) t.same(fieldsReadBy(expr), fields, expr)
})

t.test('answers undefined wherever r may be read otherwise', async (t) => {
  const cases = [
    'r', // passed on whole
    '{...r, x: 1}',
    'Object.keys(r).length',
    'JSON.stringify(r)',
    'r["event"]',
    'r[k]',
    '"x" in r',
    'r.hasOwnProperty("a")',
    'r.constructor',
    'r.__proto__',
    'r.toString()',
    '`${r.a}`', // template literals are not followed
    '/r/.test(r.a)', // nor regular expressions
    'r.a // comment',
    'r.a /* c */',
    'eval("r.a")',
    'arguments[0].a',
    '(r) => r.a',
    '[1].map(r => r + 1)',
    '(() => { if (r.a) /"/.test(r.b); return r })()',
    '(function () { return r })()',
    '\\u0072.a', // r spelled with an escape
    'r.é',
    '{r}',
    'x ? r : 1',
    'r?.[0]',
    '"unterminated',
  ]
  for (const expr of cases) t.equal(fieldsReadBy(expr), undefined, expr)
})
