/** Shared helpers for the registry tests: hex, vectors, a seeded Rng, fixtures. */
import type { Rng } from '../../src/onion/primitives.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { ExpandedEd25519Key, mlkem768Keygen, x25519 } from '../../src/registry/primitives.ts'
import type { IntroPointKeys } from '../../src/registry/descriptor.ts'
import { ClientAuthKey, type AuthorizedClient } from '../../src/registry/client-auth.ts'
import { testnetPeriods } from '../../src/registry/time.ts'

// hex, vector loading and the seeded test Rng are the onion tests' (one copy)
import { seededRng } from '../onion/helpers.ts'
export { hex, toHex, loadVectors, seededRng } from '../onion/helpers.ts'

/** A one-minute testnet period: tests cross boundaries by moving a number. */
export const PERIODS = testnetPeriods(3600)
/** A time well inside period 480,000 of PERIODS (so "now" is mid-period). */
export const T0 = (480_000 * 3600 + 1800) * 1000

const identities = new Map<string, ProviderIdentity>()
/** Cached provider identities (ML-DSA keygen costs a few ms). */
export function provider (label: string): ProviderIdentity {
  let id = identities.get(label)
  if (id === undefined) { id = ProviderIdentity.generate(seededRng(`provider/${label}`)); identities.set(label, id) }
  return id
}

/** Fresh introduction-point keys (relay id bytes are a fake multihash). */
export function introKeys (rng: Rng, n: number): IntroPointKeys[] {
  const out: IntroPointKeys[] = []
  for (let i = 0; i < n; i++) {
    out.push({
      relay: Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...rng(32)),
      linkSpecifiers: [Uint8Array.of(4, 127, 0, 0, 1, 6, 0x1f, 0x90)],
      authKey: ExpandedEd25519Key.fromSeed(rng(32)).publicKey,
      encX25519: x25519.publicKey(rng(32)),
      encMlKem: mlkem768Keygen(rng(64)).encapsulationKey
    })
  }
  return out
}

/** A client authorisation key pair: what the provider lists, and what the client keeps. */
export function authClient (rng: Rng): { listed: AuthorizedClient, key: ClientAuthKey } {
  const xs = rng(32)
  const kem = mlkem768Keygen(rng(64))
  return {
    listed: { x25519: x25519.publicKey(xs), mlkemEncapsulationKey: kem.encapsulationKey },
    key: new ClientAuthKey(xs, kem.decapsulationKey)
  }
}
