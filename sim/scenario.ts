/**
 * Scenarios: what a simulation run does. Parsed from YAML (the `yaml` package) or given as
 * an object; every field has a default and a meaning (docs/sim.md lists them); a bad or
 * unknown field throws ScenarioError naming its dotted path.
 *
 *   name: dht-small
 *   modes: [dht, paths]
 *   dht:   { nodes: [1000, 2000], lookups: 500, churn: 0, republish: { lookups: 300 }, exposure: { records: 2000 } }
 *   paths: { relays: 1000, clients: 200, days: 90, adversary: { fraction: 0.1, by: bandwidth } }
 */
import { parse as parseYaml } from 'yaml'
import {
  KAD_ALPHA, KAD_DISJOINT_PATHS, KAD_K, KAD_PREFIX_LENGTH, KAD_RECORD_VALIDITY_H, REPUBLISH_PLACEMENTS,
  type DhtParams, type ExposureParams, type RepublishParams, type RepublishPlacement, type TableShape
} from './dht.ts'
import { DEFAULT_REPLICAS, DEFAULT_STORERS_PER_REPLICA, STORAGE_ELIGIBILITY_PERIODS } from '../src/registry/placement.ts'
import { DEFAULT_PERIOD_SECONDS } from '../src/registry/constants.ts'
import type { PathsParams } from './paths.ts'
import type { ChurnParams, MessageParams } from './message.ts'
import { DEFAULT_GEOGRAPHY, DIST_KINDS, type Dist, type GeographyParams } from './engine/network.ts'
import { PROFILE_NAMES, type ProfileName } from '../src/mix/index.ts'
import { ScenarioError } from './errors.ts'
import { DEFAULT_PATH_LENGTH, MAX_PATH_LENGTH, MIN_PATH_LENGTH, BANDWIDTH_CAP_MEDIAN_MULTIPLE } from '../src/onion/path/index.ts'

export type Mode = 'dht' | 'paths' | 'message'
export const MODES: readonly Mode[] = ['dht', 'paths', 'message']

export interface Scenario {
  name: string
  seed: number
  modes: Mode[]
  dht: Omit<DhtParams, 'nodes' | 'adversaryFractions'> & {
    nodes: number[]
    /** Registry placement shape used by dht.republish (placement: registry) and dht.exposure. */
    registry: { replicas: number, storersPerReplica: number }
    republish: RepublishParams
    exposure: ExposureParams
  }
  paths: PathsParams
  message: MessageParams
}

/** Default client session: Weibull, median 30 min, shape 0.6 (heavy-tailed, as P2P session measurements find). */
export const DEFAULT_SESSION: Dist = { kind: 'weibull', median: 1800, shape: 0.6 }
/** Default downtime between sessions: exponential, mean 15 min. */
export const DEFAULT_DOWNTIME: Dist = { kind: 'exp', mean: 900 }
/** Relay uplinks, bytes/s: log-normal, median 2.5 MB/s (20 Mbit/s), σ 1. */
export const DEFAULT_RELAY_BANDWIDTH: Dist = { kind: 'lognormal', median: 2_500_000, sigma: 1 }
/** Client uplinks: median 1.25 MB/s (10 Mbit/s), σ 0.7. */
export const DEFAULT_CLIENT_BANDWIDTH: Dist = { kind: 'lognormal', median: 1_250_000, sigma: 0.7 }
/** Provider uplinks: median 12.5 MB/s (100 Mbit/s), σ 0.5. */
export const DEFAULT_PROVIDER_BANDWIDTH: Dist = { kind: 'lognormal', median: 12_500_000, sigma: 0.5 }
/** Most nodes of one kind in message mode (typed arrays sized by it). */
export const MAX_MESSAGE_NODES = 10_000_000

/** Largest DHT the model accepts (memory ≈ 1,280 contacts × 4 B per node in kad-dht shape). */
export const MAX_DHT_NODES = 1_000_000
/** Republish model defaults: intervals (h) and relay session medians (h) compared. */
export const DEFAULT_REPUBLISH_INTERVALS_H = [1, 2, 4, 12, 48]
export const DEFAULT_SESSION_MEDIANS_H = [0.5, 2, 8]
/** Adversary fractions of the exposure metrics. */
export const DEFAULT_EXPOSURE_FRACTIONS = [0.05, 0.1, 0.2, 0.3]

