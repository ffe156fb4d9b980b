/**
 * One factory for Veil's libp2p hosts, in two roles.
 *
 * - `relay`: TCP + WebSockets, Noise, Yamux, identify, ping, kad-dht in server mode on
 *   a private protocol id (never the public IPFS DHT) with Veil's record validators,
 *   and a circuit-relay-v2 server whose limits suit long-lived Veil links. Relays alone
 *   run the DHT and appear in directories.
 * - `client` (bridges, consumers, hidden providers): no DHT, no relay reservation or
 *   `/p2p-circuit` listener, no autoNAT/DCUtR/UPnP/mDNS/random walk, no identify at all
 *   (so it reports no agent, no listen addresses, and never learns or uses the address a
 *   peer observed), no listen addresses and nothing announced; a fresh peer id per start.
 *   It dials only what its owner tells it to (its entry relays).
 *
 * TCP sockets keep TCP_NODELAY on (@libp2p/tcp's default): Nagle against delayed ACKs
 * costs stock Tor ≈40 ms steps on loopback.
 * Not here: which peers to dial (src/node), what runs over the streams (link.ts, dir-protocol.ts).
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { veilNoiseCrypto } from './noise-crypto.ts'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { DHT_PROTOCOL, DESCRIPTOR_NAMESPACE } from './constants.ts'
import { descriptorSelector, descriptorValidator } from './descriptor.ts'
import type { Clock } from './clock.ts'

export type RelayServices = {
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
  dht: KadDHT
  relay: ReturnType<ReturnType<typeof circuitRelayServer>>
}

export type RelayHost = Libp2p<RelayServices>
export type ClientHost = Libp2p<Record<string, unknown>>

/** Extra DHT namespaces (the registry adds its own through src/node). */
export interface DhtNamespace {
  validate: (key: Uint8Array, value: Uint8Array) => Promise<void>
  select: (key: Uint8Array, records: Uint8Array[]) => number
}

export interface RelayHostOptions {
  privateKey: PrivateKey
  listen: string[]
  announce?: string[]
  datastore?: Datastore
  clock: Clock
  /** Loopback/private networks keep private addresses in the DHT (testnets). */
  allowPrivateAddresses?: boolean
  namespaces?: Record<string, DhtNamespace>
  /** Max inbound connections per second per host before refusal (raised for loopback testnets). */
  inboundConnectionThreshold?: number
  maxConnections?: number
}

export async function createRelayHost (opts: RelayHostOptions): Promise<RelayHost> {
  const validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>> = {
    [DESCRIPTOR_NAMESPACE]: descriptorValidator(opts.clock)
  }
  const selectors: Record<string, (key: Uint8Array, records: Uint8Array[]) => number> = {
    [DESCRIPTOR_NAMESPACE]: descriptorSelector
  }
  for (const [ns, h] of Object.entries(opts.namespaces ?? {})) {
    validators[ns] = h.validate
    selectors[ns] = h.select
  }
  return createLibp2p({
    privateKey: opts.privateKey,
    start: false,
    nodeInfo: { name: 'veil-relay', version: '1', userAgent: 'veil-relay' },
    addresses: { listen: opts.listen, announce: opts.announce ?? [] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise({ crypto: veilNoiseCrypto })],
    streamMuxers: [yamux()],
    datastore: opts.datastore,
    connectionManager: {
      inboundConnectionThreshold: opts.inboundConnectionThreshold ?? 20,
      maxConnections: opts.maxConnections ?? 300
    },
    // libp2p's connection monitor aborts a whole connection when one heartbeat ping fails
    // (a slow pong behind a busy link, or a second ping stream over the ping protocol's
    // limit of 1): that tore down Veil links mid-transfer. Links keep their own idle timers.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: opts.allowPrivateAddresses === true ? passthroughMapper : removePrivateAddressesMapper,
        validators,
        selectors,
        allowQueryWithZeroPeers: false
      }),
      relay: circuitRelayServer({
        reservations: {
          maxReservations: 128,
          reservationTtl: 2 * 60 * 60 * 1000,
          // Veil links are long-lived and carry many circuits: no 2-minute / 128 KiB cap.
          applyDefaultLimit: false
        }
      })
    }
  })
}

export interface ClientHostOptions {
  privateKey: PrivateKey
}

export async function createClientHost (opts: ClientHostOptions): Promise<ClientHost> {
  return createLibp2p({
    privateKey: opts.privateKey,
    start: false,
    nodeInfo: { name: 'veil', version: '1', userAgent: 'veil' },
    addresses: { listen: [], announce: [], noAnnounce: [] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise({ crypto: veilNoiseCrypto })],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 16 },
    connectionMonitor: { abortConnectionOnPingFailure: false },
    services: {}
  })
}
