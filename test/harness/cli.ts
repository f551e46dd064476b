// Runs the real binary as a user would: a spawned process, real pipes.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

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
