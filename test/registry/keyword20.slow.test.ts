/**
 * The keyword index on a 20-relay in-process loopback testnet (127.1–20.0.1): providers
 * announce listed tools with STORE_ENTRY to the storers of both placement keys, over
 * circuits; a consumer finds them by keyword with FETCH_ENTRIES, over circuits.
 *
 *   - two providers listing one keyword are both found (any spelling that normalises alike)
 *   - 1,000 low-effort junk entries, sent over the network from 1,000 junk identities until
 *     every storer's set for the keyword is full, do not evict the genuine, higher-effort ones
 *   - forged, stale (replayed older revision) and wrong-key entries are refused by storers
 *   - no relay starts a DHT query because of these cells; a middle hop refuses to answer
 *
 * The storers' per-second entry limit is raised for the junk sender only because the test
 * must actually fill the sets within seconds; the per-circuit limit is the default (the junk
 * sender uses many circuits, as an attacker would).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRegistryNet, type RegistryNet, type NetClient } from './net.ts'
import { countDhtQueries } from './dht-spy.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { buildEntry, decodeEntry, encodeEntry, keywordIndexKey } from '../../src/registry/keyword.ts'
import { keywordPlacementKeys, type EntryToPublish } from '../../src/registry/client.ts'
import { storeEntry, fetchEntries, encodeStoreEntry, encodeFetchEntries, decodeEntries } from '../../src/registry/index-store.ts'
import { StoreChannel, StoreStatus, decodeStored } from '../../src/registry/store.ts'
import { testnetParams } from '../../src/registry/params.ts'
import {
  MAX_ENTRIES_PER_KEY, MIN_KEYWORD_EFFORT, DEFAULT_MAX_ENTRY_STORES_PER_CIRCUIT, RELAY_REGISTRY_STORE_ENTRY, RELAY_REGISTRY_STORED_ENTRY,
  RELAY_REGISTRY_FETCH_ENTRIES, RELAY_REGISTRY_ENTRIES
} from '../../src/registry/constants.ts'
import { periodAt } from '../../src/registry/time.ts'
import { systemRng } from '../../src/registry/primitives.ts'

const N = 20
// a long testnet period: the test's entries must stay in one period
const params = testnetParams(3600, { eligibilityAgeMs: 0 })
const KEYWORD = 'Weather'
const GENUINE_EFFORT = 12
const JUNK = 1000
let net: RegistryNet
let consumer: NetClient
let publisherA: NetClient
let attacker: NetClient
const a = ProviderIdentity.generate(systemRng)
const b = ProviderIdentity.generate(systemRng)

const summaryOf = (id: ProviderIdentity, toolName: string): Parameters<typeof buildEntry>[2] => ({
  toolName, version: '1.0.0', fingerprint: new Uint8Array(32).fill(7), description: `${toolName} by a test provider`, address: id.address.text
})
const entry = (id: ProviderIdentity, kw: string, toolName: string, effort: number, nowMs = Date.now()): EntryToPublish => {
  const period = periodAt(nowMs, params.periods)
  return {
    indexKey: keywordIndexKey(kw, period),
    bytes: buildEntry(id, kw, summaryOf(id, toolName), { nowMs, periods: params.periods, period, rng: systemRng, effort, lifetimeSeconds: params.lifetimeSeconds })
  }
}

beforeAll(async () => {
  net = await startRegistryNet(N, params, { readyMs: 75_000, indexLimits: { maxStoresPerSecond: 100_000 } })
  publisherA = await net.client({ entries: [3, 4] })
  consumer = await net.client({ entries: [0, 1] })
  attacker = await net.client({ entries: [5, 6] })
}, 150_000)

afterAll(async () => { await net?.stop() }, 60_000)

describe(`keyword index on ${N} relays`, { timeout: 240_000 }, () => {
  it('two providers listing one keyword are both found; other keywords find nothing; no DHT query follows any cell', async () => {
    const spy = countDhtQueries(net.relays)
    const published = await publisherA.registry.publishEntries([
      entry(a, KEYWORD, 'forecast', GENUINE_EFFORT),
      entry(a, 'maps', 'forecast', GENUINE_EFFORT)
    ])
    expect(published.ok).toBe(true)
    expect(published.placed).toBe(2)
    const publishedB = await publisherA.registry.publishEntries([entry(b, '  WEATHER ', 'rain_radar', GENUINE_EFFORT)])
    expect(publishedB.ok).toBe(true)

    const found = await consumer.registry.searchKeyword('weather')
    expect(found.storersAnswered).toBeGreaterThanOrEqual(1)
    expect(found.entries.map(e => e.summary.address).sort()).toEqual([a.address.text, b.address.text].sort())
    expect(found.entries.find(e => e.summary.address === b.address.text)?.summary.toolName).toBe('rain_radar')
    expect((await consumer.registry.searchKeyword('maps')).entries.map(e => e.summary.address)).toEqual([a.address.text])
    expect((await consumer.registry.searchKeyword('nobody-announces-this')).entries).toEqual([])
    expect(spy.cells()).toBeGreaterThan(10)
    expect(spy.causedByCells()).toBe(0)
    spy.restore()
  })

  it(`${JUNK} low-effort junk entries over the network fill every storer's set but evict no genuine entry`, async () => {
    const period = periodAt(Date.now(), params.periods)
    const indexKey = keywordIndexKey(KEYWORD, period)
    const junk: EntryToPublish[] = []
    for (let i = 0; i < JUNK; i++) junk.push(entry(ProviderIdentity.generate(systemRng), KEYWORD, `junk${i}`, MIN_KEYWORD_EFFORT))
    // the attacker sends as many per circuit as a storer allows, on as many circuits as it likes
    let refusedLowEffort = 0
    for (let off = 0; off < junk.length; off += DEFAULT_MAX_ENTRY_STORES_PER_CIRCUIT) {
      const r = await attacker.registry.publishEntries(junk.slice(off, off + DEFAULT_MAX_ENTRY_STORES_PER_CIRCUIT))
      refusedLowEffort += r.results.reduce((n, x) => n + (x.sent - x.acknowledged), 0)
    }
    // the storers of the keyword's placement keys: every set full, genuine entries still held
    const storers = new Set(consumer.registry.storers(keywordPlacementKeys(indexKey)).flat())
    const held = net.relays.filter(r => storers.has(r.node.peerId.toString()))
    expect(held.length).toBeGreaterThan(0)
    for (const r of held) expect(r.registry.index.counters.entries).toBeGreaterThanOrEqual(MAX_ENTRIES_PER_KEY)
    expect(refusedLowEffort).toBeGreaterThan(0) // full sets refused the rest of the junk
    const lowEffortRefusals = held.reduce((n, r) => n + (r.registry.index.counters.storesRejected.low_effort ?? 0), 0)
    expect(lowEffortRefusals).toBeGreaterThan(0)

    const found = await consumer.registry.searchKeyword(KEYWORD)
    const addresses = new Set(found.entries.map(e => e.summary.address))
    expect(addresses.has(a.address.text)).toBe(true)
    expect(addresses.has(b.address.text)).toBe(true)
    expect(found.entries.length).toBeLessThanOrEqual(2 * MAX_ENTRIES_PER_KEY)
  })

  it('forged, replayed-older and wrong-key entries are refused by a storer; a middle hop answers nothing', async () => {
    const period = periodAt(Date.now(), params.periods)
    const indexKey = keywordIndexKey('maps', period)
    const storer = consumer.registry.storers(keywordPlacementKeys(indexKey))[0][0]
    const older = entry(a, 'maps', 'forecast', GENUINE_EFFORT, Date.now() - 5_000)
    const newer = entry(a, 'maps', 'forecast', GENUINE_EFFORT)
    const forged = decodeEntry(newer.bytes)
    const forgedBytes = encodeEntry({ ...forged, signature: forged.signature.map((x, i) => i === 0 ? x ^ 1 : x) })
    const circuit = await attacker.registry.circuitTo(storer)
    try {
      const ch = new StoreChannel(circuit)
      expect(await storeEntry(ch, indexKey, newer.bytes)).toBe(StoreStatus.OK)
      expect(await storeEntry(ch, indexKey, older.bytes)).toBe(StoreStatus.STALE)
      expect(await storeEntry(ch, indexKey, forgedBytes)).toBe(StoreStatus.INVALID)
      expect(await storeEntry(ch, keywordIndexKey('other', period), newer.bytes)).toBe(StoreStatus.INVALID)
      const got = await fetchEntries(ch, indexKey)
      expect(got.some(e => Buffer.from(e).equals(Buffer.from(newer.bytes)))).toBe(true)
    } finally { circuit.destroy() }
    // any circuit's middle hop refuses both, answering nothing but NOT_LAST_HOP
    const c2 = await attacker.registry.circuitTo(storer)
    try {
      const replies: Array<{ command: number, status: number, entries: number }> = []
      const both = new Promise<void>(resolve => {
        c2.onCommand = (hop, cell) => {
          if (hop !== 1) return
          if (cell.command === RELAY_REGISTRY_STORED_ENTRY) replies.push({ command: cell.command, status: decodeStored(cell.data)!.status, entries: 0 })
          if (cell.command === RELAY_REGISTRY_ENTRIES) { const e = decodeEntries(cell.data)!; replies.push({ command: cell.command, status: e.status, entries: e.entries.length }) }
          if (replies.length === 2) resolve()
        }
      })
      c2.sendRelay(1, RELAY_REGISTRY_STORE_ENTRY, 0, encodeStoreEntry(7, indexKey, newer.bytes))
      c2.sendRelay(1, RELAY_REGISTRY_FETCH_ENTRIES, 0, encodeFetchEntries(8, 0, indexKey))
      await both
      expect(replies).toEqual([
        { command: RELAY_REGISTRY_STORED_ENTRY, status: StoreStatus.NOT_LAST_HOP, entries: 0 },
        { command: RELAY_REGISTRY_ENTRIES, status: StoreStatus.NOT_LAST_HOP, entries: 0 }
      ])
    } finally { c2.destroy() }
  })
})
