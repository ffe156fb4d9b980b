/**
 * X25519 (RFC 7748) behind one small interface, with two implementations:
 * node:crypto's built-in (OpenSSL; fast, used by default) and @stablelib/x25519
 * (portable pure JS; fallback and cross-check). Both are checked against
 * RFC 7748 §5.2 and §6.1 in test/onion/x25519.test.ts.
 *
 * Defends against: small-order / low-order public keys — an all-zero shared
 * secret is rejected with {@link HandshakeError} (`zero-shared-secret`) by both
 * implementations, so a peer cannot force a known secret into the handshake.
 * Not here: key storage, clamping policy (RFC 7748 decodeScalar25519 is done by
 * both implementations on every call).
 */
import { HandshakeError, expectBytes } from './errors.ts'
import { nodeRawX25519, stablelibRawX25519, type RawX25519, type Rng } from './primitives.ts'
import { X25519_LEN } from './constants.ts'

/** The X25519 operations the onion layer needs. */
export interface X25519 {
  readonly name: string
  /** X25519(secret, 9): the public key of a 32-byte secret scalar. */
  publicKey (secret: Uint8Array): Uint8Array
  /** X25519(secret, peerPublic); throws HandshakeError('zero-shared-secret') on an all-zero output. */
  sharedSecret (secret: Uint8Array, peerPublic: Uint8Array): Uint8Array
}

/** True when every byte is zero; runs over all bytes regardless of content. */
export function isAllZero (b: Uint8Array): boolean {
  let acc = 0
  for (let i = 0; i < b.length; i++) acc |= b[i]
  return acc === 0
}

/** Wrap raw scalar multiplication with length checks and the all-zero rejection. */
export function checkedX25519 (raw: RawX25519): X25519 {
  return {
    name: raw.name,
    publicKey (secret) {
      expectBytes(secret, X25519_LEN, 'X25519 secret')
      return raw.scalarMultBase(secret)
    },
    sharedSecret (secret, peerPublic) {
      expectBytes(secret, X25519_LEN, 'X25519 secret')
      expectBytes(peerPublic, X25519_LEN, 'X25519 public key')
      const out = raw.scalarMult(secret, peerPublic)
      if (out === undefined || isAllZero(out)) {
        throw new HandshakeError('zero-shared-secret', 'X25519 produced an all-zero shared secret (small-order public key)')
      }
      return out
    }
  }
}

/** node:crypto's X25519 (default). */
export const nodeX25519: X25519 = checkedX25519(nodeRawX25519)
/** @stablelib/x25519 (portable). */
export const stablelibX25519: X25519 = checkedX25519(stablelibRawX25519)
/** The implementation the handshake uses unless told otherwise. */
export const defaultX25519: X25519 = nodeX25519

/** A fresh X25519 key pair from `rng`. */
export function x25519KeyPair (rng: Rng, impl: X25519 = defaultX25519): { secretKey: Uint8Array, publicKey: Uint8Array } {
  const secretKey = rng(X25519_LEN)
  expectBytes(secretKey, X25519_LEN, 'rng output')
  return { secretKey, publicKey: impl.publicKey(secretKey) }
}
