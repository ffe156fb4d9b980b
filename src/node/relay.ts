/**
 * A relay node: the overlay's pieces assembled (host, keys, datastore, directory,
 * descriptor publishing, directory exchange, links) plus the local control endpoint.
 *
 *   const relay = await startRelayNode({ dataDir, listen: ['/ip4/0.0.0.0/tcp/4001'], bootstrap })
 *   …
 *   await relay.stop()
 *
 * Descriptor flow: the relay signs its descriptor, puts it in its own directory and in
 * the DHT (`/veil-relay/<peer id>`), and republishes it at a third of its lifetime and
 * after every onion-key change. It fills its directory by exchanging directories with
 * the relays it is connected to (on connect, then periodically with backoff) and by DHT
 * lookups of relays its routing table knows but its directory lacks. It keeps links to a
 * few relays from its directory so the network stays connected.
 *
 * What a relay records about other peers: the peer ids of relays and of connections it
 * saw (for `veil status`), in memory only. It never logs payloads or keys.
 */
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import {
  createRelayHost, loadOrCreateIdentity, peerIdOfAddr, secretsDumpEnabled, OnionKeyStore, Directory, signDescriptor, descriptorKey, fetchDirectory, serveDirRequest,
  systemClock, secureRng, shuffled, silentLog, ensureDir, LinkManager,
  DIR_PROTOCOL, LINK_PROTOCOL, DESCRIPTOR_LIFETIME_MS, DESCRIPTOR_VERSION, InvalidDescriptorError,
  type Clock, type Log, type RelayHost, type RelayDescriptor, type Link, type DhtNamespace
} from '../overlay/index.ts'
import { startControlServer, type ControlServer } from './control.ts'
import { CELL_FORMAT_VERSION, CELL_SIZE_FOR_LINKS } from './versions.ts'

export interface RelayNodeOptions {
  dataDir: string
  listen: string[]
  announce?: string[]
  /** Multiaddrs of bootstrap relays, each ending in /p2p/<peer id>. */
  bootstrap?: string[]
  bandwidth?: number
  family?: string[]
  /** Loopback testnet: private addresses allowed, fast directory sync. */
  testnet?: boolean
  /** All relays on one address: the /16 rules are off. */
  singleAddress?: boolean
  onionKeyRotationMs?: number
  onionKeyOverlapMs?: number
  descriptorLifetimeMs?: number
  /** Links to keep open to other relays (besides whatever the DHT opens). */
  targetDegree?: number
  /** Cells queued per link before the link refuses more (default LINK_MAX_QUEUED_CELLS). */
  maxQueuedCellsPerLink?: number
  control?: boolean
  clock?: Clock
  log?: Log
  /** Called once the host listens, before anything is logged (the CLI names the network then). */
  onListening?: () => void
  /** Called when a control request asks the node to stop. */
  onStopRequested?: () => void
  /** Cells and link closures for the onion layer (src/node/onion-glue.ts binds these). */
  onCell?: (cell: Uint8Array, link: Link) => void
  onLinkClosed?: (link: Link, err?: Error) => void
  /** Extra kad-dht namespaces (validator + selector), e.g. the registry's (src/node/registry-glue.ts). */
  namespaces?: Record<string, DhtNamespace>
}

export interface RelayCounters {
  descriptorsPublished: number
  dhtPutErrors: number
  dirFetches: number
  dirFetchErrors: number
  dirServed: number
  descriptorsRejected: number
  dhtLookups: number
  /** Sync rounds that found this relay with no connection and dialled its bootstrap relays again. */
  bootstrapRetries: number
}

export interface RelayStatus {
  role: 'relay'
  peerId: string
  addrs: string[]
  testnet: boolean
  subnetRules: boolean
  connectedPeers: string[]
  directorySize: number
  directory: string[]
  onionKeys: Array<{ ageS: number, validForS: number }>
  identityKeyFile: string
  uptimeS: number
  counters: RelayCounters & { directoryAccepted: number, directoryCapped: number, rejectedByReason: Record<string, number> }
  links: number
  /** Every peer that ever opened a connection to this relay (peer id → first time, ms). */
  peersSeen: Record<string, number>
  /** Every peer this relay's DHT routing table ever held. */
  dhtPeersEver: string[]
  /** Sections added by the layers running on this relay (e.g. `circuits` counters). */
  sections: Record<string, unknown>
}

