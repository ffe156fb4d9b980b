/**
 * The registry's primitives: the one module in src/registry that imports @noble/* and
 * node:crypto. Everything it can take from src/onion/primitives.ts (SHA3-256, SHA-256,
 * ML-KEM-768, X25519, the system Rng, redaction) it re-exports from there; it adds only
 * what the onion layer does not need:
 *
 * - Ed25519 group arithmetic (@noble/curves) — key blinding multiplies points and
 *   scalars by the blinding factor, and signing with a blinded scalar needs an
 *   expanded-key signer, which neither node:crypto nor @libp2p/crypto offers;
 * - SHA-512 (expanded-key signing, the blinded hash prefix), SHAKE-256 (the rend-spec-v3
 *   §2.5 KDF) — @noble/hashes;
 * - ML-DSA-65 (FIPS 204) — @noble/post-quantum: descriptor and catalogue signatures;
 * - AES-256-CTR and Ed25519 verification — node:crypto (OpenSSL: fast, RFC 8032 checks).
 *
 * Defends against: scattered use of crypto libraries; signing with an unreduced or
 * torsion-carrying key (points are checked on decode); secrets printed in logs
 * ({@link ExpandedEd25519Key} and {@link MlDsaKeyPair} are {@link Redacted}).
 * Not constant-time: the expanded-key signer uses @noble/curves' point multiplication,
 * which is constant-time for the base point but uses JS bigints for scalar arithmetic
 * (as noble's own signer does). Blinded signing happens a few times per period.
 */
import { createCipheriv, createDecipheriv, createPublicKey, verify as nodeVerify } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { sha512 as nobleSha512 } from '@noble/hashes/sha2.js'
import { shake256 as nobleShake256 } from '@noble/hashes/sha3.js'
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js'
import { Redacted, type Rng } from '../onion/primitives.ts'
import { RegistryCallerError, expectLen } from './errors.ts'
import {
  ED25519_EXPANDED_LEN, ED25519_PUBLIC_LEN, ED25519_SEED_LEN, ED25519_SIGNATURE_LEN, LAYER_IV_LEN, LAYER_KEY_LEN,
  MLDSA65_PUBLIC_LEN, MLDSA65_SEED_LEN, MLDSA65_SIGNATURE_LEN
} from './constants.ts'

export {
  sha3_256, sha256, hmacSha3_256, hkdfExtractSha3, hkdfExpandSha3, mlkem768KeygenFast, mlkem768EncapsulateWith, MlKemDecapsulationKey, constantTimeEqual, systemRng, Redacted, mlkem768Keygen, mlkem768Encapsulate,
  mlkem768Decapsulate, type Rng, type MlKemKeyPair
} from '../onion/primitives.ts'
export { nodeX25519 as x25519 } from '../onion/x25519.ts'

const utf8 = new TextEncoder()
/** UTF-8 bytes of a string. */
export function bytesOf (s: string): Uint8Array { return utf8.encode(s) }

/** Concatenate byte strings. */
export function concat (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** INT_8(n): 8-byte big-endian unsigned (rend-spec-v3 notation). */
export function int8 (n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryCallerError('INT_8 out of range')
  const out = new Uint8Array(8)
  const hi = Math.floor(n / 0x1_0000_0000)
  const lo = n >>> 0
  out[0] = hi >>> 24; out[1] = (hi >>> 16) & 0xff; out[2] = (hi >>> 8) & 0xff; out[3] = hi & 0xff
  out[4] = lo >>> 24; out[5] = (lo >>> 16) & 0xff; out[6] = (lo >>> 8) & 0xff; out[7] = lo & 0xff
  return out
}

export function sha512 (data: Uint8Array): Uint8Array { return nobleSha512(data) }
/** SHAKE-256 with `len` bytes of output. */
export function shake256 (data: Uint8Array, len: number): Uint8Array { return nobleShake256(data, { dkLen: len }) }

// ---------------------------------------------------------------------------
// AES-256-CTR (node:crypto)
// ---------------------------------------------------------------------------

/** AES-256-CTR keystream XOR, with a 16-byte big-endian initial counter block `iv`. */
export function aes256Ctr (key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  expectLen(key, LAYER_KEY_LEN, 'AES-256 key')
  expectLen(iv, LAYER_IV_LEN, 'AES-CTR IV')
  const c = createCipheriv('aes-256-ctr', key, iv)
  const a = c.update(data)
  const b = c.final()
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0); out.set(b, a.length)
  return out
}

