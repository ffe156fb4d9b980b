import type { Command } from '../command.ts'
import { checkMultiaddr, checkPeerId } from '../validators.ts'

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'] as const

export const relayCommand: Command = {
  name: 'relay',
  summary: 'run a long-lived relay',
  details: 'Joins the network through the bootstrap peers, publishes a signed descriptor, forwards\n' +
    'cells for circuits, and stops cleanly on Ctrl-C or SIGTERM. See docs/relay.md.',
  dataDir: 'create',
  flags: [
    { name: 'listen', type: 'string[]', default: DEFAULT_LISTEN, validate: checkMultiaddr, metavar: 'ADDR', description: 'multiaddr to listen on' },
    { name: 'bootstrap', type: 'string[]', validate: checkMultiaddr, metavar: 'ADDR', description: 'peer to join through, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…' },
    { name: 'announce', type: 'string[]', validate: checkMultiaddr, metavar: 'ADDR', description: 'address to publish instead of the listen addresses' },
    { name: 'bandwidth', type: 'number', integer: true, min: 1, metavar: 'BYTES/S', description: 'bandwidth to declare; can only lower this relay\'s weight' },
    { name: 'family', type: 'string[]', validate: checkPeerId, metavar: 'PEER_ID', description: 'peer id of another relay run by the same operator' },
    { name: 'onion-key-rotation-hours', type: 'number', default: 24, min: 1 / 60, max: 24 * 30, metavar: 'HOURS', description: 'how often to rotate the onion key' },
    { name: 'control', type: 'boolean', default: true, description: 'serve the local control endpoint that \'veil status\' asks' },
    { name: 'testnet', type: 'boolean', default: false, configurable: false, description: 'run as a relay of a local testnet: loopback addresses allowed, fast directory sync (set by \'veil testnet\')' },
    { name: 'single-address', type: 'boolean', default: false, description: 'all relays share one address: switch the /16 path rules off (testnets on 127.0.0.1 only)' }
  ],
  run: async ctx => (await import('./relay-impl.ts')).runRelay(ctx.options, ctx)
}
