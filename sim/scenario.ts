/**
 * Scenarios: what a simulation run does. Parsed from YAML (the `yaml` package) or given as
 * an object; every field has a default and a meaning (docs/sim.md lists them); a bad or
 * unknown field throws ScenarioError naming its dotted path.
 *
 *   name: dht-small
 *   modes: [dht, paths]
 *   dht:   { nodes: [1000, 2000], lookups: 500, churn: 0 }
 *   paths: { relays: 1000, clients: 200, days: 90, adversary: { fraction: 0.1, by: bandwidth } }
 */
import { parse as parseYaml } from 'yaml'
import { KAD_ALPHA, KAD_DISJOINT_PATHS, KAD_K, KAD_PREFIX_LENGTH, type DhtParams, type TableShape } from './dht.ts'
import type { PathsParams } from './paths.ts'
import { ScenarioError } from './errors.ts'
import { DEFAULT_PATH_LENGTH, MAX_PATH_LENGTH, MIN_PATH_LENGTH, BANDWIDTH_CAP_MEDIAN_MULTIPLE } from '../src/onion/path/index.ts'

export type Mode = 'dht' | 'paths'
export const MODES: readonly Mode[] = ['dht', 'paths']

export interface Scenario {
  name: string
  seed: number
  modes: Mode[]
  dht: Omit<DhtParams, 'nodes'> & { nodes: number[] }
  paths: PathsParams
}

/** Largest DHT the model accepts (memory ≈ 1,280 contacts × 4 B per node in kad-dht shape). */
export const MAX_DHT_NODES = 1_000_000

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
      lookups: r.num('dht.lookups', 500, { int: true, min: 1 }),
      churn: r.num('dht.churn', 0, { min: 0, max: 0.99 }),
      adversary: r.num('dht.adversary', 0, { min: 0, max: 1 })
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
    }
  }
  if (s.paths.layer2 && s.paths.pathLength < 3) throw new ScenarioError('paths.pathLength', 'a layer-2 path needs ≥ 3 hops')
  if (s.paths.layer2 && !s.paths.guards) throw new ScenarioError('paths.layer2', 'needs paths.guards: true')
  r.rejectUnknown()
  return s
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
    dht: { ...s.dht, nodes: [...s.dht.nodes] },
    paths: { ...paths, rules: { subnet: rules.distinctSubnet, family: rules.distinctFamily }, adversary: { fraction: adversaryFraction, by: adversaryBy } }
  }
}
