/**
 * Privacy profiles: named presets users choose per call (`fast`, `balanced`, `paranoid`).
 *
 * A profile has two halves:
 * - **Relay half** (per-hop mean delay): held by each relay in its own {@link RelayMixTable}.
 *   A circuit tells each hop only the profile *id* (one byte, inside that hop's layer);
 *   the relay maps the id to its own numbers. A circuit never carries numbers: distinct
 *   numbers on the wire would split users into small anonymity sets.
 * - **Client half** (cover rates, paranoid's send stream, padding buckets): what the
 *   client itself sends. Local overrides may change only the cover and send-stream
 *   rates; buckets are fixed per profile, because message sizes are visible at the far end.
 *
 * Defaults (3-hop circuit; costs computed by {@link profileCosts}, tabled in docs/mixing.md):
 *
 * | profile   | id | per-hop mean | last hop μ/s | loop/s | drop/s | stream λ/s | cover circuits | buckets |
 * |-----------|----|--------------|--------------|--------|--------|------------|----------------|---------|
 * | fast      | 0  | 0 ms         | —            | 0      | 0      | —          | 0              | none    |
 * | balanced  | 1  | 10 ms        | —            | 0.5    | 0.5    | —          | 0              | pow2    |
 * | paranoid  | 2  | 30 ms        | 10           | 5      | 0      | 50         | 5              | pow2    |
 *
 * Provenance: Nym's client uses a 15 ms mean per mix, a 20 ms (λ = 50/s) Poisson send
 * stream and a loop every 200 ms (5/s) — paranoid copies its stream and loop rates and
 * doubles its delay, since a small Veil network has fewer cells per relay to mix with.
 * Unlike Nym's packets, a circuit's cells all reach the same last hop, so one stream on
 * one circuit would be a fingerprint of its client there: paranoid spreads its stream
 * evenly over its call circuit and five cover circuits to other last hops (every empty
 * slot carries a drop), and each last hop answers at its own constant rate μ (relay-held).
 *
 * Costs: one paranoid call's real throughput is capped at λ / 6 cells/s × CELL_PAYLOAD_BYTES
 * ≈ 16.5 KiB/s out and μ × 2,022 B ≈ 19.7 KiB/s back, and an idle client's link carries
 * (55 + 60) cells/s ≈ 230 KiB/s.
 */
import {
  CELL_PAYLOAD_BYTES, MAX_COVER_RATE_PER_SEC, MAX_PER_HOP_MEAN_DELAY_MS, MAX_PROFILE_ID, PARANOID_COVER_CIRCUITS, PARANOID_LAST_HOP_RATE,
  PROFILE_ID_LEN, WIRE_CELL_BYTES
} from './constants.ts'
import { MixCallerError, MixPeerError, ProfileOverrideError } from './errors.ts'
import { type PaddingBuckets, POW2_BUCKETS, NO_PADDING } from './padding.ts'

/** Profile ids as carried on the wire. Append only: an id, once used, keeps its meaning forever. */
export const PROFILE_IDS = { fast: 0, balanced: 1, paranoid: 2 } as const
export type ProfileName = keyof typeof PROFILE_IDS
export type ProfileId = typeof PROFILE_IDS[ProfileName]
export const PROFILE_NAMES: readonly ProfileName[] = ['fast', 'balanced', 'paranoid']
/** The profile a client uses when the caller names none. */
export const DEFAULT_PROFILE: ProfileName = 'balanced'

/** What a relay does for circuits of one profile. Its own numbers, never received from a circuit. */
export interface RelayProfileParams {
  /** Mean of the exponential delay a relay adds to each cell (ms). 0 = forward at once. */
  readonly perHopMeanDelayMs: number
  /**
   * Backward stream at a circuit's last hop (paranoid): the cells the last hop sends toward
   * the client (responses, loop replies, CONNECTED, END, SENDME) leave only in the slots of a
   * Poisson process at this rate, and an empty slot sends a DROP — so what comes back on a
   * circuit does not reveal when it carries a response. 0 = no stream (cells go through the
   * delay scheduler like any other).
   */
  readonly lastHopRatePerSec: number
}

