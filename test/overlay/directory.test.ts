import { describe, it, expect } from 'vitest'
import { Directory, signDescriptor, ManualClock, InvalidDescriptorError, subnet16 } from '../../src/overlay/index.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { makeDescriptor, relayKey } from './helpers.ts'

const now = 1_800_000_000_000

describe('directory', () => {
  it('adds verified descriptors, keeps the newest, records sources, prunes expired', async () => {
    const clock = new ManualClock(now)
    const dir = new Directory({ clock })
    const key = await relayKey()
    const a = await signDescriptor(makeDescriptor(key, now - 1000), key)
    const b = await signDescriptor(makeDescriptor(key, now), key)
    expect(await dir.add(a.bytes, 'p1')).toBe('added')
    expect(await dir.add(b.bytes, 'p2')).toBe('updated')
    expect(await dir.add(a.bytes, 'p3')).toBe('older')
    expect(await dir.add(b.bytes, 'p4')).toBe('unchanged')
    const e = dir.get(a.descriptor.peerId.toString())
    expect(e?.descriptor.published).toBe(now)
    expect(dir.confirmed(2)).toHaveLength(1)
    expect(dir.confirmed(4)).toHaveLength(0)
    clock.advance(3_600_001)
    expect(dir.size).toBe(0)
  })

  it('rejects bad descriptors and counts them by reason', async () => {
    const clock = new ManualClock(now)
    const dir = new Directory({ clock })
    const key = await relayKey()
    const sd = await signDescriptor(makeDescriptor(key, now), key)
    const bad = sd.bytes.slice(); bad[bad.length - 1] ^= 1
    await expect(dir.add(bad, 'x')).rejects.toThrow(InvalidDescriptorError)
    expect(dir.counters.rejected['bad-signature']).toBe(1)
    expect(dir.size).toBe(0)
  })

  it('caps relays per /16 and new relays per source', async () => {
    const clock = new ManualClock(now)
    const dir = new Directory({ clock, maxPerSubnet: 2, maxNewPerSource: 3 })
    for (let i = 0; i < 3; i++) {
      const k = await relayKey()
      const sd = await signDescriptor(makeDescriptor(k, now, {}, `10.9.${i}.1`), k)
      if (i < 2) expect(await dir.add(sd.bytes, `s${i}`)).toBe('added')
      else await expect(dir.add(sd.bytes, `s${i}`)).rejects.toThrow(/cap/)
    }
    for (let i = 0; i < 4; i++) {
      const k = await relayKey()
      const sd = await signDescriptor(makeDescriptor(k, now, {}, `10.${20 + i}.0.1`), k)
      if (i < 3) expect(await dir.add(sd.bytes, 'flooder')).toBe('added')
      else await expect(dir.add(sd.bytes, 'flooder')).rejects.toThrow(/cap/)
    }
    expect(dir.counters.capped).toBe(2)
    // the /16 rule is off in single-address mode
    const single = new Directory({ clock, maxPerSubnet: 1, subnetRules: false })
    for (let i = 0; i < 3; i++) {
      const k = await relayKey()
      expect(await single.add((await signDescriptor(makeDescriptor(k, now, {}, '127.0.0.1'), k)).bytes, `s${i}`)).toBe('added')
    }
  })

  it('subnet16 reads the first IPv4 address', () => {
    expect(subnet16([multiaddr('/ip6/::1/tcp/1'), multiaddr('/ip4/127.5.0.1/tcp/1')])).toBe('127.5')
    expect(subnet16([multiaddr('/dns4/example.org/tcp/1')])).toBeUndefined()
  })
})
