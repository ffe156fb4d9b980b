/**
 * `veil call ADDRESS/TOOL --args '{json}'`: one anonymous call from a shell or script.
 * stdout: the result as one JSON line; stderr: the network line and errors.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { CONFIG_FILE_NAME } from '../config.ts'
import { EXIT } from '../exit.ts'
import { NetworkError, NotFoundError, UsageError } from '../errors.ts'
import { connect, type VeilClient } from '../../bridge/index.ts'
import { providerTag } from '../../bridge/naming.ts'
import { parseAddress } from '../../registry/identity.ts'
import { parseRange, satisfies } from '../../registry/semver.ts'
import { announceNetwork, chooseNetwork, overlayErrorToCli, parseProviderRef, profileOf } from './bridge-flags.ts'

async function configuredProviders (dataDir: string): Promise<string[]> {
  try {
    const cfg: unknown = JSON.parse(await readFile(join(dataDir, CONFIG_FILE_NAME), 'utf8'))
    const p: unknown = typeof cfg === 'object' && cfg !== null ? Reflect.get(cfg, 'provider') : undefined
    return typeof p === 'string' ? [p] : Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : []
  } catch { return [] }
}

/** `ADDRESS/TOOL` or `TAG/TOOL` → the provider address and the tool name. */
async function target (ref: string, dataDir: string): Promise<{ address: string, tool: string }> {
  const slash = ref.indexOf('/')
  if (slash <= 0 || slash === ref.length - 1) throw new UsageError(`expected ADDRESS/TOOL (or TAG/TOOL), got ${JSON.stringify(ref.slice(0, 200))}`)
  const who = ref.slice(0, slash)
  const tool = ref.slice(slash + 1)
  try { return { address: parseAddress(who).text, tool } } catch { /* perhaps a tag */ }
  for (const p of await configuredProviders(dataDir)) {
    try {
      const c = parseProviderRef(p)
      if (providerTag(c.address, c.tag) === who) return { address: c.address, tool }
    } catch { /* main checked config.json already */ }
  }
  if (who.length > 16) throw new UsageError(`not a provider address: ${JSON.stringify(who.slice(0, 120))}`)
  throw new NotFoundError(`no provider with tag ${JSON.stringify(who)} in this data dir (add one with 'veil tools add ADDRESS --tag ${who}')`)
}

export async function runCall (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const { address, tool: named } = await target(opts.positionals[0], ctx.dataDir)
  // TOOL@RANGE: a semver range the provider's signed version must satisfy
  const at = named.lastIndexOf('@')
  const tool = at > 0 ? named.slice(0, at) : named
  const range = at > 0 ? named.slice(at + 1) : undefined
  if (range !== undefined) {
    try { parseRange(range) } catch (err) { throw new UsageError(`not a semver range after @: ${JSON.stringify(range.slice(0, 64))} (${err instanceof Error ? err.message : String(err)})`) }
  }
  let args: unknown
  try { args = JSON.parse(opts.string('args') ?? '{}') } catch (err) {
    throw new UsageError(`--args is not JSON: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new UsageError('--args must be a JSON object, e.g. --args \'{"text":"hi"}\'')
  const choice = await chooseNetwork(opts, ctx)
  announceNetwork(ctx, choice)
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout((opts.number('timeout') ?? 50) * 1000)])
  let veil: VeilClient | undefined
  try {
    veil = await connect({ bootstrap: choice.peers, testnet: choice.isTestnet, home: ctx.dataDir })
    const tools = await veil.listTools(address, { signal })
    if (!tools.some(t => t.name === tool)) {
      throw new NotFoundError(`provider ${address.slice(0, 12)}… has no tool ${JSON.stringify(tool.slice(0, 128))} (it has: ${tools.map(t => t.name).join(', ').slice(0, 400) || 'none'})`)
    }
    if (range !== undefined) {
      const version = tools.find(t => t.name === tool)?.version ?? ''
      let ok = false
      try { ok = satisfies(version, range) } catch { ok = false }
      if (!ok) throw new NotFoundError(`provider ${address.slice(0, 12)}… serves ${tool}@${version.slice(0, 64)}, which does not satisfy ${range}`)
    }
    const result = await veil.callTool(address, tool, args as Record<string, unknown>, { signal, profile: profileOf(opts) })
    ctx.stdout(JSON.stringify(result) + '\n')
    return result.isError === true ? EXIT.failed : EXIT.ok
  } catch (err) {
    if (err instanceof NotFoundError) throw err
    if (signal.aborted && !ctx.signal.aborted) throw new NetworkError(`no answer within ${opts.number('timeout') ?? 50} s`)
    throw overlayErrorToCli(err, ctx.signal)
  } finally {
    await veil?.close()
  }
}
