// What the numbers were measured on: a result without its machine and tool versions cannot be
// compared with any other.
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import os from 'node:os'

/** First line of a command's output, or null if it cannot be run. */
export function versionOf(cmd, args = ['--version'], opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000, ...opts })
  if (r.error || r.status !== 0) return null
  return (r.stdout || r.stderr).trim().split('\n')[0] || null
}

export function machineInfo() {
  let cpu = os.cpus()[0]?.model ?? 'unknown'
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)
    if (m) cpu = m[1].trim()
  } catch {
    // not Linux: os.cpus() is the next best thing
  }
  return {
    cpu,
    cores: os.availableParallelism(),
    ramGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  }
}