// ---------------------------------------------------------------------------
// Ed25519 group arithmetic (@noble/curves)
// ---------------------------------------------------------------------------

const Point = ed25519.Point
/** ℓ, the prime order of the Ed25519 base point. */
export const ED25519_ORDER: bigint = Point.Fn.ORDER

function leToBigint (b: Uint8Array): bigint {
  let v = 0n
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i])
  return v
}

function bigintToLe (v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len)
  let x = v
  for (let i = 0; i < len; i++) { out[i] = Number(x & 0xffn); x >>= 8n }
  return out
}

/** Reduce a little-endian byte string mod ℓ. */
export function scalarFromBytesModOrder (b: Uint8Array): bigint { return leToBigint(b) % ED25519_ORDER }
export function scalarToBytes (s: bigint): Uint8Array { return bigintToLe(s, 32) }

/** RFC 8032 / RFC 7748 clamping of 32 bytes: clear bits 0–2 and 255, set bit 254. */
export function clamp (h: Uint8Array): Uint8Array {
  expectLen(h, 32, 'clamp input')
  const out = h.slice()
  out[0] &= 248
  out[31] &= 127
  out[31] |= 64
  return out
}

/**
 * Decode an Ed25519 public key and check it: a canonical encoding of a curve point
 * that is neither of small order nor carries a torsion component (so that blinding,
 * which reduces the factor mod ℓ, is the same map everywhere). Undefined otherwise.
 */
export function decodePoint (bytes: Uint8Array): InstanceType<typeof Point> | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ED25519_PUBLIC_LEN) return undefined
  try {
    const p = Point.fromBytes(bytes, false)
    if (p.is0() || p.isSmallOrder() || !p.isTorsionFree()) return undefined
    return p
  } catch {
    return undefined
  }
}

/** True when `bytes` is a valid, prime-order Ed25519 public key. */
export function isValidPublicKey (bytes: Uint8Array): boolean { return decodePoint(bytes) !== undefined }

/** s·P for a checked point P and scalar s mod ℓ (s ≠ 0). */
export function pointMul (pointBytes: Uint8Array, s: bigint): Uint8Array | undefined {
  const p = decodePoint(pointBytes)
  const k = s % ED25519_ORDER
  if (p === undefined || k === 0n) return undefined
  return p.multiply(k).toBytes()
}

/** s·B. */
export function baseMul (s: bigint): Uint8Array {
  const k = s % ED25519_ORDER
  if (k === 0n) throw new RegistryCallerError('zero scalar')
  return Point.BASE.multiply(k).toBytes()
}

/**
 * An expanded Ed25519 secret key: the scalar a (reduced mod ℓ) and the 32-byte hash
 * prefix used to derive signing nonces — the form arti and C tor store blinded keys in.
 * Signs per RFC 8032 §5.1.6 steps 2–6 (the hash of the seed is skipped: a blinded key has
 * no seed); signatures verify with any standard Ed25519 verifier under `publicKey`.
 */
export class ExpandedEd25519Key extends Redacted {
  readonly #scalar: bigint
  readonly #prefix: Uint8Array
  readonly publicKey: Uint8Array

  constructor (scalar: bigint, prefix: Uint8Array) {
    super()
    expectLen(prefix, 32, 'hash prefix')
    const s = scalar % ED25519_ORDER
    if (s === 0n) throw new RegistryCallerError('zero secret scalar')
    this.#scalar = s
    this.#prefix = prefix.slice()
    this.publicKey = baseMul(s)
  }

  /** From a 32-byte RFC 8032 seed: SHA-512(seed) = clamp(a) || prefix. */
  static fromSeed (seed: Uint8Array): ExpandedEd25519Key {
    expectLen(seed, ED25519_SEED_LEN, 'Ed25519 seed')
    const h = sha512(seed)
    return new ExpandedEd25519Key(scalarFromBytesModOrder(clamp(h.subarray(0, 32))), h.slice(32, 64))
  }

