/**
 * Message mode (Loopix-style): clients build circuits with src/onion/path, send tool calls
 * (a request of a few cells to a provider, a response back) and cover cells (loops and
 * drops, Poisson processes from src/mix/cover), relays delay every cell by Exp(mean of the
 * profile, src/mix profiles + random) under the per-circuit order rule
 * (src/mix laneReleaseTime), on the network model of sim/engine/network.ts, with churn.
 *
 * What a cell does (every arrow is one event):
 *   client ──emit──▶ relay 0 (ARRIVE ─mix─▶ RELEASE) ─▶ relay 1 … ─▶ last hop RELEASE ─▶
 *     request: provider ARRIVE → (service) → response cells back through the relays to the client
 *     drop: discarded at the last hop;  loop: turned round at the last hop, back to the client
 *
 * Observer and estimator (sender anonymity, as the Loopix evaluation). A global passive
 * observer sees every cell enter and leave every relay with exact times, but not which
 * circuit a cell belongs to (links are encrypted; cells are padded alike) nor its
 * direction. Relays run by the adversary reveal their input→output mapping. Every cell
 * carries a probability vector over endpoints (clients and providers): a point mass on
 * its origin when emitted; when an honest relay releases a cell at time t, the cell's new
 * vector is the average of the vectors of all P cells the relay holds at t (itself
 * included) — weights 1/P, because with exponential delays every held cell is equally
 * likely to be the next out (memorylessness; a cell held back by its lane cannot leave,
 * but the observer cannot see lanes). An adversarial relay passes the vector on. The
 * relay's uplink is a FIFO the observer can undo, so queueing is counted as latency but
 * credited no mixing (this favours the adversary). Where a tagged request's first cell
 * reaches its provider, its vector is conditioned on a client origin (anonymity.ts) and
 * H = −Σ p log₂ p; degree = H / log₂ N with N the clients online when it was sent;
 * effective set 2^H.
 *
 * Unlinkability (ε, δ): with prior 1/N on each online client and posterior p(s) on the
 * true sender s, ε_m = ln(N · p(s)) is how much more likely the observer finds the true
 * sender than a guess; ε(δ) is the (1 − δ) quantile of max(0, ε_m) over the targets — so
 * with probability ≥ 1 − δ over messages the posterior on the true sender is ≤ e^ε × prior.
 *
 * Costed, not computed: cell crypto per hop (costs.cellCryptoUs added to each hop), the
 * circuit handshake per hop (costs.handshakeMs), TCP + Noise to the guard at session start
 * (costs.connectRtts round trips); circuit building is not event-driven: its time is the
 * sum of the telescoping round trips plus those costs, and build cells are not mixed.
 *
 * Not modelled: paranoid's send stream, multiple circuits per client, circuit-level
 * linking of cells by an observer over time (the per-cell estimator is an upper bound on
 * what such an observer is left with), downlink congestion, provider churn.
 */
import { buildPathIndices, GuardSet, type Weighting } from '../src/onion/path/index.ts'
import {
  laneReleaseTime, messageCellCount, paddedCellCount, PoissonProcess, PROFILES, relayMixTable, resolveClientProfile,
  sampleExp, WIRE_CELL_BYTES, type ProfileName
} from '../src/mix/index.ts'
import { Engine } from './engine/engine.ts'
import { ChurnModel, Network, sampleDist, type Dist, type GeographyParams } from './engine/network.ts'
import { senderEstimate, VectorMixer, type SparseVec } from './anonymity.ts'
import { syntheticDirectory, type PathsParams } from './paths.ts'
import { RngBank, SeededRng } from './rng.ts'
import { SimInternalError } from './errors.ts'

export interface ChurnParams { session: Dist, downtime: Dist }

export interface MessageParams {
  durationS: number
  /** Targets are tagged only after this (pools and vectors reach steady state). */
  warmupS: number
  relays: number
  clients: number
  providers: number
  hops: number
  profile: ProfileName
  /** Per-hop mean delays to run (one run each); null: the profile's relay default. */
  perHopMeanDelayMs: number[] | null
  /** Total cover rate per client (loop + drop), cells/s; null: the profile's. */
  coverPerSec: number | null
  /** Share of cover that is loops; null: the profile's ratio. */
  loopShare: number | null
  /** Mean time between a client's tool calls (Poisson), s. */
  callIntervalS: number
  requestBytes: number
  responseBytes: number
  /** Provider time to answer a call (costed), ms. */
  providerServiceMs: number
  /** A circuit is replaced this long after it was built, s. */
  circuitLifetimeS: number
  /** A call not answered this long after it was issued failed, s. */
  callTimeoutS: number
  /** Target messages to tag (at least; spread evenly over calls after warm-up). */
  targets: number
  /** Track probability vectors (entropy). Off: latency and load only. */
  entropy: boolean
  guards: boolean
  weighting: Weighting
  relaysPerSubnet: number
  familyFraction: number
  familySize: number
  adversaryFraction: number
  adversaryBy: 'count' | 'bandwidth'
  /** Fraction of clients whose access link the adversary observes. */
  observeClients: number
  /** Fraction of providers whose access link the adversary observes. */
  observeProviders: number
  clientChurn: ChurnParams | null
  relayChurn: ChurnParams | null
  geography: GeographyParams
  relayBandwidth: Dist
  clientBandwidth: Dist
  providerBandwidth: Dist
  cellCryptoUs: number
  handshakeMs: number
  connectRtts: number
  buildTimeoutMs: number
}

