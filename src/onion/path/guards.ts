/**
 * Entry guards and layer-2 guards: a small state machine, serialisable as plain JSON.
 *
 * Simplified from Tor's guard-spec and proposal 333 (vanguards-lite):
 * - PRIMARY_GUARD_COUNT (3) primary guards, drawn by weight from guard-eligible relays,
 *   kept for a lifetime of GUARD_LIFETIME_MS (120 days) minus a uniform random amount of
 *   up to 10% (guard-spec randomises `sampled_on` the same way). The first primary guard
 *   compatible with the path is used, so a client normally enters through one relay.
 * - LAYER2_GUARD_COUNT (4) layer-2 guards, each kept for a uniform random 1–12 days.
 * - A guard is replaced when it expires, leaves the directory (unlisted) or stops being
 *   eligible. Tor keeps an unlisted guard for 20 days and tracks reachability and
 *   confirmation; this model has neither: an unreachable guard is the caller's to drop
 *   (`drop(id)`).
 * - Primary guards avoid one another's subnet and family when the directory allows it,
 *   so a fallback guard is not the same operator. Layer-2 guards are distinct from each
 *   other and from the primaries.
 *
 * State (GuardState, JSON): { version: 1, primary: [{id, addedAt, expiresAt}], layer2: [...] },
 * times in ms since the epoch of the injected Clock. `fromJSON` validates everything.
 */
import type { Clock, Rng } from '../../overlay/clock.ts'
import {
  GUARD_LIFETIME_JITTER_FRACTION, GUARD_LIFETIME_MS, GUARD_STATE_VERSION, LAYER2_GUARD_COUNT, LAYER2_MAX_LIFETIME_MS,
  LAYER2_MIN_LIFETIME_MS, PRIMARY_GUARD_COUNT
} from './constants.ts'
import { DEFAULT_PATH_RULES, uniform01, type PathDirectory, type PathRules } from './directory.ts'
import { NoEligibleRelayError, PathOptionsError } from './errors.ts'

export interface GuardEntry {
  id: string
  addedAt: number
  expiresAt: number
}

export interface GuardState {
  version: number
  primary: GuardEntry[]
  layer2: GuardEntry[]
}

export interface GuardOptions {
  primaryCount?: number
  /** Nominal primary-guard lifetime, ms (default 120 days). */
  lifetimeMs?: number
  /** Fraction of the lifetime removed at random (default 0.1). */
  lifetimeJitterFraction?: number
  layer2Count?: number
  layer2MinLifetimeMs?: number
  layer2MaxLifetimeMs?: number
  /** Rules applied among primary guards (best effort). Default: both on. */
  rules?: PathRules
}

/** What one refresh changed, for logs and simulator counters. */
export interface GuardChanges {
  removed: string[]
  added: string[]
}

interface ResolvedGuardOptions {
  primaryCount: number
  lifetimeMs: number
  lifetimeJitterFraction: number
  layer2Count: number
  layer2MinLifetimeMs: number
  layer2MaxLifetimeMs: number
  rules: PathRules
}

function resolve (o: GuardOptions): ResolvedGuardOptions {
  const r: ResolvedGuardOptions = {
    primaryCount: o.primaryCount ?? PRIMARY_GUARD_COUNT,
    lifetimeMs: o.lifetimeMs ?? GUARD_LIFETIME_MS,
    lifetimeJitterFraction: o.lifetimeJitterFraction ?? GUARD_LIFETIME_JITTER_FRACTION,
    layer2Count: o.layer2Count ?? LAYER2_GUARD_COUNT,
    layer2MinLifetimeMs: o.layer2MinLifetimeMs ?? LAYER2_MIN_LIFETIME_MS,
    layer2MaxLifetimeMs: o.layer2MaxLifetimeMs ?? LAYER2_MAX_LIFETIME_MS,
    rules: o.rules ?? DEFAULT_PATH_RULES
  }
  if (!Number.isInteger(r.primaryCount) || r.primaryCount < 1) throw new PathOptionsError('primaryCount: expected an integer ≥ 1')
  if (!Number.isInteger(r.layer2Count) || r.layer2Count < 0) throw new PathOptionsError('layer2Count: expected an integer ≥ 0')
  if (!(r.lifetimeMs > 0)) throw new PathOptionsError('lifetimeMs: expected > 0')
  if (!(r.lifetimeJitterFraction >= 0 && r.lifetimeJitterFraction < 1)) throw new PathOptionsError('lifetimeJitterFraction: expected in [0, 1)')
  if (!(r.layer2MinLifetimeMs > 0 && r.layer2MaxLifetimeMs >= r.layer2MinLifetimeMs)) throw new PathOptionsError('layer2 lifetimes: expected 0 < min ≤ max')
  return r
}

