/**
 * The whole path in one process: six relays (onion + registry storers) on 127.1-6.0.1, a
 * public-mode provider node (its own relay on 127.7.0.1) wrapping the real
 * examples/tools-server.ts process, and a bridge on a consumer node configured with the
 * provider's address only. An MCP client on the bridge lists the catalogue (from the
 * signed, digest-checked catalogue) and calls every example tool; results equal calling
 * the wrapped server directly. Then the provider vanishes: a call gives a clear isError
 * within the bridge's timeout.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { InMemoryTransport } from '@modelcontextprotocol/server'
import { startRegistryNet, until, type RegistryNet } from '../registry/net.ts'
import { startOverlayBridge, startOverlayProvider, type RunningOverlayBridge, type RunningOverlayProvider, type RunningPublicOverlayProvider } from '../../src/bridge/index.ts'
import { TESTNET_PARAMS } from '../../src/node/network-params.ts'
import { EXAMPLE_CALLS, comparable, textOf, tempDir } from './helpers.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/tools-server.ts', import.meta.url))
const N = 6
let net: RegistryNet
let provider: RunningPublicOverlayProvider | undefined
let bridge: RunningOverlayBridge | undefined
let mcp: Client | undefined
const dirs = [tempDir(), tempDir()]
const trigger = join(dirs[0].path, 'late-tool')
const env: Record<string, string> = { VEIL_EXAMPLE_TRIGGER_FILE: trigger }
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && env[k] === undefined) env[k] = v

beforeAll(async () => {
  net = await startRegistryNet(N, TESTNET_PARAMS)
  const boots = net.relays.map((_, i) => net.boot(i))
  provider = await startOverlayProvider({
    provider: { server: { kind: 'stdio', command: process.execPath, args: [EXAMPLE], env } },
    node: { dataDir: join(dirs[0].path, 'provider'), listen: ['/ip4/127.7.0.1/tcp/0'], bootstrap: boots, testnet: true, control: false }
  })
  await provider.node.published
  const relayId = provider.node.relay.peerId.toString()
  await until(() => net.relays.every(r => r.node.directory.has(relayId)), 30_000, 'every relay to know the provider\'s relay')
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  bridge = await startOverlayBridge({
    bootstrap: boots,
    testnet: true,
    profile: 'fast',
    providers: [{ address: provider.address, tag: 'ex' }],
    dataDir: join(dirs[1].path, 'bridge'),
    callTimeoutMs: 30_000,
    serve: { kind: 'stdio', transport: serverSide }
  })
  mcp = new Client({ name: 'veil-e2e', version: '1' })
  await mcp.connect(clientSide)
}, 90_000)

afterAll(async () => {
  await mcp?.close().catch(() => {})
  await bridge?.close()
  await provider?.close()
  await net?.stop()
  for (const d of dirs) d.cleanup()
}, 30_000)

describe('bridge → overlay → public provider', { timeout: 90_000 }, () => {
  it('lists the verified catalogue and calls every example tool; results equal the wrapped server\'s', async () => {
    const p = provider as RunningPublicOverlayProvider
    const client = mcp as Client
    let names: string[] = []
    const deadline = Date.now() + 30_000
    while (!names.includes('ex_echo')) {
      names = (await client.listTools()).tools.map(t => t.name)
      if (Date.now() > deadline) throw new Error(`catalogue never filled: ${names.join(',')}; ${JSON.stringify(bridge?.bridge.status().recentErrors)}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const expected = p.provider.listTools('network').map(t => `ex_${t.name}`).sort()
    expect(names.filter(n => !n.startsWith('veil_')).sort()).toEqual(expected)
    // the listed definitions carry the signed catalogue's version
    const echo = (await client.listTools()).tools.find(t => t.name === 'ex_echo')
    expect((echo?._meta?.['net.veil/tool'] as { version?: string } | undefined)?.version).toBe('1.0.0')

    for (const [name, args] of EXAMPLE_CALLS) {
      const via = await client.request({ method: 'tools/call', params: { name: `ex_${name}`, arguments: args } })
      const direct = await p.provider.callTool(name, args, { signal: AbortSignal.timeout(20_000), caller: 'direct' })
      expect(comparable(via), name).toEqual(comparable(direct))
    }
    const progress: number[] = []
    await client.request({ method: 'tools/call', params: { name: 'ex_slow', arguments: { steps: 3, delayMs: 5 } } }, { onprogress: (u) => { progress.push(u.progress) } })
    expect(progress.length).toBeGreaterThan(0)
    // one circuit for the provider: catalogue and every call on it; it ends at the provider's relay
    const path = bridge?.network.pathOf(p.address)
    expect(path?.at(-1)).toBe(p.node.relay.peerId.toString())
    expect(path).toHaveLength(3)
    expect(p.node.status().streamsServed).toBe(1)
  })

  it('veil_search_tools finds the provider\'s listed tools by keyword through the index, verified against its catalogue', async () => {
    const client = mcp as Client
    const p = provider as RunningPublicOverlayProvider
    const search = async (query: string): Promise<{ network: Array<{ address: string, name: string, verified: string }> }> => {
      const r = await client.request({ method: 'tools/call', params: { name: 'veil_search_tools', arguments: { query } } })
      return r.structuredContent as { network: Array<{ address: string, name: string, verified: string }> }
    }
    const hits = (await search('Echo')).network
    expect(hits).toContainEqual(expect.objectContaining({ address: p.address, name: 'echo', verified: 'verified' }))
    expect(hits.every(h => h.address === p.address)).toBe(true)
    expect((await search('no-such-keyword-anywhere')).network).toEqual([])
  })

  it('the wrapped server gains a tool: republished, re-signed, list_changed reaches the MCP client', async () => {
    const client = mcp as Client
    const p = provider as RunningPublicOverlayProvider
    const before = p.node.status().servedSerial
    let changed = 0
    client.setNotificationHandler('notifications/tools/list_changed', () => { changed++ })
    writeFileSync(trigger, 'now')
    const deadline = Date.now() + 30_000
    let names: string[] = []
    while (!names.includes('ex_late_tool')) {
      if (Date.now() > deadline) throw new Error(`late_tool never arrived: ${JSON.stringify(bridge?.bridge.status().recentErrors)}`)
      await new Promise(resolve => setTimeout(resolve, 100))
      names = (await client.listTools()).tools.map(t => t.name)
    }
    expect(p.node.status().servedSerial).toBeGreaterThan(before)
    expect(changed).toBeGreaterThan(0)
    const r = await client.request({ method: 'tools/call', params: { name: 'ex_late_tool', arguments: {} } })
    expect(textOf(r)).toBe('late but here')
  })

  it('a vanished provider: a clear isError within the timeout', async () => {
    const client = mcp as Client
    await (provider as RunningOverlayProvider).close()
    provider = undefined
    const t0 = Date.now()
    const r = await client.request({ method: 'tools/call', params: { name: 'ex_echo', arguments: { text: 'anyone?' } } })
    expect(r.isError).toBe(true)
    expect(textOf(r)).toMatch(/Veil: ex_echo (failed|did not answer)/)
    expect(Date.now() - t0).toBeLessThan(35_000)
  })
})
