import { MAX_KEY_GROUPS, compareCanon, type Key } from '../stream/key.js'
import type { KeyedStateBackend, Namespace, OperatorState } from './backend.js'

// The backend for jobs without a job dir: nothing outlives the process, so a checkpoint has
// nothing to write. copy() exists for the operator test harness, which snapshots and restores
// operators mid-stream on both backends.

/**
 * One key's state as a flat list [key, ns0, v0, ns1, v1, …]. A key rarely holds more than a few
 * namespaces (the windows open for it), and a short list scanned in place costs less memory and
 * garbage than a Map per key: with 10,000 keys that is tens of megabytes of heap.
 *
 * A list whose last pair is deleted stays in its map as [key] (empty) for a while: on sparse keys
 * each key's one window opens and closes, and removing and adding its list each time was a tenth
 * of the job. Empty lists are swept once they are most of the lists (and at least EMPTY_SWEEP),
 * so a stream of ever new keys does not keep one list per key it ever saw.
 */
type Slots = unknown[]

const EMPTY_SWEEP = 1 << 16

class MemoryOperatorState implements OperatorState {
  /** lists in the maps, and how many of them are empty ([key] only) */
  private lists = 0
  private empties = 0

  // [keyGroup] → canonical key → slots
  constructor(
    private readonly emptySweep = EMPTY_SWEEP,
    private readonly groups: Map<string, Slots>[] = Array.from({ length: MAX_KEY_GROUPS }, () => new Map()),
  ) {
    for (const g of groups)
      for (const slots of g.values()) {
        this.lists++
        if (slots.length === 1) this.empties++
      }
  }

  // The slot the last `get` found: an operator reads a value, changes it and puts it back (the
  // write-back contract), so the put that follows a get finds its slot without a second lookup.
  // Only a delete moves slots (splice) or drops a key's list: it forgets the hit.
  private hitSlots: Slots | undefined
  private hitIndex = 0
  private hitCanon = ''

  /**
   * The key's slots, or undefined when it has no list. The slots the key last led to (Key's
   * stateSlots) are taken when they are this state's and still live: a list leaves the map only
   * in sweepEmpty(), which empties it, and a live list holds at least the key.
   */
  private slotsOf(key: Key): Slots | undefined {
    const cached = key.stateSlots
    if (cached !== undefined && key.stateOwner === this && cached.length > 0) return cached
    const slots = this.groups[key.group]!.get(key.canon)
    if (slots !== undefined) {
      key.stateOwner = this
      key.stateSlots = slots
    }
    return slots
  }

  get(key: Key, ns: Namespace): unknown {
    const slots = this.slotsOf(key)
    if (slots === undefined) return undefined
    for (let i = 1; i < slots.length; i += 2)
      if (slots[i] === ns) {
        this.hitSlots = slots
        this.hitIndex = i
        this.hitCanon = key.canon
        return slots[i + 1]
      }
    return undefined
  }
  put(key: Key, ns: Namespace, value: unknown): void {
    const hit = this.hitSlots
    if (hit !== undefined && hit[this.hitIndex] === ns && this.hitCanon === key.canon) {
      hit[this.hitIndex + 1] = value
      return
    }
    const slots = this.slotsOf(key)
    if (slots === undefined) {
      const created = [key, ns, value]
      this.groups[key.group]!.set(key.canon, created)
      this.lists++
      key.stateOwner = this
      key.stateSlots = created
      return
    }
    for (let i = 1; i < slots.length; i += 2)
      if (slots[i] === ns) {
        slots[i + 1] = value
        return
      }
    if (slots.length === 1) this.empties--
    slots.push(ns, value)
  }
  delete(key: Key, ns: Namespace): void {
    this.hitSlots = undefined
    const slots = this.slotsOf(key)
    if (slots === undefined) return
    for (let i = 1; i < slots.length; i += 2)
      if (slots[i] === ns) {
        // the last pair, the common case (one window per key): no splice
        if (i === slots.length - 2) slots.length = i
        else slots.splice(i, 2)
        if (slots.length === 1 && ++this.empties >= this.emptySweep && this.empties * 2 >= this.lists) this.sweepEmpty()
        return
      }
  }

  /** Removes the empty lists, each emptied: a key object that still points at one looks the key up again. */
  private sweepEmpty(): void {
    for (const g of this.groups)
      for (const [canon, slots] of g)
        if (slots.length === 1) {
          g.delete(canon)
          slots.length = 0
        }
    this.lists -= this.empties
    this.empties = 0
  }
  forEach(fn: (key: Key, ns: Namespace, value: unknown) => void): void {
    for (const g of this.groups)
      for (const slots of g.values()) {
        const key = slots[0] as Key
        for (let i = 1; i < slots.length; i += 2) fn(key, slots[i] as Namespace, slots[i + 1])
      }
  }

  /** A deep copy: what a restored operator gets must not share objects with the original. */
  copy(): MemoryOperatorState {
    return new MemoryOperatorState(this.emptySweep, structuredClone(this.groups))
  }

  forEachKey(fn: (key: Key) => void): void {
    for (const key of this.keys()) fn(key)
  }
  keys(): Key[] {
    const out: Key[] = []
    for (const g of this.groups) for (const slots of g.values()) if (slots.length > 1) out.push(slots[0] as Key)
    return out.sort((a, b) => compareCanon(a.canon, b.canon))
  }
}

export class MemoryStateBackend implements KeyedStateBackend {
  readonly heldEntries = Infinity
  private readonly ops = new Map<string, MemoryOperatorState>()
  /** emptySweep: how many empty key lists wait for a sweep at least (tests make it small) */
  constructor(private readonly emptySweep = EMPTY_SWEEP) {}
  operator(uid: string): OperatorState {
    let s = this.ops.get(uid)
    if (!s) this.ops.set(uid, (s = new MemoryOperatorState(this.emptySweep)))
    return s
  }
  checkpoint(): void {}
  readMarks(): [] {
    return []
  }
  size(): number {
    return 0
  }
  async close(): Promise<void> {}
  /** A deep copy of every operator's state, as a restore from a checkpoint would see it. */
  copy(): MemoryStateBackend {
    const c = new MemoryStateBackend(this.emptySweep)
    for (const [uid, s] of this.ops) c.ops.set(uid, s.copy())
    return c
  }
}
