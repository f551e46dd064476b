import t from 'tap'
import { readFileSync } from 'node:fs'
import { weir, lines, records } from '../harness/cli.js'

t.test('1e400 reaching an aggregate is bad input with its line, under --on-error, on both parse paths', async (t) => {
  const input = '{"t":1,"x":1e400}\n{"t":2,"x":2}\n{"t":3,"x":-1e999}\n'
  const dir = t.testdir({ 'in.ndjson': input })
  for (const worker of ['0', '1']) {
    const env = { WEIR_PARSE_WORKER: worker }
    const f = await weir(['aggregate', 'sum:x', 'max:x', `${dir}/in.ndjson`], { env })
    t.equal(f.code, 65)
    t.equal(f.stderr, `weir: ${dir}/in.ndjson:1: sum:x: a number beyond the range of a double (±1.8e308)\n`)
    const d = await weir(['window', 'tumbling', '1s', '--time', 't', 'then', 'aggregate', 'sum:x', `${dir}/in.ndjson`, '--on-error', 'dead-letter', '--dead-letter', `${dir}/dead${worker}`], { env })
    t.equal(d.code, 0, d.stderr)
    t.same(records(d.stdout).map((r) => r.x_sum), [2], 'the bad records change no accumulator')
    t.equal(lines(readFileSync(`${dir}/dead${worker}`, 'utf8')).length, 2, 'both went to the dead letters')
  }
})

t.test('a sum past ±1.8e308 is written as null, and said once on stderr, in every form', async (t) => {
  const input = '{"x":1.7e308,"ts":1}\n{"x":1.7e308,"ts":2}\n{"x":1,"ts":1500}\n'
  const warning = 'weir: warning: x_sum went past ±1.8e308 and is written as null (JSON has no infinity)\n'
  const running = await weir(['aggregate', 'sum:x', 'max:x'], { stdin: input })
  t.same([running.code, running.stdout, running.stderr], [0, '{"x_sum":null,"x_max":1.7e+308}\n', warning])
  const windowed = await weir(['window', 'tumbling', '1s', '--time', 'ts', 'then', 'aggregate', 'sum:x'], { stdin: input })
  t.same([windowed.code, windowed.stdout, windowed.stderr], [0, '{"window_start":0,"window_end":1000,"x_sum":null}\n{"window_start":1000,"window_end":2000,"x_sum":1}\n', warning])
  const fine = await weir(['aggregate', 'sum:x'], { stdin: '{"x":1.7e308}\n{"x":-1.7e308}\n' })
  t.same([fine.stdout, fine.stderr], ['{"x_sum":0}\n', ''], 'no warning for a finite result')
})

t.test('a file name taken for an aggregate gets a hint: ./FILE or --', async (t) => {
  const dir = t.testdir({ 'clicks.log': '{"a":1}\n{"a":2}\n' })
  const r = await weir(['aggregate', 'count', 'clicks.log'], { cwd: dir })
  t.equal(r.code, 64)
  t.match(r.stderr, /unknown function 'clicks\.log'.*; to read the file 'clicks\.log', write \.\/clicks\.log or put it after --/)
  for (const args of [['./clicks.log'], ['--', 'clicks.log']]) {
    const ok = await weir(['aggregate', 'count', ...args], { cwd: dir })
    t.equal(ok.stdout, '{"count":2}\n', args.join(' '))
  }
  const none = await weir(['aggregate', 'count', 'nothere.log'], { cwd: dir })
  t.notMatch(none.stderr, /to read the file/, 'no hint when no such file exists')
})

// A row is a plain object: `row.__proto__ = 21` set its prototype (a number is ignored), and the
// row was written {"__proto__":{}} with exit 0: the count was gone.
t.test('an aggregate named __proto__ is a usage error, not a row that loses its value', async (t) => {
  for (const argv of [
    ['keyby', 'a', 'then', 'aggregate', 'count=__proto__'],
    ['keyby', 'a', 'then', 'window', 'tumbling', '1m', '--time', 'a', 'then', 'aggregate', 'sum:a=__proto__'],
  ]) {
    const r = await weir(argv, { stdin: '{"a":1}\n' })
    t.equal(r.code, 64, argv.join(' '))
    t.equal(r.stdout, '')
    t.match(r.stderr, /^weir: stage \d \(aggregate\): aggregate '[^']+=__proto__': a row cannot hold a field named __proto__; choose another =NAME\n$/)
  }
})
