// Which top-level fields of a record a job reads. When every stage names the fields it reads
// (keyby, window --time, aggregate, and filter and map expressions that read `r.name` only),
// records need only those fields parsed into values (io/batches.ts), which can also move to
// another core (io/parse-worker.ts). A stage that may read anything (an expression that passes `r`
// on, process) makes the answer "all" (undefined). A stage that writes a record it does not change
// (window alone adds two fields to its bytes) needs only what it reads of it.
import { parsePath } from '../expr/path.js'
import { fieldsReadBy } from '../expr/fields.js'
import type { Stage } from './stages.js'
import { keysReadAfter, type StreamContext } from './build.js'

/** `upstream`: the context from a weir stage before this process, whose key and window the records carry. */
export function fieldsNeeded(stages: Stage[], upstream?: StreamContext): string[] | undefined {
  const fields = new Set<string>()
  const add = (path: string): boolean => {
    const first = parsePath(path)[0]
    if (typeof first !== 'string' || first === '__proto__') return false
    fields.add(first)
    return true
  }
  // the upstream key's fields, when a stage here reads the key: a lone tumbling or sliding window
  // does not, and it passes the key on by its selector (the middle stage of `keyby | window | aggregate`)
  const upKey = upstream?.key
  if (upKey !== undefined && upKey !== 'lines' && keysReadAfter(stages, 0, upKey.fields) && !upKey.fields.every(add)) return undefined
  if (upstream?.window?.carried === 'fields' || upstream?.rows?.carried === 'fields') add('window_start') && add('window_end')
  for (let i = 0; i < stages.length; i++) {
    const c = stages[i]!.config
    switch (c.op) {
      case 'keyby':
        if (!c.fields.every(add)) return undefined
        break
      case 'window': {
        if (c.time?.mode === 'event' && !add(c.time.field)) return undefined
        // window alone writes each record's own bytes with its window added; it looks for these
        // to know whether a record has them already
        if (stages[i + 1]?.config.op !== 'aggregate') add('window_start') && add('window_end')
        break
      }
      case 'aggregate':
        if (c.time?.mode === 'event' && !add(c.time.field)) return undefined
        for (const s of c.specs) if (s.field !== undefined && !add(s.field)) return undefined
        // a running aggregate looks for these to warn about windows made in another process
        if (!stages.slice(0, i).some((p) => p.config.op === 'window') && !upstream?.window) add('window_start') && add('window_end')
        break
      case 'filter': {
        // a record that passes keeps its bytes: the fields matter only to the test
        const read = fieldsReadBy(c.expr)
        if (!read || !read.every(add)) return undefined
        break
      }
      case 'map': {
        const read = fieldsReadBy(c.expr)
        if (!read || !read.every(add)) return undefined
        return [...fields] // later stages read what map made, not the input
      }
      default:
        return undefined
    }
  }
  return stages.length > 0 ? [...fields] : undefined
}
