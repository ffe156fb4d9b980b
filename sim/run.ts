/**
 * Entry points for `veil sim run|sweep|merge` (wired in src/cli by its owner), usable
 * without the CLI:
 *
 *   await runScenario(yamlText, { seed: 7, outDir: 'out/run' })
 *   await sweepScenario(yamlText, { param: 'paths.adversary.fraction', values: [0.05, 0.1], runs: 5, outDir: 'out/sweep' })
 *   await sweepScenario(yamlText, { ..., shard: { i: 1, n: 2 }, outDir: 'out/s1' })   // and i: 2 → out/s2
 *   await mergeShards(['out/s1', 'out/s2'], 'out/merged')                              // = the unsharded sweep
 *
 * Outputs of a run: summary.json (scenario as run, seed, metrics), one CSV per metric table,
 * SVG plots, and run.json — the ONLY file with facts about the execution (wall time, events/s,
 * peak RSS, host, commit). Everything but run.json is a pure function of (scenario, seed):
 * byte-identical across runs, machines and shardings.
 *
 * Seeds: a sweep task t (value index × runs + run) runs with a seed derived from
 * (sweep seed, t) alone, so which shard runs a task never changes its result.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, hostname } from 'node:os'
import { join } from 'node:path'
import { linearFit, runDht, runExposure, runRepublish, type DhtResult, type ExposureResult, type RepublishResult } from './dht.ts'
import { runPaths, type PathsResult } from './paths.ts'
import { runMessage, type MessageResult, type TargetRow } from './message.ts'
import { csv, fmt, json, lineChart, type Series } from './report.ts'
import { SeededRng } from './rng.ts'
import { parseScenario, resolveScenario, scenarioToRaw, withField, type Scenario } from './scenario.ts'
import { ScenarioError, SimInputError } from './errors.ts'

export interface Progress {
  /** 'dht n=1000', 'paths', 'sweep task 3/10', … */
  phase: string
  /** Completed fraction of the whole job, 0..1. */
  fraction: number
}

export interface RunOptions {
  /** Overrides the scenario's seed. */
  seed?: number
  outDir: string
  onProgress?: (p: Progress) => void
}

export interface RunResults {
  dht?: DhtResult[]
  /** Fit of mean hops against log2 N over the DHT sizes (when ≥ 2 sizes). */
  dhtFit?: { slope: number, intercept: number, r2: number }
  /** Lookup success vs republish interval and churn (dht.republish.lookups > 0). */
  dhtRepublish?: RepublishResult
  /** Records whose storers are all adversarial (dht.exposure.records / .targeted.records > 0). */
  dhtExposure?: ExposureResult
  paths?: PathsResult
  /** Message mode: one result per per-hop mean delay run. */
  message?: MessageResult[]
}

export interface RunFacts {
  events: number
  events_per_s: number
  wall_s: number
  sim_s: number
  /** Message mode: tool-call messages (requests + responses) sent. */
  messages: number
  wall_per_sim: number | null
  peak_rss_mb: number
  host: { hostname: string, platform: string, arch: string, cpus: number, cpu_model: string, node: string }
  commit: string | null
  finished_at: string
}

export interface RunOutcome {
  scenario: Scenario
  seed: number
  results: RunResults
  facts: RunFacts
  files: string[]
}

const DAY_S = 86_400

/** Scenario input: YAML text, or a raw object with the YAML field names. */
export type ScenarioInput = string | Record<string, unknown>

function load (input: ScenarioInput): Scenario {
  return typeof input === 'string' ? parseScenario(input) : resolveScenario(input)
}

interface SimOutput {
  results: RunResults
  events: number
  simSeconds: number
  /** Message mode: tool-call messages sent (requests + responses), all runs. */
  messages: number
  /** Message mode: per-target rows, per delay run (CSV only; not in summary.json). */
  targets: TargetRow[][]
}

