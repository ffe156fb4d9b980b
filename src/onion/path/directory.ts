/**
 * A directory snapshot prepared for path selection: selection weights, mutual
 * families and subnets resolved to small integers, and a sampler that draws a
 * relay by weight subject to an acceptance test.
 *
 * Weighting (exactly):
 *
 *   claim_i    = relay i's self-reported bandwidth (bytes/s); measured_i when known
 *   effective  = min(claim_i, measured_i)            (measured_i absent ⇒ claim_i)
 *   median     = median of claim_i over relays with claim_i > 0  (lower median for even counts)
 *   cap        = BANDWIDTH_CAP_MEDIAN_MULTIPLE × median         (4 × median)
 *   weight_i   = min(effective, cap) / cap  ∈ [0, 1]   in 'bandwidth' mode
 *   weight_i   = 1                                      in 'uniform' mode
 *
 * Every relay starts from the same uniform ceiling weight 1; a low claim (or a low
 * measurement) can only lower it, and no claim raises it above the ceiling reached
 * at 4× the median. A relay lying upward gains at most the weight of an honest relay
 * at 4× the median; a relay with claim ≤ 0 is never chosen in 'bandwidth' mode.
 *
 * Not here: fetching or verifying descriptors (overlay/directory.ts), guards (guards.ts).
 */
import type { Rng } from '../../overlay/clock.ts'
import { BANDWIDTH_CAP_MEDIAN_MULTIPLE, MAX_REJECTION_TRIES, UNIFORM_HALF_BITS } from './constants.ts'
import { NoEligibleRelayError, PathOptionsError } from './errors.ts'

/** What path selection needs to know about a relay (from its verified descriptor). */
export interface RelayCandidate {
  /** Relay id (peer id string). Unique within a directory. */
  id: string
  /**
   * Network key for the "one hop per subnet" rule: the IPv4 /16 (e.g. "10.3") or the
   * IPv6 /32, formatted by the caller; undefined when unknown (no constraint).
   */
  subnet16?: string | undefined
  /** Declared family (relay ids). Two relays are one family only if each lists the other. */
  family: readonly string[]
  /** Self-reported bandwidth, bytes/s. May only lower a weight. */
  bandwidthClaim: number
  /** Bandwidth measured by this client or an authority, bytes/s, when known. */
  measured?: number | undefined
  /** May serve as an entry guard (this client's own observation; default true). */
  guardEligible?: boolean | undefined
}

export type Weighting = 'uniform' | 'bandwidth'

export interface DirectoryOptions {
  /** 'uniform' (every relay weight 1) or 'bandwidth' (see the module header). Default 'bandwidth'. */
  weighting?: Weighting
  /** Cap multiple of the median claim. Default BANDWIDTH_CAP_MEDIAN_MULTIPLE (4). */
  capMedianMultiple?: number
}

/** Which rules keep two relays off one path. Both on by default; off only for single-address testnets. */
export interface PathRules {
  /** At most one hop per subnet16 key. */
  distinctSubnet: boolean
  /** At most one hop per mutual family. */
  distinctFamily: boolean
}

export const DEFAULT_PATH_RULES: Readonly<PathRules> = Object.freeze({ distinctSubnet: true, distinctFamily: true })

/** Median of the positive claims (lower median), 0 when none is positive. */
export function medianClaim (relays: readonly RelayCandidate[]): number {
  const claims = relays.map(r => r.bandwidthClaim).filter(c => c > 0).sort((a, b) => a - b)
  if (claims.length === 0) return 0
  return claims[(claims.length - 1) >> 1]
}

/** The selection weight of one relay (module header). */
export function selectionWeight (r: RelayCandidate, cap: number, weighting: Weighting): number {
  if (weighting === 'uniform') return 1
  if (!(cap > 0)) return 0
  const effective = Math.min(r.bandwidthClaim, r.measured ?? Infinity)
  if (!(effective > 0)) return 0
  return Math.min(effective, cap) / cap
}

/** A uniform double in [0, 1) with 52 random bits, from two Rng.int draws. */
export function uniform01 (rng: Rng): number {
  const half = 2 ** UNIFORM_HALF_BITS
  return (rng.int(half) * half + rng.int(half)) / (half * half)
}

/** An immutable, indexed directory snapshot. Build once per directory version; share between clients. */
export class PathDirectory {
  readonly relays: readonly RelayCandidate[]
  readonly weighting: Weighting
  /** Weight per relay index (module header). */
  readonly weights: Float64Array
  readonly median: number
  readonly cap: number
  readonly #cumAll: Float64Array
  readonly #cumGuard: Float64Array
  readonly #index = new Map<string, number>()
  /** Subnet key per relay as a small integer; −1 when unknown. */
  readonly #subnet: Int32Array
  /** Mutual-family members per relay index (null when none). */
  readonly #family: Array<Int32Array | null>

