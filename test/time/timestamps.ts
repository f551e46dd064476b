import t from 'tap'
import { timeExtractor } from '../../lib/time/timestamps.js'

t.test('ISO-8601: lower-case t and z (RFC 3339) and whole-hour offsets (+02) are read', async (t) => {
  const x = timeExtractor('t', 'ms')
  const at = Date.UTC(2024, 4, 1, 8, 0, 30)
  for (const v of ['2024-05-01T08:00:30Z', '2024-05-01t08:00:30z', '2024-05-01 08:00:30Z', '2024-05-01T10:00:30+02', '2024-05-01t10:00:30+02:00', '2024-05-01T10:00:30+0200', '2024-05-01T05:30:30-02:30'])
    t.equal(x.ms({ t: v }), at, v)
  t.equal(x.ms({ t: '2024-05-01T10:00:30.250+02' }), at + 250, 'fractions too')
  for (const v of ['2024-05-01T08:00:30', '2024-05-01T10:00:30+2', '2024-02-30T10:00:30z', 'Jan 1 2024'])
    t.ok(Number.isNaN(x.ms({ t: v })), `${v} is bad input: ${x.why({ t: v })}`)
})
