import t from 'tap'
import { isoMillis, parseIsoSlowly, timeExtractor } from '../../lib/time/timestamps.js'

t.test('ISO-8601: lower-case t and z (RFC 3339) and whole-hour offsets (+02) are read', async (t) => {
  const x = timeExtractor('t', 'ms')
  const at = Date.UTC(2024, 4, 1, 8, 0, 30)
  for (const v of ['2024-05-01T08:00:30Z', '2024-05-01t08:00:30z', '2024-05-01 08:00:30Z', '2024-05-01T10:00:30+02', '2024-05-01t10:00:30+02:00', '2024-05-01T10:00:30+0200', '2024-05-01T05:30:30-02:30'])
    t.equal(x.ms({ t: v }), at, v)
  t.equal(x.ms({ t: '2024-05-01T10:00:30.250+02' }), at + 250, 'fractions too')
  for (const v of ['2024-05-01T08:00:30', '2024-05-01T10:00:30+2', '2024-02-30T10:00:30z', 'Jan 1 2024'])
    t.ok(Number.isNaN(x.ms({ t: v })), `${v} is bad input: ${x.why({ t: v })}`)
})

// isoMillis reads the common form digit by digit and declines the rest; whatever it reads must be
// what the general way (regular expression, Date.parse, fields read back) reads, valid or not.
t.test('ISO-8601: the fast reading equals the general one over generated times, valid or not', async (t) => {
  let seed = 12345
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const int = (n: number) => Math.floor(rand() * n)
  const pad = (x: number, w: number) => String(x).padStart(w, '0')
  const pick = <T>(xs: T[]): T => xs[int(xs.length)]!
  const x = timeExtractor('t', 'ms')
  let fastRead = 0
  let mismatches = 0
  let commonMissed = 0
  for (let k = 0; k < 200_000; k++) {
    const year = pick([int(10000), 1900 + int(200), 2000, 1900, 2100, 2024, 1970, 0, 9999])
    const month = rand() < 0.9 ? 1 + int(12) : pick([0, 13])
    const day = rand() < 0.8 ? 1 + int(28) : pick([0, 29, 30, 31, 32])
    const hour = rand() < 0.95 ? int(24) : pick([24, 25])
    const minute = rand() < 0.95 ? int(60) : 60
    const second = rand() < 0.95 ? int(60) : pick([60, 61])
    const frac = pick(['', '', `.${pad(int(1000), 3)}`, `.${pad(int(1000), 3)}`, `.${int(10)}`, `.${pad(int(1e6), 6)}`, '.'])
    const sep = rand() < 0.9 ? 'T' : pick(['t', ' ', '_'])
    const oh = rand() < 0.9 ? int(24) : pick([24, 99])
    const om = rand() < 0.9 ? pick([0, 30, 45, int(60)]) : 60
    const zone = pick(['Z', 'Z', `+${pad(oh, 2)}:${pad(om, 2)}`, `-${pad(oh, 2)}:${pad(om, 2)}`, 'z', `+${pad(oh, 2)}${pad(om, 2)}`, `+${pad(oh, 2)}`, ''])
    let v = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}${sep}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${frac}${zone}`
    if (rand() < 0.05) {
      const i = int(v.length)
      v = v.slice(0, i) + pick(['x', '-', ':', '9', '', ' ']) + v.slice(i + 1)
    }
    const fast = isoMillis(v)
    const slow = parseIsoSlowly(v, 't', 'ms')
    if (!Number.isNaN(fast)) {
      fastRead++
      if (fast !== slow && mismatches++ < 5) t.fail(`${v}: fast ${fast}, general ${slow}`)
    }
    const common = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?(Z|[+-]\d{2}:\d{2})$/.test(v) && Number(v.slice(17, 19)) <= 59 && Number(v.slice(11, 13)) <= 23
    const offsetOk = !/[+-](\d{2}):(\d{2})$/.test(v) || (Number(v.slice(-5, -3)) <= 23 && Number(v.slice(-2)) <= 59)
    if (common && offsetOk && typeof slow === 'number' && Number.isNaN(fast) && commonMissed++ < 5) t.fail(`${v}: the common form, declined by the fast reading`)
    const viaExtractor = x.ms({ t: v })
    if (typeof slow === 'number' ? viaExtractor !== slow : !Number.isNaN(viaExtractor)) t.fail(`${v}: the extractor read ${viaExtractor}, the general way ${slow}`)
  }
  t.equal(mismatches, 0, 'the fast reading never differs from the general one')
  t.equal(commonMissed, 0, 'and reads every valid time of the common form')
  t.ok(fastRead > 20_000, `the fast reading read ${fastRead} of 200,000 (the common form, about 15% of what is generated)`)
})

// An integer out of range was "expected integer epoch milliseconds" with JSON.parse's rounded
// digits (9007199254740993 quoted as 9007199254740992): neither was what the input held.
t.test('a time beyond ±2^53 ms says so, without quoting rounded digits; a fraction still says integer', async (t) => {
  const ms = timeExtractor('ts', 'ms')
  const s = timeExtractor('ts', 's')
  const beyond = "time field 'ts' is a number beyond ±2^53 epoch milliseconds, the times weir keeps exactly"
  for (const v of [9007199254740993, -(2 ** 53), 1e20, Infinity]) {
    t.ok(Number.isNaN(ms.ms({ ts: v })), `${v}: not a time`)
    t.equal(ms.why({ ts: v }), beyond, `${v} ms`)
  }
  t.equal(s.why({ ts: 9007199254741 }), beyond, 'seconds that are beyond once in ms')
  t.equal(ms.why({ ts: 1.5 }), "time field 'ts' is 1.5, expected integer epoch milliseconds")
  t.equal(ms.ms({ ts: 2 ** 53 - 1 }), 2 ** 53 - 1, 'the last exact integer is a time')
})
