/**
 * veilnet: an anonymous onion-routed overlay for MCP tools on libp2p.
 *
 * ```ts
 * import { connect } from 'veilnet'
 * const veil = await connect()                     // bootstrap option, or the running testnet
 * await veil.listTools(address)                    // the provider's signed, verified catalogue
 * await veil.callTool(address, 'echo', { text: 'hi' })
 * await veil.close()
 * ```
 *
 * Also: the CLI entry (`main`), relays, client nodes and testnets, the MCP bridge and
 * public-mode providers on the overlay. See examples/consumer.ts.
 */
export { main } from './cli/main.ts'
export type { MainIo } from './cli/main.ts'
export { LINK_PROTOCOL, CELL_FORMAT_VERSION, DATA_DIR_FORMAT, versions, packageVersion } from './cli/versions.ts'
export type { Versions } from './cli/versions.ts'
export type { Logger, LogFields, LogLevel, LogFormat } from './cli/log.ts'

// Library API: run relays, client nodes and local testnets from code.
export { startRelayNode } from './node/relay.ts'
export type { RelayNode, RelayNodeOptions, RelayStatus } from './node/relay.ts'
export { startClientNode } from './node/client.ts'
export type { ClientNode, ClientNodeOptions } from './node/client.ts'
export { startTestnet } from './node/testnet.ts'
export type { Testnet, TestnetOptions, TestnetInfo } from './node/testnet.ts'

// The anonymous consumer, the bridge and providers on the overlay.
export { connect, startOverlayBridge, startOverlayProvider, ToolNetworkError } from './bridge/index.ts'
export type {
  VeilClient, VeilConnectOptions, VeilCallOptions, VeilCallResult, StartOverlayBridgeOptions, RunningOverlayBridge,
  StartOverlayProviderOptions, RunningOverlayProvider, ToolNetworkErrorCode, ProgressUpdate, PrivacyProfile
} from './bridge/index.ts'
export { startProviderNode, MCP_TARGET } from './node/provider-node.ts'
export type { ProviderNode, ProviderNodeOptions, ProviderService } from './node/provider-node.ts'
export { startConsumerNode, ProviderLookupError } from './node/consumer-node.ts'
export type { ConsumerNode, ConsumerNodeOptions, ProviderConnection } from './node/consumer-node.ts'
