/**
 * STORE_ENTRY and FETCH_ENTRIES: the keyword index on the network (issue 5, "Keyword
 * index — public by design"). An index key holds a *set* of entries (keyword.ts EntrySet:
 * ≤ 256, ≤ 1 per publisher key, lowest effort evicted first), which a single kad-dht value
 * cannot express, so entries travel as their own extension relay commands, answered — like
 * STORE/FETCH (store.ts) — only at the last hop of a client's circuit, from the storer's
 * own memory. Index keys are placed like descriptors: KEYWORD_REPLICAS placement keys per
 * index key, each with its own storers (XOR distance over the client's directory).
 *
 * Cell data layouts (big-endian):
 *
 *   STORE_ENTRY   (client → storer)  reqId u16 | indexKey (32) | entry            (one entry per cell)
 *   STORED_ENTRY  (storer → client)  reqId u16 | status u8                        (store.ts's STORED layout)
 *   FETCH_ENTRIES (client → storer)  reqId u16 | offset u16 | indexKey (32)
 *   ENTRIES       (storer → client)  reqId u16 | status u8 | last u8 | total u16 | next u16 | count u8
 *                                    | count × (len u16 | entry)
 *     one page = ≤ MAX_EXTENSION_REPLY_CELLS ENTRIES cells; `last` = 1 on the page's final
 *     cell; `next` = the offset of the following page (= total when done).
 *
 * Entries live in memory only, as Tor's HSDirs hold descriptors: a restarted storer is
 * refilled by the providers' next republish (60–120 min; within 5 min of any change).
 *
 * Defends against: junk (the storer checks signature, expiry and work before holding
 * anything; junk with less work never displaces dearer entries, per key and over the
 * storer's whole memory), store floods (per circuit and per second), unbounded memory
 * (index keys and entries capped, both counted), use as a middle-hop oracle (last hop only).
 * Does not defend against: a storer that withholds entries (clients ask storers of both
 * replicas), or one that guesses keywords and reads summaries (obfuscation, not secrecy:
 * docs/security.md).
 */
import type { Clock } from '../overlay/clock.ts'
import { MAX_EXTENSION_REPLY_CELLS, RELAY_DATA_MAX } from '../onion/constants.ts'
import {
  DEFAULT_MAX_ENTRY_FETCHES_PER_CIRCUIT, DEFAULT_MAX_ENTRY_STORES_PER_CIRCUIT, DEFAULT_MAX_ENTRY_STORES_PER_SECOND, DEFAULT_MAX_INDEX_ENTRIES,
  DEFAULT_MAX_INDEX_KEYS, ENTRIES_HEADER_LEN, MAX_ENTRIES_PER_KEY, MAX_ENTRY_SIZE, RELAY_REGISTRY_ENTRIES, RELAY_REGISTRY_FETCH_ENTRIES,
  RELAY_REGISTRY_STORE_ENTRY, RELAY_REGISTRY_STORED_ENTRY, REQUEST_ID_LEN, SHA3_256_LEN, STORED_LEN
} from './constants.ts'
import { InvalidEntryError, RegistryCallerError } from './errors.ts'
import { EntrySet, validateEntry } from './keyword.ts'
import { DEFAULT_PERIODS, type PeriodParams } from './time.ts'
import { CircuitStates, StoreError, StoreStatus, TokenBucket, decodeStored, encodeStored, statusName, type StoreChannel, type StorerContext } from './store.ts'

const ENTRY_LEN_PREFIX = 2
const FETCH_ENTRIES_LEN = REQUEST_ID_LEN + 2 + SHA3_256_LEN
/** Entries in one ENTRIES cell at most (a canonical entry is 661 bytes: 3 per cell at 2048-byte cells, 48 per page). */
export const ENTRY_CELL_CAPACITY = RELAY_DATA_MAX - ENTRIES_HEADER_LEN
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000

function view (b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength) }
const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

function checkReqId (reqId: number): void {
  if (!Number.isInteger(reqId) || reqId < 0 || reqId > 0xffff) throw new RegistryCallerError('request id must be a u16')
}
function checkIndexKey (k: Uint8Array): void {
  if (!(k instanceof Uint8Array) || k.length !== SHA3_256_LEN) throw new RegistryCallerError('index key must be 32 bytes')
}

// ---------------------------------------------------------------------------
// Codec (pure)
// ---------------------------------------------------------------------------

