// Typed stage configs: what a command line or a spec stage becomes once parsed. pipeline/ never
// sees argv; commands/ produce these.
import type { KeybyConfig } from '../operators/keyby.js'
import type { FilterConfig } from '../operators/filter.js'
import type { MapConfig } from '../operators/map.js'

export type StageConfig = KeybyConfig | FilterConfig | MapConfig

/** A stage config plus how the user wrote it, so errors can name it. */
export interface Stage {
  config: StageConfig
  /** e.g. "stage 2 (window tumbling 1m)" or "window" */
  label: string
  /** A uid set in the spec, which overrides the derived one. */
  uid?: string
}
