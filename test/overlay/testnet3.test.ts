/**
 * A 3-relay network in this process (real libp2p hosts on 127.1-3.0.1, OS-chosen ports)
 * and a client host: DHT, directories, descriptor rejection, restart, client isolation.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { createRelayHost, descriptorKey, signDescriptor, systemClock, generateX25519 } from '../../src/overlay/index.ts'
import { Link } from '../../src/overlay/link.ts'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { startClientNode } from '../../src/node/client.ts'
import { makeDescriptor, relayKey, tempHome } from './helpers.ts'

let home: { dir: string, cleanup: () => Promise<void> }
let relays: RelayNode[] = []
const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`

async function until (cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  home = await tempHome()
  const r0 = await startRelayNode({ dataDir: join(home.dir, 'r0'), listen: ['/ip4/127.1.0.1/tcp/0'], testnet: true })
  const rest = await Promise.all([1, 2].map(async i => startRelayNode({ dataDir: join(home.dir, `r${i}`), listen: [`/ip4/127.${i + 1}.0.1/tcp/0`], bootstrap: [bootOf(r0)], testnet: true })))
  relays = [r0, ...rest]
  await until(() => relays.every(r => r.directory.size === 3), 20_000, 'directories')
}, 60_000)

afterAll(async () => {
  await Promise.all(relays.map(async r => { await r.stop() }))
  await home?.cleanup()
}, 30_000)

describe('3-relay network', { timeout: 120_000 }, () => {
  it('every directory holds every verified descriptor, and the DHT serves them', async () => {
    const ids = relays.map(r => r.peerId.toString()).sort()
    for (const r of relays) expect(r.directory.entries().map(e => e.descriptor.peerId.toString())).toEqual(ids)
    // every relay's descriptor can be fetched from the DHT by another relay
    await until(async () => {
      for (const r of relays) {
        let found = false
        for await (const e of relays[(relays.indexOf(r) + 1) % 3].host.services.dht.get(descriptorKey(r.peerId), { signal: AbortSignal.timeout(5_000) })) {
          if (e.name === 'VALUE') found = true
        }
        if (!found) return false
      }
      return true
    }, 60_000, 'DHT records')
    for (const r of relays) expect(r.status().subnetRules).toBe(true)
  })

  it('every relay rejects a flipped-byte, foreign-key or expired descriptor', async () => {
    const key = await relayKey()
    const foreign = await relayKey()
    const now = Date.now()
    const good = await signDescriptor(makeDescriptor(key, now), key)
    const flipped = good.bytes.slice(); flipped[flipped.length - 5] ^= 0x40
    const expired = await signDescriptor(makeDescriptor(key, now - 7_200_000, { onionKeys: [{ publicKey: generateX25519().publicKey, validFrom: now - 7_300_000, validUntil: now + 86_400_000 }] }), key)
    const k = descriptorKey(good.descriptor.peerId)
    const foreignKey = descriptorKey(makeDescriptor(foreign, now).peerId)
    // an attacker relay host joins and pushes the bad records to everyone it can reach
    const attacker = await createRelayHost({ privateKey: await relayKey(), listen: ['/ip4/127.9.0.1/tcp/0'], clock: systemClock, allowPrivateAddresses: true })
    await attacker.start()
    try {
      for (const r of relays) await attacker.dial(multiaddr(bootOf(r)))
      await new Promise(resolve => setTimeout(resolve, 500))
      for (const [key2, value] of [[k, flipped], [foreignKey, good.bytes], [k, expired.bytes]] as const) {
        const refusedBy = new Set<string>()
        const acceptedBy = new Set<string>()
        for await (const e of attacker.services.dht.put(key2, value, { signal: AbortSignal.timeout(30_000) })) {
          if (e.name === 'QUERY_ERROR') refusedBy.add(e.from.toString())
          if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') acceptedBy.add(e.from.toString())
        }
        for (const r of relays) {
          expect(acceptedBy.has(r.peerId.toString())).toBe(false)
          expect(refusedBy.has(r.peerId.toString())).toBe(true)
        }
      }
      // and no relay took the bad relay into its directory
      for (const r of relays) {
        expect(r.directory.has(good.descriptor.peerId.toString())).toBe(false)
        expect(r.directory.has(makeDescriptor(foreign, now).peerId.toString())).toBe(false)
      }
    } finally {
      await attacker.stop()
    }
  })

  it('a client host gets a complete directory through its entry relays only, and no DHT records it', async () => {
    const client = await startClientNode({ bootstrap: relays.map(bootOf), entryCount: 2, minDirectory: 3 })
    try {
      await client.ready
      expect(client.directory.confirmed(2).map(e => e.descriptor.peerId.toString()).sort()).toEqual(relays.map(r => r.peerId.toString()).sort())
      expect(client.host.getMultiaddrs()).toEqual([])
      expect(client.host.getProtocols()).toEqual([])
      const entryIds = new Set(client.entries.map(e => e.peerId.toString()))
      const me = client.peerId.toString()
      for (const r of relays) {
        const st = r.status()
        const seen = Object.keys(st.peersSeen).includes(me)
        expect(seen).toBe(entryIds.has(r.peerId.toString()))
        expect(st.dhtPeersEver).not.toContain(me)
      }
      // the client dialled nobody else
      expect(new Set(client.host.getConnections().map(c => c.remotePeer.toString()))).toEqual(entryIds)
    } finally {
      await client.stop()
    }
    const again = await startClientNode({ bootstrap: relays.map(bootOf), minDirectory: 3 })
    try {
      expect(again.peerId.toString()).not.toBe(client.peerId.toString())
    } finally { await again.stop() }
  })

  it('links carry cells in order, batched, both ways', async () => {
    const [a, b] = relays
    const got: number[] = []
    const back: number[] = []
    const la = await a.links.get(b.peerId)
    const n = 2000
    // relay b's link manager delivers to its onCell hook; observe through a second manager on a fresh protocol
    const { LinkManager } = await import('../../src/overlay/index.ts')
    const ma = new LinkManager(a.host, { cellSize: 2048, protocol: '/veil/link-test/1.0.0', onCell: (c) => { back.push(c[0] | (c[1] << 8)) } })
    const mb = new LinkManager(b.host, {
      cellSize: 2048,
      protocol: '/veil/link-test/1.0.0',
      onCell: (c, link) => {
        got.push(c[0] | (c[1] << 8))
        link.send(c) // echo back
      }
    })
    await ma.start(); await mb.start()
    try {
      const link = await ma.get(b.peerId)
      for (let i = 0; i < n; i++) {
        const cell = new Uint8Array(2048)
        cell[0] = i & 0xff; cell[1] = i >> 8
        while (!link.send(cell)) await new Promise(resolve => setTimeout(resolve, 1))
      }
      await until(() => back.length === n, 20_000, 'echoed cells')
      expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
      expect(back).toEqual(got)
      expect(link.stats.sends).toBeLessThan(n) // batched
      expect(() => link.send(new Uint8Array(100))).toThrow(RangeError)
      await link.close()
      expect(link.closed).toBe(true)
      expect(link.send(new Uint8Array(2048))).toBe(false)
    } finally {
      await ma.stop(); await mb.stop()
    }
    expect(la.closed).toBe(false)
  })

  it('a link stream sends a window update only after half a window, a stock stream after every frame', async () => {
    const [a, b] = relays
    type Yamuxish = Stream & { recvWindow: number, recvWindowCapacity: number }
    const inbound: Record<string, Yamuxish> = {}
    const got: Record<string, number> = { link: 0, stock: 0 }
    const CELL = 2048
    for (const kind of ['link', 'stock'] as const) {
      await b.host.handle(`/veil/window-test-${kind}/1.0.0`, (stream, conn) => {
        inbound[kind] = stream as Yamuxish
        if (kind === 'link') new Link(stream, conn.remotePeer, { cellSize: CELL, onCell: () => { got.link++ } }) // eslint-disable-line no-new
        else stream.addEventListener('message', (evt) => { got.stock += evt.data.byteLength / CELL })
      })
    }
    try {
      const ls = await a.host.dialProtocol(b.peerId, '/veil/window-test-link/1.0.0')
      const link = new Link(ls, b.peerId, { cellSize: CELL, onCell: () => {} })
      const ss = await a.host.dialProtocol(b.peerId, '/veil/window-test-stock/1.0.0')
      expect(link.windowUpdatesHalved).toBe(true)
      // one data frame per cell: wait for each to arrive before the next
      for (let i = 1; i <= 40; i++) {
        link.send(new Uint8Array(CELL))
        ss.send(new Uint8Array(CELL))
        await until(() => got.link === i && got.stock === i, 5_000, `cell ${i}`)
      }
      const used = (s: Yamuxish): number => s.recvWindow - s.recvWindowCapacity
      // 40 cells = 80 KiB, under half of the 256 KiB window: the link's receiver has sent no update yet
      expect(used(inbound.link)).toBe(40 * CELL)
      // the stock stream refills its window after every frame
      expect(used(inbound.stock)).toBe(0)
      // past half a window the link's receiver refills, and flow never stalls over many windows
      for (let i = 0; i < 600; i++) { while (!link.send(new Uint8Array(CELL))) await new Promise(resolve => setTimeout(resolve, 1)) }
      await until(() => got.link === 640, 20_000, '600 more cells')
      expect(used(inbound.link)).toBeLessThanOrEqual(inbound.link.recvWindow / 2)
      link.abort(new Error('test over'))
      ss.abort(new Error('test over'))
    } finally {
      await b.host.unhandle('/veil/window-test-link/1.0.0')
      await b.host.unhandle('/veil/window-test-stock/1.0.0')
    }
  })

  it('a relay restarted on the same data dir keeps its peer id and onion keys', async () => {
    const r = relays[2]
    const id = r.peerId.toString()
    const keys = r.onionKeys.active().map(k => Buffer.from(k.publicKey).toString('hex'))
    await r.stop()
    const again = await startRelayNode({ dataDir: join(home.dir, 'r2'), listen: ['/ip4/127.3.0.1/tcp/0'], bootstrap: [bootOf(relays[0])], testnet: true })
    relays[2] = again
    expect(again.peerId.toString()).toBe(id)
    expect(again.onionKeys.active().map(k => Buffer.from(k.publicKey).toString('hex'))).toEqual(keys)
    await until(() => again.directory.size === 3, 20_000, 'directory after restart')
  })
})
