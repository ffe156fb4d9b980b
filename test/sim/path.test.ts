import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ManualClock } from '../../src/overlay/clock.ts'
import {
  BANDWIDTH_CAP_MEDIAN_MULTIPLE, DEFAULT_PATH_LENGTH, GUARD_LIFETIME_JITTER_FRACTION, GUARD_LIFETIME_MS, GuardSet,
  LAYER2_GUARD_COUNT, LAYER2_MAX_LIFETIME_MS, LAYER2_MIN_LIFETIME_MS, MAX_PATH_LENGTH, NoEligibleRelayError,
  PathDirectory, PathOptionsError, PRIMARY_GUARD_COUNT, buildPath, medianClaim, selectionWeight,
  type PathRules, type RelayCandidate
} from '../../src/onion/path/index.ts'
import { MAX_HOPS } from '../../src/onion/constants.ts'
import { SeededRng } from '../../sim/rng.ts'

const DAY = 86_400_000
const ON: PathRules = { distinctSubnet: true, distinctFamily: true }
const OFF: PathRules = { distinctSubnet: false, distinctFamily: false }

function relays (n: number, subnets = n, bw = (i: number) => 1000 + i): RelayCandidate[] {
  return Array.from({ length: n }, (_, i) => ({ id: `r${i}`, subnet16: `10.${i % subnets}`, family: [], bandwidthClaim: bw(i) }))
}

describe('path constants', () => {
  it('derive from onion/constants and the specs', () => {
    expect(DEFAULT_PATH_LENGTH).toBe(3)
    expect(MAX_PATH_LENGTH).toBe(MAX_HOPS)
    expect(PRIMARY_GUARD_COUNT).toBe(3)
    expect(GUARD_LIFETIME_MS).toBe(120 * DAY)
    expect(LAYER2_GUARD_COUNT).toBe(4)
    expect([LAYER2_MIN_LIFETIME_MS, LAYER2_MAX_LIFETIME_MS]).toEqual([DAY, 12 * DAY])
    expect(BANDWIDTH_CAP_MEDIAN_MULTIPLE).toBe(4)
  })
})

describe('weights', () => {
  const dir = new PathDirectory([
    { id: 'a', family: [], bandwidthClaim: 100 },
    { id: 'b', family: [], bandwidthClaim: 200 },
    { id: 'c', family: [], bandwidthClaim: 300 },
    { id: 'liar', family: [], bandwidthClaim: 1e15 },
    { id: 'measured', family: [], bandwidthClaim: 1e15, measured: 100 },
    { id: 'zero', family: [], bandwidthClaim: 0 }
  ])
  it('median, cap and the lowering-only rule', () => {
    expect(medianClaim(dir.relays)).toBe(300)
    expect(dir.cap).toBe(1200)
    expect(dir.weights[dir.indexOf('a') as number]).toBeCloseTo(100 / 1200)
    expect(dir.weights[dir.indexOf('liar') as number]).toBe(1)
    expect(dir.weights[dir.indexOf('measured') as number]).toBeCloseTo(100 / 1200)
    expect(dir.weights[dir.indexOf('zero') as number]).toBe(0)
    // a measurement above the claim never raises it
    expect(selectionWeight({ id: 'x', family: [], bandwidthClaim: 100, measured: 1e9 }, 1200, 'bandwidth')).toBeCloseTo(100 / 1200)
    expect(selectionWeight({ id: 'x', family: [], bandwidthClaim: 0 }, 1200, 'uniform')).toBe(1)
  })
  it('draws follow the weights', () => {
    const d = new PathDirectory([
      { id: 'a', family: [], bandwidthClaim: 100 }, { id: 'b', family: [], bandwidthClaim: 400 },
      { id: 'c', family: [], bandwidthClaim: 400 }, { id: 'z', family: [], bandwidthClaim: 0 }
    ], { capMedianMultiple: 1 })
    const rng = SeededRng.derive(1, 'weights')
    const counts = [0, 0, 0, 0]
    const N = 30_000
    for (let i = 0; i < N; i++) counts[d.pick(rng, () => true, 'middle')]++
    expect(counts[3]).toBe(0)
    // weights 0.25 : 1 : 1
    expect(counts[0] / N).toBeCloseTo(0.25 / 2.25, 2)
    expect(counts[1] / N).toBeCloseTo(1 / 2.25, 1)
  })
  it('rejects malformed directories', () => {
    expect(() => new PathDirectory([{ id: 'a', family: [], bandwidthClaim: 1 }, { id: 'a', family: [], bandwidthClaim: 1 }])).toThrow(PathOptionsError)
    expect(() => new PathDirectory([{ id: '', family: [], bandwidthClaim: 1 }])).toThrow(/relays\[0\]\.id/)
  })
})

