/**
 * Key blinding, rend-spec-v3 appendix A.2, and the subcredential of §2.1.
 *
 *   h   = SHA3-256(BLIND_STRING | A | s | B | N)      (s: the optional secret, empty here)
 *   N   = "key-blind" | INT_8(period_num) | INT_8(period_length)
 *   A'  = clamp(h)·A                  (clamp(h) reduced mod ℓ, as arti and C tor)
 *   a'  = clamp(h)·a mod ℓ
 *   RH' = SHA-512("Derive temporary signing key hash input" | RH)[0..32]
 *
 *   credential    = SHA3-256("credential" | A)
 *   subcredential = SHA3-256("subcredential" | credential | A')
 *
 * Given A and the period, anyone derives A'; without A, A' cannot be tied to A (or to
 * the same provider's A' of another period); without a, nobody signs for A'.
 * Reproduces arti's and C tor's vectors exactly (test/registry/blinding.test.ts).
 *
 * The keyword index blinds the same way with N = "veil-kw-blind" | INT_8(len(kw)) | kw |
 * INT_8(period_num) | INT_8(period_length): one publisher key per (provider, keyword,
 * period) that only someone who knows the address can attribute.
 */
import { BLIND_STRING, BLINDED_PREFIX_STRING, ED25519_BASEPOINT_STRING, ED25519_PUBLIC_LEN, KEY_BLIND_NONCE_PREFIX, KEYWORD_BLIND_NONCE_PREFIX, SHA3_256_LEN } from './constants.ts'
import { RegistryCallerError, expectLen } from './errors.ts'
import { ExpandedEd25519Key, bytesOf, clamp, concat, int8, pointMul, scalarFromBytesModOrder, sha3_256, sha512 } from './primitives.ts'
import { observeSecret, secretsObserved } from '../overlay/secret-observer.ts'

const BLIND = bytesOf(BLIND_STRING)
const BASEPOINT = bytesOf(ED25519_BASEPOINT_STRING)
const KEY_BLIND = bytesOf(KEY_BLIND_NONCE_PREFIX)
const KW_BLIND = bytesOf(KEYWORD_BLIND_NONCE_PREFIX)
const RH_BLIND = bytesOf(BLINDED_PREFIX_STRING)

function factorFrom (A: Uint8Array, nonce: Uint8Array): Uint8Array {
  expectLen(A, ED25519_PUBLIC_LEN, 'identity key A')
  return sha3_256(concat(BLIND, A, BASEPOINT, nonce))
}

/** h for period `periodNum` of length `periodLength` (Veil: seconds; Tor: minutes), before clamping. */
export function blindingFactor (A: Uint8Array, periodNum: number, periodLength: number): Uint8Array {
  return factorFrom(A, concat(KEY_BLIND, int8(periodNum), int8(periodLength)))
}

/** h for a keyword-index entry (keyword already normalised). */
export function keywordBlindingFactor (A: Uint8Array, keyword: string, periodNum: number, periodLength: number): Uint8Array {
  const kw = bytesOf(keyword)
  return factorFrom(A, concat(KW_BLIND, int8(kw.length), kw, int8(periodNum), int8(periodLength)))
}

function factorScalar (h: Uint8Array): bigint {
  expectLen(h, SHA3_256_LEN, 'blinding factor')
  return scalarFromBytesModOrder(clamp(h))
}

/** A' = clamp(h)·A; undefined when A is not a valid prime-order point. */
export function blindPublicKey (A: Uint8Array, h: Uint8Array): Uint8Array | undefined {
  return pointMul(A, factorScalar(h))
}

/** The blinded expanded key (a', RH'); its public key equals blindPublicKey(A, h). Reported to the test-only secret hook as 'blinded'. */
export function blindExpandedKey (key: ExpandedEd25519Key, h: Uint8Array): ExpandedEd25519Key {
  const scalar = key.scalar() * factorScalar(h)
  const prefix = sha512(concat(RH_BLIND, key.prefix())).slice(0, 32)
  const blinded = new ExpandedEd25519Key(scalar, prefix)
  if (secretsObserved()) observeSecret('blinded', blinded.toBytes())
  return blinded
}

/** credential = SHA3-256("credential" | A). */
export function credential (A: Uint8Array): Uint8Array {
  expectLen(A, ED25519_PUBLIC_LEN, 'identity key A')
  return sha3_256(concat(bytesOf('credential'), A))
}

/** subcredential = SHA3-256("subcredential" | credential(A) | A'). */
export function subcredential (A: Uint8Array, blindedKey: Uint8Array): Uint8Array {
  expectLen(blindedKey, ED25519_PUBLIC_LEN, 'blinded key')
  return sha3_256(concat(bytesOf('subcredential'), credential(A), blindedKey))
}

/** A'_p for a Veil period; throws a caller error for an invalid A (addresses are checked on parse). */
export function blindedKeyForPeriod (A: Uint8Array, periodNum: number, periodLength: number): Uint8Array {
  const out = blindPublicKey(A, blindingFactor(A, periodNum, periodLength))
  if (out === undefined) throw new RegistryCallerError('identity key is not a valid Ed25519 point')
  return out
}
