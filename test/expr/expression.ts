import t from 'tap'
import { compileExpression } from '../../lib/expr/expression.js'
import { WeirError } from '../../lib/stream/errors.js'

t.test('compiles one expression over r into a function', async (t) => {
  t.equal(compileExpression('r.a + 1', 'filter')({ a: 1 }), 2)
  t.same(compileExpression('({...r, b: 2})', 'map')({ a: 1 }), { a: 1, b: 2 })
  t.same(compileExpression('{a: r.a}', 'map')({ a: 1 }), { a: 1 }, 'a bare object literal is an object, not a block')
  t.equal(compileExpression('  r.a  ', 'filter')({ a: 3 }), 3, 'surrounding space')
  t.equal(compileExpression('r.a,\n r.b', 'filter')({ a: 1, b: 2 }), 2, 'a comma expression is one expression')
  t.equal(compileExpression('r.a // a comment', 'filter')({ a: 4 }), 4, 'a trailing // comment ends')
  t.equal(compileExpression('r?.device?.os ?? "none"', 'filter')({}), 'none')
  t.equal(compileExpression('(() => { let x = r.a; return x * 2 })()', 'map')({ a: 5 }), 10, 'statements inside a function')
})

t.test('is compiled once: state does not leak between records', async (t) => {
  const f = compileExpression('r.n * 2', 'map')
  t.same([1, 2, 3].map((n) => f({ n })), [2, 4, 6])
})

t.test('runs in strict mode', async (t) => {
  const f = compileExpression('(undeclared = r)', 'map')
  t.throws(() => f({}), ReferenceError, 'assigning an undeclared name throws')
})

t.test('rejects anything but one expression, naming the command', async (t) => {
  const cases: [string, RegExp][] = [
    ['r.a; r.b', /^filter: invalid expression 'r\.a; r\.b': /],
    ['r.a), (r.b', /^filter: invalid expression 'r\.a\), \(r\.b': /],
    ['r.a >', /^filter: invalid expression/],
    ['return r', /^filter: invalid expression/],
    ['let x = 1', /^filter: invalid expression/],
    ['r.a })({ v: (r.b', /^filter: invalid expression/],
    ['', /^filter: the expression is empty$/],
    ['   \n\t', /^filter: the expression is empty$/],
  ]
  for (const [text, msg] of cases) {
    t.throws(() => compileExpression(text, 'filter'), msg, JSON.stringify(text))
    try {
      compileExpression(text, 'filter')
    } catch (e) {
      t.ok(e instanceof WeirError && e.kind === 'usage', 'a usage error (exit 64)')
    }
  }
  t.throws(() => compileExpression('r.a;', 'map'), /^map: invalid expression/)
})

t.test("a syntax error is told in the user's text, not in the code that wraps it", async (t) => {
  const cases: [string, string][] = [
    ['r.amount >', 'unexpected end of expression'],
    ['({a: r.x', 'unexpected end of expression'],
    ['r.a )', "Unexpected token ')' at column 5"],
    ['r.a), (r.b', "Unexpected token ')' at column 4"],
    ['r.a })({ v: (r.b', "Unexpected token '}' at column 5"],
    ['r.a +\n+ ) 1', "Unexpected token ')' at line 2, column 3"],
    ['r.a; r.b', "not one expression: Unexpected token ';' at column 4"],
    ['if (r.a) 1', "not one expression: Unexpected token 'if' at column 1"],
    // closes the wrapper's parenthesis and opens another: one expression only in parentheses
    ['r.a)||(true', "Unexpected token ')' at column 4"],
    ['r.a]||[true', "Unexpected token ']' at column 4"],
  ]
  for (const [text, why] of cases) {
    let got = ''
    try {
      compileExpression(text, 'filter')
    } catch (e) {
      got = (e as Error).message
    }
    t.equal(got, `filter: invalid expression '${text}': ${why}`, JSON.stringify(text))
  }
})
