import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CELL_SIZE, RELAY_DATA_MAX } from '../../src/onion/constants.ts'
import {
  CELL_PAYLOAD_BYTES, MAX_COVER_RATE_PER_SEC, MixCallerError, MixPeerError, PROFILE_ID_LEN, PROFILE_IDS, PROFILE_NAMES, PROFILES,
  POW2_BUCKETS, NO_PADDING, ProfileOverrideError, WIRE_CELL_BYTES, decodeProfileId, encodeProfileId, profileByName,
  profileCosts, relayMixTable, resolveClientProfile, type MixProfile, type ProfileId
} from '../../src/mix/index.ts'

describe('constants', () => {
  it('derive from onion/constants', () => {
    expect(WIRE_CELL_BYTES).toBe(CELL_SIZE)
    expect(CELL_PAYLOAD_BYTES).toBe(RELAY_DATA_MAX)
    expect(PROFILE_ID_LEN).toBe(1)
  })
})

describe('presets', () => {
  it('fast: no delay, no cover, no padding', () => {
    expect(PROFILES.fast.relay.perHopMeanDelayMs).toBe(0)
    expect(PROFILES.fast.relay.lastHopRatePerSec).toBe(0)
    expect(PROFILES.fast.client).toEqual({ loopRatePerSec: 0, dropRatePerSec: 0, sendRatePerSec: 0, coverCircuits: 0, paddingBuckets: NO_PADDING })
  })

  it('balanced and paranoid: documented defaults', () => {
    expect(PROFILES.balanced.relay.perHopMeanDelayMs).toBe(10)
    expect(PROFILES.balanced.client).toEqual({ loopRatePerSec: 0.5, dropRatePerSec: 0.5, sendRatePerSec: 0, coverCircuits: 0, paddingBuckets: POW2_BUCKETS })
    expect(PROFILES.balanced.relay.lastHopRatePerSec).toBe(0)
    expect(PROFILES.paranoid.relay).toEqual({ perHopMeanDelayMs: 30, lastHopRatePerSec: 10 })
    expect(PROFILES.paranoid.client).toEqual({ loopRatePerSec: 5, dropRatePerSec: 0, sendRatePerSec: 50, coverCircuits: 5, paddingBuckets: POW2_BUCKETS })
  })

  it('ids are distinct small integers, frozen', () => {
    expect(new Set(PROFILE_NAMES.map((n) => PROFILES[n].id)).size).toBe(3)
    expect(PROFILE_IDS).toEqual({ fast: 0, balanced: 1, paranoid: 2 })
    expect(Object.isFrozen(PROFILES.paranoid.client)).toBe(true)
  })

  it('costs: latency, bandwidth, throughput cap', () => {
    const fast = profileCosts(PROFILES.fast)
    expect(fast).toEqual({ addedLatencyMsOneWay: 0, addedLatencyMsRoundTrip: 0, idleCellsPerSec: 0, idleClientLinkBytesPerSec: 0, throughputCapBytesPerSec: Infinity, circuits: 1 })
    const bal = profileCosts(PROFILES.balanced)
    expect(bal.addedLatencyMsOneWay).toBe(30)
    expect(bal.addedLatencyMsRoundTrip).toBe(60)
    expect(bal.idleCellsPerSec).toBe(1)
    expect(bal.idleClientLinkBytesPerSec).toBe(1.5 * CELL_SIZE)
    const par = profileCosts(PROFILES.paranoid)
    // six circuits (one call + five cover) share λ = 50/s: a call's next slot is 6/50 s away;
    // the way back waits for the last hop's stream (10/s) once
    expect(par.circuits).toBe(6)
    expect(par.addedLatencyMsOneWay).toBeCloseTo(90 + 120, 9)
    expect(par.addedLatencyMsRoundTrip).toBeCloseTo(90 + 120 + 90 + 100, 9)
    expect(par.idleCellsPerSec).toBe(55)
    // out: 55 cells/s (stream slots and loops); back: six backward streams of 10/s
    expect(par.idleClientLinkBytesPerSec).toBe((55 + 60) * CELL_SIZE)
    expect(par.throughputCapBytesPerSec).toBeCloseTo(50 / 6 * RELAY_DATA_MAX, 6) // λ / circuits × payload bytes
    console.log('profile costs (3 hops):', JSON.stringify({ fast, balanced: bal, paranoid: par }))
  })

  it('unknown names are refused with the list', () => {
    expect(() => profileByName('turbo')).toThrow(/unknown privacy profile "turbo": expected one of fast, balanced, paranoid/)
  })
})

