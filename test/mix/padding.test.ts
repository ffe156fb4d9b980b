import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { RELAY_DATA_MAX } from '../../src/onion/constants.ts'
import {
  DEFAULT_LINK_PADDING, MAX_PADDED_CELLS, MixCallerError, NO_PADDING, POW2_BUCKETS, linkPaddingDue, linkPaddingGapMs,
  messageCellCount, nextLinkPaddingAt, paddedCellCount, paddingCellsAfter, validateBuckets, validateLinkPadding
} from '../../src/mix/index.ts'
import { seededRng } from './helpers.ts'

describe('paddedCellCount', () => {
  it('powers of two', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 1000, 1024, 1025].map((n) => paddedCellCount(n, POW2_BUCKETS))).toEqual([1, 2, 4, 4, 8, 8, 16, 1024, 1024, 2048])
  })

  it('a configured list; beyond it, multiples of the largest', () => {
    const b = [1, 4, 16, 64]
    expect([1, 2, 4, 5, 16, 17, 64, 65, 128, 129].map((n) => paddedCellCount(n, b))).toEqual([1, 4, 4, 16, 16, 64, 64, 128, 128, 192])
  })

  it('none', () => {
    expect(paddedCellCount(37, NO_PADDING)).toBe(37)
  })

  it('property: the smallest allowed size ≥ n', () => {
    const buckets = fc.uniqueArray(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 12 }).map((a) => a.sort((x, y) => x - y))
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.oneof(fc.constant<'pow2'>(POW2_BUCKETS), buckets), (n, b) => {
      const p = paddedCellCount(n, b)
      expect(p).toBeGreaterThanOrEqual(n)
      if (b === POW2_BUCKETS) {
        expect(Number.isInteger(Math.log2(p))).toBe(true)
        expect(p < 2 * n).toBe(true)
      } else {
        const largest = b[b.length - 1]
        if (n <= largest) {
          expect(b).toContain(p)
          expect(b.filter((x) => x >= n && x < p)).toEqual([])
        } else {
          expect(p % largest).toBe(0)
          expect(p - n).toBeLessThan(largest)
        }
      }
      expect(paddedCellCount(p, b)).toBe(p) // idempotent
    }))
  })

  it('rejects bad input', () => {
    expect(() => paddedCellCount(0, POW2_BUCKETS)).toThrow(MixCallerError)
    expect(() => paddedCellCount(1.5, POW2_BUCKETS)).toThrow(MixCallerError)
    expect(() => paddedCellCount(MAX_PADDED_CELLS + 1, POW2_BUCKETS)).toThrow(MixCallerError)
    expect(() => validateBuckets([])).toThrow(/non-empty/)
    expect(() => validateBuckets([4, 2])).toThrow(/strictly increasing/)
    expect(() => validateBuckets([0])).toThrow(/integer in \[1/)
    expect(() => validateBuckets('pow3')).toThrow(MixCallerError)
    expect(validateBuckets([1, 2, 8])).toEqual([1, 2, 8])
  })

  it('messageCellCount uses the relay payload size', () => {
    expect(messageCellCount(0)).toBe(1)
    expect(messageCellCount(RELAY_DATA_MAX)).toBe(1)
    expect(messageCellCount(RELAY_DATA_MAX + 1)).toBe(2)
    expect(() => messageCellCount(-1)).toThrow(MixCallerError)
  })
})

describe('link padding decision', () => {
  const policy = { ratePerSec: 2, idleAfterMs: 1000 }

  it('first padding after the idle period, then at the rate, and a real cell resets it', () => {
    expect(nextLinkPaddingAt(0, -Infinity, policy)).toBe(1000)
    expect(linkPaddingDue(999, 0, -Infinity, policy)).toBe(false)
    expect(linkPaddingDue(1000, 0, -Infinity, policy)).toBe(true)
    expect(nextLinkPaddingAt(0, 1000, policy)).toBe(1500)
    expect(nextLinkPaddingAt(0, 1500, policy)).toBe(2000)
    // a real cell at 1700: idle again only at 2700
    expect(nextLinkPaddingAt(1700, 1500, policy)).toBe(2700)
    expect(linkPaddingDue(2000, 1700, 1500, policy)).toBe(false)
  })

  it('simulated idle link emits at the configured rate; a busy link emits none', () => {
    const run = (realEveryMs: number): number => {
      let lastReal = 0
      let lastPad = -Infinity
      let pads = 0
      for (let t = 0; t <= 60_000; t += 10) {
        if (realEveryMs > 0 && t % realEveryMs === 0) lastReal = t
        if (linkPaddingDue(t, lastReal, lastPad, policy)) { pads++; lastPad = t }
      }
      return pads
    }
    expect(run(0)).toBe(119) // first at 1 s, then every 500 ms to 60 s
    expect(run(500)).toBe(0)
  })

  it('rate 0 never pads; Exp gaps with an Rng; validation', () => {
    expect(nextLinkPaddingAt(0, -Infinity, { ratePerSec: 0, idleAfterMs: 0 })).toBe(Infinity)
    expect(linkPaddingGapMs(policy)).toBe(500)
    const rng = seededRng(4)
    const gaps = Array.from({ length: 2000 }, () => linkPaddingGapMs(policy, rng))
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeGreaterThan(450)
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeLessThan(550)
    expect(validateLinkPadding(DEFAULT_LINK_PADDING)).toBe(DEFAULT_LINK_PADDING)
    expect(() => validateLinkPadding({ ratePerSec: -1, idleAfterMs: 0 })).toThrow(MixCallerError)
  })
})

describe('paddingCellsAfter', () => {
  it('is what a message needs to reach its bucket; beyond MAX_PADDED_CELLS it pads as the largest', () => {
    expect([1, 3, 5, 8].map((n) => paddingCellsAfter(n, POW2_BUCKETS))).toEqual([0, 1, 3, 0])
    expect(paddingCellsAfter(3, NO_PADDING)).toBe(0)
    expect(paddingCellsAfter(MAX_PADDED_CELLS + 5, POW2_BUCKETS)).toBe(0)
  })
})
