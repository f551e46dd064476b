// keyby partitions the stream: it sets the key of each record for the operators that follow.
// It does not edit the record, so its bytes pass through unchanged.
import { compilePath } from '../expr/path.js'
import { compileIntegerText } from '../expr/exact.js'
import { isInexactInteger } from '../stream/json-text.js'
import { makeKey } from '../stream/key.js'
import type { Operator, OperatorContext } from './operator.js'

export interface KeybyConfig {
  op: 'keyby'
  fields: string[]
}

export function keyby(cfg: KeybyConfig, uid: string): Operator {
  const getters = cfg.fields.map(compilePath)
  const integerTexts = cfg.fields.map(compileIntegerText)
  let ctx: OperatorContext
  return {
    uid,
    open(c) {
      ctx = c
    },
    processRecord(rec, out) {
      const values = new Array<unknown>(getters.length)
      let texts: (string | undefined)[] | undefined
      for (let i = 0; i < getters.length; i++) {
        const v = getters[i]!(rec.value)
        if (v === undefined) return ctx.badRecord(rec, `key field '${cfg.fields[i]}' is missing`)
        values[i] = v
        // a 64-bit id that JSON.parse rounded: its digits are in the record's bytes (after a map
        // there are none, and the rounded value is the key)
        if (isInexactInteger(v) && rec.raw !== undefined) (texts ??= [])[i] = integerTexts[i]!(rec.raw)
      }
      rec.key = makeKey(values, texts)
      out.record(rec)
    },
  }
}
