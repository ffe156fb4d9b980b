/**
 * `veil provide`: wrap an MCP server and serve it as a public-mode provider until
 * SIGINT/SIGTERM. stdout: the provider address (first line), nothing else.
 */
import { resolve } from 'node:path'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { UsageError } from '../errors.ts'
import { expandPath } from '../globals.ts'
import { parseAuthorizedClient } from '../../registry/client-auth.ts'
import { startOverlayProvider, type ProviderOptions, type RunningOverlayProvider, type Visibility, type WrappedServer } from '../../bridge/index.ts'
import { announceNetwork, chooseNetwork, overlayErrorToCli } from './bridge-flags.ts'
import { waitForStop } from './node-glue.ts'

export const DEFAULT_PROVIDER_LISTEN = '/ip4/0.0.0.0/tcp/4003'
export const TESTNET_PROVIDER_LISTEN = '/ip4/127.0.0.1/tcp/0'

function wrappedServer (opts: ResolvedOptions): WrappedServer {
  const stdio = opts.boolean('stdio')
  const url = opts.string('url')
  const rest = opts.passthrough ?? []
  if (stdio === (url !== undefined)) throw new UsageError('give exactly one of --stdio -- COMMAND [ARGS…] or --url URL (see \'veil provide --help\')')
  if (stdio) {
    if (rest.length === 0) throw new UsageError('--stdio needs the server command after --, e.g. veil provide --stdio -- node server.js')
    // The operator's own command: it inherits this process's environment, as a shell would
    // run it (an MCP client's default would pass only HOME, PATH and a few more).
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
    return { kind: 'stdio', command: rest[0], args: rest.slice(1), cwd: process.cwd(), env }
  }
  if (rest.length > 0) throw new UsageError('--url takes no command after --')
  let parsed: URL
  try { parsed = new URL(url ?? '') } catch { throw new UsageError(`--url: not a URL: ${JSON.stringify(url)}`) }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError('--url must be an http:// or https:// URL')
  return { kind: 'url', url: parsed.toString() }
}

export async function runProvide (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const server = wrappedServer(opts)
  const tools: Record<string, { visibility?: Visibility, keywords?: string[] }> = {}
  for (const v of opts.strings('tool-visibility')) {
    const eq = v.lastIndexOf('=')
    const word = v.slice(eq + 1)
    const visibility: Visibility = word === 'unlisted' ? 'unlisted' : word === 'private' ? 'private' : 'listed'
    tools[v.slice(0, eq)] = { ...tools[v.slice(0, eq)], visibility }
  }
  for (const v of opts.strings('tool-keywords')) {
    const eq = v.indexOf('=')
    const name = v.slice(0, eq)
    tools[name] = { ...tools[name], keywords: [...(tools[name]?.keywords ?? []), ...v.slice(eq + 1).split(',')] }
  }
  const keywords = opts.strings('keywords').flatMap(v => v.split(','))
  const authorizedClients = opts.strings('authorized-client').map(v => {
    try { return parseAuthorizedClient(v) } catch (err) { throw new UsageError(`--authorized-client: ${err instanceof Error ? err.message : String(err)}`) }
  })
  if (authorizedClients.length === 0 && Object.values(tools).some(t => t.visibility === 'private')) {
    ctx.stderr('veil: warning: private tools but no --authorized-client: nobody can see or call them\n')
  }
  const logFile = opts.string('invocation-log')
  const choice = await chooseNetwork(opts, ctx)
  announceNetwork(ctx, choice)
  const listen = opts.strings('listen')
  const log = ctx.log
  const providerOptions: ProviderOptions = {
    server,
    tools,
    ...(keywords.length > 0 && { keywords }),
    ...(opts.string('version') !== undefined && { version: opts.string('version') }),
    maxConcurrent: opts.number('max-concurrent'),
    callsPerMinute: opts.number('calls-per-minute'),
    ...(logFile !== undefined && { invocationLogFile: resolve(expandPath(logFile)) }),
    onEvent: (e) => {
      switch (e.type) {
        case 'connected': log.info('wrapped MCP server connected', { protocol: e.protocolVersion ?? '?', tools: e.tools }); break
        case 'catalogue-changed': log.info('wrapped server\'s tools changed', { tools: e.tools }); break
        case 'server-exited': log.warn('wrapped MCP server exited', { restartInMs: e.restartInMs ?? 'never' }); break
        case 'error': log.warn('wrapped MCP server', { error: e.message }); break
      }
    }
  }
  const stopRequested = new AbortController()
  let running: RunningOverlayProvider
  try {
    running = await startOverlayProvider({
      provider: providerOptions,
      hidden: opts.boolean('hidden'),
      node: {
        dataDir: ctx.dataDir,
        listen: listen.length > 0 ? [...listen] : [choice.isTestnet ? TESTNET_PROVIDER_LISTEN : DEFAULT_PROVIDER_LISTEN],
        announce: [...opts.strings('announce')],
        bootstrap: choice.peers,
        testnet: choice.isTestnet,
        singleAddress: choice.singleAddress,
        authorizedClients,
        log,
        onStopRequested: () => { stopRequested.abort() },
        onEvent: (e) => {
          switch (e.type) {
            case 'published':
              if (e.ok) log.info('descriptor published', { acknowledged: e.acknowledged, storers: e.attempted, catalogueSerial: e.serial })
              else log.warn('descriptor publish not acknowledged by half its storers; retrying', { acknowledged: e.acknowledged, storers: e.attempted })
              break
            case 'publish-error': log.warn('publishing failed; retrying', { error: e.message }); break
            case 'tool-skipped': log.warn('tool not published', { tool: e.name, reason: e.message }); break
            case 'catalogue-signed': log.debug('catalogue signed', { serial: e.serial, tools: e.tools }); break
          }
        }
      }
    })
  } catch (err) {
    throw overlayErrorToCli(err, ctx.signal)
  }
  ctx.stdout(`${running.address}\n`)
  log.info('providing', { mode: running.mode, ...('relay' in running.node && { relay: running.node.relay.peerId.toString() }), tools: running.provider.listTools('network').length })
  await waitForStop([ctx.signal, stopRequested.signal])
  await running.close()
  return 0
}