/** Run every mode of a resolved scenario in memory. Deterministic in (s, seed). */
function simulate (s: Scenario, seed: number, progress: (phase: string, f: number) => void): SimOutput {
  const results: RunResults = {}
  let events = 0
  let simSeconds = 0
  let messages = 0
  const targets: TargetRow[][] = []
  const parts = s.modes.length
  s.modes.forEach((mode, mi) => {
    if (mode === 'dht') {
      // shares of the mode's progress: lookups per size, republish, exposure (by rough cost)
      const d = s.dht
      const parts3 = [d.lookups > 0 ? 1 : 0, d.republish.lookups > 0 ? 1 : 0, d.exposure.records + d.exposure.targeted.records > 0 ? 1 : 0]
      const total3 = Math.max(1, parts3.reduce((a, b) => a + b, 0))
      let done3 = 0
      const sub = (phase: string, f: number): void => progress(phase, (mi + (done3 + f) / total3) / parts)
      if (d.lookups > 0) {
        results.dht = d.nodes.map((nodes, ni) => {
          sub(`dht n=${nodes}`, ni / d.nodes.length)
          const r = runDht({ ...d, nodes, adversaryFractions: d.exposure.fractions }, seed)
          events += r.events
          return r
        })
        if (results.dht.length >= 2) {
          const f = linearFit(results.dht.map(r => Math.log2(r.nodes)), results.dht.map(r => r.meanHops))
          results.dhtFit = { slope: f.b, intercept: f.a, r2: f.r2 }
        }
        done3++
      }
      if (d.republish.lookups > 0) {
        results.dhtRepublish = runRepublish(d.republish, d, d.registry, seed, f => sub('dht republish', f))
        events += results.dhtRepublish.events
        done3++
      }
      if (parts3[2] === 1) {
        results.dhtExposure = runExposure(d.exposure, d.registry, seed, f => sub('dht exposure', f))
        events += results.dhtExposure.events
        done3++
      }
    } else if (mode === 'paths') {
      results.paths = runPaths(s.paths, seed, f => progress('paths', (mi + f) / parts))
      events += results.paths.events
      simSeconds = Math.max(simSeconds, s.paths.days * DAY_S)
    } else {
      const delays: Array<number | undefined> = s.message.perHopMeanDelayMs ?? [undefined]
      results.message = delays.map((d, di) => {
        const phase = `message${d === undefined ? '' : ` delay=${d}ms`}`
        const r = runMessage(s.message, d, seed, f => progress(phase, (mi + (di + f) / delays.length) / parts))
        events += r.result.events
        messages += r.messages
        targets.push(r.targets)
        simSeconds = Math.max(simSeconds, s.message.durationS)
        return r.result
      })
    }
  })
  progress('done', 1)
  return { results, events, simSeconds, messages, targets }
}

function commit (): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

function facts (events: number, wallMs: number, simSeconds: number, messages = 0): RunFacts {
  const wall = wallMs / 1000
  const c = cpus()
  return {
    events,
    events_per_s: wall > 0 ? Math.round(events / wall) : 0,
    wall_s: Number(wall.toFixed(3)),
    sim_s: simSeconds,
    messages,
    wall_per_sim: simSeconds > 0 ? wall / simSeconds : null,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    host: { hostname: hostname(), platform: process.platform, arch: process.arch, cpus: c.length, cpu_model: c[0]?.model ?? '', node: process.version },
    commit: commit(),
    finished_at: new Date().toISOString()
  }
}

