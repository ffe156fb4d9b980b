import type { Command } from '../command.ts'
import { checkMultiaddr } from '../validators.ts'
import { BOOTSTRAP_FLAG, TESTNET_FLAG } from './bridge-flag-specs.ts'

export const provideCommand: Command = {
  name: 'provide',
  summary: 'offer an MCP server\'s tools on the network (public, or --hidden)',
  details: 'Wraps an MCP server — `--stdio -- COMMAND [ARGS…]` or `--url URL` — as its client, signs\n' +
    'its catalogue with this data dir\'s provider key (provider.key), publishes the descriptor\n' +
    'and serves calls. Prints the provider address on the first stdout line.\n' +
    'Public mode (default): this node runs its own relay and the descriptor names it, so\n' +
    'callers stay anonymous but the provider\'s relay is known. --hidden: no relay of its own;\n' +
    'callers reach it through introduction points and a rendezvous point, and its host links\n' +
    'only to its guard. One node per data dir. See docs/bridge.md and docs/registry.md.',
  dataDir: 'create',
  passthrough: true,
  flags: [
    { name: 'stdio', type: 'boolean', default: false, configurable: false, description: 'wrap the stdio MCP server given after --' },
    { name: 'hidden', type: 'boolean', default: false, description: 'stay hidden: no relay of your own, reached only through introduction points and rendezvous (slower to reach; your host links only to its guard)' },
    { name: 'url', type: 'string', metavar: 'URL', configurable: false, description: 'wrap the Streamable HTTP MCP server at this URL' },
    { name: 'tool-visibility', type: 'string[]', metavar: 'NAME=listed|unlisted|private', description: 'a tool\'s visibility (default listed); private tools only for --authorized-client keys', validate: v => /^[^=]{1,128}=(listed|unlisted|private)$/.test(v) ? undefined : 'expected NAME=listed, NAME=unlisted or NAME=private' },
    { name: 'keywords', type: 'string[]', metavar: 'WORD[,WORD…]', description: 'keywords every listed tool is found by in the keyword index (besides its name and the words in it)', validate: v => /^[^,]{1,64}(,[^,]{1,64})*$/.test(v) ? undefined : 'expected comma-separated keywords of 1–64 characters' },
    { name: 'tool-keywords', type: 'string[]', metavar: 'NAME=WORD[,WORD…]', description: 'a listed tool\'s keywords, replacing its defaults (its name and the words in it)', validate: v => /^[^=]{1,128}=[^,]{1,64}(,[^,]{1,64})*$/.test(v) ? undefined : 'expected NAME=WORD or NAME=WORD,WORD' },
    { name: 'authorized-client', type: 'string[]', metavar: 'KEY', description: 'a client allowed to see and call private tools: the line its `veil keys client-auth` printed' },
    { name: 'version', type: 'string', metavar: 'SEMVER', description: 'version of every tool (default: the server\'s own version)' },
    { name: 'max-concurrent', type: 'number', integer: true, min: 1, max: 1000, default: 8, metavar: 'N', description: 'calls running at once; more get a clear "busy" error' },
    { name: 'calls-per-minute', type: 'number', integer: true, min: 1, max: 100000, default: 120, metavar: 'N', description: 'calls per minute per circuit' },
    { name: 'invocation-log', type: 'string', metavar: 'FILE', description: 'append one JSON line per call (tool, time, duration, outcome, sizes; nothing about callers)' },
    { name: 'listen', type: 'string[]', validate: checkMultiaddr, metavar: 'ADDR', description: 'where the provider\'s relay listens (default /ip4/0.0.0.0/tcp/4003; on a testnet /ip4/127.0.0.1/tcp/0)' },
    { name: 'announce', type: 'string[]', validate: checkMultiaddr, metavar: 'ADDR', description: 'address to publish instead of the listen addresses' },
    BOOTSTRAP_FLAG,
    TESTNET_FLAG
  ],
  run: async ctx => (await import('./provide-impl.ts')).runProvide(ctx.options, ctx)
}
