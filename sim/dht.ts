/**
 * DHT mode: Kademlia routing for relay discovery, with the parameters @libp2p/kad-dht
 * 16.4.5 (the version Veil runs) uses by default:
 *
 *   K (kBucketSize)        20   src/constants.ts `K`, routing-table/index.ts `KBUCKET_SIZE`
 *   ALPHA                  10   src/constants.ts `ALPHA` ("how many peers are queried in parallel")
 *   disjointPaths          10   kad-dht.ts: `init.disjointPaths ?? this.a` (= alpha)
 *   prefixLength            6   routing-table/index.ts `PREFIX_LENGTH`: the routing table is a binary
 *                              trie over the *absolute* id prefix, split up to depth 6, at most
 *                              2^6 × 20 = 1,280 peers (index.ts doc of `prefixLength`)
 *   key space            256   kad ids are SHA-256 of the peer id (utils.ts convertPeerId)
 *
 * Two routing-table shapes:
 * - 'kad-dht': the trie above. In steady state a node holds min(K, n_q) random peers of
 *   each of the 64 prefixes q (a bucket shallower than depth 6 holds < K peers, i.e. all
 *   of its subtree, which this also yields).
 * - 'kademlia': the paper's buckets by common-prefix length with the node's own id,
 *   K random peers each (what most analyses and the log₂N expectation assume).
 *
 * Lookup (round-synchronous model of kad-dht's query manager and query-path.ts): the
 * client takes the K closest contacts of its own table, shuffles them into `disjointPaths`
 * paths; every round each path queries up to α queued peers, closest first, skipping
 * peers that can no longer enter its K-closest set. An online peer answers with the K
 * closest contacts of its table; a contact is queued only if no path has seen it, it is
 * closer to the key than the peer that returned it, and it can still enter the set (the
 * same three checks as query-path.ts). An offline peer costs the round (timeout). The
 * lookup ends when every path's queue is empty.
 *
 * Metrics: success = the key's closest *online* node answered; hops = the round in which
 * it answered (1 = a contact of the client's own table). Tables are filled with everyone
 * online and then a fraction goes offline (stale tables, no repair): churn at its worst
 * between refreshes. Latency and TCP are not modelled: a round is a hop.
 *
 * Distances use the top 53 bits of the XOR (exact in a double), falling back to the full
 * 256 bits on ties, so results are exact.
 *
 * Also here (docs/sim.md "DHT mode"): lookups touching the adversary per adversary fraction
 * (runDht), lookup success against republish interval and churn (runRepublish), and records
 * whose storers are all adversarial for a random-placement and an id-grinding adversary,
 * with and without the storage-eligibility age (runExposure). Placement is the registry's
 * own (src/registry/placement.ts), imported, never copied.
 */
import { SeededRng } from './rng.ts'
import { SimInternalError } from './errors.ts'
import { ChurnModel, type Dist } from './engine/network.ts'
import { placeStorers, relayKadId, keyKadId, storageEligible, type PlacementEntry, type StorerCandidate } from '../src/registry/placement.ts'
import { descriptorDhtKey, storageKey } from '../src/registry/descriptor.ts'

export const KAD_K = 20
export const KAD_ALPHA = 10
export const KAD_DISJOINT_PATHS = KAD_ALPHA
export const KAD_PREFIX_LENGTH = 6
export const KAD_ID_BITS = 256
const WORDS = KAD_ID_BITS / 32
const TOP_BITS = 53
const TWO_21 = 2 ** 21
/** Deepest common-prefix bucket tracked in 'kademlia' tables: sharing ≥ 52 bits among ≤ 10^7 random ids has probability < 10^-1. */
const MAX_CLASSIC_BUCKET = TOP_BITS - 1

export type TableShape = 'kad-dht' | 'kademlia'

export interface DhtParams {
  nodes: number
  k: number
  alpha: number
  disjointPaths: number
  prefixLength: number
  table: TableShape
  lookups: number
  /** Fraction of nodes offline during lookups. */
  churn: number
  /** Fraction of nodes (by count) run by the adversary. */
  adversary: number
  /** Adversary fractions for `touchedAdversaryByFraction` (nested sets: one draw per node). */
  adversaryFractions?: number[]
}

export interface DhtResult {
  nodes: number
  lookups: number
  successRate: number
  meanHops: number
  p50Hops: number
  p90Hops: number
  maxHops: number
  meanRounds: number
  meanQueries: number
  meanTimeouts: number
  /** Lookups in which at least one queried node was adversarial. */
  touchedAdversaryRate: number
  /** The same, per adversary fraction of `adversaryFractions` (same lookups, nested adversary sets). */
  touchedAdversaryByFraction: Array<{ fraction: number, rate: number }>
  meanTableSize: number
  /** Histogram of hops over successful lookups: hopsHistogram[h] = count. */
  hopsHistogram: number[]
  /** Events = queries sent (the unit of work this mode simulates). */
  events: number
}

/** A network of N random ids with filled routing tables. */
export class DhtNetwork {
  readonly n: number
  readonly ids: Uint32Array
  /** Top 53 bits of each id as an exact integer in a double. */
  readonly top: Float64Array
  readonly contacts: Int32Array
  readonly contactStart: Int32Array
  readonly shape: TableShape
  readonly k: number
  readonly prefixLength: number
  /** Per node, per bucket: start offsets into its contact range (bucketCount + 1 per node). */
  readonly bucketStart: Int32Array
  readonly bucketCount: number