/** The deterministic files of one run, by name. */
function runFiles (s: Scenario, seed: number, r: RunResults, targets: TargetRow[][] = []): Map<string, string> {
  const files = new Map<string, string>()
  files.set('summary.json', json({ name: s.name, seed, scenario: { ...scenarioToRaw(s), seed }, results: r }))
  if (r.dht !== undefined) {
    files.set('dht_lookups.csv', csv(
      ['nodes', 'log2_nodes', 'lookups', 'success_rate', 'mean_hops', 'p50_hops', 'p90_hops', 'max_hops', 'mean_rounds', 'mean_queries', 'mean_timeouts', 'touched_adversary_rate', 'mean_table_size'],
      r.dht.map(d => [d.nodes, Math.log2(d.nodes), d.lookups, d.successRate, d.meanHops, d.p50Hops, d.p90Hops, d.maxHops, d.meanRounds, d.meanQueries, d.meanTimeouts, d.touchedAdversaryRate, d.meanTableSize])))
    files.set('dht_exposure_lookups.csv', csv(['nodes', 'adversary_fraction', 'lookups', 'touched_adversary_rate'],
      r.dht.flatMap(d => d.touchedAdversaryByFraction.map(x => [d.nodes, x.fraction, d.lookups, x.rate]))))
    files.set('dht_hops_histogram.csv', csv(['nodes', 'hops', 'lookups'],
      r.dht.flatMap(d => d.hopsHistogram.map((count, h) => [d.nodes, h, count]))))
    const pts = r.dht.map(d => [Math.log2(d.nodes), d.meanHops] as const)
    files.set('dht-hops-vs-n.svg', lineChart({
      id: 'dht-hops',
      title: `DHT lookup hops vs network size (k=${s.dht.k}, α=${s.dht.alpha}, ${s.dht.table})`,
      xLabel: 'log2 N',
      yLabel: 'hops to the closest node',
      yMin: 0,
      series: [
        { name: 'mean hops', points: pts },
        { name: 'p90 hops', points: r.dht.map(d => [Math.log2(d.nodes), d.p90Hops] as const), dashed: true }
      ]
    }))
  }
  if (r.dhtRepublish !== undefined || r.dhtExposure !== undefined) dhtExtraFiles(files, s, r)
  if (r.paths !== undefined) {
    const p = r.paths
    const { compromiseCdf, ...scalars } = p
    files.set('paths_summary.csv', csv(['metric', 'value'], Object.entries(scalars).map(([k, v]) => [k, v])))
    files.set('paths_compromise_cdf.csv', csv(['day', 'clients_compromised_fraction'], compromiseCdf.map((f, d) => [d, f])))
    files.set('paths-compromise-cdf.svg', lineChart({
      id: 'paths-cdf',
      title: `Time to first compromise (f=${fmt(s.paths.adversaryFraction)} by ${s.paths.adversaryBy}, guards ${s.paths.guards ? 'on' : 'off'})`,
      xLabel: 'days',
      yLabel: 'fraction of clients compromised',
      yMin: 0,
      yMax: 1,
      series: [{ name: 'clients compromised', points: compromiseCdf.map((f, d) => [d, f] as const), step: true }]
    }))
  }
  if (r.message !== undefined) messageFiles(files, s, r.message, targets)
  return files
}

/** Republish and exposure tables of DHT mode. */
function dhtExtraFiles (files: Map<string, string>, s: Scenario, r: RunResults): void {
  const rp = r.dhtRepublish
  if (rp !== undefined) {
    const online = new Map(rp.onlineFraction.map(x => [x.sessionMedianH, x.fraction]))
    files.set('dht_republish.csv', csv(
      ['placement', 'storers_per_record', 'session_median_h', 'online_fraction', 'republish_interval_h', 'lookups', 'success_persistent', 'success_volatile', 'mean_holders_persistent', 'mean_holders_volatile'],
      rp.rows.map(x => [x.placement, rp.storersPerRecord[x.placement], x.sessionMedianH, online.get(x.sessionMedianH) ?? null, x.intervalH, x.lookups,
        x.successPersistent, x.successVolatile, x.meanHoldersPersistent, x.meanHoldersVolatile])))
    const series: Series[] = []
    for (const pl of s.dht.republish.placements) {
      for (const m of s.dht.republish.sessionMedianH) {
        series.push({
          name: `${pl}, session ${fmt(m)} h`,
          points: rp.rows.filter(x => x.placement === pl && x.sessionMedianH === m).map(x => [Math.log2(x.intervalH), x.successVolatile] as const),
          dashed: pl === 'registry'
        })
      }
    }
    files.set('dht-republish.svg', lineChart({
      id: 'dht-republish',
      title: `Lookup success vs republish interval, storers losing records when offline (N=${rp.nodes})`,
      xLabel: 'log2 republish interval (h)',
      yLabel: 'lookup success (volatile storers)',
      yMin: 0,
      yMax: 1,
      series
    }))
  }
  const ex = r.dhtExposure
  if (ex?.random !== undefined) {
    files.set('dht_exposure_random.csv', csv(
      ['adversary_fraction', 'adversary_relays', 'relays', 'records', 'storers_per_record', 'captured_records', 'captured_share', 'exact_share', 'f_pow_storers', 'any_adversarial_share', 'mean_adversarial_storers'],
      ex.random.map(x => [x.fraction, x.adversaryRelays, ex.relays, x.records, ex.storersPerRecord, x.capturedRecords, x.capturedShare, x.exactShare, x.powerShare, x.anyAdversarialShare, x.meanAdversarialStorers])))
    files.set('dht_exposure_random_histogram.csv', csv(['adversary_fraction', 'adversarial_storers', 'records'],
      ex.random.flatMap(x => x.histogram.map((c, k) => [x.fraction, k, c]))))
  }
  if (ex?.targeted !== undefined) {
    const t = s.dht.exposure.targeted
    files.set('dht_exposure_targeted.csv', csv(
      ['key_schedule', 'implemented_in_veil', 'eligibility_age_periods', 'period', 'fetches', 'captured_share', 'any_adversarial_share', 'period_s', 'join_delay_s', 'ground_relays_per_period', 'grind_hashes_per_relay'],
      ex.targeted.rows.map(x => [x.keySchedule, x.keySchedule === 'address' ? 'yes' : 'no', x.eligibilityPeriods, x.period < 0 ? 'all' : x.period, x.fetches,
        x.capturedShare, x.anyAdversarialShare, t.periodS, t.joinDelayS, ex.targeted?.relaysPerRecordPeriod ?? null, ex.targeted?.meanGrindHashesPerRelay ?? null])))
  }
}

