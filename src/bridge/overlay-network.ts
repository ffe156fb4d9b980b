/**
 * The ToolNetwork over the anonymous overlay: every provider is reached through a
 * stream inside a circuit of its own, and spoken to in plain MCP (StreamTransport).
 *
 *   const network = overlayToolNetwork({ connect: (address, o) => openProviderStream(address, o) })
 *   await startBridge({ network, … })
 *
 * `connect` is where the registry comes in: it resolves a provider address (descriptor
 * lookup, rendezvous or the provider's public relay) and returns a stream on a fresh
 * circuit. This module only keeps one MCP session per provider and privacy profile —
 * two providers never share a circuit, and calls with different profiles use different
 * circuits — reconnects after a failure, and turns every failure into a ToolNetworkError
 * the bridge shows as a readable tool error.
 * Must never: send two providers' traffic over one circuit; retry a call by itself (the
 * bridge decides, and only for read-only or idempotent tools).
 */
import { Client } from '@modelcontextprotocol/client'
import { ToolNetworkError } from './errors.ts'
import { StreamTransport, type MessageStreamLike } from './stream-transport.ts'
import type { NetworkStatus, PrivacyProfile, RemoteCallOptions, ToolNetwork } from './remote.ts'

export interface ConnectOptions {
  signal: AbortSignal
  profile: PrivacyProfile
}

export interface OverlayToolNetworkOptions {
  /** Open a stream to the provider's MCP endpoint over a fresh circuit. */
  connect: (address: string, opts: ConnectOptions) => Promise<MessageStreamLike>
  /**
   * The provider's catalogue as the registry vouches for it: the signed catalogue, checked
   * against the digest in the provider's descriptor (registry session CATALOGUE over the
   * provider's circuit). When given, listTools uses it instead of the unauthenticated MCP
   * `tools/list`; the MCP session is still opened first, so `list_changed` is heard.
   * Returns tool definitions (`version` included), still untrusted input for the bridge.
   */
  catalogue?: (address: string, signal: AbortSignal) => Promise<readonly unknown[]>
  /** Keyword search in the registry (untrusted hits); none means search finds nothing. */
  search?: (words: string, signal: AbortSignal) => Promise<readonly unknown[]>
  status?: () => NetworkStatus
  /**
   * Runs before every call, once the session is open: throws (a ToolNetworkError
   * `stale-catalogue`) when the provider now serves a catalogue other than the one last
   * returned by `catalogue`, so nothing is called against a definition the bridge has not
   * checked against its pins.
   */
  beforeCall?: (address: string, profile: PrivacyProfile, signal: AbortSignal) => Promise<void>
  /** Time to connect (circuit + MCP handshake) before giving up. */
  connectTimeoutMs?: number
  /** `_meta` every request to this provider carries (an authorised client's access token for private tools). */
  requestMeta?: (address: string) => Record<string, unknown> | undefined
}

interface Session {
  client: Client
  closed: boolean
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000

export function overlayToolNetwork (opts: OverlayToolNetworkOptions): ToolNetwork & { close(): Promise<void> } {
  const sessions = new Map<string, Promise<Session>>()
  const listeners = new Set<(provider: string) => void>()
  const keyOf = (address: string, profile: PrivacyProfile): string => `${profile}\u0000${address}`

  const open = async (address: string, profile: PrivacyProfile, signal: AbortSignal): Promise<Session> => {
    const sig = AbortSignal.any([signal, AbortSignal.timeout(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)])
    let stream: MessageStreamLike
    try {
      stream = await opts.connect(address, { signal: sig, profile })
    } catch (err) {
      if (err instanceof ToolNetworkError) throw err
      if (signal.aborted) throw new ToolNetworkError('cancelled', 'the call was cancelled', { cause: err })
      if (sig.aborted) throw new ToolNetworkError('timeout', `no circuit to provider ${address} in time`, { cause: err })
      throw new ToolNetworkError('unreachable', `cannot reach provider ${address}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    const client = new Client({ name: 'veil-bridge', version: '0.1.0' }, {
      listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => { for (const l of listeners) l(address) } } }
    })
    const session: Session = { client, closed: false }
    const key = keyOf(address, profile)
    client.onclose = () => {
      session.closed = true
      void sessions.get(key)?.then(s => { if (s === session) sessions.delete(key) }, () => {})
    }
    try {
      await client.connect(new StreamTransport(stream), { signal: sig })
    } catch (err) {
      await client.close().catch(() => {})
      throw new ToolNetworkError(sig.aborted ? 'timeout' : 'protocol', `provider ${address} did not complete the MCP handshake: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    return session
  }

  const session = async (address: string, profile: PrivacyProfile, signal: AbortSignal): Promise<Session> => {
    const key = keyOf(address, profile)
    const existing = sessions.get(key)
    if (existing !== undefined) {
      const s = await existing.catch(() => undefined)
      if (s !== undefined && !s.closed) return s
      if (sessions.get(key) === existing) sessions.delete(key)
    }
    const p = open(address, profile, signal)
    sessions.set(key, p)
    p.catch(() => { if (sessions.get(key) === p) sessions.delete(key) })
    return p
  }

  const failed = (address: string, err: unknown, signal: AbortSignal): ToolNetworkError => {
    if (err instanceof ToolNetworkError) return err
    if (signal.aborted) return new ToolNetworkError('cancelled', 'the call was cancelled', { cause: err })
    const msg = err instanceof Error ? err.message : String(err)
    // a closed session means the circuit went away: worth a new circuit for idempotent tools
    if (/closed|destroy|circuit|stream/i.test(msg)) return new ToolNetworkError('circuit-failed', `the circuit to provider ${address} failed: ${msg}`, { cause: err })
    return new ToolNetworkError('protocol', `provider ${address} failed: ${msg}`, { cause: err })
  }

  return {
    async listTools (address, signal) {
      const s = await session(address, 'fast', signal)
      if (opts.catalogue !== undefined) {
        try {
          return await opts.catalogue(address, signal)
        } catch (err) {
          throw failed(address, err, signal)
        }
      }
      try {
        const meta = opts.requestMeta?.(address)
        const r = await s.client.request({ method: 'tools/list', params: meta === undefined ? {} : { _meta: meta } }, { signal })
        return r.tools
      } catch (err) {
        throw failed(address, err, signal)
      }
    },
    async callTool (address, name, args, o: RemoteCallOptions) {
      const s = await session(address, o.profile ?? 'fast', o.signal)
      await opts.beforeCall?.(address, o.profile ?? 'fast', o.signal)
      const meta = opts.requestMeta?.(address)
      try {
        return await s.client.request(
          { method: 'tools/call', params: { name, arguments: args, ...(meta !== undefined && { _meta: meta }) } },
          { signal: o.signal, ...(o.onProgress !== undefined && { onprogress: (p: { progress: number, total?: number, message?: string }) => { o.onProgress?.({ progress: p.progress, ...(p.total !== undefined && { total: p.total }), ...(p.message !== undefined && { message: p.message }) }) } }) }
        )
      } catch (err) {
        throw failed(address, err, o.signal)
      }
    },
    async searchTools (words, signal) {
      return opts.search === undefined ? [] : await opts.search(words, signal)
    },
    onCatalogueChanged (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    status: () => opts.status?.() ?? { ready: true, detail: 'anonymous overlay' },
    async close () {
      const all = [...sessions.values()]
      sessions.clear()
      await Promise.allSettled(all.map(async p => { const s = await p; await s.client.close() }))
    }
  }
}