function parseEntries (v: unknown, field: string): GuardEntry[] {
  if (!Array.isArray(v)) throw new PathOptionsError(`${field}: expected an array`)
  return v.map((e: unknown, i: number) => {
    if (typeof e !== 'object' || e === null) throw new PathOptionsError(`${field}[${i}]: expected an object`)
    const { id, addedAt, expiresAt } = e as Record<string, unknown>
    if (typeof id !== 'string' || id.length === 0) throw new PathOptionsError(`${field}[${i}].id: expected a non-empty string`)
    if (typeof addedAt !== 'number' || !Number.isFinite(addedAt)) throw new PathOptionsError(`${field}[${i}].addedAt: expected a finite number`)
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt < addedAt) throw new PathOptionsError(`${field}[${i}].expiresAt: expected a finite number ≥ addedAt`)
    return { id, addedAt, expiresAt }
  })
}

/** Validate persisted guard state (JSON.parse output). Throws PathOptionsError naming the field. */
export function parseGuardState (json: unknown): GuardState {
  if (typeof json !== 'object' || json === null) throw new PathOptionsError('guard state: expected an object')
  const o = json as Record<string, unknown>
  if (o.version !== GUARD_STATE_VERSION) throw new PathOptionsError(`version: expected ${GUARD_STATE_VERSION}`)
  const primary = parseEntries(o.primary, 'primary')
  const layer2 = parseEntries(o.layer2, 'layer2')
  const ids = new Set<string>()
  for (const e of [...primary, ...layer2]) {
    if (ids.has(e.id)) throw new PathOptionsError(`guard state: relay ${e.id} appears twice`)
    ids.add(e.id)
  }
  return { version: GUARD_STATE_VERSION, primary, layer2 }
}

/** A client's guards. Construct empty or from persisted state; call `refresh` before each use. */
export class GuardSet {
  readonly options: Readonly<ResolvedGuardOptions>
  #primary: GuardEntry[]
  #layer2: GuardEntry[]

  constructor (options: GuardOptions = {}, state?: GuardState) {
    this.options = resolve(options)
    const s = state === undefined ? undefined : parseGuardState(state)
    this.#primary = s?.primary ?? []
    this.#layer2 = s?.layer2 ?? []
  }

  static fromJSON (json: unknown, options: GuardOptions = {}): GuardSet {
    return new GuardSet(options, parseGuardState(json))
  }

  /** Plain-JSON state (a copy). */
  toJSON (): GuardState {
    return {
      version: GUARD_STATE_VERSION,
      primary: this.#primary.map(e => ({ ...e })),
      layer2: this.#layer2.map(e => ({ ...e }))
    }
  }

