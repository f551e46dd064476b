// Splits a spec stage string into words as a POSIX shell would for the quoting users write on the
// command line: 'single quotes', "double quotes" with \" \\ \$ \` escapes, and backslash outside
// quotes. No expansion of $vars, globs or ~: a spec means the same on every machine.
import { usageError } from '../stream/errors.js'

export function shellWords(text: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === "'") {
      const close = text.indexOf("'", i + 1)
      if (close < 0) throw usageError(`unterminated ' in: ${text}`)
      word += text.slice(i + 1, close)
      inWord = true
      i = close + 1
    } else if (c === '"') {
      i++
      for (;;) {
        if (i >= text.length) throw usageError(`unterminated " in: ${text}`)
        const d = text[i]!
        if (d === '"') break
        if (d === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) {
          word += text[i + 1]
          i += 2
        } else {
          word += d
          i++
        }
      }
      inWord = true
      i++
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[i + 1]
      inWord = true
      i += 2
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      i++
    } else {
      word += c
      inWord = true
      i++
    }
  }
  if (inWord) words.push(word)
  return words
}
