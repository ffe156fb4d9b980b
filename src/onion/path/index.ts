/**
 * Path selection for Veil circuits: pure, I/O-free, driven by an injected Rng and Clock
 * (STYLE.md §10), so the real client and sim/ run exactly this code.
 *
 * What it does
 * - `PathDirectory`: a verified directory snapshot indexed for selection. Weights are
 *   uniform, or in 'bandwidth' mode min(claim, measured, 4 × median claim) / (4 × median):
 *   a self-reported bandwidth can only lower a relay's weight below the uniform ceiling
 *   (exact rule in directory.ts).
 * - Path rules: no relay twice; at most one hop per subnet16 key (IPv4 /16, IPv6 /32) and
 *   per mutual family. Both switchable off (`PathRules`) for single-address testnets.
 * - `GuardSet`: 3 primary guards kept ~120 days (randomised), 4 layer-2 guards kept a
 *   random 1–12 days (vanguards-lite, prop 333); replaced on expiry or when unlisted;
 *   persisted as plain JSON (`toJSON` / `GuardSet.fromJSON`).
 * - `buildPath`: guard + (layer-2) + middles + last hop; length 2..8, default 3.
 *
 * Example
 *   const dir = new PathDirectory(candidates)                 // once per directory version
 *   const guards = GuardSet.fromJSON(saved)                    // or new GuardSet()
 *   const path = buildPath(dir, { rng: secureRng, clock: systemClock, guards }, { length: 3 })
 *   save(guards.toJSON())
 *   // hidden-service shape G L2 M X, with the storer / RP fixed:
 *   buildPath(dir, ctx, { length: 4, layer2: true, lastHop: rpId })
 *
 * Must never
 * - call Date.now(), Math.random() or do I/O: time and randomness come from the context;
 * - put one relay twice on a path, or two relays of one subnet/family while the rules are on;
 * - let a bandwidth claim raise a weight above the uniform ceiling;
 * - use a guard past its expiry or after it left the directory.
 *
 * Not in this module: directory fetching and descriptor verification (overlay/), circuit
 * building, build timeouts and retries (the circuit manager), reachability tracking of guards.
 */
export {
  DEFAULT_PATH_LENGTH, MAX_PATH_LENGTH, MIN_PATH_LENGTH, MIN_LAYER2_PATH_LENGTH, BANDWIDTH_CAP_MEDIAN_MULTIPLE,
  PRIMARY_GUARD_COUNT, GUARD_LIFETIME_MS, GUARD_LIFETIME_JITTER_FRACTION, LAYER2_GUARD_COUNT, LAYER2_MIN_LIFETIME_MS,
  LAYER2_MAX_LIFETIME_MS, GUARD_STATE_VERSION
} from './constants.ts'
export {
  PathDirectory, DEFAULT_PATH_RULES, medianClaim, selectionWeight, uniform01,
  type RelayCandidate, type DirectoryOptions, type PathRules, type Weighting
} from './directory.ts'
export { GuardSet, parseGuardState, type GuardEntry, type GuardState, type GuardOptions, type GuardChanges } from './guards.ts'
export { buildPath, buildPathIndices, type PathContext, type PathRequest } from './build.ts'
export { PathOptionsError, NoEligibleRelayError } from './errors.ts'
