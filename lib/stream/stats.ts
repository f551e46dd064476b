// Accounting (decisions.md 12 and 34): every record read ends in exactly one fate, and the
// counters say which: read = written + filtered + consumed + late + skipped + deadLettered.
// Lines are counted apart from fates: a sliding window writes one record once per window, an
// aggregate writes rows that are no record read, and a reader that went away (`| head -1`) took
// fewer lines than were produced.
export interface Stats {
  read: number
  /** records written as themselves (a filter or keyby passed them on), however many lines each made */
  written: number
  /** lines the output accepted: a write that completed, so not those after the reader went away */
  linesWritten: number
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
  return { read: 0, written: 0, linesWritten: 0, filtered: 0, consumed: 0, late: 0, lateDropped: 0, skipped: 0, deadLettered: 0, replayed: 0 }
}

/**
 * One fate per record read. Operators count what happens to each record they see, and one record
 * read may reach them as several (a sliding window's copies, one per window) or be joined by
 * others (a session firing while it arrives emits older records; a running aggregate emits a
 * row): counted as they come, a record would have several fates. So what is counted while one
 * record read goes through the chain is a tally, and the record gets the one fate that says most:
 * bad input, then absorbed into state, written, late, filtered. What operators count between
 * records (firings at the end of input or on a timer: records and rows already accounted for) is
 * no fate and is dropped.
 */
export class Fates {
  /** what operators and sinks count; folded into the job's counters after each record read */
  readonly tally: Stats = newStats()
  private pushing = false

  constructor(private readonly stats: Stats) {}

  /** Where a count goes now: the tally while a record read goes through, else the job's counters. */
  get counts(): Stats {
    return this.pushing ? this.tally : this.stats
  }

  begin(): void {
    const t = this.tally
    t.written = t.filtered = t.consumed = t.late = t.lateDropped = t.skipped = t.deadLettered = 0
    this.pushing = true
  }

  end(): void {
    this.pushing = false
    const t = this.tally
    const s = this.stats
    if (t.deadLettered) s.deadLettered++
    else if (t.skipped) s.skipped++
    else if (t.consumed) s.consumed++
    else if (t.written) s.written++
    else if (t.late) {
      s.late++
      if (t.lateDropped) s.lateDropped++
    } else if (t.filtered) s.filtered++
  }
}
