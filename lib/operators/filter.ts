import { compileExpression } from '../expr/expression.js'
import { WeirError, at } from '../stream/errors.js'
import type { Operator, OperatorContext } from './operator.js'

export interface FilterConfig {
  op: 'filter'
  expr: string
}

export function filter(cfg: FilterConfig, uid: string): Operator {
  const test = compileExpression(cfg.expr, 'filter')
  let ctx: OperatorContext
  return {
    uid,
    open(c) {
      ctx = c
    },
    processRecord(rec, out) {
      let keep: unknown
      try {
        keep = test(rec.value)
      } catch (e) {
        throw new WeirError('user-code', `${at(rec)}filter '${cfg.expr}' threw: ${(e as Error)?.message ?? e}`)
      }
      if (keep) out.record(rec)
      else ctx.stats.filtered++
    },
  }
}