describe('path rules', () => {
  it('issue 3: relays 1–4 share a /16, 5–6 one family: 1,000 paths never hold two of 1–4 nor both 5 and 6', () => {
    const rs: RelayCandidate[] = Array.from({ length: 12 }, (_, k) => {
      const i = k + 1
      return {
        id: `r${i}`,
        subnet16: i <= 4 ? '10.1' : `10.${i + 10}`,
        family: i === 5 ? ['r6'] : i === 6 ? ['r5'] : [],
        bandwidthClaim: 1000
      }
    })
    const dir = new PathDirectory(rs)
    const rng = SeededRng.derive(7, 'issue3')
    const clock = new ManualClock()
    for (let n = 0; n < 1000; n++) {
      const p = buildPath(dir, { rng, clock, guards: null, rules: ON }, { length: 3 + (n % 3) })
      expect(new Set(p).size).toBe(p.length)
      expect(p.filter(id => ['r1', 'r2', 'r3', 'r4'].includes(id)).length).toBeLessThanOrEqual(1)
      expect(p.includes('r5') && p.includes('r6')).toBe(false)
    }
  })
  it('a one-sided family claim does not bind', () => {
    const dir = new PathDirectory([
      { id: 'a', family: ['b'], bandwidthClaim: 1 }, { id: 'b', family: [], bandwidthClaim: 1 }
    ])
    expect(dir.conflicts(0, 1, ON)).toBe(false)
  })
  it('property: no relay twice; subnet and family rules hold when on', () => {
    const relayArb = fc.record({
      subnet: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
      fam: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
      bw: fc.integer({ min: 0, max: 10_000 })
    })
    fc.assert(fc.property(
      fc.array(relayArb, { minLength: 3, maxLength: 40 }), fc.integer(), fc.integer({ min: 2, max: 8 }), fc.boolean(), fc.boolean(),
      (spec, seed, length, rulesOn, useGuards) => {
        // family groups: relays with the same `fam` list each other (mutual)
        const rs: RelayCandidate[] = spec.map((s, i) => ({
          id: `r${i}`,
          subnet16: s.subnet === undefined ? undefined : `s${s.subnet}`,
          family: s.fam === undefined ? [] : spec.flatMap((t, j) => (t.fam === s.fam && j !== i ? [`r${j}`] : [])),
          bandwidthClaim: s.bw
        }))
        const dir = new PathDirectory(rs)
        const rules = rulesOn ? ON : OFF
        const rng = SeededRng.derive(seed, 'prop')
        const clock = new ManualClock()
        const guards = useGuards ? new GuardSet({ rules }) : null
        for (let k = 0; k < 5; k++) {
          let p: string[]
          try {
            p = buildPath(dir, { rng, clock, guards, rules }, { length })
          } catch (err) {
            if (err instanceof NoEligibleRelayError) continue
            throw err
          }
          expect(p.length).toBe(length)
          expect(new Set(p).size).toBe(length)
          const idx = p.map(id => dir.indexOf(id) as number)
          for (const i of idx) expect(dir.weights[i]).toBeGreaterThan(0)
          if (rulesOn) {
            for (let a = 0; a < idx.length; a++) {
              for (let b = a + 1; b < idx.length; b++) {
                const ra = rs[idx[a]]
                const rb = rs[idx[b]]
                if (ra.subnet16 !== undefined) expect(ra.subnet16).not.toBe(rb.subnet16)
                expect(ra.family.includes(rb.id) && rb.family.includes(ra.id)).toBe(false)
              }
            }
          }
          clock.advance(DAY)
        }
      }), { numRuns: 200 })
  })
  it('rejects bad lengths and layer-2 without guards', () => {
    const dir = new PathDirectory(relays(20))
    const ctx = { rng: SeededRng.derive(1, 'x'), clock: new ManualClock() }
    expect(() => buildPath(dir, ctx, { length: 9 })).toThrow(PathOptionsError)
    expect(() => buildPath(dir, ctx, { length: 1 })).toThrow(PathOptionsError)
    expect(() => buildPath(dir, ctx, { length: 3, layer2: true })).toThrow(/layer2/)
  })
  it('a fixed last hop is honoured and excluded relays never appear', () => {
    const dir = new PathDirectory(relays(30))
    const ctx = { rng: SeededRng.derive(2, 'x'), clock: new ManualClock(), guards: new GuardSet() }
    for (let k = 0; k < 200; k++) {
      const p = buildPath(dir, ctx, { length: 4, lastHop: 'r7', exclude: ['r3', 'r4'] })
      expect(p[3]).toBe('r7')
      expect(p.includes('r3') || p.includes('r4')).toBe(false)
    }
  })
})

