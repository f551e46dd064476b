// How deep a record may nest. JSON.parse reads any depth (it is iterative), but what weir does
// with a record later is recursive: JSON.stringify (map, window, aggregate rows) overflows the
// stack near 4,000 levels, the canonical form of a key or a distinct value (stream/key.ts) near
// 2,000, structuredClone near 1,900 and LMDB's msgpack near 1,300, each less when called deep in
// the stack. So rather than fail somewhere downstream with "Maximum call stack size exceeded"
// (exit 70, no line), a line nested deeper than this is bad input where it is read, on every
// parse path, under --on-error. 512 is far below those limits and far above real data (serde_json
// stops at 128, Ruby's JSON at 100).
export const MAX_NESTING = 512

export const TOO_DEEP = `nested deeper than ${MAX_NESTING} levels`

/**
 * Whether line[start, end) (JSON text, as a string or its UTF-8 bytes) opens more than
 * MAX_NESTING objects and arrays inside one another. Brackets inside strings do not count.
 */
export function nestedTooDeep(line: string | Uint8Array, start = 0, end = line.length): boolean {
  // Such a line has more than 2·MAX_NESTING bytes and more than MAX_NESTING opening brackets:
  // most lines are ruled out by their length, most long ones by a native count of brackets.
  if (end - start <= 2 * MAX_NESTING || openings(line, start, end) <= MAX_NESTING) return false
  const text = typeof line === 'string' ? line : undefined
  const bytes = text === undefined ? (line as Uint8Array) : undefined
  let depth = 0
  for (let i = start; i < end; i++) {
    const c = bytes ? bytes[i]! : text!.charCodeAt(i)
    if (c === 34 /* " */) {
      // skip the string; a backslash escapes the next character
      for (i++; i < end; i++) {
        const d = bytes ? bytes[i]! : text!.charCodeAt(i)
        if (d === 92) i++
        else if (d === 34) break
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > MAX_NESTING) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return false
}

/** How many '{' and '[' the line holds, counted up to just past MAX_NESTING. */
function openings(line: string | Uint8Array, start: number, end: number): number {
  let n = 0
  for (const open of ['{', '[']) {
    const needle = typeof line === 'string' ? open : open.charCodeAt(0)
    const find = (from: number) => (line as { indexOf(v: string | number, from: number): number }).indexOf(needle, from)
    for (let i = find(start); i >= 0 && i < end; i = find(i + 1)) if (++n > MAX_NESTING) return n
  }
  return n
}