export function encodeStoreEntry (reqId: number, indexKey: Uint8Array, entry: Uint8Array): Uint8Array {
  checkReqId(reqId)
  checkIndexKey(indexKey)
  if (entry.length === 0 || entry.length > MAX_ENTRY_SIZE || REQUEST_ID_LEN + SHA3_256_LEN + entry.length > RELAY_DATA_MAX) throw new RegistryCallerError('entry does not fit a STORE_ENTRY cell')
  const out = new Uint8Array(REQUEST_ID_LEN + SHA3_256_LEN + entry.length)
  view(out).setUint16(0, reqId)
  out.set(indexKey, REQUEST_ID_LEN)
  out.set(entry, REQUEST_ID_LEN + SHA3_256_LEN)
  return out
}

export function decodeStoreEntry (data: Uint8Array): { reqId: number, indexKey: Uint8Array, entry: Uint8Array } | undefined {
  if (data.length <= REQUEST_ID_LEN + SHA3_256_LEN || data.length > REQUEST_ID_LEN + SHA3_256_LEN + MAX_ENTRY_SIZE) return undefined
  return { reqId: view(data).getUint16(0), indexKey: data.slice(REQUEST_ID_LEN, REQUEST_ID_LEN + SHA3_256_LEN), entry: data.slice(REQUEST_ID_LEN + SHA3_256_LEN) }
}

export function encodeFetchEntries (reqId: number, offset: number, indexKey: Uint8Array): Uint8Array {
  checkReqId(reqId)
  checkIndexKey(indexKey)
  if (!Number.isInteger(offset) || offset < 0 || offset > 0xffff) throw new RegistryCallerError('offset must be a u16')
  const out = new Uint8Array(FETCH_ENTRIES_LEN)
  const v = view(out)
  v.setUint16(0, reqId); v.setUint16(REQUEST_ID_LEN, offset)
  out.set(indexKey, REQUEST_ID_LEN + 2)
  return out
}

export function decodeFetchEntries (data: Uint8Array): { reqId: number, offset: number, indexKey: Uint8Array } | undefined {
  if (data.length !== FETCH_ENTRIES_LEN) return undefined
  const v = view(data)
  return { reqId: v.getUint16(0), offset: v.getUint16(REQUEST_ID_LEN), indexKey: data.slice(REQUEST_ID_LEN + 2) }
}

export interface EntriesCell {
  readonly reqId: number
  readonly status: number
  readonly last: boolean
  readonly total: number
  readonly next: number
  readonly entries: readonly Uint8Array[]
}

export function encodeEntries (c: EntriesCell): Uint8Array {
  checkReqId(c.reqId)
  const size = ENTRIES_HEADER_LEN + c.entries.reduce((n, e) => n + ENTRY_LEN_PREFIX + e.length, 0)
  if (size > RELAY_DATA_MAX || c.entries.length > 0xff || c.total > 0xffff || c.next > 0xffff) throw new RegistryCallerError('ENTRIES cell too long')
  const out = new Uint8Array(size)
  const v = view(out)
  v.setUint16(0, c.reqId)
  out[REQUEST_ID_LEN] = c.status
  out[REQUEST_ID_LEN + 1] = c.last ? 1 : 0
  v.setUint16(REQUEST_ID_LEN + 2, c.total)
  v.setUint16(REQUEST_ID_LEN + 4, c.next)
  out[REQUEST_ID_LEN + 6] = c.entries.length
  let o = ENTRIES_HEADER_LEN
  for (const e of c.entries) { v.setUint16(o, e.length); out.set(e, o + ENTRY_LEN_PREFIX); o += ENTRY_LEN_PREFIX + e.length }
  return out
}

/** Undefined when malformed. */
export function decodeEntries (data: Uint8Array): EntriesCell | undefined {
  if (data.length < ENTRIES_HEADER_LEN || data.length > RELAY_DATA_MAX) return undefined
  const v = view(data)
  const lastByte = data[REQUEST_ID_LEN + 1]
  if (lastByte > 1) return undefined
  const count = data[REQUEST_ID_LEN + 6]
  const entries: Uint8Array[] = []
  let o = ENTRIES_HEADER_LEN
  for (let i = 0; i < count; i++) {
    if (o + ENTRY_LEN_PREFIX > data.length) return undefined
    const n = v.getUint16(o)
    if (n === 0 || n > MAX_ENTRY_SIZE || o + ENTRY_LEN_PREFIX + n > data.length) return undefined
    entries.push(data.slice(o + ENTRY_LEN_PREFIX, o + ENTRY_LEN_PREFIX + n))
    o += ENTRY_LEN_PREFIX + n
  }
  if (o !== data.length) return undefined
  return { reqId: v.getUint16(0), status: data[REQUEST_ID_LEN], last: lastByte === 1, total: v.getUint16(REQUEST_ID_LEN + 2), next: v.getUint16(REQUEST_ID_LEN + 4), entries }
}

