/** X25519: both implementations against RFC 7748 §5.2 and §6.1, and all-zero rejection. */
import { describe, expect, it } from 'vitest'
import { nodeX25519, stablelibX25519, isAllZero, type X25519 } from '../../src/onion/x25519.ts'
import { HandshakeError, OnionCallerError } from '../../src/onion/errors.ts'
import { hex, loadVectors, toHex } from './helpers.ts'

interface Rfc7748 {
  scalar_mult: Array<{ scalar: string, u: string, output: string }>
  iterated: { start: string, after_1: string, after_1000: string }
  diffie_hellman: Record<'alice_private' | 'alice_public' | 'bob_private' | 'bob_public' | 'shared', string>
}
const v = loadVectors<Rfc7748>('rfc7748-x25519.json')

/** Small-order u-coordinates (0, 1, and the order-8 points): every scalar gives zero. */
const SMALL_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'
]

for (const impl of [nodeX25519, stablelibX25519] as X25519[]) {
  describe(`X25519 (${impl.name})`, () => {
    it('RFC 7748 §5.2 scalar multiplication vectors', () => {
      for (const t of v.scalar_mult) expect(toHex(impl.sharedSecret(hex(t.scalar), hex(t.u)))).toBe(t.output)
    })

    it('RFC 7748 §5.2 iterated test (1 and 1,000 iterations)', () => {
      let k = hex(v.iterated.start); let u = hex(v.iterated.start)
      for (let i = 1; i <= 1000; i++) {
        const r = impl.sharedSecret(k, u)
        u = k; k = r
        if (i === 1) expect(toHex(k)).toBe(v.iterated.after_1)
      }
      expect(toHex(k)).toBe(v.iterated.after_1000)
    })

    it('RFC 7748 §6.1 Diffie-Hellman', () => {
      const d = v.diffie_hellman
      expect(toHex(impl.publicKey(hex(d.alice_private)))).toBe(d.alice_public)
      expect(toHex(impl.publicKey(hex(d.bob_private)))).toBe(d.bob_public)
      expect(toHex(impl.sharedSecret(hex(d.alice_private), hex(d.bob_public)))).toBe(d.shared)
      expect(toHex(impl.sharedSecret(hex(d.bob_private), hex(d.alice_public)))).toBe(d.shared)
    })

    it('rejects an all-zero shared secret with HandshakeError', () => {
      for (const u of SMALL_ORDER) {
        let err: unknown
        try { impl.sharedSecret(hex(v.diffie_hellman.alice_private), hex(u)) } catch (e) { err = e }
        expect(err).toBeInstanceOf(HandshakeError)
        expect((err as HandshakeError).reason).toBe('zero-shared-secret')
      }
    })

    it('rejects wrong lengths as caller misuse', () => {
      expect(() => impl.publicKey(new Uint8Array(31))).toThrow(OnionCallerError)
      expect(() => impl.sharedSecret(new Uint8Array(32), new Uint8Array(33))).toThrow(OnionCallerError)
    })
  })
}

describe('X25519 implementations agree', () => {
  it('on random keys', () => {
    for (let i = 0; i < 20; i++) {
      const a = crypto.getRandomValues(new Uint8Array(32)); const b = crypto.getRandomValues(new Uint8Array(32))
      const B = stablelibX25519.publicKey(b)
      expect(toHex(nodeX25519.publicKey(b))).toBe(toHex(B))
      expect(toHex(nodeX25519.sharedSecret(a, B))).toBe(toHex(stablelibX25519.sharedSecret(a, B)))
    }
    expect(isAllZero(new Uint8Array(32))).toBe(true)
  })
})
