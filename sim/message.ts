/**
 * Message mode (Loopix-style): clients build circuits with src/onion/path, send tool calls
 * (a request of a few cells to a provider, a response back) and cover cells (loops and
 * drops, Poisson processes with src/mix/cover's gaps; paranoid: request cells wait for the
 * slots of src/mix's SendStream, whose empty slots carry loops), relays delay every cell by
 * Exp(mean of the profile, src/mix profiles + random) under the per-circuit order rule
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
 * Not modelled: paranoid's cover circuits and the last hop's backward stream (src/mix
 * SpreadStream and LastHopStreams: the network spreads a paranoid client's stream over six
 * circuits and sends drops in empty slots; here it rides one circuit and its empty slots
 * carry loops), multiple call circuits per client, circuit-level linking of cells by an observer over time (the
 * per-cell estimator is an upper bound on what such an observer is left with), downlink
 * congestion, provider churn.
 */
import { buildPathIndices, GuardSet, type Weighting } from '../src/onion/path/index.ts'
import {
  laneReleaseTime, messageCellCount, paddedCellCount, PROFILES, relayMixTable, resolveClientProfile, SendStream,
  sampleExp, WIRE_CELL_BYTES, PARANOID_QUEUE_LIMIT, type ProfileName
} from '../src/mix/index.ts'
import { Engine } from './engine/engine.ts'
import { ChurnModel, Network, sampleDist, type Dist, type GeographyParams } from './engine/network.ts'
import { senderEstimate, VectorMixer, type SparseVec } from './anonymity.ts'
import { syntheticDirectory, type PathsParams } from './paths.ts'
import { RngBank, SeededRng } from './rng.ts'
import { SimInternalError } from './errors.ts'
import type { Rng } from '../src/overlay/clock.ts'

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
const EV_SLOT = 10

const K_REQUEST = 0
const K_RESPONSE = 1
const K_LOOP = 2
const K_DROP = 3

const FWD = 0
const BACK = 1

// cell record (see runMessage): float64 words, then int32 words of the same buffer
const X_LINK = 0
const X_MIX = 1
const X_QUEUE = 2
const X_CIRC = 6
const X_POS = 7
const X_DIR = 8
const X_KIND = 9
const X_CALL = 10
const X_ORIGIN = 11
const X_TARGET = 12
const X_EPOCH = 13
const X_PREV = 14
const X_NEXT = 15
/** Record size in float64 words (3 + 10 int32 words = 64 bytes). */
const XS = 8
const XS2 = XS * 2

// client record (see runMessage): float64 words, then int32 words of the same buffer
const CL_LOOP = 0
const CL_DROP = 1
const CL_CALL = 2
const CL_GEN = 6
const CL_CIRC = 7
const CL_NEED_CONNECT = 8
/** Record size in float64 words (3 times + 3 int32 words, padded), and in int32 words. */
const CL_STRIDE = 5
const CL2 = CL_STRIDE * 2
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

/**
 * Gap to the next event of a Poisson process of `ratePerSec`, ms — exactly src/mix
 * PoissonProcess's gap (Exp(1000 / rate) by src/mix `sampleExp`; Infinity at rate 0), for
 * processes kept as numbers in the client records rather than as one object each (a test
 * checks the times equal PoissonProcess's draw for draw).
 */
