// What a test sees of a job dir from outside, as a chaos test watches a running job.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

/** The id of the newest complete checkpoint (its manifest exists), -1 before the first. */
export function newestId(jobDir: string): number {
  try {
    const ids = readdirSync(join(jobDir, 'checkpoints'))
      .map((n) => /^chk-(\d+)\.json$/.exec(n))
      .filter((m) => m)
      .map((m) => Number(m![1]))
    return ids.length ? Math.max(...ids) : -1
  } catch {
    return -1
  }
}
