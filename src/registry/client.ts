/**
 * The registry client: publish descriptors to their storers and fetch them back, each
 * over a fresh circuit whose last hop is the storer; reach a `public` provider over a
 * circuit ending at its relay. Logic only — the network (directory, entry relays, circuit
 * building) comes in through {@link RegistryNetwork}, which src/node/registry-glue.ts
 * binds to a client node.
 *
 *   publish: every storer of every replica, one circuit each, in parallel;
 *            succeeds when ≥ half acknowledge (OK, or STALE: it holds this revision or newer)
 *   fetch:   per replica (random order) a random one of its first 3 storers, then the
 *            others, each on a new circuit; the first record openDescriptor accepts wins;
 *            period p first, then p+1 (a provider publishes ahead; near a boundary the
 *            client's clock may be behind), then p−1
 *
 * Path of every registry circuit: guard (an entry relay) | middle | target, three
 * distinct relays; the guard is never the target. Lookups for different providers never
 * share a circuit (each fetch builds its own, and destroys it after).
 * Not here: hidden providers' introduction/rendezvous (hidden-client.ts), timers (publisher.ts).
 */
import type { Clock, Rng as PickRng } from '../overlay/clock.ts'
import type { Circuit } from '../onion/index.ts'
import { RegistryCallerError, RegistryError, InvalidDescriptorError } from './errors.ts'
import { parseAddress, type ProviderAddress } from './identity.ts'
import { blindedKeyForPeriod } from './blinding.ts'
import { descriptorDhtKey, openDescriptor, storageKey, type BuiltDescriptor, type OpenedDescriptor, type OpenOptions } from './descriptor.ts'
import { DESCRIPTOR_REPLICAS, KEYWORD_REPLICAS, MAX_DESCRIPTOR, PREBUILT_LOOKUP_CIRCUITS } from './constants.ts'
import { PrebuiltCircuits } from './prebuilt.ts'
import { InvalidEntryError } from './errors.ts'
import { keywordDhtKey, keywordIndexKey, normaliseKeyword, openEntry, type OpenedEntry } from './keyword.ts'
import { fetchEntries, storeEntry } from './index-store.ts'
import { periodAt } from './time.ts'
import { storersFor, type StorerCandidate } from './placement.ts'
import { StoreChannel, StoreStatus, statusName } from './store.ts'
import { PROVIDER_TARGET, ProviderSession } from './session.ts'
import type { RegistryParams } from './params.ts'

/** Storers tried first per replica (issue 5: "a random one of a replica's first 3"). */
export const FETCH_FIRST_CHOICES = 3

export interface RegistryNetwork {
  /** Relays of the caller's verified directory, with Kademlia ids and first-seen times. */
  candidates(): StorerCandidate[]
  /** The caller's entry relays (guards): the only first hops it may use. */
  guards(): string[]
  /** Build a circuit through these relays (entry first). */
  build(path: readonly string[], signal: AbortSignal): Promise<Circuit>
  /** Extend an open circuit by the relay `id` (pre-built prefixes); absent: whole paths are built every time. */
  extend?(circuit: Circuit, id: string, signal: AbortSignal): Promise<void>
}

export interface RegistryClientOptions {
  network: RegistryNetwork
  clock: Clock
  /** Path and storer choices (never secrets). */
  rng: PickRng
  params: RegistryParams
  storersPerReplica?: number
  circuitTimeoutMs?: number
  /** Pre-built G M prefixes kept to extend to a storer (default PREBUILT_LOOKUP_CIRCUITS; 0: none). Filled after the first lookup. */
  prebuiltCircuits?: number
}

export interface PublishResult {
  readonly period: number
  readonly attempted: number
  readonly acknowledged: number
  readonly ok: boolean
  /** Per storer: status name or error. */
  readonly results: ReadonlyArray<{ storer: string, replica: number, result: string }>
}

export interface FetchResult {
  readonly opened: OpenedDescriptor
  readonly bytes: Uint8Array
  readonly storer: string
  /** Circuits built for this lookup. */
  readonly attempts: number
}

/** One index entry to publish: where (index key) and what (buildEntry's bytes). */
export interface EntryToPublish { readonly indexKey: Uint8Array, readonly bytes: Uint8Array }

export interface EntriesPublishResult {
  readonly entries: number
  /** Entries that ≥ half of their storers acknowledged. */
  readonly placed: number
  readonly ok: boolean
  /** Per storer: how many entries it acknowledged, or the error. */
  readonly results: ReadonlyArray<{ storer: string, sent: number, acknowledged: number, error?: string }>
}

