/** Placement (pure): XOR-closest eligible relays, distinct across replicas, eligibility age. */
import { describe, it, expect } from 'vitest'
import { placeStorers, storersFor, storageEligible, keyKadId, relayKadId, xorCompare, defaultEligibilityAgeMs, type StorerCandidate } from '../../src/registry/placement.ts'
import { placeStorers as simPlace } from '../../sim/placement.ts'
import { DEFAULT_PERIODS } from '../../src/registry/time.ts'
import { seededRng } from './helpers.ts'

const rng = seededRng('placement')
const dir: StorerCandidate[] = Array.from({ length: 40 }, (_, i) => ({ id: `r${i}`, kadId: relayKadId(rng(38)), firstSeen: i < 30 ? 0 : 1_000_000 }))
const keys = [new TextEncoder().encode('/veil-desc/a'), new TextEncoder().encode('/veil-desc/b')]

describe('placement', () => {
  it('R×S distinct storers, each replica closest-first by XOR over the eligible relays', () => {
    const out = storersFor(keys, dir, { nowMs: 1_000_000, minAgeMs: 500_000 })
    expect(out.map(s => s.length)).toEqual([4, 4])
    expect(new Set(out.flat()).size).toBe(8)
    for (const id of out.flat()) expect(Number(id.slice(1))).toBeLessThan(30) // the 10 young relays are not eligible
    // replica 0: exactly the 4 closest eligible relays
    const t = keyKadId(keys[0])
    const sorted = dir.filter(d => Number(d.id.slice(1)) < 30).sort((a, b) => xorCompare(a.kadId, b.kadId, t))
    expect(out[0]).toEqual(sorted.slice(0, 4).map(d => d.id))
  })
  it('independent of directory order; the simulator computes the same', () => {
    const a = placeStorers(keys.map(keyKadId), dir)
    const b = placeStorers(keys.map(keyKadId), [...dir].reverse())
    expect(a).toEqual(b)
    expect(simPlace(keys.map(keyKadId), dir)).toEqual(a)
  })
  it('eligibility: ≥ 2 periods in the directory by default', () => {
    const age = defaultEligibilityAgeMs(DEFAULT_PERIODS)
    expect(age).toBe(2 * 86_400_000)
    expect(storageEligible(0, age - 1, age)).toBe(false)
    expect(storageEligible(0, age, age)).toBe(true)
  })
})
