/**
 * A node's directory: the verified relay descriptors it knows, one per relay (newest).
 *
 * Every descriptor is verified before it enters (signature, peer-id binding, window).
 * Injection caps bound what any one source can do: at most MAX_NEW_PER_SOURCE new
 * relays first introduced by one source peer, and at most MAX_RELAYS_PER_SUBNET relays
 * whose first IPv4 address lies in one /16 (off in single-address testnets). With no
 * directory authority these caps limit, but do not prevent, Sybil and eclipse attacks —
 * docs/overlay.md says what remains.
 *
 * Clients also record which sources confirmed each descriptor, so they can require a
 * descriptor to be served by ≥ 2 entry relays before they use it.
 * Not here: how descriptors are fetched (dir-protocol.ts) or published (src/node).
 */
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Clock } from './clock.ts'
import { verifySignedDescriptor, type SignedDescriptor } from './descriptor.ts'
import { InvalidDescriptorError } from './errors.ts'
import { MAX_DIRECTORY_SIZE, MAX_NEW_PER_SOURCE, MAX_RELAYS_PER_SUBNET } from './constants.ts'

export interface DirectoryOptions {
  clock: Clock
  /** Apply the per-/16 cap (off in the testnet's single-address mode). */
  subnetRules?: boolean
  maxPerSubnet?: number
  maxNewPerSource?: number
  maxSize?: number
  /** Peer id (string) of the owner: its own descriptor is always accepted. */
  self?: string
}

export interface DirectoryEntry extends SignedDescriptor {
  /** Peer ids of the sources that served this (or an older) descriptor of the relay. */
  sources: Set<string>
  /** When this directory first saw the relay (ms): ages for guard and storage eligibility. */
  firstSeen: number
}

export type AddResult = 'added' | 'updated' | 'unchanged' | 'older'

export interface DirectoryCounters {
  accepted: number
  rejected: Record<string, number>
  capped: number
}

/** "a.b" of the first IPv4 address, or undefined when there is none. */
export function subnet16 (addrs: Multiaddr[]): string | undefined {
  for (const a of addrs) {
    const c = a.getComponents()[0]
    if (c?.name === 'ip4' && c.value !== undefined) {
      const parts = c.value.split('.')
      return `${parts[0]}.${parts[1]}`
    }
  }
  return undefined
}

export class Directory {
  readonly #clock: Clock
  readonly #subnetRules: boolean
  readonly #maxPerSubnet: number
  readonly #maxNewPerSource: number
  readonly #maxSize: number
  readonly #self: string | undefined
  readonly #entries = new Map<string, DirectoryEntry>()
  readonly #introducedBy = new Map<string, number>()
  readonly counters: DirectoryCounters = { accepted: 0, rejected: {}, capped: 0 }
  readonly #listeners = new Set<(e: DirectoryEntry) => void>()

  constructor (opts: DirectoryOptions) {
    this.#clock = opts.clock
    this.#subnetRules = opts.subnetRules ?? true
    this.#maxPerSubnet = opts.maxPerSubnet ?? MAX_RELAYS_PER_SUBNET
    this.#maxNewPerSource = opts.maxNewPerSource ?? MAX_NEW_PER_SOURCE
    this.#maxSize = opts.maxSize ?? MAX_DIRECTORY_SIZE
    this.#self = opts.self
  }

  get size (): number { this.prune(); return this.#entries.size }

  /** Verify and add a descriptor served by `source` (a peer id string, or 'self'/'dht'). */
  async add (bytes: Uint8Array, source: string): Promise<AddResult> {
    let sd: SignedDescriptor
    try {
      sd = await verifySignedDescriptor(bytes, { now: this.#clock.now() })
    } catch (err) {
      const reason = err instanceof InvalidDescriptorError ? err.reason : 'malformed'
      this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1
      throw err
    }
    return this.#insert(sd, source)
  }

  #insert (sd: SignedDescriptor, source: string): AddResult {
    const id = sd.descriptor.peerId.toString()
    const existing = this.#entries.get(id)
    if (existing !== undefined) {
      existing.sources.add(source)
      if (sd.descriptor.published < existing.descriptor.published) return 'older'
      if (sd.descriptor.published === existing.descriptor.published) return 'unchanged'
      const next: DirectoryEntry = { ...sd, sources: new Set([source]), firstSeen: existing.firstSeen }
      // a new descriptor of a relay moved into a full /16 is still capped
      if (!this.#subnetAllows(sd, id)) return this.#cap()
      this.#entries.set(id, next)
      this.counters.accepted++
      this.#emit(next)
      return 'updated'
    }
    if (id !== this.#self) {
      if (this.#entries.size >= this.#maxSize) return this.#cap()
      const introduced = this.#introducedBy.get(source) ?? 0
      if (introduced >= this.#maxNewPerSource) return this.#cap()
      if (!this.#subnetAllows(sd, id)) return this.#cap()
      this.#introducedBy.set(source, introduced + 1)
    }
    const entry: DirectoryEntry = { ...sd, sources: new Set([source]), firstSeen: this.#clock.now() }
    this.#entries.set(id, entry)
    this.counters.accepted++
    this.#emit(entry)
    return 'added'
  }

  #cap (): never {
    this.counters.capped++
    throw new InvalidDescriptorError('capped', 'descriptor refused by an injection cap')
  }

  #subnetAllows (sd: SignedDescriptor, id: string): boolean {
    if (!this.#subnetRules || id === this.#self) return true
    const net = subnet16(sd.descriptor.addrs)
    if (net === undefined) return true
    let n = 0
    for (const [other, e] of this.#entries) {
      if (other !== id && subnet16(e.descriptor.addrs) === net) n++
    }
    return n < this.#maxPerSubnet
  }

  #emit (e: DirectoryEntry): void {
    for (const l of this.#listeners) l(e)
  }

  /** Called for every added or updated entry. Returns an unsubscribe function. */
  onChange (fn: (e: DirectoryEntry) => void): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  /** Drop expired descriptors. */
  prune (): void {
    const now = this.#clock.now()
    for (const [id, e] of this.#entries) {
      if (e.descriptor.expires <= now) this.#entries.delete(id)
    }
  }

  get (peerId: string): DirectoryEntry | undefined {
    const e = this.#entries.get(peerId)
    if (e !== undefined && e.descriptor.expires <= this.#clock.now()) { this.#entries.delete(peerId); return undefined }
    return e
  }

  has (peerId: string): boolean { return this.get(peerId) !== undefined }

  /** All valid entries sorted by peer id (stable order for paging). */
  entries (): DirectoryEntry[] {
    this.prune()
    return [...this.#entries.values()].sort((a, b) => cmp(a.descriptor.peerId.toString(), b.descriptor.peerId.toString()))
  }

  /** Entries served by at least `n` distinct sources (a client's confirmation rule). */
  confirmed (n: number): DirectoryEntry[] {
    return this.entries().filter(e => e.sources.size >= n)
  }
}

function cmp (a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0 }
