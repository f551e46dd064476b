// The fast path for parsing a stage. Loading yargs costs about 100 ms per process (most of it
// string-width's tables for help layout), and every stage of a pipe is a process. So a command's
// builder runs against this recorder, which notes the positionals and options it declares, and
// argv is parsed by yargs-parser — the parser inside yargs — with the same declarations.
//
// It handles the well-formed case only. For --help, an unknown option, a missing positional or a
// value outside its choices it returns undefined, and the caller parses with full yargs, whose
// messages and help are the reference. test/commands/fast-parse.ts checks that both paths give
// the same stage configs.
import parser from 'yargs-parser'
import type { Argv } from 'yargs'

interface OptionDecl {
  type?: 'string' | 'boolean'
  array?: boolean
  alias?: string | string[]
  default?: unknown
  choices?: readonly unknown[]
}

interface Positional {
  name: string
  required: boolean
  variadic: boolean
}

type Middleware = (a: Record<string, unknown>) => void

class Recorder {
  readonly options = new Map<string, OptionDecl>()
  readonly middlewares: Middleware[] = []
  positional(name: string, decl: OptionDecl): this {
    this.options.set(name, decl)
    return this
  }
  option(name: string, decl: OptionDecl): this {
    this.options.set(name, decl)
    return this
  }
  middleware(fn: Middleware): this {
    this.middlewares.push(fn)
    return this
  }
  example(): this {
    return this
  }
  epilogue(): this {
    return this
  }
}

export function commandPositionals(command: string): Positional[] {
  return command
    .split(/\s+/)
    .slice(1)
    .map((w) => ({ name: w.replace(/^[<[]|\.\.\.$|\.\.[\]>]$|[\]>]$/g, ''), required: w.startsWith('<'), variadic: w.includes('..') }))
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/** Parses `words` (command name first) with the command's own declarations, or returns undefined. */
export function fastParse(
  mod: { command: string; builder: (y: Argv) => Argv },
  words: string[],
): Record<string, unknown> | undefined {
  if (words.some((w) => w === '--help' || w === '-h')) return undefined
  const rec = new Recorder()
  mod.builder(rec as unknown as Argv)
  const positionals = commandPositionals(mod.command)
  const opts = {
    alias: {} as Record<string, string[]>,
    boolean: [] as string[],
    string: [] as string[],
    array: [] as string[],
    default: {} as Record<string, unknown>,
    configuration: { 'parse-numbers': false, 'parse-positional-numbers': false, 'populate--': false },
  }
  const known = new Set(['_', '$0'])
  for (const [name, d] of rec.options) {
    if (positionals.some((p) => p.name === name)) continue
    known.add(name).add(camel(name))
    const aliases = d.alias === undefined ? [] : Array.isArray(d.alias) ? d.alias : [d.alias]
    if (aliases.length) opts.alias[name] = aliases
    for (const a of aliases) known.add(a)
    if (d.type === 'boolean') opts.boolean.push(name)
    else opts.string.push(name)
    if (d.array) opts.array.push(name)
    if (d.default !== undefined) opts.default[name] = d.default
  }
  // words after `--` are not positionals of the command: restoreDash makes them files, as yargs does
  const dd = words.indexOf('--')
  const afterDashes = dd < 0 ? [] : words.slice(dd + 1)
  const parsed = parser.detailed(dd < 0 ? words : words.slice(0, dd), opts)
  if (parsed.error) return undefined
  const args = parsed.argv as Record<string, unknown>
  for (const k of Object.keys(args)) if (!known.has(k)) return undefined // unknown option: let yargs say so
  const rest = (args._ as (string | number)[]).map(String)
  if (rest[0] !== words[0]) return undefined
  let i = 1
  for (const p of positionals) {
    if (p.variadic) {
      args[p.name] = rest.slice(i)
      args[camel(p.name)] = args[p.name]
      i = rest.length
    } else if (i < rest.length) {
      args[p.name] = rest[i++]
      args[camel(p.name)] = args[p.name]
    } else if (p.required) return undefined
  }
  if (i < rest.length) return undefined // too many words: yargs explains
  for (const [name, d] of rec.options) {
    const v = args[name]
    if (d.choices && v !== undefined && !d.choices.includes(v)) return undefined
    if (d.type === 'string' && !d.array && Array.isArray(v)) return undefined // given twice: yargs decides
  }
  args._ = [words[0]!, ...afterDashes]
  for (const m of rec.middlewares) m(args)
  return args
}
