/**
 * The one module that imports cryptographic primitives for the onion layer:
 * @noble/hashes, @noble/ciphers, @noble/post-quantum, @stablelib/x25519 and
 * node:crypto. Everything else in src/onion goes through the narrow functions
 * below, so upgrading or auditing a primitive touches one file, and the
 * known-answer tests in test/onion pin each one (RFC 7748, FIPS 203, RFC 8452,
 * arti's CGO vectors).
 *
 * Defends against: scattered, inconsistent use of crypto libraries; keys from
 * a weak source (randomness only from node:crypto's CSPRNG, or an injected
 * {@link Rng} in tests); secrets printed in logs ({@link Redacted}).
 *
 * Not constant-time: `aesBlockWords` uses @noble/ciphers'
 * table-driven AES (one block per cell, in the CGO tweakable cipher), chosen
 * because creating a node:crypto cipher context costs ≈17 µs and CGO rekeys on
 * every cell at the endpoints. The bulk keystream uses node:crypto (AES-NI).
 * docs/protocol.md discusses the cache-timing exposure.
 */
import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, randomBytes as nodeRandomBytes, timingSafeEqual, type Cipheriv, type KeyObject } from 'node:crypto'
import { sha3_256 as nobleSha3 } from '@noble/hashes/sha3.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { extract as hkdfExtractNoble, expand as hkdfExpandNoble } from '@noble/hashes/hkdf.js'
import { unsafe as aesUnsafe } from '@noble/ciphers/aes.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import * as stablelib from '@stablelib/x25519'
import { OnionCallerError, expectBytes } from './errors.ts'
import { X25519_LEN, MLKEM768_KEYGEN_SEED_LEN, MLKEM768_ENCAPS_SEED_LEN, MLKEM768_EK_LEN, MLKEM768_CT_LEN, MLKEM768_DK_LEN, BLOCK_LEN } from './constants.ts'

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/** Source of random bytes. Production passes {@link systemRng}; tests pass a seeded one. Never Math.random. */
export type Rng = (n: number) => Uint8Array

/** node:crypto's CSPRNG. */
export const systemRng: Rng = (n) => {
  const b = nodeRandomBytes(n)
  return new Uint8Array(b.buffer, b.byteOffset, b.length)
}

// ---------------------------------------------------------------------------
// Redaction of secret-holding objects
// ---------------------------------------------------------------------------

/** Node's util.inspect hook (a registered symbol, so node:util need not be imported). */
export const INSPECT_CUSTOM: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never
export const REDACTED = '[redacted]'

/** Base class for objects holding secrets: console.log, JSON.stringify and String() show "[redacted]". */
export class Redacted {
  toJSON (): string { return REDACTED }
  toString (): string { return REDACTED }
  [INSPECT_CUSTOM] (): string { return REDACTED }
}

// ---------------------------------------------------------------------------
// Hashes, MAC, KDF
// ---------------------------------------------------------------------------

export function sha3_256 (data: Uint8Array): Uint8Array { return nobleSha3(data) }
export function sha256 (data: Uint8Array): Uint8Array { return nobleSha256(data) }
export function hmacSha3_256 (key: Uint8Array, data: Uint8Array): Uint8Array { return hmac(nobleSha3, key, data) }
/** HKDF-Extract with SHA3-256 (RFC 5869 §2.2). */
export function hkdfExtractSha3 (salt: Uint8Array, ikm: Uint8Array): Uint8Array { return hkdfExtractNoble(nobleSha3, ikm, salt) }
/** HKDF-Expand with SHA3-256 (RFC 5869 §2.3). */
export function hkdfExpandSha3 (prk: Uint8Array, info: Uint8Array, length: number): Uint8Array { return hkdfExpandNoble(nobleSha3, prk, info, length) }

/** Constant-time equality; false (not an exception) on length mismatch. */
export function constantTimeEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return timingSafeEqual(a, b)
}

/** Overwrite a secret buffer (best effort: JS may have copies). */
export function wipe (b: Uint8Array): void { b.fill(0) }

// ---------------------------------------------------------------------------
// AES
// ---------------------------------------------------------------------------

function checkAesKey (key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || (key.length !== 16 && key.length !== 32)) {
    throw new OnionCallerError('AES key must be 16 or 32 bytes')
  }
}

/**
 * One kept node:crypto AES-ECB context (no padding) used to turn counter blocks
 * into CTR keystream: the context is created once per key, not per cell.
 */
export class AesEcbKeystream extends Redacted {
  readonly #cipher: Cipheriv
  constructor (key: Uint8Array) {
    super()
    checkAesKey(key)
    this.#cipher = createCipheriv(key.length === 16 ? 'aes-128-ecb' : 'aes-256-ecb', key, null)
    this.#cipher.setAutoPadding(false)
  }

  /** Encrypt whole blocks (input length a multiple of 16). */
  encryptBlocks (blocks: Uint8Array): Uint8Array {
    if (blocks.length % BLOCK_LEN !== 0) throw new OnionCallerError('ECB input must be whole blocks')
    return this.#cipher.update(blocks)
  }
}

/** Expanded AES key for single-block operations (table-driven JS AES from @noble/ciphers). */
export interface AesBlockKey { readonly enc: Uint32Array, readonly dec: Uint32Array | undefined }

/** Expand `key` for block encryption, and for decryption too when `withDecrypt`. */
export function aesExpandKey (key: Uint8Array, withDecrypt: boolean): AesBlockKey {
  checkAesKey(key)
  return { enc: aesUnsafe.expandKeyLE(key), dec: withDecrypt ? aesUnsafe.expandKeyDecLE(key) : undefined }
}