const pctCols = (name: string): string[] => [`${name}_p50`, `${name}_p90`, `${name}_p99`]

function messageFiles (files: Map<string, string>, s: Scenario, runs: MessageResult[], targets: TargetRow[][]): void {
  const m = s.message
  files.set('message_summary.csv', csv(
    ['per_hop_mean_delay_ms', 'targets', 'entropy_mean', 'entropy_median', 'entropy_p10', 'degree_mean', 'effective_set_mean', 'effective_set_median',
      'linked_fraction', 'epsilon_delta_0.05', 'epsilon_delta_0.01', 'mean_pool_at_release', 'mean_online_clients',
      ...pctCols('latency_ms'), ...pctCols('link_ms'), ...pctCols('mixing_ms'), ...pctCols('queueing_ms'), ...pctCols('other_ms'),
      'mean_link_ms', 'mean_mixing_ms', 'mean_queueing_ms', 'mean_other_ms', ...pctCols('circuit_build_ms'),
      'calls_issued', 'calls_completed', 'calls_failed', 'calls_censored', 'delivery_success',
      'real_cells_sent', 'loop_cells_sent', 'drop_cells_sent', 'cover_overhead', 'cover_share',
      'adversary_weight_share', 'circuits_compromised_fraction', 'calls_end_to_end_observed_fraction', 'cells_lost', 'events'],
    runs.map(x => [x.perHopMeanDelayMs, x.targetsMeasured, x.entropyMean, x.entropyMedian, x.entropyP10, x.degreeMean, x.effectiveSetMean, x.effectiveSetMedian,
      x.linkedFraction, x.epsilonDelta05, x.epsilonDelta01, x.meanPoolAtRelease, x.meanOnlineClients,
      x.latencyMs.p50, x.latencyMs.p90, x.latencyMs.p99, x.linkMs.p50, x.linkMs.p90, x.linkMs.p99, x.mixingMs.p50, x.mixingMs.p90, x.mixingMs.p99,
      x.queueingMs.p50, x.queueingMs.p90, x.queueingMs.p99, x.otherMs.p50, x.otherMs.p90, x.otherMs.p99,
      x.meanSplitMs.link, x.meanSplitMs.mixing, x.meanSplitMs.queueing, x.meanSplitMs.other, x.circuitBuildMs.p50, x.circuitBuildMs.p90, x.circuitBuildMs.p99,
      x.callsIssued, x.callsCompleted, x.callsFailed, x.callsCensored, x.deliverySuccess,
      x.realCellsSent, x.loopCellsSent, x.dropCellsSent, x.coverOverhead, x.coverShare,
      x.adversaryWeightShare, x.circuitsCompromisedFraction, x.callsEndToEndObservedFraction, x.cellsLost, x.events])))
  files.set('message_latency_cdf.csv', csv(['per_hop_mean_delay_ms', 'quantile', 'latency_ms'],
    runs.flatMap(x => x.latencyCdf.map((v, q) => [x.perHopMeanDelayMs, q / 100, v]))))
  if (m.entropy) {
    files.set('message_targets.csv', csv(['per_hop_mean_delay_ms', 'target', 'sender', 'online_clients', 'entropy_bits', 'p_true_sender', 'support'],
      runs.flatMap((x, i) => (targets[i] ?? []).map((t, j) => [x.perHopMeanDelayMs, j, t.sender, t.online, t.entropy, t.pTrue, t.support]))))
  }
  files.set('message-latency-cdf.svg', lineChart({
    id: 'msg-latency',
    title: `Tool-call latency CDF (${m.profile}, ${m.hops} hops, ${m.relays} relays, ${m.clients} clients)`,
    xLabel: 'end-to-end latency (ms)',
    yLabel: 'fraction of completed calls',
    yMin: 0,
    yMax: 1,
    series: runs.map(x => ({ name: `mean ${fmt(x.perHopMeanDelayMs)} ms/hop`, points: x.latencyCdf.map((v, q) => [v, q / 100] as const), step: true }))
  }))
  if (m.entropy) {
    const pts = runs.filter(x => x.entropyMean !== null)
    files.set('message-entropy-vs-delay.svg', lineChart({
      id: 'msg-entropy',
      title: `Sender entropy vs per-hop mean delay (${m.clients} clients, ${m.relays} relays, cover ${m.coverPerSec === null ? m.profile : fmt(m.coverPerSec)} cells/s)`,
      xLabel: 'per-hop mean delay (ms)',
      yLabel: 'bits',
      yMin: 0,
      series: [
        { name: 'mean H', points: pts.map(x => [x.perHopMeanDelayMs, x.entropyMean ?? 0] as const) },
        { name: 'median H', points: pts.map(x => [x.perHopMeanDelayMs, x.entropyMedian ?? 0] as const), dashed: true }
      ]
    }))
  }
}