// ---------------------------------------------------------------------------
// Storer side
// ---------------------------------------------------------------------------

export interface IndexStorerLimits {
  maxStoresPerCircuit: number
  /** Entry STOREs per second at this relay (token bucket, burst = one second's worth). */
  maxStoresPerSecond: number
  maxFetchesPerCircuit: number
  /** Index keys held (records per namespace, for the keyword index). */
  maxIndexKeys: number
  /** Entries held over all keys. */
  maxEntries: number
}

export const DEFAULT_INDEX_STORER_LIMITS: Readonly<IndexStorerLimits> = Object.freeze({
  maxStoresPerCircuit: DEFAULT_MAX_ENTRY_STORES_PER_CIRCUIT,
  maxStoresPerSecond: DEFAULT_MAX_ENTRY_STORES_PER_SECOND,
  maxFetchesPerCircuit: DEFAULT_MAX_ENTRY_FETCHES_PER_CIRCUIT,
  maxIndexKeys: DEFAULT_MAX_INDEX_KEYS,
  maxEntries: DEFAULT_MAX_INDEX_ENTRIES
})

export interface IndexStorerCounters {
  storesAccepted: number
  storesRejected: Record<string, number>
  fetches: number
  fetchesRejected: Record<string, number>
  /** Entries dropped for a higher-effort newcomer (per key or over the storer's memory). */
  evictions: number
  keys: number
  entries: number
}

interface CircuitState { stores: number, fetches: number, lastUsed: number }

/**
 * One relay's keyword-index storer. Never throws from its handlers for a peer's input:
 * every refusal is a status reply and a counter.
 */
export class IndexStorer {
  readonly #clock: Clock
  readonly #periods: PeriodParams
  readonly limits: Readonly<IndexStorerLimits>
  readonly counters: IndexStorerCounters = { storesAccepted: 0, storesRejected: {}, fetches: 0, fetchesRejected: {}, evictions: 0, keys: 0, entries: 0 }
  readonly #sets = new Map<string, EntrySet>()
  readonly #circuits: CircuitStates<CircuitState>
  readonly #bucket: TokenBucket

  constructor (o: { clock: Clock, periods?: PeriodParams, limits?: Partial<IndexStorerLimits> }) {
    this.#clock = o.clock
    this.#periods = o.periods ?? DEFAULT_PERIODS
    this.limits = Object.freeze({ ...DEFAULT_INDEX_STORER_LIMITS, ...o.limits })
    this.#circuits = new CircuitStates(o.clock, (now) => ({ stores: 0, fetches: 0, lastUsed: now }))
    this.#bucket = new TokenBucket(o.clock, this.limits.maxStoresPerSecond)
  }