  /** From 64 bytes scalar (little-endian, any representative) || prefix. */
  static fromBytes (b: Uint8Array): ExpandedEd25519Key {
    expectLen(b, ED25519_EXPANDED_LEN, 'expanded Ed25519 key')
    return new ExpandedEd25519Key(scalarFromBytesModOrder(b.subarray(0, 32)), b.slice(32, 64))
  }

  /** Scalar (reduced, little-endian) || prefix: arti's `to_secret_key_bytes`. */
  toBytes (): Uint8Array { return concat(scalarToBytes(this.#scalar), this.#prefix) }

  /** The secret scalar, for blinding only. */
  scalar (): bigint { return this.#scalar }
  prefix (): Uint8Array { return this.#prefix.slice() }

  /** RFC 8032 Ed25519 signature with this expanded key. */
  sign (message: Uint8Array): Uint8Array {
    const r = scalarFromBytesModOrder(sha512(concat(this.#prefix, message)))
    const R = (r === 0n ? Point.ZERO : Point.BASE.multiply(r)).toBytes()
    const k = scalarFromBytesModOrder(sha512(concat(R, this.publicKey, message)))
    const S = (r + k * this.#scalar) % ED25519_ORDER
    return concat(R, scalarToBytes(S))
  }
}

const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

/** Standard Ed25519 verification (OpenSSL, RFC 8032: canonical S, point checks). Never throws. */
export function ed25519Verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LEN) return false
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_LEN) return false
  try {
    const key = createPublicKey({ key: Buffer.from(concat(ED25519_SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' })
    return nodeVerify(null, message, key, signature)
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------
// ML-DSA-65 (FIPS 204) — @noble/post-quantum
// ---------------------------------------------------------------------------

/** An ML-DSA-65 key pair; printing it shows "[redacted]". */
export class MlDsaKeyPair extends Redacted {
  readonly publicKey: Uint8Array
  readonly #secretKey: Uint8Array
  constructor (publicKey: Uint8Array, secretKey: Uint8Array) {
    super()
    this.publicKey = publicKey
    this.#secretKey = secretKey
  }

  /** ML-DSA.KeyGen_internal from a 32-byte seed ξ. */
  static fromSeed (seed: Uint8Array): MlDsaKeyPair {
    expectLen(seed, MLDSA65_SEED_LEN, 'ML-DSA seed')
    const { publicKey, secretKey } = ml_dsa65.keygen(seed)
    return new MlDsaKeyPair(publicKey, secretKey)
  }

  /** Hedged ML-DSA signature (FIPS 204 §3.4) with context `context`; randomness from `rng`. */
  sign (message: Uint8Array, context: string, rng: Rng): Uint8Array {
    return ml_dsa65.sign(message, this.#secretKey, { context: bytesOf(context), extraEntropy: rng(32) })
  }
}

/** ML-DSA-65 verification; false (never an exception) on any malformed input. */
export function mldsaVerify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, context: string): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== MLDSA65_SIGNATURE_LEN) return false
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== MLDSA65_PUBLIC_LEN) return false
  try {
    return ml_dsa65.verify(signature, message, publicKey, { context: bytesOf(context) })
  } catch {
    return false
  }
}

/**
 * ChaCha20-Poly1305 (RFC 8439) from node:crypto: the AEAD of introductions and of the
 * rendezvous channel. 32-byte key, 12-byte nonce (callers use a counter: never reuse one
 * under a key), 16-byte tag appended. `aeadOpen` returns undefined on any forgery.
 */
export function aeadSeal (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  c.setAAD(ad, { plaintextLength: plaintext.length })
  const body = c.update(plaintext)
  c.final()
  return concat(body, c.getAuthTag())
}

export function aeadOpen (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < 16) return undefined
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
  d.setAAD(ad, { plaintextLength: sealed.length - 16 })
  d.setAuthTag(sealed.subarray(sealed.length - 16))
  const body = d.update(sealed.subarray(0, sealed.length - 16))
  try { d.final() } catch { return undefined }
  return new Uint8Array(body.buffer, body.byteOffset, body.length).slice()
}
