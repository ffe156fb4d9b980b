/**
 * Path-compromise mode (as TorPS): clients build circuits with src/onion/path — the same
 * code the real client runs — on the engine's simulated clock over months, against an
 * adversary that runs a fraction of the relays. A circuit is compromised when its entry
 * and its last hop are both adversarial (end-to-end timing correlation is assumed to work).
 *
 * Model: a synthetic directory (bandwidth claims log-normal around a median, subnets and
 * mutual families assigned at random), static for the run; the adversary's relays are
 * chosen at random until they reach `fraction` of the relays ('count') or of the total
 * selection weight ('bandwidth'). Each client builds one circuit every 1/circuitsPerDay
 * days from a random phase; guards expire and are replaced by GuardSet as in the client.
 * Not modelled: relay churn, guard reachability, exit policies, user behaviour models.
 */
import { buildPathIndices, GuardSet, PathDirectory, type PathRules, type RelayCandidate, type Weighting } from '../src/onion/path/index.ts'
import { Engine } from './engine/engine.ts'
import { SeededRng } from './rng.ts'

const DAY_MS = 86_400_000
const EV_CIRCUIT = 0

export interface PathsParams {
  relays: number
  clients: number
  days: number
  circuitsPerDay: number
  pathLength: number
  guards: boolean
  layer2: boolean
  weighting: Weighting
  capMedianMultiple: number
  rules: PathRules
  /** Mean relays per subnet16 key (subnets = round(relays / this)). */
  relaysPerSubnet: number
  /** Fraction of relays that belong to a (mutual) family. */
  familyFraction: number
  familySize: number
  bandwidthMedian: number
  /** σ of ln(bandwidth). */
  bandwidthSigma: number
  adversaryFraction: number
  adversaryBy: 'count' | 'bandwidth'
}

export interface PathsResult {
  circuits: number
  compromised: number
  /** Fraction of circuits with adversarial entry and last hop. */
  compromisedFraction: number
  /** Standard error of compromisedFraction (binomial). */
  compromisedStdErr: number
  entryAdversarialFraction: number
  lastAdversarialFraction: number
  /** Realised adversary share of relays by count and by selection weight. */
  adversaryCountShare: number
  adversaryWeightShare: number
  clientsCompromisedFraction: number
  /** Median days to first compromise over all clients (null when ≤ half were compromised). */
  medianDaysToFirstCompromise: number | null
  /** cdf[d] = fraction of clients compromised by the end of day d (d = 0..days). */
  compromiseCdf: number[]
  guardChanges: number
  failedCircuits: number
  events: number
}

/**
 * A synthetic directory and adversary, deterministic in (seed, params). `claims`, when
 * given, are the relays' bandwidths (message mode draws them from its network model);
 * otherwise they are log-normal around p.bandwidthMedian.
 */
export function syntheticDirectory (p: PathsParams, seed: number, claims?: Float64Array): { relays: RelayCandidate[], adversarial: Uint8Array, dir: PathDirectory } {
  const rng = SeededRng.derive(seed, 'paths-directory')
  const n = p.relays
  const subnets = Math.max(1, Math.round(n / p.relaysPerSubnet))
  const relays: RelayCandidate[] = []
  for (let i = 0; i < n; i++) {
    relays.push({
      id: `relay${i}`,
      subnet16: `s${rng.int(subnets)}`,
      family: [],
      bandwidthClaim: claims !== undefined ? claims[i] : Math.round(p.bandwidthMedian * Math.exp(p.bandwidthSigma * rng.normal()))
    })
  }
  // families: consecutive groups among a random subset
  const inFamily = Math.floor(n * p.familyFraction)
  const perm = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const t = perm[i]; perm[i] = perm[j]; perm[j] = t }
  for (let g = 0; g + 1 < inFamily; g += p.familySize) {
    const members = perm.slice(g, Math.min(g + p.familySize, inFamily))
    for (const m of members) relays[m].family = members.filter(x => x !== m).map(x => `relay${x}`)
  }
  const dir = new PathDirectory(relays, { weighting: p.weighting, capMedianMultiple: p.capMedianMultiple })
  const adversarial = new Uint8Array(n)
  const advRng = SeededRng.derive(seed, 'paths-adversary')
  const order = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) { const j = advRng.int(i + 1); const t = order[i]; order[i] = order[j]; order[j] = t }
  let total = 0
  for (let i = 0; i < n; i++) total += dir.weights[i]
  let count = 0
  let weight = 0
  for (const i of order) {
    const share = p.adversaryBy === 'count' ? count / n : weight / total
    if (share >= p.adversaryFraction - 1e-12) break
    if (p.adversaryBy === 'count' && count + 1 > Math.round(p.adversaryFraction * n)) break
    adversarial[i] = 1
    count++
    weight += dir.weights[i]
  }
  return { relays, adversarial, dir }
}

