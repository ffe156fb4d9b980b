/**
 * DHT mode, issue 7's remaining metrics: lookup success against republish interval and
 * churn, and exposure — records whose storers (src/registry placeStorers) are all
 * adversarial, for a random-placement and a targeting (id-grinding) adversary, with and
 * without the storage-eligibility age. Plus scenario fields and output determinism.
 */
import { describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KAD_ALPHA, KAD_DISJOINT_PATHS, KAD_K, KAD_PREFIX_LENGTH, runExposure, runRepublish, type ExposureParams, type TargetedRow } from '../../sim/dht.ts'
import { runScenario } from '../../sim/run.ts'
import { parseScenario, resolveScenario, scenarioToRaw } from '../../sim/scenario.ts'
import { ScenarioError } from '../../sim/errors.ts'
import { DEFAULT_REPLICAS, DEFAULT_STORERS_PER_REPLICA, STORAGE_ELIGIBILITY_PERIODS } from '../../src/registry/placement.ts'

const kad = { k: KAD_K, alpha: KAD_ALPHA, disjointPaths: KAD_DISJOINT_PATHS, prefixLength: KAD_PREFIX_LENGTH, table: 'kad-dht' as const }
const veilPlacement = { replicas: DEFAULT_REPLICAS, storersPerReplica: DEFAULT_STORERS_PER_REPLICA }
const noTargeted = { records: 0, periods: 5, periodS: 86_400, eligibilityPeriods: [0, 2], fetchesPerPeriod: 8, joinDelayS: 600, sharedRandom: false }

describe('republish interval vs churn', () => {
  const intervalsH = [1, 4, 12, 48]
  const r = runRepublish({
    lookups: 120, nodes: 1000, intervalsH, sessionMedianH: [0.5, 8], sessionShape: 0.6,
    downtime: { kind: 'exp', mean: 900 }, recordTtlH: 48, windowH: 24, placements: ['kad', 'registry']
  }, kad, veilPlacement, 3)
  const row = (pl: string, m: number, i: number) => r.rows.find(x => x.placement === pl && x.sessionMedianH === m && x.intervalH === i)!

  it('success falls with the republish interval when storers lose records offline, and churn makes it fall faster', () => {
    expect(r.rows).toHaveLength(2 * 2 * intervalsH.length)
    for (const pl of ['kad', 'registry']) {
      for (const m of [0.5, 8]) {
        const v = intervalsH.map(i => row(pl, m, i).successVolatile)
        for (let j = 1; j < v.length; j++) expect(v[j]).toBeLessThanOrEqual(v[j - 1])
        expect(v[0]).toBeGreaterThanOrEqual(0.98) // hourly republish survives 30-min median sessions
        for (const i of intervalsH) expect(row(pl, m, i).successPersistent).toBeGreaterThanOrEqual(row(pl, m, i).successVolatile)
      }
      // short sessions hurt: at 48 h the 30-min churn loses many more records than the 8-h churn
      expect(row(pl, 0.5, 48).successVolatile).toBeLessThan(row(pl, 8, 48).successVolatile - 0.3)
    }
    expect(r.storersPerRecord).toEqual({ kad: KAD_K, registry: 8 })
    expect(r.onlineFraction[0].fraction).toBeLessThan(r.onlineFraction[1].fraction)
  })
  it('is deterministic', () => {
    const again = runRepublish({
      lookups: 20, nodes: 300, intervalsH: [2, 12], sessionMedianH: [1], sessionShape: 0.6,
      downtime: { kind: 'exp', mean: 900 }, recordTtlH: 48, windowH: 24, placements: ['registry', 'kad']
    }, kad, veilPlacement, 5)
    expect(runRepublish({
      lookups: 20, nodes: 300, intervalsH: [2, 12], sessionMedianH: [1], sessionShape: 0.6,
      downtime: { kind: 'exp', mean: 900 }, recordTtlH: 48, windowH: 24, placements: ['registry', 'kad']
    }, kad, veilPlacement, 5)).toEqual(again)
  })
})

