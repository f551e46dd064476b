// A timer spill in memory for tests: lists by (queue, time), kept in the order an LMDB spill reads
// them back (order, then key in canonical order), with a count of what it holds and of its writes.
import type { SpilledTimer, TimerSpill } from '../../lib/state/backend.js'
import { compareCanon } from '../../lib/stream/key.js'

export interface ListSpill extends TimerSpill {
  /** timers held now */
  held(): number
  /** write calls so far */
  wrote: number
}

export function listSpill(headKeys: number): ListSpill {
  const lists = new Map<string, SpilledTimer[]>()
  const spill: ListSpill = {
    headKeys,
    wrote: 0,
    held: () => [...lists.values()].reduce((n, l) => n + l.length, 0),
    write(queue, time, timers) {
      spill.wrote++
      const id = `${queue}/${time}`
      const list = [...(lists.get(id) ?? []), ...timers.map((x) => ({ ...x }))]
      lists.set(id, list.sort((a, b) => a.order - b.order || compareCanon(a.key.canon, b.key.canon)))
      return []
    },
    take: (queue, time, limit) => (lists.get(`${queue}/${time}`) ?? []).splice(0, limit),
  }
  return spill
}
