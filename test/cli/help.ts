// The contract every command keeps (as npm's test/lib/load-all-commands.js): help that shows usage,
// every option and examples; a describe that agrees with the command table; a man page. A new
// command in lib/commandline/table.ts is checked here without a line of test code.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import type { Argv } from 'yargs'
import { COMMANDS } from '../../lib/commandline/table.js'
import { weir, sh, lines, ROOT } from '../harness/cli.js'

const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string; man?: string[] | string }

interface Declared {
  options: { name: string; alias: string[] }[]
  positionals: string[]
  examples: string[]
}

/** What a builder declares, recorded by a stand-in for yargs that accepts any call. */
function declared(builder: (y: Argv) => Argv): Declared {
  const d: Declared = { options: [], positionals: [], examples: [] }
  const aliases = (o: unknown) => {
    const a = (o as { alias?: string | string[] } | undefined)?.alias
    return a === undefined ? [] : Array.isArray(a) ? a : [a]
  }
  const proxy: Argv = new Proxy(function () {} as unknown as Argv, {
    get(_target, prop) {
      return (...args: unknown[]) => {
        if (prop === 'option' || prop === 'options') {
          if (typeof args[0] === 'string') d.options.push({ name: args[0], alias: aliases(args[1]) })
          else for (const [name, o] of Object.entries(args[0] as object)) d.options.push({ name, alias: aliases(o) })
        } else if (prop === 'positional') d.positionals.push(String(args[0]))
        else if (prop === 'example') {
          if (Array.isArray(args[0])) for (const e of args[0] as unknown[][]) d.examples.push(String(e[0]))
          else d.examples.push(String(args[0]))
        }
        return proxy
      }
    },
  })
  builder(proxy)
  return d
}

/** The lines of one section of yargs help ("Examples:"), up to the next blank line. */
function section(help: string, title: string): string[] {
  const all = help.split('\n')
  const start = all.indexOf(title)
  if (start < 0) return []
  const end = all.indexOf('', start)
  return all.slice(start + 1, end < 0 ? undefined : end)
}

// Pages still to be written with their commands; remove a name when its page lands.
const PENDING_PAGES = new Set<string>()

t.test('the command table is not empty and has no duplicates', async (t) => {
  t.ok(COMMANDS.length >= 4)
  const names = COMMANDS.map((c) => c.name)
  t.same(names, [...new Set(names)])
  for (const n of ['filter', 'keyby', 'map', 'run']) t.ok(names.includes(n), n)
})

for (const entry of COMMANDS) {
  t.test(`weir ${entry.name}`, async (t) => {
    const mod = await entry.load()
    t.equal(mod.command.split(' ')[0], entry.name, 'the module is the command of its table entry')
    t.equal(entry.describe, mod.describe, "the table's describe is the module's")
    t.ok(mod.toStage || mod.toJob || mod.execute, 'a stage, a job, or a command that runs no job')

    const d = declared(mod.builder)
    t.ok(d.examples.length >= 2, `at least two examples (${d.examples.length})`)

    const r = await weir([entry.name, '--help'])
    t.equal(r.code, 0, '--help exits 0')
    t.equal(r.stderr, '')
    const short = await weir([entry.name, '-h'])
    t.equal(short.stdout, r.stdout, '-h is --help')
    t.equal(short.code, 0)
    const help = r.stdout
    t.ok(help.startsWith(`weir ${entry.name}`), 'usage comes first: weir <cmd> …')
    t.ok(help.includes(entry.describe), 'the describe line')
    for (const o of d.options) {
      t.match(help, new RegExp(`(^|\\s)--${o.name}\\b`, 'm'), `--help lists --${o.name}`)
      for (const a of o.alias) t.match(help, new RegExp(`(^|\\s)-{1,2}${a},? `, 'm'), `--help lists the alias of --${o.name}`)
    }
    for (const p of d.positionals) t.match(help, new RegExp(`^  ${p}\\b`, 'm'), `--help lists <${p}>`)
    const examples = section(help, 'Examples:')
    t.ok(examples.length >= 2, 'an Examples: section with at least two lines')
    t.ok(examples.filter((l) => /^ {2}\S/.test(l) && l.includes('weir')).length >= 2, 'at least two example command lines')

    const page = `man/weir-${entry.name}.1`
    const pending = PENDING_PAGES.has(entry.name) ? { todo: `${page} is not written yet` } : {}
    t.ok(existsSync(`${ROOT}/${page}`), `${page} exists`, pending)
    if (existsSync(`${ROOT}/${page}`)) {
      const roff = readFileSync(`${ROOT}/${page}`, 'utf8')
      const text = roff.replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '')
      t.match(text, new RegExp(`^\\.TH WEIR-${entry.name.toUpperCase()} 1 `, 'm'), 'a section 1 page named after the command')
      for (const o of d.options) t.ok(text.includes(`--${o.name}`), `${page} documents --${o.name}`)
      t.ok(/^\.SH EXAMPLES/m.test(roff), `${page} has EXAMPLES`)
      t.ok(/^\.SH "?EXIT STATUS"?$/m.test(roff), `${page} has EXIT STATUS`)
    }
    const man = Array.isArray(pkg.man) ? pkg.man : pkg.man ? [pkg.man] : []
    t.ok(man.includes(`./${page}`) || man.includes(page), `package.json "man" lists ${page}`)
  })
}

