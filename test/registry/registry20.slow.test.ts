/**
 * The registry on a 20-relay in-process loopback testnet (127.1–20.0.1): a provider's
 * publisher (a client node) keeps its descriptors for the current and next period on
 * their storers; a consumer that knows only the address finds and opens the descriptor,
 * reaches the `public` provider over a circuit ending at its relay and gets a catalogue
 * matching the digest. No storer's datastore holds A, the ML-DSA key, its hash, the
 * address or an unlisted tool's name (raw, hex, base32, base64); no relay starts a DHT
 * query in response to a relay cell; client hosts connect only to their entry relays.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRegistryNet, type RegistryNet, type NetClient } from './net.ts'
import { countDhtQueries } from './dht-spy.ts'
import { assertNoLeak } from './leak.ts'
import { servePublicProvider, relayIdOf, relayDatastore } from '../../src/node/registry-glue.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { buildDescriptor } from '../../src/registry/descriptor.ts'
import { signCatalogue } from '../../src/registry/catalogue.ts'
import { makeToolRecord } from '../../src/registry/tool.ts'
import { testnetParams } from '../../src/registry/params.ts'
import { Publisher } from '../../src/registry/publisher.ts'
import { systemRng, sha3_256 } from '../../src/registry/primitives.ts'
import { secureRng, systemClock } from '../../src/overlay/index.ts'
import { periodAt } from '../../src/registry/time.ts'

const N = 20
const PROVIDER_RELAY = N - 1
const params = testnetParams(600, { eligibilityAgeMs: 0 })
const UNLISTED = 'unlisted-secret-tool-7f3a'
let net: RegistryNet
let consumer: NetClient
let providerClient: NetClient
let publisher: Publisher
const id = ProviderIdentity.generate(systemRng)
const tools = [
  makeToolRecord({ name: 'echo', description: 'Echo back', inputSchema: { type: 'object' } }, '1.0.0', ['test'], id.address.text),
  makeToolRecord({ name: UNLISTED, description: 'Only with the address', inputSchema: { type: 'object' } }, '0.1.0', [], id.address.text)
]
const cat = signCatalogue(id, { provider: id.address.text, serial: 1, issuedAt: Math.floor(Date.now() / 1000), tools }, systemRng)

beforeAll(async () => {
  net = await startRegistryNet(N, params, { readyMs: 75_000 })
  servePublicProvider(net.relays[PROVIDER_RELAY].onion, { catalogue: () => cat.bytes, call: async (b) => b })
  providerClient = await net.client({ entries: [3, 4] })
  consumer = await net.client({ entries: [0, 1] })
  const relay = net.relays[PROVIDER_RELAY].node.peerId.toMultihash().bytes
  publisher = new Publisher({
    clock: systemClock,
    rng: secureRng,
    params,
    build: (period, nowMs) => buildDescriptor(id, {
      nowMs, period, rng: systemRng, periods: params.periods, lifetimeSeconds: params.lifetimeSeconds,
      reach: { mode: 'public', relay }, pow: null, catalogue: { digest: cat.digest, version: 1 }
    }),
    publish: async (d) => providerClient.registry.publish(d)
  })
}, 120_000)

afterAll(async () => {
  publisher?.stop()
  await net?.stop()
}, 60_000)

describe(`registry on ${N} relays`, { timeout: 60_000 }, () => {
  it('publish (current + next period) → lookup by address → public provider → catalogue matching the digest; no DHT query from cells', async () => {
    const spy = countDhtQueries(net.relays)
    const before = periodAt(Date.now(), params.periods)
    await publisher.start()
    const after = periodAt(Date.now(), params.periods)
    expect(publisher.last.map(r => r.ok)).toEqual([true, true])
    expect(publisher.last.map(r => r.attempted)).toEqual([8, 8])
    // testnet periods are short: a boundary may fall while publishing, so the current
    // period is the one at the start or at the end of the publish
    const p = publisher.last[0].period
    expect([before, after]).toContain(p)
    expect(publisher.last.map(r => r.period)).toEqual([p, p + 1])
    expect(publisher.dueAt).toBeLessThan(Infinity)

    const lookups: number[] = []
    const attempts: number[] = []
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now()
      const f = await consumer.registry.fetchDescriptor(id.address.text)
      lookups.push(performance.now() - t0)
      attempts.push(f.attempts)
      expect(f.opened.reach.mode).toBe('public')
      expect(f.opened.catalogue.digest).toEqual(cat.digest)
      if (i === 0) {
        const session = await consumer.registry.connectPublic(id.address.text, f.opened, relayIdOf)
        const c = await session.catalogue()
        expect(c.tools.map(t => t.definition.name).sort()).toEqual(['echo', UNLISTED].sort())
        expect(await session.call(new TextEncoder().encode('hi'))).toEqual(new TextEncoder().encode('hi'))
        await session.close()
      }
    }
    expect(spy.cells()).toBeGreaterThan(16)
    expect(spy.causedByCells()).toBe(0)
    spy.restore()
    console.log(`lookups (ms): ${lookups.map(x => x.toFixed(0)).join(' ')}; circuits per lookup: ${attempts.join(' ')}`)
  })

  it('no storer\'s datastore holds A, the ML-DSA key, its hash, the address or an unlisted tool name', async () => {
    const storers = new Set<string>()
    for (const r of publisher.last) for (const x of r.results) storers.add(x.storer)
    expect(storers.size).toBeGreaterThanOrEqual(8)
    let records = 0
    for (const r of net.relays) {
      if (!storers.has(r.node.peerId.toString())) continue
      const hay: Uint8Array[] = []
      for await (const { key, value } of relayDatastore(r.node).query({})) {
        hay.push(new TextEncoder().encode(key.toString()), value)
      }
      records += r.registry.storer.counters.records['veil-desc']
      assertNoLeak(hay, [
        { label: 'A', value: id.identityKey },
        { label: 'ML-DSA public key', value: id.mldsa.publicKey },
        { label: 'ML-DSA key hash', value: sha3_256(id.mldsa.publicKey) },
        { label: 'address', value: id.address.text },
        { label: 'unlisted tool name', value: UNLISTED }
      ])
    }
    // every acknowledged STORE left a record (a STALE ack means an equal one was already there)
    expect(records).toBeGreaterThanOrEqual(publisher.last.reduce((n, r) => n + r.results.filter(x => x.result === 'ok').length, 0))
  })

  it('client hosts connect only to their entry relays; other relays never see their peer ids', async () => {
    for (const c of [consumer, providerClient]) {
      const entries = new Set(c.node.entries.map(e => e.peerId.toString()))
      const remotes = new Set(c.node.host.getConnections().map(x => x.remotePeer.toString()))
      for (const r of remotes) expect(entries.has(r)).toBe(true)
      const me = c.node.peerId.toString()
      for (const r of net.relays) {
        if (entries.has(r.node.peerId.toString())) continue
        expect(Object.keys(r.node.status().peersSeen)).not.toContain(me)
      }
    }
  })
})
