/**
 * `veil bridge`: a local MCP server on the overlay, until SIGINT/SIGTERM (or, in stdio
 * mode, until the client closes stdin). In stdio mode stdout carries MCP only.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { UsageError } from '../errors.ts'
import { startOverlayBridge, type BridgeEvent, type RunningOverlayBridge } from '../../bridge/index.ts'
import { announceNetwork, chooseNetwork, overlayErrorToCli, parseProviderRef, profileOf } from './bridge-flags.ts'
import { waitForStop } from './node-glue.ts'
import { loadClientAuth } from '../../node/consumer-node.ts'
import { ENTRY_STATE_FILE } from '../../node/entry-guards.ts'

/** The `veil` entry script, absolute (Claude Desktop starts servers with its own PATH and cwd). */
export const VEIL_BIN = fileURLToPath(new URL('../../../bin/veil.js', import.meta.url))
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** The Claude Desktop `mcpServers` entry for this bridge: absolute Node 24 and bin/veil.js paths. */
export function claudeDesktopConfig (dataDir: string, providers: readonly string[], extra: readonly string[] = []): Record<string, unknown> {
  const args = [VEIL_BIN, 'bridge', '--stdio', '--data-dir', dataDir, ...providers.flatMap(p => ['--provider', p]), ...extra]
  return { mcpServers: { veil: { command: process.execPath, args } } }
}

export async function runBridge (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const providers = opts.strings('provider')
  const printConfig = opts.string('print-config')
  if (printConfig !== undefined) {
    const extra: string[] = []
    if (opts.source('profile') === 'flag') extra.push('--profile', opts.string('profile') ?? 'balanced')
    if (opts.boolean('lazy')) extra.push('--lazy')
    // providers from config.json are read by the bridge itself; only flags are repeated here
    ctx.stdout(JSON.stringify(claudeDesktopConfig(ctx.dataDir, opts.source('provider') === 'flag' ? providers : [], extra), null, 2) + '\n')
    return 0
  }
  const stdio = opts.boolean('stdio')
  const http = opts.boolean('http')
  if (stdio === http) throw new UsageError('give exactly one of --stdio or --http (see \'veil bridge --help\')')
  const configs = providers.map(parseProviderRef)
  const choice = await chooseNetwork(opts, ctx)
  announceNetwork(ctx, choice)
  if (configs.length === 0) ctx.log.warn('no providers configured: add one with --provider ADDRESS or \'veil tools add ADDRESS\'', {})
  const host = opts.string('host') ?? '127.0.0.1'
  const token = opts.string('token')
  const log = ctx.log
  const onEvent = (e: BridgeEvent): void => {
    switch (e.type) {
      case 'catalogue-changed': log.info('catalogue changed', { tools: e.tools }); break
      case 'provider-error': log.warn('provider', { provider: e.address.slice(0, 12), error: e.message }); break
      case 'tool-rejected': log.warn('remote tool definition rejected', { provider: e.address.slice(0, 12), reason: e.message }); break
      case 'held': log.warn('tool HELD: its definition changed since you accepted it', { tool: e.name, accept: `veil tools accept ${e.name}` }); break
    }
  }
  let running: RunningOverlayBridge
  try {
    running = await startOverlayBridge({
      bootstrap: choice.peers,
      testnet: choice.isTestnet,
      singleAddress: choice.singleAddress,
      consumer: { log, clientAuth: (await loadClientAuth(ctx.dataDir))?.key, guardFile: join(ctx.dataDir, ENTRY_STATE_FILE) },
      providers: configs,
      dataDir: ctx.dataDir,
      profile: profileOf(opts),
      lazy: opts.boolean('lazy'),
      onEvent,
      serve: stdio
        ? { kind: 'stdio' }
        : {
            kind: 'http',
            host,
            port: opts.number('port') ?? 0,
            ...(token !== undefined && { token }),
            ...(!LOOPBACK.has(host) && { allowedHosts: [host] })
          }
    })
  } catch (err) {
    throw overlayErrorToCli(err, ctx.signal)
  }
  if (running.url !== undefined) ctx.stdout(`${running.url}\n`)
  log.info('bridge serving', { transport: stdio ? 'stdio' : 'http', providers: configs.length, ...(running.url !== undefined && { url: running.url }) })
  const clientGone = new AbortController()
  if (stdio) {
    const gone = (): void => { clientGone.abort() }
    process.stdin.once('end', gone)
    process.stdin.once('close', gone)
  }
  await waitForStop([ctx.signal, clientGone.signal])
  await running.close()
  return 0
}