async function writeAll (outDir: string, files: Map<string, string>): Promise<string[]> {
  await mkdir(outDir, { recursive: true })
  const names = [...files.keys()]
  for (const name of names) await writeFile(join(outDir, name), files.get(name) ?? '')
  return names
}

function checkSeed (seed: number | undefined, field: string): void {
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff)) throw new SimInputError(`${field}: expected an integer in [0, 2^32)`)
}

/** Run one scenario and write its outputs (summary.json, CSVs, SVGs, run.json) to opts.outDir. */
export async function runScenario (input: ScenarioInput, opts: RunOptions): Promise<RunOutcome> {
  checkSeed(opts.seed, 'seed')
  const s = load(input)
  const seed = opts.seed ?? s.seed
  const t0 = performance.now()
  const out = simulate(s, seed, (phase, fraction) => opts.onProgress?.({ phase, fraction }))
  const f = facts(out.events, performance.now() - t0, out.simSeconds, out.messages)
  const files = runFiles(s, seed, out.results, out.targets)
  files.set('run.json', json(f))
  const names = await writeAll(opts.outDir, files)
  return { scenario: s, seed, results: out.results, facts: f, files: names }
}

// ---------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------

export type ParamValue = number | string | boolean

export interface SweepOptions {
  /** Dotted scenario field, e.g. 'paths.adversary.fraction'. */
  param: string
  values: readonly ParamValue[]
  /** Repetitions per value (different derived seeds), default 1. */
  runs?: number
  /** Base seed of the sweep (default: the scenario's seed). */
  seed?: number
  /** Run only share i of n (1-based); writes a shard file for mergeShards. */
  shard?: { i: number, n: number }
  outDir: string
  onProgress?: (p: Progress) => void
}

interface SweepMeta {
  scenario: Record<string, unknown>
  param: string
  values: ParamValue[]
  runs: number
  seed: number
}

