/** STORE/FETCH codec and the storer's rules and limits, on an in-memory record store. */
import { describe, it, expect } from 'vitest'
import { ManualClock } from '../../src/overlay/clock.ts'
import {
  Storer, StoreStatus, encodeStoreChunks, decodeStoreChunk, decodeStoreTransfer, encodeFetch, decodeFetch, encodeFetched, decodeFetched,
  decodeStored, FETCH_PAGE_LEN, STORE_CHUNK_LEN, type RecordStore, type StorerContext, type NamespaceRules
} from '../../src/registry/store.ts'
import { RELAY_DATA_MAX, MAX_EXTENSION_REPLY_CELLS } from '../../src/onion/constants.ts'

function memStore (): RecordStore & { map: Map<string, Uint8Array> } {
  const map = new Map<string, Uint8Array>()
  const k = (b: Uint8Array): string => Buffer.from(b).toString('hex')
  return {
    map,
    get: async (key) => map.get(k(key)),
    put: async (key, v) => { map.set(k(key), v) },
    delete: async (key) => { map.delete(k(key)) },
    list: async function * () { for (const [h, v] of map) yield { key: Uint8Array.from(Buffer.from(h, 'hex')), value: v } }
  }
}

// a toy namespace: value = [revision u8, expiry u8 (×1000 s), …]; invalid when the first byte is 255
const rules: NamespaceRules = {
  validate: async (_k, v) => { if (v[0] === 255) throw new Error('invalid') },
  select: (_k, recs) => recs.reduce((best, r, i) => (r[0] > recs[best][0] ? i : best), 0),
  expiry: (v) => v[1] * 1000
}
const key = (s: string): Uint8Array => new TextEncoder().encode(`/t/${s}`)

function ctx (circuitKey: string, lastHop = true): StorerContext & { replies: Array<{ command: number, data: Uint8Array }> } {
  const replies: Array<{ command: number, data: Uint8Array }> = []
  return { circuitKey, lastHop, replies, reply: (command, _s, data) => { replies.push({ command, data: data.slice() }) } }
}

async function store (s: Storer, c: ReturnType<typeof ctx>, k: Uint8Array, v: Uint8Array, reqId = 1): Promise<number> {
  for (const chunk of encodeStoreChunks(reqId, k, v)) await s.onStore(c, chunk)
  return decodeStored(c.replies.at(-1)!.data)!.status
}

describe('codec', () => {
  it('chunks reassemble; FETCH and FETCHED round-trip; one page fits the reply budget', () => {
    const v = new Uint8Array(5000).map((_, i) => i & 0xff)
    const chunks = encodeStoreChunks(9, key('a'), v)
    expect(chunks.length).toBe(Math.ceil((2 + key('a').length + 5000) / STORE_CHUNK_LEN))
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(RELAY_DATA_MAX)
    const parts = chunks.map(c => decodeStoreChunk(c)!)
    const whole = Uint8Array.from(Buffer.concat(parts.map(p => p.bytes)))
    expect(decodeStoreTransfer(whole)).toEqual({ key: key('a'), value: v })
    expect(decodeFetch(encodeFetch(3, 77, key('b')))).toEqual({ reqId: 3, offset: 77, key: key('b') })
    const f = decodeFetched(encodeFetched({ reqId: 4, status: 0, total: 10, offset: 2, bytes: Uint8Array.of(1, 2) }))!
    expect([f.reqId, f.status, f.total, f.offset, [...f.bytes]]).toEqual([4, 0, 10, 2, [1, 2]])
    expect(FETCH_PAGE_LEN).toBeGreaterThan(32_000)
    expect(Math.ceil(FETCH_PAGE_LEN / (RELAY_DATA_MAX - 11))).toBe(MAX_EXTENSION_REPLY_CELLS)
    expect(decodeStoreChunk(new Uint8Array(5))).toBeUndefined()
    expect(decodeFetch(new Uint8Array(3))).toBeUndefined()
  })
})