type Raw = Record<string, unknown>

function isObject (v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Reads fields by dotted path, remembering which were read so leftovers are reported as unknown. */
class Reader {
  readonly #root: Raw
  readonly #used = new Set<string>()
  constructor (root: Raw) { this.#root = root }

  get (path: string): unknown {
    this.#used.add(path)
    return this.peek(path)
  }

  /** The value at `path` without marking it read (its children are still checked for unknown fields). */
  peek (path: string): unknown {
    let cur: unknown = this.#root
    const parts = path.split('.')
    for (let i = 0; i < parts.length; i++) {
      if (cur === undefined) return undefined
      if (!isObject(cur)) throw new ScenarioError(parts.slice(0, i).join('.'), 'expected a mapping')
      cur = cur[parts[i]]
    }
    return cur === null ? undefined : cur
  }

  num (path: string, def: number, o: { int?: boolean, min?: number, max?: number } = {}): number {
    const v = this.get(path)
    if (v === undefined) return def
    return checkNum(path, v, o)
  }

  bool (path: string, def: boolean): boolean {
    const v = this.get(path)
    if (v === undefined) return def
    if (typeof v !== 'boolean') throw new ScenarioError(path, `expected true or false, got ${JSON.stringify(v)}`)
    return v
  }

  str (path: string, def: string): string {
    const v = this.get(path)
    if (v === undefined) return def
    if (typeof v !== 'string') throw new ScenarioError(path, `expected a string, got ${JSON.stringify(v)}`)
    return v
  }

  oneOf<T extends string> (path: string, def: T, values: readonly T[]): T {
    const v = this.get(path)
    if (v === undefined) return def
    const hit = values.find(x => x === v)
    if (hit === undefined) throw new ScenarioError(path, `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`)
    return hit
  }

  /** A number or a non-empty list of numbers. */
  numList (path: string, def: number[], o: { int?: boolean, min?: number, max?: number }): number[] {
    const v = this.get(path)
    if (v === undefined) return def
    const list = Array.isArray(v) ? v : [v]
    if (list.length === 0) throw new ScenarioError(path, 'expected a non-empty list')
    return list.map((x: unknown, i: number) => checkNum(`${path}[${i}]`, x, o))
  }

  /** A value or a non-empty list of values, each one of `values` (duplicates dropped). */
  oneOfList<T extends string> (path: string, def: T[], values: readonly T[]): T[] {
    const v = this.get(path)
    if (v === undefined) return def
    const list = Array.isArray(v) ? v : [v]
    if (list.length === 0) throw new ScenarioError(path, 'expected a non-empty list')
    const out: T[] = []
    list.forEach((x: unknown, i: number) => {
      const hit = values.find(y => y === x)
      if (hit === undefined) throw new ScenarioError(`${path}[${i}]`, `expected one of ${values.join(', ')}, got ${JSON.stringify(x)}`)
      if (!out.includes(hit)) out.push(hit)
    })
    return out
  }

  modeList (path: string, def: Mode[]): Mode[] {
    const v = this.get(path)
    if (v === undefined) return def
    const list = Array.isArray(v) ? v : [v]
    if (list.length === 0) throw new ScenarioError(path, 'expected at least one mode')
    const out: Mode[] = []
    list.forEach((x: unknown, i: number) => {
      const m = MODES.find(y => y === x)
      if (m === undefined) throw new ScenarioError(`${path}[${i}]`, `expected one of ${MODES.join(', ')}, got ${JSON.stringify(x)}`)
      if (!out.includes(m)) out.push(m)
    })
    return out
  }

  /** A distribution: { dist: weibull, median, shape } | { dist: exp, mean } | { dist: lognormal, median, sigma } | { dist: fixed, value }. */
  dist (path: string, def: Dist): Dist {
    const v = this.peek(path)
    if (v === undefined) { this.#used.add(path); return def }
    if (!isObject(v)) throw new ScenarioError(path, `expected a distribution such as { dist: exp, mean: 5 }, got ${JSON.stringify(v)}`)
    const kind = this.oneOf(`${path}.dist`, 'exp' as Dist['kind'], DIST_KINDS)
    if (v.dist === undefined) throw new ScenarioError(`${path}.dist`, `missing: one of ${DIST_KINDS.join(', ')}`)
    const pos = { min: Number.MIN_VALUE }
    switch (kind) {
      case 'weibull': return { kind, median: this.req(`${path}.median`, pos), shape: this.req(`${path}.shape`, { min: 0.05, max: 20 }) }
      case 'exp': return { kind, mean: this.req(`${path}.mean`, { min: 0 }) }
      case 'lognormal': return { kind, median: this.req(`${path}.median`, pos), sigma: this.req(`${path}.sigma`, { min: 0, max: 10 }) }
      case 'fixed': return { kind, value: this.req(`${path}.value`, { min: 0 }) }
    }
  }

  /** A required number. */
  req (path: string, o: { int?: boolean, min?: number, max?: number }): number {
    const v = this.get(path)
    if (v === undefined) throw new ScenarioError(path, 'missing')
    return checkNum(path, v, o)
  }

  /** Churn: `none`, or { session: dist, downtime: dist } (seconds). */
  churn (path: string, def: ChurnParams | null): ChurnParams | null {
    const v = this.peek(path)
    if (v === undefined) { this.#used.add(path); return def }
    if (v === 'none') { this.#used.add(path); return null }
    if (!isObject(v)) throw new ScenarioError(path, `expected none or { session: …, downtime: … }, got ${JSON.stringify(v)}`)
    return { session: this.dist(`${path}.session`, def?.session ?? DEFAULT_SESSION), downtime: this.dist(`${path}.downtime`, def?.downtime ?? DEFAULT_DOWNTIME) }
  }

  /** Throw on any leaf field that no reader asked for. */
  rejectUnknown (): void {
    const walk = (o: Raw, prefix: string): void => {
      for (const [k, v] of Object.entries(o)) {
        const p = prefix === '' ? k : `${prefix}.${k}`
        if (this.#used.has(p)) continue
        if (isObject(v) && [...this.#used].some(u => u.startsWith(`${p}.`))) walk(v, p)
        else throw new ScenarioError(p, 'unknown field')
      }
    }
    walk(this.#root, '')
  }
}

function checkNum (path: string, v: unknown, o: { int?: boolean, min?: number, max?: number }): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ScenarioError(path, `expected a number, got ${JSON.stringify(v)}`)
  if (o.int === true && !Number.isInteger(v)) throw new ScenarioError(path, `expected an integer, got ${v}`)
  if (o.min !== undefined && v < o.min) throw new ScenarioError(path, `must be ≥ ${o.min}, got ${v}`)
  if (o.max !== undefined && v > o.max) throw new ScenarioError(path, `must be ≤ ${o.max}, got ${v}`)
  return v
}

/** Validate and fill defaults. `input` is a parsed YAML document or a plain object. */
export function resolveScenario (input: unknown): Scenario {
  if (input === undefined || input === null) input = {}
  if (!isObject(input)) throw new ScenarioError('', 'a scenario must be a mapping')
  const r = new Reader(input)
  const table: TableShape = r.oneOf('dht.table', 'kad-dht', ['kad-dht', 'kademlia'] as const)
  const s: Scenario = {
    name: r.str('name', 'unnamed'),
    seed: r.num('seed', 1, { int: true, min: 0, max: 0xffff_ffff }),
    modes: r.modeList('modes', ['dht']),
    dht: {
      nodes: r.numList('dht.nodes', [1000, 2000, 5000, 10000], { int: true, min: 2, max: MAX_DHT_NODES }),
      k: r.num('dht.k', KAD_K, { int: true, min: 1, max: 1000 }),
      alpha: r.num('dht.alpha', KAD_ALPHA, { int: true, min: 1, max: 1000 }),
      disjointPaths: r.num('dht.disjointPaths', KAD_DISJOINT_PATHS, { int: true, min: 1, max: 1000 }),
      prefixLength: r.num('dht.prefixLength', KAD_PREFIX_LENGTH, { int: true, min: 1, max: 16 }),
      table,
      lookups: r.num('dht.lookups', 500, { int: true, min: 0 }),
      churn: r.num('dht.churn', 0, { min: 0, max: 0.99 }),
      adversary: r.num('dht.adversary', 0, { min: 0, max: 1 }),
      registry: {
        replicas: r.num('dht.registry.replicas', DEFAULT_REPLICAS, { int: true, min: 1, max: 16 }),
        storersPerReplica: r.num('dht.registry.storersPerReplica', DEFAULT_STORERS_PER_REPLICA, { int: true, min: 1, max: 64 })
      },
      republish: {
        lookups: r.num('dht.republish.lookups', 0, { int: true, min: 0, max: 1_000_000 }),
        nodes: r.num('dht.republish.nodes', 2000, { int: true, min: 2, max: MAX_DHT_NODES }),
        intervalsH: r.numList('dht.republish.intervalsH', DEFAULT_REPUBLISH_INTERVALS_H, { min: 0.01, max: 24 * 365 }),
        sessionMedianH: r.numList('dht.republish.sessionMedianH', DEFAULT_SESSION_MEDIANS_H, { min: 0.001, max: 24 * 365 }),
        sessionShape: r.num('dht.republish.sessionShape', 0.6, { min: 0.05, max: 20 }),
        downtime: r.dist('dht.republish.downtime', DEFAULT_DOWNTIME),
        recordTtlH: r.num('dht.republish.recordTtlH', KAD_RECORD_VALIDITY_H, { min: 0.01, max: 24 * 365 }),
        windowH: r.num('dht.republish.windowH', 24, { min: 0.01, max: 24 * 365 }),
        placements: r.oneOfList<RepublishPlacement>('dht.republish.placement', [...REPUBLISH_PLACEMENTS], REPUBLISH_PLACEMENTS)
      },
      exposure: {
        fractions: r.numList('dht.exposure.fractions', DEFAULT_EXPOSURE_FRACTIONS, { min: 0, max: 1 }),
        relays: r.num('dht.exposure.relays', 2000, { int: true, min: 2, max: MAX_DHT_NODES }),
        records: r.num('dht.exposure.records', 0, { int: true, min: 0, max: 10_000_000 }),
        targeted: {
          records: r.num('dht.exposure.targeted.records', 0, { int: true, min: 0, max: 1_000_000 }),
          periods: r.num('dht.exposure.targeted.periods', 5, { int: true, min: 1, max: 1000 }),
          periodS: r.num('dht.exposure.targeted.periodS', DEFAULT_PERIOD_SECONDS, { int: true, min: 1, max: 365 * 86_400 }),
          eligibilityPeriods: r.numList('dht.exposure.targeted.eligibilityPeriods', [0, STORAGE_ELIGIBILITY_PERIODS], { int: true, min: 0, max: 1000 }),
          fetchesPerPeriod: r.num('dht.exposure.targeted.fetchesPerPeriod', 8, { int: true, min: 1, max: 100_000 }),
          joinDelayS: r.num('dht.exposure.targeted.joinDelayS', 600, { min: 0 }),
          sharedRandom: r.bool('dht.exposure.targeted.sharedRandom', false)
        }
      }
    },
    paths: {
      relays: r.num('paths.relays', 1000, { int: true, min: 3 }),
      clients: r.num('paths.clients', 200, { int: true, min: 1 }),
      days: r.num('paths.days', 90, { int: true, min: 1, max: 3650 }),
      circuitsPerDay: r.num('paths.circuitsPerDay', 24, { min: 0.01, max: 86_400 }),
      pathLength: r.num('paths.pathLength', DEFAULT_PATH_LENGTH, { int: true, min: MIN_PATH_LENGTH, max: MAX_PATH_LENGTH }),
      guards: r.bool('paths.guards', true),
      layer2: r.bool('paths.layer2', false),
      weighting: r.oneOf('paths.weighting', 'bandwidth', ['bandwidth', 'uniform'] as const),
      capMedianMultiple: r.num('paths.capMedianMultiple', BANDWIDTH_CAP_MEDIAN_MULTIPLE, { min: 0.01 }),
      rules: {
        distinctSubnet: r.bool('paths.rules.subnet', true),
        distinctFamily: r.bool('paths.rules.family', true)
      },
      relaysPerSubnet: r.num('paths.relaysPerSubnet', 1.5, { min: 1 }),
      familyFraction: r.num('paths.familyFraction', 0.2, { min: 0, max: 1 }),
      familySize: r.num('paths.familySize', 3, { int: true, min: 2, max: 64 }),
      bandwidthMedian: r.num('paths.bandwidthMedian', 1_000_000, { min: 1 }),
      bandwidthSigma: r.num('paths.bandwidthSigma', 1, { min: 0, max: 10 }),
      adversaryFraction: r.num('paths.adversary.fraction', 0.1, { min: 0, max: 1 }),
      adversaryBy: r.oneOf('paths.adversary.by', 'count', ['count', 'bandwidth'] as const)
    },
    message: {
      durationS: r.num('message.durationS', 600, { min: 1, max: 365 * 86_400 }),
      warmupS: r.num('message.warmupS', 60, { min: 0 }),
      relays: r.num('message.relays', 100, { int: true, min: 2, max: MAX_MESSAGE_NODES }),
      clients: r.num('message.clients', 1000, { int: true, min: 1, max: MAX_MESSAGE_NODES }),
      providers: r.num('message.providers', 20, { int: true, min: 1, max: MAX_MESSAGE_NODES }),
      hops: r.num('message.hops', DEFAULT_PATH_LENGTH, { int: true, min: MIN_PATH_LENGTH, max: MAX_PATH_LENGTH }),
      profile: r.oneOf('message.profile', 'balanced' as ProfileName, PROFILE_NAMES),
      perHopMeanDelayMs: r.get('message.perHopMeanDelayMs') === undefined ? null : r.numList('message.perHopMeanDelayMs', [], { min: 0, max: 1000 }),
      coverPerSec: r.get('message.cover.perSec') === undefined ? null : r.num('message.cover.perSec', 0, { min: 0, max: 1000 }),
      loopShare: r.get('message.cover.loopShare') === undefined ? null : r.num('message.cover.loopShare', 0.5, { min: 0, max: 1 }),
      callIntervalS: r.num('message.callIntervalS', 600, { min: 0.001 }),
      requestBytes: r.num('message.requestBytes', 3000, { int: true, min: 0, max: 1 << 26 }),
      responseBytes: r.num('message.responseBytes', 6000, { int: true, min: 0, max: 1 << 26 }),
      providerServiceMs: r.num('message.providerServiceMs', 20, { min: 0 }),
      circuitLifetimeS: r.num('message.circuitLifetimeS', 600, { min: 1 }),
      callTimeoutS: r.num('message.callTimeoutS', 60, { min: 0.001 }),
      targets: r.num('message.targets', 1000, { int: true, min: 1 }),
      entropy: r.bool('message.entropy', true),
      guards: r.bool('message.guards', true),
      weighting: r.oneOf('message.weighting', 'bandwidth', ['bandwidth', 'uniform'] as const),
      relaysPerSubnet: r.num('message.relaysPerSubnet', 1.5, { min: 1 }),
      familyFraction: r.num('message.familyFraction', 0.2, { min: 0, max: 1 }),
      familySize: r.num('message.familySize', 3, { int: true, min: 2, max: 64 }),
      adversaryFraction: r.num('message.adversary.fraction', 0.1, { min: 0, max: 1 }),
      adversaryBy: r.oneOf('message.adversary.by', 'bandwidth', ['count', 'bandwidth'] as const),
      observeClients: r.num('message.adversary.observeClients', 0, { min: 0, max: 1 }),
      observeProviders: r.num('message.adversary.observeProviders', 0, { min: 0, max: 1 }),
      clientChurn: r.churn('message.churn.clients', { session: DEFAULT_SESSION, downtime: DEFAULT_DOWNTIME }),
      relayChurn: r.churn('message.churn.relays', null),
      geography: geography(r),
      relayBandwidth: r.dist('message.bandwidth.relays', DEFAULT_RELAY_BANDWIDTH),
      clientBandwidth: r.dist('message.bandwidth.clients', DEFAULT_CLIENT_BANDWIDTH),
      providerBandwidth: r.dist('message.bandwidth.providers', DEFAULT_PROVIDER_BANDWIDTH),
      cellCryptoUs: r.num('message.costs.cellCryptoUs', 20, { min: 0 }),
      handshakeMs: r.num('message.costs.handshakeMs', 1, { min: 0 }),
      connectRtts: r.num('message.costs.connectRtts', 2, { min: 0 }),
      buildTimeoutMs: r.num('message.costs.buildTimeoutMs', 10_000, { min: 0 })
    }
  }
  const rs = s.dht.registry.replicas * s.dht.registry.storersPerReplica
  if (s.dht.republish.placements.includes('registry') && s.dht.republish.nodes <= rs) throw new ScenarioError('dht.republish.nodes', `must exceed dht.registry.replicas × storersPerReplica (${rs}) for placement: registry`)
  if (s.dht.republish.placements.includes('kad') && s.dht.republish.nodes <= s.dht.k) throw new ScenarioError('dht.republish.nodes', `must exceed dht.k (${s.dht.k}) for placement: kad`)
  if ((s.dht.exposure.records > 0 || s.dht.exposure.targeted.records > 0) && s.dht.exposure.relays <= rs) throw new ScenarioError('dht.exposure.relays', `must exceed dht.registry.replicas × storersPerReplica (${rs})`)
  if (s.dht.exposure.targeted.joinDelayS >= s.dht.exposure.targeted.periodS) throw new ScenarioError('dht.exposure.targeted.joinDelayS', 'must be shorter than dht.exposure.targeted.periodS')
  if (s.message.warmupS >= s.message.durationS) throw new ScenarioError('message.warmupS', 'must be shorter than message.durationS')
  if (s.paths.layer2 && s.paths.pathLength < 3) throw new ScenarioError('paths.pathLength', 'a layer-2 path needs ≥ 3 hops')
  if (s.message.hops > s.message.relays) throw new ScenarioError('message.hops', 'more hops than relays')
  if (s.paths.layer2 && !s.paths.guards) throw new ScenarioError('paths.layer2', 'needs paths.guards: true')
  r.rejectUnknown()
  return s
}

function geography (r: Reader): GeographyParams {
  const d = DEFAULT_GEOGRAPHY
  const rawRegions = r.get('message.network.regions')
  const rawBase = r.get('message.network.baseMs')
  let regions = d.regions
  let baseMs = d.baseMs
  if (rawRegions !== undefined || rawBase !== undefined) {
    if (rawRegions === undefined) throw new ScenarioError('message.network.regions', 'required with message.network.baseMs')
    if (rawBase === undefined) throw new ScenarioError('message.network.baseMs', 'required with message.network.regions')
    if (!Array.isArray(rawRegions) || rawRegions.length === 0 || rawRegions.length > 255) throw new ScenarioError('message.network.regions', 'expected a list of 1..255 { name, weight }')
    regions = rawRegions.map((x: unknown, i: number) => {
      const p = `message.network.regions[${i}]`
      if (!isObject(x)) throw new ScenarioError(p, 'expected { name, weight }')
      for (const k of Object.keys(x)) if (k !== 'name' && k !== 'weight') throw new ScenarioError(`${p}.${k}`, 'unknown field')
      if (typeof x.name !== 'string') throw new ScenarioError(`${p}.name`, 'expected a string')
      return { name: x.name, weight: checkNum(`${p}.weight`, x.weight, { min: 0 }) }
    })
    if (!regions.some(x => x.weight > 0)) throw new ScenarioError('message.network.regions', 'at least one weight must be > 0')
    const n = regions.length
    if (!Array.isArray(rawBase) || rawBase.length !== n) throw new ScenarioError('message.network.baseMs', `expected ${n} rows (one per region)`)
    baseMs = rawBase.map((row: unknown, i: number) => {
      if (!Array.isArray(row) || row.length !== n) throw new ScenarioError(`message.network.baseMs[${i}]`, `expected ${n} numbers`)
      return row.map((v: unknown, j: number) => checkNum(`message.network.baseMs[${i}][${j}]`, v, { min: 0 }))
    })
  }
  return {
    regions,
    baseMs,
    radiusKm: r.num('message.network.radiusKm', d.radiusKm, { min: 0 }),
    msPerKm: r.num('message.network.msPerKm', d.msPerKm, { min: 0 }),
    accessMs: r.dist('message.network.accessMs', d.accessMs),
    jitterMs: r.num('message.network.jitterMs', d.jitterMs, { min: 0 })
  }
}

function distToRaw (d: Dist): Raw {
  const { kind, ...rest } = d
  return { dist: kind, ...rest }
}

function churnToRaw (c: ChurnParams | null): Raw | string {
  return c === null ? 'none' : { session: distToRaw(c.session), downtime: distToRaw(c.downtime) }
}

/** Raw (YAML-named) form of the dht section. */
export function dhtToRaw (d: Scenario['dht']): Raw {
  const { republish: rp, exposure: ex, registry, nodes, ...rest } = d
  return {
    ...rest,
    nodes: [...nodes],
    registry: { ...registry },
    republish: {
      lookups: rp.lookups,
      nodes: rp.nodes,
      intervalsH: [...rp.intervalsH],
      sessionMedianH: [...rp.sessionMedianH],
      sessionShape: rp.sessionShape,
      downtime: distToRaw(rp.downtime),
      recordTtlH: rp.recordTtlH,
      windowH: rp.windowH,
      placement: [...rp.placements]
    },
    exposure: {
      fractions: [...ex.fractions],
      relays: ex.relays,
      records: ex.records,
      targeted: { ...ex.targeted, eligibilityPeriods: [...ex.targeted.eligibilityPeriods] }
    }
  }
}

/** Raw (YAML-named) form of the message section. */
export function messageToRaw (m: MessageParams): Raw {
  const raw: Raw = {
    durationS: m.durationS,
    warmupS: m.warmupS,
    relays: m.relays,
    clients: m.clients,
    providers: m.providers,
    hops: m.hops,
    profile: m.profile
  }
  if (m.perHopMeanDelayMs !== null) raw.perHopMeanDelayMs = [...m.perHopMeanDelayMs]
  const cover: Raw = {}
  if (m.coverPerSec !== null) cover.perSec = m.coverPerSec
  if (m.loopShare !== null) cover.loopShare = m.loopShare
  if (Object.keys(cover).length > 0) raw.cover = cover
  Object.assign(raw, {
    callIntervalS: m.callIntervalS,
    requestBytes: m.requestBytes,
    responseBytes: m.responseBytes,
    providerServiceMs: m.providerServiceMs,
    circuitLifetimeS: m.circuitLifetimeS,
    callTimeoutS: m.callTimeoutS,
    targets: m.targets,
    entropy: m.entropy,
    guards: m.guards,
    weighting: m.weighting,
    relaysPerSubnet: m.relaysPerSubnet,
    familyFraction: m.familyFraction,
    familySize: m.familySize,
    adversary: { fraction: m.adversaryFraction, by: m.adversaryBy, observeClients: m.observeClients, observeProviders: m.observeProviders },
    churn: { clients: churnToRaw(m.clientChurn), relays: churnToRaw(m.relayChurn) },
    network: {
      regions: m.geography.regions.map(x => ({ ...x })),
      baseMs: m.geography.baseMs.map(row => [...row]),
      radiusKm: m.geography.radiusKm,
      msPerKm: m.geography.msPerKm,
      accessMs: distToRaw(m.geography.accessMs),
      jitterMs: m.geography.jitterMs
    },
    bandwidth: { relays: distToRaw(m.relayBandwidth), clients: distToRaw(m.clientBandwidth), providers: distToRaw(m.providerBandwidth) },
    costs: { cellCryptoUs: m.cellCryptoUs, handshakeMs: m.handshakeMs, connectRtts: m.connectRtts, buildTimeoutMs: m.buildTimeoutMs }
  })
  return raw
}

/** Parse YAML text and resolve it. YAML syntax errors become ScenarioError(''). */
export function parseScenario (yamlText: string): Scenario {
  let doc: unknown
  try {
    doc = parseYaml(yamlText)
  } catch (err) {
    throw new ScenarioError('', `invalid YAML: ${err instanceof Error ? err.message : String(err)}`)
  }
  return resolveScenario(doc)
}

/** Copy of a raw scenario with the field at `path` set (for sweeps; the result is re-validated). */
export function withField (raw: unknown, path: string, value: unknown): Raw {
  const root: Raw = isObject(raw) ? structuredClone(raw) : {}
  const parts = path.split('.')
  let cur: Raw = root
  for (let i = 0; i < parts.length - 1; i++) {
    let next = cur[parts[i]]
    if (next === undefined || next === null) { next = {}; cur[parts[i]] = next }
    if (!isObject(next)) throw new ScenarioError(parts.slice(0, i + 1).join('.'), 'expected a mapping')
    cur = next
  }
  cur[parts[parts.length - 1]] = value
  return root
}

/** Raw form of a resolved scenario (the YAML field names), for re-resolution after edits. */
export function scenarioToRaw (s: Scenario): Raw {
  const { rules, adversaryFraction, adversaryBy, ...paths } = s.paths
  return {
    name: s.name,
    seed: s.seed,
    modes: [...s.modes],
    dht: dhtToRaw(s.dht),
    paths: { ...paths, rules: { subnet: rules.distinctSubnet, family: rules.distinctFamily }, adversary: { fraction: adversaryFraction, by: adversaryBy } },
    message: messageToRaw(s.message)
  }
}
