/**
 * Private tools: a provider (public mode, its own relay on 127.7.0.1) wraps the real
 * examples/tools-server.ts with `slow` made private and one client key authorised; on a
 * 6-relay loopback testnet two consumers reach it:
 *
 *   - the unauthorised one opens the descriptor without a private layer, its verified
 *     catalogue lacks `slow`, and calling `slow` (by name, as a guesser would) is refused as
 *     an unknown tool — the same answer as for a tool that does not exist;
 *   - the authorised one (its key in the descriptor's auth section) gets `slow` in its
 *     verified catalogue (the private catalogue, checked against the private layer's digest)
 *     and calls it.
 *
 * Also: the private tool is never announced in the keyword index, and a forged access token
 * opens nothing.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRegistryNet, until, type RegistryNet } from '../registry/net.ts'
import { startOverlayProvider, type RunningPublicOverlayProvider } from '../../src/bridge/index.ts'
import { consumerToolNetwork, type ConsumerToolNetwork } from '../../src/bridge/overlay.ts'
import { startConsumerNode, type ConsumerNode } from '../../src/node/consumer-node.ts'
import { clientAuthFromSeed, formatAuthorizedClient, parseAuthorizedClient } from '../../src/registry/client-auth.ts'
import { systemRng } from '../../src/registry/primitives.ts'
import { TESTNET_PARAMS } from '../../src/node/network-params.ts'
import { tempDir } from './helpers.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/tools-server.ts', import.meta.url))
let net: RegistryNet
let provider: RunningPublicOverlayProvider | undefined
const consumers: ConsumerNode[] = []
const networks: ConsumerToolNetwork[] = []
const dir = tempDir()
const auth = clientAuthFromSeed(systemRng(96))
const names = (tools: readonly unknown[]): string[] => tools.map(t => (t as { name: string }).name).sort()

beforeAll(async () => {
  net = await startRegistryNet(6, TESTNET_PARAMS)
  const boots = net.relays.map((_, i) => net.boot(i))
  provider = await startOverlayProvider({
    provider: { server: { kind: 'stdio', command: process.execPath, args: [EXAMPLE] }, tools: { slow: { visibility: 'private' } } },
    node: {
      dataDir: join(dir.path, 'provider'),
      listen: ['/ip4/127.7.0.1/tcp/0'],
      bootstrap: boots,
      testnet: true,
      control: false,
      // the text form round-trips: what `veil keys client-auth` prints is what `--authorized-client` takes
      authorizedClients: [parseAuthorizedClient(formatAuthorizedClient(auth.authorized))]
    }
  })
  await provider.node.published
  const relayId = provider.node.relay.peerId.toString()
  await until(() => net.relays.every(r => r.node.directory.has(relayId)), 30_000, 'every relay to know the provider\'s relay')
  for (const clientAuth of [undefined, auth.key]) {
    const c = await startConsumerNode({ bootstrap: boots, testnet: true, ...(clientAuth !== undefined && { clientAuth }) })
    consumers.push(c)
    networks.push(consumerToolNetwork(c))
  }
}, 90_000)

afterAll(async () => {
  for (const n of networks) await n.close().catch(() => {})
  for (const c of consumers) await c.stop().catch(() => {})
  await provider?.close()
  await net?.stop()
  dir.cleanup()
}, 30_000)

describe('private tools', { timeout: 60_000 }, () => {
  it('are invisible to an unauthorised client and refused like a tool that does not exist', async () => {
    const p = provider as RunningPublicOverlayProvider
    const [anon] = networks
    const listed = names(await anon.listTools(p.address, AbortSignal.timeout(20_000)))
    expect(listed).toContain('echo')
    expect(listed).not.toContain('slow')
    const conn = await consumers[0].openProvider(p.address)
    expect(conn.accessToken).toBeUndefined()
    conn.close()
    const call = async (name: string): Promise<string> => {
      try { await anon.callTool(p.address, name, { steps: 1, delayMs: 1 }, { signal: AbortSignal.timeout(20_000) }); return 'ok' } catch (err) { return (err as Error).message.replace(name, 'NAME') }
    }
    const [priv, none] = await Promise.all([call('slow'), call('no_such_tool')])
    expect(priv).not.toBe('ok')
    expect(priv).toBe(none)
  })

  it('are in an authorised client\'s verified catalogue, and it can call them', async () => {
    const p = provider as RunningPublicOverlayProvider
    const authed = networks[1]
    const listed = names(await authed.listTools(p.address, AbortSignal.timeout(20_000)))
    expect(listed).toContain('slow')
    expect(listed).toContain('echo')
    const result = await authed.callTool(p.address, 'slow', { steps: 2, delayMs: 1 }, { signal: AbortSignal.timeout(20_000) }) as { content?: Array<{ text?: string }>, isError?: boolean }
    expect(result.isError).not.toBe(true)
    expect(result.content?.[0]?.text).toBeTypeOf('string')
    // public tools work as well, on the same session
    const echo = await authed.callTool(p.address, 'echo', { text: 'hi' }, { signal: AbortSignal.timeout(20_000) }) as { content?: Array<{ text?: string }> }
    expect(echo.content?.[0]?.text).toBe('hi')
  })

  it('a private tool is never announced in the keyword index', async () => {
    const found = await consumers[1].registry.searchKeyword('slow')
    expect(found.entries.filter(e => e.summary.address === (provider as RunningPublicOverlayProvider).address)).toEqual([])
    const echo = await consumers[1].registry.searchKeyword('echo')
    expect(echo.entries.map(e => e.summary.toolName)).toContain('echo')
  })
})
