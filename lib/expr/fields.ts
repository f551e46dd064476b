// Which top-level fields of `r` a filter or map expression reads, so that a job of such stages
// can be projected (io/batches.ts) instead of parsing whole records. The answer must never be
// too small: a field it misses would read as undefined. So this reads the expression's tokens and
// answers only when every use of `r` is `r.name` or `r?.name`; anything it does not follow —
// `r` passed on or spread, `r[k]`, template literals, regular expressions, comments, escapes,
// non-ASCII identifiers, `eval`, `arguments`, names that Object.prototype has — answers
// undefined: the record is then parsed whole.

const IDENT_START = /[A-Za-z_$]/
const IDENT_PART = /[A-Za-z0-9_$]/
const DIGIT = /[0-9]/
/** after these, a `/` is a division; after anything else it may start a regular expression */
const KEYWORDS_BEFORE_VALUE = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await'])

type Token = { kind: 'ident' | 'num' | 'str' | 'punct'; text: string }

function tokenize(src: string): Token[] | undefined {
  const out: Token[] = []
  let i = 0
  while (i < src.length) {
    const c = src[i]!
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++
      continue
    }
    if (c.charCodeAt(0) > 0x7e || c === '\\' || c === '`' || c === '#' || c === '@') return undefined
    if (c === '"' || c === "'") {
      let j = i + 1
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\n') return undefined
        j += src[j] === '\\' ? 2 : 1
      }
      if (j >= src.length) return undefined
      out.push({ kind: 'str', text: src.slice(i, j + 1) })
      i = j + 1
      continue
    }
    if (IDENT_START.test(c)) {
      let j = i + 1
      while (j < src.length && IDENT_PART.test(src[j]!)) j++
      out.push({ kind: 'ident', text: src.slice(i, j) })
      i = j
      continue
    }
    if (DIGIT.test(c) || (c === '.' && DIGIT.test(src[i + 1] ?? ''))) {
      let j = i + 1
      while (j < src.length && /[0-9A-Za-z_.]/.test(src[j]!)) j++
      out.push({ kind: 'num', text: src.slice(i, j) })
      i = j
      continue
    }
    if (c === '/') {
      // a comment, or a regular expression unless a value precedes it: not followed
      if (src[i + 1] === '/' || src[i + 1] === '*') return undefined
      const prev = out[out.length - 1]
      const division =
        prev !== undefined &&
        ((prev.kind === 'ident' && !KEYWORDS_BEFORE_VALUE.has(prev.text)) || prev.kind === 'num' || prev.kind === 'str' || prev.text === ')' || prev.text === ']')
      if (!division) return undefined
    }
    if (c === '.' && src[i + 1] === '.' && src[i + 2] === '.') {
      out.push({ kind: 'punct', text: '...' }) // a spread: what follows is a value, not a property name
      i += 3
      continue
    }
    if (c === '?' && src[i + 1] === '.' && !DIGIT.test(src[i + 2] ?? '')) {
      out.push({ kind: 'punct', text: '?.' })
      i += 2
      continue
    }
    out.push({ kind: 'punct', text: c })
    i++
  }
  return out
}

/** The top-level fields of `r` the expression reads, or undefined when that cannot be told. */
export function fieldsReadBy(expr: string): string[] | undefined {
  const tokens = tokenize(expr)
  if (!tokens) return undefined
  const fields = new Set<string>()
  for (let k = 0; k + 2 < tokens.length; k++)
    if (tokens[k]!.text === '=' && tokens[k + 1]!.text === '>' && tokens[k + 2]!.text === '{') return undefined // an arrow with a body
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!
    if (t.kind !== 'ident') continue
    const prev = tokens[k - 1]
    if (prev && (prev.text === '.' || prev.text === '?.')) continue // a property name, not a variable
    if (t.text === 'eval' || t.text === 'arguments') return undefined
    // Function and class bodies hold statements, where a `/` after `)` may start a regular
    // expression that the tokens above would misread: not followed.
    if (t.text === 'function' || t.text === 'class') return undefined
    if (t.text !== 'r') continue
    const dot = tokens[k + 1]
    const name = tokens[k + 2]
    if (!dot || (dot.text !== '.' && dot.text !== '?.') || !name || name.kind !== 'ident') return undefined
    if (name.text in Object.prototype) return undefined // r.hasOwnProperty('x') asks about other fields
    fields.add(name.text)
  }
  return [...fields]
}
