/**
 * Wires the onion layer's circuits to the overlay's nodes: the one place that
 * knows both libp2p (peer ids, links, the directory) and src/onion's small
 * interfaces (LinkLike, LinkProvider, HandshakeKeySource, PathSource).
 *
 * Relay:
 * ```
 * const hooks = onionLinkHooks()
 * const relay = await startRelayNode({ ...opts, ...hooks })   // links deliver cells to the hooks
 * const onion = attachOnionRelay(relay, hooks, { echo: true })
 * ```
 * Client:
 * ```
 * const client = await startClientNode({ bootstrap })
 * await client.ready
 * const circuits = await attachCircuits(client, { hops: 3 })
 * const circuit = await circuits.manager.get()
 * ```
 *
 * A client's links go only to its entry relays: the link host refuses to dial
 * anyone else, the path's first hop is drawn among entry relays only, and
 * every later hop is reached by EXTEND through the circuit. A relay extends
 * only to relays in its own verified directory (never to an arbitrary address)
 * and never back to the circuit's predecessor.
 * Must never: give the onion layer a libp2p object; let a client dial a non-entry.
 */
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import type { PeerId } from '@libp2p/interface'
import {
  LINK_PROTOCOL, LinkManager, OverlayConfigError, secureRng, subnet16, systemClock,
  type Link, type LinkHost, type DirectoryEntry, type Rng as OverlayRng, type Clock
} from '../overlay/index.ts'
import {
  RelayCircuits, RelayCommandTable, StreamTargetTable, CircuitClient, CircuitManager, RelayHandshakeKeys, ECHO_TARGET, echoHandler, systemRng,
  CellCommand, CIRC_ID_LEN, RelayCommand,
  type Circuit, type LinkLike, type LinkProvider, type ForwardScheduler, type HopSpec, type PathSource, type BuildTimeEstimator, type RelayCircuitCounters, type Rng
} from '../onion/index.ts'
import { PathDirectory, type PathRules, type GuardSet, type RelayCandidate } from '../onion/path/index.ts'
import { CELL_SIZE_FOR_LINKS } from './versions.ts'
import { ClientMix, LinkPadder, relayMixer, type ClientMixOptions, type RelayMixer, type RelayMixOptions } from './mix-glue.ts'
import { PROFILE_NAMES, systemTimer, type ClientOverrides, type LinkPaddingPolicy, type ProfileName, type Timer } from '../mix/index.ts'
import type { RelayNode } from './relay.ts'
import type { ClientNode } from './client.ts'

const EMPTY_DATA = new Uint8Array(0)

// ---------------------------------------------------------------------------
// Links as the onion layer sees them
// ---------------------------------------------------------------------------

/** Test hook: wrap each link (observe or alter cells). Production passes none. */
export type LinkWrapper = (link: LinkLike) => LinkLike

class LinkView {
  readonly #views = new WeakMap<Link, LinkLike>()
  readonly #wrap: LinkWrapper | undefined
  readonly #onRealCell: ((view: LinkLike) => void) | undefined
  /** `onRealCell`: told of every non-PADDING cell sent on a view (link padding's idle rule). */
  constructor (wrap: LinkWrapper | undefined, onRealCell?: (view: LinkLike) => void) {
    this.#wrap = wrap
    this.#onRealCell = onRealCell
  }

  of (link: Link): LinkLike {
    let v = this.#views.get(link)
    if (v === undefined) {
      const peer = link.peer.toString()
      const notify = this.#onRealCell
      let view: LinkLike | undefined
      const base: LinkLike = {
        peer,
        direction: link.direction,
        get closed () { return link.closed },
        send: (cell) => {
          if (notify !== undefined && view !== undefined && cell[CIRC_ID_LEN] !== CellCommand.PADDING) notify(view)
          return link.send(cell)
        }
      }
      view = this.#wrap?.(base) ?? base
      v = view
      this.#views.set(link, v)
    }
    return v
  }
}

/** Late-bound link hooks: pass them to startRelayNode, then attach the onion layer to them. */
export interface OnionLinkHooks {
  onCell: (cell: Uint8Array, link: Link) => void
  onLinkClosed: (link: Link, err?: Error) => void
}