export function poissonGapMs (ratePerSec: number, rng: Rng): number {
  return ratePerSec === 0 ? Infinity : sampleExp(rng, 1000 / ratePerSec)
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
  const baseCover = base.client.loopRatePerSec + base.client.dropRatePerSec
  const coverRate = p.coverPerSec ?? baseCover
  const loopShare = p.loopShare ?? (baseCover > 0 ? base.client.loopRatePerSec / baseCover : 0.5)
  const profile = resolveClientProfile(p.profile, { loopRatePerSec: coverRate * loopShare, dropRatePerSec: coverRate * (1 - loopShare) })
  const loopRate = profile.client.loopRatePerSec
  const dropRate = profile.client.dropRatePerSec
  const callRate = 1 / p.callIntervalS
  const sendRate = profile.client.sendRatePerSec
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
  // One 40-byte record per client (a cover event touches one place, not six arrays and
  // three objects): float64 [next loop, next drop, next call] — the client's three Poisson
  // processes (poissonGapMs) — then int32 words [generation, circuit, needs connect].
  const clF = new Float64Array(C * CL_STRIDE)
  const clI = new Int32Array(clF.buffer)
  for (let c = 0; c < C; c++) clI[c * CL2 + CL_CIRC] = -1
  // paranoid: each online client's send stream (src/mix SendStream) of queued request cells
  const streams: Array<SendStream<number> | null> | null = sendRate > 0 ? new Array<SendStream<number> | null>(C).fill(null) : null
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
  // One record per circuit slot, so a cell's hop reads its relay and lane in one place:
  // int32 words [relay of hop 0..H-1, client, cells + calls in flight, retired (0 live,
  // 1 retired, 2 freed), broken], padded to an even count, then float64 [lane release
  // times: hop 0 forward, hop 0 back, hop 1 forward, …; ready; expires]. `circI` and
  // `circF` view the same buffer; circuit k's words start at k × CS2 and k × CS.
  const CI_CLIENT = H
  const CI_INFLIGHT = H + 1
  const CI_RETIRED = H + 2
  const CI_BROKEN = H + 3
  const CF_LANE = (H + 5) >> 1
  const CF_READY = CF_LANE + 2 * H
  const CF_EXPIRES = CF_READY + 1
  const CS = CF_EXPIRES + 1
  const CS2 = CS * 2
  let circCap = 1 << 12
  let circF = new Float64Array(circCap * CS)
  let circI = new Int32Array(circF.buffer)
  const circFree: number[] = []
  let circSlots = 0
  const growCircuits = (): void => {
    circCap *= 2
    const f = new Float64Array(circCap * CS); f.set(circF)
    circF = f
    circI = new Int32Array(f.buffer)
  }
  const freeCircuitIfDone = (k: number): void => {
    const ki = k * CS2
    if (circI[ki + CI_RETIRED] === 1 && circI[ki + CI_INFLIGHT] === 0) { circI[ki + CI_RETIRED] = 2; circFree.push(k) }
  }

  // ---- cells (slots recycled) ------------------------------------------------------
  // One 64-byte record per cell slot, so a hop reads and writes one place: float64 words
  // [link ms, mixing ms, queueing ms] then int32 words [circuit, position, direction, kind,
  // call, origin, target, relay epoch, pool prev, pool next]. `cellF` and `cellI` view the
  // same buffer; cell x's words start at x × XS and x × XS2. Its vector is in `cVec`.
  let cap = 1 << 14
  let cellF = new Float64Array(cap * XS)
  let cellI = new Int32Array(cellF.buffer)
  const cVec: Array<SparseVec | null> = new Array(cap).fill(null)
  let cFree = new Int32Array(cap)
  let cFreeTop = 0
  let cSlots = 0
  const growCells = (): void => {
    const n = cap * 2
    const f = new Float64Array(n * XS); f.set(cellF)
    cellF = f
    cellI = new Int32Array(f.buffer)
    const fr = new Int32Array(n); fr.set(cFree); cFree = fr
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
    const xi = x * XS2
    const xf = x * XS
    cellI[xi + X_CIRC] = circ; cellI[xi + X_POS] = pos; cellI[xi + X_DIR] = dir; cellI[xi + X_KIND] = kind
    cellI[xi + X_CALL] = call; cellI[xi + X_ORIGIN] = origin; cellI[xi + X_TARGET] = -1
    cellF[xf + X_LINK] = 0; cellF[xf + X_MIX] = 0; cellF[xf + X_QUEUE] = 0; cVec[x] = null
    circI[circ * CS2 + CI_INFLIGHT]++
    return x
  }
  const freeCell = (x: number): void => {
    cVec[x] = null
    cFree[cFreeTop++] = x
    const k = cellI[x * XS2 + X_CIRC]
    const ki = k * CS2
    if (--circI[ki + CI_INFLIGHT] === 0 && circI[ki + CI_RETIRED] === 1) freeCircuitIfDone(k)
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

  /** Put cell x on the link from node `from` to node `to` (its position already set to the receiver). */
  const transmit = (x: number, from: number, to: number, rng: RngBank): void => {
    const t = net.send(from, to, engine.now, rng)
    const xf = x * XS
    cellF[xf + X_QUEUE] += net.lastQueue
    cellF[xf + X_LINK] += net.lastLink + cryptoMs
    engine.at(t + cryptoMs, EV_ARRIVE, x)
  }

  /** A pending call holds a reference on its circuit (so the slot outlives it); released when it ends. */
  const endCall = (call: number, state: number): void => {
    callState[call] = state
    const k = callCirc[call]
    circI[k * CS2 + CI_INFLIGHT]--
    freeCircuitIfDone(k)
  }
  const failCall = (call: number): void => {
    if (callState[call] === 0) { endCall(call, 2); callsFailed++ }
  }

  const loseCell = (x: number): void => {
    cellsLost++
    const xi = x * XS2
    const kind = cellI[xi + X_KIND]
    if (kind === K_REQUEST || kind === K_RESPONSE) {
      failCall(cellI[xi + X_CALL])
      circI[cellI[xi + X_CIRC] * CS2 + CI_BROKEN] = 1
    }
    freeCell(x)
  }

  const retireCircuit = (c: number): void => {
    const k = clI[c * CL2 + CL_CIRC]
    if (k < 0) return
    clI[c * CL2 + CL_CIRC] = -1
    circI[k * CS2 + CI_RETIRED] = 1
    freeCircuitIfDone(k)
  }

  /** Make sure client c has a usable circuit; returns it (its readiness time is at CF_READY). */
  const ensureCircuit = (c: number): number => {
    const now = engine.now
    const cur = clI[c * CL2 + CL_CIRC]
    if (cur >= 0 && now < circF[cur * CS + CF_EXPIRES] && circI[cur * CS2 + CI_BROKEN] === 0) return cur
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
    const ci = c * CL2
    if (clI[ci + CL_NEED_CONNECT] === 1) { buildMs += p.connectRtts * net.rtt(cn, path[0]); clI[ci + CL_NEED_CONNECT] = 0 }
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
    const ki = k * CS2
    const kf = k * CS
    circI[ki + CI_CLIENT] = c; circI[ki + CI_INFLIGHT] = 0; circI[ki + CI_RETIRED] = 0; circI[ki + CI_BROKEN] = 0
    for (let h = 0; h < H; h++) {
      circI[ki + h] = path[h]
      circF[kf + CF_LANE + 2 * h] = -Infinity
      circF[kf + CF_LANE + 2 * h + 1] = -Infinity
    }
    circF[kf + CF_READY] = now + buildMs
    circF[kf + CF_EXPIRES] = now + buildMs + p.circuitLifetimeS * 1000
    clI[ci + CL_CIRC] = k
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
    const stream = streams?.[c] ?? null
    const queued: number[] = []
    for (let i = 0; i < reqCells; i++) {
      const x = newCell(k, 0, FWD, K_REQUEST, call, c)
      if (i === 0 && target >= 0) cellI[x * XS2 + X_TARGET] = target
      if (stream !== null) { queued.push(x); continue }
      realSent++
      transmit(x, cn, circI[k * CS2], rng)
    }
    // paranoid: the cells wait for stream slots; a full queue refuses the whole message, and
    // the client destroys the circuit (src/node/mix-glue.ts), failing the call
    if (stream !== null && !stream.offerAll(queued).ok) {
      for (const x of queued) freeCell(x)
      failCall(call)
      circI[k * CS2 + CI_BROKEN] = 1
    }
  }
  /** Target index of tagged calls. */
  const callTarget = new Map<number, number>()

  // ---- handlers --------------------------------------------------------------------
  engine.on(EV_CLIENT_UP, (c) => {
    const now = engine.now
    const cf = c * CL_STRIDE
    const ci = cf * 2
    const gen = ++clI[ci + CL_GEN]
    setOnline(1)
    clI[ci + CL_NEED_CONNECT] = 1
    const rng = clientRng.select(c)
    if (clientChurn !== null) engine.at(now + clientChurn.periodMs(true, rng), EV_CLIENT_DOWN, c)
    // the three processes start now, drawn in this order (loop, drop, call)
    const loopNext = now + poissonGapMs(loopRate, rng)
    const dropNext = now + poissonGapMs(dropRate, rng)
    clF[cf + CL_LOOP] = loopNext; clF[cf + CL_DROP] = dropNext
    const next = Math.min(loopNext, dropNext)
    if (next < endMs) engine.at(next, EV_COVER, c, gen)
    const callNext = now + poissonGapMs(callRate, rng)
    clF[cf + CL_CALL] = callNext
    if (callNext < endMs) engine.at(callNext, EV_CALL, c, gen)
    if (streams !== null) {
      const stream = new SendStream<number>({ ratePerSec: sendRate, rng: clientRng, startMs: now, queueLimit: PARANOID_QUEUE_LIMIT })
      streams[c] = stream
      if (stream.nextDeadline() < endMs) engine.at(stream.nextDeadline(), EV_SLOT, c, gen)
    }
  })

  engine.on(EV_CLIENT_DOWN, (c) => {
    const ci = c * CL2
    clI[ci + CL_GEN]++
    setOnline(-1)
    if (streams !== null) {
      // request cells still waiting for a slot never leave: their calls fail
      for (const x of streams[c]?.drain() ?? []) { failCall(cellI[x * XS2 + X_CALL]); freeCell(x) }
      streams[c] = null
    }
    retireCircuit(c)
    if (clientChurn !== null) {
      const t = engine.now + clientChurn.periodMs(false, clientRng.select(c))
      if (t < endMs) engine.at(t, EV_CLIENT_UP, c)
    }
  })

  engine.on(EV_COVER, (c, gen) => {
    const cf = c * CL_STRIDE
    if (gen !== clI[cf * 2 + CL_GEN]) return
    const loopNext = clF[cf + CL_LOOP]
    const dropNext = clF[cf + CL_DROP]
    const isLoop = loopNext <= dropNext
    const rng = clientRng.select(c)
    if (isLoop) clF[cf + CL_LOOP] = loopNext + poissonGapMs(loopRate, rng)
    else clF[cf + CL_DROP] = dropNext + poissonGapMs(dropRate, rng)
    const now = engine.now
    const k = ensureCircuit(c)
    if (circF[k * CS + CF_READY] > now) coverSkipped++
    else {
      const x = newCell(k, 0, FWD, isLoop ? K_LOOP : K_DROP, -1, c)
      if (isLoop) loopSent++; else dropSent++
      transmit(x, clientNode(c), circI[k * CS2], clientRng.select(c))
    }
    const next = Math.min(clF[cf + CL_LOOP], clF[cf + CL_DROP])
    if (next < endMs) engine.at(next, EV_COVER, c, gen)
  })

  // paranoid: one slot of the client's send stream; it carries the oldest queued request
  // cell, or else a loop cell (cover), as src/node/mix-glue.ts does
  engine.on(EV_SLOT, (c, gen) => {
    const stream = streams?.[c] ?? null
    if (gen !== clI[c * CL2 + CL_GEN] || stream === null) return
    const rng = clientRng.select(c)
    const now = engine.now
    for (const e of stream.takeDue(now)) {
      if (e.kind === 'real') {
        realSent++
        transmit(e.cell, clientNode(c), circI[cellI[e.cell * XS2 + X_CIRC] * CS2], rng)
        continue
      }
      const k = ensureCircuit(c)
      if (circF[k * CS + CF_READY] > now) { coverSkipped++; continue }
      const x = newCell(k, 0, FWD, K_LOOP, -1, c)
      loopSent++
      transmit(x, clientNode(c), circI[k * CS2], clientRng.select(c))
    }
    if (stream.nextDeadline() < endMs) engine.at(stream.nextDeadline(), EV_SLOT, c, gen)
  })

  engine.on(EV_CALL, (c, gen) => {
    const cf = c * CL_STRIDE
    if (gen !== clI[cf * 2 + CL_GEN]) return
    const rng = clientRng.select(c)
    const callNext = clF[cf + CL_CALL] + poissonGapMs(callRate, rng)
    clF[cf + CL_CALL] = callNext
    if (callNext < endMs) engine.at(callNext, EV_CALL, c, gen)
    const now = engine.now
    if (calls === callCap) growCalls()
    const call = calls++
    const q = rng.int(P)
    const k = ensureCircuit(c)
    callClient[call] = c; callGen[call] = gen; callCirc[call] = k; callProvider[call] = q
    callIssued[call] = now; callLeft[call] = reqCells; callState[call] = 0
    circI[k * CS2 + CI_INFLIGHT]++
    if ((clientObserved[c] === 1 || adversarial[circI[k * CS2]] === 1) && (providerObserved[q] === 1 || adversarial[circI[k * CS2 + H - 1]] === 1)) callsObserved++
    if (now >= warmupMs && p.entropy) {
      if (postWarmupCalls++ % targetStride === 0) {
        callTarget.set(call, targetSender.length)
        targetSender.push(c)
        targetOnline.push(online)
      }
    }
    const ready = circF[k * CS + CF_READY]
    if (ready > now) engine.at(ready, EV_CALL_SEND, call)
    else sendRequest(call)
  })

  engine.on(EV_CALL_SEND, (call) => {
    if (callGen[call] !== clI[callClient[call] * CL2 + CL_GEN]) { failCall(call); return }
    sendRequest(call)
  })

  engine.on(EV_ARRIVE, (x) => {
    const xi = x * XS2
    const pos = cellI[xi + X_POS]
    const k = cellI[xi + X_CIRC]
    if (pos === H) { arriveProvider(x); return }
    if (pos < 0) { arriveClient(x); return }
    const r = circI[k * CS2 + pos]
    if (relayUp[r] === 0) { loseCell(x); return }
    const now = engine.now
    const li = k * CS + CF_LANE + 2 * pos + cellI[xi + X_DIR]
    const release = laneReleaseTime(now, meanDelay === 0 ? 0 : sampleExp(relayRng.select(r), meanDelay), circF[li])
    circF[li] = release
    cellF[x * XS + X_MIX] += release - now
    cellI[xi + X_EPOCH] = relayEpoch[r]
    if (mixer !== null) {
      const h = poolHead[r]
      cellI[xi + X_PREV] = -1; cellI[xi + X_NEXT] = h
      if (h >= 0) cellI[h * XS2 + X_PREV] = x
      poolHead[r] = x
      poolSize[r]++
    }
    engine.at(release, EV_RELEASE, x)
  })

  engine.on(EV_RELEASE, (x) => {
    const xi = x * XS2
    const pos = cellI[xi + X_POS]
    const k = cellI[xi + X_CIRC]
    const ki = k * CS2
    const r = circI[ki + pos]
    if (mixer !== null) {
      const n = poolSize[r]
      poolAtReleaseSum += n
      releases++
      if (n > 1 && adversarial[r] === 0) {
        const w = 1 / n
        for (let y = poolHead[r]; y >= 0; y = cellI[y * XS2 + X_NEXT]) mixer.add(cVec[y], cellI[y * XS2 + X_ORIGIN], w)
        cVec[x] = mixer.take()
      }
      const pv = cellI[xi + X_PREV]; const nx = cellI[xi + X_NEXT]
      if (pv >= 0) cellI[pv * XS2 + X_NEXT] = nx; else poolHead[r] = nx
      if (nx >= 0) cellI[nx * XS2 + X_PREV] = pv
      poolSize[r] = n - 1
    }
    if (cellI[xi + X_EPOCH] !== relayEpoch[r]) { loseCell(x); return }
    const kind = cellI[xi + X_KIND]
    if (kind === K_REQUEST || kind === K_RESPONSE) realHops++; else coverHops++
    const rng = relayRng.select(r)
    if (cellI[xi + X_DIR] === FWD) {
      if (pos < H - 1) { cellI[xi + X_POS] = pos + 1; transmit(x, r, circI[ki + pos + 1], rng); return }
      if (kind === K_DROP) { freeCell(x); return }
      if (kind === K_LOOP) {
        cellI[xi + X_DIR] = BACK
        if (H > 1) { cellI[xi + X_POS] = pos - 1; transmit(x, r, circI[ki + pos - 1], rng) } else { cellI[xi + X_POS] = -1; transmit(x, r, clientNode(circI[ki + CI_CLIENT]), rng) }
        return
      }
      cellI[xi + X_POS] = H
      transmit(x, r, providerNode(callProvider[cellI[xi + X_CALL]]), rng)
      return
    }
    if (pos > 0) { cellI[xi + X_POS] = pos - 1; transmit(x, r, circI[ki + pos - 1], rng) } else { cellI[xi + X_POS] = -1; transmit(x, r, clientNode(circI[ki + CI_CLIENT]), rng) }
  })

  const arriveProvider = (x: number): void => {
    const xi = x * XS2
    const xf = x * XS
    const call = cellI[xi + X_CALL]
    const t = cellI[xi + X_TARGET]
    if (t >= 0) {
      const s = targetSender[t]
      const est = senderEstimate(cVec[x], cellI[xi + X_ORIGIN], s, C)
      targets.push({ sender: s, online: targetOnline[t], entropy: est.entropy, pTrue: est.pTrue, support: est.support })
    }
    if (callState[call] === 0 && --callLeft[call] === 0) {
      callReq[call * 3] = cellF[xf + X_LINK]; callReq[call * 3 + 1] = cellF[xf + X_MIX]; callReq[call * 3 + 2] = cellF[xf + X_QUEUE]
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
      transmit(x, from, circI[k * CS2 + H - 1], rng)
    }
  })

  const arriveClient = (x: number): void => {
    if (cellI[x * XS2 + X_KIND] === K_RESPONSE) {
      const call = cellI[x * XS2 + X_CALL]
      const c = callClient[call]
      if (clI[c * CL2 + CL_GEN] !== callGen[call]) failCall(call)
      else if (callState[call] === 0 && --callLeft[call] === 0) {
        const now = engine.now
        if (now - callIssued[call] > p.callTimeoutS * 1000) failCall(call)
        else {
          endCall(call, 1)
          callsCompleted++
          const total = now - callIssued[call]
          const xf = x * XS
          const link = callReq[call * 3] + cellF[xf + X_LINK]
          const mix = callReq[call * 3 + 1] + cellF[xf + X_MIX]
          const queue = callReq[call * 3 + 2] + cellF[xf + X_QUEUE]
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
