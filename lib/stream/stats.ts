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
}

export function newStats(): Stats {
  return { read: 0, written: 0, filtered: 0, consumed: 0, late: 0, lateDropped: 0, skipped: 0, deadLettered: 0 }
}
