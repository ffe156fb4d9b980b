import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { KAD_ALPHA, KAD_DISJOINT_PATHS, KAD_K, KAD_PREFIX_LENGTH, linearFit, runDht, type DhtParams } from '../../sim/dht.ts'
import { placeStorers, xorCompare } from '../../sim/placement.ts'
import { SeededRng } from '../../sim/rng.ts'

const base: Omit<DhtParams, 'nodes'> = { k: KAD_K, alpha: KAD_ALPHA, disjointPaths: KAD_DISJOINT_PATHS, prefixLength: KAD_PREFIX_LENGTH, table: 'kad-dht', lookups: 250, churn: 0, adversary: 0 }

describe('kad-dht parameters', () => {
  it('match the installed @libp2p/kad-dht defaults', () => {
    const consts = readFileSync('node_modules/@libp2p/kad-dht/src/constants.ts', 'utf8')
    const table = readFileSync('node_modules/@libp2p/kad-dht/src/routing-table/index.ts', 'utf8')
    expect(consts).toMatch(new RegExp(`export const K = ${KAD_K}\\b`))
    expect(consts).toMatch(new RegExp(`export const ALPHA = ${KAD_ALPHA}\\b`))
    expect(table).toMatch(new RegExp(`export const PREFIX_LENGTH = ${KAD_PREFIX_LENGTH}\\b`))
    expect(table).toMatch(new RegExp(`export const KBUCKET_SIZE = ${KAD_K}\\b`))
    expect(KAD_DISJOINT_PATHS).toBe(KAD_ALPHA)
  })
})

describe('DHT lookups without churn (N = 1k, 2k, 5k, 10k)', () => {
  // kad-dht 16's own shape and defaults; and the paper's Kademlia (α = 3, one path), whose
  // hop count moves enough with N for the fit to mean something at 250 lookups per size
  const variants = [
    { name: 'kad-dht trie, α=10, 10 paths', p: { table: 'kad-dht' as const } },
    { name: 'kademlia buckets, α=3, 1 path', p: { table: 'kademlia' as const, alpha: 3, disjointPaths: 1 } }
  ]
  for (const v of variants) {
    it(`${v.name}: success ≥ 99%, mean hops ≤ log2 N and linear in log2 N (R² ≥ 0.95)`, () => {
      const xs: number[] = []
      const ys: number[] = []
      for (const nodes of [1000, 2000, 5000, 10000]) {
        const r = runDht({ ...base, ...v.p, nodes }, 1)
        expect(r.successRate).toBeGreaterThanOrEqual(0.99)
        expect(r.meanHops).toBeLessThanOrEqual(Math.log2(nodes))
        xs.push(Math.log2(nodes)); ys.push(r.meanHops)
      }
      const fit = linearFit(xs, ys)
      expect(fit.b).toBeGreaterThan(0)
      expect(fit.r2).toBeGreaterThanOrEqual(0.95)
    })
  }
})

describe('DHT determinism and churn', () => {
  it('same seed ⇒ same result; stale tables cost timeouts', () => {
    const a = runDht({ ...base, nodes: 1500, lookups: 100, churn: 0.3, adversary: 0.1 }, 9)
    const b = runDht({ ...base, nodes: 1500, lookups: 100, churn: 0.3, adversary: 0.1 }, 9)
    expect(b).toEqual(a)
    const calm = runDht({ ...base, nodes: 1500, lookups: 100 }, 9)
    expect(a.meanTimeouts).toBeGreaterThan(calm.meanTimeouts)
    expect(a.touchedAdversaryRate).toBeGreaterThan(0)
  })
})

describe('storer placement (pure)', () => {
  const rng = SeededRng.derive(3, 'placement')
  const dir = Array.from({ length: 60 }, (_, i) => ({ id: `r${i}`, kadId: rng.bytes(32) }))
  const keys = [rng.bytes(32), rng.bytes(32)]
  it('R × S distinct storers, each the closest remaining to its replica key', () => {
    const p = placeStorers(keys, dir, 4)
    expect(p.map(x => x.length)).toEqual([4, 4])
    expect(new Set(p.flat()).size).toBe(8)
    const byId = new Map(dir.map(e => [e.id, e]))
    const first = dir.slice().sort((a, b) => xorCompare(a.kadId, b.kadId, keys[0]))
    expect(p[0]).toEqual(first.slice(0, 4).map(e => e.id))
    for (const id of p[1]) {
      // nothing unchosen is closer to key 1 than the farthest chosen storer
      const worst = byId.get(p[1][3])
      for (const e of dir) if (!p.flat().includes(e.id) && worst !== undefined) expect(xorCompare(e.kadId, worst.kadId, keys[1])).toBe(1)
      expect(byId.has(id)).toBe(true)
    }
  })
  it('does not depend on directory order; honours eligibility', () => {
    const reversed = dir.slice().reverse()
    expect(placeStorers(keys, reversed, 4)).toEqual(placeStorers(keys, dir, 4))
    const p = placeStorers(keys, dir, 4, e => Number(e.id.slice(1)) % 2 === 0)
    for (const id of p.flat()) expect(Number(id.slice(1)) % 2).toBe(0)
  })
})

describe('lookups touching the adversary, per adversary fraction', () => {
  it('nested sets: rate grows with f and matches the single-fraction rate at f = adversary', () => {
    const r = runDht({ ...base, nodes: 1000, lookups: 100, adversary: 0.1, adversaryFractions: [0.01, 0.05, 0.1, 0.3] }, 4)
    const rates = r.touchedAdversaryByFraction.map(x => x.rate)
    for (let j = 1; j < rates.length; j++) expect(rates[j]).toBeGreaterThanOrEqual(rates[j - 1])
    expect(r.touchedAdversaryByFraction[2]).toEqual({ fraction: 0.1, rate: r.touchedAdversaryRate })
  })
})
