/**
 * STORE_ENTRY / FETCH_ENTRIES at one storer, without a network: the cell codec (round
 * trips, malformed input refused, fast-check), the storer's answers and limits (last hop
 * only, per circuit, per second, index keys, total entries with eviction of the weakest
 * by work), and paging through a full set of 256.
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  IndexStorer, decodeEntries, decodeFetchEntries, decodeStoreEntry, encodeEntries, encodeFetchEntries, encodeStoreEntry
} from '../../src/registry/index-store.ts'
import { StoreStatus, decodeStored } from '../../src/registry/store.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { buildEntry, decodeEntry, entryEffort, keywordIndexKey } from '../../src/registry/keyword.ts'
import { testnetParams } from '../../src/registry/params.ts'
import { periodAt } from '../../src/registry/time.ts'
import { systemRng } from '../../src/registry/primitives.ts'
import { MAX_ENTRIES_PER_KEY, MIN_KEYWORD_EFFORT, RELAY_REGISTRY_ENTRIES, RELAY_REGISTRY_STORED_ENTRY } from '../../src/registry/constants.ts'
import { MAX_EXTENSION_REPLY_CELLS, RELAY_DATA_MAX } from '../../src/onion/constants.ts'

const params = testnetParams(3600)
const NOW = 1_800_000_000_000
const clockAt = (t: { now: number }) => ({ now: () => t.now })
const period = periodAt(NOW, params.periods)
const ids = Array.from({ length: 4 }, () => ProviderIdentity.generate(systemRng))
const entryFor = (id: ProviderIdentity, kw: string, effort: number, nowMs = NOW): Uint8Array => buildEntry(id, kw, {
  toolName: 'tool', version: '1.0.0', fingerprint: new Uint8Array(32), description: 'd', address: id.address.text
}, { nowMs, periods: params.periods, period, rng: systemRng, effort, lifetimeSeconds: params.lifetimeSeconds })

/** Solved work often exceeds its target: rebuild until the entry carries exactly `effort` bits (≈ 2 tries). */
const exactly = (id: ProviderIdentity, kw: string, effort: number): Uint8Array => {
  for (;;) {
    const e = entryFor(id, kw, effort)
    if (entryEffort(keywordIndexKey(kw, period), decodeEntry(e)) === effort) return e
  }
}

interface Reply { command: number, data: Uint8Array }
const ctx = (circuitKey: string, lastHop = true): { circuitKey: string, lastHop: boolean, reply: (c: number, s: number, d: Uint8Array) => void, replies: Reply[] } => {
  const replies: Reply[] = []
  return { circuitKey, lastHop, replies, reply: (command, _s, data) => { replies.push({ command, data }) } }
}
const storedStatus = (r: Reply): number => { expect(r.command).toBe(RELAY_REGISTRY_STORED_ENTRY); return decodeStored(r.data)!.status }

describe('index-store codec', () => {
  it('round-trips every cell; refuses malformed ones', () => {
    const key = keywordIndexKey('weather', period)
    const e = entryFor(ids[0], 'weather', MIN_KEYWORD_EFFORT)
    expect(e.length + 34).toBeLessThanOrEqual(RELAY_DATA_MAX)
    expect(decodeStoreEntry(encodeStoreEntry(9, key, e))).toEqual({ reqId: 9, indexKey: key, entry: e })
    expect(decodeFetchEntries(encodeFetchEntries(5, 300, key))).toEqual({ reqId: 5, offset: 300, indexKey: key })
    const cell = { reqId: 1, status: 0, last: true, total: 3, next: 3, entries: [e, e] }
    expect(decodeEntries(encodeEntries(cell))).toEqual(cell)
    expect(decodeEntries(encodeEntries({ ...cell, entries: [e, e, e] }))?.entries.length).toBe(3)
    expect(() => encodeEntries({ ...cell, entries: [e, e, e, e] })).toThrow() // four do not fit a cell
    expect(decodeStoreEntry(new Uint8Array(34))).toBeUndefined()
    expect(decodeFetchEntries(new Uint8Array(35))).toBeUndefined()
    const bad = encodeEntries(cell); bad[8] = 3 // count says 3, two present
    expect(decodeEntries(bad)).toBeUndefined()
  })

  it('arbitrary bytes decode to a value or undefined, never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: RELAY_DATA_MAX + 8 }), (b) => {
      decodeStoreEntry(b); decodeFetchEntries(b); decodeEntries(b)
    }), { numRuns: 2000 })
  })
})

