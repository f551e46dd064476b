// What a test sees of a job dir from outside, as a chaos test watches a running job.
import { rng } from './random.js'
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

/**
 * A chaos test's size and randomness (decisions.md 25, 38): small in npm test, full size under
 * `npm run chaos` (WEIR_CHAOS=full); the seed is printed, and WEIR_SEED=N replays it.
 */
export function chaosSettings(comment: (text: string) => void, small: { events: number; kills: number }) {
  const full = process.env.WEIR_CHAOS === 'full'
  const seed = Number(process.env.WEIR_SEED ?? Math.floor(Math.random() * 1e9))
  comment(`seed ${seed} (replay: WEIR_SEED=${seed}${full ? ' WEIR_CHAOS=full' : ''})`)
  return { full, events: full ? 100_000 : small.events, kills: full ? 20 : small.kills, seed, random: rng(seed) }
}
