import { MAX_KEY_GROUPS, compareCanon, type Key } from '../stream/key.js'
import type { KeyedStateBackend, Namespace, OperatorState } from './backend.js'

class MemoryOperatorState implements OperatorState {
  // [keyGroup] → canonical key → namespace → value; the Key objects are kept apart for keys()
  private readonly groups: Map<string, Map<Namespace, unknown>>[] = Array.from({ length: MAX_KEY_GROUPS }, () => new Map())
  private readonly keyObjects = new Map<string, Key>()

  get(key: Key, ns: Namespace): unknown {
    const spaces = this.groups[key.group]!.get(key.canon)
    return spaces === undefined ? undefined : spaces.get(ns)
  }
  put(key: Key, ns: Namespace, value: unknown): void {
    const g = this.groups[key.group]!
    let spaces = g.get(key.canon)
    if (spaces === undefined) {
      g.set(key.canon, (spaces = new Map()))
      this.keyObjects.set(key.canon, key)
    }
    spaces.set(ns, value)
  }
  delete(key: Key, ns: Namespace): void {
    const g = this.groups[key.group]!
    const spaces = g.get(key.canon)
    if (spaces === undefined) return
    spaces.delete(ns)
    if (spaces.size === 0) {
      g.delete(key.canon)
      this.keyObjects.delete(key.canon)
    }
  }
  namespaces(key: Key): Namespace[] {
    const spaces = this.groups[key.group]!.get(key.canon)
    return spaces ? [...spaces.keys()] : []
  }
  keys(): Key[] {
    return [...this.keyObjects.values()].sort((a, b) => compareCanon(a.canon, b.canon))
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
