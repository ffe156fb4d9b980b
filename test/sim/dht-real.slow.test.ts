/**
 * The simulator's DHT model against the real thing: 50 kad-dht relay hosts in this
 * process on 127.x loopback addresses (real libp2p, Veil's private protocol), lookups
 * instrumented from kad-dht's query events, and the same lookups simulated at N = 50
 * with kad-dht's parameters. Mean hops must agree within ±1.
 *
 * Hops, in both: a contact of the querying node's own routing table is hop 1; a peer
 * first learned from a hop-h peer's answer is hop h+1; a lookup's hops = the hop of the
 * key's closest node (by XOR of kad ids) when it answered.
 */
import { describe, it, expect, afterAll } from 'vitest'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { createRelayHost, systemClock, type RelayHost } from '../../src/overlay/index.ts'
import { relayKadId, keyKadId } from '../../src/registry/placement.ts'
import { runDht, KAD_K, KAD_ALPHA, KAD_DISJOINT_PATHS, KAD_PREFIX_LENGTH } from '../../sim/dht.ts'
import { relayKey } from '../overlay/helpers.ts'

const N = 50
const LOOKUPS = 40
const hosts: RelayHost[] = []

afterAll(async () => { await Promise.all(hosts.map(async h => { await h.stop() })) }, 60_000)

function xorLess (a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const x = a[i] ^ target[i]; const y = b[i] ^ target[i]
    if (x !== y) return x - y
  }
  return 0
}

describe('DHT model vs instrumented kad-dht at N = 50', { timeout: 300_000 }, () => {
  it('mean lookup hops agree within ±1', async () => {
    for (let i = 0; i < N; i++) {
      const h = await createRelayHost({ privateKey: await relayKey(), listen: [`/ip4/127.${100 + Math.floor(i / 200)}.${i % 200}.1/tcp/0`], clock: systemClock, allowPrivateAddresses: true, inboundConnectionThreshold: 1000 })
      await h.start()
      hosts.push(h)
    }
    // a ring plus a few random links, dialled in bounded batches (ANCHORS: loopback networks)
    const addr = (h: RelayHost) => h.getMultiaddrs()[0]
    const links: Array<[number, number]> = []
    for (let i = 0; i < N; i++) { links.push([i, (i + 1) % N]); links.push([i, (i + 7) % N]) }
    for (let i = 0; i < links.length; i += 10) {
      await Promise.all(links.slice(i, i + 10).map(async ([a, b]) => { await hosts[a].dial(multiaddr(addr(hosts[b]).toString())).catch(() => {}) }))
    }
    // let routing tables settle: every table ≥ 3 peers, then a refresh round
    const deadline = Date.now() + 120_000
    const rtSize = (h: RelayHost): number => { const rt: unknown = Reflect.get(h.services.dht, 'routingTable'); const s: unknown = rt === undefined ? 0 : Reflect.get(rt as object, 'size'); return typeof s === 'number' ? s : 0 }
    while (hosts.some(h => rtSize(h) < 3)) {
      if (Date.now() > deadline) throw new Error(`routing tables did not fill: ${hosts.map(h => `${rtSize(h)}/${h.getConnections().length}`).join(' ')}`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    await Promise.all(hosts.map(async h => { await h.services.dht.refreshRoutingTable().catch(() => {}) }))
    await new Promise(resolve => setTimeout(resolve, 3_000))

    const kad = new Map(hosts.map(h => [h.peerId.toString(), relayKadId(h.peerId.toMultihash().bytes)]))
    const hops: number[] = []
    for (let l = 0; l < LOOKUPS; l++) {
      const querier = hosts[l % N]
      const key = new Uint8Array(randomBytes(32))
      const target = keyKadId(key)
      const others = [...kad.entries()].filter(([id]) => id !== querier.peerId.toString())
      others.sort((a, b) => xorLess(a[1], b[1], target))
      const closest = others[0][0]
      const depth = new Map<string, number>()
      let found = -1
      for await (const e of querier.services.dht.getClosestPeers(key, { signal: AbortSignal.timeout(30_000) })) {
        if (e.name === 'SEND_QUERY' && !depth.has(e.to.toString())) depth.set(e.to.toString(), 1)
        if (e.name === 'PEER_RESPONSE') {
          const d = depth.get(e.from.toString()) ?? 1
          if (e.from.toString() === closest && found < 0) found = d
          for (const p of e.closer) if (!depth.has(p.id.toString())) depth.set(p.id.toString(), d + 1)
        }
      }
      if (found > 0) hops.push(found)
    }
    const realMean = hops.reduce((a, b) => a + b, 0) / hops.length
    const sim = runDht({ nodes: N, k: KAD_K, alpha: KAD_ALPHA, disjointPaths: KAD_DISJOINT_PATHS, prefixLength: KAD_PREFIX_LENGTH, table: 'kad-dht', lookups: 500, churn: 0, adversary: 0 }, 1)
    process.stdout.write(`dht N=${N}: real kad-dht mean hops ${realMean.toFixed(2)} over ${hops.length}/${LOOKUPS} lookups that reached the closest node; sim ${sim.meanHops.toFixed(2)} (success ${sim.successRate})\n`)
    expect(hops.length).toBeGreaterThanOrEqual(LOOKUPS * 0.9)
    expect(Math.abs(realMean - sim.meanHops)).toBeLessThanOrEqual(1)
  })
})
