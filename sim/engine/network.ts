/**
 * The network model of the engine: where nodes are, how long a cell takes between two of
 * them, how fast each node sends, and when nodes come and go. Every per-node number lives
 * in a typed array indexed by a global node index (message mode: relays first, then
 * clients, then providers), so a 100k-node network costs a few MB and no objects.
 *
 * Latency (one way, ms) between nodes a and b:
 *
 *   lat(a, b) = base[region a][region b] + msPerKm × |pos a − pos b| + access a + access b
 *
 * Nodes are placed in regions drawn by weight; within a region, uniformly in a disc of
 * `radiusKm` around its centre (positions are offsets from the centre, so the distance
 * term is a within-region perturbation; the region pair carries the long-haul part).
 * `access` is a per-node last-mile latency (clients and providers; relays sit in data
 * centres and get 0). Each cell on a link adds jitter ~ Exp(jitterMs), drawn from the
 * *sender's* RNG stream.
 *
 * Bandwidth: one uplink per node, bytes/s drawn per node from a distribution. A cell's
 * serialization time is cellBytes / bandwidth; the uplink is a FIFO: a cell starts when
 * the previous one has left (`N_UP_FREE`). The wait is queueing time. Downlinks and
 * congestion inside the Internet are not modelled.
 *
 * Churn: online and offline periods alternate with lengths from `session` and `downtime`
 * distributions. At time 0 a node is online with the stationary probability
 * E[session] / (E[session] + E[downtime]) and its first period is a fresh draw (not the
 * residual-life distribution: a warm-up absorbs the difference).
 */
import type { Draws } from '../rng.ts'
import { SimInternalError } from '../errors.ts'

/** A positive random quantity. Units are the caller's (seconds for churn, bytes/s for bandwidth, ms for latency). */
export type Dist =
  | { kind: 'weibull', median: number, shape: number }
  | { kind: 'exp', mean: number }
  | { kind: 'lognormal', median: number, sigma: number }
  | { kind: 'fixed', value: number }

export const DIST_KINDS = ['weibull', 'exp', 'lognormal', 'fixed'] as const

/** Lanczos approximation of Γ(x) for x > 0 (g = 7, 9 terms; ~15 significant digits). */
export function gamma (x: number): number {
  if (x < 0.5) return Math.PI / (Math.sin(Math.PI * x) * gamma(1 - x))
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
  x -= 1
  let a = c[0]
  const t = x + 7.5
  for (let i = 1; i < 9; i++) a += c[i] / (x + i)
  return Math.sqrt(2 * Math.PI) * Math.pow(t, x + 0.5) * Math.exp(-t) * a
}

/** Weibull scale λ for a given median: median = λ (ln 2)^(1/k). */
export function weibullScale (median: number, shape: number): number {
  return median / Math.pow(Math.LN2, 1 / shape)
}

export function distMean (d: Dist): number {
  switch (d.kind) {
    case 'weibull': return weibullScale(d.median, d.shape) * gamma(1 + 1 / d.shape)
    case 'exp': return d.mean
    case 'lognormal': return d.median * Math.exp(d.sigma * d.sigma / 2)
    case 'fixed': return d.value
  }
}

export function distMedian (d: Dist): number {
  switch (d.kind) {
    case 'weibull': return d.median
    case 'exp': return d.mean * Math.LN2
    case 'lognormal': return d.median
    case 'fixed': return d.value
  }
}

export function sampleDist (d: Dist, rng: Draws): number {
  switch (d.kind) {
    case 'weibull': return rng.weibull(d.shape, weibullScale(d.median, d.shape))
    case 'exp': return rng.exp(d.mean)
    case 'lognormal': return d.median * Math.exp(d.sigma * rng.normal())
    case 'fixed': return d.value
  }
}

export interface Region {
  name: string
  /** Share of nodes placed in the region (normalised over all regions). */
  weight: number
}