t.test('weir --help lists every command', async (t) => {
  t.equal((await weir(['-h'])).stdout, (await weir(['--help'])).stdout, 'weir -h is weir --help')
  const r = await weir(['--help'])
  t.equal(r.code, 0)
  const commands = section(r.stdout, 'Commands:')
  for (const c of COMMANDS) t.ok(commands.some((l) => l.includes(`weir ${c.name} `) && l.includes(c.describe)), c.name)
  t.ok(section(r.stdout, 'Options:').some((l) => /-V, --version/.test(l)), 'weir(1) documents -V: --help lists it too')
  const v = await weir(['-V'])
  t.same([v.code, v.stdout], [0, `${pkg.version}\n`])
})

t.test('the overview pages exist and are listed in package.json', async (t) => {
  const man = Array.isArray(pkg.man) ? pkg.man : pkg.man ? [pkg.man] : []
  for (const page of ['man/weir.1', 'man/weir-spec.5', 'man/weir-protocol.7']) {
    t.ok(existsSync(`${ROOT}/${page}`), page)
    t.ok(man.includes(`./${page}`) || man.includes(page), `package.json "man" lists ${page}`)
  }
  const overview = readFileSync(`${ROOT}/man/weir.1`, 'utf8').replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '')
  for (const c of COMMANDS) t.ok(overview.includes(`weir-${c.name}(1)`) || overview.includes(`weir-${c.name}\n`) || overview.includes(`weir-${c.name} (1)`), `weir(1) refers to weir-${c.name}(1)`)
})

t.test('weir(1) documents every exit status', async (t) => {
  const codes = await import('../../lib/cli/exit-codes.js')
  const overview = readFileSync(`${ROOT}/man/weir.1`, 'utf8')
  // indexOf's -1 would slice off the last character and pass a check on the length: match instead
  const at = /^\.SH "?EXIT STATUS"?$/m.exec(overview)?.index
  t.ok(at !== undefined, 'an EXIT STATUS section')
  const exit = overview.slice(at ?? overview.length)
  for (const [name, value] of Object.entries(codes)) {
    if (!name.startsWith('EXIT_') || typeof value !== 'number') continue
    t.match(exit, new RegExp(`^\\.TP\\n(\\.B )?${value}\\n`, 'm'), `${name} = ${value}`)
  }
})

t.test('weir --version prints the version of package.json', async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = await weir([flag])
    t.equal(r.code, 0)
    t.equal(r.stdout, pkg.version + '\n', flag)
    t.equal(r.stderr, '')
  }
})

// What weir prints besides records (the version, help, a completion script, --explain) is output
// too: on a full disk it is exit 74 and one line, never a stack or a silent 0 (`weir completion >>
// ~/.bashrc` that wrote nothing); a reader that left (| head -1) stays a quiet 0.
t.test('--version, help, completion and --explain into a full disk are exit 74; into | head, 0', async (t) => {
  const cases = ['--version', '--help', 'filter --help', 'help window', 'completion', 'keyby user then aggregate count --explain', 'run fixtures/jobs/clicks-per-minute.json --explain']
  for (const c of cases) {
    const full = await sh(`"$WEIR" ${c} > /dev/full`)
    t.equal(full.code, 74, `${c} > /dev/full: exit 74`)
    t.same(lines(full.stderr), ['weir: stdout: write failed: no space left on device'], `${c}: one line`)
    const head = await sh(`"$WEIR" ${c} | head -c 1`)
    t.equal(head.code, 0, `${c} | head: 0`)
    t.equal(head.stderr, '', `${c} | head: nothing on stderr`)
  }
})

t.test('an unknown command is a usage error', async (t) => {
  const r = await weir(['frobnicate', 'x'], { stdin: '{"a":1}\n' })
  t.equal(r.code, 64)
  t.equal(r.stdout, '')
  t.equal(r.stderr, "weir: unknown command 'frobnicate' (see 'weir --help')\n")
})

