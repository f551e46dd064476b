// Crash points for fault tests (WEIR_CRASH_AT=POINT[:N]): the process SIGKILLs itself the N-th
// time (default 1st) it reaches POINT inside the checkpoint code, so a test can kill a run at
// each step of a checkpoint, one by one, and check that the resume is exactly-once. Unset, a
// crash point is one comparison. Not a user feature: weir(1) does not document it.
const setting = process.env.WEIR_CRASH_AT
const [point, nth] = setting ? setting.split(':') : []
let seen = 0

export type CrashPoint = 'after-state' | 'after-sinks' | 'manifest-temp' | 'after-manifest'

export function crashPoint(name: CrashPoint): void {
  if (point !== name) return
  if (++seen < Number(nth ?? 1)) return
  process.kill(process.pid, 'SIGKILL')
}