/** What a client sends for one profile. */
export interface ClientProfileParams {
  /** Loop cover: cells that travel a circuit to its last hop and back, Poisson rate per second. */
  readonly loopRatePerSec: number
  /** Drop cover: cells discarded by the last hop, Poisson rate per second. */
  readonly dropRatePerSec: number
  /** Single Poisson send stream rate λ (paranoid); 0 = no stream (real cells go at once). */
  readonly sendRatePerSec: number
  /**
   * Cover circuits (paranoid): circuits to other last hops that carry only cover, kept beside
   * the circuits used for calls. The send stream spreads its slots evenly over all of them,
   * so each circuit — call or cover — carries λ / (its number) cells per second whatever the
   * load, and an observer of the far end sees the client's stream split over several last
   * hops that look alike.
   */
  readonly coverCircuits: number
  /** Length hiding: message cell counts are padded up to these buckets. */
  readonly paddingBuckets: PaddingBuckets
}

export interface MixProfile {
  readonly name: ProfileName
  readonly id: ProfileId
  readonly relay: RelayProfileParams
  readonly client: ClientProfileParams
}

/** The presets. Frozen: change them here (and in docs/mixing.md), never at run time. */
export const PROFILES: Readonly<Record<ProfileName, MixProfile>> = Object.freeze({
  fast: Object.freeze({
    name: 'fast',
    id: PROFILE_IDS.fast,
    relay: Object.freeze({ perHopMeanDelayMs: 0, lastHopRatePerSec: 0 }),
    client: Object.freeze({ loopRatePerSec: 0, dropRatePerSec: 0, sendRatePerSec: 0, coverCircuits: 0, paddingBuckets: NO_PADDING })
  }),
  balanced: Object.freeze({
    name: 'balanced',
    id: PROFILE_IDS.balanced,
    relay: Object.freeze({ perHopMeanDelayMs: 10, lastHopRatePerSec: 0 }),
    client: Object.freeze({ loopRatePerSec: 0.5, dropRatePerSec: 0.5, sendRatePerSec: 0, coverCircuits: 0, paddingBuckets: POW2_BUCKETS })
  }),
  paranoid: Object.freeze({
    name: 'paranoid',
    id: PROFILE_IDS.paranoid,
    relay: Object.freeze({ perHopMeanDelayMs: 30, lastHopRatePerSec: PARANOID_LAST_HOP_RATE }),
    client: Object.freeze({ loopRatePerSec: 5, dropRatePerSec: 0, sendRatePerSec: 50, coverCircuits: PARANOID_COVER_CIRCUITS, paddingBuckets: POW2_BUCKETS })
  })
}) as Readonly<Record<ProfileName, MixProfile>>

// ---------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------

export function isProfileName (s: unknown): s is ProfileName {
  return typeof s === 'string' && Object.hasOwn(PROFILE_IDS, s)
}

export function isProfileId (n: unknown): n is ProfileId {
  return typeof n === 'number' && PROFILE_NAMES.some((name) => PROFILE_IDS[name] === n)
}

export function profileName (id: ProfileId): ProfileName {
  const name = PROFILE_NAMES.find((n) => PROFILE_IDS[n] === id)
  if (name === undefined) throw new MixCallerError(`unknown profile id ${String(id)}`)
  return name
}

/** The preset named `name`; a clear error listing the names otherwise. */
export function profileByName (name: string): MixProfile {
  if (!isProfileName(name)) throw new MixCallerError(`unknown privacy profile "${name}": expected one of ${PROFILE_NAMES.join(', ')}`, 'ERR_UNKNOWN_PROFILE')
  return PROFILES[name]
}

// ---------------------------------------------------------------------------
// Wire: the profile id, and nothing else
// ---------------------------------------------------------------------------

/**
 * The bytes a circuit carries to a hop for its profile (PROFILE_ID_LEN = 1):
 *
 * ```
 *  0
 * +----+
 * | id |   0 = fast, 1 = balanced, 2 = paranoid; 3..255 reserved (refused)
 * +----+
 * ```
 *
 * Accepts a whole profile so that callers holding one cannot serialise anything but
 * its id: the output depends on `id` alone (property-tested in test/mix/profiles.test.ts).
 */
export function encodeProfileId (profile: ProfileId | { readonly id: ProfileId }): Uint8Array {
  const id = typeof profile === 'number' ? profile : profile.id
  if (!isProfileId(id)) throw new MixCallerError(`encodeProfileId: unknown profile id ${String(id)}`)
  return Uint8Array.of(id)
}

/** Parse a hop's profile byte. An unknown id is the peer's fault: refuse the circuit. */
export function decodeProfileId (bytes: Uint8Array): ProfileId {
  if (bytes.length !== PROFILE_ID_LEN) throw new MixPeerError('ERR_MALFORMED_PROFILE', `profile id: expected ${PROFILE_ID_LEN} byte, got ${bytes.length}`)
  const id = bytes[0]
  if (id > MAX_PROFILE_ID || !isProfileId(id)) throw new MixPeerError('ERR_UNKNOWN_PROFILE', `profile id ${id} is not a known profile`)
  return id
}

