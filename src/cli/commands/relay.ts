import type { Command } from '../command.ts'
import type { FlagSpec } from '../flags.ts'
import { checkMultiaddr, checkPeerId } from '../validators.ts'
import {
  CELL_SIZE, MAX_CIRCUITS_PER_LINK, MAX_RELAY_CIRCUITS, MAX_STREAMS_PER_CIRCUIT, RELAY_CREATES_PER_SECOND, RELAY_CREATES_PER_SECOND_PER_LINK
} from '../../onion/constants.ts'
import { LINK_MAX_QUEUED_CELLS, LINK_MAX_WRITE_BUFFER } from '../../overlay/constants.ts'
import { DEFAULT_MAX_RECORDS_PER_NAMESPACE, DEFAULT_MAX_STORES_PER_SECOND, IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND, MAX_INTRO_RATE } from '../../registry/constants.ts'

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'] as const

/** A positive whole-number limit flag (config key and VEIL_* variable as for every flag). */
function limit (name: string, def: number, max: number, metavar: string, description: string): FlagSpec {
  return { name, type: 'number', integer: true, min: 1, max, default: def, metavar, description }
}

/**
 * The relay's resource limits (docs/security.md, "Resource limits"): each refusal is
 * counted in `veil status`, each setting shown there too.
 */
export const RELAY_LIMIT_FLAGS: readonly FlagSpec[] = [
  limit('max-circuits-per-peer', MAX_CIRCUITS_PER_LINK, 1_000_000, 'N', 'circuits one peer (one link) may have through this relay; more CREATEs are refused'),
  limit('max-circuits', MAX_RELAY_CIRCUITS, 10_000_000, 'N', 'circuits through this relay in all'),
  limit('creates-per-second', RELAY_CREATES_PER_SECOND, 100_000, 'N', 'CREATEs answered per second from all peers (a hybrid handshake costs ≈1 ms of CPU); more are refused before any handshake work'),
  limit('creates-per-second-per-peer', RELAY_CREATES_PER_SECOND_PER_LINK, 100_000, 'N', 'CREATEs answered per second from one peer'),
  limit('max-streams-per-circuit', MAX_STREAMS_PER_CIRCUIT, 65_535, 'N', 'streams open at once on one circuit ending here'),
  limit('max-link-queue-cells', LINK_MAX_QUEUED_CELLS, 262_144, 'CELLS', `cells queued toward one peer before its link refuses more: bytes buffered per link ≤ CELLS × ${CELL_SIZE} + ${LINK_MAX_WRITE_BUFFER} (muxer)`),
  limit('max-stores-per-second', DEFAULT_MAX_STORES_PER_SECOND, 100_000, 'N', 'registry records stored per second at this relay'),
  limit('max-records-per-namespace', DEFAULT_MAX_RECORDS_PER_NAMESPACE, 10_000_000, 'N', 'registry records kept per namespace; beyond it the soonest to expire is evicted'),
  limit('max-introductions-per-second', IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND, MAX_INTRO_RATE, 'N', 'introductions per second each hidden provider gets through this relay as its introduction point (its own signed limit applies when lower)')
]

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
    { name: 'single-address', type: 'boolean', default: false, description: 'all relays share one address: switch the /16 path rules off (testnets on 127.0.0.1 only)' },
    ...RELAY_LIMIT_FLAGS
  ],
  run: async ctx => (await import('./relay-impl.ts')).runRelay(ctx.options, ctx)
}
