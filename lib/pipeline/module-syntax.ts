// Where a process module's syntax error is. Node's import() throws a SyntaxError with only the
// message ("Unexpected token ';'"): the file and line that node prints for a script it runs
// itself are not on the error object (Node 20; vm.SourceTextModule, which would give them, needs a
// flag). So, on that error path only, `node --check` reads the module as node would and prints
// "FILE:LINE", the line and a caret; a module that passes is searched for the relative imports it
// names (the error may be in one of them), a few files at most.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** at most this many files are checked (a spawn each, ~40 ms) */
const MAX_FILES = 20

export interface SyntaxLocation {
  file: string
  line: number
  column?: number
  message: string
}

export function findSyntaxError(path: string): SyntaxLocation | undefined {
  const seen = new Set<string>()
  const queue = [resolve(path)]
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const file = queue.shift()!
    if (seen.has(file)) continue
    seen.add(file)
    const found = check(file)
    if (found) return found
    queue.push(...relativeImports(file))
  }
  return undefined
}

function check(file: string): SyntaxLocation | undefined {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 10_000 })
  if (r.status === 0 || typeof r.stderr !== 'string') return undefined
  // FILE:LINE / the line / spaces and carets / (blank) / SyntaxError: MESSAGE
  const lines = r.stderr.split('\n')
  const at = lines.findIndex((l) => l.startsWith(file + ':'))
  const err = lines.find((l) => l.startsWith('SyntaxError: '))
  if (at < 0 || !err) return undefined
  const line = Number(lines[at]!.slice(file.length + 1))
  if (!Number.isInteger(line)) return undefined
  const caret = lines[at + 2]?.indexOf('^') ?? -1
  return { file, line, column: caret >= 0 ? caret + 1 : undefined, message: err.slice('SyntaxError: '.length) }
}

function relativeImports(file: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const out: string[] = []
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) out.push(resolve(dirname(file), m[1]!))
  return out
}