  /** Primary guard ids, in order of preference. */
  primary (): string[] { return this.#primary.map(e => e.id) }
  /** Layer-2 guard ids. */
  layer2 (): string[] { return this.#layer2.map(e => e.id) }

  /** Forget a guard now (e.g. unreachable); the next refresh replaces it. */
  drop (id: string): void {
    this.#primary = this.#primary.filter(e => e.id !== id)
    this.#layer2 = this.#layer2.filter(e => e.id !== id)
  }

  /** Earliest expiry among the current guards (Infinity when empty): when a refresh is next needed. */
  nextExpiry (): number {
    let t = Infinity
    for (const e of this.#primary) t = Math.min(t, e.expiresAt)
    for (const e of this.#layer2) t = Math.min(t, e.expiresAt)
    return t
  }

  /**
   * Drop guards that expired, are unlisted or no longer eligible, then refill both sets.
   * Primary refills that cannot be found leave the set short (a later refresh retries);
   * use `entryIndex` to detect an empty set.
   */
  refresh (dir: PathDirectory, clock: Clock, rng: Rng, withLayer2 = true): GuardChanges {
    const now = clock.now()
    const removed: string[] = []
    const keep = (e: GuardEntry, guardRole: boolean): boolean => {
      const i = dir.indexOf(e.id)
      const ok = now < e.expiresAt && i !== undefined && (guardRole ? dir.isGuardEligible(i) : dir.weights[i] > 0)
      if (!ok) removed.push(e.id)
      return ok
    }
    this.#primary = this.#primary.filter(e => keep(e, true))
    this.#layer2 = this.#layer2.filter(e => keep(e, false))
    const added: string[] = []
    const o = this.options
    while (this.#primary.length < o.primaryCount) {
      const taken = this.#indices(dir)
      const chosen = this.#primary.map(e => dir.indexOf(e.id) as number)
      let i: number
      try {
        i = dir.pick(rng, j => !taken.has(j) && dir.compatible(j, chosen, o.rules), 'guard', true)
      } catch (err) {
        if (!(err instanceof NoEligibleRelayError)) throw err
        try {
          i = dir.pick(rng, j => !taken.has(j), 'guard', true)
        } catch (err2) {
          if (err2 instanceof NoEligibleRelayError) break
          throw err2
        }
      }
      const jitter = uniform01(rng) * o.lifetimeJitterFraction * o.lifetimeMs
      const id = dir.relays[i].id
      this.#primary.push({ id, addedAt: now, expiresAt: now + o.lifetimeMs - jitter })
      added.push(id)
    }
    while (withLayer2 && this.#layer2.length < o.layer2Count) {
      const taken = this.#indices(dir)
      let i: number
      try {
        i = dir.pick(rng, j => !taken.has(j), 'layer2')
      } catch (err) {
        if (err instanceof NoEligibleRelayError) break
        throw err
      }
      const life = o.layer2MinLifetimeMs + uniform01(rng) * (o.layer2MaxLifetimeMs - o.layer2MinLifetimeMs)
      const id = dir.relays[i].id
      this.#layer2.push({ id, addedAt: now, expiresAt: now + life })
      added.push(id)
    }
    return { removed, added }
  }

  /** Directory index of the first primary guard compatible with `chosen`, or −1. Call after refresh. */
  entryIndex (dir: PathDirectory, chosen: ArrayLike<number>, rules: PathRules): number {
    for (const e of this.#primary) {
      const i = dir.indexOf(e.id)
      if (i !== undefined && dir.compatible(i, chosen, rules)) return i
    }
    return -1
  }

  /** Directory indices of the layer-2 guards compatible with `chosen`. Call after refresh. */
  layer2Indices (dir: PathDirectory, chosen: ArrayLike<number>, rules: PathRules): number[] {
    const out: number[] = []
    for (const e of this.#layer2) {
      const i = dir.indexOf(e.id)
      if (i !== undefined && dir.compatible(i, chosen, rules)) out.push(i)
    }
    return out
  }

  #indices (dir: PathDirectory): Set<number> {
    const s = new Set<number>()
    for (const e of this.#primary) { const i = dir.indexOf(e.id); if (i !== undefined) s.add(i) }
    for (const e of this.#layer2) { const i = dir.indexOf(e.id); if (i !== undefined) s.add(i) }
    return s
  }
}
