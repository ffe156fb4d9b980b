/** POLYVAL: RFC 8452 Appendix A worked example, and agreement with @noble/ciphers on random inputs. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { polyval as noblePolyval } from '@noble/ciphers/_polyval.js'
import { PolyvalKey, polyval } from '../../src/onion/polyval.ts'
import { OnionCallerError } from '../../src/onion/errors.ts'
import { hex, toHex } from './helpers.ts'

describe('POLYVAL', () => {
  it('RFC 8452 Appendix A', () => {
    const key = new PolyvalKey(hex('25629347589242761d31f826ba4b757b'))
    expect(toHex(polyval(key, hex('4f4f95668c83dfb6401762bb2d01a262d1a24ddd2721d006bbe45f20d3c9f362')))).toBe('f7a3b47b846119fae5b7866cf5e5b77e')
  })
  it('agrees with @noble/ciphers (zero-padded input)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 600 }), (k, data) => {
      const padded = new Uint8Array(Math.ceil(data.length / 16) * 16); padded.set(data)
      expect(toHex(polyval(new PolyvalKey(k), data))).toBe(toHex(noblePolyval(padded, k)))
    }), { numRuns: 200 })
  })
  it('prints as [redacted] and checks the key length', () => {
    expect(JSON.stringify(new PolyvalKey(new Uint8Array(16)))).toBe('"[redacted]"')
    expect(() => new PolyvalKey(new Uint8Array(15))).toThrow(OnionCallerError)
  })
})
