// Errors say what kind of failure they are; cli/exit-codes.ts turns the kind into an exit status.
// The library never exits: it throws, and the CLI reports one line and sets process.exitCode.

export type FailureKind =
  | 'usage' // bad option, bad spec, bad expression text
  | 'data' // a malformed line, a missing key or time field
  | 'user-code' // an expression or a process function threw on a record
  | 'no-input' // an input file is missing or unreadable
  | 'cant-create' // an output file cannot be created
  | 'io' // read/write failure after opening
  | 'busy' // the job dir is locked by another running weir
  | 'internal'

export class WeirError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message)
    this.name = 'WeirError'
  }
}

/** Where a record came from: the file (or "stdin") and its 1-based line number. */
export interface Position {
  source: string
  line: number
}

export function at(pos: Position | undefined): string {
  // line 0 is not in any input (a timer, a firing): say nothing rather than a wrong place
  return pos && pos.line > 0 ? `${pos.source}:${pos.line}: ` : ''
}

export function dataError(pos: Position | undefined, message: string): WeirError {
  return new WeirError('data', `${at(pos)}${message}`)
}

export function usageError(message: string): WeirError {
  return new WeirError('usage', message)
}

/**
 * A system error as a user reads it: Node's "ENOSPC: no space left on device, write" becomes
 * "no space left on device" (the code and the syscall name mean nothing to most readers, and the
 * caller already says what failed).
 */
export function systemMessage(e: Error): string {
  const m = /^[A-Z][A-Z0-9_]*: (.*?)(?:, [a-z_]+(?: '.*')?)?$/.exec(e.message)
  return m ? m[1]! : e.message
}

/**
 * A message made safe for a terminal: control characters are written as JSON writes them (`\n`,
 * `\u001b`), so a line of input quoted in a message (JSON.parse quotes it) cannot move the
 * cursor, change colours or retitle the window, and the message stays one line. C1 controls
 * (U+0080–U+009F: some terminals read U+009B as an escape sequence) and the bidirectional
 * overrides (which can make a message read other than it is) are escaped too.
 */
export function printable(message: string): string {
  return message.replace(UNPRINTABLE, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
const SHORT_ESCAPES: Record<string, string> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
