import { MAX_KEY_GROUPS, compareCanon, type Key } from '../stream/key.js'
import type { KeyedStateBackend, Namespace, OperatorState } from './backend.js'

interface KeyEntry {
  key: Key
  spaces: Map<Namespace, unknown>
}

class MemoryOperatorState implements OperatorState {
  private readonly groups: Map<string, KeyEntry>[] = Array.from({ length: MAX_KEY_GROUPS }, () => new Map())

  get(key: Key, ns: Namespace): unknown {
    return this.groups[key.group]!.get(key.canon)?.spaces.get(ns)
  }
  put(key: Key, ns: Namespace, value: unknown): void {
    const g = this.groups[key.group]!
    let e = g.get(key.canon)
    if (!e) g.set(key.canon, (e = { key, spaces: new Map() }))
    e.spaces.set(ns, value)
  }
  delete(key: Key, ns: Namespace): void {
    const g = this.groups[key.group]!
    const e = g.get(key.canon)
    if (!e) return
    e.spaces.delete(ns)
    if (e.spaces.size === 0) g.delete(key.canon)
  }
  namespaces(key: Key): Namespace[] {
    const e = this.groups[key.group]!.get(key.canon)
    return e ? [...e.spaces.keys()] : []
  }
  keys(): Key[] {
    const out: Key[] = []
    for (const g of this.groups) for (const e of g.values()) out.push(e.key)
    return out.sort((a, b) => compareCanon(a.canon, b.canon))
  }
}

export class MemoryStateBackend implements KeyedStateBackend {
  private readonly ops = new Map<string, MemoryOperatorState>()
  operator(uid: string): OperatorState {
    let s = this.ops.get(uid)
    if (!s) this.ops.set(uid, (s = new MemoryOperatorState()))
    return s
  }
}
