/**
 * Hidden providers end to end through the node layer on a 12-relay in-process testnet: a
 * hidden provider node (client host, one guard) and a consumer node; openProvider() gives
 * the verified catalogue and an MCP-style stream exactly as for a public provider; the
 * provider host links only to its guard; after the provider restarts (same identity, new
 * introduction points) the consumer reaches it again within one republish interval.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { startRegistryNet, type RegistryNet } from './net.ts'
import { startHiddenProviderNode, type HiddenProviderNode, type ProviderService } from '../../src/node/provider-node.ts'
import { startConsumerNode, type ConsumerNode } from '../../src/node/consumer-node.ts'
import { TESTNET_PARAMS } from '../../src/node/network-params.ts'
import { tempHome } from '../overlay/helpers.ts'

const N = 12
let net: RegistryNet
let home: { dir: string, cleanup: () => Promise<void> }
let provider: HiddenProviderNode | undefined
let consumer: ConsumerNode

/** A stand-in MCP side: one tool; each MCP stream echoes its messages. */
const service: ProviderService = {
  tools: () => [{ name: 'echo', description: 'Echo back', inputSchema: { type: 'object' }, version: '1.0.0', tags: ['test'] }],
  onToolsChanged: () => () => {},
  serveStream: (stream) => {
    void (async () => { for await (const m of stream) await stream.send(m); await stream.close() })().catch(() => {})
  }
}

const startProvider = async (): Promise<HiddenProviderNode> => {
  const p = await startHiddenProviderNode({ dataDir: join(home.dir, 'provider'), bootstrap: [net.boot(0)], testnet: true, singleAddress: true, service, params: TESTNET_PARAMS })
  await p.published
  return p
}

beforeAll(async () => {
  home = await tempHome('veil-hidden-node-')
  net = await startRegistryNet(N, TESTNET_PARAMS)
  provider = await startProvider()
  consumer = await startConsumerNode({ bootstrap: [net.boot(1), net.boot(2), net.boot(3)], testnet: true, singleAddress: true, params: TESTNET_PARAMS })
  await consumer.ready
}, 90_000)

afterAll(async () => {
  await consumer?.stop()
  await provider?.stop()
  await net?.stop()
  await home?.cleanup()
}, 30_000)

describe('hidden provider nodes', { timeout: 60_000 }, () => {
  it('openProvider reaches a hidden provider: verified catalogue, MCP stream, rendezvous path', async () => {
    const conn = await consumer.openProvider(provider!.address)
    expect(conn.catalogue.tools.map(t => t.definition.name)).toEqual(['echo'])
    expect(conn.path.length).toBe(3) // G L2 RP
    const mcp = await conn.openMcpStream()
    const msg = new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"ping"}')
    await mcp.send(msg)
    expect(await mcp.read()).toEqual(msg)
    await mcp.close()
    const refreshed = await conn.refreshCatalogue()
    expect(refreshed.serial).toBe(conn.catalogue.serial)
    let closed = false
    conn.onClose(() => { closed = true })
    conn.close()
    expect(closed).toBe(true)
    expect(provider!.status().mode).toBe('hidden')
    expect(provider!.status().introPoints).toBe(3)
  })

  it('the hidden provider\'s host links only to its guard', () => {
    const guard = provider!.client.entries[0].peerId.toString()
    expect(provider!.client.entries.length).toBe(1)
    const peers = new Set(provider!.client.host.getConnections().map(c => c.remotePeer.toString()))
    expect([...peers]).toEqual([guard])
  })

  it('after a restart with new introduction points, a consumer reaches it within one republish interval', async () => {
    const before = provider!.hidden.introPointKeys().map(k => Buffer.from(k.authKey).toString('hex'))
    const address = provider!.address
    await provider!.stop()
    const t0 = Date.now()
    provider = await startProvider()
    expect(provider.address).toBe(address)
    const after = provider.hidden.introPointKeys().map(k => Buffer.from(k.authKey).toString('hex'))
    expect(after.filter(k => before.includes(k))).toEqual([])
    const conn = await consumer.openProvider(address, { signal: AbortSignal.timeout(TESTNET_PARAMS.republishMaxMs) })
    const elapsed = Date.now() - t0
    expect(conn.catalogue.tools.length).toBe(1)
    conn.close()
    expect(elapsed).toBeLessThan(TESTNET_PARAMS.republishMaxMs)
    console.log(`reached again ${elapsed} ms after the restart (republish interval ${TESTNET_PARAMS.republishMinMs}–${TESTNET_PARAMS.republishMaxMs} ms)`)
  })
})
