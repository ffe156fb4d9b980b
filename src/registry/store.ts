/**
 * STORE and FETCH: how records reach their storers and come back, as extension relay
 * commands answered at the *last hop* of a client's circuit from the storer's own kad-dht
 * record store (issue 5, "Placement and anonymous access").
 *
 * Why relay commands and not a stream target: the storer must enforce limits per
 * circuit (STOREs per circuit) and refuse to answer unless it is the last hop — the
 * extension context gives it both (`circuitKey`, `lastHop`); a stream handler sees
 * neither. The price: an extension handler may answer with at most
 * MAX_EXTENSION_REPLY_CELLS cells per request cell, so a FETCH asks for one page (≈ 32 KB)
 * at an offset, and the client pipelines two pages (a 33 KB descriptor costs one round
 * trip); a STORE is sent as chunks the storer reassembles (only one transfer per circuit
 * at a time, bounded by the STORE size limit).
 *
 * Cell data layouts (all integers big-endian):
 *
 *   STORE   (client → storer)  reqId u16 | total u32 | offset u32 | chunk
 *           the transfer = keyLen u16 | key | value; chunks arrive in order, offset = bytes so far
 *   STORED  (storer → client)  reqId u16 | status u8
 *   FETCH   (client → storer)  reqId u16 | offset u32 | key
 *   FETCHED (storer → client)  reqId u16 | status u8 | total u32 | offset u32 | chunk   (≤ 16 cells per FETCH)
 *
 * A storer never starts a DHT query because of a cell (that would make it an amplifier
 * and an anonymous write proxy): it reads and writes its own record store only, through
 * the same validator and selector its kad-dht uses, so records stored here are what its
 * DHT serves and vice versa.
 *
 * Defends against: oversize or unbounded reassembly (size limit before buffering, one
 * transfer per circuit), write floods (STOREs per circuit and per second per relay,
 * records per namespace with oldest-expiry eviction), stale overwrites (the selector),
 * use as a middle-hop oracle (answers only as the last hop).
 * Does not defend against: a storer that drops or withholds records (clients try other
 * storers), nor one that logs which keys are fetched (keys are per-period blinded hashes).
 */
import type { Clock } from '../overlay/clock.ts'
import type { Circuit } from '../onion/index.ts'
import { MAX_EXTENSION_REPLY_CELLS, RELAY_DATA_MAX } from '../onion/constants.ts'
import {
  DEFAULT_MAX_FETCHES_PER_CIRCUIT, DEFAULT_MAX_RECORDS_PER_NAMESPACE, DEFAULT_MAX_STORES_PER_CIRCUIT, DEFAULT_MAX_STORES_PER_SECOND,
  FETCHED_HEADER_LEN, MAX_DESCRIPTOR, MAX_STORE_KEY_LEN, RELAY_REGISTRY_FETCH, RELAY_REGISTRY_FETCHED, RELAY_REGISTRY_STORE,
  RELAY_REGISTRY_STORED, RELAY_REGISTRY_STORED_ENTRY, RELAY_REGISTRY_ENTRIES, REQUEST_ID_LEN, STORE_CHUNK_HEADER_LEN, STORE_KEY_LENGTH_LEN, STORED_LEN, TRANSFER_LENGTH_LEN, TRANSFER_OFFSET_LEN
} from './constants.ts'
import { RegistryCallerError, RegistryError } from './errors.ts'

// ---------------------------------------------------------------------------
// Constants derived here
// ---------------------------------------------------------------------------