describe('IndexStorer', () => {
  it('answers only as last hop; per-circuit and per-second limits; counts every refusal', () => {
    const t = { now: NOW }
    const s = new IndexStorer({ clock: clockAt(t), periods: params.periods, limits: { maxStoresPerCircuit: 2, maxStoresPerSecond: 3 } })
    const key = keywordIndexKey('weather', period)
    const mid = ctx('c0', false)
    s.onStoreEntry(mid, encodeStoreEntry(1, key, entryFor(ids[0], 'weather', MIN_KEYWORD_EFFORT)))
    expect(storedStatus(mid.replies[0])).toBe(StoreStatus.NOT_LAST_HOP)
    const c1 = ctx('c1')
    for (let i = 0; i < 3; i++) s.onStoreEntry(c1, encodeStoreEntry(i, key, entryFor(ids[i], 'weather', MIN_KEYWORD_EFFORT)))
    expect(c1.replies.map(storedStatus)).toEqual([StoreStatus.OK, StoreStatus.OK, StoreStatus.RATE_LIMITED])
    const c2 = ctx('c2')
    s.onStoreEntry(c2, encodeStoreEntry(1, key, entryFor(ids[3], 'weather', MIN_KEYWORD_EFFORT)))
    s.onStoreEntry(c2, encodeStoreEntry(2, key, entryFor(ids[3], 'weather', MIN_KEYWORD_EFFORT)))
    expect(c2.replies.map(storedStatus)).toEqual([StoreStatus.OK, StoreStatus.RATE_LIMITED]) // 3 tokens per second, all used
    t.now += 1000
    s.onStoreEntry(ctx('c3'), encodeStoreEntry(1, key, entryFor(ids[3], 'weather', MIN_KEYWORD_EFFORT + 1, NOW + 1000)))
    expect(s.counters).toMatchObject({ storesAccepted: 4, keys: 1, entries: 3, storesRejected: { not_last_hop: 1, rate_limited: 2 } })
    const f = ctx('c4', false)
    s.onFetchEntries(f, encodeFetchEntries(1, 0, key))
    expect(decodeEntries(f.replies[0].data)).toMatchObject({ status: StoreStatus.NOT_LAST_HOP, entries: [] })
  })

  it('pages a full set of 256 in ≤ 16 cells per request; a page ends with `last`', () => {
    const s = new IndexStorer({ clock: clockAt({ now: NOW }), periods: params.periods, limits: { maxStoresPerSecond: 1e6, maxStoresPerCircuit: 1e6 } })
    const key = keywordIndexKey('full', period)
    const c = ctx('c')
    for (let i = 0; i < MAX_ENTRIES_PER_KEY + 10; i++) s.onStoreEntry(c, encodeStoreEntry(i, key, entryFor(ProviderIdentity.generate(systemRng), 'full', MIN_KEYWORD_EFFORT)))
    expect(s.counters.entries).toBe(MAX_ENTRIES_PER_KEY)
    // solved work is often above the target: each surplus entry either evicted a weaker one or was refused
    expect((s.counters.storesRejected.low_effort ?? 0) + s.counters.evictions).toBe(10)
    const seen = new Set<string>()
    let offset = 0
    for (let pages = 0; pages < 100; pages++) {
      const f = ctx(`f${pages}`)
      s.onFetchEntries(f, encodeFetchEntries(pages, offset, key))
      expect(f.replies.length).toBeLessThanOrEqual(MAX_EXTENSION_REPLY_CELLS)
      const cells = f.replies.map(r => { expect(r.command).toBe(RELAY_REGISTRY_ENTRIES); return decodeEntries(r.data)! })
      expect(cells.map(x => x.last)).toEqual(cells.map((_, i) => i === cells.length - 1))
      for (const x of cells) for (const e of x.entries) seen.add(Buffer.from(e).toString('hex'))
      const { next, total } = cells[0]
      expect(total).toBe(MAX_ENTRIES_PER_KEY)
      if (next >= total) break
      offset = next
    }
    expect(seen.size).toBe(MAX_ENTRIES_PER_KEY)
  })

  it('caps index keys, and over its total the weakest entry anywhere makes room only for dearer work', () => {
    const s = new IndexStorer({ clock: clockAt({ now: NOW }), periods: params.periods, limits: { maxStoresPerSecond: 1e6, maxStoresPerCircuit: 1e6, maxIndexKeys: 2, maxEntries: 3 } })
    const c = ctx('c')
    const put = (id: ProviderIdentity, kw: string, effort: number): number => {
      s.onStoreEntry(c, encodeStoreEntry(0, keywordIndexKey(kw, period), exactly(id, kw, effort)))
      return storedStatus(c.replies[c.replies.length - 1])
    }
    expect(put(ids[0], 'a', MIN_KEYWORD_EFFORT)).toBe(StoreStatus.OK)
    expect(put(ids[1], 'a', MIN_KEYWORD_EFFORT + 2)).toBe(StoreStatus.OK)
    expect(put(ids[0], 'b', MIN_KEYWORD_EFFORT + 2)).toBe(StoreStatus.OK)
    expect(put(ids[0], 'c', MIN_KEYWORD_EFFORT + 6)).toBe(StoreStatus.RATE_LIMITED) // a third index key
    expect(put(ids[2], 'b', MIN_KEYWORD_EFFORT)).toBe(StoreStatus.LOW_EFFORT) // full, and no dearer than the weakest
    expect(put(ids[2], 'b', MIN_KEYWORD_EFFORT + 4)).toBe(StoreStatus.OK) // evicts ids[0]'s entry under 'a'
    expect(s.counters).toMatchObject({ entries: 3, keys: 2, evictions: 1 })
  })
})