export interface GeographyParams {
  regions: Region[]
  /** One-way base latency between region centres, ms; square, symmetric, regions × regions. */
  baseMs: number[][]
  /** Radius of the disc nodes are placed in around their region's centre. */
  radiusKm: number
  /** Latency per km of straight-line distance (fibre ≈ 0.005 ms/km, ×2 for route inflation). */
  msPerKm: number
  /** Last-mile latency of clients and providers, ms (relays: 0). */
  accessMs: Dist
  /** Mean of the exponential per-cell jitter, ms (0 = none). */
  jitterMs: number
}

/**
 * Five regions (North America, Europe, Asia, South America, Oceania) with the rough share of
 * Internet users running privacy tools, and one-way latencies between their hubs of the order
 * public RTT tables give (halved).
 */
export const DEFAULT_GEOGRAPHY: GeographyParams = {
  regions: [
    { name: 'na', weight: 0.3 }, { name: 'eu', weight: 0.35 }, { name: 'as', weight: 0.2 },
    { name: 'sa', weight: 0.08 }, { name: 'oc', weight: 0.07 }
  ],
  baseMs: [
    [10, 40, 80, 60, 80],
    [40, 8, 90, 95, 130],
    [80, 90, 15, 150, 60],
    [60, 95, 150, 15, 150],
    [80, 130, 60, 150, 10]
  ],
  radiusKm: 1500,
  msPerKm: 0.01,
  accessMs: { kind: 'exp', mean: 5 },
  jitterMs: 1
}

/** Node roles, for counts and access latency. */
export interface NodeGroup {
  count: number
  /** Uplink bandwidth, bytes/s. */
  bandwidth: Dist
  /** Whether the group's nodes get the geography's access latency. */
  access: boolean
  /** Pre-drawn bandwidths (e.g. relay claims shared with the directory); overrides `bandwidth`. */
  fixedBandwidth?: Float64Array
}

/**
 * Per-node record of the hot path (float64 words): everything `latency` and `send` read or
 * write about one node sits in one 64-byte record, so a cell to or from a node whose data
 * is not in cache costs one miss, not six (at 100k nodes the separate arrays are cold).
 */
const N_X = 0
const N_Y = 1
const N_ACCESS = 2
/** region × regions: the node's row in the base-latency matrix. */
const N_ROW = 3
const N_REGION = 4
/** cellBytes / bytesPerMs: serialization time of one cell on the node's uplink, ms. */
const N_SER = 5
/** Time the uplink is free again. */
const N_UP_FREE = 6
const N_STRIDE = 8

export class Network {
  readonly size: number
  readonly region: Uint8Array
  readonly x: Float64Array
  readonly y: Float64Array
  readonly access: Float64Array
  /** Uplink bandwidth, bytes per ms. */
  readonly bytesPerMs: Float64Array
  /** The hot-path records (N_* layout). */
  readonly #node: Float64Array
  readonly #base: Float64Array
  readonly #regions: number
  readonly msPerKm: number
  readonly jitterMs: number
  readonly cellBytes: number
  /** Outputs of the last `send`: queueing and link (serialization + propagation + jitter) time. */
  lastQueue = 0
  lastLink = 0

