/**
 * The MCP bridge and provider mode: what users touch.
 *
 * A *bridge* is a local MCP server (stdio or Streamable HTTP on 127.0.0.1) that any MCP
 * client — Claude Desktop, Claude Code, Cursor — talks plain MCP to. It serves one
 * composite catalogue of remote tools and sends every call across a {@link ToolNetwork}
 * (the anonymous overlay; in tests and local setups, {@link localToolNetwork}).
 * A *provider* wraps an existing MCP server (stdio command or HTTP URL) as its client and
 * serves that server's tools to the network.
 *
 * @example
 * ```ts
 * import { startProvider, startBridge, localToolNetwork } from './index.ts'
 *
 * const { provider } = await startProvider({ server: { kind: 'stdio', command: process.execPath, args: ['examples/tools-server.ts'] } })
 * const network = localToolNetwork({ providers: { 'demo-provider': provider } })
 * const running = await startBridge({
 *   network,
 *   providers: [{ address: 'demo-provider', tag: 'demo' }],
 *   dataDir: '/home/me/.veil',
 *   serve: { kind: 'stdio' }
 * })
 * // … an MCP client on stdin/stdout now sees demo_echo, demo_weather, … and the veil_* meta tools.
 * await running.close()
 * ```
 *
 * The CLI only parses flags into these options and calls {@link startBridge} /
 * {@link startProvider}; everything else lives here.
 *
 * What this module must never do:
 * - write anything but MCP to stdout when serving stdio (diagnostics go to `onEvent`,
 *   which the CLI sends to stderr);
 * - let the model accept, pin or unhold a tool — only the user, out of band
 *   (`veil tools accept`, {@link acceptTool});
 * - trust remote definitions or annotations for anything security-relevant, or show one
 *   unparsed (untrusted.ts);
 * - listen beyond loopback without an explicit host allow-list, or skip Host/Origin checks;
 * - log anything that identifies a caller (the provider's invocation log holds tool, time,
 *   duration, outcome and sizes only);
 * - import from src/cli (the CLI imports the bridge, not the reverse).
 *
 * On the overlay: {@link startOverlayBridge} (a bridge whose ToolNetwork is a consumer
 * node's circuits), {@link startOverlayProvider} (a public-mode provider node wrapping an
 * MCP server) and {@link connect} (the consumer as a library) — overlay.ts, consumer.ts.
 *
 * Not in this module: circuits, rendezvous and the registry (src/node); flag parsing
 * (src/cli).
 */
import type { Transport } from '@modelcontextprotocol/server'
import { createBridge, type Bridge, type BridgeCoreOptions } from './server.ts'
import { serveBridgeHttp, serveBridgeStdio, type HttpServeOptions } from './transports.ts'
import { createProvider, type Provider, type ProviderOptions } from './provider.ts'

export { createBridge, BRIDGE_SERVER_INFO, META_TOOL_NAMES, CALL_TOOL_NAME } from './server.ts'
export type { Bridge, BridgeCoreOptions, BridgeEvent, BridgeProviderConfig, BridgeStatus, ExposedTool, ToolState } from './server.ts'
export { localToolNetwork, PRIVACY_PROFILES } from './remote.ts'
export type { ToolNetwork, RemoteCallOptions, NetworkStatus, MixStatus, PrivacyProfile, ProgressUpdate, LocalToolNetworkOptions } from './remote.ts'
export { createProvider } from './provider.ts'
export type { Provider, ProviderOptions, ProviderEvent, ProviderStatus, ProviderToolConfig, Visibility, WrappedServer, WrappedProtocol, CatalogueEntry, InvocationRecord, InvocationOutcome } from './provider.ts'
export { serveBridgeHttp, serveBridgeStdio } from './transports.ts'
export type { HttpServeOptions, HttpServedHandle, StdioServeOptions } from './transports.ts'
export { acceptTool, loadPins, loadCatalogue, pinsPath, cataloguePath } from './store.ts'
export type { Pin, PinState } from './store.ts'
export { ToolNetworkError, ProviderLimitError, BridgeUsageError, RemoteDefinitionError } from './errors.ts'
export type { ToolNetworkErrorCode } from './errors.ts'
export { EXPOSED_NAME_PATTERN, META_KEY } from './constants.ts'
export { overlayToolNetwork } from './overlay-network.ts'
export type { OverlayToolNetworkOptions, ConnectOptions } from './overlay-network.ts'
export { startOverlayBridge, startOverlayProvider, providerService, consumerToolNetwork, catalogueTools } from './overlay.ts'
export type { StartOverlayBridgeOptions, RunningOverlayBridge, StartOverlayProviderOptions, RunningOverlayProvider, RunningPublicOverlayProvider, RunningHiddenOverlayProvider, ConsumerToolNetwork } from './overlay.ts'
export { connect } from './consumer.ts'
export type { VeilClient, VeilConnectOptions, VeilCallOptions, VeilCallResult } from './consumer.ts'

export type BridgeServe =
  | { readonly kind: 'stdio', readonly transport?: Transport }
  | ({ readonly kind: 'http' } & HttpServeOptions)

export interface StartBridgeOptions extends BridgeCoreOptions {
  readonly serve: BridgeServe
}

export interface RunningBridge {
  readonly bridge: Bridge
  /** Set when serving HTTP. */
  readonly url?: string
  readonly port?: number
  close: () => Promise<void>
}

/**
 * Starts a bridge: loads the cached catalogue (answers at once), starts fetching live
 * catalogues in the background, and serves MCP. `close()` stops serving, stops every
 * timer and watcher, and leaves the data dir consistent.
 */
export async function startBridge (options: StartBridgeOptions): Promise<RunningBridge> {
  const bridge = createBridge(options)
  await bridge.start()
  const onerror = (error: Error): void => { options.onEvent?.({ type: 'provider-error', address: '(mcp)', message: error.message }) }
  try {
    if (options.serve.kind === 'stdio') {
      const served = serveBridgeStdio(bridge, { ...(options.serve.transport !== undefined && { transport: options.serve.transport }), onerror })
      return { bridge, close: async () => { await served.close(); await bridge.stop() } }
    }
    const served = await serveBridgeHttp(bridge, { onerror, ...options.serve })
    return { bridge, url: served.url, port: served.port, close: async () => { await served.close(); await bridge.stop() } }
  } catch (err) {
    await bridge.stop()
    throw err
  }
}

export interface RunningProvider {
  readonly provider: Provider
  close: () => Promise<void>
}

/**
 * Starts a provider in this process only: connects to the wrapped server and builds its
 * catalogue (for {@link localToolNetwork}). On the network: {@link startOverlayProvider}.
 */
export async function startProvider (options: ProviderOptions): Promise<RunningProvider> {
  const provider = createProvider(options)
  await provider.start()
  return { provider, close: async () => { await provider.stop() } }
}