/** Chunk bytes per STORE cell. */
export const STORE_CHUNK_LEN = RELAY_DATA_MAX - STORE_CHUNK_HEADER_LEN
/** Chunk bytes per FETCHED cell. */
export const FETCHED_CHUNK_LEN = RELAY_DATA_MAX - FETCHED_HEADER_LEN
/** Bytes one FETCH request returns at most (its reply budget). */
export const FETCH_PAGE_LEN = MAX_EXTENSION_REPLY_CELLS * FETCHED_CHUNK_LEN
/** FETCH pages a client asks for at once (a 33 KB descriptor needs two). */
export const FETCH_PIPELINE = 2
/** A STORE transfer: key length prefix, key and value. */
export const MAX_STORE_TRANSFER = STORE_KEY_LENGTH_LEN + MAX_STORE_KEY_LEN + MAX_DESCRIPTOR
/** Per-circuit state a storer keeps at most (no close hook yet: idle entries are purged). */
export const MAX_TRACKED_CIRCUITS = 8192
/** A circuit's state is forgotten after this long idle (a circuit takes no new work after 10 min). */
export const CIRCUIT_STATE_IDLE_MS = 10 * 60 * 1000

/** STORED / FETCHED status byte. */
export const StoreStatus = Object.freeze({
  OK: 0,
  /** The validator refused the record. */
  INVALID: 1,
  /** The selector kept the record already held (same or higher revision). */
  STALE: 2,
  /** Over the per-circuit or per-second STORE limit, or the per-circuit FETCH limit. */
  RATE_LIMITED: 3,
  TOO_LARGE: 4,
  /** This relay is not the circuit's last hop. */
  NOT_LAST_HOP: 5,
  NOT_FOUND: 6,
  /** No validator for the key's namespace. */
  UNKNOWN_NAMESPACE: 7,
  /** The request itself was malformed (bad chunk order, bad key). */
  MALFORMED: 8,
  INTERNAL: 9,
  /** (Index entries) the set, or the storer's memory, is full of entries with at least this much work. */
  LOW_EFFORT: 10
} as const)
export type StoreStatusCode = typeof StoreStatus[keyof typeof StoreStatus]
const STATUS_NAMES = Object.fromEntries(Object.entries(StoreStatus).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>
export function statusName (s: number): string { return STATUS_NAMES[s] ?? `status-${s}` }

/** A storer answered something else than OK (or nothing usable). */
export class StoreError extends RegistryError {
  readonly status: number
  constructor (status: number, message: string) {
    super('peer', message)
    this.status = status
  }
}

// ---------------------------------------------------------------------------
// Codec (pure)
// ---------------------------------------------------------------------------

function u16 (n: number): Uint8Array { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, n); return b }
function view (b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength) }
function cat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

function checkReqId (reqId: number): void {
  if (!Number.isInteger(reqId) || reqId < 0 || reqId > 0xffff) throw new RegistryCallerError('request id must be a u16')
}

function checkKey (key: Uint8Array): void {
  if (key.length < 3 || key.length > MAX_STORE_KEY_LEN) throw new RegistryCallerError(`key must be 3–${MAX_STORE_KEY_LEN} bytes`)
}

/** The namespace of a DHT key "/ns/…", or undefined when the key has no such prefix. */
export function keyNamespace (key: Uint8Array): string | undefined {
  if (key.length < 3 || key[0] !== 0x2f) return undefined
  const end = key.indexOf(0x2f, 1)
  if (end <= 1) return undefined
  return new TextDecoder('utf-8', { fatal: false }).decode(key.subarray(1, end))
}

export interface StoreChunk { readonly reqId: number, readonly total: number, readonly offset: number, readonly bytes: Uint8Array }

/** The STORE cells' data for one record. */
export function encodeStoreChunks (reqId: number, key: Uint8Array, value: Uint8Array): Uint8Array[] {
  checkReqId(reqId)
  checkKey(key)
  const transfer = cat(u16(key.length), key, value)
  if (transfer.length > 0xffff_ffff) throw new RegistryCallerError('record too large')
  const out: Uint8Array[] = []
  for (let off = 0; off < transfer.length; off += STORE_CHUNK_LEN) {
    const chunk = transfer.subarray(off, off + STORE_CHUNK_LEN)
    const hdr = new Uint8Array(STORE_CHUNK_HEADER_LEN)
    const v = new DataView(hdr.buffer)
    v.setUint16(0, reqId); v.setUint32(REQUEST_ID_LEN, transfer.length); v.setUint32(REQUEST_ID_LEN + TRANSFER_LENGTH_LEN, off)
    out.push(cat(hdr, chunk))
  }
  return out
}

