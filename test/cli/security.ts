// What weir creates on disk is the user's (issue 18, security): outputs follow the umask as a
// shell's `>` does, and a job dir (which a resume trusts) is never writable by others, even under
// umask 000.
import t from 'tap'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { sh } from '../harness/cli.js'

const F = 'fixtures/clicks.ndjson'
const W = '"$WEIR"'

/** Every folder and file under dir, with its permission bits. */
function modes(dir: string): [string, number][] {
  const out: [string, number][] = [[dir, statSync(dir).mode & 0o777]]
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...modes(p))
    else out.push([p, statSync(p).mode & 0o777])
  }
  return out
}

t.test('under umask 000 a job dir, its state and checkpoints (a pipe chain included) are not world-writable; outputs follow the umask', async (t) => {
  const dir = t.testdir({})
  const job = join(dir, 'job')
  const r = await sh(
    `umask 000; ${W} keyby user --job-dir '${job}' ${F} | ${W} window tumbling 1m --time ts --max-delay 5s | ${W} aggregate count > '${dir}/out.ndjson'`,
  )
  t.equal(r.code, 0, r.stderr)
  const all = modes(job)
  t.ok(all.some(([p]) => p.includes('stage-2')), 'the later stages have their folders too')
  for (const [p, mode] of all) t.equal(mode & 0o002, 0, `${p.slice(dir.length)} (${mode.toString(8)}) is not writable by others`)
  t.equal(statSync(join(dir, 'out.ndjson')).mode & 0o777, 0o666, 'the output is what the shell made of it')
  const o = await sh(`umask 027; ${W} keyby user then aggregate count ${F} --job-dir '${dir}/job2' -o '${dir}/out2.ndjson'`)
  t.equal(o.code, 0, o.stderr)
  t.equal(statSync(join(dir, 'job2')).mode & 0o777, 0o750, 'a stricter umask is kept')
  t.equal(statSync(join(dir, 'out2.ndjson')).mode & 0o777, 0o640, 'an -o file follows the umask')
})
