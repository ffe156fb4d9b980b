/**
 * Clock and randomness as components (STYLE.md §10): logic that decides takes these
 * instead of calling Date.now() or Math.random(), so tests and sim/ run the same code
 * on a virtual clock and a seeded generator.
 */
import { randomBytes } from 'node:crypto'

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A manually advanced clock for tests. */
export class ManualClock implements Clock {
  #t: number
  constructor (start = 1_700_000_000_000) { this.#t = start }
  now (): number { return this.#t }
  advance (ms: number): void { this.#t += ms }
  set (t: number): void { this.#t = t }
}

/** Random source. `bytes` must be cryptographically strong where secrets come from it. */
export interface Rng {
  bytes(n: number): Uint8Array
  /** Uniform integer in [0, n). */
  int(n: number): number
}

export const secureRng: Rng = {
  bytes: (n) => new Uint8Array(randomBytes(n)),
  int: (n) => {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError('int(n) needs a positive integer')
    // rejection sampling over 32 bits: no modulo bias
    const limit = Math.floor(0x1_0000_0000 / n) * n
    for (;;) {
      const b = randomBytes(4)
      const v = b.readUInt32BE(0)
      if (v < limit) return v % n
    }
  }
}

/** Fisher–Yates shuffle of a copy, driven by the given Rng. */
export function shuffled<T> (items: readonly T[], rng: Rng): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}