describe('client overrides', () => {
  it('change only cover rates', () => {
    const p = resolveClientProfile('paranoid', { loopRatePerSec: 2, sendRatePerSec: 20 })
    expect(p.client.loopRatePerSec).toBe(2)
    expect(p.client.sendRatePerSec).toBe(20)
    expect(p.relay).toBe(PROFILES.paranoid.relay)
    expect(p.id).toBe(PROFILE_IDS.paranoid)
    expect(PROFILES.paranoid.client.loopRatePerSec).toBe(5) // presets untouched
    expect(resolveClientProfile('balanced', { dropRatePerSec: 0 }).client.dropRatePerSec).toBe(0)
    expect(resolveClientProfile('fast')).toBe(PROFILES.fast)
  })

  const refused: Array<[string, unknown, RegExp]> = [
    ['balanced', { perHopMeanDelayMs: 1 }, /perHopMeanDelayMs cannot be overridden locally: relay delays belong to the relays/],
    ['balanced', { paddingBuckets: [1, 2] }, /paddingBuckets cannot be overridden locally/],
    ['balanced', { id: 2 }, /id cannot be overridden/],
    ['balanced', { loopRate: 1 }, /unknown profile override "loopRate": only loopRatePerSec, dropRatePerSec, sendRatePerSec/],
    ['balanced', { loopRatePerSec: -1 }, /loopRatePerSec must be in \[0, 1000\]/],
    ['balanced', { loopRatePerSec: MAX_COVER_RATE_PER_SEC + 1 }, /must be in \[0, 1000\]/],
    ['balanced', { dropRatePerSec: '2' }, /dropRatePerSec must be a finite number/],
    ['balanced', { dropRatePerSec: NaN }, /must be a finite number/],
    ['balanced', { sendRatePerSec: 10 }, /profile "balanced" has no send stream/],
    ['paranoid', { sendRatePerSec: 0 }, /needs a send stream rate > 0/],
    ['paranoid', 5, /must be an object/],
    ['paranoid', null, /must be an object/],
    ['nope', {}, /unknown privacy profile/]
  ]
  for (const [name, o, re] of refused) {
    it(`refuses ${name} ${JSON.stringify(o)}`, () => {
      expect(() => resolveClientProfile(name, o)).toThrow(re)
      expect(() => resolveClientProfile(name, o)).toThrow(MixCallerError)
    })
  }

  it('names the field in the error', () => {
    try {
      resolveClientProfile('balanced', { perHopMeanDelayMs: 1 })
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ProfileOverrideError)
      expect((e as ProfileOverrideError).field).toBe('perHopMeanDelayMs')
      expect((e as ProfileOverrideError).fault).toBe('caller')
    }
  })
})

