// What /proc tells a test about the processes of a pipeline it started: which child runs which
// weir stage, and whether a stage has opened its side channel yet.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

export function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
  } catch {
    return ''
  }
}

export function ppid(pid: string): number {
  try {
    return Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
  } catch {
    return -1
  }
}

export function fdTargets(pid: string): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        return ''
      }
    })
  } catch {
    return []
  }
}

/** The child of `parent` whose command line holds `weir WORD` (a stage of a shell pipeline). */
export function stageOf(parent: number, word: string): string | undefined {
  return readdirSync('/proc').find((p) => /^\d+$/.test(p) && ppid(p) === parent && cmdline(p).includes(`weir ${word}`))
}
