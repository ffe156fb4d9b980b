/**
 * The bridge's one view of everything remote: {@link ToolNetwork}.
 *
 * The bridge never knows whether a provider is across an anonymous circuit or in the same
 * process. It asks a ToolNetwork for a provider's catalogue, calls a provider's tool, and
 * searches the registry. Everything a ToolNetwork returns is *untrusted* (typed `unknown`
 * on purpose): the bridge parses and bounds it (untrusted.ts) before showing it to a model.
 *
 * Two implementations:
 * - {@link localToolNetwork} (here): talks to {@link Provider}s in this process directly —
 *   exactly what a provider does on the far side of a circuit. Tests and local setups.
 * - the overlay ToolNetwork (overlay-network.ts + overlay.ts over src/node's consumer
 *   node): one circuit per provider, the signed catalogue from the registry. It keeps this contract:
 *   - failures are thrown as {@link ToolNetworkError} with the right `code` (the bridge
 *     retries only `retryable` ones, and only for read-only/idempotent tools);
 *   - `options.signal` aborts the call and carries cancellation to the provider;
 *   - progress from the provider reaches `options.onProgress`;
 *   - two providers never share a circuit.
 *
 * Not in this module: naming, consent, MCP serving (server.ts); wrapping a server (provider.ts).
 */
import { randomUUID } from 'node:crypto'
import { ProviderLimitError, ToolNetworkError } from './errors.ts'
import type { Provider } from './provider.ts'

export type PrivacyProfile = 'fast' | 'balanced' | 'paranoid'
export const PRIVACY_PROFILES: readonly PrivacyProfile[] = ['fast', 'balanced', 'paranoid']

export interface ProgressUpdate {
  readonly progress: number
  readonly total?: number
  readonly message?: string
}

export interface RemoteCallOptions {
  readonly signal: AbortSignal
  readonly onProgress?: (update: ProgressUpdate) => void
  readonly profile?: PrivacyProfile
}

/** What the network knows about itself, for `veil_status`. */
export interface NetworkStatus {
  /** True once calls can be attempted (circuits can be built). */
  readonly ready: boolean
  readonly relaysKnown?: number
  readonly circuits?: number
  readonly coverTraffic?: boolean
  /** Mixing and cover on this client (counts only: nothing here names a relay or a provider). */
  readonly mix?: MixStatus
  readonly detail?: string
}

/** The client's cover traffic and loop-loss counters, for `veil_status`. */
export interface MixStatus {
  /** Open call circuits and cover circuits per privacy profile. */
  readonly circuits: Readonly<Record<PrivacyProfile, number>>
  readonly coverCircuits: Readonly<Record<PrivacyProfile, number>>
  /** Cover cells sent: loops, drops, and paranoid's stream slots that carried no real cell. */
  readonly coverCells: number
  /** Paranoid's stream slots that carried a real cell. */
  readonly streamRealCells: number
  /** Loops (cells that travel a circuit and come back): sent, returned, lost, and relays avoided for losses on ≥ 3 disjoint paths. */
  readonly loops: { readonly sent: number, readonly returned: number, readonly lost: number, readonly relaysAvoided: number }
}

export interface ToolNetwork {
  /** The provider's catalogue as it sent it: untrusted, unparsed tool definitions. */
  listTools: (provider: string, signal: AbortSignal) => Promise<readonly unknown[]>
  /** Calls `name` at `provider`; resolves with the provider's untrusted result object. Throws ToolNetworkError. */
  callTool: (provider: string, name: string, args: Record<string, unknown>, options: RemoteCallOptions) => Promise<unknown>
  /** Registry keyword search: untrusted hits `{ address, name, version?, title?, description?, verified? }`. */
  searchTools: (words: string, signal: AbortSignal) => Promise<readonly unknown[]>
  /** Called with a provider address whenever that provider's catalogue may have changed. Returns an unsubscribe. */
  onCatalogueChanged: (listener: (provider: string) => void) => () => void
  status: () => NetworkStatus
}

