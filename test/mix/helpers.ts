/**
 * Test helpers for src/mix: a seeded Rng, the Kolmogorov–Smirnov statistic against an
 * exponential CDF, and Kendall's τ. Deterministic; never for production randomness.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'
import type { Rng } from '../../src/overlay/clock.ts'

/**
 * A seeded Rng (xoroshiro128+ from pure-rand): `bytes` takes 4 bytes per 32-bit draw,
 * little-endian; `int` is unbiased by rejection. Predictable by design: tests only.
 */
export function seededRng (seed: number): Rng & { draws: () => number } {
  const g = xoroshiro128plus(seed)
  let draws = 0
  const u32 = (): number => { draws++; return g.next() >>> 0 }
  return {
    bytes (n: number): Uint8Array {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i += 4) {
        const v = u32()
        for (let b = 0; b < 4 && i + b < n; b++) out[i + b] = (v >>> (8 * b)) & 0xff
      }
      return out
    },
    int (n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000) throw new RangeError(`int(n): bad n ${n}`)
      const limit = Math.floor(0x1_0000_0000 / n) * n
      for (;;) {
        const v = u32()
        if (v < limit) return v % n
      }
    },
    draws: () => draws
  }
}

/** One-sample KS statistic D = sup |F_n(x) − F(x)| of `samples` against the CDF `cdf`. */
export function ksStatistic (samples: readonly number[], cdf: (x: number) => number): number {
  const xs = [...samples].sort((a, b) => a - b)
  const n = xs.length
  let d = 0
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i])
    d = Math.max(d, (i + 1) / n - f, f - i / n)
  }
  return d
}

/** Asymptotic KS critical value at level α: sqrt(−ln(α/2) / 2) / sqrt(n) (1.628/√n at α = 0.01). */
export function ksCritical (n: number, alpha: number): number {
  return Math.sqrt(-Math.log(alpha / 2) / 2) / Math.sqrt(n)
}

export const expCdf = (mean: number) => (x: number): number => x <= 0 ? 0 : 1 - Math.exp(-x / mean)

/**
 * Kendall's τ-a between two rankings of the same items: `a[i]` and `b[i]` are item i's
 * positions (or values) in each. (concordant − discordant) / (n(n−1)/2). O(n²).
 */
export function kendallTau (a: readonly number[], b: readonly number[]): number {
  const n = a.length
  let s = 0
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      s += Math.sign(a[i] - a[j]) * Math.sign(b[i] - b[j])
    }
  }
  return s / (n * (n - 1) / 2)
}
