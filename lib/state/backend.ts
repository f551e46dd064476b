// Keyed state behind one interface. Every stateful operator keeps its state here, per key and per
// namespace (a window, a user state name), addressed by key group first: [uid, keyGroup, key, ns].
// The memory backend (memory.ts) serves runs without a job dir; an LMDB backend (a later issue)
// will serve durable jobs behind a write-back cache flushed at checkpoint barriers, with the same
// key layout, so that a job can later be split by key group across workers and rescaled.
//
// Ownership: a value given to `put` belongs to the backend. An operator may mutate a value it got
// from `get` but must `put` it again, which marks it dirty for the write-back cache. User code
// (process functions) never sees these objects: its state wrappers copy on read and write
// (decisions.md 22), so mutating an object after `update` behaves the same in every backend.
import type { Key } from '../stream/key.js'

export type Namespace = string | number

export interface OperatorState {
  get(key: Key, ns: Namespace): unknown
  put(key: Key, ns: Namespace, value: unknown): void
  delete(key: Key, ns: Namespace): void
  /**
   * Every key holding state, in canonical key order (decisions.md 9: the output order), whatever
   * the storage order: a key-group-first store merges its groups' sorted ranges.
   */
  keys(): Key[]
}

export interface KeyedStateBackend {
  operator(uid: string): OperatorState
}