export interface BindableLinkHooks extends OnionLinkHooks {
  bind(target: OnionLinkHooks): void
}

/** Cells held for the onion layer before it is attached (a relay starting); beyond this they are dropped. */
export const MAX_EARLY_CELLS = 1024

export function onionLinkHooks (): BindableLinkHooks {
  let target: OnionLinkHooks | undefined
  // A relay's links accept cells before its onion layer is attached (startRelayNode still
  // bootstraps and publishes its descriptor): a CREATE dropped then is never answered, and
  // its sender waits until its own timeout. Hold them (bounded) and hand them over on bind.
  let early: Array<[Uint8Array, Link]> | undefined = []
  return {
    onCell: (cell, link) => {
      if (target !== undefined) target.onCell(cell, link)
      else if (early !== undefined && early.length < MAX_EARLY_CELLS) early.push([cell, link])
    },
    onLinkClosed: (link, err) => {
      if (target !== undefined) target.onLinkClosed(link, err)
      else if (early !== undefined) early = early.filter(([, l]) => l !== link)
    },
    bind: (t) => {
      target = t
      const held = early ?? []
      early = undefined
      for (const [cell, link] of held) {
        if (link.closed) continue
        // as the link itself does when its handler throws
        try { t.onCell(cell, link) } catch (err) { link.abort(err instanceof Error ? err : new Error(String(err))) }
      }
    }
  }
}

function peerOfSpecifier (ls: Uint8Array): PeerId {
  try {
    return peerIdFromMultihash(Digest.decode(ls))
  } catch {
    throw new OverlayConfigError('link specifier is not a peer id')
  }
}

// ---------------------------------------------------------------------------
// Relay
// ---------------------------------------------------------------------------

export interface OnionRelayOptions {
  /** A forward scheduler of the caller's; default: this relay's mixer (below). */
  scheduler?: ForwardScheduler
  /**
   * The relay's mixer (src/mix via mix-glue.ts): one delay scheduler per relay, SET_PROFILE
   * and LOOP commands. Default on, with the system clock, a CSPRNG and the preset table;
   * false turns it off (cells forwarded at once, no profile commands). Ignored when
   * `scheduler` is given.
   */
  mix?: false | Partial<RelayMixOptions>
  /** Idle-link padding (default DEFAULT_LINK_PADDING); false: none. */
  linkPadding?: false | { policy?: LinkPaddingPolicy, timer?: Timer, clock?: Clock }
  commands?: RelayCommandTable
  streams?: StreamTargetTable
  /** Register the echo stream target (tests, bench, demo). */
  echo?: boolean
  rng?: Rng
  extendTimeoutMs?: number
  /** Circuits accepted per link — one link per peer: circuits per peer (default MAX_CIRCUITS_PER_LINK). */
  maxCircuitsPerLink?: number
  /** Circuits through this relay (default MAX_RELAY_CIRCUITS). */
  maxCircuits?: number
  /** CREATEs answered per second over all links (default RELAY_CREATES_PER_SECOND). */
  createsPerSecond?: number
  /** CREATEs answered per second from one link (default RELAY_CREATES_PER_SECOND_PER_LINK). */
  createsPerSecondPerLink?: number
  /** Streams open at once on one circuit ending here (default MAX_STREAMS_PER_CIRCUIT). */
  maxStreamsPerCircuit?: number
  /** A circuit idle this long is destroyed (default RELAY_CIRCUIT_IDLE_MS). */
  circuitIdleMs?: number
  wrapLink?: LinkWrapper
}

export interface OnionRelay {
  readonly service: RelayCircuits
  /** The relay's mixer (undefined when mix is off or a scheduler was passed). */
  readonly mix: RelayMixer | undefined
  readonly padder: LinkPadder | undefined
  readonly commands: RelayCommandTable
  readonly streams: StreamTargetTable
  readonly counters: RelayCircuitCounters
  stop(): void
}

