/**
 * Where a node finds the network: `--bootstrap ADDR` (repeatable) > `bootstrap` in
 * config > `$VEIL_HOME/testnet.json` if the testnet that wrote it is still running (a
 * stale file is ignored, with one warning). With none the caller gets NoBootstrapError
 * (exit 3 in the CLI).
 */
import { readTestnetFile, type TestnetInfo } from './testnet.ts'

export class NoBootstrapError extends Error {
  override name = 'NoBootstrapError'
  constructor () { super('no bootstrap peers: start \'veil testnet\' or set bootstrap in config') }
}

export interface BootstrapChoice {
  peers: string[]
  /** One line naming the network, for the first stderr line of a command. */
  network: string
  testnet?: TestnetInfo
  /** Set when a stale testnet.json was ignored. */
  warning?: string
}

export async function resolveBootstrap (home: string, explicit: readonly string[] | undefined, source: 'flag' | 'env' | 'config' | 'default' = 'flag'): Promise<BootstrapChoice> {
  if (explicit !== undefined && explicit.length > 0) {
    return { peers: [...explicit], network: `network: ${explicit.length} bootstrap peer${explicit.length === 1 ? '' : 's'} from ${source === 'config' ? 'config' : source === 'env' ? 'VEIL_BOOTSTRAP' : '--bootstrap'}` }
  }
  const { info, stale } = await readTestnetFile(home)
  if (info !== undefined) {
    return {
      peers: info.relays.map(r => r.addrs[0]).filter((a): a is string => a !== undefined),
      network: `network: local testnet (${info.relays.length} relays, pid ${info.pid}${info.singleAddress ? ', single address: /16 rules off' : ''})`,
      testnet: info
    }
  }
  if (stale) {
    return { peers: [], network: '', warning: `ignoring stale ${home}/testnet.json (its testnet is not running)` }
  }
  return { peers: [], network: '' }
}

/** As resolveBootstrap, but a node that must join a network gets NoBootstrapError when there is none. */
export async function requireBootstrap (home: string, explicit: readonly string[] | undefined, source: 'flag' | 'env' | 'config' | 'default' = 'flag'): Promise<BootstrapChoice> {
  const choice = await resolveBootstrap(home, explicit, source)
  if (choice.peers.length === 0) throw new NoBootstrapError()
  return choice
}
