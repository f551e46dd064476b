// What the commands that inspect a job dir (checkpoints, state) share: the check that the dir is
// one, and writing their own output (not a job's records) to stdout, where EPIPE ends them
// quietly and any other write failure is exit 74.
import { statSync } from 'node:fs'
import { WeirError, systemMessage } from '../stream/errors.js'

export function checkJobDir(dir: string): void {
  let isDir: boolean
  try {
    isDir = statSync(dir).isDirectory()
  } catch {
    throw new WeirError('no-input', `${dir}: no such job dir`)
  }
  if (!isDir) throw new WeirError('no-input', `${dir}: not a job dir (not a directory)`)
}

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
    else stdout.failure ??= new WeirError('io', `stdout: write failed: ${systemMessage(e)}`)
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
  else if (!stdout.gone) stdout.failure ??= new WeirError('io', `stdout: write failed: ${systemMessage(e)}`)
}

/**
 * After text that yargs printed itself (help, a completion script): waits until stdout took it,
 * then throws the failure a write met, if any (exit 74; a reader that left is still a quiet 0).
 * guardStdout() must have been called before the text was written.
 */
export async function finishStdout(): Promise<void> {
  guardStdout()
  // the callback's own error (a stream already destroyed by the failure) says less than the
  // 'error' event the guard heard: that one is reported
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
  await new Promise((resolve) => setImmediate(resolve))
  if (stdout.failure) throw stdout.failure
}
