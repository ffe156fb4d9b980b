/**
 * Wires the registry (src/registry) to the overlay's nodes and the onion layer: the one
 * place that knows libp2p's datastore, the client's directory and circuits, and the
 * registry's storer, client and provider session.
 *
 * Relay (every relay is a potential storer):
 * ```
 * const hooks = onionLinkHooks()
 * const relay = await startRelayNode({ ...opts, ...hooks, namespaces: registryDhtNamespaces(clock, params.periods) })
 * const onion = attachOnionRelay(relay, hooks)
 * const registry = await attachRegistryRelay(relay, onion, { params })
 * ```
 * Client (a consumer or a provider's publisher):
 * ```
 * const circuits = await attachCircuits(client, { startManager: false })
 * const reg = registryClient(client, circuits, { params })
 * await reg.publish(buildDescriptor(id, …))            // every storer, one circuit each
 * const { opened } = await reg.fetchDescriptor(address)
 * const session = await reg.connectPublic(address, opened, relayIdOf)
 * ```
 * Public provider (on its own relay): `servePublicProvider(onion, handler)`.
 *
 * The storer reads and writes kad-dht's own record store (the libp2p datastore, keys
 * `/dht/record/<base32 key>`, values libp2p Record protobufs), so what STORE writes the
 * relay's DHT serves and vice versa; it never calls the DHT.
 * Must never: start a DHT query because of a relay cell; let a client host dial anything
 * but its entry relays (circuits go through attachCircuits' entry-only links).
 */
import { Key, type Datastore } from 'interface-datastore'
import { Libp2pRecord } from '@libp2p/record'
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { systemClock, secureRng, type Clock, type Rng as PickRng, type DhtNamespace } from '../overlay/index.ts'
import type { OnionRelay, ClientCircuits } from './onion-glue.ts'
import type { RelayNode } from './relay.ts'
import type { ClientNode } from './client.ts'
import { base32Decode, base32Encode } from '../registry/base32.ts'
import {
  RELAY_REGISTRY_FETCH, RELAY_REGISTRY_STORE, RELAY_ESTABLISH_INTRO, RELAY_INTRODUCE1, RELAY_INTRO_CREDIT, RELAY_ESTABLISH_RENDEZVOUS,
  RELAY_RENDEZVOUS1, RELAY_RV_DATA, RELAY_RV_CREDIT, RELAY_RV_SENDME, RELAY_RV_CLOSE, RELAY_REGISTRY_STORE_ENTRY, RELAY_REGISTRY_FETCH_ENTRIES
} from '../registry/constants.ts'
import { IndexStorer, type IndexStorerLimits } from '../registry/index-store.ts'
import { IntroPointService, type IntroPointLimits } from '../registry/intro-point.ts'
import { RendezvousPointService } from '../registry/rendezvous-point.ts'
import type { HiddenNetwork } from '../registry/hs-paths.ts'
import { Storer, type RecordStore, type StorerLimits } from '../registry/store.ts'
import { registryNamespaces, PRODUCTION_PARAMS, type RegistryParams } from '../registry/params.ts'
import { relayKadId } from '../registry/placement.ts'
import { RegistryClient, type RegistryNetwork } from '../registry/client.ts'
import { PROVIDER_TARGET, serveSession, type ProviderHandler } from '../registry/session.ts'
import type { PeriodParams } from '../registry/time.ts'

/** kad-dht's datastore prefix for records (its default `datastorePrefix` + "/record"). */
export const DHT_RECORD_PREFIX = '/dht/record'

/** The registry's namespaces for startRelayNode's `namespaces` (kad-dht validators and selectors). */
export function registryDhtNamespaces (clock: Clock = systemClock, periods: PeriodParams = PRODUCTION_PARAMS.periods): Record<string, DhtNamespace> {
  const out: Record<string, DhtNamespace> = {}
  for (const [ns, r] of Object.entries(registryNamespaces(clock, periods))) out[ns] = { validate: r.validate, select: r.select }
  return out
}

/**
 * The relay's libp2p datastore. RelayNode does not expose it yet (requested): until then
 * it is read from the libp2p node's components, and checked.
 */
export function relayDatastore (relay: RelayNode): Datastore {
  const components: unknown = Reflect.get(relay.host, 'components')
  const ds: unknown = components !== null && typeof components === 'object' ? Reflect.get(components, 'datastore') : undefined
  if (ds === null || typeof ds !== 'object' || typeof Reflect.get(ds, 'get') !== 'function' || typeof Reflect.get(ds, 'query') !== 'function') {
    throw new Error('relay datastore not reachable')
  }
  return ds as Datastore
}

