// Helpers for the durable-state rows of the bench (weir --job-dir): reading a job dir's
// checkpoints, comparing two outputs byte for byte, and the kill -9 / --resume experiment.
// Everything here goes through weir's command line; nothing reaches into lib/.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, rmSync, statSync, openSync, readSync, closeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The checkpoints of a job dir as `weir checkpoints DIR --json` lists them, newest first:
 * [{ id, complete, line, offset, stateBytes }]. Empty when there are none (or weir cannot say).
 */
export function checkpoints(weir, dir, cwd) {
  const r = spawnSync(weir, ['checkpoints', dir, '--json'], { cwd, encoding: 'utf8', timeout: 60_000 })
  const rows = []
  for (const line of (r.stdout ?? '').split('\n')) {
    if (!line.trim()) continue
    try {
      const m = JSON.parse(line)
      rows.push({
        id: m.id,
        complete: m.complete === true,
        line: m.sources?.[0]?.line ?? null,
        offset: m.sources?.[0]?.offset ?? null,
        stateBytes: m.state?.bytes ?? null,
      })
    } catch {
      // not a manifest line
    }
  }
  return rows
}

/** The newest complete checkpoint of a job dir, or null. */
export function latestCheckpoint(weir, dir, cwd) {
  return checkpoints(weir, dir, cwd).find((c) => c.complete) ?? null
}

/**
 * null when the two files are byte-identical, else a description of the first difference
 * (byte offset and line number, 1-based, as cmp(1) gives them).
 */
export function byteDifference(a, b) {
  if (!existsSync(a)) return `${a} is missing`
  if (!existsSync(b)) return `${b} is missing`
  const sa = statSync(a).size
  const sb = statSync(b).size
  const fa = openSync(a, 'r')
  const fb = openSync(b, 'r')
  try {
    const ba = Buffer.alloc(1 << 20)
    const bb = Buffer.alloc(1 << 20)
    let pos = 0
    let line = 1
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, pos)
      const nb = readSync(fb, bb, 0, bb.length, pos)
      const n = Math.min(na, nb)
      for (let i = 0; i < n; i++) {
        if (ba[i] !== bb[i]) return `first difference at byte ${pos + i + 1}, line ${line} (sizes ${sa} and ${sb})`
        if (ba[i] === 10) line++
      }
      if (na !== nb) return `one is a prefix of the other: sizes ${sa} and ${sb} bytes`
      if (n === 0) return null
      pos += n
    }
  } finally {
    closeSync(fa)
    closeSync(fb)
  }
}

/**
 * Starts `weir args` in its own process group and SIGKILLs the group as soon as `file` exists
 * (polled every 2 ms). Resolves to { killed: true, afterS } or, when the process ended first or
 * the time ran out, { killed: false, why }.
 */
export async function killWhenExists(weir, args, file, { cwd, timeoutS }) {
  const t0 = process.hrtime.bigint()
  const child = spawn(weir, args, { cwd, detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
  const gone = new Promise((res) => child.once('close', res))
  const kill = () => {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (s) => {
    if (stderr.length < 4096) stderr += s
  })
  const r = await new Promise((resolve) => {
    let settled = false
    const settle = (v) => {
      if (settled) return
      settled = true
      clearInterval(poll)
      clearTimeout(timer)
      resolve(v)
    }
    const poll = setInterval(() => {
      if (!existsSync(file)) return
      kill()
      settle({ killed: true, afterS: Number(process.hrtime.bigint() - t0) / 1e9 })
    }, 2)
    const timer = setTimeout(() => {
      kill()
      settle({ killed: false, why: `did not write ${file} in ${timeoutS} s` })
    }, timeoutS * 1000)
    child.on('exit', (code) => {
      const first = stderr.split('\n').map((l) => l.trim()).find(Boolean)
      settle({ killed: false, why: `ended (exit ${code}) before writing ${file}${first ? `: ${first}` : ''}` })
    })
    child.on('error', (e) => settle({ killed: false, why: e.message }))
  })
  // the kill is asynchronous: the job dir is reused only once the process is gone
  await gone
  return r
}

/** Removes a job dir (a job dir with checkpoints refuses a fresh start). */
export function freshJobDir(dir) {
  rmSync(dir, { recursive: true, force: true })
}

export const manifestFile = (dir, id) => join(dir, 'checkpoints', `chk-${String(id).padStart(8, '0')}.json`)