  constructor (relays: readonly RelayCandidate[], options: DirectoryOptions = {}) {
    const weighting = options.weighting ?? 'bandwidth'
    if (weighting !== 'uniform' && weighting !== 'bandwidth') throw new PathOptionsError(`weighting: expected 'uniform' or 'bandwidth', got ${String(weighting)}`)
    const multiple = options.capMedianMultiple ?? BANDWIDTH_CAP_MEDIAN_MULTIPLE
    if (!(multiple > 0) || !Number.isFinite(multiple)) throw new PathOptionsError('capMedianMultiple: expected a positive finite number')
    this.relays = relays.slice()
    this.weighting = weighting
    const n = relays.length
    for (let i = 0; i < n; i++) {
      const r = relays[i]
      if (typeof r.id !== 'string' || r.id.length === 0) throw new PathOptionsError(`relays[${i}].id: expected a non-empty string`)
      if (this.#index.has(r.id)) throw new PathOptionsError(`relays[${i}].id: duplicate id ${r.id}`)
      if (!Number.isFinite(r.bandwidthClaim)) throw new PathOptionsError(`relays[${i}].bandwidthClaim: expected a finite number`)
      this.#index.set(r.id, i)
    }
    this.median = medianClaim(relays)
    this.cap = multiple * this.median
    this.weights = new Float64Array(n)
    this.#cumAll = new Float64Array(n)
    this.#cumGuard = new Float64Array(n)
    this.#subnet = new Int32Array(n)
    const subnets = new Map<string, number>()
    let all = 0
    let guard = 0
    for (let i = 0; i < n; i++) {
      const r = relays[i]
      const w = selectionWeight(r, this.cap, weighting)
      this.weights[i] = w
      all += w
      if (r.guardEligible !== false) guard += w
      this.#cumAll[i] = all
      this.#cumGuard[i] = guard
      if (r.subnet16 === undefined) this.#subnet[i] = -1
      else {
        let s = subnets.get(r.subnet16)
        if (s === undefined) { s = subnets.size; subnets.set(r.subnet16, s) }
        this.#subnet[i] = s
      }
    }
    this.#family = new Array<Int32Array | null>(n).fill(null)
    for (let i = 0; i < n; i++) {
      const mine: number[] = []
      for (const fid of relays[i].family) {
        const j = this.#index.get(fid)
        if (j === undefined || j === i) continue
        if (relays[j].family.includes(relays[i].id)) mine.push(j)
      }
      if (mine.length > 0) this.#family[i] = Int32Array.from(mine)
    }
  }

  get size (): number { return this.relays.length }

  /** Index of a listed relay, or undefined when unlisted. */
  indexOf (id: string): number | undefined { return this.#index.get(id) }

  isGuardEligible (i: number): boolean { return this.relays[i].guardEligible !== false && this.weights[i] > 0 }

  /** True if relays i and j may not share a path under `rules` (same relay, same subnet, mutual family). */
  conflicts (i: number, j: number, rules: PathRules): boolean {
    if (i === j) return true
    if (rules.distinctSubnet) {
      const s = this.#subnet[i]
      if (s >= 0 && s === this.#subnet[j]) return true
    }
    if (rules.distinctFamily) {
      const f = this.#family[i]
      if (f !== null && f.includes(j)) return true
    }
    return false
  }

  /** True if relay i conflicts with none of `chosen`. */
  compatible (i: number, chosen: ArrayLike<number>, rules: PathRules): boolean {
    for (let k = 0; k < chosen.length; k++) if (this.conflicts(i, chosen[k], rules)) return false
    return true
  }

  /**
   * Draw a relay index by weight among those `accept` approves (guards only when
   * `guardsOnly`). Exact conditional distribution: rejection sampling, then an explicit
   * filtered draw after MAX_REJECTION_TRIES. Throws NoEligibleRelayError when none qualifies.
   */
  pick (rng: Rng, accept: (i: number) => boolean, role: string, guardsOnly = false): number {
    const cum = guardsOnly ? this.#cumGuard : this.#cumAll
    const n = cum.length
    const total = n === 0 ? 0 : cum[n - 1]
    if (total > 0) {
      for (let t = 0; t < MAX_REJECTION_TRIES; t++) {
        const i = searchCumulative(cum, uniform01(rng) * total)
        if (accept(i)) return i
      }
    }
    // fallback: explicit list of acceptable relays
    const ok: number[] = []
    const okCum: number[] = []
    let sum = 0
    for (let i = 0; i < n; i++) {
      const w = guardsOnly ? (this.isGuardEligible(i) ? this.weights[i] : 0) : this.weights[i]
      if (w > 0 && accept(i)) { sum += w; ok.push(i); okCum.push(sum) }
    }
    if (ok.length === 0) throw new NoEligibleRelayError(role, `no eligible relay for ${role} among ${n} listed`)
    return ok[searchCumulative(okCum, uniform01(rng) * sum)]
  }
}

/** First index whose cumulative weight exceeds x (so zero-weight entries are never returned). */
function searchCumulative (cum: ArrayLike<number>, x: number): number {
  let lo = 0
  let hi = cum.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cum[mid] > x) hi = mid
    else lo = mid + 1
  }
  return lo
}
