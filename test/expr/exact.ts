import t from 'tap'
import { compileIntegerText } from '../../lib/expr/exact.js'

t.test('finds the literal of an integer at a field path in the raw line, as JSON.parse would read the path', async (t) => {
  const raw = '{ "a" : 9007199254740993 , "s":"x,}]\\"", "n":{"id":[1, -12345678901234567891 ]},"e\\u0078":18446744073709551617,"a":123}'
  t.equal(compileIntegerText('a')(raw), '123', 'the last of a repeated name, as JSON.parse')
  t.equal(compileIntegerText('n.id[1]')(raw), '-12345678901234567891')
  t.equal(compileIntegerText('["ex"]')(raw), '18446744073709551617', 'an escaped name')
  t.equal(compileIntegerText('s')(raw), undefined, 'a string is not an integer')
  t.equal(compileIntegerText('n.id[2]')(raw), undefined, 'past the end')
  t.equal(compileIntegerText('n.x')(raw), undefined, 'no such field')
  t.equal(compileIntegerText('s.x')(raw), undefined, 'not an object')
  t.equal(compileIntegerText('f')('{"f":1e20}'), '100000000000000000000', 'an exponent that makes an integer: its digits')
  t.equal(compileIntegerText('f')('{"f":9007199254740993.0}'), '9007199254740993', 'a fraction of zeros: the integer')
  t.equal(compileIntegerText('f')('{"f":-900719925474099.30e1}'), '-9007199254740993', 'both, with a sign')
  t.equal(compileIntegerText('f')('{"f":0.0e5}'), '0')
  t.equal(compileIntegerText('f')('{"f":9007199254740993.5}'), undefined, 'a fraction is not an integer')
  t.equal(compileIntegerText('f')('{"f":1e-3}'), undefined)
})
