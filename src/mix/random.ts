/**
 * Distributions drawn from an injected `Rng` (overlay/clock.ts): uniform doubles with
 * full 53-bit precision and exponential samples. Never Math.random.
 *
 * ## Building a double from `Rng.bytes`
 * Draw UNIFORM_BYTES = 7 bytes b0..b6 (56 bits, big-endian) and keep the top 53:
 *
 * ```
 *   m = b0·2^45 + b1·2^37 + b2·2^29 + b3·2^21 + b4·2^13 + b5·2^5 + (b6 >>> 3)     (0 ≤ m < 2^53)
 *   u = m / 2^53                                                                     (0 ≤ u ≤ 1 − 2^−53)
 * ```
 *
 * Every partial sum is an integer below 2^53, so the arithmetic is exact, and `u` takes
 * each of the 2^53 evenly spaced values in [0, 1) with equal probability (given uniform
 * bytes). Dividing by a power of two is exact too. (Drawing 8 bytes and dividing by 2^64
 * would round, and could return 1.0.)
 *
 * ## Exponential
 * `d = −mean · ln(1 − u)` (inversion). `1 − u ∈ [2^−53, 1]`, so `d` is finite and at most
 * 53·ln 2 ≈ 36.7 means (MAX_EXP_SAMPLE_MEANS); `log1p(−u)` keeps precision for small u.
 *
 * Security: mixing delays must be unpredictable to an observer, so relays pass a
 * cryptographically strong Rng (overlay/clock.ts `secureRng`). Seeded generators are
 * for tests and sim/ only.
 */
import type { Rng } from '../overlay/clock.ts'
import { UNIFORM_BITS, UNIFORM_BYTES } from './constants.ts'
import { MixCallerError } from './errors.ts'

const TWO_53 = 2 ** UNIFORM_BITS
const TWO_45 = 2 ** 45
const TWO_37 = 2 ** 37
const TWO_29 = 2 ** 29
const TWO_21 = 2 ** 21
const TWO_13 = 2 ** 13
const TWO_5 = 2 ** 5
/** The 56 − 53 = 3 low bits of the last byte are discarded. */
const DROPPED_BITS = UNIFORM_BYTES * 8 - UNIFORM_BITS

/** The 53-bit integer `m` of the doc comment, from 7 bytes. Exported for tests. */
export function mantissa53 (b: Uint8Array): number {
  if (b.length !== UNIFORM_BYTES) throw new MixCallerError(`mantissa53: need ${UNIFORM_BYTES} bytes, got ${b.length}`)
  return b[0] * TWO_45 + b[1] * TWO_37 + b[2] * TWO_29 + b[3] * TWO_21 + b[4] * TWO_13 + b[5] * TWO_5 + (b[6] >>> DROPPED_BITS)
}

/** Uniform double in [0, 1) with 53 random bits. */
export function uniform53 (rng: Rng): number {
  return mantissa53(rng.bytes(UNIFORM_BYTES)) / TWO_53
}

/** Exponential sample with the given mean (0 for mean 0). */
export function sampleExp (rng: Rng, mean: number): number {
  if (!(mean >= 0) || !Number.isFinite(mean)) throw new MixCallerError(`sampleExp: mean must be finite and ≥ 0, got ${mean}`)
  if (mean === 0) return 0
  return -mean * Math.log1p(-uniform53(rng))
}
