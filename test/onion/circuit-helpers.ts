/**
 * An in-memory network for circuit tests: relays running RelayCircuits and a
 * client running CircuitClient, joined by fake links that deliver cells
 * asynchronously and in order (as a libp2p stream does). Links record every
 * cell and can be given a tamper function.
 */
import { systemRng } from '../../src/onion/primitives.ts'
import { generateOnionKey, RelayHandshakeKeys } from '../../src/onion/handshake.ts'
import { CELL_SIZE } from '../../src/onion/constants.ts'
import { RelayCircuits, type RelayCircuitsOptions } from '../../src/onion/relay-circuits.ts'
import { CircuitClient, type HopSpec } from '../../src/onion/client-circuit.ts'
import { StreamTargetTable, ECHO_TARGET, echoHandler } from '../../src/onion/stream.ts'
import type { LinkLike } from '../../src/onion/circuit.ts'
import { ManualClock } from '../../src/overlay/clock.ts'

type Receiver = { onCell(bytes: Uint8Array, link: LinkLike): void, onLinkClosed(link: LinkLike): void }

export class FakeLink implements LinkLike {
  readonly peer: string
  readonly direction: 'inbound' | 'outbound'
  other!: FakeLink
  receiver!: Receiver
  closed = false
  /** Every cell this end sent. */
  readonly sent: Uint8Array[] = []
  /** Optional: alter (or drop, by returning undefined) a cell this end sends. */
  tamper: ((cell: Uint8Array) => Uint8Array | undefined) | undefined
  capacity = Infinity
  #inFlight = 0

  constructor (peer: string, direction: 'inbound' | 'outbound') { this.peer = peer; this.direction = direction }

  send (cell: Uint8Array): boolean {
    if (this.closed) return false
    if (this.#inFlight >= this.capacity) return false
    if (cell.length !== CELL_SIZE) throw new RangeError('bad cell size')
    this.sent.push(cell)
    const out = this.tamper === undefined ? cell : this.tamper(cell.slice())
    if (out === undefined) return true
    this.#inFlight++
    setImmediate(() => {
      this.#inFlight--
      // delivered as a Node Buffer, as libp2p does (Buffer#slice aliases: the circuit layer must copy)
      if (!this.other.closed) this.other.receiver.onCell(Buffer.from(out), this.other)
    })
    return true
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.other.closed = true
    setImmediate(() => { this.receiver.onLinkClosed(this); this.other.receiver.onLinkClosed(this.other) })
  }
}

export interface FakeRelay {
  readonly name: string
  readonly service: RelayCircuits
  readonly hop: HopSpec
  /** Links this relay has, by neighbour name. */
  readonly links: Map<string, FakeLink>
}

export class FakeNet {
  readonly relays = new Map<string, FakeRelay>()
  readonly clock = new ManualClock()
  /** Every link end created. */
  readonly allLinks: FakeLink[] = []
  #receivers = new Map<string, Receiver>()
  #linksOf = new Map<string, Map<string, FakeLink>>()

  addRelay (name: string, opts: Partial<RelayCircuitsOptions> = {}): FakeRelay {
    const id = systemRng(32)
    const onion = generateOnionKey(systemRng)
    const keys = new RelayHandshakeKeys(id, [onion])
    const streams = new StreamTargetTable()
    streams.register(ECHO_TARGET, echoHandler)
    const links = new Map<string, FakeLink>()
    this.#linksOf.set(name, links)
    const service = new RelayCircuits({
      keys: { current: () => keys },
      links: { get: async (ls) => this.link(name, new TextDecoder().decode(ls)) },
      rng: systemRng,
      streams,
      ...opts
    })
    this.#receivers.set(name, service)
    const r: FakeRelay = { name, service, links, hop: { peer: name, linkSpecifier: new TextEncoder().encode(name), keys: { id, onionKey: onion.publicKey } } }
    this.relays.set(name, r)
    return r
  }

  addClient (name: string): { client: CircuitClient, links: Map<string, FakeLink> } {
    const links = new Map<string, FakeLink>()
    this.#linksOf.set(name, links)
    const client = new CircuitClient({ links: { get: async (ls) => this.link(name, new TextDecoder().decode(ls)) }, rng: systemRng, clock: this.clock, streamIdleMs: 20_000 })
    this.#receivers.set(name, client)
    return { client, links }
  }

  /** The link from `a` to `b` (opened by `a` if none). */
  link (a: string, b: string): FakeLink {
    const mine = this.#linksOf.get(a)
    const theirs = this.#linksOf.get(b)
    if (mine === undefined || theirs === undefined) throw new Error(`no node ${b}`)
    const open = mine.get(b)
    if (open !== undefined && !open.closed) return open
    const ab = new FakeLink(b, 'outbound')
    const ba = new FakeLink(a, 'inbound')
    ab.other = ba; ba.other = ab
    ab.receiver = this.#receivers.get(a)!
    ba.receiver = this.#receivers.get(b)!
    mine.set(b, ab)
    theirs.set(a, ba)
    this.allLinks.push(ab, ba)
    return ab
  }

  hops (...names: string[]): HopSpec[] { return names.map(n => this.relays.get(n)!.hop) }
}

export async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

export function bytes (n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}