export interface LocalToolNetworkOptions {
  /** Providers by address. */
  readonly providers: ReadonlyMap<string, Provider> | Readonly<Record<string, Provider>>
  /**
   * Runs before every call and catalogue fetch; may throw a ToolNetworkError to simulate
   * a failing network (tests: vanished provider, broken circuit).
   */
  readonly fault?: (op: 'list' | 'call' | 'search', provider: string, tool?: string) => void | Promise<void>
  /** Opaque caller key handed to providers for per-caller limits (default: one random id per network). */
  readonly callerId?: string
}

const abortError = (signal: AbortSignal): ToolNetworkError =>
  new ToolNetworkError('cancelled', 'the call was cancelled', { cause: signal.reason })

/** Results cross a process boundary in the overlay; here they are copied the same way. */
const jsonCopy = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

/**
 * A ToolNetwork over providers in this process. Search covers `listed` tools; catalogues
 * carry `listed` and `unlisted` ones; `private` tools are never served.
 */
export function localToolNetwork (options: LocalToolNetworkOptions): ToolNetwork & { addProvider: (address: string, provider: Provider) => void } {
  const providers = new Map<string, Provider>(options.providers instanceof Map ? options.providers : Object.entries(options.providers))
  const listeners = new Set<(provider: string) => void>()
  const unsubscribers = new Map<string, () => void>()
  const callerId = options.callerId ?? randomUUID()

  const watch = (address: string, provider: Provider): void => {
    unsubscribers.get(address)?.()
    unsubscribers.set(address, provider.onCatalogueChanged(() => {
      for (const l of listeners) l(address)
    }))
  }
  for (const [address, provider] of providers) watch(address, provider)

  const get = (address: string): Provider => {
    const p = providers.get(address)
    if (p === undefined) throw new ToolNetworkError('unreachable', `no route to provider ${address}`)
    return p
  }

  return {
    addProvider: (address, provider) => {
      providers.set(address, provider)
      watch(address, provider)
      for (const l of listeners) l(address)
    },
    async listTools (address, signal) {
      if (signal.aborted) throw abortError(signal)
      await options.fault?.('list', address)
      const provider = get(address)
      if (!provider.isReady()) throw new ToolNetworkError('unreachable', `provider ${address} is not serving (its MCP server is down)`)
      return jsonCopy(provider.listTools('network')) as unknown[]
    },
    async callTool (address, name, args, callOptions) {
      if (callOptions.signal.aborted) throw abortError(callOptions.signal)
      await options.fault?.('call', address, name)
      const provider = get(address)
      try {
        const result = await provider.callTool(name, jsonCopy(args) as Record<string, unknown>, {
          signal: callOptions.signal,
          onProgress: callOptions.onProgress,
          caller: callerId
        })
        return jsonCopy(result)
      } catch (err) {
        if (err instanceof ToolNetworkError) throw err
        if (err instanceof ProviderLimitError) throw new ToolNetworkError('refused', err.message, { cause: err })
        if (callOptions.signal.aborted) throw abortError(callOptions.signal)
        throw new ToolNetworkError('protocol', `provider ${address} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
      }
    },
    async searchTools (words, signal) {
      if (signal.aborted) throw abortError(signal)
      const terms = words.toLowerCase().split(/\s+/).filter((w) => w !== '')
      const hits: unknown[] = []
      for (const [address, provider] of providers) {
        await options.fault?.('search', address)
        if (!provider.isReady()) continue
        for (const tool of provider.listTools('search')) {
          const hay = `${tool.name} ${tool.title ?? ''} ${tool.description ?? ''}`.toLowerCase()
          if (terms.every((t) => hay.includes(t))) {
            hits.push({ address, name: tool.name, version: tool.version, title: tool.title, description: tool.description, verified: false })
          }
        }
      }
      return jsonCopy(hits) as unknown[]
    },
    onCatalogueChanged (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    status: () => ({ ready: true, detail: `in-process network, ${providers.size} provider(s)` })
  }
}