interface TaskResult {
  task: number
  value: ParamValue
  run: number
  seed: number
  metrics: Record<string, number | null>
}

const SHARD_FORMAT = 'veil-sim-shard/1'
const SHARD_FILE = /^shard-(\d+)-of-(\d+)\.json$/

/** Two-sided 95% Student-t quantiles for 1..30 degrees of freedom; 1.96 beyond. */
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042]

/** Scalar metrics of one run, flattened with stable names and order. */
function flatten (r: RunResults): Record<string, number | null> {
  const m: Record<string, number | null> = {}
  for (const d of r.dht ?? []) {
    m[`dht.n${d.nodes}.successRate`] = d.successRate
    m[`dht.n${d.nodes}.meanHops`] = d.meanHops
    m[`dht.n${d.nodes}.p90Hops`] = d.p90Hops
    m[`dht.n${d.nodes}.meanRounds`] = d.meanRounds
    m[`dht.n${d.nodes}.meanQueries`] = d.meanQueries
    m[`dht.n${d.nodes}.touchedAdversaryRate`] = d.touchedAdversaryRate
  }
  if (r.dhtFit !== undefined) m['dht.fit.r2'] = r.dhtFit.r2
  for (const d of r.dht ?? []) for (const x of d.touchedAdversaryByFraction) m[`dht.n${d.nodes}.f${x.fraction}.touchedAdversaryRate`] = x.rate
  for (const x of r.dhtRepublish?.rows ?? []) {
    const k = `dht.republish.${x.placement}.s${x.sessionMedianH}h.i${x.intervalH}h`
    m[`${k}.successPersistent`] = x.successPersistent
    m[`${k}.successVolatile`] = x.successVolatile
  }
  for (const x of r.dhtExposure?.random ?? []) {
    m[`dht.exposure.random.f${x.fraction}.capturedShare`] = x.capturedShare
    m[`dht.exposure.random.f${x.fraction}.exactShare`] = x.exactShare
    m[`dht.exposure.random.f${x.fraction}.anyAdversarialShare`] = x.anyAdversarialShare
  }
  for (const x of r.dhtExposure?.targeted?.rows ?? []) {
    m[`dht.exposure.targeted.${x.keySchedule}.age${x.eligibilityPeriods}.p${x.period < 0 ? 'all' : x.period}.capturedShare`] = x.capturedShare
  }
  if (r.paths !== undefined) {
    const p = r.paths
    m['paths.compromisedFraction'] = p.compromisedFraction
    m['paths.entryAdversarialFraction'] = p.entryAdversarialFraction
    m['paths.clientsCompromisedFraction'] = p.clientsCompromisedFraction
    m['paths.medianDaysToFirstCompromise'] = p.medianDaysToFirstCompromise
    m['paths.adversaryWeightShare'] = p.adversaryWeightShare
  }
  for (const x of r.message ?? []) {
    const k = `message.d${x.perHopMeanDelayMs}`
    m[`${k}.entropyMean`] = x.entropyMean
    m[`${k}.degreeMean`] = x.degreeMean
    m[`${k}.effectiveSetMean`] = x.effectiveSetMean
    m[`${k}.epsilonDelta05`] = x.epsilonDelta05
    m[`${k}.latencyP50Ms`] = x.latencyMs.p50
    m[`${k}.latencyP99Ms`] = x.latencyMs.p99
    m[`${k}.deliverySuccess`] = x.deliverySuccess
    m[`${k}.coverOverhead`] = x.coverOverhead
  }
  return m
}

function taskSeed (base: number, task: number): number {
  return SeededRng.derive(base, 'sweep-task', task).u32()
}

function checkSweep (o: SweepOptions): void {
  if (typeof o.param !== 'string' || o.param === '') throw new SimInputError('param: expected a dotted field path')
  if (!Array.isArray(o.values) || o.values.length === 0) throw new SimInputError('values: expected a non-empty list')
  const runs = o.runs ?? 1
  if (!Number.isInteger(runs) || runs < 1) throw new SimInputError('runs: expected an integer ≥ 1')
  checkSeed(o.seed, 'seed')
  if (o.shard !== undefined) {
    const { i, n } = o.shard
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(i) || i < 1 || i > n) throw new SimInputError('shard: expected integers 1 ≤ i ≤ n')
  }
}

