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
 */
import { SeededRng } from './rng.ts'
import { SimInternalError } from './errors.ts'

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

/** Run `lookups` lookups on a fresh network; deterministic in (seed, params). */
export function runDht (p: DhtParams, seed: number): DhtResult {
  const label = `dht|${p.nodes}|${p.table}|${p.k}|${p.prefixLength}`
  const net = new DhtNetwork(p.nodes, p.k, p.table, p.prefixLength, SeededRng.derive(seed, `${label}|ids`))
  const rng = SeededRng.derive(seed, `${label}|lookups|${p.churn}|${p.alpha}|${p.disjointPaths}`)
  const n = net.n
  const offline = new Uint8Array(n)
  const adversarial = new Uint8Array(n)
  const roles = SeededRng.derive(seed, `${label}|roles|${p.churn}|${p.adversary}`)
  for (let i = 0; i < n; i++) {
    if (roles.float() < p.churn) offline[i] = 1
    if (roles.float() < p.adversary) adversarial[i] = 1
  }
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
    let touchedAdv = false
    let round = 0
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
        if (adversarial[c] === 1) touchedAdv = true
        if (offline[c] === 1) { timeouts++; continue }
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
    rounds += round
    if (touchedAdv) touched++
    if (found > 0) { successes++; hops.push(found) }
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
