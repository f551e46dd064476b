import { compileExpression } from '../expr/expression.js'
import { WeirError, at } from '../stream/errors.js'
import type { Operator } from './operator.js'

export interface MapConfig {
  op: 'map'
  expr: string
}

/** Replaces each record by the expression's value. The key and time of the record are kept. */
export function map(cfg: MapConfig, uid: string): Operator {
  const f = compileExpression(cfg.expr, 'map')
  return {
    uid,
    processRecord(rec, out) {
      let v: unknown
      try {
        v = f(rec.value)
      } catch (e) {
        throw new WeirError('user-code', `${at(rec)}map '${cfg.expr}' threw: ${(e as Error)?.message ?? e}`)
      }
      if (v === undefined || typeof v === 'function' || typeof v === 'bigint' || typeof v === 'symbol')
        throw new WeirError('user-code', `${at(rec)}map '${cfg.expr}' returned ${typeof v}, not a JSON value`)
      // Serialised here rather than at the sink, so that a value JSON cannot write (a BigInt
      // inside, a cycle, a throwing toJSON, nesting deeper than the stack) is blamed on this
      // expression and this line instead of failing later as an internal error. The text is the
      // record's bytes from now on, so the sink does not serialise it again.
      let text: string
      try {
        text = JSON.stringify(v)
      } catch (e) {
        const why = e instanceof RangeError ? 'nested too deeply' : ((e as Error)?.message ?? String(e)).split('\n')[0]
        throw new WeirError('user-code', `${at(rec)}map '${cfg.expr}': the value is not JSON: ${why}`)
      }
      rec.value = v
      rec.raw = text
      out.record(rec)
    },
  }
}
