// One running job per (job dir, stage) (decisions.md 16). A lock file outlives a SIGKILL and Node
// has no flock, so the lock is an abstract Unix socket named after the job dir's device and inode:
// the kernel frees the name when the process dies, however it dies. Abstract names live per
// network namespace (decisions.md 37): containers sharing a job dir through a volume do not see
// each other's locks.
import { statSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { WeirError } from '../stream/errors.js'

export interface JobLock {
  release(): Promise<void>
}

export async function lockJobDir(jobDir: string, stage: string): Promise<JobLock> {
  const st = statSync(jobDir)
  const name = `\0weir:${st.dev}:${st.ino}:${stage}`
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new WeirError('busy', `${jobDir}: another weir is running this job (stage ${stage}); nothing was touched`)
          : new WeirError('io', `${jobDir}: cannot lock the job dir: ${e.message}`),
      ),
    )
    server.listen({ path: name }, () => resolve())
  })
  // the lock must not keep a finished job alive
  server.unref()
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}