  constructor (n: number, k: number, shape: TableShape, prefixLength: number, rng: SeededRng) {
    if (!(n >= 2)) throw new SimInternalError('DhtNetwork needs ≥ 2 nodes')
    this.n = n
    this.k = k
    this.shape = shape
    this.prefixLength = prefixLength
    this.ids = new Uint32Array(n * WORDS)
    for (let i = 0; i < this.ids.length; i++) this.ids[i] = rng.u32()
    this.top = new Float64Array(n)
    for (let i = 0; i < n; i++) this.top[i] = this.ids[i * WORDS] * TWO_21 + (this.ids[i * WORDS + 1] >>> 11)
    // nodes sorted by id (top bits; ties are astronomically unlikely and only affect table sampling order)
    const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => this.top[a] - this.top[b])
    const sortedTop = Float64Array.from(order, i => this.top[i])
    const lowerBound = (x: number): number => {
      let lo = 0; let hi = n
      while (lo < hi) { const m = (lo + hi) >> 1; if (sortedTop[m] < x) lo = m + 1; else hi = m }
      return lo
    }
    this.bucketCount = shape === 'kad-dht' ? 2 ** prefixLength : MAX_CLASSIC_BUCKET + 1
    this.bucketStart = new Int32Array(n * (this.bucketCount + 1))
    const out: number[] = []
    this.contactStart = new Int32Array(n + 1)
    const pickRange = (lo: number, hi: number, self: number, selfIn: boolean): void => {
      // min(k, members) distinct random members of sorted range [lo, hi), never self
      const members = hi - lo - (selfIn ? 1 : 0)
      if (members <= k) {
        for (let s = lo; s < hi; s++) if (order[s] !== self) out.push(order[s])
        return
      }
      const chosen = new Set<number>()
      while (chosen.size < k) {
        const c = order[lo + rng.int(hi - lo)]
        if (c !== self) chosen.add(c)
      }
      for (const c of [...chosen].sort((a, b) => a - b)) out.push(c)
    }
    for (let x = 0; x < n; x++) {
      this.contactStart[x] = out.length
      const base = x * (this.bucketCount + 1)
      for (let b = 0; b < this.bucketCount; b++) {
        this.bucketStart[base + b] = out.length
        let lo: number; let hi: number
        let selfIn = false
        if (shape === 'kad-dht') {
          const width = 2 ** (TOP_BITS - prefixLength)
          lo = lowerBound(b * width); hi = lowerBound((b + 1) * width)
          selfIn = Math.floor(this.top[x] / width) === b
        } else {
          // nodes sharing exactly b leading bits with x: the sibling subtree at depth b+1
          const width = 2 ** (TOP_BITS - b - 1)
          const prefix = Math.floor(this.top[x] / width)
          const sibling = prefix % 2 === 0 ? prefix + 1 : prefix - 1
          lo = lowerBound(sibling * width); hi = lowerBound((sibling + 1) * width)
        }
        pickRange(lo, hi, x, selfIn)
      }
      this.bucketStart[base + this.bucketCount] = out.length
    }
    this.contactStart[n] = out.length
    this.contacts = Int32Array.from(out)
  }

  /** Exact XOR comparison of nodes a and b relative to key words t (−1 if a is closer). */
  compare (a: number, b: number, t: Uint32Array): number {
    for (let w = 0; w < WORDS; w++) {
      const da = (this.ids[a * WORDS + w] ^ t[w]) >>> 0
      const db = (this.ids[b * WORDS + w] ^ t[w]) >>> 0
      if (da !== db) return da < db ? -1 : 1
    }
    return 0
  }

  /** Top-53-bit XOR distance of node a to key t. */
  dist (a: number, t: Uint32Array): number {
    return ((this.ids[a * WORDS] ^ t[0]) >>> 0) * TWO_21 + (((this.ids[a * WORDS + 1] ^ t[1]) >>> 11))
  }

  /** The `count` closest contacts of node x's table to key t, closest first. */
  closestContacts (x: number, t: Uint32Array, count: number): number[] {
    const base = x * (this.bucketCount + 1)
    const groups: Array<[number, number]> = []
    if (this.shape === 'kad-dht') {
      // bucket q's contacts are all at top-distance (p XOR q): visit buckets by p XOR q
      const p = Math.floor((t[0] >>> 0) / 2 ** (32 - this.prefixLength))
      for (let d = 0; d < this.bucketCount; d++) {
        const q = p ^ d
        groups.push([this.bucketStart[base + q], this.bucketStart[base + q + 1]])
      }
    } else {
      // c = common prefix length of x and t: bucket c, then all deeper buckets (equal class), then c−1 … 0
      const c = Math.min(commonPrefix(this.ids, x, t), MAX_CLASSIC_BUCKET)
      groups.push([this.bucketStart[base + c], this.bucketStart[base + c + 1]])
      if (c + 1 <= MAX_CLASSIC_BUCKET) groups.push([this.bucketStart[base + c + 1], this.bucketStart[base + this.bucketCount]])
      for (let b = c - 1; b >= 0; b--) groups.push([this.bucketStart[base + b], this.bucketStart[base + b + 1]])
    }
    const res: number[] = []
    for (const [lo, hi] of groups) {
      if (lo === hi) continue
      const g = Array.from(this.contacts.subarray(lo, hi))
      g.sort((a, b) => (this.dist(a, t) - this.dist(b, t)) || this.compare(a, b, t))
      for (const c of g) { res.push(c); if (res.length === count) return res }
    }
    return res
  }
}

