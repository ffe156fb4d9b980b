/**
 * The bridge and the provider on the anonymous overlay: where src/bridge meets src/node.
 *
 *   // provider side: wrap an MCP server, run a public-mode provider node
 *   const p = await startOverlayProvider({ provider: { server: { kind: 'stdio', command, args } }, node: { dataDir, listen, bootstrap, testnet } })
 *   p.address
 *
 *   // consumer side: a bridge whose ToolNetwork is the overlay
 *   const b = await startOverlayBridge({ bootstrap, testnet, providers: [{ address }], dataDir, serve: { kind: 'stdio' } })
 *
 * The bridge's view of a provider: one circuit per provider (and privacy profile), on
 * which the registry session reads the signed catalogue (digest-checked against the
 * descriptor) and MCP runs for calls, progress, cancellation and `list_changed`.
 * The provider's view: one MCP server per incoming circuit stream (serveProviderStream),
 * `list_changed` sent only once the new catalogue's descriptor is published.
 *
 * Not here: circuits and the registry (src/node); what the bridge serves (server.ts).
 */
import type { OnionStream } from '../onion/index.ts'
import { startProviderNode, startHiddenProviderNode, type ProviderNode, type HiddenProviderNode, type ProviderNodeOptions, type ProviderService, type ServedToolDefinition } from '../node/provider-node.ts'
import { startConsumerNode, ProviderLookupError, type ConsumerNode, type ConsumerNodeOptions, type ProviderConnection } from '../node/consumer-node.ts'
import type { Catalogue } from '../registry/catalogue.ts'
import { normaliseKeyword } from '../registry/keyword.ts'
import { SEARCH_MAX_KEYWORDS, SEARCH_MAX_PROVIDERS } from './constants.ts'
import { ToolNetworkError, errorMessage } from './errors.ts'
import { overlayToolNetwork } from './overlay-network.ts'
import { createProvider, type Provider, type ProviderOptions } from './provider.ts'
import { ACCESS_META_KEY, serveProviderStream } from './provider-server.ts'
import type { MixStatus, NetworkStatus, PrivacyProfile, ToolNetwork } from './remote.ts'
import { StreamTransport } from './stream-transport.ts'
import { startBridge, type RunningBridge, type StartBridgeOptions } from './index.ts'

/** Connecting to a provider (lookup, circuit, catalogue, MCP handshake) gives up after this. */
export const OVERLAY_CONNECT_TIMEOUT_MS = 20_000
/** A provider whose catalogue could not be fetched is tried again after this, doubling to the cap. */
export const CATALOGUE_RETRY_MIN_MS = 1_000
export const CATALOGUE_RETRY_MAX_MS = 30_000

// ── provider side ──

/** The node's view of a wrapped MCP server. */
export function providerService (provider: Provider): ProviderService {
  return {
    tools: () => provider.listTools('all').map((t): ServedToolDefinition => ({
      name: t.name,
      ...(t.title !== undefined && { title: t.title }),
      ...(t.description !== undefined && { description: t.description }),
      inputSchema: { ...t.inputSchema, type: 'object' },
      ...(t.outputSchema !== undefined && { outputSchema: { ...t.outputSchema, type: 'object' } }),
      ...(t.annotations !== undefined && { annotations: t.annotations }),
      version: t.version,
      tags: t.keywords,
      listed: t.visibility === 'listed',
      private: t.visibility === 'private'
    })),
    onToolsChanged: (listener) => provider.onCatalogueChanged(listener),
    serveStream: (stream: OnionStream, ctx) => {
      // list_changed goes out when the node serves the new signed catalogue, not before
      const view: Provider = { ...provider, onCatalogueChanged: ctx.onCatalogueChanged }
      serveProviderStream(view, new StreamTransport(stream), ctx.caller, ctx.authorized).catch(() => { void stream.close().catch(() => {}) })
    },
    status: () => provider.status()
  }
}

export interface StartOverlayProviderOptions {
  readonly provider: ProviderOptions
  readonly node: Omit<ProviderNodeOptions, 'service'>
  /**
   * Hidden mode: the provider runs a client host behind one guard and is reached only
   * through introduction points and rendezvous (its relay listen/announce options are
   * unused). Public mode (default): clients' circuits end at the provider's own relay.
   */
  readonly hidden?: boolean
}

interface RunningOverlayProviderBase {
  readonly address: string
  readonly provider: Provider
  close(): Promise<void>
}
export interface RunningPublicOverlayProvider extends RunningOverlayProviderBase { readonly mode: 'public', readonly node: ProviderNode }
export interface RunningHiddenOverlayProvider extends RunningOverlayProviderBase { readonly mode: 'hidden', readonly node: HiddenProviderNode }
export type RunningOverlayProvider = RunningPublicOverlayProvider | RunningHiddenOverlayProvider

