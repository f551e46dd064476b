// Waiting on a stream without leaving listeners behind.
import type { EventEmitter } from 'node:events'

/** Resolves at the first of `events` on `emitter`, and removes its listeners from all of them. */
export function firstEvent(emitter: EventEmitter, ...events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const e of events) emitter.off(e, done)
      resolve()
    }
    for (const e of events) emitter.on(e, done)
  })
}
