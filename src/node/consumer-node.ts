/**
 * A consumer node: what a bridge, `veil call` and the `connect()` library run to reach
 * providers anonymously. A client node (throwaway peer id, entry relays only), circuits
 * and a registry client.
 *
 *   const consumer = await startConsumerNode({ bootstrap, testnet: true })
 *   const conn = await consumer.openProvider(address, { signal })
 *   conn.catalogue                          // digest-checked, signed by the provider's keys
 *   const mcp = await conn.openMcpStream({ signal })   // plain MCP over the same circuit
 *   conn.close()
 *   await consumer.stop()
 *
 * openProvider: looks the descriptor up (each lookup on circuits of its own, ending at a
 * storer), builds ONE circuit guard | middle | the provider's relay, opens the registry
 * session (PROVIDER_TARGET) on it and reads the catalogue, which must match the
 * descriptor's digest and both of the provider's signatures. MCP streams for that
 * provider are opened on the same circuit; two providers never share a circuit (every
 * openProvider builds its own).
 *
 * A `hidden` provider (introduction points in its descriptor) is reached through a
 * rendezvous point instead (src/registry hidden-client.ts): circuits G L2 RP and
 * G L2 M IP, an introduction, the provider's circuit to the RP, and an end-to-end channel
 * on which the same two streams are opened. `path` is then the rendezvous circuit's.
 * Must never: use a catalogue that failed verification; reuse one provider's circuit for
 * another.
 */
import type { Circuit, OnionStream } from '../onion/index.ts'
import type { ProfileName } from '../mix/index.ts'
import {
  ensureDir, isErrno, observeSecret, OverlayConfigError, removeStaleTempFiles, secureRng, systemClock, writeFileAtomic, type Clock, type Log
} from '../overlay/index.ts'
import { startClientNode, type ClientNode } from './client.ts'
import { attachCircuits, type ClientCircuits } from './onion-glue.ts'
import { hiddenNetwork, registryClient, relayIdOf } from './registry-glue.ts'
import { HiddenClient } from '../registry/hidden-client.ts'
import { registryParamsFor } from './network-params.ts'
import { MCP_TARGET } from './provider-node.ts'
import { parseAddress, type ProviderAddress } from '../registry/identity.ts'
import { PROVIDER_TARGET, ProviderSession, SessionError, type MessageChannel } from '../registry/session.ts'
import { RegistryLookupError, type RegistryClient } from '../registry/client.ts'
import { InvalidCatalogueError } from '../registry/errors.ts'
import type { Catalogue } from '../registry/catalogue.ts'
import type { OpenedDescriptor } from '../registry/descriptor.ts'
import type { RegistryParams } from '../registry/params.ts'
import { CLIENT_AUTH_SEED_LEN, clientAuthFromSeed, type AuthorizedClient, type ClientAuthKey } from '../registry/client-auth.ts'
import { systemRng } from '../registry/primitives.ts'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { compareSemver, parseSemver } from '../registry/semver.ts'

/** How often a stale descriptor (digest mismatch after a provider's change) is looked up again. */
export const CATALOGUE_ATTEMPTS = 3
/** Directory refreshes while the provider's relay is not yet known to this client. */
export const RELAY_LOOKUP_ATTEMPTS = 6
const DEFAULT_OPEN_TIMEOUT_MS = 30_000

export type ProviderLookupFailure = 'bad-address' | 'not-found' | 'hidden' | 'unreachable' | 'invalid'

/** Why a provider could not be opened; `kind` says whose fault (the CLI maps it to an exit code). */
export class ProviderLookupError extends Error {
  override readonly name = 'ProviderLookupError'
  readonly kind: ProviderLookupFailure
  constructor (kind: ProviderLookupFailure, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.kind = kind
  }
}

export interface ConsumerNodeOptions {
  readonly bootstrap: string[]
  readonly testnet?: boolean
  readonly singleAddress?: boolean
  readonly params?: RegistryParams
  /** Entry relays (default 3). */
  readonly entryCount?: number
  /** Keep the entry relays across restarts in this file (`dataDir/guards.json`, ENTRY_STATE_FILE). */
  readonly guardFile?: string
  readonly readyTimeoutMs?: number
  readonly clock?: Clock
  readonly log?: Log
  /**
   * This client's authorisation key: providers that list its public key in their
   * descriptors' auth section show it their private tools. One key for every provider
   * (providers that compare the public keys they were given can link the client: use a
   * data dir per identity when that matters).
   */
  readonly clientAuth?: ClientAuthKey
}

