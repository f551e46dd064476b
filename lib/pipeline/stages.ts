// Typed stage configs: what a command line or a spec stage becomes once parsed. pipeline/ never
// sees argv; commands/ produce these. They are plain JSON data: the operator uid hashes them.
import type { KeybyConfig } from '../operators/keyby.js'
import type { FilterConfig } from '../operators/filter.js'
import type { MapConfig } from '../operators/map.js'
import type { TimeConfig } from '../operators/timestamps.js'
import type { WindowSpec } from '../operators/windows/assigners.js'
import type { AggSpec } from '../operators/aggregates/row.js'
import type { EmitMode } from '../operators/aggregate.js'

export interface WindowStageConfig {
  op: 'window'
  window: WindowSpec
  /** How records get their time; absent for count and global windows without --time. */
  time?: TimeConfig
  lateness: number
}

export interface AggregateStageConfig {
  op: 'aggregate'
  specs: AggSpec[]
  emit: EmitMode
  /** A running aggregate's own time (for --state-ttl); after a window the window's time counts. */
  time?: TimeConfig
}

export interface ProcessStageConfig {
  op: 'process'
  /** absolute path of the module */
  module: string
  time?: TimeConfig
}

export type StageConfig = KeybyConfig | FilterConfig | MapConfig | WindowStageConfig | AggregateStageConfig | ProcessStageConfig

/** A stage config plus how the user wrote it, so errors can name it. */
export interface Stage {
  config: StageConfig
  /** e.g. "stage 2 (window tumbling 1m)" or "window" */
  label: string
  /** A uid set in the spec, which overrides the derived one. */
  uid?: string
}
