// Runs one command under a time limit and measures its wall time and peak RSS.
//
// Peak RSS has to come from the kernel's accounting of the child (a process cannot see its
// children's high-water mark any other way), so every command runs under a small wrapper:
// GNU time's `%M` where /usr/bin/time is GNU time, else python3 reading
// getrusage(RUSAGE_CHILDREN).ru_maxrss. Both report the largest single process in the tree,
// in KiB — the figure a user sizing a machine cares about.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

// python3's own start-up (~20 ms) would be charged to every row, so under python the wrapper
// times the child itself and reports that; GNU time costs only a fork+exec and is timed outside.
const PY_WRAPPER = `
import resource, subprocess, sys, time
t0 = time.perf_counter()
try:
    rc = subprocess.call(sys.argv[2:])
except OSError as e:
    sys.exit('cannot run %s: %s' % (sys.argv[2], e.strerror))
wall = time.perf_counter() - t0
with open(sys.argv[1], 'w') as f:
    f.write('%d %.6f' % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, wall))
sys.exit(rc if rc >= 0 else 128 - rc)
`

/** Picks how peak RSS is measured on this machine: { kind, describe, wrap(cmd, args, rssFile) }. */
export function detectRssMethod() {
  const gnu = spawnSync('/usr/bin/time', ['-f', '%M', '-o', '/dev/null', 'true'], { stdio: 'ignore' })
  if (gnu.status === 0) {
    return {
      kind: 'gnu-time',
      describe: 'GNU time `/usr/bin/time -f %M` (max RSS of the largest process, KiB)',
      wrap: (cmd, args, rssFile) => ['/usr/bin/time', ['-o', rssFile, '-f', '%M', cmd, ...args]],
    }
  }
  const py = spawnSync('python3', ['-c', 'import resource'], { stdio: 'ignore' })
  if (py.status === 0) {
    return {
      kind: 'python',
      describe: 'python3 `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` (largest process, KiB)',
      wrap: (cmd, args, rssFile) => ['python3', ['-c', PY_WRAPPER, rssFile, cmd, ...args]],
    }
  }
  return {
    kind: 'none',
    describe: 'not measured (neither GNU time nor python3 found)',
    wrap: (cmd, args) => [cmd, args],
  }
}

// The process group being run, so that Ctrl-C on the bench does not leave a 100-second jq behind.
let current = null
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) killGroup(current)
    process.exit(130)
  })
}
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

let seq = 0

/**
 * Runs `cmd args` with stdout to `stdout` (a file path, or null to discard), in its own process
 * group, killed whole after `timeoutS` seconds.
 * Resolves to { ok, timedOut, code, wallS, rssKB, error } — error is the first stderr line (or a
 * stand-in) when the command did not succeed.
 */
export function measure(rss, cmd, args, { stdout = null, cwd, timeoutS, env } = {}) {
  const rssFile = join(tmpdir(), `weir-bench-rss-${process.pid}-${seq++}`)
  rmSync(rssFile, { force: true })
  const [wcmd, wargs] = rss.wrap(cmd, args, rssFile)
  const outFd = stdout ? openSync(stdout, 'w') : 'ignore'
  return new Promise((resolve) => {
    let stderr = ''
    let timedOut = false
    const t0 = process.hrtime.bigint()
    // detached: a new process group, so the timeout can kill the wrapper and everything under it
    const child = spawn(wcmd, wargs, { cwd, env, detached: true, stdio: ['ignore', outFd, 'pipe'] })
    current = child
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child)
    }, timeoutS * 1000)
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (s) => {
      if (stderr.length < 8192) stderr += s
    })
    let wallS = 0
    child.on('exit', () => {
      wallS = Number(process.hrtime.bigint() - t0) / 1e9
    })
    let done = false
    const finish = (code, spawnError) => {
      if (done) return // 'error' can be followed by 'close'
      done = true
      clearTimeout(timer)
      current = null
      if (typeof outFd === 'number') closeSync(outFd)
      // The wrapper writes its report last; GNU time puts "Command exited with non-zero status"
      // lines before it in the same file, so the figure is on the last line.
      let rssKB = null
      if (existsSync(rssFile)) {
        const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop().trim().split(/\s+/)
        if (/^\d+$/.test(last[0])) rssKB = Number(last[0])
        if (rss.kind === 'python' && last[1]) wallS = Number(last[1])
        rmSync(rssFile, { force: true })
      }
      const ok = !timedOut && !spawnError && code === 0
      let error = null
      if (!ok) {
        error =
          spawnError?.message ??
          stderr.split('\n').map((l) => l.trim()).find((l) => l && !/^Command (exited|terminated)/.test(l)) ??
          `exit code ${code}`
      }
      resolve({ ok, timedOut, code, wallS, rssKB, error })
    }
    child.on('error', (e) => finish(null, e))
    child.on('close', (code) => finish(code, null))
  })
}
