/**
 * The registry over a 6-relay in-process testnet: STORE/FETCH relay commands at the last
 * hop, publish to every storer, lookup by address, a `public` provider reached over a
 * circuit ending at its relay, the catalogue checked against the descriptor's digest;
 * storers' limits; and no DHT query caused by a relay cell.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRegistryNet, type RegistryNet, type NetClient } from './net.ts'
import { servePublicProvider, relayIdOf } from '../../src/node/registry-glue.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { buildDescriptor, decodeOuter } from '../../src/registry/descriptor.ts'
import { signCatalogue, verifyCatalogue } from '../../src/registry/catalogue.ts'
import { makeToolRecord } from '../../src/registry/tool.ts'
import { testnetParams } from '../../src/registry/params.ts'
import { StoreChannel, StoreStatus, encodeStoreChunks, decodeStored } from '../../src/registry/store.ts'
import { RELAY_REGISTRY_STORE, RELAY_REGISTRY_STORED } from '../../src/registry/constants.ts'
import { systemRng } from '../../src/registry/primitives.ts'
import { periodAt } from '../../src/registry/time.ts'
import { countDhtQueries } from './dht-spy.ts'

const N = 6
const params = testnetParams(600, { eligibilityAgeMs: 0 })
let net: RegistryNet
let consumer: NetClient
let publisher: NetClient
const id = ProviderIdentity.generate(systemRng)
const tools = [makeToolRecord({ name: 'echo', description: 'Echo back', inputSchema: { type: 'object' } }, '1.0.0', ['test'], id.address.text)]
const cat = signCatalogue(id, { provider: id.address.text, serial: 1, issuedAt: Math.floor(Date.now() / 1000), tools }, systemRng)
const build = (period?: number) => buildDescriptor(id, {
  nowMs: Date.now(), rng: systemRng, periods: params.periods, period, lifetimeSeconds: params.lifetimeSeconds,
  reach: { mode: 'public', relay: net.relays[N - 1].node.peerId.toMultihash().bytes }, pow: null, catalogue: { digest: cat.digest, version: 1 }
})

beforeAll(async () => {
  net = await startRegistryNet(N, params)
  servePublicProvider(net.relays[N - 1].onion, { catalogue: () => cat.bytes, call: async (b) => b.slice().reverse() })
  publisher = await net.client({ entries: [2, 3] })
  consumer = await net.client({ entries: [0, 1] })
}, 90_000)

afterAll(async () => { await net?.stop() }, 30_000)

describe('registry over circuits', { timeout: 45_000 }, () => {
  it('publish reaches every storer; a consumer finds, opens and uses a public provider; no DHT query follows any cell', async () => {
    const spy = countDhtQueries(net.relays)
    const d = build()
    const res = await publisher.registry.publish(d)
    expect(res.attempted).toBe(N) // 6 relays: replica 0 gets 4 storers, replica 1 the other 2
    expect(res.ok).toBe(true)
    expect(res.acknowledged).toBe(N)
    // each storer holds exactly its replica's record, in its kad-dht record store
    const placed = publisher.registry.storers(d.records.map(r => r.dhtKey))
    for (const [replica, ids] of placed.entries()) {
      for (const sid of ids) {
        const r = net.relays.find(x => x.node.peerId.toString() === sid)!
        expect(r.registry.storer.counters.storesAccepted).toBeGreaterThan(0)
        expect(r.registry.storer.counters.records['veil-desc']).toBe(1)
        expect(decodeOuter(d.records[replica].bytes).replica).toBe(replica)
      }
    }
    const t0 = performance.now()
    const f = await consumer.registry.fetchDescriptor(id.address.text)
    const lookupMs = performance.now() - t0
    expect(f.opened.reach.mode).toBe('public')
    expect(f.opened.period).toBe(periodAt(Date.now(), params.periods))
    expect(f.opened.catalogue.digest).toEqual(cat.digest)
    const session = await consumer.registry.connectPublic(id.address.text, f.opened, relayIdOf)
    const c = await session.catalogue()
    expect(c.tools.map(t => t.definition.name)).toEqual(['echo'])
    expect(await session.call(Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(3, 2, 1))
    await session.close()
    expect(spy.cells()).toBeGreaterThan(N)
    expect(spy.causedByCells()).toBe(0)
    spy.restore()
    expect(lookupMs).toBeLessThan(5_000)
    // the storer counts show up in `veil status`
    const st = net.relays[0].node.status().sections.registry as { limits: { maxStoresPerCircuit: number } }
    expect(st.limits.maxStoresPerCircuit).toBe(2)
  })

  it('the next period\'s descriptor goes to other keys; a tampered catalogue is refused', async () => {
    const p = periodAt(Date.now(), params.periods)
    const next = build(p + 1)
    const res = await publisher.registry.publish(next)
    expect(res.ok).toBe(true)
    expect(next.blindedKey).not.toEqual(build().blindedKey)
    const tampered = cat.bytes.slice(); tampered[40] ^= 1
    expect(() => verifyCatalogue(id.address.text, tampered, cat.digest)).toThrow()
  })

  it('storer limits: STOREs per circuit, stale revisions, refusal at a middle hop, unknown keys', async () => {
    const d = build()
    const storer = publisher.registry.storers(d.records.map(r => r.dhtKey))[0][0]
    const circuit = await publisher.registry.circuitTo(storer)
    const ch = new StoreChannel(circuit)
    // the same revision again: the selector keeps the held one (or OK when this second is newer)
    const s1 = await ch.store(d.records[0].dhtKey, d.records[0].bytes)
    expect([StoreStatus.OK, StoreStatus.STALE]).toContain(s1)
    expect(await ch.store(d.records[0].dhtKey, d.records[0].bytes)).toBe(StoreStatus.STALE)
    expect(await ch.store(d.records[0].dhtKey, d.records[0].bytes)).toBe(StoreStatus.RATE_LIMITED) // 2 per circuit
    // an unknown key: nothing
    expect(await ch.fetch(new TextEncoder().encode('/veil-desc/' + 'x'.repeat(32)))).toBeUndefined()
    circuit.destroy()

    // a STORE aimed at the middle hop is refused there
    const c2 = await publisher.registry.circuitTo(storer)
    const reply = new Promise<number>(resolve => { c2.onCommand = (hop, cell) => { if (hop === 1 && cell.command === RELAY_REGISTRY_STORED) resolve(decodeStored(cell.data)!.status) } })
    for (const chunk of encodeStoreChunks(7, d.records[0].dhtKey, d.records[0].bytes)) c2.sendRelay(1, RELAY_REGISTRY_STORE, 0, chunk)
    expect(await reply).toBe(StoreStatus.NOT_LAST_HOP)
    c2.destroy()

    // a forged record (flipped signature byte) is invalid
    const c3 = await publisher.registry.circuitTo(storer)
    const bad = d.records[0].bytes.slice(); bad[bad.length - 5] ^= 1
    expect(await new StoreChannel(c3).store(d.records[0].dhtKey, bad)).toBe(StoreStatus.INVALID)
    c3.destroy()
  })
})
