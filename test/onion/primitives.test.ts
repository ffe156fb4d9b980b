/**
 * The fast paths in primitives.ts against the portable references they
 * replaced: node:crypto SHA3-256 / HMAC / HKDF against @noble/hashes (RFC 5869
 * structure, every output length used), node:crypto ML-KEM-768 against
 * @noble/post-quantum (same keys from one seed; each decapsulates the other's
 * ciphertexts; the modulus check), and the X25519 KeyObject cache (a reused or
 * wiped array never returns a stale key).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import {
  hkdfExpandSha3, hkdfExtractSha3, hmacSha3_256, mlkem768Encapsulate, mlkem768EncapsulateWith, mlkem768Keygen, mlkem768KeygenFast, nativeMlKem, nobleHashes,
  sha256, sha3_256, systemRng, wipe
} from '../../src/onion/primitives.ts'
import { nodeX25519, stablelibX25519 } from '../../src/onion/x25519.ts'
import { MLKEM768_EK_LEN, SESSION_KEY_MATERIAL_LEN } from '../../src/onion/constants.ts'
import { seededRng, toHex, hex, loadVectors } from './helpers.ts'

describe('hashes: node:crypto equals @noble/hashes', () => {
  it('SHA3-256, SHA-256, HMAC-SHA3-256, HKDF extract/expand on random inputs', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 8 * 32 }), (data, key, info, len) => {
      expect(toHex(sha3_256(data))).toBe(toHex(nobleHashes.sha3_256(data)))
      expect(toHex(sha256(data))).toBe(toHex(nobleHashes.sha256(data)))
      expect(toHex(hmacSha3_256(key, data))).toBe(toHex(nobleHashes.hmacSha3_256(key, data)))
      expect(toHex(hkdfExtractSha3(key, data))).toBe(toHex(nobleHashes.hkdfExtractSha3(key, data)))
      const prk = hkdfExtractSha3(key, data)
      expect(toHex(hkdfExpandSha3(prk, info, len))).toBe(toHex(nobleHashes.hkdfExpandSha3(prk, info, len)))
    }), { numRuns: 200 })
    // multi-part forms hash the concatenation
    const a = seededRng('parts')(100); const b = seededRng('parts2')(50)
    const ab = new Uint8Array([...a, ...b])
    expect(toHex(sha3_256(a, b))).toBe(toHex(nobleHashes.sha3_256(ab)))
    expect(toHex(hmacSha3_256(b, a, b))).toBe(toHex(nobleHashes.hmacSha3_256(b, new Uint8Array([...a, ...b]))))
    expect(hkdfExpandSha3(hkdfExtractSha3(new Uint8Array(0), a), b, SESSION_KEY_MATERIAL_LEN).length).toBe(SESSION_KEY_MATERIAL_LEN)
  })
})

describe('ML-KEM-768: node:crypto and @noble/post-quantum agree', () => {
  it('this Node has native ML-KEM (OpenSSL ≥ 3.5) and it passed its self-test', () => {
    expect(nativeMlKem()).not.toBeNull()
  })

  it('same encapsulation key from one seed (ACVP keyGen and random seeds); cross decapsulation both ways', () => {
    const acvp = loadVectors<{ vectors: Array<{ d: string, z: string, ek: string }> }>('fips203-mlkem768-acvp-keygen.json').vectors
    for (const t of acvp) expect(toHex(mlkem768KeygenFast(hex(t.d + t.z)).encapsulationKey).toUpperCase()).toBe(t.ek)
    const rng = seededRng('mlkem-cross')
    for (let i = 0; i < 8; i++) {
      const seed = rng(64)
      const fast = mlkem768KeygenFast(seed)
      const ref = mlkem768Keygen(seed)
      expect(toHex(fast.encapsulationKey)).toBe(toHex(ref.encapsulationKey))
      // native encapsulation (systemRng) → noble decapsulation
      const n = mlkem768EncapsulateWith(fast.encapsulationKey, systemRng)!
      expect(toHex(ml_kem768.decapsulate(n.ciphertext, ref.decapsulationKey))).toBe(toHex(n.sharedSecret))
      // deterministic (injected Rng) encapsulation = noble's, and native decapsulation of it
      const m = rng(32)
      const d = mlkem768EncapsulateWith(fast.encapsulationKey, () => m.slice())!
      const r = mlkem768Encapsulate(ref.encapsulationKey, m)!
      expect(toHex(d.ciphertext)).toBe(toHex(r.ciphertext))
      expect(toHex(fast.decapsulationKey.decapsulate(d.ciphertext))).toBe(toHex(r.sharedSecret))
      // implicit rejection agrees too
      const bad = d.ciphertext.slice(); bad[5] ^= 1
      expect(toHex(fast.decapsulationKey.decapsulate(bad))).toBe(toHex(ml_kem768.decapsulate(bad, ref.decapsulationKey)))
    }
  })

  it('an encapsulation key failing the FIPS 203 modulus check is refused on both paths', () => {
    const bad = new Uint8Array(MLKEM768_EK_LEN).fill(0xff)
    expect(mlkem768EncapsulateWith(bad, systemRng)).toBeUndefined()
    expect(mlkem768EncapsulateWith(bad, seededRng('x'))).toBeUndefined()
  })
})

describe('X25519 KeyObject cache', () => {
  it('a cached array that changes, or is wiped, is re-read; results equal @stablelib/x25519', () => {
    const rng = seededRng('x25519-cache')
    const secret = rng(32)
    const peer = stablelibX25519.publicKey(rng(32))
    const first = nodeX25519.sharedSecret(secret, peer)
    expect(toHex(nodeX25519.sharedSecret(secret, peer))).toBe(toHex(first)) // cache hit
    secret.set(rng(32)) // same object, new bytes
    expect(toHex(nodeX25519.sharedSecret(secret, peer))).toBe(toHex(stablelibX25519.sharedSecret(secret, peer)))
    expect(toHex(nodeX25519.publicKey(secret))).toBe(toHex(stablelibX25519.publicKey(secret)))
    peer.set(stablelibX25519.publicKey(rng(32)))
    expect(toHex(nodeX25519.sharedSecret(secret, peer))).toBe(toHex(stablelibX25519.sharedSecret(secret, peer)))
    wipe(secret)
    secret[0] = 8 // a valid scalar after clamping, unlike any cached one
    expect(toHex(nodeX25519.publicKey(secret))).toBe(toHex(stablelibX25519.publicKey(secret)))
  })
})