function commonPrefix (ids: Uint32Array, x: number, t: Uint32Array): number {
  for (let w = 0; w < WORDS; w++) {
    const d = (ids[x * WORDS + w] ^ t[w]) >>> 0
    if (d !== 0) return w * 32 + Math.clz32(d)
  }
  return KAD_ID_BITS
}

/** Lookup parameters (a subset of DhtParams). */
export interface LookupParams { k: number, alpha: number, disjointPaths: number }

interface LookupOut {
  /** Round in which `best` answered (0: never). */
  found: number
  rounds: number
  queries: number
  timeouts: number
  /** Smallest adversary draw among queried nodes (node i is adversarial at fraction f iff advU[i] < f). */
  minAdvU: number
}

/**
 * One lookup of key `t` from `client` (the model described at the top of this file).
 * `seen` is all zeros on entry and on return. Online nodes that answered are appended to
 * `responders` when given (a kad-dht GET receives the record from any of them that holds it).
 */
function lookup (net: DhtNetwork, p: LookupParams, client: number, t: Uint32Array, offline: Uint8Array, best: number,
  rng: SeededRng, seen: Uint8Array, advU: Float64Array, responders?: number[]): LookupOut {
  const touchedList: number[] = [client]
  seen[client] = 1
  const start = net.closestContacts(client, t, p.k)
  // shuffle (kad-dht uses Math.random here) and deal into disjoint paths
  for (let i = start.length - 1; i > 0; i--) { const j = rng.int(i + 1); const x = start[i]; start[i] = start[j]; start[j] = x }
  const paths: Array<{ queue: number[], closest: number[] }> = []
  const pathCount = Math.min(p.disjointPaths, start.length)
  for (let i = 0; i < pathCount; i++) paths.push({ queue: [], closest: [] })
  start.forEach((c, i) => { paths[i % pathCount].queue.push(c); seen[c] = 1; touchedList.push(c) })
  const byDist = (a: number, b: number): number => (net.dist(a, t) - net.dist(b, t)) || net.compare(a, b, t)
  const canAdd = (closest: number[], c: number): boolean => closest.length < p.k || byDist(c, closest[closest.length - 1]) < 0
  let found = -1
  let minAdvU = Infinity
  let round = 0
  let queries = 0; let timeouts = 0
  for (;;) {
    let active = false
    round++
    const batch: Array<[number, number]> = []
    for (let pi = 0; pi < paths.length; pi++) {
      const path = paths[pi]
      path.queue.sort(byDist)
      let taken = 0
      while (taken < p.alpha && path.queue.length > 0) {
        const c = path.queue.shift() as number
        if (!canAdd(path.closest, c)) continue
        batch.push([pi, c])
        taken++
      }
    }
    for (const [pi, c] of batch) {
      active = true
      queries++
      if (advU[c] < minAdvU) minAdvU = advU[c]
      if (offline[c] === 1) { timeouts++; continue }
      responders?.push(c)
      const path = paths[pi]
      // add responder to the path's closest set
      path.closest.push(c)
      path.closest.sort(byDist)
      if (path.closest.length > p.k) path.closest.length = p.k
      if (c === best && found < 0) found = round
      for (const r of net.closestContacts(c, t, p.k)) {
        if (seen[r] === 1) continue
        if (byDist(r, c) >= 0) continue
        if (!canAdd(path.closest, r)) continue
        seen[r] = 1
        touchedList.push(r)
        path.queue.push(r)
      }
    }
    if (!active) { round--; break }
  }
  for (const i of touchedList) seen[i] = 0
  return { found: found > 0 ? found : 0, rounds: round, queries, timeouts, minAdvU }
}