t.test('no command at all is a usage error', async (t) => {
  const r = await weir([])
  t.equal(r.code, 64)
  t.equal(lines(r.stderr).length, 1)
})

t.test('an unknown option is a usage error that points at the command help', async (t) => {
  const r = await weir(['filter', 'true', '--bogus'], { stdin: '{"a":1}\n' })
  t.equal(r.code, 64)
  t.equal(r.stdout, '')
  t.match(r.stderr, /^weir: Unknown argument: bogus \(see 'weir filter --help'\)\n$/)
  const two = await weir(['filter', 'true', '--late-outpt', 'x', '--on-eror', 'skip'], { stdin: '' })
  t.equal(two.stderr, "weir: Unknown arguments: late-outpt, on-eror (see 'weir filter --help')\n", 'each named once, as typed')
  const chained = await weir(['keyby', 'u', 'then', 'window', 'tumbling', '1m', '--time', 't', '--max-dela', '1s'], { stdin: '' })
  t.equal(chained.stderr, 'weir: stage 2 (window): Unknown argument: max-dela\n', 'in a then chain too')
})

t.test('a negative size or an option value starting with - is a usage error that says what was meant, never help', async (t) => {
  const neg = await weir(['window', 'tumbling', '-5m'], { stdin: '' })
  t.equal(neg.code, 64)
  t.match(neg.stderr, /^weir: '-5m': a size, count or duration must be positive/)
  const offset = await weir(['window', 'tumbling', '1m', '--offset', '-8h'], { stdin: '' })
  t.equal(offset.code, 64, '-8h is not read as -8 -h (help)')
  t.equal(offset.stdout, '')
  t.match(offset.stderr, /needs '=': --offset=-8h/)
  const chained = await weir(['keyby', 'u', 'then', 'window', 'sliding', '10s', '-5s'], { stdin: '' })
  t.match(chained.stderr, /^weir: stage 2 \(window\): '-5s': a size, count or duration must be positive/)
})

t.test('every man page renders without warnings', async (t) => {
  const { spawnSync } = await import('node:child_process')
  const { readdirSync } = await import('node:fs')
  if (spawnSync('groff', ['--version']).error) {
    t.pass('groff is not installed: nothing to check', { skip: true })
    return
  }
  const pages = readdirSync(`${ROOT}/man`).filter((f) => /\.[1-8]$/.test(f))
  t.ok(pages.length >= 6)
  for (const page of pages) {
    const r = spawnSync('groff', ['-man', '-ww', '-z', `${ROOT}/man/${page}`], { encoding: 'utf8' })
    t.equal(r.status, 0, page)
    t.equal(r.stderr, '', `${page}: no warnings`)
  }
})

t.test('fixtures/gen.mjs --help prints its usage; a bad option is one line and the usage, not a stack', async (t) => {
  const h = await sh('node fixtures/gen.mjs --help')
  t.equal(h.code, 0)
  t.match(h.stdout, /^Usage: node fixtures\/gen\.mjs/)
  t.match(h.stdout, /--events N/)
  const b = await sh('node fixtures/gen.mjs --bogus')
  t.equal(b.code, 64)
  t.match(b.stderr, /^gen\.mjs: Unknown option '--bogus'\n\nUsage:/)
  t.notMatch(b.stderr, /at .*\(/, 'no stack trace')
})

t.test('weir help [COMMAND] is weir [COMMAND] --help; weir completion prints a completion script that completes commands and options', async (t) => {
  const [help, root] = await Promise.all([weir(['help']), weir(['--help'])])
  t.same([help.code, help.stdout], [0, root.stdout])
  const [helpWindow, windowHelp] = await Promise.all([weir(['help', 'window']), weir(['window', '--help'])])
  t.same([helpWindow.code, helpWindow.stdout], [0, windowHelp.stdout])
  t.match(root.stdout, /weir completion .*completion script/)
  t.match(root.stdout, /weir help .*weir help COMMAND/)
  const script = await weir(['completion'])
  t.equal(script.code, 0)
  t.match(script.stdout, /--get-yargs-completions/)
  const commands = await weir(['--get-yargs-completions', 'weir', 'win'])
  t.ok(lines(commands.stdout).some((l) => l.startsWith('window')), `the commands: ${commands.stdout}`)
  const options = await weir(['--get-yargs-completions', 'weir', 'window', '--la'])
  t.ok(lines(options.stdout).includes('--lateness') && lines(options.stdout).includes('--late-output'), `a command's options: ${options.stdout}`)
})