  #reject (which: 'storesRejected' | 'fetchesRejected', status: number): void {
    const name = statusName(status)
    this.counters[which][name] = (this.counters[which][name] ?? 0) + 1
  }

  #recount (): void {
    let n = 0
    for (const s of this.#sets.values()) n += s.size
    this.counters.entries = n
    this.counters.keys = this.#sets.size
  }

  /** Drop expired entries and empty sets. */
  purge (): void {
    const now = this.#clock.now()
    for (const [k, s] of this.#sets) { s.purge(now); if (s.size === 0) this.#sets.delete(k) }
    this.#recount()
  }

  /** Offer one validated entry; returns a status. */
  offer (indexKey: Uint8Array, entry: Uint8Array): number {
    const now = this.#clock.now()
    let effort: number
    let publisher: string
    try {
      const v = validateEntry(indexKey, entry, now, this.#periods)
      effort = v.effort
      publisher = hexOf(v.entry.publisherKey)
    } catch (err) {
      if (err instanceof InvalidEntryError) return StoreStatus.INVALID
      throw err
    }
    const k = hexOf(indexKey)
    let set = this.#sets.get(k)
    const isNewKey = set === undefined
    if (set === undefined) {
      if (this.#sets.size >= this.limits.maxIndexKeys) this.purge()
      if (this.#sets.size >= this.limits.maxIndexKeys) return StoreStatus.RATE_LIMITED
      set = new EntrySet(indexKey, this.#periods, MAX_ENTRIES_PER_KEY)
    }
    if (!set.has(publisher) && set.size >= MAX_ENTRIES_PER_KEY && (set.weakest()?.effort ?? Infinity) >= effort) return StoreStatus.LOW_EFFORT
    // over the storer's memory: the weakest entry anywhere makes room, if the newcomer is dearer
    if (!set.has(publisher) && this.counters.entries >= this.limits.maxEntries) {
      this.purge()
      if (this.counters.entries >= this.limits.maxEntries) {
        let weakest: { key: string, publisher: string, effort: number, expiry: number } | undefined
        for (const [sk, s] of this.#sets) {
          const w = s.weakest()
          if (w !== undefined && (weakest === undefined || w.effort < weakest.effort || (w.effort === weakest.effort && w.expiry < weakest.expiry))) weakest = { key: sk, ...w }
        }
        if (weakest === undefined || effort <= weakest.effort) return StoreStatus.LOW_EFFORT
        const ws = this.#sets.get(weakest.key)
        if (ws?.remove(weakest.publisher) === true) this.counters.entries--
        if (ws !== undefined && ws.size === 0) this.#sets.delete(weakest.key)
        this.counters.evictions++
      }
    }
    // counted from the set's size change (offer also drops the set's expired entries), not by walking every set
    const before = set.size
    let result
    try {
      result = set.offer(entry, now)
    } catch (err) {
      if (!(err instanceof InvalidEntryError)) throw err
      this.counters.entries += set.size - before // it may have dropped expired entries before refusing
      return err.reason === 'stale' ? StoreStatus.STALE : err.reason === 'insufficient-work' ? StoreStatus.LOW_EFFORT : StoreStatus.INVALID
    }
    if (result === 'evicted-other') this.counters.evictions++
    if (isNewKey) this.#sets.set(k, set)
    this.counters.entries += set.size - before
    this.counters.keys = this.#sets.size
    return StoreStatus.OK
  }

  /** One STORE_ENTRY cell. */
  onStoreEntry (ctx: StorerContext, data: Uint8Array): void {
    const req = decodeStoreEntry(data)
    const answer = (reqId: number, status: number): void => {
      if (status === StoreStatus.OK) this.counters.storesAccepted++
      else this.#reject('storesRejected', status)
      ctx.reply(RELAY_REGISTRY_STORED_ENTRY, 0, encodeStored(reqId, status))
    }
    if (req === undefined) { answer(data.length >= REQUEST_ID_LEN ? view(data).getUint16(0) : 0, StoreStatus.MALFORMED); return }
    if (!ctx.lastHop) { answer(req.reqId, StoreStatus.NOT_LAST_HOP); return }
    const st = this.#circuits.get(ctx.circuitKey)
    if (st === undefined || st.stores >= this.limits.maxStoresPerCircuit || !this.#bucket.take()) { answer(req.reqId, StoreStatus.RATE_LIMITED); return }
    st.stores++
    answer(req.reqId, this.offer(req.indexKey, req.entry))
  }

  /** One FETCH_ENTRIES cell: one page (≤ MAX_EXTENSION_REPLY_CELLS cells). */
  onFetchEntries (ctx: StorerContext, data: Uint8Array): void {
    const req = decodeFetchEntries(data)
    const refuse = (reqId: number, status: number): void => {
      this.#reject('fetchesRejected', status)
      ctx.reply(RELAY_REGISTRY_ENTRIES, 0, encodeEntries({ reqId, status, last: true, total: 0, next: 0, entries: [] }))
    }
    if (req === undefined) { refuse(data.length >= REQUEST_ID_LEN ? view(data).getUint16(0) : 0, StoreStatus.MALFORMED); return }
    if (!ctx.lastHop) { refuse(req.reqId, StoreStatus.NOT_LAST_HOP); return }
    const st = this.#circuits.get(ctx.circuitKey)
    if (st === undefined || st.fetches >= this.limits.maxFetchesPerCircuit) { refuse(req.reqId, StoreStatus.RATE_LIMITED); return }
    st.fetches++
    this.counters.fetches++
    const set = this.#sets.get(hexOf(req.indexKey))
    set?.purge(this.#clock.now())
    const total = set?.size ?? 0
    if (set === undefined || total === 0) {
      ctx.reply(RELAY_REGISTRY_ENTRIES, 0, encodeEntries({ reqId: req.reqId, status: StoreStatus.NOT_FOUND, last: true, total: 0, next: 0, entries: [] }))
      return
    }
    // fill ≤ MAX_EXTENSION_REPLY_CELLS cells from `offset`
    const { entries } = set.page(Math.min(req.offset, total), MAX_ENTRIES_PER_KEY)
    const cells: Uint8Array[][] = []
    let cur: Uint8Array[] = []
    let used = 0
    let taken = 0
    for (const e of entries) {
      const need = ENTRY_LEN_PREFIX + e.length
      if (used + need > ENTRY_CELL_CAPACITY) {
        if (cells.length + 1 >= MAX_EXTENSION_REPLY_CELLS) break
        cells.push(cur); cur = []; used = 0
      }
      cur.push(e); used += need; taken++
    }
    cells.push(cur)
    const next = Math.min(total, Math.min(req.offset, total) + taken)
    cells.forEach((c, i) => {
      ctx.reply(RELAY_REGISTRY_ENTRIES, 0, encodeEntries({ reqId: req.reqId, status: StoreStatus.OK, last: i === cells.length - 1, total, next, entries: c }))
    })
  }
}

// ---------------------------------------------------------------------------
// Client side, over a StoreChannel (one circuit whose last hop is the storer)
// ---------------------------------------------------------------------------

/** STORE_ENTRY one entry; resolves with the storer's status. */
export async function storeEntry (ch: StoreChannel, indexKey: Uint8Array, entry: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<number> {
  const hop = ch.circuit.hops - 1
  return await ch.exchange<number>(opts.signal ?? AbortSignal.timeout(DEFAULT_REQUEST_TIMEOUT_MS), (reqId) => {
    ch.circuit.sendRelay(hop, RELAY_REGISTRY_STORE_ENTRY, 0, encodeStoreEntry(reqId, indexKey, entry))
  }, (data, command, done, fail) => {
    const s = command === RELAY_REGISTRY_STORED_ENTRY && data.length === STORED_LEN ? decodeStored(data) : undefined
    if (s === undefined) fail(new StoreError(StoreStatus.MALFORMED, 'malformed STORED_ENTRY'))
    else done(s.status)
  })
}

/**
 * FETCH_ENTRIES: every entry a storer holds for `indexKey` (raw; the caller opens them),
 * page by page. At most MAX_ENTRIES_PER_KEY entries are accepted from one storer.
 */
export async function fetchEntries (ch: StoreChannel, indexKey: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array[]> {
  const signal = opts.signal ?? AbortSignal.timeout(DEFAULT_REQUEST_TIMEOUT_MS)
  const hop = ch.circuit.hops - 1
  const out: Uint8Array[] = []
  let offset = 0
  for (let pages = 0; pages < DEFAULT_MAX_ENTRY_FETCHES_PER_CIRCUIT; pages++) {
    const page = await ch.exchange<{ total: number, next: number, entries: Uint8Array[] } | undefined>(signal, (reqId) => {
      ch.circuit.sendRelay(hop, RELAY_REGISTRY_FETCH_ENTRIES, 0, encodeFetchEntries(reqId, offset, indexKey))
    }, (() => {
      const got: Uint8Array[] = []
      return (data, command, done, fail) => {
        const c = command === RELAY_REGISTRY_ENTRIES ? decodeEntries(data) : undefined
        if (c === undefined) { fail(new StoreError(StoreStatus.MALFORMED, 'malformed ENTRIES')); return }
        if (c.status === StoreStatus.NOT_FOUND) { done(undefined); return }
        if (c.status !== StoreStatus.OK) { fail(new StoreError(c.status, `storer refused FETCH_ENTRIES: ${statusName(c.status)}`)); return }
        got.push(...c.entries)
        if (got.length > MAX_ENTRIES_PER_KEY) { fail(new StoreError(StoreStatus.TOO_LARGE, 'storer sent more entries than a key holds')); return }
        if (c.last) done({ total: c.total, next: c.next, entries: got })
      }
    })())
    if (page === undefined) return out
    out.push(...page.entries)
    if (out.length > MAX_ENTRIES_PER_KEY) throw new StoreError(StoreStatus.TOO_LARGE, 'storer sent more entries than a key holds')
    if (page.next >= page.total || page.next <= offset) return out
    offset = page.next
  }
  return out
}