export interface Pcts { p50: number, p90: number, p99: number }

export interface TargetRow { sender: number, online: number, entropy: number, pTrue: number, support: number }

export interface MessageResult {
  perHopMeanDelayMs: number
  /** Targets tagged / delivered to their provider (entropy measured). */
  targetsTagged: number
  targetsMeasured: number
  entropyMean: number | null
  entropyMedian: number | null
  entropyP10: number | null
  degreeMean: number | null
  effectiveSetMean: number | null
  effectiveSetMedian: number | null
  /** Fraction of targets whose true sender has posterior ≥ 0.99. */
  linkedFraction: number | null
  epsilonDelta05: number | null
  epsilonDelta01: number | null
  meanPoolAtRelease: number
  meanOnlineClients: number
  latencyMs: Pcts
  linkMs: Pcts
  mixingMs: Pcts
  queueingMs: Pcts
  /** Circuit wait + provider service. */
  otherMs: Pcts
  meanSplitMs: { link: number, mixing: number, queueing: number, other: number }
  circuitBuildMs: Pcts
  circuitsBuilt: number
  buildFailures: number
  callsIssued: number
  callsCompleted: number
  callsFailed: number
  /** Issued within callTimeoutS of the end and unfinished: neither success nor failure. */
  callsCensored: number
  deliverySuccess: number | null
  requestCells: number
  responseCells: number
  realCellsSent: number
  loopCellsSent: number
  dropCellsSent: number
  coverSkippedNoCircuit: number
  realCellHops: number
  coverCellHops: number
  /** Cover cell-hops per real cell-hop. */
  coverOverhead: number | null
  /** Share of all relay transmissions that are cover. */
  coverShare: number | null
  adversaryCountShare: number
  adversaryWeightShare: number
  circuitsCompromisedFraction: number | null
  callsEndToEndObservedFraction: number | null
  cellsLost: number
  events: number
  /** Latency quantiles q = 0, 0.01, …, 1 (ms) of completed calls. */
  latencyCdf: number[]
}

export interface MessageRun { result: MessageResult, targets: TargetRow[], messages: number }

const EV_CLIENT_UP = 0
const EV_CLIENT_DOWN = 1
const EV_COVER = 2
const EV_CALL = 3
const EV_CALL_SEND = 4
const EV_ARRIVE = 5
const EV_RELEASE = 6
const EV_PROVIDER_DONE = 7
const EV_RELAY_UP = 8
const EV_RELAY_DOWN = 9

const K_REQUEST = 0
const K_RESPONSE = 1
const K_LOOP = 2
const K_DROP = 3

const FWD = 0
const BACK = 1
const MAX_BUILD_TRIES = 5
const PROGRESS_SLICE_MS = 10_000
const LINKED_P = 0.99

/** Growable Float64 list. */
class F64List {
  a = new Float64Array(1024)
  n = 0
  push (x: number): void {
    if (this.n === this.a.length) { const b = new Float64Array(this.a.length * 2); b.set(this.a); this.a = b }
    this.a[this.n++] = x
  }

  sorted (): Float64Array { return this.a.slice(0, this.n).sort() }
}

function pct (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

function pcts (l: F64List): Pcts {
  const s = l.sorted()
  return { p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99) }
}

function mean (l: F64List): number {
  let t = 0
  for (let i = 0; i < l.n; i++) t += l.a[i]
  return l.n === 0 ? 0 : t / l.n
}

/** The mean delay a relay applies for `profile` when the scenario sets `override` (src/mix relay table). */
export function relayMeanDelay (profile: ProfileName, override: number | undefined): number {
  const table = relayMixTable(override === undefined ? {} : { [profile]: { perHopMeanDelayMs: override } })
  const p = table.get(PROFILES[profile].id)
  if (p === undefined) throw new SimInternalError(`no relay parameters for ${profile}`)
  return p.perHopMeanDelayMs
}