/** kad-dht's record store over a datastore (same keys and record encoding as its PUT_VALUE/GET_VALUE handlers). */
export function dhtRecordStore (ds: Datastore): RecordStore {
  const keyOf = (key: Uint8Array): Key => new Key(`${DHT_RECORD_PREFIX}/${base32Encode(key)}`, false)
  return {
    get: async (key) => {
      let raw: Uint8Array
      try { raw = await ds.get(keyOf(key)) } catch (err) {
        if (err instanceof Error && err.name === 'NotFoundError') return undefined
        throw err
      }
      try { return Libp2pRecord.deserialize(raw).value } catch { return undefined }
    },
    put: async (key, value) => { await ds.put(keyOf(key), new Libp2pRecord(key, value, new Date()).serialize()) },
    delete: async (key) => { await ds.delete(keyOf(key)) },
    list: async function * () {
      for await (const { key, value } of ds.query({ prefix: DHT_RECORD_PREFIX })) {
        try {
          const rec = Libp2pRecord.deserialize(value)
          const name = key.toString().slice(DHT_RECORD_PREFIX.length + 1)
          if (base32Encode(base32Decode(name)) !== name) continue
          yield { key: rec.key, value: rec.value }
        } catch { /* not a record of ours */ }
      }
    }
  }
}

export interface RegistryRelayOptions {
  params?: RegistryParams
  limits?: Partial<StorerLimits>
  /** This relay's caps as an introduction point (introductions per second per provider). */
  introLimits?: Partial<IntroPointLimits>
  /** The keyword index's limits at this storer. */
  indexLimits?: Partial<IndexStorerLimits>
  clock?: Clock
  /** Another record store (tests); default: the relay's kad-dht store. */
  store?: RecordStore
}

export interface RegistryRelay {
  readonly storer: Storer
  /** The keyword index's entry sets held here (memory only). */
  readonly index: IndexStorer
  /** This relay as an introduction point and as a rendezvous point (hidden providers). */
  readonly intro: IntroPointService
  readonly rendezvous: RendezvousPointService
  stop(): void
}

/** The extension commands a relay answers as introduction and rendezvous point. */
const HS_RELAY_COMMANDS = [
  RELAY_ESTABLISH_INTRO, RELAY_INTRODUCE1, RELAY_INTRO_CREDIT, RELAY_ESTABLISH_RENDEZVOUS, RELAY_RENDEZVOUS1, RELAY_RV_DATA, RELAY_RV_CREDIT, RELAY_RV_SENDME, RELAY_RV_CLOSE
] as const

/** Make `relay` a storer: STORE/FETCH relay commands answered from its kad-dht record store. */
export async function attachRegistryRelay (relay: RelayNode, onion: OnionRelay, o: RegistryRelayOptions = {}): Promise<RegistryRelay> {
  const clock = o.clock ?? systemClock
  const params = o.params ?? PRODUCTION_PARAMS
  const storer = new Storer({ store: o.store ?? dhtRecordStore(relayDatastore(relay)), namespaces: registryNamespaces(clock, params.periods), clock, limits: o.limits })
  await storer.load()
  onion.commands.register(RELAY_REGISTRY_STORE, async (ctx, cell) => { await storer.onStore(ctx, cell.data) })
  onion.commands.register(RELAY_REGISTRY_FETCH, async (ctx, cell) => { await storer.onFetch(ctx, cell.data) })
  const index = new IndexStorer({ clock, periods: params.periods, limits: o.indexLimits })
  onion.commands.register(RELAY_REGISTRY_STORE_ENTRY, (ctx, cell) => { index.onStoreEntry(ctx, cell.data) })
  onion.commands.register(RELAY_REGISTRY_FETCH_ENTRIES, (ctx, cell) => { index.onFetchEntries(ctx, cell.data) })
  // introduction and rendezvous: synchronous handlers (a circuit's cells are handled in order)
  const intro = new IntroPointService({ clock, limits: o.introLimits })
  const rendezvous = new RendezvousPointService({ clock })
  onion.commands.register(RELAY_ESTABLISH_INTRO, (ctx, cell) => { intro.onEstablish(ctx, cell.data) })
  onion.commands.register(RELAY_INTRODUCE1, (ctx, cell) => { intro.onIntroduce1(ctx, cell.data) })
  onion.commands.register(RELAY_INTRO_CREDIT, (ctx, cell) => { intro.onCredit(ctx, cell.data) })
  onion.commands.register(RELAY_ESTABLISH_RENDEZVOUS, (ctx, cell) => { rendezvous.onEstablish(ctx, cell.data) })
  onion.commands.register(RELAY_RENDEZVOUS1, (ctx, cell) => { rendezvous.onRendezvous1(ctx, cell.data) })
  onion.commands.register(RELAY_RV_DATA, (ctx, cell) => { rendezvous.onData(ctx, cell.command, cell.data) })
  onion.commands.register(RELAY_RV_CREDIT, (ctx) => { rendezvous.onCredit(ctx) })
  onion.commands.register(RELAY_RV_SENDME, (ctx) => { rendezvous.onSendme(ctx) })
  onion.commands.register(RELAY_RV_CLOSE, (ctx) => { rendezvous.onClose(ctx) })
  const unsubscribeClosed = onion.commands.onClosed((key) => { rendezvous.onCircuitClosed(key) })
  relay.setStatusSection('registry', () => ({
    limits: storer.limits, ...structuredClone(storer.counters), index: { limits: index.limits, ...structuredClone(index.counters) }, intro: { limits: intro.limits, ...intro.counters, points: intro.size }, rendezvous: { ...rendezvous.counters, circuits: rendezvous.size }
  }))
  return {
    storer,
    index,
    intro,
    rendezvous,
    stop: () => {
      onion.commands.unregister(RELAY_REGISTRY_STORE)
      onion.commands.unregister(RELAY_REGISTRY_FETCH)
      onion.commands.unregister(RELAY_REGISTRY_STORE_ENTRY)
      onion.commands.unregister(RELAY_REGISTRY_FETCH_ENTRIES)
      for (const c of HS_RELAY_COMMANDS) onion.commands.unregister(c)
      unsubscribeClosed()
    }
  }
}

