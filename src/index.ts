/**
 * veilnet: an anonymous onion-routed overlay for MCP tools on libp2p.
 *
 * This entry point grows with the code; for now it exports the CLI entry and the
 * protocol versions.
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
