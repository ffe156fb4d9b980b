/**
 * Storer placement — pure, meant to move to src/registry/placement.ts when the registry
 * lands (issue 5, "Placement"); the simulator uses it so both compute the same storers.
 *
 * A key's storers are computed, not searched: for each replica key, the S relays of the
 * caller's own verified directory closest to it by Kademlia's XOR metric (R replicas × S
 * storers, default 2 × 4, as Tor clients compute HSDirs from the consensus). A relay
 * already chosen for an earlier replica is skipped, so the R×S storers are distinct
 * (Tor's hs_get_responsible_hsdirs does the same). Only relays `eligible` accepts are
 * considered (issue 5: in the directory for ≥ 2 periods).
 *
 * Must never: depend on anything but its arguments (no clock, no I/O, no randomness).
 */

/** Replicas per key (issue 5 / rend-spec-v3 hsdir_n_replicas). */
export const DEFAULT_REPLICAS = 2
/** Storers per replica (issue 5 / rend-spec-v3 hsdir_spread_store). */
export const DEFAULT_STORERS_PER_REPLICA = 4

export interface PlacementEntry {
  id: string
  /** Kademlia id (e.g. SHA-256 of the peer id multihash), same length as the replica keys. */
  kadId: Uint8Array
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
