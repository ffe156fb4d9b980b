/**
 * A provider node in `public` mode: the provider runs its own relay, and its descriptor
 * names that relay. Consumers find the descriptor in the registry, build a circuit whose
 * last hop is the provider's relay, and open two streams on it:
 *
 *   PROVIDER_TARGET ('veil-provider')  the registry session: CATALOGUE → the signed catalogue
 *   MCP_TARGET      ('veil-mcp')       plain MCP (tools/call, progress, cancellation, list_changed)
 *
 *   const node = await startProviderNode({ dataDir, listen, bootstrap, testnet, service })
 *   node.address          // the provider address (108 base32 characters)
 *   await node.stop()
 *
 * Assembled here: a relay node (joins through `bootstrap`), the onion relay, the registry
 * relay (this relay is a storer like any other), the registry DHT namespaces; a client
 * node with circuits for publishing (descriptors go to their storers over circuits, as
 * any client's would); the provider identity, persisted in the data dir; the publisher.
 *
 * The MCP side comes in through {@link ProviderService}: src/bridge fills it (it wraps the
 * operator's MCP server); this module never imports src/bridge.
 *
 * Catalogue and descriptor stay consistent: the catalogue served on PROVIDER_TARGET is the
 * one whose digest the last acknowledged publish carried. When the wrapped server's tools
 * change, a new catalogue is signed and the publisher republishes (within its change
 * delay); only once that publish is acknowledged is the new catalogue served and
 * `list_changed` sent to the MCP sessions — so a consumer that re-reads on `list_changed`
 * finds a descriptor that matches.
 *
 * What `public` mode does NOT hide: which relay serves the provider (it is in the
 * descriptor). {@link startHiddenProviderNode} runs a `hidden` provider instead: no relay,
 * a client node with ONE guard, introduction points and rendezvous (src/registry
 * hidden-service.ts); consumers reach it with the same openProvider() and get the same
 * two streams, over the end-to-end channel joined at a rendezvous point.
 * Never logged: the provider's identity keys (provider.key, 0600, written atomically).
 */
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { StreamTargetTable, type OnionStream } from '../onion/index.ts'
import {
  ensureDir, observeSecret, removeStaleTempFiles, secureRng, systemClock, writeFileAtomic, isErrno, OverlayConfigError,
  type Clock, type Log
} from '../overlay/index.ts'
import { startRelayNode, type RelayNode } from './relay.ts'
import { startClientNode, type ClientNode } from './client.ts'
import { ENTRY_STATE_FILE } from './entry-guards.ts'
import { attachCircuits, attachOnionRelay, onionLinkHooks, type ClientCircuits, type OnionRelay } from './onion-glue.ts'
import { attachRegistryRelay, hiddenNetwork, registryClient, registryDhtNamespaces, servePublicProvider, type RegistryRelay } from './registry-glue.ts'
import { HiddenService } from '../registry/hidden-service.ts'
import { PROVIDER_TARGET, serveSession, type ProviderHandler } from '../registry/session.ts'
import { registryParamsFor } from './network-params.ts'
import { ProviderIdentity } from '../registry/identity.ts'
import { signCatalogue } from '../registry/catalogue.ts'
import { makeToolRecord, type ToolDefinition, type ToolRecord } from '../registry/tool.ts'
import { buildDescriptor } from '../registry/descriptor.ts'
import { buildEntry, keywordIndexKey, normaliseKeyword } from '../registry/keyword.ts'
import { RegistryCallerError } from '../registry/errors.ts'
import type { EntryToPublish } from '../registry/client.ts'
import { Publisher } from '../registry/publisher.ts'
import { parseSemver } from '../registry/semver.ts'
import { systemRng } from '../registry/primitives.ts'
import type { AuthorizedClient } from '../registry/client-auth.ts'
import { DEFAULT_KEYWORD_EFFORT, PRIVATE_ACCESS_TOKEN_LEN, ED25519_SEED_LEN, MAX_PROVIDER_KEYWORDS, MAX_SUMMARY_DESCRIPTION, MLDSA65_SEED_LEN } from '../registry/constants.ts'
import type { RegistryParams } from '../registry/params.ts'
import type { Json } from '../registry/codec.ts'

