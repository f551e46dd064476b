/** Processing time. Tests inject a manual clock; the CLI uses the wall clock. */
export interface Clock {
  now(): number
}

export const wallClock: Clock = { now: () => Date.now() }

export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t
  }
  set(t: number): void {
    this.t = t
  }
}
