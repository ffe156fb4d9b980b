/**
 * The simulator's randomness: one seed, from which every entity's stream is derived
 * deterministically by hashing `seed | label | index` (SHA-256) into a xoroshiro128+
 * state (pure-rand). A stream does not depend on how many other streams exist or in
 * which order they were created, so adding a client does not change any relay's draws.
 *
 * `SeededRng` satisfies overlay/clock.ts's `Rng`, so src/ code (path selection) runs on it.
 * Never use it for secrets: xoroshiro128+ is predictable.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus'
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator'
import type { Rng } from '../src/overlay/clock.ts'
import { SimInternalError } from './errors.ts'

const TWO_32 = 0x1_0000_0000
/** Bits kept from each of two draws for a double: 26 + 27 = 53, a double's mantissa. */
const FLOAT_HI = 2 ** 26
const FLOAT_LO = 2 ** 27
const encoder = new TextEncoder()

/** Domain-separation prefix of stream derivation (changing it changes every result). */
export const STREAM_DOMAIN = 'veil-sim/v1'

export class SeededRng implements Rng {
  readonly #g: RandomGenerator

  constructor (g: RandomGenerator) { this.#g = g }

  /** A stream for `label`/`index` under `seed`. */
  static derive (seed: number, label: string, index = 0): SeededRng {
    const h = sha256(encoder.encode(`${STREAM_DOMAIN}|${seed}|${label}|${index}`))
    const dv = new DataView(h.buffer, h.byteOffset, h.byteLength)
    const s = [dv.getInt32(0), dv.getInt32(4), dv.getInt32(8), dv.getInt32(12)]
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1 // xoroshiro must not start at all-zero
    return new SeededRng(xoroshiro128plusFromState(s))
  }

  /** Raw 32-bit draw in [0, 2^32). */
  u32 (): number { return this.#g.next() >>> 0 }

  /** Uniform integer in [0, n), unbiased (rejection), n ≤ 2^32. */
  int (n: number): number {
    if (!(n >= 1 && n <= TWO_32) || !Number.isInteger(n)) throw new SimInternalError(`int(n): n must be an integer in [1, 2^32], got ${n}`)
    if ((n & (n - 1)) === 0 && n < TWO_32) return this.u32() & (n - 1)
    const limit = Math.floor(TWO_32 / n) * n
    for (;;) {
      const v = this.u32()
      if (v < limit) return v % n
    }
  }

  /** Uniform double in [0, 1), 53 bits. */
  float (): number {
    const hi = this.u32() >>> 6
    const lo = this.u32() >>> 5
    return (hi * FLOAT_LO + lo) / (FLOAT_HI * FLOAT_LO)
  }

  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i += 4) {
      const v = this.u32()
      for (let b = 0; b < 4 && i + b < n; b++) out[i + b] = (v >>> (8 * b)) & 0xff
    }
    return out
  }

  /** Exponential with the given mean. */
  exp (mean: number): number { return -mean * Math.log(1 - this.float()) }

  /** Weibull with shape k and scale λ. */
  weibull (shape: number, scale: number): number { return scale * Math.pow(-Math.log(1 - this.float()), 1 / shape) }

  /** Standard normal (Box–Muller, one value per call). */
  normal (): number {
    const u = 1 - this.float()
    const v = this.float()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}