/**
 * Run a parameter sweep. Without `shard`: writes summary.json, sweep.csv, one SVG per
 * headline metric and run.json. With `shard`: runs tasks t ≡ i−1 (mod n) and writes
 * shard-i-of-n.json (+ run.json) for mergeShards.
 */
export async function sweepScenario (input: ScenarioInput, o: SweepOptions): Promise<{ files: string[], facts: RunFacts }> {
  checkSweep(o)
  const base = load(input)
  const raw = scenarioToRaw(base)
  const meta: SweepMeta = { scenario: raw, param: o.param, values: [...o.values], runs: o.runs ?? 1, seed: o.seed ?? base.seed }
  // validate every value before running anything
  const scenarios = meta.values.map((v, vi) => {
    try {
      return resolveScenario(withField(raw, o.param, v))
    } catch (err) {
      if (err instanceof ScenarioError) throw new ScenarioError(err.path, `(sweep value ${vi}: ${JSON.stringify(v)}) ${err.message}`)
      throw err
    }
  })
  const total = meta.values.length * meta.runs
  const mine: number[] = []
  for (let t = 0; t < total; t++) if (o.shard === undefined || t % o.shard.n === o.shard.i - 1) mine.push(t)
  const t0 = performance.now()
  let events = 0
  let simSeconds = 0
  let messages = 0
  const tasks: TaskResult[] = []
  mine.forEach((t, k) => {
    const vi = Math.floor(t / meta.runs)
    const run = t % meta.runs
    const seed = taskSeed(meta.seed, t)
    const out = simulate(scenarios[vi], seed, (phase, f) => o.onProgress?.({ phase: `task ${k + 1}/${mine.length}: ${phase}`, fraction: (k + f) / mine.length }))
    events += out.events
    simSeconds += out.simSeconds
    messages += out.messages
    tasks.push({ task: t, value: meta.values[vi], run, seed, metrics: flatten(out.results) })
  })
  const f = facts(events, performance.now() - t0, simSeconds, messages)
  const files = o.shard === undefined
    ? sweepFiles(meta, tasks)
    : new Map([[`shard-${o.shard.i}-of-${o.shard.n}.json`, json({ format: SHARD_FORMAT, meta, shard: o.shard, tasks })]])
  files.set('run.json', json(f))
  return { files: await writeAll(o.outDir, files), facts: f }
}

/** Combine shard directories into the same outputs the unsharded sweep writes. */
export async function mergeShards (dirs: readonly string[], outDir: string): Promise<{ files: string[] }> {
  if (dirs.length === 0) throw new SimInputError('mergeShards: no shard directories')
  let meta: SweepMeta | undefined
  let metaText = ''
  let n = 0
  const seen = new Set<number>()
  const byTask = new Map<number, TaskResult>()
  for (const dir of dirs) {
    for (const name of (await readdir(dir)).sort()) {
      const m = SHARD_FILE.exec(name)
      if (m === null) continue
      const doc: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'))
      const shard = parseShard(doc, join(dir, name))
      const text = JSON.stringify(shard.meta)
      if (meta === undefined) { meta = shard.meta; metaText = text; n = shard.shard.n }
      if (text !== metaText || shard.shard.n !== n) throw new SimInputError(`${join(dir, name)}: belongs to a different sweep`)
      if (seen.has(shard.shard.i)) throw new SimInputError(`${join(dir, name)}: shard ${shard.shard.i}/${n} given twice`)
      seen.add(shard.shard.i)
      for (const t of shard.tasks) byTask.set(t.task, t)
    }
  }
  if (meta === undefined) throw new SimInputError('mergeShards: no shard-*-of-*.json files found')
  for (let i = 1; i <= n; i++) if (!seen.has(i)) throw new SimInputError(`mergeShards: shard ${i}/${n} is missing`)
  const total = meta.values.length * meta.runs
  const tasks: TaskResult[] = []
  for (let t = 0; t < total; t++) {
    const r = byTask.get(t)
    if (r === undefined) throw new SimInputError(`mergeShards: task ${t} is missing`)
    tasks.push(r)
  }
  return { files: await writeAll(outDir, sweepFiles(meta, tasks)) }
}

