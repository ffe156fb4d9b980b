/**
 * Choosing one circuit's relays: entry (a primary guard, or a fresh draw when guards are
 * off), optionally a layer-2 guard (vanguards-lite shape G L2 … X), middles by weight, and
 * a last hop that is either fixed by the caller (storer, introduction or rendezvous point)
 * or drawn by weight. Every pair of hops obeys the path rules (distinct relays, one per
 * subnet, one per mutual family; the last two switchable off for single-address testnets).
 *
 * Order of choice: a fixed last hop first, then the entry, then a drawn last hop, then the
 * layer-2 hop, then middles, so a fixed last hop constrains the guard (Tor picks the exit
 * first for the same reason).
 */
import type { Clock, Rng } from '../../overlay/clock.ts'
import { DEFAULT_PATH_LENGTH, MAX_PATH_LENGTH, MIN_LAYER2_PATH_LENGTH, MIN_PATH_LENGTH } from './constants.ts'
import { DEFAULT_PATH_RULES, type PathDirectory, type PathRules } from './directory.ts'
import { NoEligibleRelayError, PathOptionsError } from './errors.ts'
import type { GuardSet } from './guards.ts'

export interface PathContext {
  rng: Rng
  clock: Clock
  /** The client's guards; null or absent: every circuit draws a fresh entry (simulation baseline). */
  guards?: GuardSet | null
  /** Default: both rules on. */
  rules?: PathRules
}

export interface PathRequest {
  /** Number of hops, MIN_PATH_LENGTH..MAX_PATH_LENGTH (default 3). */
  length?: number
  /** Fixed last hop id (must be listed). */
  lastHop?: string
  /** Second hop from the layer-2 guards (needs guards and length ≥ 3). */
  layer2?: boolean
  /** Relay ids never to use on this path. */
  exclude?: readonly string[]
}

/** Build a path; returns relay ids, entry first. Throws NoEligibleRelayError / PathOptionsError. */
export function buildPath (dir: PathDirectory, ctx: PathContext, req: PathRequest = {}): string[] {
  return buildPathIndices(dir, ctx, req).map(i => dir.relays[i].id)
}

/** As buildPath, returning directory indices (the simulator's hot path). */
export function buildPathIndices (dir: PathDirectory, ctx: PathContext, req: PathRequest = {}): number[] {
  const length = req.length ?? DEFAULT_PATH_LENGTH
  if (!Number.isInteger(length) || length < MIN_PATH_LENGTH || length > MAX_PATH_LENGTH) {
    throw new PathOptionsError(`length: expected an integer in [${MIN_PATH_LENGTH}, ${MAX_PATH_LENGTH}], got ${String(length)}`)
  }
  const layer2 = req.layer2 === true
  const guards = ctx.guards ?? null
  if (layer2 && guards === null) throw new PathOptionsError('layer2: needs a GuardSet')
  if (layer2 && length < MIN_LAYER2_PATH_LENGTH) throw new PathOptionsError(`length: a layer-2 path needs ≥ ${MIN_LAYER2_PATH_LENGTH} hops`)
  const rules = ctx.rules ?? DEFAULT_PATH_RULES
  const rng = ctx.rng

  const excluded: number[] = []
  for (const id of req.exclude ?? []) {
    const i = dir.indexOf(id)
    if (i !== undefined) excluded.push(i)
  }
  const notExcluded = (i: number): boolean => !excluded.includes(i)
  const chosen: number[] = []
  const fits = (i: number): boolean => notExcluded(i) && dir.compatible(i, chosen, rules)

  let last = -1
  if (req.lastHop !== undefined) {
    const i = dir.indexOf(req.lastHop)
    if (i === undefined) throw new NoEligibleRelayError('last', `last hop ${req.lastHop} is not in the directory`)
    if (!notExcluded(i)) throw new PathOptionsError('lastHop: is also excluded')
    last = i
    chosen.push(i)
  }

  let entry: number
  if (guards !== null) {
    guards.refresh(dir, ctx.clock, rng, layer2)
    entry = guards.entryIndex(dir, chosen, rules)
    if (entry < 0 || !notExcluded(entry)) throw new NoEligibleRelayError('entry', 'no primary guard is compatible with this path')
  } else {
    entry = dir.pick(rng, fits, 'entry', true)
  }
  chosen.push(entry)

  if (last < 0) {
    last = dir.pick(rng, fits, 'last')
    chosen.push(last)
  }

  let l2 = -1
  if (layer2 && guards !== null) {
    const options = guards.layer2Indices(dir, chosen, rules).filter(notExcluded)
    if (options.length === 0) throw new NoEligibleRelayError('layer2', 'no layer-2 guard is compatible with this path')
    l2 = options[rng.int(options.length)]
    chosen.push(l2)
  }

  const middleCount = length - 2 - (l2 >= 0 ? 1 : 0)
  const middles: number[] = []
  for (let m = 0; m < middleCount; m++) {
    const i = dir.pick(rng, fits, 'middle')
    chosen.push(i)
    middles.push(i)
  }

  const path = [entry]
  if (l2 >= 0) path.push(l2)
  path.push(...middles, last)
  return path
}