describe('exposure: random-placement adversary (placeStorers)', () => {
  it('all R·S storers adversarial ≈ the hypergeometric C(A, RS)/C(N, RS) — measurable at R·S = 2', () => {
    const e: ExposureParams = { fractions: [0.2, 0.3], relays: 800, records: 3000, targeted: noTargeted }
    const r = runExposure(e, { replicas: 2, storersPerReplica: 1 }, 4)
    for (const x of r.random!) {
      const se = Math.sqrt(x.exactShare * (1 - x.exactShare) / x.records)
      expect(Math.abs(x.capturedShare - x.exactShare)).toBeLessThan(3 * se)
      expect(x.meanAdversarialStorers).toBeCloseTo(2 * x.adversaryRelays / 800, 1)
      expect(x.histogram.reduce((a, b) => a + b, 0)).toBe(3000)
    }
  })
  it('Veil placement (2 × 4): f^8 scale, nothing captured among 2,000 records', () => {
    const e: ExposureParams = { fractions: [0.05, 0.1, 0.2, 0.3], relays: 2000, records: 2000, targeted: noTargeted }
    const r = runExposure(e, veilPlacement, 1)
    expect(r.storersPerRecord).toBe(8)
    for (const x of r.random!) {
      expect(x.capturedRecords).toBe(0)
      expect(x.exactShare / x.powerShare).toBeGreaterThan(0.2)
      expect(x.exactShare / x.powerShare).toBeLessThan(2)
    }
    const any = r.random!.map(x => x.anyAdversarialShare)
    for (let j = 1; j < any.length; j++) expect(any[j]).toBeGreaterThan(any[j - 1])
  })
})

describe('exposure: targeting adversary grinding ids next to a record\'s storage keys', () => {
  const e: ExposureParams = {
    fractions: [], relays: 1000, records: 0,
    targeted: { records: 25, periods: 5, periodS: 86_400, eligibilityPeriods: [0, STORAGE_ELIGIBILITY_PERIODS], fetchesPerPeriod: 8, joinDelayS: 600, sharedRandom: true }
  }
  const r = runExposure(e, veilPlacement, 2)
  const share = (ks: TargetedRow['keySchedule'], age: number, p: number): number =>
    r.targeted!.rows.find(x => x.keySchedule === ks && x.eligibilityPeriods === age && x.period === p)!.capturedShare

  it('without the eligibility age: captured from the moment the address is known', () => {
    expect(share('address', 0, 0)).toBeGreaterThan(0.25) // the rest of the learning period
    expect(share('address', 0, 0)).toBeLessThan(0.75)
    for (let p = 1; p < 5; p++) expect(share('address', 0, p)).toBe(1)
  })
  it('with the age of 2 periods and address-derived keys (Veil): delayed two periods, then captured (planned attack)', () => {
    expect(share('address', 2, 0)).toBe(0)
    expect(share('address', 2, 1)).toBe(0)
    expect(share('address', 2, 2)).toBeGreaterThan(0.2)
    expect(share('address', 2, 2)).toBeLessThan(0.8)
    expect(share('address', 2, 3)).toBe(1)
    expect(share('address', 2, 4)).toBe(1)
  })
  it('shared random value (not in Veil): alone it buys nothing; with the age it stops the targeted capture', () => {
    for (let p = 1; p < 5; p++) expect(share('shared-random', 0, p)).toBeGreaterThanOrEqual(0.95)
    for (let p = -1; p < 5; p++) expect(share('shared-random', 2, p)).toBe(0)
    expect(r.targeted!.meanGrindHashesPerRelay).toBeGreaterThan(100)
  })
})

