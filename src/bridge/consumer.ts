/**
 * The anonymous consumer as a library: `import { connect } from 'veilnet'`.
 *
 * ```ts
 * const veil = await connect()                          // the network: bootstrap option, config, or a running testnet
 * const tools = await veil.listTools(address)          // verified: signed by the provider, matching its descriptor
 * const result = await veil.callTool(address, 'echo', { text: 'hi' })
 * await veil.close()
 * ```
 *
 * Every provider is reached through a circuit of its own; calls to one provider reuse its
 * circuit. `callTool` only calls tools in the provider's verified catalogue, and returns
 * the provider's result checked like the bridge checks it (untrusted.ts): `content`,
 * `structuredContent` and `isError` as sent, nothing else. Network failures throw
 * {@link ToolNetworkError} (`code` says which); a tool's own failure is a result with
 * `isError: true`.
 *
 * `searchTools('weather forecast')` looks the words up in the registry's keyword index
 * (over circuits; storers learn neither who searched nor, unless they guess it, the
 * keyword) and returns the tools whose providers' signed catalogues list a searched word.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { requireBootstrap } from '../node/bootstrap.ts'
import { loadClientAuth, startConsumerNode, type ConsumerNode } from '../node/consumer-node.ts'
import { ENTRY_STATE_FILE } from '../node/entry-guards.ts'
import { CALL_TIMEOUT_MS, LIST_TIMEOUT_MS, SEARCH_RESULTS_MAX, SEARCH_WORDS_MAX_CHARS } from './constants.ts'
import { ToolNetworkError } from './errors.ts'
import { consumerToolNetwork, type ConsumerToolNetwork } from './overlay.ts'
import type { NetworkStatus, PrivacyProfile, ProgressUpdate } from './remote.ts'
import { parseRemoteResult, parseRemoteTool, parseSearchHit, type SafeSearchHit, type SafeTool } from './untrusted.ts'

export interface VeilConnectOptions {
  /** Bootstrap multiaddrs; default: the running testnet of `home` (its testnet.json). */
  readonly bootstrap?: readonly string[]
  /** The data dir whose testnet.json names the network (default `$VEIL_HOME` or ~/.veil). */
  readonly home?: string
  /** Use the testnet's registry clocks (default: true when the network came from testnet.json). */
  readonly testnet?: boolean
  /** How long to wait for the relay directory (default 60 s). */
  readonly readyTimeoutMs?: number
}

export interface VeilCallOptions {
  readonly signal?: AbortSignal
  readonly onProgress?: (update: ProgressUpdate) => void
  readonly profile?: PrivacyProfile
}

export interface VeilCallResult {
  readonly content: unknown[]
  readonly structuredContent?: unknown
  readonly isError?: boolean
}

export interface VeilClient {
  /** One line naming the network this client joined. */
  readonly network: string
  /** The provider's tools from its verified catalogue (definitions bounded and checked). */
  listTools(address: string, opts?: { signal?: AbortSignal }): Promise<SafeTool[]>
  callTool(address: string, name: string, args?: Record<string, unknown>, opts?: VeilCallOptions): Promise<VeilCallResult>
  /**
   * Keyword search in the registry's index: tools whose providers announce one of the
   * words, each checked against the provider's signed catalogue (only tools whose record
   * lists a searched keyword come back). Bounded and cleaned like the bridge's hits.
   */
  searchTools(words: string, opts?: { signal?: AbortSignal }): Promise<SafeSearchHit[]>
  /** The circuit's relays to a provider this client has open (entry first). */
  pathTo(address: string): readonly string[] | undefined
  status(): NetworkStatus
  close(): Promise<void>
}


export async function connect (options: VeilConnectOptions = {}): Promise<VeilClient> {
  const home = options.home ?? process.env.VEIL_HOME ?? join(homedir(), '.veil')
  const choice = await requireBootstrap(home, options.bootstrap === undefined ? undefined : [...options.bootstrap])
  const testnet = options.testnet ?? choice.testnet !== undefined
  // this data dir's client authorisation key, if it has one (`veil keys client-auth` makes it)
  const auth = await loadClientAuth(home)
  const consumer: ConsumerNode = await startConsumerNode({
    bootstrap: choice.peers,
    testnet,
    singleAddress: choice.testnet?.singleAddress,
    readyTimeoutMs: options.readyTimeoutMs,
    guardFile: join(home, ENTRY_STATE_FILE),
    ...(auth !== undefined && { clientAuth: auth.key })
  })
  const network: ConsumerToolNetwork = consumerToolNetwork(consumer)
  const catalogues = new Map<string, SafeTool[]>()

  const listTools = async (address: string, opts: { signal?: AbortSignal } = {}): Promise<SafeTool[]> => {
    const raw = await network.listTools(address, opts.signal ?? AbortSignal.timeout(LIST_TIMEOUT_MS))
    const tools: SafeTool[] = []
    for (const r of raw) { try { tools.push(parseRemoteTool(r)) } catch { /* a definition the bridge would not show either */ } }
    catalogues.set(address, tools)
    return tools
  }

  return {
    network: choice.network,
    listTools,
    async callTool (address, name, args = {}, opts = {}) {
      const signal = opts.signal ?? AbortSignal.timeout(CALL_TIMEOUT_MS)
      const call = async (tools: SafeTool[]): Promise<unknown> => {
        if (!tools.some(t => t.name === name)) throw new ToolNetworkError('unknown-tool', `provider ${address.slice(0, 12)}… has no tool named ${JSON.stringify(name.slice(0, 128))} in its signed catalogue`)
        return await network.callTool(address, name, args, { signal, ...(opts.onProgress !== undefined && { onProgress: opts.onProgress }), ...(opts.profile !== undefined && { profile: opts.profile }) })
      }
      let raw: unknown
      try {
        raw = await call(catalogues.get(address) ?? await listTools(address, { signal }))
      } catch (err) {
        // the provider's catalogue changed since it was read (nothing was sent): read it again, once
        if (!(err instanceof ToolNetworkError) || err.code !== 'stale-catalogue') throw err
        raw = await call(await listTools(address, { signal }))
      }
      const parsed = parseRemoteResult(raw)
      if (!parsed.ok) throw new ToolNetworkError('protocol', parsed.reason)
      return parsed.result
    },
    searchTools: async (words, opts = {}) => {
      const hits = await network.searchTools(words.slice(0, SEARCH_WORDS_MAX_CHARS), opts.signal ?? AbortSignal.timeout(LIST_TIMEOUT_MS))
      return hits.slice(0, 10 * SEARCH_RESULTS_MAX).map(parseSearchHit).filter((h): h is SafeSearchHit => h !== undefined).slice(0, SEARCH_RESULTS_MAX)
    },
    pathTo: (address) => network.pathOf(address),
    status: () => network.status(),
    close: async () => {
      await network.close()
      await consumer.stop()
    }
  }
}
