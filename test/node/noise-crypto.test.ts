/**
 * src/overlay/noise-crypto.ts (the Noise crypto every Veil host uses) against
 * @chainsafe/libp2p-noise's default: each decrypts what the other encrypts, on
 * both sides of the 1200-byte switch, with the
 * same session key array reused (the KeyObject cache) and after its bytes change.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { veilNoiseCrypto } from '../../src/overlay/noise-crypto.ts'

const join = (x: { subarray(): Uint8Array }): string => Buffer.from(x.subarray()).toString('hex')

describe('Veil Noise crypto', () => {
  it('interoperates with the default both ways, at every size, key cache included', () => {
    const k = crypto.getRandomValues(new Uint8Array(32))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ maxLength: 64 }), fc.boolean(), (plain, nonce, ad, changeKey) => {
      if (changeKey) k.set(crypto.getRandomValues(new Uint8Array(32)))
      const ours = veilNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)
      const theirs = defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, k)
      expect(join(ours)).toBe(join(theirs))
      expect(join(veilNoiseCrypto.chaCha20Poly1305Decrypt(theirs, nonce, ad, k))).toBe(Buffer.from(plain).toString('hex'))
      expect(join(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, k))).toBe(Buffer.from(plain).toString('hex'))
    }), { numRuns: 150 })
  })

  it('refuses a modified ciphertext above the switch, as the default does', () => {
    const k = crypto.getRandomValues(new Uint8Array(32))
    const nonce = new Uint8Array(12)
    const ct = Buffer.from(veilNoiseCrypto.chaCha20Poly1305Encrypt(new Uint8Array(2048), nonce, new Uint8Array(0), k).subarray())
    ct[100] ^= 1
    expect(() => veilNoiseCrypto.chaCha20Poly1305Decrypt(ct, nonce, new Uint8Array(0), k)).toThrow()
  })
})
