import t from 'tap'
import { sh } from '../harness/cli.js'

t.test('a closed stdin is an error, as in jq and Miller; an empty one is no input', async (t) => {
  const closed = await sh('"$WEIR" filter true <&-')
  t.equal(closed.code, 66)
  t.match(closed.stderr, /^weir: stdin: closed .*name an input file, or give '< \/dev\/null' for none\n$/)
  const chained = await sh('"$WEIR" keyby user then aggregate count - <&-')
  t.equal(chained.code, 66, "'-' names stdin too")
  const empty = await sh('"$WEIR" filter true < /dev/null')
  t.same([empty.code, empty.stdout, empty.stderr], [0, '', ''])
  const files = await sh('"$WEIR" aggregate count fixtures/clicks.ndjson <&-')
  t.same([files.code, files.stdout], [0, '{"count":3000}\n'], 'stdin closed does not matter when it is not read')
})