/** Wrap an MCP server and serve it on the overlay, as a public or a hidden provider. */
export async function startOverlayProvider (o: StartOverlayProviderOptions & { readonly hidden?: false }): Promise<RunningPublicOverlayProvider>
export async function startOverlayProvider (o: StartOverlayProviderOptions & { readonly hidden: true }): Promise<RunningHiddenOverlayProvider>
export async function startOverlayProvider (o: StartOverlayProviderOptions): Promise<RunningOverlayProvider>
export async function startOverlayProvider (o: StartOverlayProviderOptions): Promise<RunningOverlayProvider> {
  const provider = createProvider(o.provider)
  await provider.start()
  const service = providerService(provider)
  try {
    if (o.hidden === true) {
      const node = await startHiddenProviderNode({
        dataDir: o.node.dataDir,
        bootstrap: o.node.bootstrap,
        testnet: o.node.testnet,
        singleAddress: o.node.singleAddress,
        params: o.node.params,
        clock: o.node.clock,
        log: o.node.log,
        onEvent: o.node.onEvent,
        readyTimeoutMs: o.node.readyTimeoutMs,
        authorizedClients: o.node.authorizedClients,
        service
      })
      return { mode: 'hidden', address: node.address, provider, node, close: async () => { await node.stop(); await provider.stop() } }
    }
    const node = await startProviderNode({ ...o.node, service })
    return { mode: 'public', address: node.address, provider, node, close: async () => { await node.stop(); await provider.stop() } }
  } catch (err) {
    await provider.stop()
    throw err
  }
}

// ── consumer side ──

/** Tool definitions from a verified catalogue, highest version per name, as the bridge parses them. */
export function catalogueTools (c: Catalogue): Array<Record<string, unknown>> {
  const byName = new Map<string, Record<string, unknown>>()
  for (const t of c.tools) { // sorted by (name, version): the last of a name is its highest version
    const d = t.definition
    byName.set(d.name, {
      name: d.name,
      ...(d.title !== undefined && { title: d.title }),
      ...(d.description !== undefined && { description: d.description }),
      inputSchema: d.inputSchema,
      ...(d.outputSchema !== undefined && { outputSchema: d.outputSchema }),
      ...(d.annotations !== undefined && { annotations: d.annotations }),
      version: t.version
    })
  }
  return [...byName.values()]
}

function lookupToNetworkError (err: unknown): ToolNetworkError {
  if (err instanceof ToolNetworkError) return err
  if (err instanceof ProviderLookupError) {
    return new ToolNetworkError(err.kind === 'invalid' ? 'protocol' : 'unreachable', err.message, { cause: err })
  }
  return new ToolNetworkError('unreachable', errorMessage(err), { cause: err })
}

export interface ConsumerToolNetwork extends ToolNetwork {
  /** The circuit's relays for a provider's open connection (entry first), if any. */
  pathOf(address: string, profile?: PrivacyProfile): readonly string[] | undefined
  /** Called with the provider's address whenever a connection (its circuit) to it closes. */
  onConnectionClosed(listener: (address: string) => void): () => void
  close(): Promise<void>
}

/**
 * A ToolNetwork over a consumer node: one ProviderConnection (one circuit) per provider
 * and profile; the catalogue comes from the registry session, calls from MCP on the same
 * circuit.
 */