describe('relay table', () => {
  it('maps ids to the relay\'s own numbers', () => {
    const t = relayMixTable({ balanced: { perHopMeanDelayMs: 25 } })
    expect(t.get(PROFILE_IDS.balanced)).toEqual({ perHopMeanDelayMs: 25, lastHopRatePerSec: 0 })
    expect(t.get(PROFILE_IDS.paranoid)).toEqual({ perHopMeanDelayMs: 30, lastHopRatePerSec: 10 })
    expect(t.get(PROFILE_IDS.fast)).toEqual({ perHopMeanDelayMs: 0, lastHopRatePerSec: 0 })
    expect(relayMixTable({ paranoid: { lastHopRatePerSec: 40 } }).get(PROFILE_IDS.paranoid)).toEqual({ perHopMeanDelayMs: 30, lastHopRatePerSec: 40 })
  })

  it('validates overrides', () => {
    expect(() => relayMixTable({ fast: { perHopMeanDelayMs: 5 } })).toThrow(/fast.perHopMeanDelayMs must stay 0/)
    expect(() => relayMixTable({ paranoid: { perHopMeanDelayMs: 5000 } })).toThrow(/must be in \[0, 1000\] ms/)
    expect(() => relayMixTable({ paranoid: { perHopMeanDelayMs: -1 } })).toThrow(/must be in \[0, 1000\] ms/)
    expect(() => relayMixTable({ turbo: {} } as never)).toThrow(/unknown profile "turbo"/)
    expect(() => relayMixTable({ balanced: { loopRatePerSec: 1 } } as never)).toThrow(/balanced.loopRatePerSec is not a relay parameter/)
    expect(() => relayMixTable({ fast: { lastHopRatePerSec: 5 } })).toThrow(/fast.lastHopRatePerSec must stay 0/)
    expect(() => relayMixTable({ paranoid: { lastHopRatePerSec: 5000 } })).toThrow(/lastHopRatePerSec must be in \[0, 1000\]/)
  })
})

describe('wire: the profile id only', () => {
  const arbProfile: fc.Arbitrary<MixProfile> = fc.record({
    name: fc.constantFrom(...PROFILE_NAMES),
    relay: fc.record({ perHopMeanDelayMs: fc.double({ min: 0, max: 1000, noNaN: true }), lastHopRatePerSec: fc.double({ min: 0, max: 1000, noNaN: true }) }),
    client: fc.record({
      loopRatePerSec: fc.double({ min: 0, max: 1000, noNaN: true }),
      dropRatePerSec: fc.double({ min: 0, max: 1000, noNaN: true }),
      sendRatePerSec: fc.double({ min: 0, max: 1000, noNaN: true }),
      coverCircuits: fc.integer({ min: 0, max: 16 }),
      paddingBuckets: fc.oneof(fc.constant(POW2_BUCKETS), fc.constant(NO_PADDING), fc.array(fc.integer({ min: 1, max: 1 << 16 })))
    })
  }).map((p) => ({ ...p, id: PROFILE_IDS[p.name] }))

  it('serialising a profile yields the same bytes whatever numbers are behind it', () => {
    fc.assert(fc.property(arbProfile, arbProfile, (a, b) => {
      const ea = encodeProfileId(a)
      expect(ea).toEqual(encodeProfileId(a.id))
      expect(ea).toEqual(encodeProfileId(PROFILES[a.name]))
      expect(ea.length).toBe(PROFILE_ID_LEN)
      if (a.id === b.id) expect(encodeProfileId(b)).toEqual(ea)
      expect(decodeProfileId(ea)).toBe(a.id)
    }))
  })

  it('overridden client profiles serialise like the preset', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1000, noNaN: true }), fc.double({ min: 0.001, max: 1000, noNaN: true }), (loop, send) => {
      expect(encodeProfileId(resolveClientProfile('paranoid', { loopRatePerSec: loop, sendRatePerSec: send }))).toEqual(Uint8Array.of(2))
    }))
  })

  it('decoding: every byte is a known id or a peer error', () => {
    for (let b = 0; b < 256; b++) {
      if (b <= 2) expect(decodeProfileId(Uint8Array.of(b))).toBe(b)
      else expect(() => decodeProfileId(Uint8Array.of(b))).toThrow(MixPeerError)
    }
    expect(() => decodeProfileId(new Uint8Array(0))).toThrow(MixPeerError)
    expect(() => decodeProfileId(new Uint8Array(2))).toThrow(MixPeerError)
    expect(() => encodeProfileId(7 as ProfileId)).toThrow(MixCallerError)
  })
})