/** Encrypt (or decrypt) one block given as four little-endian words, in place in `w` (hot path: no views, no checks). */
export function aesBlockWords (k: AesBlockKey, encrypt: boolean, w: Uint32Array): void {
  const xk = encrypt ? k.enc : k.dec
  if (xk === undefined) throw new OnionCallerError('AES key was expanded without decryption')
  const r = encrypt ? aesUnsafe.encrypt(xk, w[0], w[1], w[2], w[3]) : aesUnsafe.decrypt(xk, w[0], w[1], w[2], w[3])
  w[0] = r.s0; w[1] = r.s1; w[2] = r.s2; w[3] = r.s3
}

/** Wipe an expanded key. */
export function aesWipeKey (k: AesBlockKey): void {
  k.enc.fill(0)
  k.dec?.fill(0)
}

// ---------------------------------------------------------------------------
// ML-KEM-768 (FIPS 203) — @noble/post-quantum
// ---------------------------------------------------------------------------

export interface MlKemKeyPair { encapsulationKey: Uint8Array, decapsulationKey: Uint8Array }

/** ML-KEM.KeyGen_internal(d, z) from a 64-byte seed d || z. */
export function mlkem768Keygen (seed: Uint8Array): MlKemKeyPair {
  expectBytes(seed, MLKEM768_KEYGEN_SEED_LEN, 'ML-KEM keygen seed')
  const { publicKey, secretKey } = ml_kem768.keygen(seed)
  return { encapsulationKey: publicKey, decapsulationKey: secretKey }
}

/**
 * ML-KEM.Encaps_internal(ek, m). Returns undefined when `ek` fails the FIPS 203
 * §7.2 encapsulation-key (modulus) check, so the caller can report the peer.
 */
export function mlkem768Encapsulate (ek: Uint8Array, m: Uint8Array): { ciphertext: Uint8Array, sharedSecret: Uint8Array } | undefined {
  expectBytes(ek, MLKEM768_EK_LEN, 'ML-KEM encapsulation key')
  expectBytes(m, MLKEM768_ENCAPS_SEED_LEN, 'ML-KEM encapsulation seed')
  let out: { cipherText: Uint8Array, sharedSecret: Uint8Array }
  try {
    out = ml_kem768.encapsulate(ek, m)
  } catch {
    return undefined
  }
  return { ciphertext: out.cipherText, sharedSecret: out.sharedSecret }
}

/** ML-KEM.Decaps(dk, c): never fails on a well-sized ciphertext (implicit rejection). */
export function mlkem768Decapsulate (ct: Uint8Array, dk: Uint8Array): Uint8Array {
  expectBytes(ct, MLKEM768_CT_LEN, 'ML-KEM ciphertext')
  expectBytes(dk, MLKEM768_DK_LEN, 'ML-KEM decapsulation key')
  return ml_kem768.decapsulate(ct, dk)
}

// ---------------------------------------------------------------------------
// X25519 raw scalar multiplication (the checked interface is in x25519.ts)
// ---------------------------------------------------------------------------

/** DER prefixes for raw X25519 keys (RFC 8410): PKCS#8 private key and SubjectPublicKeyInfo. */
const X25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
const X25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])

function der (prefix: Uint8Array, raw: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + raw.length)
  out.set(prefix, 0)
  out.set(raw, prefix.length)
  return out
}

function nodePrivateKey (secret: Uint8Array): KeyObject {
  return createPrivateKey({ key: der(X25519_PKCS8_PREFIX, secret), format: 'der', type: 'pkcs8' })
}

/** Raw X25519 functions; `undefined` result means the output was rejected (all-zero). */
export interface RawX25519 {
  readonly name: string
  scalarMultBase (secret: Uint8Array): Uint8Array
  /** X25519(secret, u); undefined when the result is all zero (OpenSSL refuses it). */
  scalarMult (secret: Uint8Array, u: Uint8Array): Uint8Array | undefined
}

/** node:crypto (OpenSSL) X25519: ≈18× faster than the portable one here. */
export const nodeRawX25519: RawX25519 = {
  name: 'node:crypto',
  scalarMultBase (secret) {
    expectBytes(secret, X25519_LEN, 'X25519 secret')
    const spki = createPublicKey(nodePrivateKey(secret)).export({ format: 'der', type: 'spki' })
    return new Uint8Array(spki.subarray(spki.length - X25519_LEN))
  },
  scalarMult (secret, u) {
    expectBytes(secret, X25519_LEN, 'X25519 secret')
    expectBytes(u, X25519_LEN, 'X25519 public key')
    const publicKey = createPublicKey({ key: der(X25519_SPKI_PREFIX, u), format: 'der', type: 'spki' })
    try {
      const out = diffieHellman({ privateKey: nodePrivateKey(secret), publicKey })
      return new Uint8Array(out.buffer, out.byteOffset, out.length)
    } catch {
      // OpenSSL fails X25519 derivation only for an all-zero result (small-order u).
      return undefined
    }
  }
}

/** @stablelib/x25519: portable pure-JS fallback and cross-check. */
export const stablelibRawX25519: RawX25519 = {
  name: '@stablelib/x25519',
  scalarMultBase (secret) {
    expectBytes(secret, X25519_LEN, 'X25519 secret')
    return stablelib.scalarMultBase(secret)
  },
  scalarMult (secret, u) {
    expectBytes(secret, X25519_LEN, 'X25519 secret')
    expectBytes(u, X25519_LEN, 'X25519 public key')
    return stablelib.scalarMult(secret, u)
  }
}