export interface KeywordSearchResult {
  readonly keyword: string
  readonly period: number
  /** Entries that opened (signature, work, expiry, blinding to the named address): one per address and tool, newest revision. */
  readonly entries: readonly OpenedEntry[]
  readonly storersAsked: number
  readonly storersAnswered: number
  /** Entries a storer served that did not open (junk, forgeries). */
  readonly invalid: number
}

/** The placement keys of an index key: KEYWORD_REPLICAS storer sets, as a descriptor's replicas. */
export function keywordPlacementKeys (indexKey: Uint8Array): Uint8Array[] {
  const base = keywordDhtKey(indexKey)
  return Array.from({ length: KEYWORD_REPLICAS }, (_, r) => { const k = new Uint8Array(base.length + 1); k.set(base); k[base.length] = r; return k })
}

export class RegistryLookupError extends RegistryError {
  readonly attempts: number
  constructor (message: string, attempts: number) { super('peer', message); this.attempts = attempts }
}

export class RegistryClient {
  readonly #o: RegistryClientOptions
  readonly counters = { circuits: 0, circuitFailures: 0, stores: 0, storeAcks: 0, fetches: 0, fetchHits: 0, invalidRecords: 0 }

  readonly #prebuilt: PrebuiltCircuits

  constructor (o: RegistryClientOptions) {
    this.#o = o
    this.#prebuilt = PrebuiltCircuits.over(o.network, o.clock, o.prebuiltCircuits ?? PREBUILT_LOOKUP_CIRCUITS,
      () => this.pathTo('').slice(0, 2), (path) => o.network.guards().includes(path[0]))
  }

  /** Pre-built lookup prefixes: built, used, discarded. */
  get prebuilt (): PrebuiltCircuits['counters'] { return this.#prebuilt.counters }

  /** Destroy the pre-built circuits (the node's circuits stop with it anyway). */
  stop (): void { this.#prebuilt.stop() }

  /** Storers of each replica's DHT key. */
  storers (replicaDhtKeys: readonly Uint8Array[]): string[][] {
    return storersFor(replicaDhtKeys, this.#o.network.candidates(), {
      nowMs: this.#o.clock.now(), minAgeMs: this.#o.params.eligibilityAgeMs, storersPerReplica: this.#o.storersPerReplica
    })
  }

  /** guard | middle | target, all distinct; the guard is an entry relay other than the target. */
  pathTo (target: string): string[] {
    const rng = this.#o.rng
    const guards = this.#o.network.guards().filter(g => g !== target)
    if (guards.length === 0) throw new RegistryCallerError('no entry relay other than the target')
    const guard = guards[rng.int(guards.length)]
    const middles = this.#o.network.candidates().map(c => c.id).filter(id => id !== guard && id !== target)
    if (middles.length === 0) throw new RegistryCallerError('no middle relay available')
    return [guard, middles[rng.int(middles.length)], target]
  }

  /**
   * A fresh circuit ending at `target`: a pre-built guard–middle prefix (never used for
   * anything else) extended to it, or a whole path built now.
   */
  async circuitTo (target: string, signal?: AbortSignal): Promise<Circuit> {
    this.counters.circuits++
    try {
      return (await this.#prebuilt.circuitTo(target, () => this.pathTo(target), signal ?? AbortSignal.timeout(this.#o.circuitTimeoutMs ?? 15_000))).circuit
    } catch (err) {
      this.counters.circuitFailures++
      throw err
    }
  }

  /** Send one built descriptor (all replicas) to every storer, one circuit each. */
  async publish (d: BuiltDescriptor, opts: { signal?: AbortSignal } = {}): Promise<PublishResult> {
    const placed = this.storers(d.records.map(r => r.dhtKey))
    const jobs: Array<Promise<{ storer: string, replica: number, result: string, acked: boolean }>> = []
    for (const rec of d.records) {
      for (const storer of placed[rec.replica] ?? []) {
        jobs.push((async () => {
          this.counters.stores++
          let circuit: Circuit | undefined
          try {
            circuit = await this.circuitTo(storer, opts.signal)
            const status = await new StoreChannel(circuit).store(rec.dhtKey, rec.bytes, { signal: opts.signal })
            const acked = status === StoreStatus.OK || status === StoreStatus.STALE
            if (acked) this.counters.storeAcks++
            return { storer, replica: rec.replica, result: statusName(status), acked }
          } catch (err) {
            return { storer, replica: rec.replica, result: err instanceof Error ? err.message : String(err), acked: false }
          } finally { circuit?.destroy() }
        })())
      }
    }
    const results = await Promise.all(jobs)
    const acknowledged = results.filter(r => r.acked).length
    return {
      period: d.period,
      attempted: results.length,
      acknowledged,
      ok: results.length > 0 && acknowledged * 2 >= results.length,
      results: results.map(({ storer, replica, result }) => ({ storer, replica, result }))
    }
  }

  /**
   * Send index entries to their storers: every storer of every placement key, one circuit
   * per storer carrying all the entries it should hold.
   */
  async publishEntries (entries: readonly EntryToPublish[], opts: { signal?: AbortSignal } = {}): Promise<EntriesPublishResult> {
    const byStorer = new Map<string, number[]>()
    const storersOf: number[] = []
    entries.forEach((e, i) => {
      const placed = new Set(this.storers(keywordPlacementKeys(e.indexKey)).flat())
      storersOf[i] = placed.size
      for (const s of placed) { let l = byStorer.get(s); if (l === undefined) { l = []; byStorer.set(s, l) } l.push(i) }
    })
    const acks = new Array<number>(entries.length).fill(0)
    const results = await Promise.all([...byStorer].map(async ([storer, idx]) => {
      let circuit: Circuit | undefined
      let acknowledged = 0
      try {
        circuit = await this.circuitTo(storer, opts.signal)
        const ch = new StoreChannel(circuit)
        const statuses = await Promise.all(idx.map(async i => await storeEntry(ch, entries[i].indexKey, entries[i].bytes, { signal: opts.signal })))
        statuses.forEach((st, j) => { if (st === StoreStatus.OK || st === StoreStatus.STALE) { acks[idx[j]]++; acknowledged++ } })
        return { storer, sent: idx.length, acknowledged }
      } catch (err) {
        return { storer, sent: idx.length, acknowledged, error: err instanceof Error ? err.message : String(err) }
      } finally { circuit?.destroy() }
    }))
    const placed = acks.filter((a, i) => storersOf[i] > 0 && a * 2 >= storersOf[i]).length
    return { entries: entries.length, placed, ok: placed === entries.length, results }
  }

  /**
   * Who announces `keyword`: per placement key a random one of its first 3 storers (in
   * parallel, each on its own circuit), every entry it holds, opened with the keyword.
   * Period p, then p+1 when p finds nothing (providers publish ahead). The caller still
   * checks each provider's catalogue lists the keyword before showing it.
   */
  async searchKeyword (keyword: string, opts: { signal?: AbortSignal } = {}): Promise<KeywordSearchResult> {
    const kw = normaliseKeyword(keyword)
    const { periods } = this.#o.params
    const p = periodAt(this.#o.clock.now(), periods)
    let asked = 0
    let answered = 0
    let invalid = 0
    for (const period of [p, p + 1]) {
      const indexKey = keywordIndexKey(kw, period)
      const chosen = this.fetchOrder(this.storers(keywordPlacementKeys(indexKey))).slice(0, KEYWORD_REPLICAS)
      const raw = await Promise.all(chosen.map(async ({ storer }) => {
        asked++
        let circuit: Circuit | undefined
        try {
          circuit = await this.circuitTo(storer, opts.signal)
          const got = await fetchEntries(new StoreChannel(circuit), indexKey, { signal: opts.signal ?? AbortSignal.timeout(15_000) })
          answered++
          return got
        } catch { return [] } finally { circuit?.destroy() }
      }))
      const best = new Map<string, OpenedEntry>()
      const seen = new Set<string>()
      for (const bytes of raw.flat()) {
        const hex = Buffer.from(bytes).toString('hex')
        if (seen.has(hex)) continue
        seen.add(hex)
        let e: OpenedEntry
        try { e = openEntry(kw, period, bytes, this.#o.clock.now(), periods) } catch (err) {
          if (!(err instanceof InvalidEntryError)) throw err
          invalid++
          continue
        }
        const k = `${e.summary.address}/${e.summary.toolName}`
        const old = best.get(k)
        if (old === undefined || e.revision > old.revision) best.set(k, e)
      }
      if (best.size > 0 || period === p + 1) {
        const entries = [...best.values()].sort((a, b) => b.effort - a.effort || (a.summary.address < b.summary.address ? -1 : 1))
        return { keyword: kw, period, entries, storersAsked: asked, storersAnswered: answered, invalid }
      }
    }
    return { keyword: kw, period: p, entries: [], storersAsked: asked, storersAnswered: answered, invalid }
  }

  /** The order in which to ask a period's storers: per replica, a random one of the first 3, then the rest. */
  fetchOrder (placed: readonly string[][]): Array<{ storer: string, replica: number }> {
    const rng = this.#o.rng
    const replicas = placed.map((s, r) => ({ s, r }))
    for (let i = replicas.length - 1; i > 0; i--) { const j = rng.int(i + 1); [replicas[i], replicas[j]] = [replicas[j], replicas[i]] }
    const first: Array<{ storer: string, replica: number }> = []
    const rest: Array<{ storer: string, replica: number }> = []
    for (const { s, r } of replicas) {
      const head = s.slice(0, FETCH_FIRST_CHOICES)
      if (head.length === 0) continue
      const pick = rng.int(head.length)
      first.push({ storer: head[pick], replica: r })
      const others = s.filter((_, i) => i !== pick)
      for (let i = others.length - 1; i > 0; i--) { const j = rng.int(i + 1); [others[i], others[j]] = [others[j], others[i]] }
      rest.push(...others.map(storer => ({ storer, replica: r })))
    }
    return [...first, ...rest]
  }

  /** Find, fetch and open the descriptor of `address`. */
  async fetchDescriptor (address: string | ProviderAddress, opts: { signal?: AbortSignal, open?: OpenOptions, maxAttempts?: number } = {}): Promise<FetchResult> {
    const addr = typeof address === 'string' ? parseAddress(address) : address
    const { periods } = this.#o.params
    const now = this.#o.clock.now()
    const p = periodAt(now, periods)
    const maxAttempts = opts.maxAttempts ?? 2 * DESCRIPTOR_REPLICAS * (this.#o.storersPerReplica ?? 4)
    let attempts = 0
    let lastError = 'no storers'
    for (const period of p > 0 ? [p, p + 1, p - 1] : [p, p + 1]) {
      const blinded = blindedKeyForPeriod(addr.identityKey, period, periods.lengthSeconds)
      const keys = Array.from({ length: DESCRIPTOR_REPLICAS }, (_, r) => descriptorDhtKey(storageKey(blinded, r, period, periods.lengthSeconds)))
      for (const { storer, replica } of this.fetchOrder(this.storers(keys))) {
        if (attempts >= maxAttempts) break
        if (opts.signal?.aborted === true) throw new RegistryLookupError('lookup aborted', attempts)
        attempts++
        this.counters.fetches++
        let circuit: Circuit | undefined
        try {
          circuit = await this.circuitTo(storer, opts.signal)
          const bytes = await new StoreChannel(circuit).fetch(keys[replica], { signal: opts.signal ?? AbortSignal.timeout(15_000), maxBytes: MAX_DESCRIPTOR })
          if (bytes === undefined) { lastError = 'not found'; continue }
          try {
            const opened = openDescriptor(addr, bytes, this.#o.clock.now(), { periods, ...opts.open })
            this.counters.fetchHits++
            return { opened, bytes, storer, attempts }
          } catch (err) {
            if (!(err instanceof InvalidDescriptorError)) throw err
            this.counters.invalidRecords++
            lastError = `invalid descriptor: ${err.reason}`
          }
        } catch (err) {
          lastError = err instanceof Error ? err.message : String(err)
        } finally { circuit?.destroy() }
      }
    }
    throw new RegistryLookupError(`descriptor not found after ${attempts} attempt(s): ${lastError}`, attempts)
  }

  /**
   * A session with a `public` provider: a fresh circuit ending at the provider's relay
   * (named in its descriptor), a stream to PROVIDER_TARGET there. The caller closes it;
   * closing the session destroys the circuit.
   */
  async connectPublic (address: string | ProviderAddress, opened: OpenedDescriptor, relayId: (relayPeerIdBytes: Uint8Array) => string, opts: { signal?: AbortSignal } = {}): Promise<ProviderSession> {
    if (opened.reach.mode !== 'public') throw new RegistryCallerError('provider is not in public mode')
    const addr = typeof address === 'string' ? parseAddress(address) : address
    const target = relayId(opened.reach.relay)
    const circuit = await this.circuitTo(target, opts.signal)
    try {
      const stream = await circuit.openStream(PROVIDER_TARGET, { signal: opts.signal ?? AbortSignal.timeout(10_000) })
      return new ProviderSession({
        send: async (m, o) => { await stream.send(m, o) },
        read: async (o) => stream.read(o),
        close: async () => { await stream.close().catch(() => {}); circuit.destroy() }
      }, addr, opened.catalogue.digest)
    } catch (err) {
      circuit.destroy()
      throw err
    }
  }
}