/** The peer id string of a relay named by its multihash bytes (descriptor `relay` fields). */
export function relayIdOf (multihash: Uint8Array): string {
  return peerIdFromMultihash(Digest.decode(multihash)).toString()
}

/** The registry's view of a client node: its verified directory, its entry relays, its circuits. */
export function registryNetwork (node: ClientNode, circuits: ClientCircuits): RegistryNetwork {
  const kadIds = new Map<string, Uint8Array>()
  return {
    candidates: () => node.directory.entries().map(e => {
      const id = e.descriptor.peerId.toString()
      let k = kadIds.get(id)
      if (k === undefined) { k = relayKadId(e.descriptor.peerId.toMultihash().bytes); kadIds.set(id, k) }
      return { id, kadId: k, firstSeen: e.firstSeen }
    }),
    guards: () => node.entries.map(e => e.peerId.toString()),
    build: async (path, signal) => {
      const hops = path.map(id => {
        const h = circuits.hop(id)
        if (h === undefined) throw new Error(`relay ${id.slice(-8)} has no usable descriptor`)
        return h
      })
      return circuits.client.build(hops, { signal })
    },
    extend: async (circuit, id, signal) => {
      const h = circuits.hop(id)
      if (h === undefined) throw new Error(`relay ${id.slice(-8)} has no usable descriptor`)
      await circuit.extend(h, { signal })
    }
  }
}

/** The hidden-provider view of a client node: the registry's, plus onion keys and relay id bytes. */
export function hiddenNetwork (node: ClientNode, circuits: ClientCircuits): HiddenNetwork {
  return {
    ...registryNetwork(node, circuits),
    onionKey: (id) => circuits.hop(id)?.keys.onionKey,
    relayBytes: (id) => peerIdFromString(id).toMultihash().bytes,
    relayId: (bytes) => relayIdOf(bytes)
  }
}

export interface RegistryClientGlueOptions {
  params?: RegistryParams
  clock?: Clock
  rng?: PickRng
  storersPerReplica?: number
}

/** A RegistryClient over a client node's directory and circuits. */
export function registryClient (node: ClientNode, circuits: ClientCircuits, o: RegistryClientGlueOptions = {}): RegistryClient {
  return new RegistryClient({
    network: registryNetwork(node, circuits),
    clock: o.clock ?? systemClock,
    rng: o.rng ?? secureRng,
    params: o.params ?? PRODUCTION_PARAMS,
    storersPerReplica: o.storersPerReplica
  })
}

/** Serve a `public` provider at this relay: clients' circuits end here and open PROVIDER_TARGET. */
export function servePublicProvider (onion: OnionRelay, handler: ProviderHandler): { stop(): void } {
  onion.streams.register(PROVIDER_TARGET, async (stream) => {
    await serveSession({
      send: async (m, op) => { await stream.send(m, op) },
      read: async (op) => stream.read(op),
      close: async () => { await stream.close() }
    }, handler)
  })
  return { stop: () => { onion.streams.unregister(PROVIDER_TARGET) } }
}
