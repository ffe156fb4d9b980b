/**
 * A 25-relay testnet of real `veil relay` processes on 127.1-25.0.1: directories
 * converge, every relay rejects bad descriptors served to it, a client host stays on
 * its entry relays, and a restarted relay keeps its identity and onion keys.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { createRelayHost, systemClock, signDescriptor, generateX25519, DIR_PROTOCOL, encodeDirResponse, MAX_DIR_REQUEST } from '../../src/overlay/index.ts'
import { startTestnet, type Testnet } from '../../src/node/testnet.ts'
import { startClientNode } from '../../src/node/client.ts'
import { makeDescriptor, relayKey, tempHome } from './helpers.ts'

const N = 25
let home: { dir: string, cleanup: () => Promise<void> }
let net: Testnet

beforeAll(async () => {
  home = await tempHome()
  net = await startTestnet({ home: home.dir, nodes: N, readyTimeoutMs: 120_000 })
}, 180_000)

afterAll(async () => {
  await net?.stop()
  await home?.cleanup()
}, 60_000)

describe(`${N}-relay testnet`, { timeout: 120_000 }, () => {
  it('every relay directory holds every verified descriptor', async () => {
    const ids = net.info.relays.map(r => r.peerId).sort()
    expect(new Set(net.info.relays.map(r => r.addrs[0].split('/')[2])).size).toBe(N) // distinct 127.x addresses
    for (let i = 0; i < N; i++) {
      const st = await net.status(i)
      expect(st.directory).toEqual(ids)
      expect(st.subnetRules).toBe(true)
    }
    expect(net.readyMs).toBeGreaterThan(0)
  })

  it('every relay rejects flipped, foreign and expired descriptors served to it', async () => {
    const key = await relayKey()
    const other = await relayKey()
    const now = Date.now()
    const good = await signDescriptor(makeDescriptor(key, now, {}, '127.200.0.1'), key)
    const flipped = good.bytes.slice(); flipped[flipped.length - 3] ^= 0x10
    // a descriptor naming `key`'s peer id, with `other`'s signature: foreign key
    const foreign = (await signDescriptor(makeDescriptor(other, now, {}, '127.201.0.1'), other)).bytes.slice()
    const foreignBody = (await signDescriptor(makeDescriptor(key, now, {}, '127.200.0.1'), key)).bytes
    // splice: body of `key`, signature of `other`
    foreign.set(foreignBody.subarray(0, foreignBody.length - 64), 0)
    const expired = await signDescriptor(makeDescriptor(key, now - 7_200_000, { onionKeys: [{ publicKey: generateX25519().publicKey, validFrom: now - 7_300_000, validUntil: now + 86_400_000 }] }, '127.200.0.1'), key)
    const bad = [flipped, foreignBody.length === foreign.length ? foreign : flipped, expired.bytes]
    const before = await Promise.all(net.info.relays.map(async (_, i) => (await net.status(i)).counters.descriptorsRejected))
    // an attacker relay serves only bad descriptors over the directory protocol
    const attacker = await createRelayHost({ privateKey: await relayKey(), listen: ['/ip4/127.99.0.1/tcp/0'], clock: systemClock, allowPrivateAddresses: true })
    await attacker.handle(DIR_PROTOCOL, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: MAX_DIR_REQUEST })
      await lp.read()
      await lp.write(encodeDirResponse(bad, false))
      await stream.close()
    })
    await attacker.start()
    try {
      for (const r of net.info.relays) await attacker.dial(multiaddr(r.addrs[0]), { signal: AbortSignal.timeout(10_000) })
      const deadline = Date.now() + 60_000
      for (let i = 0; i < N; i++) {
        for (;;) {
          const st = await net.status(i)
          if (st.counters.descriptorsRejected >= before[i] + 3) {
            expect(st.directory).not.toContain(good.descriptor.peerId.toString())
            break
          }
          if (Date.now() > deadline) throw new Error(`relay ${i} did not reject the bad descriptors`)
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      }
    } finally {
      await attacker.stop()
    }
  })

  it('a client host fills its directory through its entry relays only; no relay DHT records it', async () => {
    const client = await startClientNode({ bootstrap: net.info.relays.map(r => r.addrs[0]), entryCount: 3, minDirectory: N })
    try {
      await client.ready
      expect(client.directory.confirmed(2)).toHaveLength(N)
      const entries = new Set(client.entries.map(e => e.peerId.toString()))
      expect(entries.size).toBe(3)
      const me = client.peerId.toString()
      let seenBy = 0
      for (let i = 0; i < N; i++) {
        const st = await net.status(i)
        const saw = me in st.peersSeen
        expect(saw).toBe(entries.has(st.peerId))
        if (saw) seenBy++
        expect(st.dhtPeersEver).not.toContain(me)
      }
      expect(seenBy).toBe(3)
    } finally {
      await client.stop()
    }
  })

  it('a relay restarted on its data dir keeps its peer id and onion keys', async () => {
    const i = 7
    const before = await net.status(i)
    await net.kill(i, true) // SIGKILL: no clean shutdown
    const info = await net.restart(i)
    expect(info.peerId).toBe(before.peerId)
    const after = await net.status(i)
    expect(after.onionKeys.length).toBe(before.onionKeys.length)
    const keysOf = async (): Promise<string[]> => {
      const { OnionKeyStore, ManualClock } = await import('../../src/overlay/index.ts')
      const s = new OnionKeyStore({ dir: info.dataDir, clock: new ManualClock(Date.now()) })
      await s.loadReadOnly()
      return s.all().map(k => Buffer.from(k.publicKey).toString('hex'))
    }
    expect((await keysOf()).length).toBe(before.onionKeys.length)
  })
})