/** Run `lookups` lookups on a fresh network; deterministic in (seed, params). */
export function runDht (p: DhtParams, seed: number): DhtResult {
  const label = `dht|${p.nodes}|${p.table}|${p.k}|${p.prefixLength}`
  const net = new DhtNetwork(p.nodes, p.k, p.table, p.prefixLength, SeededRng.derive(seed, `${label}|ids`))
  const rng = SeededRng.derive(seed, `${label}|lookups|${p.churn}|${p.alpha}|${p.disjointPaths}`)
  const n = net.n
  const offline = new Uint8Array(n)
  // node i is adversarial at fraction f iff advU[i] < f: nested sets, one draw per node
  const advU = new Float64Array(n)
  const roles = SeededRng.derive(seed, `${label}|roles|${p.churn}|${p.adversary}`)
  for (let i = 0; i < n; i++) {
    if (roles.float() < p.churn) offline[i] = 1
    advU[i] = roles.float()
  }
  const fractions = p.adversaryFractions ?? []
  const touchedBy = new Array<number>(fractions.length).fill(0)
  const seen = new Uint8Array(n)
  const hops: number[] = []
  let rounds = 0; let queries = 0; let timeouts = 0; let touched = 0; let successes = 0
  const t = new Uint32Array(WORDS)
  for (let l = 0; l < p.lookups; l++) {
    let client: number
    do client = rng.int(n); while (offline[client] === 1)
    for (let w = 0; w < WORDS; w++) t[w] = rng.u32()
    // the key's closest online node (ground truth)
    let best = -1
    for (let i = 0; i < n; i++) {
      if (offline[i] === 1 || i === client) continue
      if (best < 0 || net.compare(i, best, t) < 0) best = i
    }
    const o = lookup(net, p, client, t, offline, best, rng, seen, advU)
    rounds += o.rounds; queries += o.queries; timeouts += o.timeouts
    if (o.minAdvU < p.adversary) touched++
    fractions.forEach((f, fi) => { if (o.minAdvU < f) touchedBy[fi]++ })
    if (o.found > 0) { successes++; hops.push(o.found) }
  }
  hops.sort((a, b) => a - b)
  const maxHops = hops.length > 0 ? hops[hops.length - 1] : 0
  const hist = new Array<number>(maxHops + 1).fill(0)
  for (const h of hops) hist[h]++
  const q = (f: number): number => hops.length === 0 ? 0 : hops[Math.min(hops.length - 1, Math.floor(f * hops.length))]
  return {
    nodes: n,
    lookups: p.lookups,
    successRate: successes / p.lookups,
    meanHops: hops.length === 0 ? 0 : hops.reduce((a, b) => a + b, 0) / hops.length,
    p50Hops: q(0.5),
    p90Hops: q(0.9),
    maxHops,
    meanRounds: rounds / p.lookups,
    meanQueries: queries / p.lookups,
    meanTimeouts: timeouts / p.lookups,
    touchedAdversaryRate: touched / p.lookups,
    touchedAdversaryByFraction: fractions.map((fraction, fi) => ({ fraction, rate: touchedBy[fi] / p.lookups })),
    meanTableSize: net.contacts.length / n,
    hopsHistogram: hist,
    events: queries
  }
}

/** Least-squares fit y = a + b·x and its R². */
export function linearFit (xs: readonly number[], ys: readonly number[]): { a: number, b: number, r2: number } {
  const n = xs.length
  const mx = xs.reduce((s, v) => s + v, 0) / n
  const my = ys.reduce((s, v) => s + v, 0) / n
  let sxy = 0; let sxx = 0; let syy = 0
  for (let i = 0; i < n; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; syy += (ys[i] - my) ** 2 }
  const b = sxx === 0 ? 0 : sxy / sxx
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy)
  return { a: my - b * mx, b, r2 }
}

// ---------------------------------------------------------------------------
// Republish interval vs churn
// ---------------------------------------------------------------------------

export type RepublishPlacement = 'kad' | 'registry'
export const REPUBLISH_PLACEMENTS: readonly RepublishPlacement[] = ['kad', 'registry']
/** kad-dht 16.4.5 drops a stored record older than PROVIDERS_VALIDITY (rpc/handlers/get-value.ts): 48 h. */
export const KAD_RECORD_VALIDITY_H = 48
const HOUR_MS = 3_600_000

export interface RepublishParams {
  /** Lookups per session median (0: the model does not run). */
  lookups: number
  nodes: number
  intervalsH: number[]
  sessionMedianH: number[]
  sessionShape: number
  /** Downtime between sessions (seconds, as every churn distribution). */
  downtime: Dist
  /** A stored copy is valid this long after it was stored. */
  recordTtlH: number
  /** Lookup times are uniform over this window (after a warm-up of max(interval, TTL)). */
  windowH: number
  placements: RepublishPlacement[]
}

export interface RepublishRow {
  placement: RepublishPlacement
  sessionMedianH: number
  intervalH: number
  lookups: number
  /** Storers keep records across downtime (an on-disk datastore, as Veil relays). */
  successPersistent: number
  /** A storer that goes offline loses its records (in-memory datastore). */
  successVolatile: number
  /** Mean number of online nodes holding a valid copy at lookup time (persistent / volatile). */
  meanHoldersPersistent: number
  meanHoldersVolatile: number
}

export interface RepublishResult {
  nodes: number
  storersPerRecord: { kad: number, registry: number }
  /** Mean fraction of nodes online at lookup times, per session median. */
  onlineFraction: Array<{ sessionMedianH: number, fraction: number }>
  rows: RepublishRow[]
  events: number
}

/** Alternating online/offline timelines of n nodes over [0, horizon] ms (sim/engine/network.ts ChurnModel). */
export class ChurnTimelines {
  readonly n: number
  readonly startOnline: Uint8Array
  readonly toggles: Float64Array
  readonly offsets: Int32Array