/** One message-mode run at one per-hop mean delay. Deterministic in (p, delayOverride, seed). */
export function runMessage (p: MessageParams, delayOverride: number | undefined, seed: number, onProgress?: (f: number) => void): MessageRun {
  const R = p.relays
  const C = p.clients
  const P = p.providers
  const H = p.hops
  const E = C + P
  const meanDelay = relayMeanDelay(p.profile, delayOverride)
  const base = PROFILES[p.profile]
  if (base.client.sendRatePerSec > 0) throw new SimInternalError(`message mode does not model ${p.profile}'s send stream`)
  const baseCover = base.client.loopRatePerSec + base.client.dropRatePerSec
  const coverRate = p.coverPerSec ?? baseCover
  const loopShare = p.loopShare ?? (baseCover > 0 ? base.client.loopRatePerSec / baseCover : 0.5)
  const profile = resolveClientProfile(p.profile, { loopRatePerSec: coverRate * loopShare, dropRatePerSec: coverRate * (1 - loopShare) })
  const loopRate = profile.client.loopRatePerSec
  const dropRate = profile.client.dropRatePerSec
  const reqCells = paddedCellCount(messageCellCount(p.requestBytes), profile.client.paddingBuckets)
  const respCells = paddedCellCount(messageCellCount(p.responseBytes), profile.client.paddingBuckets)
  const endMs = p.durationS * 1000
  const warmupMs = p.warmupS * 1000
  const cryptoMs = p.cellCryptoUs / 1000

  // ---- directory, network, adversary -------------------------------------------------
  const bwRng = SeededRng.derive(seed, 'msg-relay-bandwidth')
  const claims = new Float64Array(R)
  const netRng = SeededRng.derive(seed, 'msg-network')
  for (let i = 0; i < R; i++) claims[i] = Math.max(1, Math.round(sampleDist(p.relayBandwidth, bwRng)))
  const pathsParams: PathsParams = {
    relays: R, clients: C, days: 1, circuitsPerDay: 1, pathLength: H, guards: p.guards, layer2: false,
    weighting: p.weighting, capMedianMultiple: 4, rules: { distinctSubnet: true, distinctFamily: true },
    relaysPerSubnet: p.relaysPerSubnet, familyFraction: p.familyFraction, familySize: p.familySize,
    bandwidthMedian: 1, bandwidthSigma: 0, adversaryFraction: p.adversaryFraction, adversaryBy: p.adversaryBy
  }
  const { dir, adversarial } = syntheticDirectory(pathsParams, seed, claims)
  const net = new Network(p.geography, [
    { count: R, bandwidth: p.relayBandwidth, access: false, fixedBandwidth: claims },
    { count: C, bandwidth: p.clientBandwidth, access: true },
    { count: P, bandwidth: p.providerBandwidth, access: true }
  ], WIRE_CELL_BYTES, netRng)
  const obsRng = SeededRng.derive(seed, 'msg-observed-links')
  const clientObserved = new Uint8Array(C)
  const providerObserved = new Uint8Array(P)
  for (let c = 0; c < C; c++) clientObserved[c] = obsRng.float() < p.observeClients ? 1 : 0
  for (let q = 0; q < P; q++) providerObserved[q] = obsRng.float() < p.observeProviders ? 1 : 0

  const engine = new Engine()
  // one stream per entity, in typed arrays; `select` before every draw (see RngBank)
  const relayRng = new RngBank(seed, 'msg-relay', R)
  const clientRng = new RngBank(seed, 'msg-client', C)
  const providerRng = new RngBank(seed, 'msg-provider', P)
  const rules = pathsParams.rules
  const guardSets: Array<GuardSet | null> = new Array(C).fill(null)

  // ---- relay state -----------------------------------------------------------------
  const relayUp = new Uint8Array(R).fill(1)
  const relayEpoch = new Int32Array(R)
  const poolHead = new Int32Array(R).fill(-1)
  const poolSize = new Int32Array(R)

  // ---- client state ----------------------------------------------------------------
  const clOnline = new Uint8Array(C)
  const clGen = new Int32Array(C)
  const clCirc = new Int32Array(C).fill(-1)
  const clNeedConnect = new Uint8Array(C)
  const loopProc: Array<PoissonProcess | null> = new Array(C).fill(null)
  const dropProc: Array<PoissonProcess | null> = new Array(C).fill(null)
  const callProc: Array<PoissonProcess | null> = new Array(C).fill(null)
  let online = 0
  let onlineArea = 0
  let onlineSince = 0
  const setOnline = (delta: number): void => {
    const now = engine.now
    onlineArea += online * (now - onlineSince)
    onlineSince = now
    online += delta
  }

  // ---- circuits (slots recycled) ------------------------------------------------------
  let circCap = 1 << 12
  let circClient = new Int32Array(circCap)
  let circHops = new Int32Array(circCap * H)
  let circLane = new Float64Array(circCap * H * 2)
  let circInflight = new Int32Array(circCap)
  let circRetired = new Uint8Array(circCap)
  let circBroken = new Uint8Array(circCap)
  let circReady = new Float64Array(circCap)
  let circExpires = new Float64Array(circCap)
  const circFree: number[] = []
  let circSlots = 0
  const growCircuits = (): void => {
    const n = circCap * 2
    const gi = (a: Int32Array, m: number): Int32Array<ArrayBuffer> => { const b = new Int32Array(n * m); b.set(a); return b }
    const gf = (a: Float64Array, m: number): Float64Array<ArrayBuffer> => { const b = new Float64Array(n * m); b.set(a); return b }
    const gu = (a: Uint8Array): Uint8Array<ArrayBuffer> => { const b = new Uint8Array(n); b.set(a); return b }
    circClient = gi(circClient, 1); circHops = gi(circHops, H); circLane = gf(circLane, H * 2); circInflight = gi(circInflight, 1)
    circRetired = gu(circRetired); circBroken = gu(circBroken); circReady = gf(circReady, 1); circExpires = gf(circExpires, 1)
    circCap = n
  }
  const freeCircuitIfDone = (k: number): void => {
    if (circRetired[k] === 1 && circInflight[k] === 0) { circRetired[k] = 2; circFree.push(k) }
  }

  // ---- cells (slots recycled) ------------------------------------------------------
  let cap = 1 << 14
  let cCirc = new Int32Array(cap)
  let cPos = new Int32Array(cap)
  let cDir = new Uint8Array(cap)
  let cKind = new Uint8Array(cap)
  let cCall = new Int32Array(cap)
  let cOrigin = new Int32Array(cap)
  let cTarget = new Int32Array(cap)
  let cEpoch = new Int32Array(cap)
  let cLink = new Float64Array(cap)
  let cMix = new Float64Array(cap)
  let cQueue = new Float64Array(cap)
  let cPrev = new Int32Array(cap)
  let cNext = new Int32Array(cap)
  const cVec: Array<SparseVec | null> = new Array(cap).fill(null)
  let cFree = new Int32Array(cap)
  let cFreeTop = 0
  let cSlots = 0
  const growCells = (): void => {
    const n = cap * 2
    const gi = (a: Int32Array): Int32Array<ArrayBuffer> => { const b = new Int32Array(n); b.set(a); return b }
    const gf = (a: Float64Array): Float64Array<ArrayBuffer> => { const b = new Float64Array(n); b.set(a); return b }
    const gu = (a: Uint8Array): Uint8Array<ArrayBuffer> => { const b = new Uint8Array(n); b.set(a); return b }
    cCirc = gi(cCirc); cPos = gi(cPos); cDir = gu(cDir); cKind = gu(cKind); cCall = gi(cCall); cOrigin = gi(cOrigin)
    cTarget = gi(cTarget); cEpoch = gi(cEpoch); cLink = gf(cLink); cMix = gf(cMix); cQueue = gf(cQueue)
    cPrev = gi(cPrev); cNext = gi(cNext); cFree = gi(cFree)
    for (let i = cap; i < n; i++) cVec.push(null)
    cap = n
  }
  const newCell = (circ: number, pos: number, dir: number, kind: number, call: number, origin: number): number => {
    let x: number
    if (cFreeTop > 0) x = cFree[--cFreeTop]
    else {
      if (cSlots === cap) growCells()
      x = cSlots++
    }
    cCirc[x] = circ; cPos[x] = pos; cDir[x] = dir; cKind[x] = kind; cCall[x] = call; cOrigin[x] = origin
    cTarget[x] = -1; cLink[x] = 0; cMix[x] = 0; cQueue[x] = 0; cVec[x] = null
    circInflight[circ]++
    return x
  }
  const freeCell = (x: number): void => {
    cVec[x] = null
    cFree[cFreeTop++] = x
    const k = cCirc[x]
    circInflight[k]--
    if (circRetired[k] === 1 && circInflight[k] === 0) freeCircuitIfDone(k)
  }

  // ---- calls -----------------------------------------------------------------------
  let callCap = 1 << 14
  let callClient = new Int32Array(callCap)
  let callGen = new Int32Array(callCap)
  let callCirc = new Int32Array(callCap)
  let callProvider = new Int32Array(callCap)
  let callIssued = new Float64Array(callCap)
  let callLeft = new Int32Array(callCap)
  let callState = new Uint8Array(callCap) // 0 pending, 1 done, 2 failed
  let callReq = new Float64Array(callCap * 3) // link, mix, queue of the critical request cell
  let calls = 0
  const growCalls = (): void => {
    const n = callCap * 2
    const gi = (a: Int32Array): Int32Array<ArrayBuffer> => { const b = new Int32Array(n); b.set(a); return b }
    callClient = gi(callClient); callGen = gi(callGen); callCirc = gi(callCirc); callProvider = gi(callProvider); callLeft = gi(callLeft)
    const f = new Float64Array(n); f.set(callIssued); callIssued = f
    const s = new Uint8Array(n); s.set(callState); callState = s
    const q = new Float64Array(n * 3); q.set(callReq); callReq = q
    callCap = n
  }

  // ---- metrics -----------------------------------------------------------------------
  const latTotal = new F64List(); const latLink = new F64List(); const latMix = new F64List(); const latQueue = new F64List(); const latOther = new F64List()
  const buildTimes = new F64List()
  let circuitsBuilt = 0; let buildFailures = 0; let circuitsCompromised = 0
  let callsCompleted = 0; let callsFailed = 0; let callsObserved = 0
  let realSent = 0; let loopSent = 0; let dropSent = 0; let coverSkipped = 0
  let realHops = 0; let coverHops = 0; let cellsLost = 0; let responsesSent = 0
  let poolAtReleaseSum = 0; let releases = 0
  const targets: TargetRow[] = []
  const targetSender: number[] = []
  const targetOnline: number[] = []
  let postWarmupCalls = 0
  const clientChurn = p.clientChurn === null ? null : new ChurnModel(p.clientChurn.session, p.clientChurn.downtime)
  const relayChurn = p.relayChurn === null ? null : new ChurnModel(p.relayChurn.session, p.relayChurn.downtime)
  const expectedCalls = C * (clientChurn?.onlineProbability ?? 1) * Math.max(0, p.durationS - p.warmupS) / p.callIntervalS
  const targetStride = Math.max(1, Math.floor(expectedCalls / (1.25 * p.targets)))
  const mixer = p.entropy ? new VectorMixer(E) : null

  const clientNode = (c: number): number => R + c
  const providerNode = (q: number): number => R + C + q

  /** Put cell x on the link from node `from` to node `to` (its cPos already set to the receiver). */
  const transmit = (x: number, from: number, to: number, rng: RngBank): void => {
    const t = net.send(from, to, engine.now, rng)
    cQueue[x] += net.lastQueue
    cLink[x] += net.lastLink + cryptoMs
    engine.at(t + cryptoMs, EV_ARRIVE, x)
  }

  /** A pending call holds a reference on its circuit (so the slot outlives it); released when it ends. */
  const endCall = (call: number, state: number): void => {
    callState[call] = state
    const k = callCirc[call]
    circInflight[k]--
    freeCircuitIfDone(k)
  }
  const failCall = (call: number): void => {
    if (callState[call] === 0) { endCall(call, 2); callsFailed++ }
  }

  const loseCell = (x: number): void => {
    cellsLost++
    const k = cKind[x]
    if (k === K_REQUEST || k === K_RESPONSE) {
      failCall(cCall[x])
      circBroken[cCirc[x]] = 1
    }
    freeCell(x)
  }

  const retireCircuit = (c: number): void => {
    const k = clCirc[c]
    if (k < 0) return
    clCirc[c] = -1
    circRetired[k] = 1
    freeCircuitIfDone(k)
  }

  /** Make sure client c has a usable circuit; returns it (its readiness time is circReady). */
  const ensureCircuit = (c: number): number => {
    const now = engine.now
    const cur = clCirc[c]
    if (cur >= 0 && now < circExpires[cur] && circBroken[cur] === 0) return cur
    retireCircuit(c)
    const rng = clientRng.select(c)
    let guards = guardSets[c]
    if (guards === null && p.guards) { guards = new GuardSet({ rules }); guardSets[c] = guards }
    let buildMs = 0
    let path: number[] = []
    for (let attempt = 0; ; attempt++) {
      path = buildPathIndices(dir, { rng, clock: engine.clock, guards, rules }, { length: H })
      let dead = -1
      for (let h = 0; h < H; h++) if (relayUp[path[h]] === 0) { dead = h; break }
      if (dead < 0) break
      buildFailures++
      // the client waits for the dead hop's answer until the build timeout, then retries;
      // a dead guard is dropped (the GuardSet replaces it), as a client gives up on an unreachable guard
      buildMs += p.buildTimeoutMs
      if (dead === 0 && guards !== null) guards.drop(dir.relays[path[0]].id)
      if (attempt + 1 >= MAX_BUILD_TRIES) break
    }
    const cn = clientNode(c)
    if (clNeedConnect[c] === 1) { buildMs += p.connectRtts * net.rtt(cn, path[0]); clNeedConnect[c] = 0 }
    let toHop = 0
    let prev = cn
    for (let h = 0; h < H; h++) {
      toHop += net.rtt(prev, path[h])
      buildMs += toHop + p.handshakeMs
      prev = path[h]
    }
    let k: number
    if (circFree.length > 0) k = circFree.pop() as number
    else {
      if (circSlots === circCap) growCircuits()
      k = circSlots++
    }
    circClient[k] = c; circInflight[k] = 0; circRetired[k] = 0; circBroken[k] = 0
    for (let h = 0; h < H; h++) {
      circHops[k * H + h] = path[h]
      circLane[(k * H + h) * 2] = -Infinity
      circLane[(k * H + h) * 2 + 1] = -Infinity
    }
    circReady[k] = now + buildMs
    circExpires[k] = now + buildMs + p.circuitLifetimeS * 1000
    clCirc[c] = k
    circuitsBuilt++
    buildTimes.push(buildMs)
    if (adversarial[path[0]] === 1 && adversarial[path[H - 1]] === 1) circuitsCompromised++
    return k
  }

  const sendRequest = (call: number): void => {
    const c = callClient[call]
    const k = callCirc[call]
    const cn = clientNode(c)
    const rng = clientRng.select(c)
    const target = callTarget.get(call) ?? -1
    for (let i = 0; i < reqCells; i++) {
      const x = newCell(k, 0, FWD, K_REQUEST, call, c)
      if (i === 0 && target >= 0) cTarget[x] = target
      realSent++
      transmit(x, cn, circHops[k * H], rng)
    }
  }
  /** Target index of tagged calls. */
  const callTarget = new Map<number, number>()

  // ---- handlers --------------------------------------------------------------------
  engine.on(EV_CLIENT_UP, (c) => {
    const now = engine.now
    clOnline[c] = 1
    clGen[c]++
    setOnline(1)
    clNeedConnect[c] = 1
    const rng = clientRng.select(c)
    const gen = clGen[c]
    if (clientChurn !== null) engine.at(now + clientChurn.periodMs(true, rng), EV_CLIENT_DOWN, c)
    const lp = new PoissonProcess(loopRate, rng, now)
    const dp = new PoissonProcess(dropRate, rng, now)
    loopProc[c] = lp; dropProc[c] = dp
    const next = Math.min(lp.next, dp.next)
    if (next < endMs) engine.at(next, EV_COVER, c, gen)
    const cp = new PoissonProcess(1 / p.callIntervalS, rng, now)
    callProc[c] = cp
    if (cp.next < endMs) engine.at(cp.next, EV_CALL, c, gen)
  })

  engine.on(EV_CLIENT_DOWN, (c) => {
    clOnline[c] = 0
    clGen[c]++
    setOnline(-1)
    retireCircuit(c)
    loopProc[c] = null; dropProc[c] = null; callProc[c] = null
    if (clientChurn !== null) {
      const t = engine.now + clientChurn.periodMs(false, clientRng.select(c))
      if (t < endMs) engine.at(t, EV_CLIENT_UP, c)
    }
  })

  engine.on(EV_COVER, (c, gen) => {
    if (gen !== clGen[c]) return
    const lp = loopProc[c] as PoissonProcess
    const dp = dropProc[c] as PoissonProcess
    const isLoop = lp.next <= dp.next
    clientRng.select(c)
    if (isLoop) lp.advance(); else dp.advance()
    const now = engine.now
    const k = ensureCircuit(c)
    if (circReady[k] > now) coverSkipped++
    else {
      const x = newCell(k, 0, FWD, isLoop ? K_LOOP : K_DROP, -1, c)
      if (isLoop) loopSent++; else dropSent++
      transmit(x, clientNode(c), circHops[k * H], clientRng.select(c))
    }
    const next = Math.min(lp.next, dp.next)
    if (next < endMs) engine.at(next, EV_COVER, c, gen)
  })

  engine.on(EV_CALL, (c, gen) => {
    if (gen !== clGen[c]) return
    const cp = callProc[c] as PoissonProcess
    const rng = clientRng.select(c)
    cp.advance()
    if (cp.next < endMs) engine.at(cp.next, EV_CALL, c, gen)
    const now = engine.now
    if (calls === callCap) growCalls()
    const call = calls++
    const q = rng.int(P)
    const k = ensureCircuit(c)
    callClient[call] = c; callGen[call] = gen; callCirc[call] = k; callProvider[call] = q
    callIssued[call] = now; callLeft[call] = reqCells; callState[call] = 0
    circInflight[k]++
    if ((clientObserved[c] === 1 || adversarial[circHops[k * H]] === 1) && (providerObserved[q] === 1 || adversarial[circHops[k * H + H - 1]] === 1)) callsObserved++
    if (now >= warmupMs && p.entropy) {
      if (postWarmupCalls++ % targetStride === 0) {
        callTarget.set(call, targetSender.length)
        targetSender.push(c)
        targetOnline.push(online)
      }
    }
    if (circReady[k] > now) engine.at(circReady[k], EV_CALL_SEND, call)
    else sendRequest(call)
  })

  engine.on(EV_CALL_SEND, (call) => {
    if (callGen[call] !== clGen[callClient[call]]) { failCall(call); return }
    sendRequest(call)
  })

  engine.on(EV_ARRIVE, (x) => {
    const pos = cPos[x]
    const k = cCirc[x]
    if (pos === H) { arriveProvider(x); return }
    if (pos < 0) { arriveClient(x); return }
    const r = circHops[k * H + pos]
    if (relayUp[r] === 0) { loseCell(x); return }
    const now = engine.now
    const li = (k * H + pos) * 2 + cDir[x]
    const release = laneReleaseTime(now, meanDelay === 0 ? 0 : sampleExp(relayRng.select(r), meanDelay), circLane[li])
    circLane[li] = release
    cMix[x] += release - now
    cEpoch[x] = relayEpoch[r]
    if (mixer !== null) {
      const h = poolHead[r]
      cPrev[x] = -1; cNext[x] = h
      if (h >= 0) cPrev[h] = x
      poolHead[r] = x
      poolSize[r]++
    }
    engine.at(release, EV_RELEASE, x)
  })

  engine.on(EV_RELEASE, (x) => {
    const pos = cPos[x]
    const k = cCirc[x]
    const r = circHops[k * H + pos]
    if (mixer !== null) {
      const n = poolSize[r]
      poolAtReleaseSum += n
      releases++
      if (n > 1 && adversarial[r] === 0) {
        const w = 1 / n
        for (let y = poolHead[r]; y >= 0; y = cNext[y]) mixer.add(cVec[y], cOrigin[y], w)
        cVec[x] = mixer.take()
      }
      const pv = cPrev[x]; const nx = cNext[x]
      if (pv >= 0) cNext[pv] = nx; else poolHead[r] = nx
      if (nx >= 0) cPrev[nx] = pv
      poolSize[r] = n - 1
    }
    if (cEpoch[x] !== relayEpoch[r]) { loseCell(x); return }
    const kind = cKind[x]
    if (kind === K_REQUEST || kind === K_RESPONSE) realHops++; else coverHops++
    const rng = relayRng.select(r)
    if (cDir[x] === FWD) {
      if (pos < H - 1) { cPos[x] = pos + 1; transmit(x, r, circHops[k * H + pos + 1], rng); return }
      if (kind === K_DROP) { freeCell(x); return }
      if (kind === K_LOOP) {
        cDir[x] = BACK
        if (H > 1) { cPos[x] = pos - 1; transmit(x, r, circHops[k * H + pos - 1], rng) } else { cPos[x] = -1; transmit(x, r, clientNode(circClient[k]), rng) }
        return
      }
      cPos[x] = H
      transmit(x, r, providerNode(callProvider[cCall[x]]), rng)
      return
    }
    if (pos > 0) { cPos[x] = pos - 1; transmit(x, r, circHops[k * H + pos - 1], rng) } else { cPos[x] = -1; transmit(x, r, clientNode(circClient[k]), rng) }
  })

  const arriveProvider = (x: number): void => {
    const call = cCall[x]
    const t = cTarget[x]
    if (t >= 0) {
      const s = targetSender[t]
      const est = senderEstimate(cVec[x], cOrigin[x], s, C)
      targets.push({ sender: s, online: targetOnline[t], entropy: est.entropy, pTrue: est.pTrue, support: est.support })
    }
    if (callState[call] === 0 && --callLeft[call] === 0) {
      callReq[call * 3] = cLink[x]; callReq[call * 3 + 1] = cMix[x]; callReq[call * 3 + 2] = cQueue[x]
      callLeft[call] = respCells
      engine.after(p.providerServiceMs, EV_PROVIDER_DONE, call)
    }
    freeCell(x)
  }

  engine.on(EV_PROVIDER_DONE, (call) => {
    const k = callCirc[call]
    const q = callProvider[call]
    const from = providerNode(q)
    const rng = providerRng.select(q)
    responsesSent++
    for (let i = 0; i < respCells; i++) {
      const x = newCell(k, H - 1, BACK, K_RESPONSE, call, C + q)
      realSent++
      transmit(x, from, circHops[k * H + H - 1], rng)
    }
  })

  const arriveClient = (x: number): void => {
    if (cKind[x] === K_RESPONSE) {
      const call = cCall[x]
      const c = callClient[call]
      if (clGen[c] !== callGen[call]) failCall(call)
      else if (callState[call] === 0 && --callLeft[call] === 0) {
        const now = engine.now
        if (now - callIssued[call] > p.callTimeoutS * 1000) failCall(call)
        else {
          endCall(call, 1)
          callsCompleted++
          const total = now - callIssued[call]
          const link = callReq[call * 3] + cLink[x]
          const mix = callReq[call * 3 + 1] + cMix[x]
          const queue = callReq[call * 3 + 2] + cQueue[x]
          latTotal.push(total); latLink.push(link); latMix.push(mix); latQueue.push(queue); latOther.push(total - link - mix - queue)
        }
      }
    }
    freeCell(x)
  }

  engine.on(EV_RELAY_DOWN, (r) => {
    relayUp[r] = 0
    relayEpoch[r]++
    if (relayChurn !== null) { const t = engine.now + relayChurn.periodMs(false, relayRng.select(r)); if (t < endMs) engine.at(t, EV_RELAY_UP, r) }
  })
  engine.on(EV_RELAY_UP, (r) => {
    relayUp[r] = 1
    if (relayChurn !== null) { const t = engine.now + relayChurn.periodMs(true, relayRng.select(r)); if (t < endMs) engine.at(t, EV_RELAY_DOWN, r) }
  })

  // ---- initial state -----------------------------------------------------------------
  const churnRng = SeededRng.derive(seed, 'msg-churn-start')
  if (relayChurn !== null) {
    for (let r = 0; r < R; r++) {
      if (relayChurn.startOnline(churnRng)) { const t = relayChurn.periodMs(true, churnRng); if (t < endMs) engine.at(t, EV_RELAY_DOWN, r) } else {
        relayUp[r] = 0
        const t = relayChurn.periodMs(false, churnRng)
        if (t < endMs) engine.at(t, EV_RELAY_UP, r)
      }
    }
  }
  for (let c = 0; c < C; c++) {
    if (clientChurn === null || clientChurn.startOnline(churnRng)) engine.at(0, EV_CLIENT_UP, c)
    else { const t = clientChurn.periodMs(false, churnRng); if (t < endMs) engine.at(t, EV_CLIENT_UP, c) }
  }

  for (let t = PROGRESS_SLICE_MS; ; t += PROGRESS_SLICE_MS) {
    engine.run(Math.min(t, endMs))
    onProgress?.(Math.min(1, t / endMs))
    if (t >= endMs) break
  }
  setOnline(0)

  // ---- results -----------------------------------------------------------------------
  let censored = 0
  const cutoff = endMs - p.callTimeoutS * 1000
  for (let i = 0; i < calls; i++) {
    if (callState[i] !== 0) continue
    if (callIssued[i] > cutoff) censored++
    else { callState[i] = 2; callsFailed++ }
  }
  const hs = Float64Array.from(targets.map(t => t.entropy)).sort()
  const effs = Float64Array.from(targets.map(t => 2 ** t.entropy)).sort()
  const eps = Float64Array.from(targets.map(t => Math.max(0, Math.log(Math.max(t.online, 1) * t.pTrue)))).sort()
  const nT = targets.length
  const avg = (f: (t: TargetRow) => number): number | null => nT === 0 ? null : targets.reduce((a, t) => a + f(t), 0) / nT
  let advWeight = 0; let totalWeight = 0; let advCount = 0
  for (let i = 0; i < R; i++) { totalWeight += dir.weights[i]; if (adversarial[i] === 1) { advWeight += dir.weights[i]; advCount++ } }
  const sortedLat = latTotal.sorted()
  const cdf: number[] = []
  for (let q = 0; q <= 100; q++) cdf.push(sortedLat.length === 0 ? 0 : sortedLat[Math.min(sortedLat.length - 1, Math.max(0, Math.ceil(q / 100 * sortedLat.length) - 1))])
  const decided = callsCompleted + callsFailed
  const result: MessageResult = {
    perHopMeanDelayMs: meanDelay,
    targetsTagged: targetSender.length,
    targetsMeasured: nT,
    entropyMean: avg(t => t.entropy),
    entropyMedian: nT === 0 ? null : pct(hs, 0.5),
    entropyP10: nT === 0 ? null : pct(hs, 0.1),
    degreeMean: avg(t => t.online > 1 ? t.entropy / Math.log2(t.online) : 0),
    effectiveSetMean: avg(t => 2 ** t.entropy),
    effectiveSetMedian: nT === 0 ? null : pct(effs, 0.5),
    linkedFraction: avg(t => t.pTrue >= LINKED_P ? 1 : 0),
    epsilonDelta05: nT === 0 ? null : pct(eps, 0.95),
    epsilonDelta01: nT === 0 ? null : pct(eps, 0.99),
    meanPoolAtRelease: releases === 0 ? 0 : poolAtReleaseSum / releases,
    meanOnlineClients: onlineArea / endMs,
    latencyMs: pcts(latTotal),
    linkMs: pcts(latLink),
    mixingMs: pcts(latMix),
    queueingMs: pcts(latQueue),
    otherMs: pcts(latOther),
    meanSplitMs: { link: mean(latLink), mixing: mean(latMix), queueing: mean(latQueue), other: mean(latOther) },
    circuitBuildMs: pcts(buildTimes),
    circuitsBuilt,
    buildFailures,
    callsIssued: calls,
    callsCompleted,
    callsFailed,
    callsCensored: censored,
    deliverySuccess: decided === 0 ? null : callsCompleted / decided,
    requestCells: reqCells,
    responseCells: respCells,
    realCellsSent: realSent,
    loopCellsSent: loopSent,
    dropCellsSent: dropSent,
    coverSkippedNoCircuit: coverSkipped,
    realCellHops: realHops,
    coverCellHops: coverHops,
    coverOverhead: realHops === 0 ? null : coverHops / realHops,
    coverShare: realHops + coverHops === 0 ? null : coverHops / (realHops + coverHops),
    adversaryCountShare: advCount / R,
    adversaryWeightShare: totalWeight === 0 ? 0 : advWeight / totalWeight,
    circuitsCompromisedFraction: circuitsBuilt === 0 ? null : circuitsCompromised / circuitsBuilt,
    callsEndToEndObservedFraction: calls === 0 ? null : callsObserved / calls,
    cellsLost,
    events: engine.events,
    latencyCdf: cdf
  }
  return { result, targets, messages: calls + responsesSent }
}
