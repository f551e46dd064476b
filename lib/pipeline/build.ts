// StageConfig → Operator. Adding an operator is one case here and one file in operators/.
import { filter } from '../operators/filter.js'
import { keyby } from '../operators/keyby.js'
import { map } from '../operators/map.js'
import type { Operator } from '../operators/operator.js'
import { WeirError, usageError } from '../stream/errors.js'
import { canonicalJson } from '../stream/key.js'
import { assertNever } from '../stream/record.js'
import type { Stage, StageConfig } from './stages.js'

/**
 * Operator identity (decisions.md 17): the kind, a hash of the stage's canonical options, and an
 * occurrence number among stages with the same kind and options, unless the spec sets a uid.
 * Inserting a different stage does not change any other stage's uid.
 */
export function operatorUids(stages: Stage[]): string[] {
  const seen = new Map<string, number>()
  return stages.map((s) => {
    if (s.uid) return s.uid
    const canon = canonicalJson(s.config)
    const base = `${s.config.op}-${hash8(canon)}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return `${base}-${n}`
  })
}

function hash8(text: string): string {
  // FNV-1a, 32 bits: enough to tell options apart, and no crypto import on the start-up path
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, '0')
}

export function buildOperator(config: StageConfig, uid: string): Operator {
  switch (config.op) {
    case 'keyby':
      return keyby(config, uid)
    case 'filter':
      return filter(config, uid)
    case 'map':
      return map(config, uid)
    default:
      return assertNever(config)
  }
}

/** Builds every stage before any record is read, so a bad stage fails with its label first. */
export function buildOperators(stages: Stage[]): Operator[] {
  const uids = operatorUids(stages)
  const dup = uids.find((u, i) => uids.indexOf(u) !== i)
  if (dup) throw usageError(`two stages have the uid '${dup}'`)
  return stages.map((s, i) => {
    try {
      return buildOperator(s.config, uids[i]!)
    } catch (e) {
      if (e instanceof WeirError) throw new WeirError(e.kind, `${s.label}: ${e.message}`)
      throw e
    }
  })
}
