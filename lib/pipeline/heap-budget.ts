// Keeps a long-running job's heap proportional to its live state, not to how long it has run.
//
// Window state lives long enough to be promoted to V8's old generation and then dies there: about
// 60 MB per million events of the window bench, with some 13 MB live at any time. V8 collects the
// old generation when it reaches its live size times a factor it picks from the GC's speed, up to
// 4x; on a fast machine the old generation of the 5M-event bench grew to 100 MB, and peak RSS
// grew with the input (decisions.md: memory in open windows, not in events). The V8 flag that
// bounds the factor (--heap-growing-percent) cannot be set once the process runs, so the driver
// asks for a full collection itself when the old generation reaches twice what was live after the
// last one (and at least FLOOR). Each collection costs about 10 ms per 13 MB live; the window
// bench needs two or three per million events.
//
// The collector is reached through --expose-gc set at run time (node's documented
// v8.setFlagsFromString), which exposes `gc` in a new context. Where that fails, the budget does
// nothing and V8's own heuristics stand.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const FLOOR = 24 << 20
const GROWTH = 2

let collect: (() => void) | undefined | null

function collector(): (() => void) | undefined {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as unknown
      collect = typeof gc === 'function' ? (gc as () => void) : null
    } catch {
      collect = null
    }
  }
  return collect ?? undefined
}

/** Bytes used by the old generation (objects that survived two young collections, and large ones). */
function oldGenerationUsed(): number {
  let used = 0
  for (const s of getHeapSpaceStatistics()) if (s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space') used += s.space_used_size
  return used
}

export class HeapBudget {
  private limit = FLOOR
  collections = 0

  /** Called between batches: collects when the old generation has outgrown the budget. */
  check(): void {
    if (oldGenerationUsed() < this.limit) return
    const gc = collector()
    if (!gc) return
    gc()
    this.collections++
    this.limit = Math.max(FLOOR, GROWTH * oldGenerationUsed())
  }
}
