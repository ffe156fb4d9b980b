/**
 * Mixing, padding and cover traffic: the deciding logic that makes timing and volume
 * hard to correlate across the network, behind privacy profiles users understand.
 *
 * - scheduler.ts: one delay scheduler per relay (binary heap, one timer). Each cell waits
 *   Exp(mean of its circuit's profile, by this relay's table); cells of a circuit and
 *   direction keep their order, cells of different circuits interleave. Bounded.
 * - profiles.ts: `fast`, `balanced`, `paranoid`; the one-byte profile id for the wire;
 *   client overrides (cover rates only); a relay's id → numbers table; costs.
 * - padding.ts: message cell counts padded to buckets; idle-link padding decisions.
 * - cover.ts: loop and drop cover as Poisson processes; paranoid's constant-rate stream,
 *   spread evenly over the call and cover circuits (SpreadStream).
 * - backward.ts: paranoid's backward stream at a circuit's last hop (constant rate toward
 *   the client, fillers in empty slots; one timer per relay).
 * - loops.ts: loop-loss attribution to paths, the relay-avoidance rule, counters.
 * - random.ts: 53-bit uniform doubles and exponential samples from an injected Rng.
 * - timer.ts: the Timer abstraction (real setTimeout, or a virtual ManualTimer).
 *
 * Everything takes an injected Clock, Rng and Timer, so sim/ runs this very code on a
 * virtual clock and a seeded generator (STYLE.md §10).
 *
 * Example (a relay's forward scheduler; the onion layer calls `schedule`):
 * ```ts
 * import { MixScheduler, TimerDriver, systemTimer, relayMixTable, decodeProfileId } from './index.ts'
 * import { systemClock, secureRng } from '../overlay/clock.ts'
 * const profileOfCircuit = new Map<number, ProfileId>()   // filled from each hop's layer:
 * profileOfCircuit.set(circId, decodeProfileId(profileByte)) // throws MixPeerError on unknown ids
 * const mixer = new TimerDriver(new MixScheduler({
 *   clock: systemClock, rng: secureRng, table: relayMixTable(),
 *   profileOf: (circ: number) => profileOfCircuit.get(circ) ?? PROFILE_IDS.fast,
 *   onDrop: (circ) => destroyCircuit(circ)
 * }), systemClock, systemTimer)
 * mixer.schedule(circId, 'forward', () => link.send(cell))
 * // on stop: mixer.stop()
 * ```
 * and on the client: `resolveClientProfile('paranoid', { loopRatePerSec: 2 })`, a
 * `SpreadStream` for the cells over the call and cover circuits, `CoverTraffic` for loops and drops, a `LoopTracker` for losses.
 *
 * Not in this module: I/O, links, cells, circuits, libp2p, real timers being armed:
 * src/node/mix-glue.ts wires this logic into relays (forward scheduler, SET_PROFILE and
 * LOOP commands, link padding) and clients (cover, paranoid's stream, message padding). It imports only overlay/clock.ts
 * and onion/constants.ts.
 *
 * It must never:
 * - put a profile's numbers (delays, rates, buckets) in a cell — only the one-byte id;
 * - call Date.now(), Math.random() or setTimeout behind the caller's back (Clock, Rng
 *   and Timer are injected; relays pass a CSPRNG, since predictable delays do not mix);
 * - reorder cells within a circuit and direction;
 * - grow without bound: the scheduler, the send queue, loop tracking and evidence all
 *   have fixed limits and count what they drop or refuse;
 * - drop a guard on loop evidence, or blame a single relay for one lost loop.
 */
export * from './constants.ts'
export * from './errors.ts'
export { mantissa53, uniform53, sampleExp } from './random.ts'
export { type Timer, type CancelTimer, systemTimer, ManualTimer, DeadlineTimer } from './timer.ts'
export {
  PROFILE_IDS, PROFILE_NAMES, DEFAULT_PROFILE, PROFILES, type ProfileName, type ProfileId, type MixProfile,
  type RelayProfileParams, type ClientProfileParams, type ClientOverrides, type RelayMixTable, type RelayTableOverrides,
  type ProfileCosts, isProfileName, isProfileId, profileName, profileByName, encodeProfileId, decodeProfileId,
  resolveClientProfile, relayMixTable, profileCosts
} from './profiles.ts'
export {
  POW2_BUCKETS, NO_PADDING, type PaddingBuckets, validateBuckets, messageCellCount, paddedCellCount, paddingCellsAfter,
  type LinkPaddingPolicy, DEFAULT_LINK_PADDING, validateLinkPadding, linkPaddingGapMs, nextLinkPaddingAt, linkPaddingDue
} from './padding.ts'
export {
  DEFAULT_MAX_BURST, PoissonProcess, CoverTraffic, SendStream, SpreadStream, type CoverKind, type CoverEmission, type CoverStats,
  type StreamEmission, type OfferResult, type SendStreamStats, type SpreadEmission, type SpreadStreamStats
} from './cover.ts'
export { LastHopStreams, DEFAULT_MAX_BACKWARD_LANES, type LastHopStreamsOptions, type LastHopStreamsStats } from './backward.ts'
export { type RelayId, type LoopStats, type LoopTrackerOptions, LoopTracker } from './loops.ts'
export {
  type ForwardScheduler, type DropReason, laneReleaseTime, type MixSchedulerOptions, type MixSchedulerStats, MixScheduler, TimerDriver
} from './scheduler.ts'
