// Accounting (decisions.md 12): every record read ends somewhere, and the counters say where.
export interface Stats {
  read: number
  written: number
  filtered: number
  /** absorbed into state by a window, an aggregate or a process function */
  consumed: number
  /** too late for every window: sent to --late-output, or dropped when there is none */
  late: number
  lateDropped: number
  skipped: number
  deadLettered: number
  /**
   * Not a fate but a second reading (decisions.md 34): records read again that an earlier run of
   * the job had already read up to one of its checkpoints, because this run restored an older one
   * (`--from-checkpoint`, or a fallback past a corrupt or unfinished newest checkpoint). Each such
   * record still has its one fate above, counted along the restored lineage.
   */
  replayed: number
}

export function newStats(): Stats {
  return { read: 0, written: 0, filtered: 0, consumed: 0, late: 0, lateDropped: 0, skipped: 0, deadLettered: 0, replayed: 0 }
}