// ---------------------------------------------------------------------------
// Client overrides: cover rates only
// ---------------------------------------------------------------------------

/** What a client may change locally: only what it sends itself. */
export interface ClientOverrides {
  loopRatePerSec?: number
  dropRatePerSec?: number
  sendRatePerSec?: number
}

const OVERRIDABLE: readonly (keyof ClientOverrides)[] = ['loopRatePerSec', 'dropRatePerSec', 'sendRatePerSec']

/** Why each non-overridable field is refused (the error message says it). */
const NOT_OVERRIDABLE: Readonly<Record<string, string>> = {
  perHopMeanDelayMs: 'relay delays belong to the relays; a circuit carries only the profile id',
  paddingBuckets: 'padding buckets are visible at the far end; every user of a profile must pad alike',
  id: 'the profile id is chosen by the profile name',
  name: 'choose another profile instead'
}

function checkRate (field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProfileOverrideError(field, `${field} must be a finite number of cells per second, got ${String(v)}`)
  if (v < 0 || v > MAX_COVER_RATE_PER_SEC) throw new ProfileOverrideError(field, `${field} must be in [0, ${MAX_COVER_RATE_PER_SEC}] cells per second, got ${v}`)
  return v
}

/**
 * The client parameters of `name` with local `overrides` applied and validated.
 * Refuses unknown fields, relay-side or wire-visible fields, non-numbers, negative or
 * oversized rates, a send stream on a profile without one, and a paranoid stream of 0.
 */
export function resolveClientProfile (name: string, overrides: unknown = {}): MixProfile {
  const base = profileByName(name)
  if (overrides === undefined) return base
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new ProfileOverrideError('(overrides)', 'profile overrides must be an object such as { "loopRatePerSec": 1 }')
  }
  const o = overrides as Record<string, unknown>
  if (Object.values(o).every((v) => v === undefined)) return base
  const out: { loopRatePerSec: number, dropRatePerSec: number, sendRatePerSec: number } = {
    loopRatePerSec: base.client.loopRatePerSec,
    dropRatePerSec: base.client.dropRatePerSec,
    sendRatePerSec: base.client.sendRatePerSec
  }
  for (const key of Object.keys(o)) {
    if (o[key] === undefined) continue
    const why = NOT_OVERRIDABLE[key]
    if (why !== undefined) throw new ProfileOverrideError(key, `${key} cannot be overridden locally: ${why}`)
    if (!(OVERRIDABLE as readonly string[]).includes(key)) {
      throw new ProfileOverrideError(key, `unknown profile override "${key}": only ${OVERRIDABLE.join(', ')} may be changed locally`)
    }
    out[key as keyof ClientOverrides] = checkRate(key, o[key])
  }
  if (base.client.sendRatePerSec === 0 && out.sendRatePerSec !== 0) {
    throw new ProfileOverrideError('sendRatePerSec', `profile "${base.name}" has no send stream; choose "paranoid" for a constant-rate stream`)
  }
  if (base.client.sendRatePerSec > 0 && out.sendRatePerSec === 0) {
    throw new ProfileOverrideError('sendRatePerSec', `profile "${base.name}" needs a send stream rate > 0: with 0 no cell would ever leave`)
  }
  return Object.freeze({ ...base, client: Object.freeze({ ...base.client, ...out }) })
}

// ---------------------------------------------------------------------------
// Relay table: id → this relay's own numbers
// ---------------------------------------------------------------------------

/** A relay's mapping from profile id to its own parameters. */
export type RelayMixTable = ReadonlyMap<ProfileId, RelayProfileParams>

/** Relay operators may retune a profile's delay and last-hop rate; `fast` stays 0 in both (that is its promise). */
export type RelayTableOverrides = Partial<Record<ProfileName, Partial<RelayProfileParams>>>

const RELAY_FIELDS: readonly string[] = ['perHopMeanDelayMs', 'lastHopRatePerSec']

