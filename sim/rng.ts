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

/** The 128-bit xoroshiro state [s01, s00, s11, s10] of stream `label`/`index` under `seed`. */
export function streamState (seed: number, label: string, index: number): number[] {
  const h = sha256(encoder.encode(`${STREAM_DOMAIN}|${seed}|${label}|${index}`))
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength)
  const s = [dv.getInt32(0), dv.getInt32(4), dv.getInt32(8), dv.getInt32(12)]
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1 // xoroshiro must not start at all-zero
  return s
}

/** What the simulator's models draw from (SeededRng and a selected RngBank stream). */
export interface Draws extends Rng {
  u32(): number
  float(): number
  exp(mean: number): number
  weibull(shape: number, scale: number): number
  normal(): number
}

export class SeededRng implements Draws {
  readonly #g: RandomGenerator
  /** When set, `bytes(n ≤ 8)` returns the reused buffer of length n (see `derive`). */
  readonly #scratch: Uint8Array[] | undefined

  constructor (g: RandomGenerator, scratch = false) {
    this.#g = g
    this.#scratch = scratch ? Array.from({ length: 9 }, (_, n) => new Uint8Array(n)) : undefined
  }

  /**
   * A stream for `label`/`index` under `seed`. With `scratch`, `bytes(n)` for n ≤ 8
   * reuses one buffer instead of allocating: only for consumers that read the bytes at
   * once and keep nothing (src/mix `sampleExp`, drawn per cell per hop in message mode).
   * The draws are the same either way.
   */
  static derive (seed: number, label: string, index = 0, scratch = false): SeededRng {
    return new SeededRng(xoroshiro128plusFromState(streamState(seed, label, index)), scratch)
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
    const out = this.#scratch !== undefined && n <= 8 ? this.#scratch[n] : new Uint8Array(n)
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

/**
 * Many streams in one typed array: stream i is exactly `SeededRng.derive(seed, label, i)`
 * (same derivation, same xoroshiro128+ steps), but its 128-bit state is 16 bytes of an
 * Int32Array instead of two objects — at 100k entities the object version spends its time
 * on cache misses. `select(i)` chooses the stream the next draws come from; pass the bank
 * itself as an `Rng` to src/ code only for draws made before anything else selects.
 * `bytes(n ≤ 8)` returns a reused buffer (as SeededRng's scratch mode).
 */
export class RngBank implements Draws {
  readonly state: Int32Array
  readonly size: number
  #o = 0
  readonly #scratch: Uint8Array[] = Array.from({ length: 9 }, (_, n) => new Uint8Array(n))

  constructor (seed: number, label: string, size: number) {
    this.size = size
    this.state = new Int32Array(size * 4)
    for (let i = 0; i < size; i++) this.state.set(streamState(seed, label, i), i * 4)
  }

  /** Make stream i the current one; returns the bank for chaining. */
  select (i: number): this {
    this.#o = i * 4
    return this
  }

  u32 (): number {
    const st = this.state
    const o = this.#o
    const s01 = st[o]; const s00 = st[o + 1]; const s11 = st[o + 2]; const s10 = st[o + 3]
    const out = (s00 + s10) | 0
    const a0 = s10 ^ s00
    const a1 = s11 ^ s01
    st[o + 1] = s00 << 24 ^ s01 >>> 8 ^ a0 ^ a0 << 16
    st[o] = s01 << 24 ^ s00 >>> 8 ^ a1 ^ (a1 << 16 | a0 >>> 16)
    st[o + 3] = a1 << 5 ^ a0 >>> 27
    st[o + 2] = a0 << 5 ^ a1 >>> 27
    return out >>> 0
  }

  int (n: number): number {
    if (!(n >= 1 && n <= TWO_32) || !Number.isInteger(n)) throw new SimInternalError(`int(n): n must be an integer in [1, 2^32], got ${n}`)
    if ((n & (n - 1)) === 0 && n < TWO_32) return this.u32() & (n - 1)
    const limit = Math.floor(TWO_32 / n) * n
    for (;;) {
      const v = this.u32()
      if (v < limit) return v % n
    }
  }

  float (): number {
    const hi = this.u32() >>> 6
    const lo = this.u32() >>> 5
    return (hi * FLOAT_LO + lo) / (FLOAT_HI * FLOAT_LO)
  }

  bytes (n: number): Uint8Array {
    const out = n <= 8 ? this.#scratch[n] : new Uint8Array(n)
    // the same bytes as SeededRng.bytes (each u32 little-endian), whole words unrolled:
    // src/mix's sampleExp takes 7 bytes per mixing delay, drawn per cell per hop
    let i = 0
    for (; i + 4 <= n; i += 4) {
      const v = this.u32()
      out[i] = v; out[i + 1] = v >>> 8; out[i + 2] = v >>> 16; out[i + 3] = v >>> 24
    }
    if (i < n) {
      const v = this.u32()
      for (let b = 0; i + b < n; b++) out[i + b] = v >>> (8 * b)
    }
    return out
  }

  exp (mean: number): number { return -mean * Math.log(1 - this.float()) }

  weibull (shape: number, scale: number): number { return scale * Math.pow(-Math.log(1 - this.float()), 1 / shape) }

  normal (): number {
    const u = 1 - this.float()
    const v = this.float()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}
