import type { Argv } from 'yargs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { readSpec } from '../pipeline/spec.js'
import { usageError } from '../stream/errors.js'
import { jobOptions, type IoArgs, type JobPlan } from '../commandline/common.js'
import { withJobOptions } from '../commandline/job-options.js'
import { parseStage, rejectIoInStage } from '../commandline/parse-stage.js'
import { shellWords } from '../commandline/shell-words.js'

export const command = 'run <spec> [files..]'
export const describe = 'Run a pipeline spec file: a whole chain of stages in one process'

export const builder = (y: Argv) =>
  withJobOptions(
    y
      .positional('spec', { type: 'string', describe: 'the pipeline spec file (JSON)' })
      .positional('files', { type: 'string', array: true, describe: "input files, instead of the spec's source ('-' for stdin)" }),
  )
    .example('$0 run fixtures/jobs/clicks-per-user.json', 'run a demo job on the fixtures')
    .example('zcat day.ndjson.gz | $0 run job.json -', 'the same job over stdin')
    .example('$0 run job.json --job-dir .weir/clicks --resume --no-flush', 'a cron run: continue from the last checkpoint, keep windows open')
    .epilogue(
      'A spec is {"name", "source": {"path"}, "stages": ["keyby user", ...], "sink": {"path"}, "late": {"path"}, "dead-letter": {"path"}, ' +
        '"checkpoint": {"dir", "interval", "retain"}}; its relative paths are relative to its own folder. Options given here override the spec. ' +
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
    // a process function's module is a path in the spec like any other: relative to its folder
    const c = parsed.stage.config
    if (c.op === 'process' && !isAbsolute(String(parsed.args.module)))
      parsed.stage = { ...parsed.stage, config: { ...c, module: resolve(dirname(specPath), String(parsed.args.module)) } }
    stages.push(parsed.stage)
  }
  // two explicit uids alike: named here, with the spec and its stages (the chain would only say which uid)
  for (const [i, x] of spec.stages.entries())
    for (const y of spec.stages.slice(i + 1))
      if (x.uid !== undefined && x.uid === y.uid) throw usageError(`${specPath}: stages ${x.index} and ${y.index} have the uid '${x.uid}'`)
  const deadLetter = (a['dead-letter'] as string | undefined) ?? spec.deadLetter
  if (a['on-error'] !== undefined && a['on-error'] !== 'fail') onError = a['on-error'] as typeof onError
  if (deadLetter) {
    if (onError === 'skip') throw usageError(`${specPath}: --on-error skip, but the job has a dead-letter file`)
    onError = 'dead-letter'
  } else if (onError === 'dead-letter') throw usageError(`${specPath}: --on-error dead-letter needs "dead-letter": {"path": "FILE"} in the spec`)
  const files = (a.files as string[] | undefined) ?? []
  // the command line overrides the spec; the spec's "checkpoint" gives the job dir and its settings
  const io: IoArgs = {
    ...(a as IoArgs),
    files: files.length > 0 ? files : spec.inputs,
    output: (a.output as string | undefined) ?? spec.output,
    'late-output': (a['late-output'] as string | undefined) ?? spec.lateOutput,
    'dead-letter': deadLetter,
    'on-error': onError,
    flush: a.flush === false || noFlush ? false : true,
    'job-dir': (a['job-dir'] as string | undefined) ?? spec.checkpoint?.dir,
    'checkpoint-interval': (a['checkpoint-interval'] as string | undefined) ?? spec.checkpoint?.interval,
    retain: (a.retain as string | undefined) ?? (spec.checkpoint?.retain === undefined ? undefined : String(spec.checkpoint.retain)),
  }
  return {
    stages,
    options: { ...jobOptions(io), name: spec.name },
    verbose: !!a.verbose,
    statsFile: a.stats as string | undefined,
  }
}