/** Undefined when malformed (the caller answers MALFORMED). */
export function decodeStoreChunk (data: Uint8Array): StoreChunk | undefined {
  if (data.length <= STORE_CHUNK_HEADER_LEN) return undefined
  const v = view(data)
  return { reqId: v.getUint16(0), total: v.getUint32(REQUEST_ID_LEN), offset: v.getUint32(REQUEST_ID_LEN + TRANSFER_LENGTH_LEN), bytes: data.subarray(STORE_CHUNK_HEADER_LEN) }
}

/** Split a reassembled transfer into key and value; undefined when malformed. */
export function decodeStoreTransfer (t: Uint8Array): { key: Uint8Array, value: Uint8Array } | undefined {
  if (t.length < STORE_KEY_LENGTH_LEN) return undefined
  const kl = view(t).getUint16(0)
  if (kl < 3 || kl > MAX_STORE_KEY_LEN || t.length < STORE_KEY_LENGTH_LEN + kl) return undefined
  return { key: t.slice(STORE_KEY_LENGTH_LEN, STORE_KEY_LENGTH_LEN + kl), value: t.slice(STORE_KEY_LENGTH_LEN + kl) }
}

export function encodeStored (reqId: number, status: number): Uint8Array {
  checkReqId(reqId)
  const b = new Uint8Array(STORED_LEN)
  new DataView(b.buffer).setUint16(0, reqId)
  b[REQUEST_ID_LEN] = status
  return b
}

export function decodeStored (data: Uint8Array): { reqId: number, status: number } | undefined {
  if (data.length !== STORED_LEN) return undefined
  return { reqId: view(data).getUint16(0), status: data[REQUEST_ID_LEN] }
}

export function encodeFetch (reqId: number, offset: number, key: Uint8Array): Uint8Array {
  checkReqId(reqId)
  checkKey(key)
  const hdr = new Uint8Array(REQUEST_ID_LEN + TRANSFER_OFFSET_LEN)
  const v = new DataView(hdr.buffer)
  v.setUint16(0, reqId); v.setUint32(REQUEST_ID_LEN, offset)
  return cat(hdr, key)
}

export function decodeFetch (data: Uint8Array): { reqId: number, offset: number, key: Uint8Array } | undefined {
  const h = REQUEST_ID_LEN + TRANSFER_OFFSET_LEN
  if (data.length < h + 3 || data.length > h + MAX_STORE_KEY_LEN) return undefined
  const v = view(data)
  return { reqId: v.getUint16(0), offset: v.getUint32(REQUEST_ID_LEN), key: data.slice(h) }
}

export interface FetchedChunk { readonly reqId: number, readonly status: number, readonly total: number, readonly offset: number, readonly bytes: Uint8Array }

export function encodeFetched (c: FetchedChunk): Uint8Array {
  checkReqId(c.reqId)
  if (c.bytes.length > FETCHED_CHUNK_LEN) throw new RegistryCallerError('FETCHED chunk too long')
  const hdr = new Uint8Array(FETCHED_HEADER_LEN)
  const v = new DataView(hdr.buffer)
  v.setUint16(0, c.reqId); hdr[REQUEST_ID_LEN] = c.status
  v.setUint32(REQUEST_ID_LEN + 1, c.total); v.setUint32(REQUEST_ID_LEN + 1 + TRANSFER_LENGTH_LEN, c.offset)
  return cat(hdr, c.bytes)
}

export function decodeFetched (data: Uint8Array): FetchedChunk | undefined {
  if (data.length < FETCHED_HEADER_LEN) return undefined
  const v = view(data)
  return {
    reqId: v.getUint16(0),
    status: data[REQUEST_ID_LEN],
    total: v.getUint32(REQUEST_ID_LEN + 1),
    offset: v.getUint32(REQUEST_ID_LEN + 1 + TRANSFER_LENGTH_LEN),
    bytes: data.subarray(FETCHED_HEADER_LEN)
  }
}

