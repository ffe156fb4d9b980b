import { describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mergeShards, runScenario, sweepScenario } from '../../sim/run.ts'
import { parseScenario, resolveScenario } from '../../sim/scenario.ts'
import { ScenarioError, SimInputError } from '../../sim/errors.ts'

const TINY = `
name: tiny
seed: 5
modes: [dht, paths]
dht: { nodes: [200, 400], lookups: 40, churn: 0.1 }
paths: { relays: 120, clients: 10, days: 12, circuitsPerDay: 6, adversary: { fraction: 0.2, by: bandwidth } }
`

function tmp (): string { return mkdtempSync(join(tmpdir(), 'veil-sim-')) }

/** Every output file but run.json, by name. */
function outputs (dir: string): Map<string, string> {
  return new Map(readdirSync(dir).filter(f => f !== 'run.json').sort().map(f => [f, readFileSync(join(dir, f), 'utf8')]))
}

describe('runScenario', () => {
  it('same seed ⇒ byte-identical summary.json, CSVs and SVGs; run.json holds the run facts', async () => {
    const a = tmp(); const b = tmp()
    try {
      const progress: number[] = []
      const r = await runScenario(TINY, { outDir: a, onProgress: p => progress.push(p.fraction) })
      await runScenario(TINY, { outDir: b })
      const oa = outputs(a)
      expect([...oa.keys()]).toEqual(['dht-hops-vs-n.svg', 'dht_exposure_lookups.csv', 'dht_hops_histogram.csv', 'dht_lookups.csv', 'paths-compromise-cdf.svg', 'paths_compromise_cdf.csv', 'paths_summary.csv', 'summary.json'])
      expect(outputs(b)).toEqual(oa)
      const facts = JSON.parse(readFileSync(join(a, 'run.json'), 'utf8'))
      for (const k of ['events', 'events_per_s', 'peak_rss_mb', 'wall_per_sim', 'host', 'commit']) expect(facts).toHaveProperty(k)
      expect(facts.events).toBe(r.facts.events)
      expect(progress.at(-1)).toBe(1)
      for (const text of oa.values()) expect(text).not.toMatch(/20\d\d-\d\d-\d\dT/)
      // a different seed changes results
      const c = tmp()
      await runScenario(TINY, { outDir: c, seed: 6 })
      expect(outputs(c).get('summary.json')).not.toBe(oa.get('summary.json'))
      rmSync(c, { recursive: true })
    } finally {
      rmSync(a, { recursive: true }); rmSync(b, { recursive: true })
    }
  })
  it('the example scenarios parse', () => {
    for (const f of ['dht-small.yaml', 'paths-small.yaml']) {
      const s = parseScenario(readFileSync(join('sim/scenarios', f), 'utf8'))
      expect(s.name).toBe(f.replace('.yaml', ''))
    }
  })
})

describe('scenario validation', () => {
  it('every field has a default', () => {
    const s = resolveScenario({})
    expect(s.dht.k).toBe(20)
    expect(s.paths.pathLength).toBe(3)
    expect(s.modes).toEqual(['dht'])
  })
  const bad: Array<[unknown, string]> = [
    [{ dht: { k: 'twenty' } }, 'dht.k'],
    [{ dht: { nodes: [1000, -3] } }, 'dht.nodes[1]'],
    [{ paths: { adversary: { fraction: 2 } } }, 'paths.adversary.fraction'],
    [{ paths: { adversary: { by: 'money' } } }, 'paths.adversary.by'],
    [{ paths: { pathLenght: 3 } }, 'paths.pathLenght'],
    [{ modes: ['dht', 'mixes'] }, 'modes[1]'],
    [{ paths: { pathLength: 9 } }, 'paths.pathLength'],
    [{ dht: 5 }, 'dht'],
    [[1, 2], '']
  ]
  for (const [input, path] of bad) {
    it(`names ${path === '' ? 'the scenario' : path}`, () => {
      try {
        resolveScenario(input)
        expect.unreachable()
      } catch (err) {
        expect(err).toBeInstanceOf(ScenarioError)
        expect((err as ScenarioError).path).toBe(path)
      }
    })
  }
  it('YAML syntax errors are ScenarioErrors', () => {
    expect(() => parseScenario('dht: [1, 2')).toThrow(ScenarioError)
  })
})

describe('sweeps and shards', () => {
  const SWEEP = `
name: sweep
modes: [paths]
paths: { relays: 100, clients: 8, days: 6, circuitsPerDay: 4 }
`
  const opts = { param: 'paths.adversary.fraction', values: [0.1, 0.3], runs: 3, seed: 2 }
  it('shard 1/2 + shard 2/2 + merge equals the unsharded sweep byte for byte', async () => {
    const full = tmp(); const s1 = tmp(); const s2 = tmp(); const merged = tmp()
    try {
      await sweepScenario(SWEEP, { ...opts, outDir: full })
      await sweepScenario(SWEEP, { ...opts, outDir: s1, shard: { i: 1, n: 2 } })
      await sweepScenario(SWEEP, { ...opts, outDir: s2, shard: { i: 2, n: 2 } })
      await mergeShards([s2, s1], merged)
      const f = outputs(full)
      expect([...f.keys()]).toEqual(['summary.json', 'sweep-clientsCompromisedFraction.svg', 'sweep-compromisedFraction.svg', 'sweep.csv'])
      expect(outputs(merged)).toEqual(f)
      expect(f.get('sweep.csv')).toMatch(/^paths\.adversary\.fraction,metric,n,mean,sd,ci95\n0\.1,paths\.compromisedFraction,3,/)
      await expect(mergeShards([s1], join(tmpdir(), 'veil-sim-unused'))).rejects.toThrow(SimInputError)
    } finally {
      for (const d of [full, s1, s2, merged]) rmSync(d, { recursive: true })
    }
  })
  it('a bad sweep value names the field', async () => {
    await expect(sweepScenario(SWEEP, { ...opts, values: [0.1, 7], outDir: join(tmpdir(), 'veil-sim-unused') })).rejects.toThrow(/paths\.adversary\.fraction/)
    await expect(sweepScenario(SWEEP, { ...opts, shard: { i: 3, n: 2 }, outDir: join(tmpdir(), 'veil-sim-unused') })).rejects.toThrow(SimInputError)
  })
})
