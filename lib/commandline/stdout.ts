// Writing a command's own output (not a job's records) to stdout: for the commands that inspect a
// job dir (checkpoints, state). EPIPE ends them quietly, any other write failure is exit 74.
import { WeirError } from '../stream/errors.js'

/**
 * stdout's state. A reader that goes away (`| head -1`) is EPIPE, which ends the command quietly,
 * as for any weir; the error can come after the last write, so the listener stays for good.
 */
export const stdout = { gone: false, failure: undefined as WeirError | undefined, guarded: false }

export function guardStdout(): void {
  if (stdout.guarded) return
  stdout.guarded = true
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') stdout.gone = true
    else stdout.failure ??= new WeirError('io', `stdout: write failed: ${e.message}`)
  })
}

export function writeOut(text: string): Promise<void> {
  guardStdout()
  if (stdout.gone) return Promise.resolve()
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (e) => {
      noteWriteError(e)
      if (stdout.failure) reject(stdout.failure)
      else resolve()
    }),
  )
}

/** Write callbacks run in order: an error of an earlier write is known by the last one's. */
export function noteWriteError(e: Error | null | undefined): void {
  if (!e) return
  if ((e as NodeJS.ErrnoException).code === 'EPIPE') stdout.gone = true
  else if (!stdout.gone) stdout.failure ??= new WeirError('io', `stdout: write failed: ${e.message}`)
}
