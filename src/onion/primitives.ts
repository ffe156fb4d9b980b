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
 * AES runs only in node:crypto (OpenSSL, AES-NI: no key-dependent table
 * lookups): the bulk CTR keystream from one kept ECB context per key
 * ({@link AesEcbKeystream}) and CGO's single-block tweakable cipher from kept ECB
 * contexts too ({@link AesBlockCipher}). Contexts are made from a `KeyObject`
 * (≈2 µs; `createCipheriv` given raw key bytes spends ≈12 µs in its checks).
 *
 * Speed (measured with bench/circuits.ts, see docs/protocol.md §9): SHA3-256,
 * HMAC and HKDF run in node:crypto (OpenSSL; ≈8× @noble/hashes on the 2.5 KB
 * handshake transcript); X25519 keeps node:crypto KeyObjects for secrets and
 * public keys it sees twice (the relay's onion key, an ephemeral y, the
 * client's X); ML-KEM-768 runs in node:crypto when Node has it (OpenSSL ≥ 3.5:
 * keygen from the same 64-byte seed, so results are identical; encapsulation
 * ≈20×, decapsulation ≈10× faster than @noble/post-quantum). OpenSSL cannot
 * take an injected encapsulation seed, so {@link mlkem768EncapsulateWith} uses
 * it only with {@link systemRng} (whose bytes come from the same OpenSSL
 * CSPRNG) and @noble/post-quantum with any other Rng (deterministic tests,
 * known-answer vectors). The @noble versions stay exported for cross-checks.
 */
import * as nodeCrypto from 'node:crypto'
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, createSecretKey, diffieHellman, randomBytes as nodeRandomBytes, timingSafeEqual, type Cipheriv, type Decipheriv, type KeyObject } from 'node:crypto'
import { sha3_256 as nobleSha3 } from '@noble/hashes/sha3.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { extract as hkdfExtractNoble, expand as hkdfExpandNoble } from '@noble/hashes/hkdf.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import * as stablelib from '@stablelib/x25519'
import { OnionCallerError, expectBytes } from './errors.ts'
import { X25519_LEN, MLKEM768_KEYGEN_SEED_LEN, MLKEM768_ENCAPS_SEED_LEN, MLKEM768_EK_LEN, MLKEM768_CT_LEN, MLKEM768_DK_LEN, BLOCK_LEN, HASH_LEN } from './constants.ts'

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

/** A plain Uint8Array copy of a node:crypto output (a Buffer may share a pooled ArrayBuffer). */
function plain (b: Uint8Array): Uint8Array { return new Uint8Array(b) }

/** SHA3-256 of the concatenation of `parts` (node:crypto). */
export function sha3_256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha3-256')
  for (const p of parts) h.update(p)
  return plain(h.digest())
}
export function sha256 (data: Uint8Array): Uint8Array { return plain(createHash('sha256').update(data).digest()) }
/**
 * A node:crypto secret KeyObject for `key`. node:crypto's raw-key path
 * (createCipheriv / createHmac given bytes) costs ≈14 µs per call in its
 * argument checks; through a KeyObject made here the whole call costs ≈3 µs —
 * this is what makes CGO's per-cell key update cheap at the endpoints.
 * An empty key (HKDF's absent salt) stays raw: KeyObjects cannot be empty.
 */
function secretKey (key: Uint8Array): KeyObject | Uint8Array {
  return key.length === 0 ? key : createSecretKey(key)
}

/** HMAC-SHA3-256(key, concatenation of `parts`) (node:crypto). */
export function hmacSha3_256 (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return hmacWith(secretKey(key), parts)
}