export function consumerToolNetwork (consumer: ConsumerNode, o: { connectTimeoutMs?: number } = {}): ConsumerToolNetwork {
  const conns = new Map<string, Promise<ProviderConnection>>()
  const live = new Map<string, ProviderConnection>()
  const consumed = new WeakSet<ProviderConnection>()
  // what the bridge last read per provider, to catch a catalogue that changed behind its back
  const listed = new Map<string, string>()
  const keys = new WeakMap<Catalogue, string>()
  const catalogueKey = (c: Catalogue): string => {
    let k = keys.get(c)
    if (k === undefined) { k = JSON.stringify(catalogueTools(c)); keys.set(c, k) }
    return k
  }
  const keyOf = (address: string, profile: PrivacyProfile): string => `${profile}\u0000${address}`
  const closeListeners = new Set<(address: string) => void>()

  const connection = async (address: string, profile: PrivacyProfile, signal: AbortSignal): Promise<ProviderConnection> => {
    const key = keyOf(address, profile)
    const existing = conns.get(key)
    if (existing !== undefined) {
      const c = await existing.catch(() => undefined)
      if (c !== undefined && !c.closed) return c
      if (conns.get(key) === existing) conns.delete(key)
    }
    const p = consumer.openProvider(address, { signal, profile }).catch((err: unknown) => { throw lookupToNetworkError(err) })
    conns.set(key, p)
    p.then((c) => {
      live.set(key, c)
      c.onClose(() => {
        if (conns.get(key) === p) conns.delete(key)
        if (live.get(key) === c) live.delete(key)
        for (const l of closeListeners) { try { l(address) } catch { /* the listener's problem */ } }
      })
    }, () => { if (conns.get(key) === p) conns.delete(key) })
    return await p
  }

  /**
   * Keyword search: each keyword of the query (≤ SEARCH_MAX_KEYWORDS) in the registry's
   * index (each lookup on circuits of its own, to storers of both placement keys); then
   * each provider found (≤ SEARCH_MAX_PROVIDERS, most keywords first) is reached, and only
   * tools whose signed, digest-checked catalogue record lists a searched keyword are
   * returned — an entry alone proves nothing about the provider's tools.
   */
  const searchIndex = async (words: string, signal: AbortSignal): Promise<unknown[]> => {
    const keywords: string[] = []
    for (const w of words.split(/\s+/)) {
      try { const k = normaliseKeyword(w); if (!keywords.includes(k)) keywords.push(k) } catch { /* empty or too long */ }
    }
    if (keywords.length === 0) return []
    await consumer.ready
    const found = await Promise.all(keywords.slice(0, SEARCH_MAX_KEYWORDS).map(async kw => await consumer.registry.searchKeyword(kw, { signal }).catch(() => undefined)))
    const byAddress = new Map<string, Set<string>>()
    for (const r of found) {
      for (const e of r?.entries ?? []) {
        let s = byAddress.get(e.summary.address)
        if (s === undefined) { s = new Set(); byAddress.set(e.summary.address, s) }
        s.add(r?.keyword ?? '')
      }
    }
    const providers = [...byAddress].sort((a, b) => b[1].size - a[1].size).slice(0, SEARCH_MAX_PROVIDERS)
    const hits: Array<{ score: number, hit: Record<string, unknown> }> = []
    await Promise.all(providers.map(async ([address, kws]) => {
      let cat: Catalogue
      try { cat = (await connection(address, 'fast', signal)).catalogue } catch { return }
      const latest = new Map<string, Catalogue['tools'][number]>()
      for (const t of cat.tools) latest.set(t.definition.name, t) // sorted by (name, version): the last is the highest
      for (const t of latest.values()) {
        const tags = new Set(t.tags.map(tag => { try { return normaliseKeyword(tag) } catch { return '' } }))
        const score = [...kws].filter(k => tags.has(k)).length
        if (score === 0) continue
        const d = t.definition
        hits.push({ score, hit: { address, name: d.name, version: t.version, ...(d.title !== undefined && { title: d.title }), ...(d.description !== undefined && { description: d.description }), verified: true } })
      }
    }))
    return hits.sort((a, b) => b.score - a.score).map(h => h.hit)
  }

  const network = overlayToolNetwork({
    connectTimeoutMs: o.connectTimeoutMs ?? OVERLAY_CONNECT_TIMEOUT_MS,
    connect: async (address, c) => {
      const conn = await connection(address, c.profile, c.signal)
      try {
        return await conn.openMcpStream({ signal: c.signal })
      } catch (err) {
        conn.close()
        throw new ToolNetworkError('circuit-failed', `cannot open an MCP stream to provider ${address.slice(0, 12)}…: ${errorMessage(err)}`, { cause: err })
      }
    },
    catalogue: async (address, signal) => {
      const conn = await connection(address, 'fast', signal)
      try {
        // the first read came with the connection; later reads (after list_changed) look again
        const cat = consumed.has(conn) ? await conn.refreshCatalogue({ signal }) : conn.catalogue
        consumed.add(conn)
        listed.set(address, catalogueKey(cat))
        return catalogueTools(cat)
      } catch (err) {
        throw lookupToNetworkError(err)
      }
    },
    search: async (words, signal) => await searchIndex(words, signal),
    requestMeta: (address) => {
      for (const [k, c] of live) {
        if (!k.endsWith(`\u0000${address}`) || c.accessToken === undefined) continue
        return { [ACCESS_META_KEY]: Buffer.from(c.accessToken).toString('base64url') }
      }
      return undefined
    },
    beforeCall: async (address, profile, signal) => {
      // A new circuit (the provider restarted, or the old circuit broke) read the catalogue
      // afresh: if it differs from what the bridge checked, the bridge must look again.
      const conn = await connection(address, profile, signal)
      const want = listed.get(address)
      if (want === catalogueKey(conn.catalogue)) return
      // another profile's circuit may hold an older read: look once more before refusing
      if (consumed.has(conn)) {
        const now = await conn.refreshCatalogue({ signal }).catch((err: unknown) => { throw lookupToNetworkError(err) })
        if (want === catalogueKey(now)) return
      }
      throw new ToolNetworkError('stale-catalogue', `provider ${address.slice(0, 12)}… serves a catalogue the bridge has not checked yet`)
    },
    status: (): NetworkStatus => {
      const s = consumer.status()
      const m = consumer.circuits.mix.stats()
      const mix: MixStatus = {
        circuits: m.circuits,
        coverCircuits: m.coverCircuits,
        coverCells: m.cover.loops + m.cover.drops + m.stream.cover,
        streamRealCells: m.stream.real,
        loops: { sent: m.loops.loopsSent, returned: m.loops.loopsReturned, lost: m.loops.loopsLost, relaysAvoided: m.loops.relaysAvoided }
      }
      return {
        ready: s.ready,
        relaysKnown: s.relaysKnown,
        circuits: s.circuits,
        coverTraffic: mix.coverCells > 0,
        mix,
        detail: s.ready
          ? `anonymous overlay: ${s.relaysKnown} relays known through ${s.entries} entry relays; public and hidden providers`
          : s.error !== undefined ? `overlay not ready: ${s.error}` : 'overlay starting: filling the relay directory'
      }
    }
  })
  return {
    ...network,
    pathOf: (address, profile = 'fast') => live.get(keyOf(address, profile))?.path,
    onConnectionClosed: (listener) => {
      closeListeners.add(listener)
      return () => { closeListeners.delete(listener) }
    },
    close: async () => {
      closeListeners.clear()
      await network.close()
      for (const p of conns.values()) void p.then(c => { c.close() }, () => {})
      conns.clear()
      live.clear()
    }
  }
}

