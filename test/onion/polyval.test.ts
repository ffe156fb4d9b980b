/** POLYVAL: RFC 8452 Appendix A worked example, and agreement with @noble/ciphers on random inputs. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { polyval as noblePolyval } from '@noble/ciphers/_polyval.js'
import { PolyvalKey, PolyvalKey8, polyval, polyvalBackend, polyvalBlocks8, polyvalBlocks8Js, polyvalTweak8, wasmResidentTables } from '../../src/onion/polyval.ts'
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
  it('the 256-entry table (PolyvalKey8) agrees with @noble/ciphers, also after an in-place rekey', () => {
    const hash8 = (key: PolyvalKey8, data: Uint8Array): string => {
      const padded = new Uint8Array(Math.ceil(data.length / 16) * 16); padded.set(data)
      const s = new Uint32Array(4)
      polyvalBlocks8(key, s, new Uint32Array(padded.buffer), 0, padded.length / 16)
      return toHex(new Uint8Array(s.buffer))
    }
    expect(hash8(new PolyvalKey8(hex('25629347589242761d31f826ba4b757b')), hex('4f4f95668c83dfb6401762bb2d01a262d1a24ddd2721d006bbe45f20d3c9f362'))).toBe('f7a3b47b846119fae5b7866cf5e5b77e')
    const reused = new PolyvalKey8(new Uint8Array(16).fill(1))
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 2100 }), (k, data) => {
      const padded = new Uint8Array(Math.ceil(data.length / 16) * 16); padded.set(data)
      reused.setKey(k)
      expect(hash8(reused, data)).toBe(toHex(noblePolyval(padded, k)))
      expect(hash8(new PolyvalKey8(k), data)).toBe(toHex(noblePolyval(padded, k)))
    }), { numRuns: 200 })
  })
  it('the WebAssembly version is in use and equals the JavaScript one (keys switched and rekeyed between calls, long inputs chunked)', () => {
    expect(polyvalBackend()).toBe('wasm')
    const keys = [new PolyvalKey8(new Uint8Array(16).fill(3)), new PolyvalKey8(new Uint8Array(16).fill(9))]
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 5000 }), fc.boolean(), (k, which, nBlocks, rekey) => {
      const key = keys[which]
      if (rekey) key.setKey(k)
      const words = Uint32Array.from({ length: 4 * nBlocks + 8 }, (_, i) => Math.imul(i + k[0] + 1, 0x9e37_79b9) >>> 0)
      const a = Uint32Array.of(k[1], k[2], k[3], k[4]); const b = a.slice()
      polyvalBlocks8(key, a, words, 8, nBlocks)
      polyvalBlocks8Js(key, b, words, 8, nBlocks)
      expect([...a]).toEqual([...b])
    }), { numRuns: 100 })
  })
  it('resident WebAssembly tables: more keys than slots, rekeyed keys and wiped keys all hash as the JavaScript version, and no old table lingers', () => {
    const keys = Array.from({ length: 70 }, (_, i) => new PolyvalKey8(new Uint8Array(16).fill(i + 1)))
    const words = Uint32Array.from({ length: 4 * 40 }, (_, i) => Math.imul(i + 7, 0x9e37_79b9) >>> 0)
    const check = (key: PolyvalKey8): void => {
      const a = new Uint32Array(4); const b = new Uint32Array(4)
      polyvalBlocks8(key, a, words, 0, 40)
      polyvalBlocks8Js(key, b, words, 0, 40)
      expect([...a]).toEqual([...b])
    }
    for (let round = 0; round < 3; round++) for (const k of keys) check(k) // 70 keys over 64 slots: evicted and reloaded
    // what the module's memory holds: is a table (by content) in any of its slots?
    const held = (table: Uint32Array): boolean => wasmResidentTables().some(t => t.every((w, i) => w === table[i]))
    const k = keys[69]
    check(k)
    expect(held(k.t)).toBe(true)
    const before = k.t.slice()
    k.setKey(new Uint8Array(16).fill(0xab)) // the resident copy follows at once, before any use
    expect(held(k.t)).toBe(true)
    expect(held(before)).toBe(false)
    check(k)
    const last = k.t.slice()
    k.wipe()
    expect(held(last)).toBe(false)
    expect(k.t.every(w => w === 0)).toBe(true)
    k.setKey(new Uint8Array(16).fill(0xcd)) // a wiped key object can be keyed again
    check(k)
  })
  it('the CGO tweak form (head || ad || tail, zero-padded) equals hashing the padded bytes', () => {
    const key = new PolyvalKey8(new Uint8Array(16).fill(5))
    const scratch = new Uint8Array(16 * 140); const scratchWords = new Uint32Array(scratch.buffer)
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 2100 }), (head, ad, tail) => {
      const nBlocks = Math.ceil((17 + tail.length) / 16)
      const padded = new Uint8Array(nBlocks * 16); padded.set(head); padded[16] = ad; padded.set(tail, 17)
      const a = new Uint32Array(4); const b = new Uint32Array(4)
      polyvalTweak8(key, a, head, ad, tail, nBlocks, scratch, scratchWords)
      polyvalBlocks8Js(key, b, new Uint32Array(padded.buffer), 0, nBlocks)
      expect([...a]).toEqual([...b])
    }), { numRuns: 100 })
  })
  it('prints as [redacted] and checks the key length', () => {
    expect(JSON.stringify(new PolyvalKey(new Uint8Array(16)))).toBe('"[redacted]"')
    expect(() => new PolyvalKey(new Uint8Array(15))).toThrow(OnionCallerError)
  })
})