export function runPaths (p: PathsParams, seed: number, onProgress?: (fraction: number) => void): PathsResult {
  const { adversarial, dir } = syntheticDirectory(p, seed)
  const engine = new Engine()
  const intervalMs = DAY_MS / p.circuitsPerDay
  const endMs = p.days * DAY_MS
  const clientRng: SeededRng[] = []
  const guardSets: Array<GuardSet | null> = []
  const firstCompromise = new Float64Array(p.clients).fill(Infinity)
  let circuits = 0; let compromised = 0; let entryAdv = 0; let lastAdv = 0; let guardChanges = 0; let failed = 0
  const setupRng = SeededRng.derive(seed, 'paths-phases')
  for (let c = 0; c < p.clients; c++) {
    clientRng.push(SeededRng.derive(seed, 'paths-client', c))
    guardSets.push(p.guards ? new GuardSet({ rules: p.rules }) : null)
    engine.at(setupRng.float() * intervalMs, EV_CIRCUIT, c)
  }
  const request = { length: p.pathLength, layer2: p.layer2 && p.guards }
  engine.on(EV_CIRCUIT, (c) => {
    const guards = guardSets[c]
    const before = guards === null ? '' : guards.primary().join(',')
    let path: number[]
    try {
      path = buildPathIndices(dir, { rng: clientRng[c], clock: engine.clock, guards, rules: p.rules }, request)
    } catch (err) {
      if (!(err instanceof Error) || !('code' in err) || err.code !== 'ERR_NO_ELIGIBLE_RELAY') throw err
      failed++
      engine.after(intervalMs, EV_CIRCUIT, c)
      return
    }
    if (guards !== null && before !== '' && guards.primary().join(',') !== before) guardChanges++
    circuits++
    const e = adversarial[path[0]] === 1
    const l = adversarial[path[path.length - 1]] === 1
    if (e) entryAdv++
    if (l) lastAdv++
    if (e && l) {
      compromised++
      if (firstCompromise[c] === Infinity) firstCompromise[c] = engine.now
    }
    if (engine.now + intervalMs < endMs) engine.after(intervalMs, EV_CIRCUIT, c)
  })
  const step = DAY_MS
  for (let t = step; ; t += step) {
    engine.run(Math.min(t, endMs))
    onProgress?.(Math.min(1, t / endMs))
    if (t >= endMs) break
  }
  const cdf: number[] = []
  const sortedFirst = Array.from(firstCompromise).sort((a, b) => a - b)
  for (let d = 0; d <= p.days; d++) {
    const until = d * DAY_MS
    let k = 0
    for (const t of sortedFirst) { if (t <= until) k++; else break }
    cdf.push(k / p.clients)
  }
  const mid = sortedFirst[Math.floor((p.clients - 1) / 2)]
  let advWeight = 0; let totalWeight = 0; let advCount = 0
  for (let i = 0; i < dir.size; i++) { totalWeight += dir.weights[i]; if (adversarial[i] === 1) { advWeight += dir.weights[i]; advCount++ } }
  const frac = circuits === 0 ? 0 : compromised / circuits
  return {
    circuits,
    compromised,
    compromisedFraction: frac,
    compromisedStdErr: circuits === 0 ? 0 : Math.sqrt(frac * (1 - frac) / circuits),
    entryAdversarialFraction: circuits === 0 ? 0 : entryAdv / circuits,
    lastAdversarialFraction: circuits === 0 ? 0 : lastAdv / circuits,
    adversaryCountShare: advCount / dir.size,
    adversaryWeightShare: totalWeight === 0 ? 0 : advWeight / totalWeight,
    clientsCompromisedFraction: cdf[cdf.length - 1],
    medianDaysToFirstCompromise: Number.isFinite(mid) ? mid / DAY_MS : null,
    compromiseCdf: cdf,
    guardChanges,
    failedCircuits: failed,
    events: engine.events
  }
}
