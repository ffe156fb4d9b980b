/**
 * Path-selection parameters, each with its reason. Durations in milliseconds.
 * Checked by test/sim/path.test.ts (derivations and ranges).
 */
import { DEFAULT_HOPS, MAX_HOPS } from '../constants.ts'

const DAY_MS = 86_400_000

/** Default circuit length: guard + middle + last hop, as in Tor (re-exported from onion/constants). */
export const DEFAULT_PATH_LENGTH = DEFAULT_HOPS
/** Longest path: relays refuse more than MAX_HOPS − 1 extensions (RELAY_EARLY cap, onion/constants). */
export const MAX_PATH_LENGTH = MAX_HOPS
/** Shortest path: an entry and a distinct last hop, so the last hop never sees the client's address. */
export const MIN_PATH_LENGTH = 2
/** A vanguards-lite path (prop 333) is G L2 … X: at least three hops. */
export const MIN_LAYER2_PATH_LENGTH = 3

/**
 * A relay's weight stops growing at this multiple of the directory's median claim:
 * a relay that lies about its bandwidth attracts at most 4 median relays' worth of
 * circuits (Tor solves the same problem with measured bandwidth and a cap on unmeasured relays).
 */
export const BANDWIDTH_CAP_MEDIAN_MULTIPLE = 4

/** Primary guards kept per client (Tor guard-spec N_PRIMARY_GUARDS). */
export const PRIMARY_GUARD_COUNT = 3
/** Guard lifetime (Tor guard-spec GUARD_LIFETIME: 120 days). */
export const GUARD_LIFETIME_MS = 120 * DAY_MS
/**
 * A new guard's lifetime is shortened by a uniform random amount of up to this fraction,
 * as guard-spec randomises `sampled_on` into the past by up to GUARD_LIFETIME/10, so that
 * guards chosen together do not all expire together (and do not reveal when they were picked).
 */
export const GUARD_LIFETIME_JITTER_FRACTION = 0.1

/** Layer-2 guards kept (prop 333 vanguards-lite: 4). */
export const LAYER2_GUARD_COUNT = 4
/** Shortest layer-2 guard lifetime (prop 333: 1 day). */
export const LAYER2_MIN_LIFETIME_MS = 1 * DAY_MS
/** Longest layer-2 guard lifetime (prop 333: 12 days). */
export const LAYER2_MAX_LIFETIME_MS = 12 * DAY_MS

/**
 * Rejection-sampling attempts before falling back to an explicit filtered list.
 * Both give the exact conditional distribution; the bound only caps the cost when
 * most relays conflict (tiny or single-subnet directories).
 */
export const MAX_REJECTION_TRIES = 64

/** Version of the persisted guard state (GuardState.version). */
export const GUARD_STATE_VERSION = 1

/** Bits per Rng.int draw used to build a uniform float: 2 × 26 = 52 bits, the precision of a double. */
export const UNIFORM_HALF_BITS = 26