function parseShard (doc: unknown, where: string): { meta: SweepMeta, shard: { i: number, n: number }, tasks: TaskResult[] } {
  const bad = (what: string): never => { throw new SimInputError(`${where}: ${what}`) }
  if (typeof doc !== 'object' || doc === null) return bad('not an object')
  const o = doc as Record<string, unknown>
  if (o.format !== SHARD_FORMAT) bad(`format: expected ${SHARD_FORMAT}`)
  const meta = o.meta as SweepMeta | undefined
  if (typeof meta !== 'object' || meta === null || typeof meta.param !== 'string' || !Array.isArray(meta.values) ||
    !Number.isInteger(meta.runs) || !Number.isInteger(meta.seed)) return bad('meta: malformed')
  const shard = o.shard as { i: number, n: number } | undefined
  if (typeof shard !== 'object' || shard === null || !Number.isInteger(shard.i) || !Number.isInteger(shard.n)) return bad('shard: malformed')
  if (!Array.isArray(o.tasks)) return bad('tasks: expected a list')
  const tasks = o.tasks as TaskResult[]
  for (const t of tasks) {
    if (typeof t !== 'object' || t === null || !Number.isInteger(t.task) || typeof t.metrics !== 'object') bad('tasks: malformed entry')
  }
  return { meta, shard, tasks }
}

interface Row { value: ParamValue, metric: string, n: number, mean: number | null, sd: number | null, ci95: number | null }

/** The deterministic outputs of a sweep, from its meta and all task results in task order. */
function sweepFiles (meta: SweepMeta, tasks: readonly TaskResult[]): Map<string, string> {
  const metrics: string[] = []
  for (const t of tasks) for (const k of Object.keys(t.metrics)) if (!metrics.includes(k)) metrics.push(k)
  const rows: Row[] = []
  for (const value of meta.values) {
    const mine = tasks.filter(t => t.value === value)
    for (const metric of metrics) {
      const xs = mine.map(t => t.metrics[metric]).filter((x): x is number => typeof x === 'number')
      const n = xs.length
      const mean = n === 0 ? null : xs.reduce((a, b) => a + b, 0) / n
      const sd = n < 2 || mean === null ? null : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1))
      const ci95 = sd === null ? null : (T95[n - 2] ?? 1.96) * sd / Math.sqrt(n)
      rows.push({ value, metric, n, mean, sd, ci95 })
    }
  }
  const files = new Map<string, string>()
  files.set('summary.json', json({ ...meta, table: rows, tasks }))
  files.set('sweep.csv', csv([meta.param, 'metric', 'n', 'mean', 'sd', 'ci95'],
    rows.map(r => [typeof r.value === 'number' ? r.value : String(r.value), r.metric, r.n, r.mean, r.sd, r.ci95])))
  // one plot per headline metric suffix (x: the parameter's value, or its index when not numeric)
  const numeric = meta.values.every(v => typeof v === 'number')
  const x = (v: ParamValue, i: number): number => typeof v === 'number' && numeric ? v : i
  for (const suffix of ['meanHops', 'successRate', 'compromisedFraction', 'clientsCompromisedFraction', 'entropyMean', 'latencyP50Ms', 'deliverySuccess']) {
    const keys = metrics.filter(m => m.endsWith(`.${suffix}`))
    if (keys.length === 0) continue
    const series: Series[] = keys.map(k => ({
      name: k,
      points: meta.values.flatMap((v, i) => {
        const r = rows.find(row => row.value === v && row.metric === k)
        return r?.mean === null || r === undefined ? [] : [[x(v, i), r.mean] as const]
      })
    }))
    files.set(`sweep-${suffix}.svg`, lineChart({ id: `sweep-${suffix}`, title: `${suffix} vs ${meta.param}`, xLabel: numeric ? meta.param : `${meta.param} (index)`, yLabel: suffix, series, yMin: 0 }))
  }
  return files
}
