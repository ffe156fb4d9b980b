import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import {
  signDescriptor, verifySignedDescriptor, decodeSignedDescriptor, descriptorKey, descriptorSelector, descriptorValidator,
  encodeDescriptorBody, signingInput, InvalidDescriptorError, MAX_DESCRIPTOR_SIZE, MAX_CLOCK_SKEW_MS, ManualClock
} from '../../src/overlay/index.ts'
import { makeDescriptor, relayKey } from './helpers.ts'

const now = 1_800_000_000_000

async function rejection (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) {
    expect(err).toBeInstanceOf(InvalidDescriptorError)
    return (err as InvalidDescriptorError).reason
  }
  throw new Error('expected a rejection')
}

describe('relay descriptors', () => {
  it('round-trips: sign, encode, decode, verify', async () => {
    const key = await relayKey()
    const d = makeDescriptor(key, now)
    const sd = await signDescriptor(d, key)
    const back = await verifySignedDescriptor(sd.bytes, { now, key: descriptorKey(d.peerId) })
    expect(back.descriptor.peerId.equals(d.peerId)).toBe(true)
    expect(back.descriptor.addrs.map(String)).toEqual(d.addrs.map(String))
    expect(back.descriptor.onionKeys[0].publicKey).toEqual(d.onionKeys[0].publicKey)
    expect(encodeDescriptorBody(back.descriptor)).toEqual(encodeDescriptorBody(d))
    expect(sd.bytes.length).toBeLessThan(MAX_DESCRIPTOR_SIZE)
  })

  it('rejects every single flipped byte', async () => {
    const key = await relayKey()
    const sd = await signDescriptor(makeDescriptor(key, now), key)
    const k = descriptorKey(makeDescriptor(key, now).peerId)
    let rejected = 0
    for (let i = 0; i < sd.bytes.length; i++) {
      const bad = sd.bytes.slice()
      bad[i] ^= 0x01
      try { await verifySignedDescriptor(bad, { now, key: k }) } catch (err) {
        expect(err).toBeInstanceOf(InvalidDescriptorError)
        rejected++
      }
    }
    expect(rejected).toBe(sd.bytes.length)
  })

  it('rejects a descriptor stored under a foreign peer id, or signed by a foreign key', async () => {
    const key = await relayKey()
    const other = await relayKey()
    const sd = await signDescriptor(makeDescriptor(key, now), key)
    expect(await rejection(verifySignedDescriptor(sd.bytes, { now, key: descriptorKey(makeDescriptor(other, now).peerId) }))).toBe('key-mismatch')
    // body naming `key`'s peer id but signed by `other`
    const d = makeDescriptor(key, now)
    const body = encodeDescriptorBody(d)
    const sig = await other.sign(signingInput(body))
    const forged = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number', variableMapSize: true }).pack([body, sig])
    expect(await rejection(verifySignedDescriptor(forged, { now }))).toBe('bad-signature')
    await expect(signDescriptor(d, other)).rejects.toThrow(InvalidDescriptorError)
  })

  it('rejects expired, future and over-long windows', async () => {
    const key = await relayKey()
    const expired = await signDescriptor(makeDescriptor(key, now - 7_200_000), key)
    expect(await rejection(verifySignedDescriptor(expired.bytes, { now }))).toBe('expired')
    const future = await signDescriptor(makeDescriptor(key, now + MAX_CLOCK_SKEW_MS + 60_000), key)
    expect(await rejection(verifySignedDescriptor(future.bytes, { now }))).toBe('from-future')
    const long = await signDescriptor(makeDescriptor(key, now, { expires: now + 30 * 86_400_000 }), key)
    expect(await rejection(verifySignedDescriptor(long.bytes, { now }))).toBe('bad-window')
    const noKey = await signDescriptor(makeDescriptor(key, now, { onionKeys: [{ publicKey: new Uint8Array(32), validFrom: now - 10_000, validUntil: now - 1 }] }), key)
    expect(await rejection(verifySignedDescriptor(noKey.bytes, { now }))).toBe('no-valid-onion-key')
  })

  it('the DHT validator applies all checks and the selector keeps the newest', async () => {
    const key = await relayKey()
    const clock = new ManualClock(now)
    const validate = descriptorValidator(clock)
    const older = await signDescriptor(makeDescriptor(key, now - 60_000), key)
    const newer = await signDescriptor(makeDescriptor(key, now), key)
    const k = descriptorKey(older.descriptor.peerId)
    await validate(k, older.bytes)
    await validate(k, newer.bytes)
    expect(descriptorSelector(k, [older.bytes, newer.bytes])).toBe(1)
    expect(descriptorSelector(k, [newer.bytes, older.bytes])).toBe(0)
    expect(descriptorSelector(k, [new Uint8Array([1, 2, 3]), older.bytes])).toBe(1)
    clock.advance(2 * 3_600_000)
    await expect(validate(k, newer.bytes)).rejects.toThrow(InvalidDescriptorError)
  })

  it('refuses non-canonical encodings of a valid descriptor', async () => {
    const key = await relayKey()
    const sd = await signDescriptor(makeDescriptor(key, now), key)
    // re-encode the outer array with a 16-bit array header instead of fixarray
    const inner = sd.bytes.subarray(1)
    const padded = new Uint8Array([0xdc, 0x00, 0x02, ...inner])
    expect(await rejection(verifySignedDescriptor(padded, { now }))).toBe('non-canonical')
  })

  it('property: arbitrary bytes decode or throw InvalidDescriptorError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      try { decodeSignedDescriptor(bytes) } catch (err) {
        if (!(err instanceof InvalidDescriptorError)) throw err
      }
    }), { numRuns: 2000 })
  })

  it('property: mutated valid descriptors decode or throw InvalidDescriptorError', async () => {
    const key = await relayKey()
    const sd = await signDescriptor(makeDescriptor(key, now), key)
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(sd.bytes.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (edits) => {
      const b = sd.bytes.slice()
      for (const [i, v] of edits) b[i] = v
      try { decodeSignedDescriptor(b) } catch (err) {
        if (!(err instanceof InvalidDescriptorError)) throw err
      }
    }), { numRuns: 2000 })
  })
})