function hmacWith (key: KeyObject | Uint8Array, parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha3-256', key)
  for (const p of parts) h.update(p)
  return plain(h.digest())
}
/** HKDF-Extract with SHA3-256 (RFC 5869 §2.2): HMAC(salt, IKM). An empty salt equals HashLen zeros under HMAC's key padding. */
export function hkdfExtractSha3 (salt: Uint8Array, ikm: Uint8Array): Uint8Array { return hmacSha3_256(salt, ikm) }
/** HKDF-Expand with SHA3-256 (RFC 5869 §2.3): T(i) = HMAC(PRK, T(i−1) | info | i). */
export function hkdfExpandSha3 (prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASH_LEN) throw new OnionCallerError('HKDF-Expand length out of range')
  const out = new Uint8Array(length)
  let prev: Uint8Array = new Uint8Array(0)
  const counter = new Uint8Array(1)
  const key = secretKey(prk)
  for (let i = 1, off = 0; off < length; i++, off += HASH_LEN) {
    counter[0] = i
    const t = hmacWith(key, [prev, info, counter])
    out.set(t.subarray(0, Math.min(HASH_LEN, length - off)), off)
    wipe(prev)
    prev = t
  }
  wipe(prev)
  return out
}

/** The portable (@noble/hashes) versions, for cross-checks in tests. */
export const nobleHashes = Object.freeze({
  sha3_256: (data: Uint8Array): Uint8Array => nobleSha3(data),
  sha256: (data: Uint8Array): Uint8Array => nobleSha256(data),
  hmacSha3_256: (key: Uint8Array, data: Uint8Array): Uint8Array => hmac(nobleSha3, key, data),
  hkdfExtractSha3: (salt: Uint8Array, ikm: Uint8Array): Uint8Array => hkdfExtractNoble(nobleSha3, ikm, salt),
  hkdfExpandSha3: (prk: Uint8Array, info: Uint8Array, length: number): Uint8Array => hkdfExpandNoble(nobleSha3, prk, info, length)
})

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
 * A node:crypto AES-ECB context without padding for `key`, made through a
 * KeyObject (≈2 µs; given raw key bytes `createCipheriv` spends ≈12 µs in its
 * checks, and CGO endpoints make contexts on every cell).
 */
function ecbContext (key: KeyObject, bits: 128 | 256, decrypt: false): Cipheriv
function ecbContext (key: KeyObject, bits: 128 | 256, decrypt: true): Decipheriv
function ecbContext (key: KeyObject, bits: 128 | 256, decrypt: boolean): Cipheriv | Decipheriv {
  const c = decrypt ? createDecipheriv(`aes-${bits}-ecb`, key, null) : createCipheriv(`aes-${bits}-ecb`, key, null)
  c.setAutoPadding(false)
  return c
}

/**
 * One kept node:crypto AES-ECB context used to turn counter blocks into CTR
 * keystream: the context is created once per key, not per cell.
 */
export class AesEcbKeystream extends Redacted {
  readonly #cipher: Cipheriv
  constructor (key: Uint8Array) {
    super()
    checkAesKey(key)
    this.#cipher = ecbContext(createSecretKey(key), key.length === 16 ? 128 : 256, false)
  }

  /** Encrypt whole blocks (input length a multiple of 16). */
  encryptBlocks (blocks: Uint8Array): Uint8Array {
    if (blocks.length % BLOCK_LEN !== 0) throw new OnionCallerError('ECB input must be whole blocks')
    return this.#cipher.update(blocks)
  }
}

/**
 * One AES key for single-block operations, as kept node:crypto ECB contexts
 * (AES-NI: no key-dependent table lookups): an encryption context, a decryption
 * context, or both. Setting one up costs ≈2 µs; each block ≈0.7 µs.
 */
export class AesBlockCipher extends Redacted {
  readonly #enc: Cipheriv | undefined
  readonly #dec: Decipheriv | undefined
  constructor (key: Uint8Array, dirs: 'encrypt' | 'decrypt' | 'both') {
    super()
    checkAesKey(key)
    const bits = key.length === 16 ? 128 : 256
    const k = createSecretKey(key)
    if (dirs !== 'decrypt') this.#enc = ecbContext(k, bits, false)
    if (dirs !== 'encrypt') this.#dec = ecbContext(k, bits, true)
  }

