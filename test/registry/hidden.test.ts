/**
 * Hidden providers on a 12-relay in-process testnet: introduction points established by
 * a provider whose host links only to its one guard; a client that knows the address
 * fetches the descriptor, reaches the provider through a rendezvous circuit, gets the
 * catalogue matching the digest and makes a call (no relay starts a DHT query because of
 * any of those cells); replayed introductions, reused cookies and a forged ESTABLISH_INTRO
 * are refused; the provider's host links only to its guard (its view and every relay's).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRegistryNet, type RegistryNet, type NetClient } from './net.ts'
import { startHiddenProvider, hiddenClientOf, sessionOver, type HiddenProvider } from './hidden-net.ts'
import { testnetParams } from '../../src/registry/params.ts'
import { HsStatus, encodeEstablishIntro, establishIntroSigned } from '../../src/registry/hs-codec.ts'
import { RELAY_ESTABLISH_INTRO, RELAY_INTRO_ESTABLISHED } from '../../src/registry/constants.ts'
import { hiddenNetwork } from '../../src/node/registry-glue.ts'
import { awaitCommand } from '../../src/registry/hs-wait.ts'
import { ExpandedEd25519Key, systemRng } from '../../src/registry/primitives.ts'
import { countDhtQueries } from './dht-spy.ts'
import { ECHO_TARGET } from '../../src/onion/index.ts'
import type { HiddenClient } from '../../src/registry/hidden-client.ts'

const N = 12
const params = testnetParams(600, { eligibilityAgeMs: 0 })
let net: RegistryNet
let provider: HiddenProvider
let consumer: NetClient
let hc: HiddenClient

beforeAll(async () => {
  net = await startRegistryNet(N, params)
  provider = await startHiddenProvider(net, params, 0)
  consumer = await net.client({ entries: [1, 2] })
  hc = hiddenClientOf(consumer)
}, 90_000)

afterAll(async () => { await provider?.stop(); await net?.stop() }, 30_000)

describe('hidden providers', { timeout: 45_000 }, () => {
  it('introduction points: 3 circuits G L2 M IP, established at relays that are not the guard', () => {
    const ips = provider.service.introPointKeys()
    expect(ips.length).toBe(3)
    const holding = net.relays.filter(r => r.registry.intro.size > 0).map(r => r.node.peerId.toString())
    expect(holding.length).toBe(3)
    expect(holding).not.toContain(provider.guard)
    for (const c of provider.client.circuits.client.circuits()) expect(c.path[0].peer).toBe(provider.guard)
  })

  it('a client that knows the address reaches the provider through a rendezvous circuit: catalogue, call, bulk echo', async () => {
    // the provider keeps pre-built rendezvous prefixes: let the first exist
    for (let i = 0; i < 200 && provider.service.prebuilt.built < 1; i++) await new Promise(resolve => setTimeout(resolve, 50))
    const spy = countDhtQueries(net.relays)
    const t0 = performance.now()
    const f = await consumer.registry.fetchDescriptor(provider.id.address.text)
    expect(f.opened.reach.mode).toBe('hidden')
    const t1 = performance.now()
    const conn = await hc.connect(f.opened)
    const t2 = performance.now()
    expect(conn.path.length).toBe(3)
    expect(conn.path.at(-1)).toBe(conn.rp)
    const session = await sessionOver(t => conn.openStream(t), provider.id.address.text, f.opened)
    const cat = await session.catalogue()
    expect(cat.tools.map(t => t.definition.name)).toEqual(['echo'])
    const t3 = performance.now()
    expect(await session.call(Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(3, 2, 1))
    const callMs = performance.now() - t3
    // bulk: 300 KB each way through the end-to-end window
    const echo = await conn.openStream(ECHO_TARGET)
    const big = new Uint8Array(300_000).map((_, i) => i & 0xff)
    await echo.send(big)
    expect(await echo.read()).toEqual(big)
    await echo.close()
    await session.close()
    conn.close()
    // no relay started a DHT query because of a relay cell (introduction, rendezvous, channel)
    expect(spy.cells()).toBeGreaterThan(100)
    expect(spy.causedByCells()).toBe(0)
    spy.restore()
    console.log(`hidden: lookup ${(t1 - t0).toFixed(0)} ms, rendezvous ${(t2 - t1).toFixed(0)} ms, call ${callMs.toFixed(1)} ms`)
    expect(provider.service.counters.rendezvous).toBeGreaterThanOrEqual(1)
    // the provider's rendezvous circuit was a pre-built G L2 M extended to the RP — unless
    // the client's random RP was that prefix's middle relay (about 1 run in 9 on 12 relays):
    // then a whole path was built, and the counter says so
    const pre = provider.service.prebuilt
    expect(pre.used + pre.targetOnPrefix).toBeGreaterThanOrEqual(1)
    if (pre.used === 0) console.log('hidden: the RP was on the provider\'s pre-built prefix; whole path built')
    const rv = provider.service.rendezvousPaths.at(-1)
    expect(rv?.length).toBe(4)
    expect(rv?.at(-1)).toBe(conn.rp)
    expect(rv?.[0]).toBe(provider.guard)
  })

  it('a channel side whose circuit dies at the RP (no RV_CLOSE sent) closes the other side at once', async () => {
    const f = await consumer.registry.fetchDescriptor(provider.id.address.text)
    // the provider's circuits and their lengths before: its rendezvous circuit is a new one or
    // a pre-built prefix that grew by the RP
    const before = new Map(provider.client.circuits.client.circuits().map(c => [c, c.hops]))
    const conn = await hc.connect(f.opened)
    const rpRelay = net.relays.find(r => r.node.peerId.toString() === conn.rp)
    expect(rpRelay).toBeDefined()
    const closedBefore = rpRelay!.registry.rendezvous.counters.closed
    // the provider's circuit to this RP, destroyed raw: what the RP sees when a relay on it dies
    // (an introduction circuit may end at the same relay: it is neither new nor grown; a
    // pre-built prefix being refilled may end there too: it has 3 hops)
    const theirs = provider.client.circuits.client.circuits().filter(c => c.hops === 4 && c.path.at(-1)?.peer === conn.rp && before.get(c) !== c.hops)
    expect(theirs.length).toBe(1)
    const gone = new Promise<string>(resolve => { conn.channel.onClose((err) => { resolve(err.message) }) })
    const t0 = performance.now()
    for (const c of theirs) c.destroy()
    const why = await Promise.race([gone, new Promise<string>(resolve => setTimeout(() => { resolve('still open after 5 s') }, 5_000))])
    expect(why).not.toBe('still open after 5 s')
    expect(rpRelay!.registry.rendezvous.counters.closed).toBeGreaterThanOrEqual(closedBefore + 2)
    console.log(`channel closed ${(performance.now() - t0).toFixed(0)} ms after the provider's side died at the RP: ${why}`)
    conn.close()
  })

  it('replayed introductions and reused cookies are refused', async () => {
    const f = await consumer.registry.fetchDescriptor(provider.id.address.text)
    let sent: { message: Uint8Array, ip: string } | undefined
    const conn = await hc.connect(f.opened, { onIntroduce: (message, ip) => { sent = { message, ip } } })
    conn.close()
    expect(sent).toBeDefined()
    // the IP refuses the same bytes again
    expect(await hc.sendIntroduction(sent!.ip, sent!.message, AbortSignal.timeout(10_000))).toBe(HsStatus.REPLAY)
    // the provider refuses it too (its own cache per intro key)
    expect(provider.service.acceptIntroduction(sent!.message)).toBe('replay')
    // a cookie works once: registering it again at the same RP is refused
    const cookie = new Uint8Array(20).fill(7)
    const c1 = await hc.establishRendezvous(conn.rp, cookie, AbortSignal.timeout(10_000))
    await expect(hc.establishRendezvous(conn.rp, cookie, AbortSignal.timeout(10_000))).rejects.toThrow(/REPLAY/)
    c1.destroy()
  })

  it('a forged ESTABLISH_INTRO (signature by another key) is refused', async () => {
    const hn = hiddenNetwork(consumer.node, consumer.circuits)
    const ip = hc.paths.endpoints()[0]
    const c = await hn.build(hc.paths.long(ip), AbortSignal.timeout(10_000))
    const k = ExpandedEd25519Key.fromSeed(systemRng(32))
    const other = ExpandedEd25519Key.fromSeed(systemRng(32))
    const reply = awaitCommand(c, 3, RELAY_INTRO_ESTABLISHED, AbortSignal.timeout(10_000), 'INTRO_ESTABLISHED')
    c.sendRelay(3, RELAY_ESTABLISH_INTRO, 0, encodeEstablishIntro({ authKey: k.publicKey, rate: 10, burst: 10, signature: other.sign(establishIntroSigned(k.publicKey, 10, 10)) }))
    expect((await reply).data[0]).toBe(HsStatus.BAD_SIGNATURE)
    c.destroy()
  })

  it('the provider\'s host links only to its guard (its own view and every relay\'s)', () => {
    const peers = new Set(provider.client.node.host.getConnections().map(c => c.remotePeer.toString()))
    expect([...peers]).toEqual([provider.guard])
    const me = provider.client.node.peerId.toString()
    for (const r of net.relays) {
      const linked = r.node.host.getConnections().some(c => c.remotePeer.toString() === me)
      expect(linked).toBe(r.node.peerId.toString() === provider.guard)
    }
  })
})