describe('GuardSet', () => {
  it('guards persist across calls until expiry, then are replaced', () => {
    const dir = new PathDirectory(relays(200))
    const rng = SeededRng.derive(3, 'guards')
    const clock = new ManualClock(0)
    const guards = new GuardSet()
    const ctx = { rng, clock, guards }
    buildPath(dir, ctx)
    const first = guards.primary()
    expect(first.length).toBe(PRIMARY_GUARD_COUNT)
    const minLife = GUARD_LIFETIME_MS * (1 - GUARD_LIFETIME_JITTER_FRACTION)
    for (let t = 0; t < minLife; t += minLife / 50) {
      clock.set(t)
      const p = buildPath(dir, ctx)
      expect(p[0]).toBe(first[0])
      expect(guards.primary()).toEqual(first)
    }
    clock.set(GUARD_LIFETIME_MS + 1)
    buildPath(dir, ctx)
    const after = guards.primary()
    expect(after.length).toBe(PRIMARY_GUARD_COUNT)
    expect(after.filter(id => first.includes(id)).length).toBe(0)
  })
  it('layer-2 guards live 1–12 days and shape G L2 M X paths', () => {
    const dir = new PathDirectory(relays(200))
    const rng = SeededRng.derive(4, 'l2')
    const clock = new ManualClock(0)
    const guards = new GuardSet()
    const ctx = { rng, clock, guards }
    buildPath(dir, ctx, { length: 4, layer2: true })
    const st = guards.toJSON()
    expect(st.layer2.length).toBe(LAYER2_GUARD_COUNT)
    for (const e of st.layer2) {
      expect(e.expiresAt - e.addedAt).toBeGreaterThanOrEqual(LAYER2_MIN_LIFETIME_MS)
      expect(e.expiresAt - e.addedAt).toBeLessThanOrEqual(LAYER2_MAX_LIFETIME_MS)
    }
    const l2 = new Set<string>()
    for (let k = 0; k < 200; k++) {
      const p = buildPath(dir, ctx, { length: 4, layer2: true })
      expect(guards.layer2()).toContain(p[1])
      expect(p[0]).toBe(guards.primary()[0])
      l2.add(p[1])
    }
    expect(l2.size).toBeLessThanOrEqual(LAYER2_GUARD_COUNT)
    clock.set(LAYER2_MAX_LIFETIME_MS + 1)
    buildPath(dir, ctx, { length: 4, layer2: true })
    expect(guards.layer2().filter(id => l2.has(id)).length).toBe(0)
  })
  it('an unlisted guard is replaced at the next refresh', () => {
    const all = relays(50)
    const rng = SeededRng.derive(5, 'unlisted')
    const clock = new ManualClock(0)
    const guards = new GuardSet()
    buildPath(new PathDirectory(all), { rng, clock, guards })
    const gone = guards.primary()[0]
    const dir2 = new PathDirectory(all.filter(r => r.id !== gone))
    const p = buildPath(dir2, { rng, clock, guards })
    expect(guards.primary()).not.toContain(gone)
    expect(guards.primary().length).toBe(PRIMARY_GUARD_COUNT)
    expect(p[0]).toBe(guards.primary()[0])
  })
  it('state round-trips through JSON and the restored set behaves identically', () => {
    const dir = new PathDirectory(relays(100))
    const clock = new ManualClock(0)
    const g1 = new GuardSet()
    buildPath(dir, { rng: SeededRng.derive(6, 'a'), clock, guards: g1 }, { length: 4, layer2: true })
    const g2 = GuardSet.fromJSON(JSON.parse(JSON.stringify(g1.toJSON())))
    expect(g2.toJSON()).toEqual(g1.toJSON())
    const p1 = buildPath(dir, { rng: SeededRng.derive(6, 'b'), clock, guards: g1 }, { length: 4, layer2: true })
    const p2 = buildPath(dir, { rng: SeededRng.derive(6, 'b'), clock, guards: g2 }, { length: 4, layer2: true })
    expect(p2).toEqual(p1)
  })
  it('malformed state names the field', () => {
    expect(() => GuardSet.fromJSON({ version: 1, primary: [{ id: 'a', addedAt: 0 }], layer2: [] })).toThrow(/primary\[0\]\.expiresAt/)
    expect(() => GuardSet.fromJSON({ version: 2, primary: [], layer2: [] })).toThrow(/version/)
    expect(() => GuardSet.fromJSON({ version: 1, primary: [{ id: 'a', addedAt: 0, expiresAt: 1 }], layer2: [{ id: 'a', addedAt: 0, expiresAt: 1 }] })).toThrow(/twice/)
  })
})
