import { describe, expect, it } from 'vitest'
import { runPaths, syntheticDirectory, type PathsParams } from '../../sim/paths.ts'

const base: PathsParams = {
  relays: 1000, clients: 100, days: 10, circuitsPerDay: 100, pathLength: 3, guards: false, layer2: false,
  weighting: 'uniform', capMedianMultiple: 4, rules: { distinctSubnet: false, distinctFamily: false },
  relaysPerSubnet: 1.5, familyFraction: 0.2, familySize: 3, bandwidthMedian: 1e6, bandwidthSigma: 1,
  adversaryFraction: 0.2, adversaryBy: 'count'
}

describe('path-compromise mode', () => {
  it('uniform selection, no guards: compromised fraction ≈ f² within 3 standard errors over 10^5 circuits', () => {
    const r = runPaths(base, 11)
    expect(r.circuits).toBe(100_000)
    const f = r.adversaryCountShare
    expect(f).toBeCloseTo(0.2, 10)
    const se = Math.sqrt(f * f * (1 - f * f) / r.circuits)
    expect(Math.abs(r.compromisedFraction - f * f)).toBeLessThan(3 * se)
  })
  it('guards: an entry is reused for months, so far fewer clients are ever compromised', () => {
    const p = { ...base, clients: 200, days: 60, circuitsPerDay: 12, adversaryFraction: 0.1 }
    const noGuards = runPaths(p, 5)
    const guards = runPaths({ ...p, guards: true, weighting: 'bandwidth', rules: { distinctSubnet: true, distinctFamily: true } }, 5)
    expect(noGuards.clientsCompromisedFraction).toBeGreaterThan(0.95)
    expect(guards.clientsCompromisedFraction).toBeLessThan(0.5)
    // the CDF is non-decreasing and ends at the reported fraction
    for (let d = 1; d < guards.compromiseCdf.length; d++) expect(guards.compromiseCdf[d]).toBeGreaterThanOrEqual(guards.compromiseCdf[d - 1])
    expect(guards.compromiseCdf.at(-1)).toBe(guards.clientsCompromisedFraction)
  })
  it('an adversary by bandwidth holds ≈ f of the selection weight', () => {
    const { dir, adversarial } = syntheticDirectory({ ...base, weighting: 'bandwidth', adversaryBy: 'bandwidth', adversaryFraction: 0.1 }, 2)
    let a = 0; let t = 0
    for (let i = 0; i < dir.size; i++) { t += dir.weights[i]; if (adversarial[i] === 1) a += dir.weights[i] }
    expect(a / t).toBeGreaterThanOrEqual(0.1)
    expect(a / t).toBeLessThan(0.11)
  })
  it('is deterministic in the seed', () => {
    const p = { ...base, clients: 20, days: 30, circuitsPerDay: 4, guards: true, layer2: true, pathLength: 4 }
    expect(runPaths(p, 3)).toEqual(runPaths(p, 3))
  })
})