  /** Encrypt (or decrypt) one 16-byte block; returns a new 16-byte Buffer (hot path: no checks beyond the direction). */
  block (encrypt: boolean, block: Uint8Array): Uint8Array {
    const c = encrypt ? this.#enc : this.#dec
    if (c === undefined) throw new OnionCallerError(`AES key was set up without ${encrypt ? 'encryption' : 'decryption'}`)
    return c.update(block)
  }
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

/** node:crypto's ML-KEM-768 (OpenSSL ≥ 3.5), typed loosely: @types/node may predate it. */
interface NativeMlKem {
  encapsulate(key: KeyObject): { sharedKey: Buffer, ciphertext: Buffer }
  decapsulate(key: KeyObject, ciphertext: Uint8Array): Buffer
}
let nativeMlKemProbe: NativeMlKem | null | undefined
/** node:crypto's ML-KEM when this Node has it (probed once, on first use), else null. */
export function nativeMlKem (): NativeMlKem | null {
  if (nativeMlKemProbe !== undefined) return nativeMlKemProbe
  nativeMlKemProbe = null
  const enc: unknown = Reflect.get(nodeCrypto, 'encapsulate')
  const dec: unknown = Reflect.get(nodeCrypto, 'decapsulate')
  if (typeof enc !== 'function' || typeof dec !== 'function') return null
  try {
    const n: NativeMlKem = { encapsulate: (k) => Reflect.apply(enc, nodeCrypto, [k]), decapsulate: (k, c) => Reflect.apply(dec, nodeCrypto, [k, c]) }
    // self-test against @noble/post-quantum: same ek from one seed, and each decapsulates the other's ciphertext
    const seed = new Uint8Array(MLKEM768_KEYGEN_SEED_LEN).fill(7)
    const priv = createPrivateKey({ key: Buffer.from(seed), format: 'raw-seed', asymmetricKeyType: 'ml-kem-768' } as never)
    const ek = mlkemRawPublic(priv)
    const ref = ml_kem768.keygen(seed)
    if (!constantTimeEqual(new Uint8Array(ek), ref.publicKey)) return null
    const e = n.encapsulate(createPublicKey(priv))
    if (!constantTimeEqual(ml_kem768.decapsulate(e.ciphertext, ref.secretKey), new Uint8Array(e.sharedKey))) return null
    nativeMlKemProbe = n
  } catch {
    nativeMlKemProbe = null
  }
  return nativeMlKemProbe
}

function mlkemRawPublic (priv: KeyObject): Uint8Array {
  const ek = createPublicKey(priv).export({ format: 'raw-public' } as never)
  if (typeof ek === 'string') throw new OnionCallerError('unexpected ML-KEM key export')
  return ek
}

/** An ML-KEM-768 decapsulation key made from its 64-byte seed: an OpenSSL KeyObject, or noble's expanded key. Prints as [redacted]. */
export class MlKemDecapsulationKey extends Redacted {
  readonly #native: KeyObject | undefined
  #expanded: Uint8Array | undefined
  constructor (native: KeyObject | undefined, expanded: Uint8Array | undefined) {
    super()
    this.#native = native
    this.#expanded = expanded
  }