export interface ProviderConnection {
  readonly address: string
  /** The verified catalogue (as of the last read): public and, for an authorised client, private tools. */
  readonly catalogue: Catalogue
  /** For an authorised client: the token its MCP requests show for private tools (a secret: never log it). */
  readonly accessToken: Uint8Array | undefined
  /** The circuit's relays, entry first (peer ids); the last is the provider's relay. */
  readonly path: readonly string[]
  readonly closed: boolean
  /** Re-reads the descriptor and the catalogue (after list_changed). */
  refreshCatalogue(opts?: { signal?: AbortSignal }): Promise<Catalogue>
  /** A new MCP stream on this connection's circuit. */
  openMcpStream(opts?: { signal?: AbortSignal }): Promise<OnionStream>
  onClose(fn: () => void): () => void
  close(): void
}

export interface ConsumerNodeStatus {
  readonly ready: boolean
  readonly relaysKnown: number
  readonly entries: number
  readonly circuits: number
  readonly error?: string
}

export interface ConsumerNode {
  readonly client: ClientNode
  readonly circuits: ClientCircuits
  readonly registry: RegistryClient
  /** Introduction and rendezvous with hidden providers. */
  readonly hidden: HiddenClient
  /** Resolves when the directory is usable. */
  readonly ready: Promise<void>
  /**
   * `profile`: the privacy profile of this connection's circuit (src/mix): announced to each
   * of its hops (SET_PROFILE, inside each hop's layer), with the profile's padding and cover.
   * Connections with different profiles are different circuits (the caller keeps one per profile).
   */
  openProvider(address: string, opts?: { signal?: AbortSignal, profile?: ProfileName }): Promise<ProviderConnection>
  status(): ConsumerNodeStatus
  stop(): Promise<void>
}

/** A client's authorisation key for private tools: `dataDir/client-auth.key` (0600, written atomically). */
export const CLIENT_AUTH_KEY_FILE = 'client-auth.key'

/**
 * Load this data dir's client authorisation key; with `create`, make one on first use.
 * Undefined when there is none and `create` is false. Its public half (formatAuthorizedClient)
 * is what a provider's operator lists with `veil provide --authorized-client`.
 */
export async function loadClientAuth (dataDir: string, o: { create?: boolean } = {}): Promise<{ key: ClientAuthKey, authorized: AuthorizedClient } | undefined> {
  const path = join(dataDir, CLIENT_AUTH_KEY_FILE)
  let raw: Uint8Array | undefined
  try { raw = await readFile(path) } catch (err) { if (!isErrno(err, 'ENOENT')) throw err }
  if (raw !== undefined) {
    if (raw.length !== CLIENT_AUTH_SEED_LEN) throw new OverlayConfigError(`client auth key ${path} is unreadable or corrupt`)
    observeSecret('client-auth', raw)
    return clientAuthFromSeed(raw)
  }
  if (o.create !== true) return undefined
  await ensureDir(dataDir)
  await removeStaleTempFiles(dataDir)
  const seed = systemRng(CLIENT_AUTH_SEED_LEN)
  observeSecret('client-auth', seed)
  await writeFileAtomic(path, seed, 0o600)
  const out = clientAuthFromSeed(seed)
  seed.fill(0)
  return out
}

/** What a connection runs on: one circuit to a public provider's relay, or a rendezvous channel. */
interface Carrier {
  readonly path: readonly string[]
  /** The client's own circuit (public: to the provider's relay; hidden: to the rendezvous point). */
  readonly circuit: Circuit
  openStream(target: string, signal: AbortSignal): Promise<OnionStream>
  closed(): boolean
  onClose(fn: () => void): () => void
  close(): void
}

function streamChannel (stream: OnionStream): MessageChannel {
  return {
    send: async (m, o) => { await stream.send(m, o) },
    read: async (o) => stream.read(o),
    close: async () => { await stream.close() }
  }
}

