/**
 * Provider identity and address.
 *
 * A provider holds a long-term Ed25519 key A (as an expanded key, so it can be blinded)
 * and an ML-DSA-65 key. Its address binds both:
 *
 *   binary  = VERSION (1) | A (32) | SHA3-256(ML-DSA public key) (32) | CHECKSUM (2)
 *   CHECKSUM = SHA3-256(".veil checksum" | A | SHA3-256(pk_mldsa) | VERSION)[0..2]
 *   address = lowercase RFC 4648 base32 of binary, no padding (108 characters)
 *
 * like a Tor v3 .onion address (rend-spec-v3 §6), with the version first and the
 * post-quantum key's full hash inside: A is needed to derive blinded keys; the hash
 * lets a client check the ML-DSA key a descriptor carries.
 *
 * `parseAddress` accepts any letter case and throws only {@link InvalidAddressError}
 * with reason malformed | non-canonical | version | checksum | bad-key.
 */
import { base32Decode, base32Encode } from './base32.ts'
import {
  ADDRESS_BINARY_LEN, ADDRESS_CHECKSUM_CONTEXT, ADDRESS_CHECKSUM_LEN, ADDRESS_TEXT_LEN, ADDRESS_VERSION, ED25519_PUBLIC_LEN,
  ED25519_SEED_LEN, MLDSA65_SEED_LEN, SHA3_256_LEN
} from './constants.ts'
import { InvalidAddressError, expectLen } from './errors.ts'
import { ExpandedEd25519Key, MlDsaKeyPair, Redacted, bytesOf, concat, constantTimeEqual, isValidPublicKey, sha3_256, type Rng } from './primitives.ts'
import { observeSecret, secretsObserved } from '../overlay/secret-observer.ts'

/** A parsed, checked provider address. */
export interface ProviderAddress {
  /** The canonical (lowercase) text form. */
  readonly text: string
  readonly version: number
  /** The provider's long-term Ed25519 key A. */
  readonly identityKey: Uint8Array
  /** SHA3-256 of the provider's ML-DSA-65 public key. */
  readonly pqKeyHash: Uint8Array
}

function checksum (A: Uint8Array, pqKeyHash: Uint8Array, version: number): Uint8Array {
  return sha3_256(concat(bytesOf(ADDRESS_CHECKSUM_CONTEXT), A, pqKeyHash, Uint8Array.of(version))).slice(0, ADDRESS_CHECKSUM_LEN)
}

/** The address of (A, ML-DSA public key hash). */
export function encodeAddress (A: Uint8Array, pqKeyHash: Uint8Array): string {
  expectLen(A, ED25519_PUBLIC_LEN, 'identity key A')
  expectLen(pqKeyHash, SHA3_256_LEN, 'ML-DSA key hash')
  return base32Encode(concat(Uint8Array.of(ADDRESS_VERSION), A, pqKeyHash, checksum(A, pqKeyHash, ADDRESS_VERSION)))
}

/** Parse and check an address (any letter case). */
export function parseAddress (text: string): ProviderAddress {
  if (typeof text !== 'string') throw new InvalidAddressError('malformed', 'address: not a string')
  if (text.length !== ADDRESS_TEXT_LEN) throw new InvalidAddressError('malformed', `address: expected ${ADDRESS_TEXT_LEN} characters`)
  const lower = text.toLowerCase()
  const bin = base32Decode(lower)
  if (bin.length !== ADDRESS_BINARY_LEN) throw new InvalidAddressError('malformed', 'address: wrong decoded length')
  const version = bin[0]
  // version before checksum: a future version may compute its checksum differently (as arti)
  if (version !== ADDRESS_VERSION) throw new InvalidAddressError('version', `address: unsupported version ${version}`)
  const A = bin.slice(1, 1 + ED25519_PUBLIC_LEN)
  const pqKeyHash = bin.slice(1 + ED25519_PUBLIC_LEN, 1 + ED25519_PUBLIC_LEN + SHA3_256_LEN)
  const sum = bin.slice(1 + ED25519_PUBLIC_LEN + SHA3_256_LEN)
  if (!constantTimeEqual(sum, checksum(A, pqKeyHash, version))) throw new InvalidAddressError('checksum', 'address: checksum mismatch (mistyped?)')
  if (!isValidPublicKey(A)) throw new InvalidAddressError('bad-key', 'address: identity key is not a valid prime-order Ed25519 point')
  return { text: lower, version, identityKey: A, pqKeyHash }
}

/** A provider's long-term keys. Printing it shows "[redacted]". */
export class ProviderIdentity extends Redacted {
  readonly ed25519: ExpandedEd25519Key
  readonly mldsa: MlDsaKeyPair
  readonly address: ProviderAddress

  constructor (ed: ExpandedEd25519Key, mldsa: MlDsaKeyPair) {
    super()
    this.ed25519 = ed
    this.mldsa = mldsa
    const text = encodeAddress(ed.publicKey, sha3_256(mldsa.publicKey))
    this.address = parseAddress(text)
  }

  /** A fresh identity from `rng` (32 bytes for Ed25519, 32 for ML-DSA). */
  static generate (rng: Rng): ProviderIdentity {
    const edSeed = rng(ED25519_SEED_LEN)
    const pqSeed = rng(MLDSA65_SEED_LEN)
    return ProviderIdentity.fromSeeds(edSeed, pqSeed)
  }

  static fromSeeds (edSeed: Uint8Array, pqSeed: Uint8Array): ProviderIdentity {
    const ed = ExpandedEd25519Key.fromSeed(edSeed)
    // test-only secret hook: the seeds and the expanded signing key
    observeSecret('provider-identity', edSeed)
    observeSecret('provider-identity', pqSeed)
    if (secretsObserved()) observeSecret('provider-identity', ed.toBytes())
    return new ProviderIdentity(ed, MlDsaKeyPair.fromSeed(pqSeed))
  }

  get identityKey (): Uint8Array { return this.ed25519.publicKey }
}