// ---------------------------------------------------------------------------
// Storer side
// ---------------------------------------------------------------------------

/** The storer's own kad-dht record store (src/node binds it to the libp2p datastore). */
export interface RecordStore {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  put(key: Uint8Array, value: Uint8Array): Promise<void>
  delete(key: Uint8Array): Promise<void>
  /** Every record held (for the per-namespace index at start). */
  list(): AsyncIterable<{ key: Uint8Array, value: Uint8Array }>
}

/** What a namespace needs at a storer: kad-dht's validator and selector, and the record's expiry. */
export interface NamespaceRules {
  validate(key: Uint8Array, value: Uint8Array): Promise<void>
  select(key: Uint8Array, records: Uint8Array[]): number
  /** Unix seconds when the record expires (for oldest-expiry-first eviction). */
  expiry(value: Uint8Array): number
}

export interface StorerLimits {
  /** Largest record value accepted. */
  maxStoreBytes: number
  maxStoresPerCircuit: number
  /** STOREs per second at this relay (token bucket, burst = one second's worth). */
  maxStoresPerSecond: number
  maxFetchesPerCircuit: number
  maxRecordsPerNamespace: number
}

export const DEFAULT_STORER_LIMITS: Readonly<StorerLimits> = Object.freeze({
  maxStoreBytes: MAX_DESCRIPTOR,
  maxStoresPerCircuit: DEFAULT_MAX_STORES_PER_CIRCUIT,
  maxStoresPerSecond: DEFAULT_MAX_STORES_PER_SECOND,
  maxFetchesPerCircuit: DEFAULT_MAX_FETCHES_PER_CIRCUIT,
  maxRecordsPerNamespace: DEFAULT_MAX_RECORDS_PER_NAMESPACE
})

export interface StorerCounters {
  storesAccepted: number
  storesRejected: Record<string, number>
  fetches: number
  fetchHits: number
  fetchMisses: number
  fetchesRejected: Record<string, number>
  evictions: number
  /** Records held per namespace. */
  records: Record<string, number>
}

/** The slice of src/onion's ExtensionContext the storer uses. */
export interface StorerContext {
  readonly circuitKey: string
  readonly lastHop: boolean
  reply(command: number, streamId: number, data: Uint8Array): void
}

interface CircuitState { stores: number, fetches: number, lastUsed: number, transfer: { reqId: number, total: number, parts: Uint8Array[], got: number } | undefined }

/**
 * Per-circuit state at a storer, bounded: at most MAX_TRACKED_CIRCUITS entries; idle ones
 * (CIRCUIT_STATE_IDLE_MS) are forgotten when room is needed; when full of live ones a new
 * circuit gets nothing (fail closed: the caller refuses its request).
 */
