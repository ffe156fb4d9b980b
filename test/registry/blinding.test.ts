/** Key blinding (rend-spec-v3 A.2) against arti's and C tor's published vectors. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js'
import { blindExpandedKey, blindPublicKey, blindingFactor, blindedKeyForPeriod, credential, subcredential } from '../../src/registry/blinding.ts'
import { ExpandedEd25519Key, ed25519Verify, scalarFromBytesModOrder, scalarToBytes, sha3_256, bytesOf, concat } from '../../src/registry/primitives.ts'
import { periodAt } from '../../src/registry/time.ts'
import { hex, loadVectors, toHex } from './helpers.ts'

interface ArtiVector { seckey: string, expandedSeckey: string, pubkey: string, param: string, blindedPubkey: string, blindedSeckey: string }
const arti = loadVectors<{ vectors: ArtiVector[] }>('rend-blinding-arti.json').vectors
interface CTor {
  blinding: { publicKey: string, expandedSecretKey: string, instant: string, periodLengthMinutes: number, rotationOffsetMinutes: number, periodNum: number, h: string, blindedPublicKey: string, subcredential: string, blindedSecretKey: string }
}
const ctor = loadVectors<CTor>('rend-blinding-c-tor.json').blinding

describe('blinding: arti keymanip.rs vectors (from C tor ed25519_exts_ref.py)', () => {
  it('has all 10 vectors', () => { expect(arti.length).toBe(10) })
  for (const [i, v] of arti.entries()) {
    it(`vector ${i}: expand, blind public and secret key, sign and verify`, () => {
      const key = ExpandedEd25519Key.fromSeed(hex(v.seckey))
      // the C tor scalar is clamped but unreduced: compare mod ℓ, and the prefix exactly
      expect(scalarToBytes(key.scalar())).toEqual(scalarToBytes(scalarFromBytesModOrder(hex(v.expandedSeckey).subarray(0, 32))))
      expect(toHex(key.prefix())).toBe(v.expandedSeckey.slice(64))
      expect(toHex(key.publicKey)).toBe(v.pubkey)
      // the expanded form loads too
      expect(toHex(ExpandedEd25519Key.fromBytes(hex(v.expandedSeckey)).publicKey)).toBe(v.pubkey)

      const blindedPub = blindPublicKey(hex(v.pubkey), hex(v.param))
      expect(blindedPub && toHex(blindedPub)).toBe(v.blindedPubkey)
      const blinded = blindExpandedKey(key, hex(v.param))
      expect(toHex(blinded.toBytes())).toBe(v.blindedSeckey)
      expect(toHex(blinded.publicKey)).toBe(v.blindedPubkey)

      const msg = bytesOf('hello world')
      const sig = blinded.sign(msg)
      expect(ed25519Verify(sig, msg, blinded.publicKey)).toBe(true)
      expect(ed25519Verify(sig, bytesOf('hello worle'), blinded.publicKey)).toBe(false)
      expect(ed25519Verify(sig, msg, key.publicKey)).toBe(false)
    })
  }
})

describe('blinding: C tor end-to-end vector (arti tor-hscrypto key_blinding_testvec)', () => {
  it('period number from the instant (1 day, 12 h offset)', () => {
    const p = periodAt(Date.parse(ctor.instant), { lengthSeconds: ctor.periodLengthMinutes * 60, offsetSeconds: ctor.rotationOffsetMinutes * 60 })
    expect(p).toBe(ctor.periodNum)
  })
  it('h, A\', subcredential and the blinded secret key', () => {
    const A = hex(ctor.publicKey)
    const h = blindingFactor(A, ctor.periodNum, ctor.periodLengthMinutes)
    expect(toHex(h)).toBe(ctor.h)
    expect(toHex(blindedKeyForPeriod(A, ctor.periodNum, ctor.periodLengthMinutes))).toBe(ctor.blindedPublicKey)
    expect(toHex(subcredential(A, hex(ctor.blindedPublicKey)))).toBe(ctor.subcredential)
    expect(toHex(credential(A))).toBe(toHex(sha3_256(concat(bytesOf('credential'), A))))
    const key = ExpandedEd25519Key.fromBytes(hex(ctor.expandedSecretKey))
    expect(toHex(key.publicKey)).toBe(ctor.publicKey)
    expect(toHex(blindExpandedKey(key, h).toBytes())).toBe(ctor.blindedSecretKey)
  })
})

describe('blinding: properties', () => {
  it('blind(pub) == pub(blind(secret)); signatures verify under the blinded key only', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed, h) => {
      const key = ExpandedEd25519Key.fromSeed(seed)
      const b = blindExpandedKey(key, h)
      expect(blindPublicKey(key.publicKey, h)).toEqual(b.publicKey)
      const sig = b.sign(seed)
      expect(ed25519Verify(sig, seed, b.publicKey)).toBe(true)
    }), { numRuns: 25 })
  })
  it('refuses points of small order and with torsion', () => {
    expect(blindPublicKey(hex('0100000000000000000000000000000000000000000000000000000000000000'), new Uint8Array(32))).toBeUndefined()
    // a point of order 8, and A + T8 (a valid key plus a torsion component): neither is accepted
    const T8 = ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1])
    expect(blindPublicKey(T8.toBytes(), new Uint8Array(32))).toBeUndefined()
    const A = ed25519.Point.fromBytes(ExpandedEd25519Key.fromSeed(new Uint8Array(32)).publicKey)
    expect(blindPublicKey(A.toBytes(), new Uint8Array(32))).toBeDefined()
    expect(blindPublicKey(A.add(T8).toBytes(), new Uint8Array(32))).toBeUndefined()
  })
})
