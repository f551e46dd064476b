// The command table. Modules load only when their command is named (a pipe pays start-up once
// per stage), so the one-line summaries for `weir --help` live here too; a test checks that each
// equals the module's own `describe`.
import type { Argv } from 'yargs'
import type { StageConfig } from '../pipeline/stages.js'
import type { JobPlan } from './common.js'

export interface CommandModule {
  command: string
  describe: string
  builder: (y: Argv) => Argv
  /** Stage commands turn their arguments into a stage config. */
  toStage?: (args: Record<string, unknown>) => StageConfig
  /** Commands that are not a single stage (run) build their whole job. */
  toJob?: (args: Record<string, unknown>) => Promise<JobPlan>
  /** Commands that run no job (checkpoints, state: they inspect a job dir) do their work here. */
  execute?: (args: Record<string, unknown>) => Promise<void>
}

export interface CommandEntry {
  name: string
  describe: string
  load: () => Promise<CommandModule>
}

export const COMMANDS: CommandEntry[] = [
  { name: 'aggregate', describe: 'Compute count, sum, avg, percentiles… per key and window', load: () => import('../commands/aggregate.js') },
  { name: 'checkpoints', describe: 'List the checkpoints of a durable job (--job-dir), newest first, and verify them', load: () => import('../commands/checkpoints.js') },
  { name: 'filter', describe: 'Keep the records for which a JavaScript expression over r is truthy', load: () => import('../commands/filter.js') },
  { name: 'keyby', describe: 'Partition the stream by key, for the stateful stages that follow', load: () => import('../commands/keyby.js') },
  { name: 'map', describe: 'Replace each record by the value of a JavaScript expression over r', load: () => import('../commands/map.js') },
  { name: 'process', describe: 'Run your own process function with keyed state and timers', load: () => import('../commands/process.js') },
  { name: 'run', describe: 'Run a pipeline spec file: a whole chain of stages in one process', load: () => import('../commands/run.js') },
  { name: 'state', describe: 'Show the keyed state of a durable job (--job-dir) at a checkpoint', load: () => import('../commands/state.js') },
  { name: 'window', describe: 'Assign records to event-time windows: tumbling, sliding, session, count, global', load: () => import('../commands/window.js') },
]

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name)
}
