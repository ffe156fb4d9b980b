import type { Command } from '../command.ts'
import { BOOTSTRAP_FLAG, PROVIDER_FLAG, TESTNET_FLAG } from './bridge-flag-specs.ts'

export const bridgeCommand: Command = {
  name: 'bridge',
  summary: 'serve overlay tools to a local MCP client (stdio or HTTP)',
  details: 'A local MCP server for Claude Desktop, Claude Code, Cursor or any MCP client: the tools\n' +
    'of the providers you added (--provider, or `provider` in config.json, or `veil tools add`),\n' +
    'each call sent through an anonymous circuit of its own provider. --stdio writes nothing\n' +
    'but MCP to stdout (logs go to stderr or --log-file). --http listens on 127.0.0.1 only,\n' +
    'with Host/Origin checks and an optional bearer token.\n' +
    '`--print-config claude` prints the Claude Desktop mcpServers entry, with absolute paths.\n' +
    'Reaches public providers (a circuit to their relay) and hidden ones (rendezvous).',
  dataDir: 'create',
  flags: [
    { name: 'stdio', type: 'boolean', default: false, configurable: false, description: 'serve MCP on stdin/stdout' },
    { name: 'http', type: 'boolean', default: false, configurable: false, description: 'serve MCP over Streamable HTTP at http://HOST:PORT/mcp' },
    { name: 'port', type: 'number', integer: true, min: 0, max: 65535, default: 0, metavar: 'PORT', description: 'HTTP port (0: any free port; the URL is printed on stdout)' },
    { name: 'host', type: 'string', default: '127.0.0.1', metavar: 'HOST', description: 'HTTP listen address (loopback unless you mean otherwise)' },
    { name: 'token', type: 'string', secret: true, metavar: 'TOKEN', description: 'require Authorization: Bearer TOKEN on every HTTP request' },
    PROVIDER_FLAG,
    { name: 'profile', type: 'string', choices: ['fast', 'balanced', 'paranoid'], default: 'balanced', metavar: 'PROFILE', description: 'privacy profile: fast, balanced or paranoid' },
    { name: 'lazy', type: 'boolean', default: false, description: 'list only the veil_* meta tools and veil_call_tool (for very large catalogues)' },
    { name: 'print-config', type: 'string', choices: ['claude'], configurable: false, metavar: 'CLIENT', description: 'print the client configuration for this bridge and exit (claude: Claude Desktop mcpServers)' },
    BOOTSTRAP_FLAG,
    TESTNET_FLAG
  ],
  run: async ctx => (await import('./bridge-impl.ts')).runBridge(ctx.options, ctx)
}
