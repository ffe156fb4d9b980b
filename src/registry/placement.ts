/**
 * Storer placement (issue 5, "Placement and anonymous access") — pure.
 *
 * A key's storers are computed, not searched: for each replica key, the S relays of the
 * caller's own verified directory closest to it by Kademlia's XOR metric (R replicas × S
 * storers, default 2 × 4, as Tor clients compute HSDirs from the consensus). A relay
 * already chosen for an earlier replica is skipped, so the R×S storers are distinct
 * (Tor's hs_get_responsible_hsdirs does the same). Only storage-eligible relays count:
 * those in *this caller's* directory for at least `minAgeMs` (default two periods), which
 * turns on-demand id grinding near a known key into a planned attack (docs/registry.md).
 *
 * Ids follow kad-dht's convention, so the storers a client computes are the peers a
 * kad-dht PUT of the same key would pick from a complete routing table:
 *   relay kadId  = SHA-256(peer id multihash bytes)
 *   target kadId = SHA-256(DHT key bytes)       (e.g. "/veil-desc/" | storageKey)
 *
 * Must never: depend on anything but its arguments (no clock, no I/O, no randomness).
 * sim/placement.ts re-exports this module so the simulator computes the same storers.
 */
import { DESCRIPTOR_REPLICAS, STORERS_PER_REPLICA } from './constants.ts'
import { RegistryCallerError } from './errors.ts'
import { sha256 } from './primitives.ts'
import type { PeriodParams } from './time.ts'

/** Replicas per key (issue 5 / rend-spec-v3 hsdir_n_replicas). */
export const DEFAULT_REPLICAS = DESCRIPTOR_REPLICAS
/** Storers per replica (issue 5 / rend-spec-v3 hsdir_spread_store). */
export const DEFAULT_STORERS_PER_REPLICA = STORERS_PER_REPLICA
/** A relay must have been in the caller's directory this many periods to store records. */
export const STORAGE_ELIGIBILITY_PERIODS = 2

export interface PlacementEntry {
  id: string
  /** Kademlia id (SHA-256 of the peer id multihash), same length as the replica keys. */
  kadId: Uint8Array
}

/** A relay as placement sees it: its id, Kademlia id and when this caller first saw it. */
export interface StorerCandidate extends PlacementEntry {
  /** When the caller's directory first held this relay (ms). */
  firstSeen: number
}

/** −1, 0, 1 as a XOR key is closer to, as close as, or farther from `key` than b. */
export function xorCompare (a: Uint8Array, b: Uint8Array, key: Uint8Array): number {
  for (let i = 0; i < key.length; i++) {
    const da = a[i] ^ key[i]
    const db = b[i] ^ key[i]
    if (da !== db) return da < db ? -1 : 1
  }
  return 0
}

/**
 * Storers per replica key: result[r] holds the ids of replica r's storers, closest first.
 * Ties (equal kadIds) break by id so the result never depends on directory order.
 */
export function placeStorers<E extends PlacementEntry> (
  replicaKeys: readonly Uint8Array[],
  directory: readonly E[],
  storersPerReplica = DEFAULT_STORERS_PER_REPLICA,
  eligible: (e: E) => boolean = () => true
): string[][] {
  const pool = directory.filter(eligible)
  const taken = new Set<string>()
  const out: string[][] = []
  for (const key of replicaKeys) {
    const sorted = pool.slice().sort((a, b) => xorCompare(a.kadId, b.kadId, key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const mine: string[] = []
    for (const e of sorted) {
      if (mine.length === storersPerReplica) break
      if (taken.has(e.id)) continue
      taken.add(e.id)
      mine.push(e.id)
    }
    out.push(mine)
  }
  return out
}

/** kad-dht's Kademlia id of a relay (SHA-256 of its peer id multihash bytes). */
export function relayKadId (peerIdMultihash: Uint8Array): Uint8Array { return sha256(peerIdMultihash) }

/** kad-dht's Kademlia id of a DHT key. */
export function keyKadId (dhtKey: Uint8Array): Uint8Array { return sha256(dhtKey) }

/** The eligibility age for `periods`: STORAGE_ELIGIBILITY_PERIODS period lengths, in ms. */
export function defaultEligibilityAgeMs (periods: PeriodParams): number {
  return STORAGE_ELIGIBILITY_PERIODS * periods.lengthSeconds * 1000
}

/** True when a relay first seen at `firstSeenMs` may store records at `nowMs`. */
export function storageEligible (firstSeenMs: number, nowMs: number, minAgeMs: number): boolean {
  return nowMs - firstSeenMs >= minAgeMs
}

export interface StorersOptions {
  readonly nowMs: number
  /** Eligibility age (ms); callers pass defaultEligibilityAgeMs(periods) outside testnets. */
  readonly minAgeMs: number
  readonly storersPerReplica?: number
}

/**
 * The storers of a record's replicas, given each replica's DHT key (replica order):
 * result[r] = replica r's storers, closest first.
 */
export function storersFor (replicaDhtKeys: readonly Uint8Array[], candidates: readonly StorerCandidate[], o: StorersOptions): string[][] {
  if (!(o.minAgeMs >= 0)) throw new RegistryCallerError('minAgeMs must be ≥ 0')
  return placeStorers(replicaDhtKeys.map(keyKadId), candidates, o.storersPerReplica ?? DEFAULT_STORERS_PER_REPLICA,
    e => storageEligible(e.firstSeen, o.nowMs, o.minAgeMs))
}