/** The stream target where a provider's relay speaks MCP. */
export const MCP_TARGET = 'veil-mcp'
/** The provider's long-term keys: Ed25519 seed | ML-DSA-65 seed. */
export const PROVIDER_KEY_FILE = 'provider.key'
export const PROVIDER_KEY_LEN = ED25519_SEED_LEN + MLDSA65_SEED_LEN

/** One tool as the provider publishes it (an MCP tool definition plus its version). */
export interface ServedToolDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema: Record<string, unknown>
  readonly outputSchema?: Record<string, unknown>
  readonly annotations?: Record<string, unknown>
  readonly version: string
  /** Keywords (the catalogue record's tags). A listed tool is announced under each in the keyword index. */
  readonly tags?: readonly string[]
  /** Listed: announced in the keyword index. Unlisted tools are served only to callers who know the address. */
  readonly listed?: boolean
  /** Private: only in the private catalogue, for clients the descriptor authorises (ProviderNodeOptions.authorizedClients). */
  readonly private?: boolean
}

export interface StreamContext {
  /** Opaque per-circuit key: rate limits only, never logged. */
  readonly caller: string
  /** Whether `token` (an MCP request's access token) is that of a live descriptor build: the caller may see and call private tools. */
  readonly authorized: (token: Uint8Array | undefined) => boolean
  /** Fires when a new catalogue is being served (after its descriptor was acknowledged). */
  readonly onCatalogueChanged: (listener: () => void) => () => void
}

/** What the node needs from the MCP side (src/bridge fills it). */
export interface ProviderService {
  /** The tools to sign and serve: listed and unlisted (private ones are not given). */
  tools(): readonly ServedToolDefinition[]
  /** The wrapped server's tools changed. Returns an unsubscribe. */
  onToolsChanged(listener: () => void): () => void
  /** Serve MCP on one incoming circuit stream until it closes. */
  serveStream(stream: OnionStream, ctx: StreamContext): void
  /** Extra facts for `veil status` (the wrapped server's state). */
  status?(): unknown
}

export type ProviderNodeEvent =
  | { readonly type: 'published', readonly ok: boolean, readonly acknowledged: number, readonly attempted: number, readonly serial: number }
  | { readonly type: 'publish-error', readonly message: string }
  | { readonly type: 'tool-skipped', readonly name: string, readonly message: string }
  | { readonly type: 'catalogue-signed', readonly serial: number, readonly tools: number }
  | { readonly type: 'index-published', readonly period: number, readonly entries: number, readonly placed: number }

export interface ProviderNodeOptions {
  readonly dataDir: string
  readonly listen: string[]
  readonly announce?: string[]
  readonly bootstrap: string[]
  /** Loopback testnet: testnet registry clocks, private addresses allowed. */
  readonly testnet?: boolean
  readonly singleAddress?: boolean
  readonly service: ProviderService
  /** Default: registryParamsFor(testnet). */
  readonly params?: RegistryParams
  readonly control?: boolean
  readonly clock?: Clock
  readonly log?: Log
  readonly onListening?: () => void
  readonly onStopRequested?: () => void
  readonly onEvent?: (event: ProviderNodeEvent) => void
  /** The publishing client's directory wait (default 60 s). */
  readonly readyTimeoutMs?: number
  /** Clients allowed to see and call private tools (their auth public keys, given out of band). */
  readonly authorizedClients?: readonly AuthorizedClient[]
}

export interface ProviderNodeStatus {
  readonly address: string
  readonly mode: 'public'
  readonly tools: number
  readonly catalogueSerial: number
  readonly servedSerial: number
  readonly streamsServed: number
  readonly publishes: number
  readonly publishFailures: number
  readonly lastPublish?: { readonly acknowledged: number, readonly attempted: number, readonly ok: boolean }
  readonly service?: unknown
}

