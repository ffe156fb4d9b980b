/**
 * Flag specs shared by the overlay commands (bridge, provide, call, tools). Kept apart from
 * bridge-flags.ts, which holds their runtime helpers, so that `veil --help` and every other
 * command load no networking code: command modules import only specs; `run` imports the
 * implementation lazily.
 */
import type { FlagSpec } from '../flags.ts'
import { checkMultiaddr } from '../validators.ts'
import { parseAddress } from '../../registry/identity.ts'
import { TAG_PATTERN } from '../../bridge/constants.ts'

export const BOOTSTRAP_FLAG: FlagSpec = {
  name: 'bootstrap', type: 'string[]', validate: checkMultiaddr, metavar: 'ADDR',
  description: 'peer to join through (default: config, or the testnet running from this data dir)'
}

export const TESTNET_FLAG: FlagSpec = {
  name: 'testnet', type: 'boolean', default: false, configurable: false,
  description: 'the --bootstrap peers are a local testnet\'s (testnet registry clocks); implied when the network comes from testnet.json'
}

/** `ADDRESS` or `ADDRESS=TAG`: what is wrong with it, or undefined. */
export function checkProviderRef (value: string): string | undefined {
  const eq = value.indexOf('=')
  const address = eq === -1 ? value : value.slice(0, eq)
  const tag = eq === -1 ? undefined : value.slice(eq + 1)
  try { parseAddress(address) } catch (err) { return `expected a provider address (108 base32 characters)[=TAG]: ${err instanceof Error ? err.message : String(err)}` }
  if (tag !== undefined && (!TAG_PATTERN.test(tag) || tag === 'veil')) return 'the tag must be 1–8 of [a-z0-9] and not "veil"'
  return undefined
}

export const PROVIDER_FLAG: FlagSpec = {
  name: 'provider', type: 'string[]', validate: checkProviderRef, metavar: 'ADDRESS[=TAG]',
  description: 'a provider whose tools the bridge serves (repeatable); TAG prefixes its tool names'
}