export type StartOverlayBridgeOptions = Omit<StartBridgeOptions, 'network'> & {
  readonly bootstrap: string[]
  readonly testnet?: boolean
  readonly singleAddress?: boolean
  readonly consumer?: Omit<ConsumerNodeOptions, 'bootstrap' | 'testnet' | 'singleAddress'>
  readonly connectTimeoutMs?: number
}

export interface RunningOverlayBridge extends RunningBridge {
  readonly consumer: ConsumerNode
  readonly network: ConsumerToolNetwork
}

/**
 * A bridge on the overlay: starts a consumer node (its directory fills in the background),
 * serves MCP at once from the cached catalogue, fetches live catalogues as soon as the
 * overlay is ready, and keeps retrying providers whose catalogue could not be fetched.
 */
export async function startOverlayBridge (o: StartOverlayBridgeOptions): Promise<RunningOverlayBridge> {
  const consumer = await startConsumerNode({ ...o.consumer, bootstrap: o.bootstrap, testnet: o.testnet, singleAddress: o.singleAddress })
  const network = consumerToolNetwork(consumer, { connectTimeoutMs: o.connectTimeoutMs })
  let running: RunningBridge
  try {
    running = await startBridge({ ...o, network })
  } catch (err) {
    await network.close()
    await consumer.stop()
    throw err
  }
  let closed = false
  let delay = CATALOGUE_RETRY_MIN_MS
  let timer: ReturnType<typeof setTimeout> | undefined
  const retry = (): void => {
    timer = setTimeout(() => {
      timer = undefined
      if (closed) return
      const failing = running.bridge.status().providers.filter(p => p.lastError !== undefined || p.fetchedAt === undefined).map(p => p.address)
      delay = failing.length === 0 ? CATALOGUE_RETRY_MIN_MS : Math.min(CATALOGUE_RETRY_MAX_MS, delay * 2)
      void Promise.allSettled(failing.map(async a => { await running.bridge.refresh(a) })).finally(() => { if (!closed) retry() })
    }, delay)
    timer.unref()
  }
  // the first fetch ran at start (before the overlay was ready, perhaps): try again once it is
  consumer.ready.then(() => { if (!closed) void running.bridge.refresh() }, () => {})
  // a provider's circuit closed (it restarted, went away, or the circuit broke): read its
  // catalogue again, so a changed definition is held before anyone calls it; while that
  // fails, the retry loop below keeps trying
  const lastCloseRefresh = new Map<string, number>()
  const unsubscribeClosed = network.onConnectionClosed((address) => {
    if (closed || Date.now() - (lastCloseRefresh.get(address) ?? 0) < CATALOGUE_RETRY_MIN_MS) return
    lastCloseRefresh.set(address, Date.now())
    delay = CATALOGUE_RETRY_MIN_MS
    void running.bridge.refresh(address)
  })
  retry()
  return {
    ...running,
    consumer,
    network,
    close: async () => {
      if (closed) return
      closed = true
      unsubscribeClosed()
      if (timer !== undefined) clearTimeout(timer)
      await running.close()
      await network.close()
      await consumer.stop()
    }
  }
}
