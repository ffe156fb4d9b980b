/**
 * What `veil bridge`, `veil provide`, `veil tools` and `veil call` share: the network
 * flags, provider references (`ADDRESS[=TAG]`), and mapping overlay errors to exit codes.
 */
import type { FlagSpec } from '../flags.ts'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { checkMultiaddr } from '../validators.ts'
import { NetworkError, NotFoundError, OperationError, UsageError, InterruptedError, type CliError } from '../errors.ts'
import { requireBootstrap, type BootstrapChoice } from '../../node/bootstrap.ts'
import { ProviderLookupError } from '../../node/consumer-node.ts'
import { parseAddress } from '../../registry/identity.ts'
import { TAG_PATTERN } from '../../bridge/constants.ts'
import { BridgeUsageError, PRIVACY_PROFILES, ToolNetworkError, type BridgeProviderConfig, type PrivacyProfile } from '../../bridge/index.ts'
import { nodeErrorToCli } from './node-glue.ts'

export { BOOTSTRAP_FLAG, TESTNET_FLAG, PROVIDER_FLAG, checkProviderRef } from './bridge-flag-specs.ts'

export function parseProviderRef (value: string): BridgeProviderConfig {
  const eq = value.indexOf('=')
  const address = parseAddress(eq === -1 ? value : value.slice(0, eq)).text
  return eq === -1 ? { address } : { address, tag: value.slice(eq + 1) }
}

export interface NetworkChoice extends BootstrapChoice {
  readonly isTestnet: boolean
  readonly singleAddress: boolean
}

/** Where to join; exit 3 with the standard message when there is no network. */
export async function chooseNetwork (opts: ResolvedOptions, ctx: CommandContext): Promise<NetworkChoice> {
  const source = opts.source('bootstrap')
  let choice: BootstrapChoice
  try {
    choice = await requireBootstrap(ctx.dataDir, opts.strings('bootstrap'), source === 'default' ? 'flag' : source)
  } catch (err) {
    throw nodeErrorToCli(err)
  }
  const isTestnet = opts.boolean('testnet') || choice.testnet !== undefined
  return { ...choice, isTestnet, singleAddress: choice.testnet?.singleAddress === true }
}

/** One line naming the network (the first stderr line of a networked command). */
export function announceNetwork (ctx: CommandContext, choice: NetworkChoice): void {
  ctx.stderr(`veil: ${choice.network}${choice.isTestnet && choice.testnet === undefined ? ' (testnet)' : ''}\n`)
  if (choice.warning !== undefined) ctx.stderr(`veil: ${choice.warning}\n`)
}

/** Overlay and bridge errors as CLI errors: not found 4, network 3, bad input 2, the operation 1. */
export function overlayErrorToCli (err: unknown, signal?: AbortSignal): Error {
  if (signal?.aborted === true) return new InterruptedError()
  const lookup = err instanceof ProviderLookupError ? err : err instanceof Error && err.cause instanceof ProviderLookupError ? err.cause : undefined
  if (lookup !== undefined) {
    const map: Record<ProviderLookupError['kind'], (m: string) => CliError> = {
      'bad-address': m => new UsageError(m),
      'not-found': m => new NotFoundError(m),
      hidden: m => new OperationError(m),
      invalid: m => new OperationError(m),
      unreachable: m => new NetworkError(m)
    }
    return map[lookup.kind](lookup.message)
  }
  if (err instanceof ToolNetworkError) {
    switch (err.code) {
      case 'unknown-tool': return new NotFoundError(err.message)
      case 'refused': case 'protocol': return new OperationError(err.message)
      case 'cancelled': return new InterruptedError()
      default: return new NetworkError(err.message)
    }
  }
  if (err instanceof BridgeUsageError) return new UsageError(err.message)
  return nodeErrorToCli(err)
}

/** The --profile value (checked against its choices by the parser). */
export function profileOf (opts: ResolvedOptions): PrivacyProfile {
  const v = opts.string('profile')
  return PRIVACY_PROFILES.find(p => p === v) ?? 'balanced'
}