export async function startConsumerNode (opts: ConsumerNodeOptions): Promise<ConsumerNode> {
  const clock = opts.clock ?? systemClock
  const testnet = opts.testnet === true
  const params = opts.params ?? registryParamsFor(testnet)
  const entryCount = Math.max(1, Math.min(opts.entryCount ?? 3, opts.bootstrap.length))
  const confirmations = Math.min(testnet ? 1 : 2, entryCount)
  const client = await startClientNode({
    bootstrap: opts.bootstrap,
    entryCount,
    confirmations,
    timeoutMs: opts.readyTimeoutMs,
    subnetRules: opts.singleAddress !== true,
    clock,
    log: opts.log,
    guardFile: opts.guardFile,
    testnet
  })
  let circuits: ClientCircuits
  try {
    circuits = await attachCircuits(client, { startManager: false, confirmations })
  } catch (err) {
    await client.stop()
    throw err
  }
  const registry = registryClient(client, circuits, { params, clock })
  let readyError: string | undefined
  let isReady = false
  const ready = client.ready.then(() => { isReady = true }, (err: unknown) => {
    readyError = err instanceof Error ? err.message : String(err)
    throw err
  })
  ready.catch(() => {})
  const hidden = new HiddenClient({ network: hiddenNetwork(client, circuits), clock, rng: secureRng })
  const open = new Set<Circuit>()
  let stopped = false

  const lookup = async (addr: ProviderAddress, signal: AbortSignal): Promise<OpenedDescriptor> => {
    try {
      const f = await registry.fetchDescriptor(addr, { signal, ...(opts.clientAuth !== undefined && { open: { clientAuth: opts.clientAuth } }) })
      return f.opened
    } catch (err) {
      if (err instanceof ProviderLookupError) throw err
      if (signal.aborted) throw new ProviderLookupError('unreachable', 'timed out looking up the provider\'s descriptor', { cause: err })
      if (err instanceof RegistryLookupError && /: (not found|no storers)$/.test(err.message)) {
        throw new ProviderLookupError('not-found', `no descriptor for provider ${addr.text.slice(0, 12)}… in the registry (is it running and published?)`, { cause: err })
      }
      throw new ProviderLookupError('unreachable', `cannot look up provider ${addr.text.slice(0, 12)}…: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  /** The provider's relay must be in our directory before we can build to it. */
  const knowRelay = async (relayId: string, signal: AbortSignal): Promise<void> => {
    for (let i = 0; client.directory.get(relayId) === undefined; i++) {
      if (i >= RELAY_LOOKUP_ATTEMPTS || signal.aborted) throw new ProviderLookupError('unreachable', `the provider's relay …${relayId.slice(-8)} is not in this client's directory yet`)
      await client.refresh()
      if (client.directory.get(relayId) === undefined) await new Promise(resolve => setTimeout(resolve, 250 * 2 ** i))
    }
  }

  const openProvider = async (address: string, o: { signal?: AbortSignal, profile?: ProfileName } = {}): Promise<ProviderConnection> => {
    if (stopped) throw new ProviderLookupError('unreachable', 'the consumer node is stopped')
    let addr: ProviderAddress
    try { addr = parseAddress(address) } catch (err) {
      throw new ProviderLookupError('bad-address', `not a provider address: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    const signal = o.signal ?? AbortSignal.timeout(DEFAULT_OPEN_TIMEOUT_MS)
    try { await ready } catch (err) {
      throw new ProviderLookupError('unreachable', `the client's directory is not usable: ${readyError ?? String(err)}`, { cause: err })
    }
    let opened = await lookup(addr, signal)
    const carrier = opened.reach.mode === 'public' ? await publicCarrier(opened, signal) : await hiddenCarrier(opened, signal)
    // the client's own circuit (to the provider's relay, or to the rendezvous point) carries the profile
    if (o.profile !== undefined) {
      try { circuits.mix.prepare(carrier.circuit, o.profile) } catch (err) { carrier.close(); throw new ProviderLookupError('unreachable', `the circuit closed before its profile was set: ${err instanceof Error ? err.message : String(err)}`, { cause: err }) }
    }
    try {
      let channel = streamChannel(await carrier.openStream(PROVIDER_TARGET, signal))
      let chain: Promise<unknown> = Promise.resolve()
      const readCatalogue = async (s: AbortSignal, fresh: boolean): Promise<Catalogue> => {
        for (let attempt = 1; ; attempt++) {
          if (fresh || attempt > 1) opened = await lookup(addr, s)
          try {
            const session = new ProviderSession(channel, addr, opened.catalogue.digest)
            const pub = await session.catalogue({ signal: s })
            const priv = opened.private
            if (priv === undefined || opened.accessToken === undefined || priv.catalogue.digest.every(b => b === 0)) return pub
            let more: Catalogue
            try {
              more = await session.privateCatalogue(opened.accessToken, priv.catalogue.digest, { signal: s })
            } catch (err) {
              // a descriptor from before the provider restarted: its token is gone; the public tools stand
              if (err instanceof SessionError) return pub
              throw err
            }
            const tools = [...pub.tools, ...more.tools].sort((a, b) => a.definition.name < b.definition.name ? -1 : a.definition.name > b.definition.name ? 1 : compareSemver(parseSemver(a.version), parseSemver(b.version)))
            return { ...pub, tools }
          } catch (err) {
            // the provider changed its catalogue after we read its descriptor: look it up again
            if (err instanceof InvalidCatalogueError && err.reason === 'digest-mismatch' && attempt < CATALOGUE_ATTEMPTS) continue
            if (err instanceof InvalidCatalogueError) throw new ProviderLookupError('invalid', `the provider's catalogue failed verification: ${err.message}`, { cause: err })
            // the session stream idled out at the provider: open another on the same circuit
            if (!carrier.closed() && !s.aborted && attempt < CATALOGUE_ATTEMPTS) {
              await channel.close().catch(() => {})
              channel = streamChannel(await carrier.openStream(PROVIDER_TARGET, s))
              continue
            }
            throw new ProviderLookupError('unreachable', `the provider did not send its catalogue: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
          }
        }
      }
      let catalogue = await readCatalogue(signal, false)
      const conn: ProviderConnection = {
        address: addr.text,
        get catalogue () { return catalogue },
        get accessToken () { return opened.accessToken },
        path: carrier.path,
        get closed () { return carrier.closed() },
        refreshCatalogue: async (r = {}) => {
          const run = chain.then(async () => { catalogue = await readCatalogue(r.signal ?? AbortSignal.timeout(DEFAULT_OPEN_TIMEOUT_MS), true); return catalogue })
          chain = run.catch(() => {})
          return await run
        },
        openMcpStream: async (r = {}) => carrier.openStream(MCP_TARGET, r.signal ?? AbortSignal.timeout(DEFAULT_OPEN_TIMEOUT_MS)),
        onClose: (fn) => carrier.onClose(fn),
        close: () => { carrier.close() }
      }
      return conn
    } catch (err) {
      carrier.close()
      if (err instanceof ProviderLookupError) throw err
      throw new ProviderLookupError('unreachable', `the provider did not answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  }

  /** Public mode: one circuit ending at the provider's relay. */
  const publicCarrier = async (opened: OpenedDescriptor, signal: AbortSignal): Promise<Carrier> => {
    if (opened.reach.mode !== 'public') throw new ProviderLookupError('invalid', 'not a public provider')
    const relayId = relayIdOf(opened.reach.relay)
    await knowRelay(relayId, signal)
    let circuit: Circuit
    try {
      circuit = await registry.circuitTo(relayId, signal)
    } catch (err) {
      throw new ProviderLookupError('unreachable', `no circuit to the provider's relay: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    open.add(circuit)
    circuit.onClose(() => { open.delete(circuit) })
    return {
      circuit,
      path: circuit.path.map(h => h.peer),
      openStream: async (target, s) => circuit.openStream(target, { signal: s }),
      closed: () => circuit.state === 'closed',
      onClose: (fn) => circuit.onClose(() => { fn() }),
      close: () => { circuit.destroy() }
    }
  }

  /** Hidden mode: introduction, rendezvous, the end-to-end channel. */
  const hiddenCarrier = async (opened: OpenedDescriptor, signal: AbortSignal): Promise<Carrier> => {
    if (opened.reach.mode !== 'hidden') throw new ProviderLookupError('invalid', 'not a hidden provider')
    // the introduction points must be in our directory before we can build to them
    for (const ip of opened.reach.introPoints) if (client.directory.get(relayIdOf(ip.relay)) === undefined) { await client.refresh(); break }
    let conn
    try {
      conn = await hidden.connect(opened, { signal })
    } catch (err) {
      throw new ProviderLookupError('unreachable', `hidden provider not reached through a rendezvous point: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    const circuit = conn.circuit
    open.add(circuit)
    circuit.onClose(() => { open.delete(circuit) })
    return {
      circuit,
      path: conn.path,
      openStream: async (target, s) => conn.openStream(target, { signal: s }),
      closed: () => conn.channel.closed,
      onClose: (fn) => conn.channel.onClose(() => { fn() }),
      close: () => { conn.close() }
    }
  }

  return {
    client,
    circuits,
    registry,
    hidden,
    ready,
    openProvider,
    status: () => ({
      ready: isReady,
      relaysKnown: client.directory.size,
      entries: client.entries.length,
      circuits: open.size,
      ...(readyError !== undefined && { error: readyError })
    }),
    stop: async () => {
      if (stopped) return
      stopped = true
      for (const c of open) c.destroy()
      open.clear()
      registry.stop()
      hidden.stop()
      await circuits.stop().catch(() => {})
      await client.stop()
    }
  }
}
