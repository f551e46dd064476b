import type { Argv } from 'yargs'
import { readSpec } from '../pipeline/spec.js'
import { usageError } from '../stream/errors.js'
import { type JobPlan } from '../commandline/common.js'
import { parseStage, rejectIoInStage } from '../commandline/parse-stage.js'
import { shellWords } from '../commandline/shell-words.js'

export const command = 'run <spec> [files..]'
export const describe = 'Run a pipeline spec file: a whole chain of stages in one process'

export const builder = (y: Argv) =>
  y
    .positional('spec', { type: 'string', describe: 'the pipeline spec file (JSON)' })
    .positional('files', { type: 'string', array: true, describe: "input files, instead of the spec's source ('-' for stdin)" })
    .option('output', { alias: 'o', type: 'string', describe: "write records to FILE instead of the spec's sink" })
    .option('stats', { type: 'string', describe: 'write the record accounting (read, written, filtered, aggregated, late, skipped, dead-lettered) to FILE as JSON when the job ends' })
    .option('verbose', { alias: 'v', type: 'boolean', describe: 'print a summary on stderr even off a terminal' })
    .example('$0 run fixtures/jobs/clicks-per-user.json', 'run a demo job on the fixtures')
    .example('zcat day.ndjson.gz | $0 run job.json -', 'the same job over stdin')
    .epilogue(
      'A spec is {"name", "source": {"path"}, "stages": ["keyby user", ...], "sink": {"path"}, "late": {"path"}, "dead-letter": {"path"}}. ' +
        'Each stage string has exactly the grammar of the command of the same name. See weir-spec(5).',
    )

export async function toJob(a: Record<string, unknown>): Promise<JobPlan> {
  const specPath = String(a.spec)
  const spec = readSpec(specPath)
  const stages = []
  let onError: JobPlan['options']['onError']
  let noFlush = false
  for (const s of spec.stages) {
    const words = typeof s.words === 'string' ? shellWords(s.words) : s.words
    const label = `${specPath}: stage ${s.index} (${typeof s.words === 'string' ? s.words : s.words.join(' ')})`
    const parsed = await parseStage(words, label, s.uid)
    rejectIoInStage(parsed)
    // job policies, as in a then chain: they apply to the whole job
    const oe = parsed.args['on-error'] as typeof onError
    if (oe !== undefined && oe !== 'fail') onError = oe
    if (parsed.args.flush === false) noFlush = true
    stages.push(parsed.stage)
  }
  if (spec.deadLetter) {
    if (onError === 'skip') throw usageError(`${specPath}: a stage says --on-error skip, but the spec has a "dead-letter" file`)
    onError = 'dead-letter'
  } else if (onError === 'dead-letter') throw usageError(`${specPath}: --on-error dead-letter needs "dead-letter": {"path": "FILE"} in the spec`)
  const files = (a.files as string[] | undefined) ?? []
  return {
    stages,
    options: {
      inputs: files.length > 0 ? files : spec.inputs,
      output: (a.output as string | undefined) ?? spec.output,
      lateOutput: spec.lateOutput,
      deadLetter: spec.deadLetter,
      onError,
      noFlush,
    },
    verbose: !!a.verbose,
    statsFile: a.stats as string | undefined,
  }
}