  /** ML-KEM.Decaps (implicit rejection: never fails on a well-sized ciphertext). */
  decapsulate (ct: Uint8Array): Uint8Array {
    expectBytes(ct, MLKEM768_CT_LEN, 'ML-KEM ciphertext')
    const n = nativeMlKem()
    if (this.#native !== undefined && n !== null) return plain(n.decapsulate(this.#native, ct))
    if (this.#expanded === undefined) throw new OnionCallerError('ML-KEM decapsulation key was wiped')
    return ml_kem768.decapsulate(ct, this.#expanded)
  }

  /** Drop the key (a KeyObject cannot be overwritten; noble's expanded key is zeroed). */
  wipe (): void { this.#expanded?.fill(0); this.#expanded = undefined }
}

/** ML-KEM.KeyGen_internal(d, z) from a 64-byte seed: node:crypto when available (identical output), else noble. */
export function mlkem768KeygenFast (seed: Uint8Array): { encapsulationKey: Uint8Array, decapsulationKey: MlKemDecapsulationKey } {
  expectBytes(seed, MLKEM768_KEYGEN_SEED_LEN, 'ML-KEM keygen seed')
  if (nativeMlKem() !== null) {
    const priv = createPrivateKey({ key: Buffer.from(seed), format: 'raw-seed', asymmetricKeyType: 'ml-kem-768' } as never)
    const ek = mlkemRawPublic(priv)
    return { encapsulationKey: plain(ek), decapsulationKey: new MlKemDecapsulationKey(priv, undefined) }
  }
  const { publicKey, secretKey } = ml_kem768.keygen(seed)
  return { encapsulationKey: publicKey, decapsulationKey: new MlKemDecapsulationKey(undefined, secretKey) }
}

/**
 * ML-KEM.Encaps(ek) with randomness from `rng`: node:crypto when `rng` is
 * {@link systemRng} (OpenSSL draws m from the same CSPRNG), else
 * @noble/post-quantum with m = rng(32), so injected Rngs stay deterministic.
 * Undefined when `ek` fails the FIPS 203 §7.2 modulus check.
 */
export function mlkem768EncapsulateWith (ek: Uint8Array, rng: Rng): { ciphertext: Uint8Array, sharedSecret: Uint8Array } | undefined {
  expectBytes(ek, MLKEM768_EK_LEN, 'ML-KEM encapsulation key')
  const n = nativeMlKem()
  if (rng === systemRng && n !== null) {
    let pub: KeyObject
    try {
      pub = createPublicKey({ key: Buffer.from(ek.buffer, ek.byteOffset, ek.length), format: 'raw-public', asymmetricKeyType: 'ml-kem-768' } as never)
    } catch {
      return undefined // OpenSSL applies the same modulus check on import
    }
    const out = n.encapsulate(pub)
    return { ciphertext: plain(out.ciphertext), sharedSecret: plain(out.sharedKey) }
  }
  const m = rng(MLKEM768_ENCAPS_SEED_LEN)
  expectBytes(m, MLKEM768_ENCAPS_SEED_LEN, 'rng output')
  const out = mlkem768Encapsulate(ek, m)
  wipe(m)
  return out
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

/**
 * KeyObjects for byte arrays seen before: parsing DER into a KeyObject costs
 * about as much as the scalar multiplication itself, and the handshake uses the
 * relay's onion key on every CREATE, the relay's y twice and the client's X twice.
 * Keyed by the array object; the entry is used only while the array still holds
 * the same bytes (a wiped or reused array misses), and dies with the array.
 */
const privateKeys = new WeakMap<Uint8Array, { bytes: Uint8Array, key: KeyObject }>()
const publicKeys = new WeakMap<Uint8Array, { bytes: Uint8Array, key: KeyObject }>()

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let acc = 0
  for (let i = 0; i < a.length; i++) acc |= a[i] ^ b[i]
  return acc === 0
}

function cachedKey (cache: WeakMap<Uint8Array, { bytes: Uint8Array, key: KeyObject }>, raw: Uint8Array, make: () => KeyObject): KeyObject {
  const hit = cache.get(raw)
  if (hit !== undefined && sameBytes(hit.bytes, raw)) return hit.key
  const key = make()
  cache.set(raw, { bytes: raw.slice(), key })
  return key
}

function nodePrivateKey (secret: Uint8Array): KeyObject {
  return cachedKey(privateKeys, secret, () => createPrivateKey({ key: der(X25519_PKCS8_PREFIX, secret), format: 'der', type: 'pkcs8' }))
}

function nodePublicKey (u: Uint8Array): KeyObject {
  return cachedKey(publicKeys, u, () => createPublicKey({ key: der(X25519_SPKI_PREFIX, u), format: 'der', type: 'spki' }))
}

let rawExport: boolean | undefined
/** The 32-byte public key of `pub`: the 'raw-public' export (≈1.7 µs) where Node has it, else the SPKI DER tail (≈20 µs). */
function rawPublicX25519 (pub: KeyObject): Uint8Array {
  if (rawExport !== false) {
    try {
      const raw = pub.export({ format: 'raw-public' } as never)
      if (typeof raw !== 'string' && raw.length === X25519_LEN) { rawExport = true; return plain(raw) }
    } catch { /* older Node: DER below */ }
    rawExport = false
  }
  const spki = pub.export({ format: 'der', type: 'spki' })
  return new Uint8Array(spki.subarray(spki.length - X25519_LEN))
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
    return rawPublicX25519(createPublicKey(nodePrivateKey(secret)))
  },
  scalarMult (secret, u) {
    expectBytes(secret, X25519_LEN, 'X25519 secret')
    expectBytes(u, X25519_LEN, 'X25519 public key')
    const publicKey = nodePublicKey(u)
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