export interface RelayNode {
  readonly peerId: PeerId
  readonly host: RelayHost
  readonly directory: Directory
  readonly onionKeys: OnionKeyStore
  readonly links: LinkManager
  readonly privateKey: PrivateKey
  readonly controlPath: string | undefined
  addrs(): Multiaddr[]
  status(): RelayStatus
  publish(): Promise<void>
  syncNow(): Promise<void>
  /** Add a named section to the status (counters of a layer plugged into this relay). */
  setStatusSection(name: string, fn: () => unknown): void
  stop(): Promise<void>
}

export const CONTROL_SOCKET = 'control.sock'

export async function startRelayNode (opts: RelayNodeOptions): Promise<RelayNode> {
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? silentLog
  const testnet = opts.testnet === true
  await ensureDir(opts.dataDir)
  const privateKey = await loadOrCreateIdentity(opts.dataDir)
  const onionKeys = new OnionKeyStore({ dir: opts.dataDir, clock, rotationMs: opts.onionKeyRotationMs, overlapMs: opts.onionKeyOverlapMs })
  await onionKeys.load()
  const datastore = new LevelDatastore(join(opts.dataDir, 'datastore'))
  await datastore.open()
  const host = await createRelayHost({
    privateKey,
    listen: opts.listen,
    announce: opts.announce,
    datastore,
    clock,
    allowPrivateAddresses: testnet,
    namespaces: opts.namespaces,
    inboundConnectionThreshold: testnet ? 1000 : 20
  })
  const peerId = host.peerId
  const self = peerId.toString()
  const directory = new Directory({ clock, subnetRules: opts.singleAddress !== true, self })
  const counters: RelayCounters = { descriptorsPublished: 0, dhtPutErrors: 0, dirFetches: 0, dirFetchErrors: 0, dirServed: 0, descriptorsRejected: 0, dhtLookups: 0, bootstrapRetries: 0 }
  const peersSeen = new Map<string, number>()
  const dhtPeersEver = new Set<string>()
  const started = clock.now()
  const lifetime = opts.descriptorLifetimeMs ?? DESCRIPTOR_LIFETIME_MS
  const targetDegree = opts.targetDegree ?? 8
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let stopping = false

  const links = new LinkManager(host, {
    cellSize: CELL_SIZE_FOR_LINKS,
    protocol: LINK_PROTOCOL,
    maxQueuedCells: opts.maxQueuedCellsPerLink,
    // the onion layer takes cells from here (src/node/onion-glue.ts)
    onCell: (cell, link) => { opts.onCell?.(cell, link) },
    onLinkClosed: (link, err) => { opts.onLinkClosed?.(link, err) }
  })

  host.addEventListener('connection:open', (evt) => {
    const remote = evt.detail.remotePeer.toString()
    if (!peersSeen.has(remote)) peersSeen.set(remote, clock.now())
  })
  // kad-dht's routing table is not in its typed interface; record its additions if we can see them
  const rt: unknown = Reflect.get(host.services.dht, 'routingTable')
  if (rt instanceof EventTarget) {
    rt.addEventListener('peer:add', (evt) => {
      if (evt instanceof CustomEvent && evt.detail !== null && typeof evt.detail === 'object') dhtPeersEver.add(String(evt.detail))
    })
  }

  const addDescriptor = async (bytes: Uint8Array, source: string): Promise<boolean> => {
    try {
      const r = await directory.add(bytes, source)
      return r === 'added' || r === 'updated'
    } catch (err) {
      counters.descriptorsRejected++
      if (!(err instanceof InvalidDescriptorError)) throw err
      log.debug('descriptor rejected', { source: short(source), reason: err.reason })
      return false
    }
  }

  const publicAddrs = (): Multiaddr[] => {
    const seen = new Set<string>()
    const out: Multiaddr[] = []
    for (const a of host.getMultiaddrs()) {
      const bare = a.decapsulateCode(421) // drop /p2p/<id>
      const s = bare.toString()
      if (seen.has(s)) continue
      seen.add(s)
      out.push(bare)
    }
    return out.slice(0, 8)
  }

  const publish = async (): Promise<void> => {
    const now = clock.now()
    const d: RelayDescriptor = {
      version: DESCRIPTOR_VERSION,
      peerId,
      addrs: publicAddrs(),
      onionKeys: onionKeys.active().slice(-4).map(k => ({ publicKey: k.publicKey, validFrom: k.validFrom, validUntil: k.validUntil })),
      family: opts.family ?? [],
      protocols: [LINK_PROTOCOL, DIR_PROTOCOL, `cell/${CELL_FORMAT_VERSION}`],
      bandwidth: opts.bandwidth ?? 0,
      published: now,
      expires: now + lifetime
    }
    const sd = await signDescriptor(d, privateKey)
    await directory.add(sd.bytes, 'self')
    counters.descriptorsPublished++
    // the DHT copy is for relays that look us up; it must not hold up start-up
    void putInDht(sd.bytes)
  }

  const putInDht = async (bytes: Uint8Array): Promise<void> => {
    if (stopping) return
    try {
      for await (const e of host.services.dht.put(descriptorKey(peerId), bytes, { signal: AbortSignal.timeout(15_000) })) {
        if (e.name === 'QUERY_ERROR') counters.dhtPutErrors++
      }
    } catch {
      counters.dhtPutErrors++
    }
  }

  const dialDir = async (peer: PeerId, signal: AbortSignal) => host.dialProtocol(peer, DIR_PROTOCOL, { signal })

  const fetchFrom = async (peer: PeerId): Promise<number> => {
    counters.dirFetches++
    let fresh = 0
    try {
      await fetchDirectory(dialDir, peer, async (bytes) => { if (await addDescriptor(bytes, peer.toString())) fresh++ }, AbortSignal.timeout(30_000))
    } catch (err) {
      counters.dirFetchErrors++
      log.debug('directory fetch failed', { peer: short(peer.toString()), error: errMsg(err) })
    }
    return fresh
  }

  // Exchange directories with relays as they connect.
  host.addEventListener('peer:identify', (evt) => {
    if (stopping || !evt.detail.protocols.includes(DIR_PROTOCOL)) return
    void fetchFrom(evt.detail.peerId)
  })

  const lookupMissing = async (): Promise<number> => {
    let fresh = 0
    const candidates = [...dhtPeersEver].filter(p => p !== self && !directory.has(p)).slice(0, 8)
    for (const p of candidates) {
      let id: PeerId
      try { id = peerIdFromString(p) } catch { continue }
      counters.dhtLookups++
      try {
        for await (const e of host.services.dht.get(descriptorKey(id), { signal: AbortSignal.timeout(5_000) })) {
          if (e.name === 'VALUE' && await addDescriptor(e.value, 'dht')) { fresh++; break }
        }
      } catch { /* not found or timed out: try again next round */ }
    }
    return fresh
  }

  const keepLinks = async (): Promise<void> => {
    const connected = new Set(host.getConnections().map(c => c.remotePeer.toString()))
    const relayPeers = directory.entries().map(e => e.descriptor).filter(d => d.peerId.toString() !== self)
    const linked = relayPeers.filter(d => connected.has(d.peerId.toString())).length
    if (linked >= targetDegree) return
    const todo = shuffled(relayPeers.filter(d => !connected.has(d.peerId.toString())), secureRng).slice(0, targetDegree - linked)
    await Promise.all(todo.map(async d => {
      try {
        await host.dial(d.addrs.map(a => a.encapsulate(`/p2p/${d.peerId.toString()}`)), { signal: AbortSignal.timeout(5_000) })
      } catch { /* unreachable now: it may come back */ }
    }))
  }

  // Bootstrap: dial in bounded batches. Again on every sync round while this relay has no
  // connection at all: a bootstrap relay that refused or dropped us (busy with many new
  // relays' handshakes at once, or restarting) must not leave us isolated for good.
  const boots = (opts.bootstrap ?? []).map(b => multiaddr(b)).filter(b => peerIdOfAddr(b) !== self)
  const dialBootstrap = async (first: boolean): Promise<void> => {
    for (let i = 0; i < boots.length; i += 8) {
      await Promise.all(boots.slice(i, i + 8).map(async b => {
        try { await host.dial(b, { signal: AbortSignal.timeout(10_000) }) } catch (err) {
          if (first) log.warn('bootstrap peer unreachable', { addr: b.toString(), error: errMsg(err) })
        }
      }))
    }
  }
  const isolated = (): boolean => boots.length > 0 && host.getConnections().length === 0

  const minSync = testnet ? 500 : 5_000
  const maxSync = testnet ? 10_000 : 10 * 60_000
  /** While isolated, the sync round (which redials the bootstrap relays) comes at least this often. */
  const isolatedSync = testnet ? 2_000 : 30_000
  let syncDelay = minSync
  // Connections we already tried a directory exchange on (by connection id): a peer whose
  // identify was lost or slow still gets one exchange, and a client host (no directory
  // handler) costs one refused stream per connection, not one per round.
  const exchanged = new Set<string>()
  const syncNow = async (): Promise<void> => {
    if (isolated()) {
      counters.bootstrapRetries++
      await dialBootstrap(false)
    }
    const conns = host.getConnections()
    const live = new Set(conns.map(c => c.id))
    for (const id of exchanged) if (!live.has(id)) exchanged.delete(id)
    const firstTime = conns.filter(c => !exchanged.has(c.id))
    for (const c of firstTime) exchanged.add(c.id)
    const known = shuffled(conns.map(c => c.remotePeer).filter(p => directory.has(p.toString())), secureRng)
    const targets = new Map<string, PeerId>()
    for (const c of firstTime) targets.set(c.remotePeer.toString(), c.remotePeer)
    for (const p of known) {
      if (targets.size >= firstTime.length + 3) break
      targets.set(p.toString(), p)
    }
    let fresh = 0
    for (const p of targets.values()) fresh += await fetchFrom(p)
    fresh += await lookupMissing()
    await keepLinks()
    syncDelay = fresh > 0 ? minSync : Math.min(isolated() ? isolatedSync : maxSync, syncDelay * 2)
  }

  const schedule = (fn: () => Promise<void>, delay: () => number): void => {
    const t = setTimeout(() => {
      timers.delete(t)
      if (stopping) return
      fn().catch((err: unknown) => { log.warn('background task failed', { error: errMsg(err) }) })
        .finally(() => { if (!stopping) schedule(fn, delay) })
    }, delay())
    t.unref?.()
    timers.add(t)
  }

  try {
    await host.start()
  } catch (err) {
    await datastore.close().catch(() => {})
    throw err
  }
  opts.onListening?.()
  await links.start()
  await host.handle(DIR_PROTOCOL, (stream) => {
    counters.dirServed++
    void serveDirRequest(stream, directory)
  }, { maxInboundStreams: 16 })

  log.info('relay started', { peer: self, addrs: publicAddrs().map(String).join(' ') })
  if (secretsDumpEnabled()) log.warn('TEST MODE: this process writes every secret it generates to the file in VEIL_TEST_ONLY_SECRETS_DUMP', {})

  await dialBootstrap(true)
  await publish()
  log.info('descriptor published', { onionKeys: onionKeys.active().length })

  schedule(syncNow, () => syncDelay)
  schedule(async () => {
    if (await onionKeys.rotateIfDue()) log.info('onion key rotated', {})
    await publish()
  }, () => Math.max(1_000, Math.min(lifetime / 3, onionKeys.nextChangeAt() - clock.now() + 10)))

  let control: ControlServer | undefined
  const sections = new Map<string, () => unknown>()
  // bytes buffered per link: the limit and what it refused (`veil status` → sections.links)
  sections.set('links', () => ({ open: links.links().length, limits: links.limits, cellsDropped: links.dropped }))
  const node: RelayNode = {
    peerId,
    host,
    directory,
    onionKeys,
    links,
    privateKey,
    get controlPath () { return control?.path },
    addrs: publicAddrs,
    publish,
    syncNow,
    setStatusSection: (name, fn) => { sections.set(name, fn) },
    status: (): RelayStatus => ({
      role: 'relay',
      peerId: self,
      addrs: publicAddrs().map(String),
      testnet,
      subnetRules: opts.singleAddress !== true,
      connectedPeers: [...new Set(host.getConnections().map(c => c.remotePeer.toString()))].sort(),
      directorySize: directory.size,
      directory: directory.entries().map(e => e.descriptor.peerId.toString()),
      onionKeys: onionKeys.active().map(k => ({ ageS: Math.round((clock.now() - k.validFrom) / 1000), validForS: Math.round((k.validUntil - clock.now()) / 1000) })),
      identityKeyFile: join(opts.dataDir, 'identity.key'),
      uptimeS: Math.round((clock.now() - started) / 1000),
      counters: { ...counters, directoryAccepted: directory.counters.accepted, directoryCapped: directory.counters.capped, rejectedByReason: { ...directory.counters.rejected } },
      links: links.links().length,
      peersSeen: Object.fromEntries(peersSeen),
      dhtPeersEver: [...dhtPeersEver].sort(),
      sections: Object.fromEntries([...sections].map(([k, fn]) => [k, fn()]))
    }),
    stop: async () => {
      if (stopping) return
      stopping = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
      await control?.close()
      await host.unhandle(DIR_PROTOCOL).catch(() => {})
      await links.stop()
      await host.stop()
      await datastore.close()
      log.info('relay stopped', { peer: self })
    }
  }
  if (opts.control !== false) {
    control = await startControlServer(join(opts.dataDir, CONTROL_SOCKET), {
      status: () => node.status(),
      stop: opts.onStopRequested,
      rotateOnion: async () => {
        await onionKeys.rotateNow()
        log.info('onion key rotated on request', {})
        await publish()
      }
    })
  }
  return node
}

function short (id: string): string { return id.length > 12 ? id.slice(-8) : id }
function errMsg (err: unknown): string { return err instanceof Error ? err.message : String(err) }

export type { Link }