export interface ProviderNode {
  readonly address: string
  readonly relay: RelayNode
  readonly onion: OnionRelay
  /** Resolves after the first acknowledged publish; rejects only when the node stops first. */
  readonly published: Promise<void>
  status(): ProviderNodeStatus
  /** Publish now (tests, and after a config change). */
  publishNow(): Promise<void>
  stop(): Promise<void>
}

interface Signed {
  readonly serial: number
  readonly bytes: Uint8Array
  readonly digest: Uint8Array
  readonly tools: number
  /** Listed tools' records (what the keyword index announces). */
  readonly listed: readonly ToolRecord[]
  /** The private tools' catalogue (signed the same way), when there are private tools. */
  readonly private?: { readonly bytes: Uint8Array, readonly digest: Uint8Array, readonly tools: number }
}

/**
 * Access tokens of the descriptors this provider built (a token per build: authorised
 * clients derive it from the descriptor cookie), kept while their descriptors live.
 * Bounded: builds happen at most every republish, ≤ 2 per publish.
 */
class AccessTokens {
  readonly #tokens = new Map<string, number>()
  readonly #clock: Clock
  constructor (clock: Clock) { this.#clock = clock }
  add (token: Uint8Array, expirySeconds: number): void {
    const now = this.#clock.now()
    for (const [k, exp] of this.#tokens) if (exp * 1000 <= now) this.#tokens.delete(k)
    if (this.#tokens.size >= 1024) this.#tokens.delete(this.#tokens.keys().next().value as string)
    this.#tokens.set(Buffer.from(token).toString('hex'), expirySeconds)
  }

  valid (token: Uint8Array | undefined): boolean {
    if (token === undefined || token.length !== PRIVATE_ACCESS_TOKEN_LEN) return false
    const exp = this.#tokens.get(Buffer.from(token).toString('hex'))
    return exp !== undefined && exp * 1000 > this.#clock.now()
  }
}

/**
 * The keyword-index entries for one period: per keyword (a listed tool's tags, normalised,
 * ≤ MAX_PROVIDER_KEYWORDS, first come), one entry announcing the first listed tool that has
 * it — an entry per publisher key is all a storer keeps, and a client that finds the
 * provider reads every tool with the keyword from its catalogue.
 */
export function buildIndexEntries (id: ProviderIdentity, listed: readonly ToolRecord[], o: { period: number, nowMs: number, params: RegistryParams, effort?: number }): EntryToPublish[] {
  const byKeyword = new Map<string, ToolRecord>()
  for (const r of listed) {
    for (const tag of r.tags) {
      let kw: string
      try { kw = normaliseKeyword(tag) } catch { continue }
      if (!byKeyword.has(kw) && byKeyword.size < MAX_PROVIDER_KEYWORDS) byKeyword.set(kw, r)
    }
  }
  const out: EntryToPublish[] = []
  for (const [kw, r] of byKeyword) {
    const line = (r.definition.description ?? r.definition.title ?? '').split('\n')[0].trim()
    // the one-line description, shortened (whole code points) until the summary fits an entry
    let bytes: Uint8Array | undefined
    for (const max of [MAX_SUMMARY_DESCRIPTION, 80, 40, 0]) {
      let description = ''
      for (const ch of line) { if (description.length + ch.length > max) break; description += ch }
      const summary = { toolName: r.definition.name, version: r.version, fingerprint: r.fingerprint, description, address: id.address.text }
      try {
        bytes = buildEntry(id, kw, summary, { nowMs: o.nowMs, periods: o.params.periods, period: o.period, rng: systemRng, effort: o.effort ?? DEFAULT_KEYWORD_EFFORT, lifetimeSeconds: o.params.lifetimeSeconds })
        break
      } catch (err) { if (!(err instanceof RegistryCallerError)) throw err }
    }
    if (bytes !== undefined) out.push({ indexKey: keywordIndexKey(kw, o.period), bytes })
  }
  return out
}

/** Load the provider identity from `dataDir/provider.key`, creating it on first start (0600, atomic). */
export async function loadOrCreateProviderIdentity (dataDir: string): Promise<ProviderIdentity> {
  await ensureDir(dataDir)
  await removeStaleTempFiles(dataDir)
  const path = join(dataDir, PROVIDER_KEY_FILE)
  let raw: Uint8Array | undefined
  try { raw = await readFile(path) } catch (err) { if (!isErrno(err, 'ENOENT')) throw err }
  if (raw !== undefined) {
    if (raw.length !== PROVIDER_KEY_LEN) throw new OverlayConfigError(`provider key ${path} is unreadable or corrupt`)
    observeSecret('provider-identity', raw)
    return ProviderIdentity.fromSeeds(raw.slice(0, ED25519_SEED_LEN), raw.slice(ED25519_SEED_LEN))
  }
  const seeds = systemRng(PROVIDER_KEY_LEN)
  observeSecret('provider-identity', seeds)
  await writeFileAtomic(path, seeds, 0o600)
  const id = ProviderIdentity.fromSeeds(seeds.slice(0, ED25519_SEED_LEN), seeds.slice(ED25519_SEED_LEN))
  seeds.fill(0)
  return id
}

/** A semver for the registry from whatever the wrapped server said ("1" → 1.0.0; unparseable → 0.0.0). */
export function registryVersion (version: string): string {
  const tryParse = (v: string): string | undefined => { try { parseSemver(v); return v } catch { return undefined } }
  return tryParse(version) ?? tryParse(`${version}.0`) ?? tryParse(`${version}.0.0`) ?? '0.0.0'
}

/** JSON values only (what survives JSON): the registry codec refuses anything else anyway. */
function jsonObject (value: Record<string, unknown>): { [k: string]: Json } {
  const copy: unknown = JSON.parse(JSON.stringify(value))
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) throw new Error('not a JSON object')
  return copy as { [k: string]: Json }
}

function toDefinition (t: ServedToolDefinition): ToolDefinition {
  return {
    name: t.name,
    ...(t.title !== undefined && { title: t.title }),
    ...(t.description !== undefined && { description: t.description }),
    inputSchema: jsonObject(t.inputSchema),
    ...(t.outputSchema !== undefined && { outputSchema: jsonObject(t.outputSchema) }),
    ...(t.annotations !== undefined && { annotations: jsonObject(t.annotations) })
  }
}

/**
 * The provider's catalogue: signed when the tools change (`latest`), put into the next
 * descriptor built (`built`), served once that descriptor's publish is acknowledged
 * (`served`), when listeners (MCP sessions: list_changed) are told.
 */
class CatalogueTracker {
  latest: Signed
  served: Signed
  built: Signed
  readonly #listeners = new Set<() => void>()
  readonly #id: ProviderIdentity
  readonly #service: ProviderService
  readonly #clock: Clock
  readonly #emit: (e: ProviderNodeEvent) => void
  #serial = 0

  constructor (id: ProviderIdentity, service: ProviderService, clock: Clock, emit: (e: ProviderNodeEvent) => void) {
    this.#id = id
    this.#service = service
    this.#clock = clock
    this.#emit = emit
    this.latest = this.#make()
    this.served = this.latest
    this.built = this.latest
  }

  readonly onCatalogueChanged = (listener: () => void): () => void => {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  sign (): void { this.latest = this.#make() }

  /** The descriptor being built carries the latest catalogue. */
  building (): Signed { this.built = this.latest; return this.built }

  /** The last built descriptor was acknowledged: serve its catalogue. */
  acknowledged (): void {
    if (this.served === this.built) return
    this.served = this.built
    for (const l of this.#listeners) { try { l() } catch { /* a closing session */ } }
  }

  #make (): Signed {
    const clock = this.#clock
    const address = this.#id.address.text
    this.#serial = Math.max(this.#serial + 1, Math.floor(clock.now() / 1000))
    const serial = this.#serial
    const records: ToolRecord[] = []
    const privateRecords: ToolRecord[] = []
    const listed: ToolRecord[] = []
    const seen = new Set<string>()
    for (const t of this.#service.tools()) {
      try {
        const version = registryVersion(t.version)
        if (seen.has(`${t.name}@${version}`)) throw new Error('duplicate name and version')
        const record = makeToolRecord(toDefinition(t), version, t.tags ?? [], address)
        if (t.private === true) privateRecords.push(record)
        else records.push(record)
        if (t.listed === true && t.private !== true) listed.push(record)
        seen.add(`${t.name}@${version}`)
      } catch (err) {
        this.#emit({ type: 'tool-skipped', name: t.name.slice(0, 128), message: err instanceof Error ? err.message : String(err) })
      }
    }
    const c = signCatalogue(this.#id, { provider: address, serial, issuedAt: Math.floor(clock.now() / 1000), tools: records }, systemRng)
    this.#emit({ type: 'catalogue-signed', serial, tools: records.length })
    const priv = privateRecords.length === 0
      ? undefined
      : signCatalogue(this.#id, { provider: address, serial, issuedAt: Math.floor(clock.now() / 1000), tools: privateRecords }, systemRng)
    return { serial, bytes: c.bytes, digest: c.digest, tools: records.length, listed, ...(priv !== undefined && { private: { bytes: priv.bytes, digest: priv.digest, tools: privateRecords.length } }) }
  }
}

/** The registry session's handler: the served catalogue, and the private one for a live access token. */
function sessionHandler (cats: CatalogueTracker, tokens: AccessTokens): ProviderHandler {
  return {
    catalogue: () => cats.served.bytes,
    privateCatalogue: (token) => tokens.valid(token) ? cats.served.private?.bytes : undefined,
    // calls go over MCP on MCP_TARGET; the session's opaque CALL is not used by Veil's providers
    call: async () => { throw new Error('calls are served over MCP on the veil-mcp stream') }
  }
}

/** What both provider modes share: the publisher of descriptors for the current catalogue,
 * the `published` promise, and re-signing + republishing when the wrapped tools change. */
function startPublishing (o: {
  id: ProviderIdentity
  cats: CatalogueTracker
  params: RegistryParams
  clock: Clock
  reg: ReturnType<typeof registryClient>
  service: ProviderService
  emit: (e: ProviderNodeEvent) => void
  isStopped: () => boolean
  refresh: () => Promise<void>
  reach: () => Pick<Parameters<typeof buildDescriptor>[1], 'reach' | 'pow'>
  authorizedClients?: readonly AuthorizedClient[]
  tokens: AccessTokens
}): { pub: Publisher, published: Promise<void>, rejectPublished: (err: Error) => void, unsubscribe: () => void } {
  let resolvePublished: () => void = () => {}
  let rejectPublished: (err: Error) => void = () => {}
  const published = new Promise<void>((resolve, reject) => { resolvePublished = resolve; rejectPublished = reject })
  published.catch(() => {})
  const pub = new Publisher({
    clock: o.clock,
    rng: secureRng,
    params: o.params,
    build: (period, nowMs) => {
      const built = o.cats.building()
      const priv = built.private !== undefined && (o.authorizedClients?.length ?? 0) > 0 ? built.private : undefined
      const d = buildDescriptor(o.id, {
        nowMs, rng: systemRng, periods: o.params.periods, period, lifetimeSeconds: o.params.lifetimeSeconds,
        ...o.reach(), catalogue: { digest: built.digest, version: built.serial },
        ...(priv !== undefined && { authorizedClients: o.authorizedClients, privateContent: { catalogue: { digest: priv.digest, version: built.serial }, introPoints: [] } })
      })
      if (priv !== undefined) o.tokens.add(d.accessToken, d.expiry)
      return d
    },
    publish: async (d) => {
      // the client's directory grows as relays join: refresh it before placing records
      await o.refresh()
      const result = await o.reg.publish(d)
      // the keyword index: the listed tools of the catalogue this descriptor carries
      const entries = buildIndexEntries(o.id, o.cats.built.listed, { period: d.period, nowMs: o.clock.now(), params: o.params })
      if (entries.length > 0) {
        const r = await o.reg.publishEntries(entries)
        o.emit({ type: 'index-published', period: d.period, entries: r.entries, placed: r.placed })
      }
      return result
    },
    onPublished: (results) => {
      const ok = results.every(r => r.ok)
      o.emit({ type: 'published', ok, acknowledged: results.reduce((n, r) => n + r.acknowledged, 0), attempted: results.reduce((n, r) => n + r.attempted, 0), serial: o.cats.built.serial })
      if (!ok) return
      resolvePublished()
      o.cats.acknowledged()
    },
    onError: (err) => { o.emit({ type: 'publish-error', message: err instanceof Error ? err.message : String(err) }) }
  })
  const unsubscribe = o.service.onToolsChanged(() => {
    if (o.isStopped()) return
    o.cats.sign()
    pub.change()
  })
  return { pub, published, rejectPublished, unsubscribe }
}

export async function startProviderNode (opts: ProviderNodeOptions): Promise<ProviderNode> {
  const clock = opts.clock ?? systemClock
  const testnet = opts.testnet === true
  const params = opts.params ?? registryParamsFor(testnet)
  const emit = (e: ProviderNodeEvent): void => { try { opts.onEvent?.(e) } catch { /* diagnostics only */ } }
  const id = await loadOrCreateProviderIdentity(opts.dataDir)
  const address = id.address.text

  const hooks = onionLinkHooks()
  const relay = await startRelayNode({
    ...hooks,
    dataDir: opts.dataDir,
    listen: opts.listen,
    announce: opts.announce,
    bootstrap: opts.bootstrap,
    testnet,
    singleAddress: opts.singleAddress,
    control: opts.control,
    clock,
    log: opts.log,
    namespaces: registryDhtNamespaces(clock, params.periods),
    onListening: opts.onListening,
    onStopRequested: opts.onStopRequested
  })
  let onion: OnionRelay | undefined
  let registry: RegistryRelay | undefined
  let client: ClientNode | undefined
  let circuits: ClientCircuits | undefined
  let publisher: Publisher | undefined
  let stopped = false
  const cleanup = async (): Promise<void> => {
    publisher?.stop()
    onion?.streams.unregister(MCP_TARGET)
    registry?.stop()
    onion?.stop()
    await circuits?.stop().catch(() => {})
    await client?.stop().catch(() => {})
    await relay.stop()
  }
  try {
    onion = attachOnionRelay(relay, hooks)
    const counters = onion.counters
    relay.setStatusSection('circuits', () => ({ ...counters, misbehaviour: Object.fromEntries(counters.misbehaviour) }))
    registry = await attachRegistryRelay(relay, onion, { params, clock })

    // ── catalogue: signed now, served once published ──
    const cats = new CatalogueTracker(id, opts.service, clock, emit)
    const onCatalogueChanged = cats.onCatalogueChanged

    const tokens = new AccessTokens(clock)
    servePublicProvider(onion, sessionHandler(cats, tokens))
    let streamsServed = 0
    onion.streams.register(MCP_TARGET, (stream) => {
      streamsServed++
      opts.service.serveStream(stream, { caller: `circuit-${streamsServed}`, onCatalogueChanged, authorized: (t) => tokens.valid(t) })
    })

    // ── publishing, from a client node of our own (descriptors travel over circuits) ──
    const confirmations = Math.max(1, Math.min(testnet ? 1 : 2, opts.bootstrap.length))
    client = await startClientNode({
      bootstrap: opts.bootstrap,
      entryCount: Math.min(3, opts.bootstrap.length),
      confirmations,
      timeoutMs: opts.readyTimeoutMs,
      clock,
      log: opts.log,
      subnetRules: opts.singleAddress !== true,
      guardFile: join(opts.dataDir, ENTRY_STATE_FILE),
      testnet
    })
    await client.ready
    circuits = await attachCircuits(client, { startManager: false, confirmations })
    const reg = registryClient(client, circuits, { params, clock })
    const relayBytes = relay.peerId.toMultihash().bytes
    const { pub, published, rejectPublished, unsubscribe } = startPublishing({
      id, cats, params, clock, reg, service: opts.service, emit, isStopped: () => stopped,
      refresh: async () => { await client?.refresh() },
      reach: () => ({ reach: { mode: 'public', relay: relayBytes }, pow: null }),
      authorizedClients: opts.authorizedClients,
      tokens
    })
    publisher = pub
    await pub.start()

    relay.setStatusSection('provider', () => node.status())
    const node: ProviderNode = {
      address,
      relay,
      onion,
      published,
      status: () => {
        const last = pub.last
        return {
          address,
          mode: 'public',
          tools: cats.served.tools,
          catalogueSerial: cats.latest.serial,
          servedSerial: cats.served.serial,
          streamsServed,
          publishes: pub.counters.publishes,
          publishFailures: pub.counters.failures,
          ...(last.length > 0 && { lastPublish: { acknowledged: last.reduce((n, r) => n + r.acknowledged, 0), attempted: last.reduce((n, r) => n + r.attempted, 0), ok: last.every(r => r.ok) } }),
          ...(opts.service.status !== undefined && { service: opts.service.status() })
        }
      },
      publishNow: async () => { await pub.publishNow() },
      stop: async () => {
        if (stopped) return
        stopped = true
        unsubscribe()
        rejectPublished(new Error('provider node stopped'))
        await cleanup()
      }
    }
    return node
  } catch (err) {
    stopped = true
    await cleanup().catch(() => {})
    throw err
  }
}

// ---------------------------------------------------------------------------
// Hidden mode
// ---------------------------------------------------------------------------

export interface HiddenProviderNodeOptions {
  readonly dataDir: string
  readonly bootstrap: string[]
  readonly testnet?: boolean
  readonly singleAddress?: boolean
  readonly service: ProviderService
  readonly params?: RegistryParams
  readonly clock?: Clock
  readonly log?: Log
  readonly onEvent?: (event: ProviderNodeEvent) => void
  readonly readyTimeoutMs?: number
  /** Introduction points (default 3). */
  readonly introPoints?: number
  /** Clients allowed to see and call private tools. */
  readonly authorizedClients?: readonly AuthorizedClient[]
  /** Proof of work suggested to clients (default none). */
  readonly pow?: { readonly suggestedEffort: number } | null
  readonly rendezvousPerMinute?: number
  /** Introductions per second (and burst) each introduction point lets through (ESTABLISH_INTRO's DoS parameters; defaults DEFAULT_INTRO_RATE / DEFAULT_INTRO_BURST). */
  readonly introRate?: number
  readonly introBurst?: number
}

export interface HiddenProviderNodeStatus extends Omit<ProviderNodeStatus, 'mode'> {
  readonly mode: 'hidden'
  readonly introPoints: number
  readonly rendezvous: HiddenService['counters']
}

export interface HiddenProviderNode {
  readonly address: string
  readonly client: ClientNode
  readonly circuits: ClientCircuits
  readonly hidden: HiddenService
  readonly published: Promise<void>
  status(): HiddenProviderNodeStatus
  publishNow(): Promise<void>
  stop(): Promise<void>
}

/**
 * A `hidden` provider: a client node whose host links only to its one guard; introduction
 * points announced in the descriptor; every consumer reached through a rendezvous point.
 * The same two stream targets as public mode, served over the end-to-end channel.
 */
export async function startHiddenProviderNode (opts: HiddenProviderNodeOptions): Promise<HiddenProviderNode> {
  const clock = opts.clock ?? systemClock
  const testnet = opts.testnet === true
  const params = opts.params ?? registryParamsFor(testnet)
  const emit = (e: ProviderNodeEvent): void => { try { opts.onEvent?.(e) } catch { /* diagnostics only */ } }
  const id = await loadOrCreateProviderIdentity(opts.dataDir)
  const address = id.address.text
  // one guard (vanguards-lite: the entry), confirmed directory from it; kept across restarts
  const client = await startClientNode({
    bootstrap: opts.bootstrap, entryCount: 1, confirmations: 1, timeoutMs: opts.readyTimeoutMs, clock, log: opts.log, subnetRules: opts.singleAddress !== true,
    guardFile: join(opts.dataDir, ENTRY_STATE_FILE),
    testnet
  })
  let circuits: ClientCircuits | undefined
  let hidden: HiddenService | undefined
  let publisher: Publisher | undefined
  let stopped = false
  const cleanup = async (): Promise<void> => {
    publisher?.stop()
    hidden?.stop()
    await circuits?.stop().catch(() => {})
    await client.stop().catch(() => {})
  }
  try {
    await client.ready
    circuits = await attachCircuits(client, { startManager: false, confirmations: 1 })
    const reg = registryClient(client, circuits, { params, clock })
    const cats = new CatalogueTracker(id, opts.service, clock, emit)
    let streamsServed = 0
    const tokens = new AccessTokens(clock)
    const targets = new StreamTargetTable()
    targets.register(PROVIDER_TARGET, async (stream) => {
      await serveSession({
        send: async (m, op) => { await stream.send(m, op) },
        read: async (op) => stream.read(op),
        close: async () => { await stream.close() }
      }, sessionHandler(cats, tokens))
    })
    targets.register(MCP_TARGET, (stream) => {
      streamsServed++
      opts.service.serveStream(stream, { caller: `channel-${streamsServed}`, onCatalogueChanged: cats.onCatalogueChanged, authorized: (t) => tokens.valid(t) })
    })
    const hs = new HiddenService({
      network: hiddenNetwork(client, circuits),
      clock,
      rng: secureRng,
      targets,
      introPoints: opts.introPoints,
      pow: opts.pow ?? null,
      rendezvousPerMinute: opts.rendezvousPerMinute,
      introRate: opts.introRate,
      introBurst: opts.introBurst,
      // a replaced introduction point must reach the descriptor
      onIntroPointsChanged: () => { publisher?.change() }
    })
    hidden = hs
    await hs.start()
    const { pub, published, rejectPublished, unsubscribe } = startPublishing({
      id, cats, params, clock, reg, service: opts.service, emit, isStopped: () => stopped,
      refresh: async () => { await client.refresh() },
      reach: () => ({ reach: { mode: 'hidden', introPoints: hs.introPointKeys() }, pow: hs.powParams() }),
      authorizedClients: opts.authorizedClients,
      tokens
    })
    publisher = pub
    await pub.start()
    const c = circuits
    return {
      address,
      client,
      circuits: c,
      hidden: hs,
      published,
      status: () => {
        const last = pub.last
        return {
          address,
          mode: 'hidden',
          tools: cats.served.tools,
          catalogueSerial: cats.latest.serial,
          servedSerial: cats.served.serial,
          streamsServed,
          publishes: pub.counters.publishes,
          publishFailures: pub.counters.failures,
          introPoints: hs.introPointKeys().length,
          rendezvous: { ...hs.counters },
          ...(last.length > 0 && { lastPublish: { acknowledged: last.reduce((n, r) => n + r.acknowledged, 0), attempted: last.reduce((n, r) => n + r.attempted, 0), ok: last.every(r => r.ok) } }),
          ...(opts.service.status !== undefined && { service: opts.service.status() })
        }
      },
      publishNow: async () => { await pub.publishNow() },
      stop: async () => {
        if (stopped) return
        stopped = true
        unsubscribe()
        rejectPublished(new Error('provider node stopped'))
        await cleanup()
      }
    }
  } catch (err) {
    stopped = true
    await cleanup().catch(() => {})
    throw err
  }
}
