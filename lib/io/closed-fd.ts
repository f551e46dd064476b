// Whether the shell closed one of the standard streams (`<&-`, `>&-`). Node reopens a closed fd 0,
// 1 or 2 on /dev/null before any JS runs, so the only trace left is how: read-write, where a
// shell's `< /dev/null` opens it read-only and its `> /dev/null` write-only. Some launchers open
// /dev/null read-write on purpose (Python's subprocess.DEVNULL, Node's stdio 'ignore' for
// stdout): for stdin that reads nothing either way, and the message says how to give no input;
// for stdout it may be deliberate, so the caller only warns.
import { readFileSync, readlinkSync } from 'node:fs'

export function closedByShell(fd: 0 | 1 | 2): boolean {
  try {
    if (readlinkSync(`/proc/self/fd/${fd}`) !== '/dev/null') return false
    const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
    return m !== null && (parseInt(m[1]!, 8) & 3) === 2 // O_ACCMODE is O_RDWR
  } catch {
    return false // no /proc: take it as it is
  }
}