  constructor (g: GeographyParams, groups: readonly NodeGroup[], cellBytes: number, rng: Draws) {
    const n = groups.reduce((a, x) => a + x.count, 0)
    const R = g.regions.length
    if (R === 0 || R > 255 || g.baseMs.length !== R || g.baseMs.some(row => row.length !== R)) throw new SimInternalError('geography: baseMs must be regions × regions')
    this.size = n
    this.#regions = R
    this.#base = new Float64Array(R * R)
    for (let i = 0; i < R; i++) for (let j = 0; j < R; j++) this.#base[i * R + j] = g.baseMs[i][j]
    this.msPerKm = g.msPerKm
    this.jitterMs = g.jitterMs
    this.cellBytes = cellBytes
    this.region = new Uint8Array(n)
    this.x = new Float64Array(n)
    this.y = new Float64Array(n)
    this.access = new Float64Array(n)
    this.bytesPerMs = new Float64Array(n)
    this.#node = new Float64Array(n * N_STRIDE)
    const cum: number[] = []
    let total = 0
    for (const r of g.regions) { total += r.weight; cum.push(total) }
    let i = 0
    for (const grp of groups) {
      for (let k = 0; k < grp.count; k++, i++) {
        const u = rng.float() * total
        let r = 0
        while (r < R - 1 && cum[r] <= u) r++
        this.region[i] = r
        const rad = g.radiusKm * Math.sqrt(rng.float())
        const ang = 2 * Math.PI * rng.float()
        this.x[i] = rad * Math.cos(ang)
        this.y[i] = rad * Math.sin(ang)
        this.access[i] = grp.access ? sampleDist(g.accessMs, rng) : 0
        const bw = grp.fixedBandwidth !== undefined ? grp.fixedBandwidth[k] : sampleDist(grp.bandwidth, rng)
        this.bytesPerMs[i] = Math.max(bw, 1) / 1000
      }
    }
    const node = this.#node
    for (let j = 0; j < n; j++) {
      const o = j * N_STRIDE
      node[o + N_X] = this.x[j]
      node[o + N_Y] = this.y[j]
      node[o + N_ACCESS] = this.access[j]
      node[o + N_ROW] = this.region[j] * R
      node[o + N_REGION] = this.region[j]
      node[o + N_SER] = cellBytes / this.bytesPerMs[j]
    }
  }

  /** One-way latency a → b without jitter, ms. */
  latency (a: number, b: number): number {
    const node = this.#node
    const oa = a * N_STRIDE
    const ob = b * N_STRIDE
    const dx = node[oa + N_X] - node[ob + N_X]
    const dy = node[oa + N_Y] - node[ob + N_Y]
    return this.#base[node[oa + N_ROW] + node[ob + N_REGION]] + this.msPerKm * Math.sqrt(dx * dx + dy * dy) + node[oa + N_ACCESS] + node[ob + N_ACCESS]
  }

  /** Round trip a ↔ b without jitter or serialization, ms. */
  rtt (a: number, b: number): number { return 2 * this.latency(a, b) }

  /**
   * Put one cell on a's uplink towards b at `now`; returns its arrival time at b.
   * Sets `lastQueue` (uplink wait) and `lastLink` (serialization + latency + jitter).
   * `rng` is the sender's stream (jitter).
   */
  send (a: number, b: number, now: number, rng: Draws): number {
    const node = this.#node
    const o = a * N_STRIDE
    const ser = node[o + N_SER]
    const free = node[o + N_UP_FREE]
    const start = free > now ? free : now
    node[o + N_UP_FREE] = start + ser
    const link = ser + this.latency(a, b) + (this.jitterMs > 0 ? rng.exp(this.jitterMs) : 0)
    this.lastQueue = start - now
    this.lastLink = link
    return start + link
  }
}

/**
 * Alternating on/off periods for one node group. `startOnline` draws the initial state;
 * `nextPeriod` a period length (in ms) given the state being entered.
 */
export class ChurnModel {
  readonly session: Dist
  readonly downtime: Dist
  /** Stationary probability of being online. */
  readonly onlineProbability: number

  constructor (session: Dist, downtime: Dist) {
    this.session = session
    this.downtime = downtime
    const s = distMean(session)
    const d = distMean(downtime)
    this.onlineProbability = s / (s + d)
  }

  startOnline (rng: Draws): boolean { return rng.float() < this.onlineProbability }

  /** Length in ms of the period that starts now (`online`: a session; else a downtime). Distributions are in seconds. */
  periodMs (online: boolean, rng: Draws): number {
    return 1000 * sampleDist(online ? this.session : this.downtime, rng)
  }
}