/** The relay table: presets, with the operator's validated overrides. */
export function relayMixTable (overrides: RelayTableOverrides = {}): RelayMixTable {
  const table = new Map<ProfileId, RelayProfileParams>()
  for (const key of Object.keys(overrides)) {
    if (!isProfileName(key)) throw new MixCallerError(`relay mix table: unknown profile "${key}": expected one of ${PROFILE_NAMES.join(', ')}`)
    for (const field of Object.keys(overrides[key] ?? {})) {
      if (!RELAY_FIELDS.includes(field)) throw new MixCallerError(`relay mix table: ${key}.${field} is not a relay parameter (only ${RELAY_FIELDS.join(', ')})`)
    }
  }
  for (const name of PROFILE_NAMES) {
    const v = overrides[name]?.perHopMeanDelayMs ?? PROFILES[name].relay.perHopMeanDelayMs
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_PER_HOP_MEAN_DELAY_MS) {
      throw new MixCallerError(`relay mix table: ${name}.perHopMeanDelayMs must be in [0, ${MAX_PER_HOP_MEAN_DELAY_MS}] ms, got ${String(v)}`)
    }
    if (name === 'fast' && v !== 0) throw new MixCallerError('relay mix table: fast.perHopMeanDelayMs must stay 0 (fast means no mixing delay)')
    const rate = overrides[name]?.lastHopRatePerSec ?? PROFILES[name].relay.lastHopRatePerSec
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > MAX_COVER_RATE_PER_SEC) {
      throw new MixCallerError(`relay mix table: ${name}.lastHopRatePerSec must be in [0, ${MAX_COVER_RATE_PER_SEC}] cells per second, got ${String(rate)}`)
    }
    if (name === 'fast' && rate !== 0) throw new MixCallerError('relay mix table: fast.lastHopRatePerSec must stay 0 (fast means no shaping)')
    table.set(PROFILE_IDS[name], Object.freeze({ perHopMeanDelayMs: v, lastHopRatePerSec: rate }))
  }
  return table
}

// ---------------------------------------------------------------------------
// Costs
// ---------------------------------------------------------------------------

export interface ProfileCosts {
  /** Mean delay added to one isolated cell, one way (hops × per-hop mean, plus paranoid's slot wait). */
  addedLatencyMsOneWay: number
  /** The same for a request and its response (round trip; paranoid: plus the last hop's backward slot wait). */
  addedLatencyMsRoundTrip: number
  /** Cells per second the client sends when idle (cover only). */
  idleCellsPerSec: number
  /**
   * Bytes per second on the client's link when idle, both directions: a loop cell is
   * counted twice (out and back), a drop cell once; with a backward stream, what comes
   * back is that stream's rate on every circuit instead.
   */
  idleClientLinkBytesPerSec: number
  /** Real application bytes per second one call can send (Infinity = no cap from mixing). */
  throughputCapBytesPerSec: number
  /** Circuits a client keeps open for this profile at least: one for calls plus its cover circuits. */
  circuits: number
}

/**
 * Expected costs of a profile on a `hops`-hop circuit, for a client with one call circuit
 * (plus the profile's cover circuits). The latency is for a single cell; a burst of n
 * cells at one hop finishes after ≈ mean × (ln n + 0.58) there (see docs). The relays'
 * half is the preset's.
 */
export function profileCosts (p: MixProfile, hops = 3): ProfileCosts {
  const c = p.client
  const relay = p.relay
  const circuits = 1 + c.coverCircuits
  // the stream's slots are spread evenly over the circuits: one circuit's next slot is Exp(circuits/λ) away
  const perCircuitRate = c.sendRatePerSec / circuits
  const slotWaitMs = perCircuitRate > 0 ? 1000 / perCircuitRate : 0
  const backWaitMs = relay.lastHopRatePerSec > 0 ? 1000 / relay.lastHopRatePerSec : 0
  const oneWay = hops * relay.perHopMeanDelayMs + slotWaitMs
  const returnWay = hops * relay.perHopMeanDelayMs + backWaitMs
  // paranoid's empty stream slots carry drops; loops come back (unless a backward stream
  // carries them, which sends its own rate back on every circuit)
  const idleCells = c.loopRatePerSec + c.dropRatePerSec + c.sendRatePerSec
  const back = relay.lastHopRatePerSec > 0 && c.sendRatePerSec > 0 ? circuits * relay.lastHopRatePerSec : c.loopRatePerSec
  return {
    addedLatencyMsOneWay: oneWay,
    addedLatencyMsRoundTrip: oneWay + returnWay,
    idleCellsPerSec: idleCells,
    idleClientLinkBytesPerSec: (idleCells + back) * WIRE_CELL_BYTES,
    throughputCapBytesPerSec: perCircuitRate > 0 ? perCircuitRate * CELL_PAYLOAD_BYTES : Infinity,
    circuits: c.sendRatePerSec > 0 ? circuits : 1
  }
}
