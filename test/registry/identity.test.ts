/** Addresses, base32, time periods, storage keys, constants. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { base32Decode, base32Encode } from '../../src/registry/base32.ts'
import { encodeAddress, parseAddress } from '../../src/registry/identity.ts'
import { InvalidAddressError, RegistryCallerError } from '../../src/registry/errors.ts'
import { periodAt, periodStartSeconds, revisionAt, secondsToNextPeriod, testnetPeriods, DEFAULT_PERIODS, recordLifetimeSeconds } from '../../src/registry/time.ts'
import { storageKey } from '../../src/registry/descriptor.ts'
import * as C from '../../src/registry/constants.ts'
import { concat, sha3_256, bytesOf } from '../../src/registry/primitives.ts'
import { hex, loadVectors, provider, toHex } from './helpers.ts'

const ctor = loadVectors<{ onionAddress: { publicKey: string, base32: string } }>('rend-blinding-c-tor.json').onionAddress
const idx = loadVectors<{ hsIndex: { blindedKey: string, replica: number, periodNum: number, periodLength: number, expected: string }, timePeriods: { lengthSeconds: number, offsetSeconds: number, cases: Array<{ instant: string, periodNum: number }>, periodStart16903: string } }>('rend-hs-index-c-tor.json')

describe('base32', () => {
  it('reproduces C tor\'s v3 address encoding (test_build_address)', () => {
    const A = hex(ctor.publicKey)
    const sum = sha3_256(concat(bytesOf('.onion checksum'), A, Uint8Array.of(3))).slice(0, 2)
    expect(base32Encode(concat(A, sum, Uint8Array.of(3)))).toBe(ctor.base32)
    expect(toHex(base32Decode(ctor.base32).subarray(0, 32))).toBe(ctor.publicKey)
  })
  it('RFC 4648 §10 vectors (lowercase, unpadded)', () => {
    const cases: Array<[string, string]> = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']]
    for (const [plain, enc] of cases) {
      expect(base32Encode(bytesOf(plain))).toBe(enc)
      expect(base32Decode(enc)).toEqual(bytesOf(plain))
    }
  })
  it('round trip; arbitrary strings decode or throw InvalidAddressError; one text per value', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), b => { expect(base32Decode(base32Encode(b))).toEqual(b) }))
    fc.assert(fc.property(fc.string({ maxLength: 120 }), s => {
      try { expect(base32Encode(base32Decode(s))).toBe(s) } catch (e) { expect(e).toBeInstanceOf(InvalidAddressError) }
    }), { numRuns: 500 })
    expect(() => base32Decode('mz')).toThrow(InvalidAddressError) // non-zero trailing bits
    expect(() => base32Decode('mzx')).toThrow(InvalidAddressError) // impossible length
  })
})

describe('provider address', () => {
  const id = provider('alice')
  it('has the documented layout and length', () => {
    const a = id.address
    expect(a.text.length).toBe(C.ADDRESS_TEXT_LEN)
    expect(C.ADDRESS_TEXT_LEN).toBe(108)
    const bin = base32Decode(a.text)
    expect(bin[0]).toBe(C.ADDRESS_VERSION)
    expect(bin.subarray(1, 33)).toEqual(id.identityKey)
    expect(bin.subarray(33, 65)).toEqual(sha3_256(id.mldsa.publicKey))
    expect(bin.subarray(65)).toEqual(sha3_256(concat(bytesOf('.veil checksum'), id.identityKey, sha3_256(id.mldsa.publicKey), Uint8Array.of(1))).subarray(0, 2))
    expect(parseAddress(a.text.toUpperCase()).text).toBe(a.text)
  })
  it('exact rejections', () => {
    const reason = (s: string): string => { try { parseAddress(s); return 'ok' } catch (e) { expect(e).toBeInstanceOf(InvalidAddressError); return (e as InvalidAddressError).reason } }
    const t = id.address.text
    expect(reason(t.slice(1))).toBe('malformed')
    expect(reason('!' + t.slice(1))).toBe('malformed')
    const bin = base32Decode(t)
    const v2 = bin.slice(); v2[0] = 2
    expect(reason(base32Encode(v2))).toBe('version')
    const bad = bin.slice(); bad[66] ^= 1
    expect(reason(base32Encode(bad))).toBe('checksum')
    const typo = t.slice(0, 40) + (t[40] === 'a' ? 'b' : 'a') + t.slice(41)
    expect(reason(typo)).toBe('checksum')
    // a small-order A with a correct checksum
    const small = encodeAddress(hex('0100000000000000000000000000000000000000000000000000000000000000'), new Uint8Array(32))
    expect(reason(small)).toBe('bad-key')
  })
  it('arbitrary strings parse or throw InvalidAddressError', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 120 }), fc.stringMatching(/^[a-z2-7]{108}$/)), s => {
      try { parseAddress(s) } catch (e) { expect(e).toBeInstanceOf(InvalidAddressError) }
    }), { numRuns: 300 })
  })
})

describe('time periods', () => {
  it('C tor / rend-spec vectors', () => {
    const p = { lengthSeconds: idx.timePeriods.lengthSeconds, offsetSeconds: idx.timePeriods.offsetSeconds }
    for (const c of idx.timePeriods.cases) expect(periodAt(Date.parse(c.instant), p)).toBe(c.periodNum)
    expect(periodStartSeconds(16903, p) * 1000).toBe(Date.parse(idx.timePeriods.periodStart16903))
    expect(p).toEqual(DEFAULT_PERIODS)
  })
  it('testnet periods, revision and lifetime', () => {
    const p = testnetPeriods(10)
    expect(periodAt(95_000, p)).toBe(9)
    expect(secondsToNextPeriod(95_000, p)).toBe(5)
    expect(revisionAt(95_000, 9, p)).toBe(15) // seconds since period 8 began
    expect(revisionAt(95_000, 10, p)).toBe(5) // the next period's descriptor
    expect(() => revisionAt(95_000, 11, p)).toThrow(RegistryCallerError)
    expect(recordLifetimeSeconds(p)).toBe(10)
    expect(recordLifetimeSeconds(DEFAULT_PERIODS)).toBe(3 * 3600)
    expect(() => testnetPeriods(0)).toThrow(RegistryCallerError)
  })
})

describe('storage key (hs_index)', () => {
  it('reproduces C tor test_hs_indexes', () => {
    const v = idx.hsIndex
    expect(toHex(storageKey(hex(v.blindedKey), v.replica, v.periodNum, v.periodLength))).toBe(v.expected)
  })
})

describe('constants', () => {
  it('derivations', () => {
    expect(C.ADDRESS_BINARY_LEN).toBe(1 + 32 + 32 + 2)
    expect(C.AUTH_ENTRY_LEN).toBe(8 + 16 + 1088 + 32)
    expect(C.AUTH_KEYS_LEN).toBe(40)
    expect(C.padLen(0)).toBe(4096)
    expect(C.padLen(4092)).toBe(4096)
    expect(C.padLen(4093)).toBe(8192)
    expect(C.MAX_DESCRIPTOR % 1).toBe(0)
    expect(C.MAX_DESCRIPTOR).toBeGreaterThan(C.padLen(C.INNER_CONTENT_MAX_LEN))
    expect(C.MAX_DESCRIPTOR).toBeLessThan(256 * 1024)
    expect(C.DESCRIPTOR_NAMESPACE).toBe('veil-desc')
    expect(C.KEYWORD_NAMESPACE).toBe('veil-kw')
    expect(C.DEFAULT_PERIOD_SECONDS).toBe(86400)
  })
})