export class CircuitStates<S extends { lastUsed: number }> {
  readonly #clock: Clock
  readonly #make: (now: number) => S
  readonly #states = new Map<string, S>()
  constructor (clock: Clock, make: (now: number) => S) { this.#clock = clock; this.#make = make }

  get (key: string): S | undefined {
    const now = this.#clock.now()
    let s = this.#states.get(key)
    if (s === undefined) {
      if (this.#states.size >= MAX_TRACKED_CIRCUITS) {
        for (const [k, v] of this.#states) if (now - v.lastUsed > CIRCUIT_STATE_IDLE_MS) this.#states.delete(k)
        if (this.#states.size >= MAX_TRACKED_CIRCUITS) return undefined
      }
      s = this.#make(now)
      this.#states.set(key, s)
    }
    s.lastUsed = now
    return s
  }
}

/** A token bucket of `rate` per second, holding at most one second's worth. */
export class TokenBucket {
  readonly #clock: Clock
  readonly #rate: number
  #tokens: number
  #refilledAt: number
  constructor (clock: Clock, ratePerSecond: number) {
    this.#clock = clock
    this.#rate = ratePerSecond
    this.#tokens = ratePerSecond
    this.#refilledAt = clock.now()
  }

  take (): boolean {
    const now = this.#clock.now()
    this.#tokens = Math.min(this.#rate, this.#tokens + (now - this.#refilledAt) * this.#rate / 1000)
    this.#refilledAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/**
 * One relay's storer: answers STORE and FETCH from its record store. `load()` once before
 * use. Never throws from its handlers for a peer's input: every refusal is a status reply
 * and a counter.
 */
export class Storer {
  readonly #store: RecordStore
  readonly #rules: ReadonlyMap<string, NamespaceRules>
  readonly #clock: Clock
  readonly limits: Readonly<StorerLimits>
  readonly counters: StorerCounters = { storesAccepted: 0, storesRejected: {}, fetches: 0, fetchHits: 0, fetchMisses: 0, fetchesRejected: {}, evictions: 0, records: {} }
  /** namespace → key hex → expiry (Unix s). */
  readonly #index = new Map<string, Map<string, { key: Uint8Array, expiry: number }>>()
  readonly #circuits: CircuitStates<CircuitState>
  readonly #bucket: TokenBucket
  /** Writes are serialised so the selector sees the record the previous STORE left. */
  #writes: Promise<void> = Promise.resolve()

  constructor (o: { store: RecordStore, namespaces: Record<string, NamespaceRules>, clock: Clock, limits?: Partial<StorerLimits> }) {
    this.#store = o.store
    this.#rules = new Map(Object.entries(o.namespaces))
    this.#clock = o.clock
    this.limits = Object.freeze({ ...DEFAULT_STORER_LIMITS, ...o.limits })
    this.#circuits = new CircuitStates(o.clock, (now) => ({ stores: 0, fetches: 0, lastUsed: now, transfer: undefined }))
    this.#bucket = new TokenBucket(o.clock, this.limits.maxStoresPerSecond)
    for (const ns of this.#rules.keys()) this.counters.records[ns] = 0
  }

  /** Index the records already held (only the namespaces this storer serves). */
  async load (): Promise<void> {
    for await (const { key, value } of this.#store.list()) {
      const ns = keyNamespace(key)
      const rules = ns === undefined ? undefined : this.#rules.get(ns)
      if (ns === undefined || rules === undefined) continue
      let expiry: number
      try { expiry = rules.expiry(value) } catch { continue }
      this.#indexPut(ns, key, expiry)
    }
  }

  #indexPut (ns: string, key: Uint8Array, expiry: number): void {
    let m = this.#index.get(ns)
    if (m === undefined) { m = new Map(); this.#index.set(ns, m) }
    m.set(hexOf(key), { key, expiry })
    this.counters.records[ns] = m.size
  }

  #reject (which: 'storesRejected' | 'fetchesRejected', status: number): void {
    const name = statusName(status)
    this.counters[which][name] = (this.counters[which][name] ?? 0) + 1
  }

  /** One STORE cell. */
  async onStore (ctx: StorerContext, data: Uint8Array): Promise<void> {
    const chunk = decodeStoreChunk(data)
    const answer = (reqId: number, status: number): void => {
      if (status === StoreStatus.OK) this.counters.storesAccepted++
      else this.#reject('storesRejected', status)
      ctx.reply(RELAY_REGISTRY_STORED, 0, encodeStored(reqId, status))
    }
    if (chunk === undefined) { answer(0, StoreStatus.MALFORMED); return }
    if (!ctx.lastHop) { answer(chunk.reqId, StoreStatus.NOT_LAST_HOP); return }
    const st = this.#circuits.get(ctx.circuitKey)
    if (st === undefined) { answer(chunk.reqId, StoreStatus.RATE_LIMITED); return }
    if (chunk.offset === 0) {
      if (st.transfer !== undefined) { st.transfer = undefined; answer(chunk.reqId, StoreStatus.MALFORMED); return }
      if (chunk.total > STORE_KEY_LENGTH_LEN + MAX_STORE_KEY_LEN + this.limits.maxStoreBytes) { answer(chunk.reqId, StoreStatus.TOO_LARGE); return }
      if (st.stores >= this.limits.maxStoresPerCircuit || !this.#bucket.take()) { answer(chunk.reqId, StoreStatus.RATE_LIMITED); return }
      st.stores++
      st.transfer = { reqId: chunk.reqId, total: chunk.total, parts: [], got: 0 }
    }
    const t = st.transfer
    if (t === undefined) return // chunks of a refused transfer: already answered
    if (chunk.reqId !== t.reqId || chunk.total !== t.total || chunk.offset !== t.got || t.got + chunk.bytes.length > t.total) {
      st.transfer = undefined
      answer(chunk.reqId, StoreStatus.MALFORMED)
      return
    }
    t.parts.push(chunk.bytes.slice())
    t.got += chunk.bytes.length
    if (t.got < t.total) return
    st.transfer = undefined
    const whole = cat(...t.parts)
    const rec = decodeStoreTransfer(whole)
    if (rec === undefined) { answer(t.reqId, StoreStatus.MALFORMED); return }
    const status = await this.#serialised(async () => this.#put(rec.key, rec.value))
    answer(t.reqId, status)
  }

  async #serialised<T> (fn: () => Promise<T>): Promise<T> {
    const p = this.#writes.then(fn)
    this.#writes = p.then(() => {}, () => {})
    return p
  }

  /** Validate, select against what is held, write, evict. Returns a status. */
  async #put (key: Uint8Array, value: Uint8Array): Promise<number> {
    const ns = keyNamespace(key)
    const rules = ns === undefined ? undefined : this.#rules.get(ns)
    if (ns === undefined || rules === undefined) return StoreStatus.UNKNOWN_NAMESPACE
    if (value.length > this.limits.maxStoreBytes) return StoreStatus.TOO_LARGE
    try { await rules.validate(key, value) } catch { return StoreStatus.INVALID }
    const held = await this.#store.get(key)
    if (held !== undefined) {
      let heldValid = true
      try { await rules.validate(key, held) } catch { heldValid = false }
      // held first: on a tie the selector keeps the first, so only a strictly better record replaces it
      if (heldValid && rules.select(key, [held, value]) !== 1) return StoreStatus.STALE
    }
    const expiry = rules.expiry(value)
    await this.#store.put(key, value)
    this.#indexPut(ns, key, expiry)
    await this.#evict(ns)
    return StoreStatus.OK
  }

  /** Over the namespace limit: drop expired records, then the oldest expiry first. */
  async #evict (ns: string): Promise<void> {
    const m = this.#index.get(ns)
    if (m === undefined || m.size <= this.limits.maxRecordsPerNamespace) return
    const now = Math.floor(this.#clock.now() / 1000)
    const order = [...m.entries()].sort((a, b) => a[1].expiry - b[1].expiry)
    for (const [k, v] of order) {
      if (m.size <= this.limits.maxRecordsPerNamespace && v.expiry > now) break
      m.delete(k)
      await this.#store.delete(v.key)
      this.counters.evictions++
    }
    this.counters.records[ns] = m.size
  }

  /** One FETCH cell: answer one page (≤ MAX_EXTENSION_REPLY_CELLS cells). */
  async onFetch (ctx: StorerContext, data: Uint8Array): Promise<void> {
    const req = decodeFetch(data)
    const refuse = (reqId: number, status: number): void => {
      this.#reject('fetchesRejected', status)
      ctx.reply(RELAY_REGISTRY_FETCHED, 0, encodeFetched({ reqId, status, total: 0, offset: 0, bytes: new Uint8Array(0) }))
    }
    if (req === undefined) { refuse(0, StoreStatus.MALFORMED); return }
    if (!ctx.lastHop) { refuse(req.reqId, StoreStatus.NOT_LAST_HOP); return }
    const st = this.#circuits.get(ctx.circuitKey)
    if (st === undefined || st.fetches >= this.limits.maxFetchesPerCircuit) { refuse(req.reqId, StoreStatus.RATE_LIMITED); return }
    st.fetches++
    this.counters.fetches++
    const ns = keyNamespace(req.key)
    const rules = ns === undefined ? undefined : this.#rules.get(ns)
    if (rules === undefined) { refuse(req.reqId, StoreStatus.UNKNOWN_NAMESPACE); return }
    const value = await this.#store.get(req.key)
    let valid = value !== undefined
    if (value !== undefined) {
      try { await rules.validate(req.key, value) } catch { valid = false }
    }
    if (value === undefined || !valid) {
      this.counters.fetchMisses++
      refuse(req.reqId, StoreStatus.NOT_FOUND)
      return
    }
    if (req.offset === 0) this.counters.fetchHits++
    if (req.offset >= value.length) {
      // a pipelined page past the end: an empty OK chunk at the end (the client is done)
      ctx.reply(RELAY_REGISTRY_FETCHED, 0, encodeFetched({ reqId: req.reqId, status: StoreStatus.OK, total: value.length, offset: value.length, bytes: new Uint8Array(0) }))
      return
    }
    const end = Math.min(value.length, req.offset + FETCH_PAGE_LEN)
    let off = req.offset
    do {
      const n = Math.min(FETCHED_CHUNK_LEN, end - off)
      ctx.reply(RELAY_REGISTRY_FETCHED, 0, encodeFetched({ reqId: req.reqId, status: StoreStatus.OK, total: value.length, offset: off, bytes: value.subarray(off, off + n) }))
      off += n
    } while (off < end)
  }
}

// ---------------------------------------------------------------------------
// Client side: one circuit whose last hop is the storer
// ---------------------------------------------------------------------------

const DEFAULT_REQUEST_TIMEOUT_MS = 15_000
/** The storer's answers a StoreChannel routes by request id (records, and index entries: index-store.ts). */
const REPLY_COMMANDS: ReadonlySet<number> = new Set([RELAY_REGISTRY_STORED, RELAY_REGISTRY_FETCHED, RELAY_REGISTRY_STORED_ENTRY, RELAY_REGISTRY_ENTRIES])

/**
 * The registry's use of one circuit: STORE and FETCH to its last hop. Takes over
 * `circuit.onCommand`. One per circuit; lookups for different providers use different
 * circuits (the caller's rule).
 */
export class StoreChannel {
  readonly circuit: Circuit
  readonly #pending = new Map<number, (cell: Uint8Array, command: number) => void>()
  #nextId = 1

  constructor (circuit: Circuit) {
    this.circuit = circuit
    const last = (): number => circuit.hops - 1
    circuit.onCommand = (hop, cell) => {
      if (hop !== last() || !REPLY_COMMANDS.has(cell.command)) return
      const reqId = cell.data.length >= REQUEST_ID_LEN ? view(cell.data).getUint16(0) : -1
      this.#pending.get(reqId)?.(cell.data, cell.command)
    }
  }

  #id (): number {
    const id = this.#nextId
    this.#nextId = (this.#nextId % 0xffff) + 1
    return id
  }

  #wait<T> (reqId: number, signal: AbortSignal, on: (data: Uint8Array, command: number, done: (v: T) => void, fail: (e: Error) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let offClose = (): void => {}
      let settled = false
      const cleanup = (): void => { settled = true; this.#pending.delete(reqId); signal.removeEventListener('abort', onAbort); offClose() }
      const done = (v: T): void => { if (!settled) { cleanup(); resolve(v) } }
      const fail = (e: Error): void => { if (!settled) { cleanup(); reject(e) } }
      const onAbort = (): void => { fail(new StoreError(StoreStatus.INTERNAL, 'storer did not answer in time')) }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(reqId, (data, command) => { on(data, command, done, fail) })
      // last: onClose calls back at once on a closed circuit
      offClose = this.circuit.onClose((err) => { fail(err) })
      if (settled) offClose()
    })
  }

  /**
   * One request to the last hop: `send(reqId)` sends its cell(s); `on` sees every answer
   * cell carrying that request id until it calls `done` or `fail` (or `signal` aborts, or
   * the circuit closes). For other request kinds built on this channel (index-store.ts).
   */
  async exchange<T> (signal: AbortSignal, send: (reqId: number) => void, on: (data: Uint8Array, command: number, done: (v: T) => void, fail: (e: Error) => void) => void): Promise<T> {
    const reqId = this.#id()
    const local = new AbortController()
    const p = this.#wait<T>(reqId, AbortSignal.any([signal, local.signal]), on)
    try { send(reqId) } catch (err) { p.catch(() => {}); local.abort(); throw err }
    return p
  }

  /** STORE one record; resolves with the storer's status (OK, STALE, …). */
  async store (key: Uint8Array, value: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<number> {
    const signal = opts.signal ?? AbortSignal.timeout(DEFAULT_REQUEST_TIMEOUT_MS)
    const hop = this.circuit.hops - 1
    // exchange(): a circuit that closed under us fails the send, and the caller gets the send's error
    return await this.exchange<number>(signal, (reqId) => {
      for (const c of encodeStoreChunks(reqId, key, value)) this.circuit.sendRelay(hop, RELAY_REGISTRY_STORE, 0, c)
    }, (data, command, done, fail) => {
      const s = command === RELAY_REGISTRY_STORED ? decodeStored(data) : undefined
      if (s === undefined) fail(new StoreError(StoreStatus.MALFORMED, 'malformed STORED'))
      else done(s.status)
    })
  }

  /**
   * FETCH one record: undefined when the storer holds none. Pages are pipelined
   * FETCH_PIPELINE at a time; bytes beyond `maxBytes` are refused.
   */
  async fetch (key: Uint8Array, opts: { signal?: AbortSignal, maxBytes?: number } = {}): Promise<Uint8Array | undefined> {
    const signal = opts.signal ?? AbortSignal.timeout(DEFAULT_REQUEST_TIMEOUT_MS)
    const maxBytes = opts.maxBytes ?? MAX_DESCRIPTOR
    const hop = this.circuit.hops - 1
    let total = -1
    let buf: Uint8Array | undefined
    let got = 0
    const page = async (offset: number): Promise<'done' | 'missing'> => {
      return await this.exchange<'done' | 'missing'>(signal, (reqId) => {
        this.circuit.sendRelay(hop, RELAY_REGISTRY_FETCH, 0, encodeFetch(reqId, offset, key))
      }, (data, command, done, fail) => {
        const c = command === RELAY_REGISTRY_FETCHED ? decodeFetched(data) : undefined
        if (c === undefined) { fail(new StoreError(StoreStatus.MALFORMED, 'malformed FETCHED')); return }
        if (c.status === StoreStatus.NOT_FOUND) { done('missing'); return }
        if (c.status !== StoreStatus.OK) { fail(new StoreError(c.status, `storer refused FETCH: ${statusName(c.status)}`)); return }
        if (c.total > maxBytes) { fail(new StoreError(StoreStatus.TOO_LARGE, 'record larger than accepted')); return }
        if (total < 0) { total = c.total; buf = new Uint8Array(total) }
        if (c.total !== total || buf === undefined || c.offset + c.bytes.length > total || (c.bytes.length === 0 && c.offset !== total)) { fail(new StoreError(StoreStatus.MALFORMED, 'inconsistent FETCHED chunks')); return }
        buf.set(c.bytes, c.offset)
        got += c.bytes.length
        const pageEnd = Math.min(total, offset + FETCH_PAGE_LEN)
        if (c.offset + c.bytes.length >= pageEnd) done('done')
      })
    }
    const first = await Promise.all(Array.from({ length: FETCH_PIPELINE }, async (_, i) => page(i * FETCH_PAGE_LEN)))
    if (first.includes('missing')) return undefined
    for (let off = FETCH_PIPELINE * FETCH_PAGE_LEN; off < total; off += FETCH_PAGE_LEN) {
      if (await page(off) === 'missing') return undefined
    }
    if (buf === undefined || got !== total) throw new StoreError(StoreStatus.MALFORMED, 'record incomplete')
    return buf
  }
}
