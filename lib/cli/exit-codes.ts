// Exit statuses, documented in weir(1). They follow sysexits.h where one fits, so scripts and
// cron wrappers can tell bad input from a missing file from a bug.
import type { FailureKind } from '../stream/errors.js'

export const EXIT_OK = 0
export const EXIT_USER_CODE = 1 // a filter/map expression or process function threw on a record
export const EXIT_USAGE = 64 // bad option, bad spec, bad expression text (before any record is read)
export const EXIT_DATA = 65 // malformed input line, missing key or time field
export const EXIT_NO_INPUT = 66 // input or spec file missing or unreadable
export const EXIT_INTERNAL = 70 // a bug in weir
export const EXIT_CANT_CREATE = 73 // output file cannot be created
export const EXIT_IO = 74 // read or write failure
export const EXIT_TEMPFAIL = 75 // the job dir is busy: another weir runs the job; try again later
export const EXIT_SIGHUP = 129
export const EXIT_SIGINT = 130
export const EXIT_SIGTERM = 143

export function exitCodeFor(kind: FailureKind): number {
  switch (kind) {
    case 'usage':
      return EXIT_USAGE
    case 'data':
      return EXIT_DATA
    case 'user-code':
      return EXIT_USER_CODE
    case 'no-input':
      return EXIT_NO_INPUT
    case 'cant-create':
      return EXIT_CANT_CREATE
    case 'io':
      return EXIT_IO
    case 'busy':
      return EXIT_TEMPFAIL
    case 'internal':
      return EXIT_INTERNAL
  }
}