/** The relay's handshake keys, rebuilt when its set of valid onion keys changes. */
function relayKeySource (relay: RelayNode): { current(): RelayHandshakeKeys } {
  let cached: RelayHandshakeKeys | undefined
  let sig = ''
  return {
    current: () => {
      const active = relay.onionKeys.active()
      const s = active.map(k => k.validFrom).join(',')
      if (cached === undefined || s !== sig) {
        cached = new RelayHandshakeKeys(relay.privateKey.publicKey.raw, active.map(k => ({ secretKey: k.secretKey.expose(), publicKey: k.publicKey })))
        sig = s
      }
      return cached
    }
  }
}

/** Run the relay side of circuits on `relay`'s links. `hooks` must be the ones given to startRelayNode. */
export function attachOnionRelay (relay: RelayNode, hooks: BindableLinkHooks, opts: OnionRelayOptions = {}): OnionRelay {
  const padder = opts.linkPadding === false
    ? undefined
    : new LinkPadder({ policy: opts.linkPadding?.policy, clock: opts.linkPadding?.clock ?? systemClock, timer: opts.linkPadding?.timer ?? systemTimer, rng: secureRng })
  const views = new LinkView(opts.wrapLink, padder === undefined ? undefined : (v) => { padder.activity(v) })
  const self = relay.peerId.toString()
  const commands = opts.commands ?? new RelayCommandTable()
  const mix = opts.scheduler !== undefined || opts.mix === false
    ? undefined
    : relayMixer({ clock: opts.mix?.clock ?? systemClock, rng: opts.mix?.rng ?? secureRng, timer: opts.mix?.timer ?? systemTimer, table: opts.mix?.table, capacity: opts.mix?.capacity, laneLimit: opts.mix?.laneLimit })
  mix?.register(commands)
  const streams = opts.streams ?? new StreamTargetTable()
  if (opts.echo === true) streams.register(ECHO_TARGET, echoHandler)
  const links: LinkProvider = {
    get: async (ls, signal) => {
      const peer = peerOfSpecifier(ls)
      const id = peer.toString()
      if (id === self) throw new OverlayConfigError('refusing to extend to this relay itself')
      const entry = relay.directory.get(id)
      if (entry === undefined) throw new OverlayConfigError('refusing to extend to a relay not in the directory')
      if (relay.host.getConnections(peer).length === 0) {
        await relay.host.dial(entry.descriptor.addrs.map(a => a.encapsulate(`/p2p/${id}`)), { signal })
      }
      return views.of(await relay.links.get(peer, signal))
    }
  }
  const service = new RelayCircuits({
    keys: relayKeySource(relay),
    links,
    rng: opts.rng ?? systemRng,
    scheduler: opts.scheduler ?? mix?.scheduler,
    commands,
    streams,
    extendTimeoutMs: opts.extendTimeoutMs,
    maxCircuitsPerLink: opts.maxCircuitsPerLink,
    maxCircuits: opts.maxCircuits,
    createsPerSecond: opts.createsPerSecond,
    createsPerSecondPerLink: opts.createsPerSecondPerLink,
    maxStreamsPerCircuit: opts.maxStreamsPerCircuit,
    idleMs: opts.circuitIdleMs,
    onMessageSent: mix === undefined ? undefined : (key, cells) => { mix.messageSent(key, cells) }
  })
  // paranoid's backward stream sends its fillers as DROPs from this hop (only where a circuit ends here)
  mix?.bindFiller((key) => service.originateAtLastHop(key, RelayCommand.DROP, 0, EMPTY_DATA))
  hooks.bind({
    onCell: (cell, link) => {
      const v = views.of(link)
      if (padder !== undefined && cell[CIRC_ID_LEN] !== CellCommand.PADDING) padder.activity(v)
      service.onCell(cell, v)
    },
    onLinkClosed: (link) => {
      const v = views.of(link)
      padder?.forget(v)
      service.onLinkClosed(v)
    }
  })
  if (mix !== undefined || padder !== undefined) {
    relay.setStatusSection('mix', () => ({ scheduler: mix?.stats(), linkPadding: padder?.stats() }))
  }
  return {
    service,
    mix,
    padder,
    commands,
    streams,
    counters: service.counters,
    stop: () => {
      hooks.bind({ onCell: () => {}, onLinkClosed: () => {} })
      service.stop()
      mix?.stop()
      padder?.stop()
    }
  }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

export interface ClientCircuitsOptions {
  hops?: number
  poolSize?: number
  maxAgeMs?: number
  attempts?: number
  /** Path rules; the testnet's single-address mode turns distinctSubnet off. */
  rules?: PathRules
  guards?: GuardSet | null
  /** Entry relays that must have served a descriptor before it is used (default: min(2, entries)). */
  confirmations?: number
  buildTimes?: BuildTimeEstimator
  clock?: Clock
  rng?: OverlayRng
  onionRng?: Rng
  streamIdleMs?: number
  maxMessageLen?: number
  wrapLink?: LinkWrapper
  /** Start the pool-filling manager now (default true). */
  startManager?: boolean
  /**
   * Privacy profile of `manager`'s circuits (src/mix). Given: every circuit announces it
   * to each hop (SET_PROFILE) and gets the profile's cover and padding. Omitted: circuits
   * announce nothing and relays treat them as `fast`.
   */
  profile?: ProfileName
  /** Local overrides of the profile's client half (cover rates only). */
  mixOverrides?: ClientOverrides
  /** Timer for cover traffic (default systemTimer; tests pass a ManualTimer). */
  mixTimer?: Timer
  /**
   * How paranoid's cover circuits are built (default: a fresh path chosen by the same
   * rules as call circuits, through the same guard, never handed to calls). Benchmarks
   * pass fixed paths.
   */
  buildCover?: ClientMixOptions['buildCover']
}

export interface ClientCircuits {
  readonly client: CircuitClient
  /** The manager of `opts.profile` (or of unannounced circuits when none was given). */
  readonly manager: CircuitManager
  /** Cover, padding and loop counters of this client (for `veil status`). */
  readonly mix: ClientMix
  /** The manager whose circuits carry `profile`: calls with different profiles use different circuits. */
  managerFor(profile: ProfileName): CircuitManager
  readonly links: LinkManager
  readonly paths: PathSource
  /** The hop keys of a relay in the directory (for hand-made paths). */
  hop(peerId: string): HopSpec | undefined
  stop(): Promise<void>
}

/** The newest onion key valid now. */
function currentOnionKey (e: DirectoryEntry, now: number): Uint8Array | undefined {
  const valid = e.descriptor.onionKeys.filter(k => k.validFrom <= now && now < k.validUntil).sort((a, b) => a.validFrom - b.validFrom)
  return valid.at(-1)?.publicKey
}

function hopOf (e: DirectoryEntry, now: number): HopSpec | undefined {
  const pub = e.descriptor.peerId.publicKey
  const onionKey = currentOnionKey(e, now)
  if (pub === undefined || pub.type !== 'Ed25519' || onionKey === undefined) return undefined
  return { peer: e.descriptor.peerId.toString(), linkSpecifier: e.descriptor.peerId.toMultihash().bytes, keys: { id: pub.raw, onionKey } }
}

/** Run circuits from a client node: links to its entry relays only, a circuit client and a manager. */
export async function attachCircuits (node: ClientNode, opts: ClientCircuitsOptions = {}): Promise<ClientCircuits> {
  const clock = opts.clock ?? systemClock
  const views = new LinkView(opts.wrapLink)
  const entries = new Map(node.entries.map(e => [e.peerId.toString(), e]))
  const confirmations = Math.max(1, Math.min(opts.confirmations ?? 2, entries.size))
  const linkHost: LinkHost = {
    handle: async () => { throw new OverlayConfigError('a client accepts no links') },
    unhandle: async () => {},
    dialProtocol: async (peer, protocol, o) => {
      const e = entries.get(peer.toString())
      // the only peers a client host ever dials are its entry relays
      if (e === undefined) throw new OverlayConfigError('refusing to link to a non-entry relay')
      return node.host.dialProtocol(e.addr, protocol, o)
    }
  }
  let client: CircuitClient | undefined
  const links = new LinkManager(linkHost, {
    cellSize: CELL_SIZE_FOR_LINKS,
    protocol: LINK_PROTOCOL,
    acceptInbound: false,
    onCell: (cell, link) => { client?.onCell(cell, views.of(link)) },
    onLinkClosed: (link) => { client?.onLinkClosed(views.of(link)) }
  })
  await links.start()
  const linkProvider: LinkProvider = {
    get: async (ls, signal) => {
      const peer = peerOfSpecifier(ls)
      if (!entries.has(peer.toString())) throw new OverlayConfigError('the first hop must be an entry relay')
      return views.of(await links.get(peer, signal))
    }
  }
  client = new CircuitClient({ links: linkProvider, rng: opts.onionRng ?? systemRng, clock, streamIdleMs: opts.streamIdleMs, maxMessageLen: opts.maxMessageLen })
  const hop = (id: string): HopSpec | undefined => {
    const e = node.directory.get(id)
    return e === undefined ? undefined : hopOf(e, clock.now())
  }
  const paths: PathSource = {
    snapshot: () => {
      const now = clock.now()
      const usable = node.directory.confirmed(confirmations).filter(e => hopOf(e, now) !== undefined)
      const candidates: RelayCandidate[] = usable.map(e => ({
        id: e.descriptor.peerId.toString(),
        subnet16: subnet16(e.descriptor.addrs),
        family: e.descriptor.family,
        bandwidthClaim: e.descriptor.bandwidth,
        // entry relays only: the client host links to nobody else
        guardEligible: entries.has(e.descriptor.peerId.toString())
      }))
      // testnets claim no bandwidth: uniform weights then (a claim may only lower a weight anyway)
      const weighting = candidates.every(c => c.bandwidthClaim > 0) ? 'bandwidth' : 'uniform'
      return { directory: new PathDirectory(candidates, { weighting }), hop }
    }
  }
  const c = client
  // paranoid's cover circuits: built by a manager of their own that announces nothing
  // (ClientMix announces the profile) and never pools or hands out a circuit
  let coverBuilder: CircuitManager | undefined
  const mix = new ClientMix({
    clock,
    rng: opts.rng ?? secureRng,
    timer: opts.mixTimer ?? systemTimer,
    overrides: opts.mixOverrides,
    isGuard: (relay) => entries.has(relay),
    buildCover: opts.buildCover ?? (async (signal) => {
      coverBuilder ??= newManager(undefined)
      return await coverBuilder.build({ signal })
    })
  })
  const newManager = (profile: ProfileName | undefined): CircuitManager => new CircuitManager({
    client: c,
    paths,
    rng: opts.rng ?? secureRng,
    clock,
    hops: opts.hops,
    poolSize: opts.poolSize,
    maxAgeMs: opts.maxAgeMs,
    attempts: opts.attempts,
    rules: opts.rules,
    guards: opts.guards ?? null,
    buildTimes: opts.buildTimes,
    // relays the loop tracker convicted (losses on ≥ 3 disjoint paths; never a guard)
    avoid: () => mix.loops.avoided(),
    onBuilt: profile === undefined ? undefined : (circuit: Circuit) => { mix.prepare(circuit, profile) }
  })
  if (opts.profile !== undefined) mix.profile(opts.profile) // validates the overrides now
  const manager = newManager(opts.profile)
  const managers = new Map<ProfileName, CircuitManager>()
  if (opts.profile !== undefined) managers.set(opts.profile, manager)
  if (opts.startManager !== false) manager.start()
  return {
    client: c,
    manager,
    mix,
    managerFor: (profile) => {
      if (!PROFILE_NAMES.includes(profile)) throw new OverlayConfigError(`unknown privacy profile "${String(profile)}"`)
      let m = managers.get(profile)
      if (m === undefined) {
        m = newManager(profile)
        managers.set(profile, m)
        if (opts.startManager !== false) m.start()
      }
      return m
    },
    links,
    paths,
    hop,
    stop: async () => {
      mix.stop()
      await coverBuilder?.stop()
      await manager.stop()
      for (const m of managers.values()) if (m !== manager) await m.stop()
      c.stop()
      await links.stop()
    }
  }
}

/** Parse a peer id string (for callers building paths by hand). */
export function peerIdOf (id: string): PeerId { return peerIdFromString(id) }