describe('scenario fields and outputs', () => {
  const SCEN = `
name: dht-x
seed: 3
modes: [dht]
dht:
  nodes: [300]
  lookups: 30
  republish: { lookups: 15, nodes: 300, intervalsH: [1, 12], sessionMedianH: [1] }
  exposure: { fractions: [0.1, 0.3], relays: 300, records: 200, targeted: { records: 4, periods: 3, sharedRandom: true } }
`
  function outputs (dir: string): Map<string, string> {
    return new Map(readdirSync(dir).filter(f => f !== 'run.json').sort().map(f => [f, readFileSync(join(dir, f), 'utf8')]))
  }
  it('same seed ⇒ byte-identical summary.json, CSVs and SVGs, including the new tables', async () => {
    const a = mkdtempSync(join(tmpdir(), 'veil-sim-')); const b = mkdtempSync(join(tmpdir(), 'veil-sim-'))
    try {
      await runScenario(SCEN, { outDir: a })
      await runScenario(SCEN, { outDir: b })
      const oa = outputs(a)
      expect([...oa.keys()]).toEqual(['dht-hops-vs-n.svg', 'dht-republish.svg', 'dht_exposure_lookups.csv', 'dht_exposure_random.csv', 'dht_exposure_random_histogram.csv',
        'dht_exposure_targeted.csv', 'dht_hops_histogram.csv', 'dht_lookups.csv', 'dht_republish.csv', 'summary.json'])
      expect(outputs(b)).toEqual(oa)
      const summary = JSON.parse(oa.get('summary.json')!)
      expect(summary.results.dhtRepublish.rows).toHaveLength(4)
      expect(summary.results.dhtExposure.random).toHaveLength(2)
      expect(summary.results.dht[0].touchedAdversaryByFraction.map((x: { fraction: number }) => x.fraction)).toEqual([0.1, 0.3])
      expect(oa.get('dht_exposure_targeted.csv')).toMatch(/^key_schedule,implemented_in_veil,/)
      expect(oa.get('dht_exposure_targeted.csv')).toMatch(/\nshared-random,no,2,all,/)
    } finally {
      rmSync(a, { recursive: true }); rmSync(b, { recursive: true })
    }
  })
  it('defaults: the new models are off, with documented parameters; the raw form round-trips', () => {
    const s = resolveScenario({})
    expect(s.dht.republish.lookups).toBe(0)
    expect(s.dht.exposure.records).toBe(0)
    expect(s.dht.exposure.targeted.records).toBe(0)
    expect(s.dht.republish.intervalsH).toEqual([1, 2, 4, 12, 48])
    expect(s.dht.republish.recordTtlH).toBe(48)
    expect(s.dht.exposure.fractions).toEqual([0.05, 0.1, 0.2, 0.3])
    expect(s.dht.exposure.targeted.eligibilityPeriods).toEqual([0, 2])
    expect(s.dht.exposure.targeted.sharedRandom).toBe(false)
    expect(s.dht.registry).toEqual({ replicas: 2, storersPerReplica: 4 })
    const t = parseScenario(SCEN)
    expect(resolveScenario(scenarioToRaw(t))).toEqual(t)
  })
  it('the example scenarios parse', () => {
    for (const f of ['dht-republish.yaml', 'dht-exposure.yaml']) {
      const s = parseScenario(readFileSync(join('sim/scenarios', f), 'utf8'))
      expect(s.name).toBe(f.replace('.yaml', ''))
    }
  })
  const bad: Array<[unknown, string]> = [
    [{ dht: { republish: { intervalsH: [1, -2] } } }, 'dht.republish.intervalsH[1]'],
    [{ dht: { republish: { sessionMedianH: 'long' } } }, 'dht.republish.sessionMedianH[0]'],
    [{ dht: { republish: { placement: ['kad', 'chord'] } } }, 'dht.republish.placement[1]'],
    [{ dht: { republish: { downtime: { dist: 'pareto' } } } }, 'dht.republish.downtime.dist'],
    [{ dht: { republish: { downtime: { dist: 'exp' } } } }, 'dht.republish.downtime.mean'],
    [{ dht: { republish: { lookups: 1.5 } } }, 'dht.republish.lookups'],
    [{ dht: { republish: { nodes: 8 } } }, 'dht.republish.nodes'],
    [{ dht: { republish: { interval: 3 } } }, 'dht.republish.interval'],
    [{ dht: { exposure: { fractions: [0.1, 1.5] } } }, 'dht.exposure.fractions[1]'],
    [{ dht: { exposure: { records: 10, relays: 8 } } }, 'dht.exposure.relays'],
    [{ dht: { exposure: { targeted: { eligibilityPeriods: [0, 1.5] } } } }, 'dht.exposure.targeted.eligibilityPeriods[1]'],
    [{ dht: { exposure: { targeted: { sharedRandom: 'yes' } } } }, 'dht.exposure.targeted.sharedRandom'],
    [{ dht: { exposure: { targeted: { joinDelayS: 90_000 } } } }, 'dht.exposure.targeted.joinDelayS'],
    [{ dht: { registry: { replicas: 0 } } }, 'dht.registry.replicas'],
    [{ dht: { lookups: -1 } }, 'dht.lookups']
  ]
  for (const [input, path] of bad) {
    it(`names ${path}`, () => {
      try {
        resolveScenario(input)
        expect.unreachable()
      } catch (err) {
        expect(err).toBeInstanceOf(ScenarioError)
        expect((err as ScenarioError).path).toBe(path)
      }
    })
  }
})
