import { MAX_KEY_GROUPS, compareCanon, type Key } from '../stream/key.js'
import type { KeyedStateBackend, Namespace, OperatorState } from './backend.js'

/**
 * One key's state as a flat list [key, ns0, v0, ns1, v1, …]. A key rarely holds more than a few
 * namespaces (the windows open for it), and a short list scanned in place costs less memory and
 * garbage than a Map per key: with 10,000 keys that is tens of megabytes of heap.
 */
type Slots = unknown[]

class MemoryOperatorState implements OperatorState {
  // [keyGroup] → canonical key → slots
  private readonly groups: Map<string, Slots>[] = Array.from({ length: MAX_KEY_GROUPS }, () => new Map())

  get(key: Key, ns: Namespace): unknown {
    const slots = this.groups[key.group]!.get(key.canon)
    if (slots === undefined) return undefined
    for (let i = 1; i < slots.length; i += 2) if (slots[i] === ns) return slots[i + 1]
    return undefined
  }
  put(key: Key, ns: Namespace, value: unknown): void {
    const g = this.groups[key.group]!
    const slots = g.get(key.canon)
    if (slots === undefined) {
      g.set(key.canon, [key, ns, value])
      return
    }
    for (let i = 1; i < slots.length; i += 2)
      if (slots[i] === ns) {
        slots[i + 1] = value
        return
      }
    slots.push(ns, value)
  }
  delete(key: Key, ns: Namespace): void {
    const g = this.groups[key.group]!
    const slots = g.get(key.canon)
    if (slots === undefined) return
    for (let i = 1; i < slots.length; i += 2)
      if (slots[i] === ns) {
        slots.splice(i, 2)
        break
      }
    if (slots.length === 1) g.delete(key.canon)
  }
  keys(): Key[] {
    const out: Key[] = []
    for (const g of this.groups) for (const slots of g.values()) out.push(slots[0] as Key)
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