describe('storer', () => {
  it('validator, selector, per-circuit and per-second limits, size, last hop', async () => {
    const clock = new ManualClock(0)
    const s = new Storer({ store: memStore(), namespaces: { t: rules }, clock, limits: { maxStoresPerCircuit: 2, maxStoresPerSecond: 4, maxStoreBytes: 100 } })
    await s.load()
    expect(await store(s, ctx('c1'), key('a'), Uint8Array.of(5, 9))).toBe(StoreStatus.OK)
    expect(await store(s, ctx('c2'), key('a'), Uint8Array.of(5, 9))).toBe(StoreStatus.STALE)
    expect(await store(s, ctx('c3'), key('a'), Uint8Array.of(255, 9))).toBe(StoreStatus.INVALID)
    expect(await store(s, ctx('c4'), key('a'), new Uint8Array(101))).toBe(StoreStatus.TOO_LARGE)
    expect(await store(s, ctx('c5'), new TextEncoder().encode('/zz/a'), Uint8Array.of(1, 1))).toBe(StoreStatus.RATE_LIMITED) // 4/s used
    clock.advance(1000)
    expect(await store(s, ctx('c5'), new TextEncoder().encode('/zz/a'), Uint8Array.of(1, 1))).toBe(StoreStatus.UNKNOWN_NAMESPACE)
    const c6 = ctx('c6')
    expect(await store(s, c6, key('b'), Uint8Array.of(1, 9))).toBe(StoreStatus.OK)
    expect(await store(s, c6, key('b'), Uint8Array.of(2, 9))).toBe(StoreStatus.OK)
    expect(await store(s, c6, key('b'), Uint8Array.of(3, 9))).toBe(StoreStatus.RATE_LIMITED) // 2 per circuit
    expect(await store(s, ctx('c7', false), key('b'), Uint8Array.of(4, 9))).toBe(StoreStatus.NOT_LAST_HOP)
    expect(s.counters.storesAccepted).toBe(3)
    expect(s.counters.storesRejected).toMatchObject({ stale: 1, invalid: 1, too_large: 1, rate_limited: 2, not_last_hop: 1, unknown_namespace: 1 })
    // FETCH: found, missing, refused away from the last hop
    const f = ctx('f1')
    await s.onFetch(f, encodeFetch(1, 0, key('b')))
    expect([...decodeFetched(f.replies[0].data)!.bytes]).toEqual([2, 9])
    await s.onFetch(f, encodeFetch(2, 0, key('nope')))
    expect(decodeFetched(f.replies[1].data)!.status).toBe(StoreStatus.NOT_FOUND)
    const g = ctx('f2', false)
    await s.onFetch(g, encodeFetch(1, 0, key('b')))
    expect(decodeFetched(g.replies[0].data)!.status).toBe(StoreStatus.NOT_LAST_HOP)
  })

  it('records per namespace: the oldest expiry is evicted first', async () => {
    const clock = new ManualClock(0)
    const mem = memStore()
    const s = new Storer({ store: mem, namespaces: { t: rules }, clock, limits: { maxRecordsPerNamespace: 3, maxStoresPerSecond: 100 } })
    await s.load()
    const exp = [50, 10, 40, 30, 20]
    for (const [i, e] of exp.entries()) expect(await store(s, ctx(`c${i}`), key(`k${i}`), Uint8Array.of(1, e))).toBe(StoreStatus.OK)
    expect(s.counters.records.t).toBe(3)
    expect(s.counters.evictions).toBe(2)
    const left = [...mem.map.values()].map(v => v[1]).sort((a, b) => a - b)
    expect(left).toEqual([30, 40, 50]) // 10 and 20 went first
    // a restarted storer indexes what its store holds
    const again = new Storer({ store: mem, namespaces: { t: rules }, clock })
    await again.load()
    expect(again.counters.records.t).toBe(3)
  })

  it('out-of-order chunks are refused, not buffered', async () => {
    const s = new Storer({ store: memStore(), namespaces: { t: rules }, clock: new ManualClock(0) })
    const chunks = encodeStoreChunks(1, key('x'), new Uint8Array(STORE_CHUNK_LEN * 2).fill(1))
    const c = ctx('c')
    await s.onStore(c, chunks[0])
    await s.onStore(c, chunks[2])
    expect(decodeStored(c.replies[0].data)!.status).toBe(StoreStatus.MALFORMED)
  })
})
