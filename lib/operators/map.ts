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
      rec.value = v
      rec.raw = undefined
      out.record(rec)
    },
  }
}