  constructor (n: number, churn: ChurnModel, horizonMs: number, seed: number, label: string) {
    this.n = n
    this.startOnline = new Uint8Array(n)
    this.offsets = new Int32Array(n + 1)
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const rng = SeededRng.derive(seed, label, i)
      let online = churn.startOnline(rng)
      this.startOnline[i] = online ? 1 : 0
      this.offsets[i] = out.length
      let t = 0
      for (;;) {
        t += churn.periodMs(online, rng)
        if (t > horizonMs) break
        out.push(t)
        online = !online
      }
    }
    this.offsets[n] = out.length
    this.toggles = Float64Array.from(out)
  }

  /** Number of node i's toggles at or before t. */
  #count (i: number, t: number): number {
    let lo = this.offsets[i]; let hi = this.offsets[i + 1]
    const base = lo
    while (lo < hi) { const m = (lo + hi) >> 1; if (this.toggles[m] <= t) lo = m + 1; else hi = m }
    return lo - base
  }

  online (i: number, t: number): boolean { return ((this.startOnline[i] + this.#count(i, t)) & 1) === 1 }

  /** Start of node i's current period at t (−∞ if it began before time 0). */
  periodStart (i: number, t: number): number {
    const c = this.#count(i, t)
    return c === 0 ? -Infinity : this.toggles[this.offsets[i] + c - 1]
  }
}

function wordsToBytes (w: Uint32Array, off = 0): Uint8Array {
  const b = new Uint8Array(WORDS * 4)
  for (let i = 0; i < WORDS; i++) {
    const v = w[off + i]
    b[4 * i] = v >>> 24; b[4 * i + 1] = (v >>> 16) & 0xff; b[4 * i + 2] = (v >>> 8) & 0xff; b[4 * i + 3] = v & 0xff
  }
  return b
}

/** All nodes ordered by XOR distance to key t, closest first (exact). */
function orderByDistance (net: DhtNetwork, t: Uint32Array): Int32Array {
  const d = new Float64Array(net.n)
  for (let i = 0; i < net.n; i++) d[i] = net.dist(i, t)
  return Int32Array.from({ length: net.n }, (_, i) => i).sort((a, b) => (d[a] - d[b]) || net.compare(a, b, t))
}

/**
 * Lookup success against the republish interval and churn. N nodes churn (sessions Weibull
 * with the given median and shape, downtimes from `downtime`); a record is published at a
 * random phase φ ∈ [0, I) and then every I, to
 *  - kad: the K closest nodes online at that instant (a converged kad-dht PUT), and read by
 *    a kad-dht lookup (this file's model, tables holding every node, offline ones timing out)
 *    from a random online node: success if a node that answered holds a valid copy;
 *  - registry: placeStorers (src/registry/placement.ts) over the nodes online at that instant
 *    (R × S storers), and read by a client that computes the storers from the nodes online at
 *    lookup time and asks each: success if one of them holds a valid copy.
 * A copy is valid for `recordTtlH` after it was stored. Each lookup is scored for every
 * interval (same keys, times and lookups: common random numbers).
 */
export function runRepublish (r: RepublishParams, d: Pick<DhtParams, 'k' | 'alpha' | 'disjointPaths' | 'prefixLength' | 'table'>,
  reg: { replicas: number, storersPerReplica: number }, seed: number, progress?: (f: number) => void): RepublishResult {
  const label = `dht-republish|${r.nodes}|${d.table}|${d.k}|${d.prefixLength}`
  const net = new DhtNetwork(r.nodes, d.k, d.table, d.prefixLength, SeededRng.derive(seed, `${label}|ids`))
  const n = net.n
  const entries: PlacementEntry[] = Array.from({ length: n }, (_, i) => ({ id: String(i), kadId: wordsToBytes(net.ids, i * WORDS) }))
  const maxI = Math.max(...r.intervalsH) * HOUR_MS
  const ttl = r.recordTtlH * HOUR_MS
  const warm = Math.max(maxI, ttl)
  const horizon = warm + r.windowH * HOUR_MS
  const RS = reg.replicas * reg.storersPerReplica
  const noAdv = new Float64Array(n).fill(1)
  const seen = new Uint8Array(n)
  const offline = new Uint8Array(n)
  const rows: RepublishRow[] = []
  const onlineFraction: RepublishResult['onlineFraction'] = []
  let events = 0
  r.sessionMedianH.forEach((median, mi) => {
    const churn = new ChurnModel({ kind: 'weibull', median: median * 3600, shape: r.sessionShape }, r.downtime)
    const tl = new ChurnTimelines(n, churn, horizon, seed, `${label}|churn|${median}|${r.sessionShape}`)
    // same keys, times and phases for every median; lookups' own draws per median
    const samples = SeededRng.derive(seed, `${label}|samples`)
    const lookRng = SeededRng.derive(seed, `${label}|lookups|${median}`)
    const acc = new Map<string, { sp: number, sv: number, hp: number, hv: number }>()
    const key = (pl: string, i: number): string => `${pl}|${i}`
    for (const pl of r.placements) r.intervalsH.forEach((_, ii) => acc.set(key(pl, ii), { sp: 0, sv: 0, hp: 0, hv: 0 }))
    let onlineSum = 0
    const t = new Uint32Array(WORDS)
    const rk = new Uint32Array(reg.replicas * WORDS)
    for (let l = 0; l < r.lookups; l++) {
      progress?.((mi + l / r.lookups) / r.sessionMedianH.length)
      for (let w = 0; w < WORDS; w++) t[w] = samples.u32()
      for (let w = 0; w < rk.length; w++) rk[w] = samples.u32()
      const tq = warm + samples.float() * r.windowH * HOUR_MS
      const phaseU = samples.float()
      let onlineCount = 0
      for (let i = 0; i < n; i++) { const on = tl.online(i, tq); offline[i] = on ? 0 : 1; if (on) onlineCount++ }
      onlineSum += onlineCount / n
      // does holder h, stored at s (online then), hold a valid copy at tq (online now)?
      const holds = (h: number, s: number, persistent: boolean): boolean =>
        tl.online(h, tq) && (persistent || tl.periodStart(h, tq) <= s)
      const publishes = (I: number): number[] => {
        const phi = phaseU * I
        const out: number[] = []
        for (let s = phi + Math.floor((tq - phi) / I) * I; s >= 0 && tq - s <= ttl; s -= I) out.push(s)
        return out
      }
      const score = (pl: string, ii: number, readers: number[], hp: Set<number>, hv: Set<number>): void => {
        const a = acc.get(key(pl, ii)) as { sp: number, sv: number, hp: number, hv: number }
        if (readers.some(x => hp.has(x))) a.sp++
        if (readers.some(x => hv.has(x))) a.sv++
        a.hp += hp.size; a.hv += hv.size
      }
      if (r.placements.includes('kad')) {
        const order = orderByDistance(net, t)
        const responders: number[] = []
        if (onlineCount > 0) {
          let client: number
          do client = lookRng.int(n); while (offline[client] === 1)
          const o = lookup(net, d, client, t, offline, -1, lookRng, seen, noAdv, responders)
          events += o.queries
        }
        const kClosestOnline = (s: number): number[] => {
          const out: number[] = []
          for (let j = 0; j < n && out.length < d.k; j++) if (tl.online(order[j], s)) out.push(order[j])
          return out
        }
        r.intervalsH.forEach((ih, ii) => {
          const hp = new Set<number>(); const hv = new Set<number>()
          for (const s of publishes(ih * HOUR_MS)) {
            for (const h of kClosestOnline(s)) {
              if (holds(h, s, true)) hp.add(h)
              if (holds(h, s, false)) hv.add(h)
            }
          }
          score('kad', ii, responders, hp, hv)
        })
      }
      if (r.placements.includes('registry')) {
        const keys = Array.from({ length: reg.replicas }, (_, k) => rk.subarray(k * WORDS, (k + 1) * WORDS))
        const keyBytes = keys.map(k => wordsToBytes(k))
        const orders = keys.map(k => orderByDistance(net, k))
        // placeStorers over the nodes online at s: only the first R·S online per replica key can be chosen
        const storersAt = (s: number): number[] => {
          const cand = new Set<number>()
          for (const order of orders) {
            let c = 0
            for (let j = 0; j < n && c < RS; j++) if (tl.online(order[j], s)) { cand.add(order[j]); c++ }
          }
          events++
          return placeStorers(keyBytes, [...cand].map(i => entries[i]), reg.storersPerReplica).flat().map(Number)
        }
        const readers = storersAt(tq)
        r.intervalsH.forEach((ih, ii) => {
          const hp = new Set<number>(); const hv = new Set<number>()
          for (const s of publishes(ih * HOUR_MS)) {
            for (const h of storersAt(s)) {
              if (holds(h, s, true)) hp.add(h)
              if (holds(h, s, false)) hv.add(h)
            }
          }
          score('registry', ii, readers, hp, hv)
        })
      }
    }
    onlineFraction.push({ sessionMedianH: median, fraction: onlineSum / r.lookups })
    for (const pl of r.placements) {
      r.intervalsH.forEach((ih, ii) => {
        const a = acc.get(key(pl, ii)) as { sp: number, sv: number, hp: number, hv: number }
        rows.push({
          placement: pl,
          sessionMedianH: median,
          intervalH: ih,
          lookups: r.lookups,
          successPersistent: a.sp / r.lookups,
          successVolatile: a.sv / r.lookups,
          meanHoldersPersistent: a.hp / r.lookups,
          meanHoldersVolatile: a.hv / r.lookups
        })
      })
    }
  })
  progress?.(1)
  return { nodes: n, storersPerRecord: { kad: d.k, registry: RS }, onlineFraction, rows, events }
}

// ---------------------------------------------------------------------------
// Exposure: records whose storers are all adversarial
// ---------------------------------------------------------------------------

const TWO_53 = 2 ** 53

/** Top 53 bits of a XOR b (32-byte ids) as an exact integer. */
function xorTop53 (a: Uint8Array, b: Uint8Array): number {
  const hi = (((a[0] ^ b[0]) << 24) | ((a[1] ^ b[1]) << 16) | ((a[2] ^ b[2]) << 8) | (a[3] ^ b[3])) >>> 0
  const lo = (((a[4] ^ b[4]) << 24) | ((a[5] ^ b[5]) << 16) | ((a[6] ^ b[6]) << 8) | (a[7] ^ b[7])) >>> 0
  return hi * TWO_21 + (lo >>> 11)
}

/** A synthetic relay: a libp2p Ed25519 peer id multihash (identity, protobuf key) → kad id. */
function syntheticRelay (i: number, rng: SeededRng): StorerCandidate {
  const mh = new Uint8Array(38)
  mh.set([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
  mh.set(rng.bytes(32), 6)
  return { id: `h${i}`, kadId: relayKadId(mh), firstSeen: -Infinity }
}

/** Replica DHT-key kad ids of one provider's record in one period (a random blinded key A'_p). */
function recordKeys (replicas: number, period: number, periodS: number, rng: SeededRng): Uint8Array[] {
  const blinded = rng.bytes(32)
  return Array.from({ length: replicas }, (_, r) => keyKadId(descriptorDhtKey(storageKey(blinded, r, period, periodS))))
}

/**
 * The relays that can be among placeStorers' R × S choices for `keys`: per key, every
 * relay at least as close as its (R·S)-th closest. placeStorers over this subset returns
 * exactly what it returns over the whole directory (it only ever takes, per replica, one of
 * the first R·S relays of that replica's order), at a fraction of the cost.
 */
function placementPrefix<E extends PlacementEntry> (keys: readonly Uint8Array[], dir: readonly E[], rs: number): E[] {
  const out = new Set<E>()
  const d = new Float64Array(dir.length)
  for (const key of keys) {
    for (let i = 0; i < dir.length; i++) d[i] = xorTop53(dir[i].kadId, key)
    const sorted = Float64Array.from(d).sort()
    const cut = sorted[Math.min(rs, dir.length) - 1]
    for (let i = 0; i < dir.length; i++) if (d[i] <= cut) out.add(dir[i])
  }
  return [...out]
}

export interface ExposureParams {
  /** Adversary fractions (by count of relays). */
  fractions: number[]
  relays: number
  /** Records placed for the random-placement adversary (0: off). */
  records: number
  targeted: TargetedParams
}

export interface TargetedParams {
  /** Records targeted, one at a time (0: off). */
  records: number
  /** Periods followed from the one in which the adversary learns the address. */
  periods: number
  periodS: number
  /** Storage-eligibility ages compared, in periods (Veil: STORAGE_ELIGIBILITY_PERIODS = 2). */
  eligibilityPeriods: number[]
  fetchesPerPeriod: number
  /** Time from knowing a storage key to having ground relays in clients' directories. */
  joinDelayS: number
  /** Also model a shared random value published at each period start (NOT implemented in Veil). */
  sharedRandom: boolean
}

export interface RandomExposureRow {
  fraction: number
  adversaryRelays: number
  records: number
  /** Records whose R × S storers are all adversarial. */
  capturedRecords: number
  capturedShare: number
  /** P(all R·S storers adversarial) for a uniformly random adversary set of this size: C(A, RS) / C(N, RS). */
  exactShare: number
  /** f^(R·S). */
  powerShare: number
  /** Records with at least one adversarial storer. */
  anyAdversarialShare: number
  meanAdversarialStorers: number
  /** histogram[k] = records with k adversarial storers (k = 0..R·S). */
  histogram: number[]
}

export interface TargetedRow {
  /** 'address' (Veil: a period's storage keys follow from the address alone) or 'shared-random' (not implemented in Veil). */
  keySchedule: 'address' | 'shared-random'
  eligibilityPeriods: number
  /** Period offset from the one in which the address is learned; -1 = all periods. */
  period: number
  fetches: number
  /** Fetches whose computed R × S storers were all the adversary's ground relays. */
  capturedShare: number
  /** Fetches with at least one adversarial storer. */
  anyAdversarialShare: number
}

export interface ExposureResult {
  relays: number
  storersPerRecord: number
  random?: RandomExposureRow[]
  targeted?: { rows: TargetedRow[], relaysPerRecordPeriod: number, meanGrindHashesPerRelay: number }
  events: number
}

/** log C(n, k) */
function logChoose (n: number, k: number): number {
  let s = 0
  for (let i = 0; i < k; i++) s += Math.log(n - i) - Math.log(i + 1)
  return s
}

/**
 * Exposure of registry records (placeStorers, R × S storers over N relays):
 *  (i)  random placement: the adversary runs a random fraction f of the relays (by count,
 *       nested sets over f); share of records with all storers adversarial;
 *  (ii) targeting: for one chosen record at a time, the adversary grinds R × S relay ids
 *       closer to the period's replica keys than any honest relay and joins them as soon as
 *       it knows the keys (+ joinDelayS); clients count a relay only once it has been in
 *       their directory for the eligibility age. Address-derived keys (Veil) are known from
 *       the moment the address is; with `sharedRandom` a period's keys are known only at
 *       its start. Honest relays are all old (always eligible); no churn.
 */
export function runExposure (e: ExposureParams, reg: { replicas: number, storersPerReplica: number }, seed: number, progress?: (f: number) => void): ExposureResult {
  const label = `dht-exposure|${e.relays}`
  const idRng = SeededRng.derive(seed, `${label}|ids`)
  const relays = Array.from({ length: e.relays }, (_, i) => syntheticRelay(i, idRng))
  const RS = reg.replicas * reg.storersPerReplica
  const S = reg.storersPerReplica
  const out: ExposureResult = { relays: e.relays, storersPerRecord: RS, events: 0 }
  const work = e.records + e.targeted.records
  if (e.records > 0) {
    const roles = SeededRng.derive(seed, `${label}|adversary`)
    const advU = new Map<string, number>(relays.map(x => [x.id, roles.float()]))
    const rng = SeededRng.derive(seed, `${label}|random-records`)
    const captured = e.fractions.map(() => 0)
    const anyAdv = e.fractions.map(() => 0)
    const hist = e.fractions.map(() => new Array<number>(RS + 1).fill(0))
    for (let rec = 0; rec < e.records; rec++) {
      if (rec % 64 === 0) progress?.(rec / work)
      const keys = recordKeys(reg.replicas, 0, 86_400, rng)
      const storers = placeStorers(keys, placementPrefix(keys, relays, RS), S).flat()
      out.events++
      const us = storers.map(id => advU.get(id) as number)
      e.fractions.forEach((f, fi) => {
        const k = us.filter(u => u < f).length
        hist[fi][k]++
        if (k === storers.length) captured[fi]++
        if (k > 0) anyAdv[fi]++
      })
    }
    out.random = e.fractions.map((f, fi) => {
      const a = [...advU.values()].filter(u => u < f).length
      return {
        fraction: f,
        adversaryRelays: a,
        records: e.records,
        capturedRecords: captured[fi],
        capturedShare: captured[fi] / e.records,
        exactShare: a < RS ? 0 : Math.exp(logChoose(a, RS) - logChoose(e.relays, RS)),
        powerShare: f ** RS,
        anyAdversarialShare: anyAdv[fi] / e.records,
        meanAdversarialStorers: hist[fi].reduce((s, c, k) => s + c * k, 0) / e.records,
        histogram: hist[fi]
      }
    })
  }
  const t = e.targeted
  if (t.records > 0) {
    const L = t.periodS * 1000
    const schedules: Array<'address' | 'shared-random'> = t.sharedRandom ? ['address', 'shared-random'] : ['address']
    const variants = schedules.flatMap(ks => t.eligibilityPeriods.map(age => ({ ks, age })))
    const cnt = variants.map(() => ({ cap: new Array<number>(t.periods).fill(0), any: new Array<number>(t.periods).fill(0) }))
    const rng = SeededRng.derive(seed, `${label}|targeted`)
    let grind = 0; let ground = 0
    for (let rec = 0; rec < t.records; rec++) {
      progress?.((e.records + rec) / work)
      const learn = rng.float() * L
      // per period: its replica keys, the honest relays that can be chosen, and the adversary's ground ids
      const periods = Array.from({ length: t.periods }, (_, p) => {
        const keys = recordKeys(reg.replicas, p, t.periodS, rng)
        const honest = placementPrefix(keys, relays, RS)
        const adv: Array<{ id: string, kadId: Uint8Array }> = []
        keys.forEach((key, r) => {
          let nearest = Infinity
          for (const h of honest) nearest = Math.min(nearest, xorTop53(h.kadId, key))
          for (let j = 0; j < S; j++) {
            // a uniform id whose top-53-bit distance to the key is below the nearest honest one
            const v = Math.floor(rng.float() * nearest)
            const delta = rng.bytes(32)
            const hi = Math.floor(v / TWO_21); const lo = v % TWO_21
            delta[0] = hi >>> 24; delta[1] = (hi >>> 16) & 0xff; delta[2] = (hi >>> 8) & 0xff; delta[3] = hi & 0xff
            delta[4] = lo >>> 13; delta[5] = (lo >>> 5) & 0xff; delta[6] = ((lo & 0x1f) << 3) | (delta[6] & 0x07)
            adv.push({ id: `a${p}.${r}.${j}`, kadId: key.map((b, i) => b ^ delta[i]) })
            grind += TWO_53 / nearest; ground++
          }
        })
        return { keys, honest, adv }
      })
      const fetchTimes = periods.map((_, p) => Array.from({ length: t.fetchesPerPeriod }, (_, j) => p * L + (j + rng.float()) / t.fetchesPerPeriod * L))
      variants.forEach((v, vi) => {
        const minAgeMs = v.age * L
        // when each period's ground relays enter clients' directories
        const joins = periods.map((_, p) => (v.ks === 'address' ? learn : Math.max(learn, p * L)) + t.joinDelayS * 1000)
        const advAll: StorerCandidate[] = periods.flatMap((x, p) => x.adv.map(a => ({ ...a, firstSeen: joins[p] })))
        periods.forEach((x, p) => {
          for (const now of fetchTimes[p]) {
            const dir = [...x.honest, ...advAll.filter(a => a.firstSeen <= now)]
            const storers = placeStorers(x.keys, dir, S, c => storageEligible(c.firstSeen, now, minAgeMs)).flat()
            out.events++
            const k = storers.filter(id => id.startsWith('a')).length
            if (k === storers.length && k > 0) cnt[vi].cap[p]++
            if (k > 0) cnt[vi].any[p]++
          }
        })
      })
    }
    const rows: TargetedRow[] = []
    variants.forEach((v, vi) => {
      const per = t.records * t.fetchesPerPeriod
      for (let p = 0; p < t.periods; p++) {
        rows.push({ keySchedule: v.ks, eligibilityPeriods: v.age, period: p, fetches: per, capturedShare: cnt[vi].cap[p] / per, anyAdversarialShare: cnt[vi].any[p] / per })
      }
      const all = per * t.periods
      rows.push({
        keySchedule: v.ks,
        eligibilityPeriods: v.age,
        period: -1,
        fetches: all,
        capturedShare: cnt[vi].cap.reduce((a, b) => a + b, 0) / all,
        anyAdversarialShare: cnt[vi].any.reduce((a, b) => a + b, 0) / all
      })
    })
    out.targeted = { rows, relaysPerRecordPeriod: RS, meanGrindHashesPerRelay: grind / ground }
  }
  progress?.(1)
  return out
}
