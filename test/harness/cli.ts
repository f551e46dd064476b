// Runs the real binary as a user would: a spawned process, real pipes.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// tap's @tapjs/processinfo hooks child_process (through process-on-spawn) to load itself into
// every child by NODE_OPTIONS, even into one spawned with NODE_OPTIONS ''. In a weir under test
// that took 2.4x the start-up (15 pairs), most of what npm test spends, and it opened
// process.stdout early, which made a pipe on stdout non-blocking as it never is for a user's weir.
// Coverage is off (.taprc), so nothing needs it: the hook goes, for every test that spawns (each
// imports this module). The hook list lives on a global that any copy of process-on-spawn shares.
const spawnHooks = (globalThis as unknown as Record<symbol, { listeners: unknown[] } | undefined>)[Symbol.for('process-on-spawn@*:singletonId')]
if (spawnHooks) spawnHooks.listeners = []

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const WEIR = fileURLToPath(new URL('../../bin/weir', import.meta.url))

export interface RunResult {
  stdout: string
  stderr: string
  code: number | null
  signal: NodeJS.Signals | null
}

export function weir(args: string[], opts: { stdin?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEIR, ...args], {
      cwd: opts.cwd ?? ROOT,
      // tap's loader hooks (NODE_OPTIONS) are for the test process, not for the weir under test
      env: { ...process.env, NODE_OPTIONS: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal }))
    child.stdin.on('error', () => {}) // the child may exit before reading all of stdin
    child.stdin.end(opts.stdin ?? '')
  })
}

/**
 * The two projecting parse paths, each against the whole-record reference (WEIR_PROJECT=0): on the
 * main thread and in the parse worker.
 */
export const PARSE_PATHS = [
  ['main', { WEIR_PARSE_WORKER: '0' }],
  ['worker', { WEIR_PARSE_WORKER: '1' }],
] as const

/** Runs a shell pipeline (bash -c), for tests of real pipes between processes. */
export function sh(script: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NODE_OPTIONS: '', WEIR, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal }))
  })
}

export const lines = (s: string) => s.split('\n').filter((l) => l !== '')
export const records = (s: string) => lines(s).map((l) => JSON.parse(l) as Record<string, unknown>)

/** Runs several pipelines at once (they are processes: two cores keep busy). */
export async function all<T>(jobs: (() => Promise<T>)[], width = 4): Promise<T[]> {
  const results: T[] = new Array(jobs.length)
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < jobs.length; i = next++) results[i] = await jobs[i]!()
    }),
  )
  return results
}
