/**
 * MCP across an anonymous circuit: three relays in this process (127.1-3.0.1, real
 * libp2p), a provider wrapping the real examples/tools-server.ts process behind the last
 * relay's `mcp` stream target, and a v2 MCP client whose transport is a stream inside a
 * 3-hop circuit. Every example tool's result through the circuit equals the provider's
 * direct answer.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { startClientNode, type ClientNode } from '../../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay, type ClientCircuits } from '../../src/node/onion-glue.ts'
import { StreamTargetTable } from '../../src/onion/index.ts'
import { createProvider, startBridge, type Provider } from '../../src/bridge/index.ts'
import { overlayToolNetwork } from '../../src/bridge/overlay-network.ts'
import { InMemoryTransport } from '@modelcontextprotocol/server'
import { StreamTransport } from '../../src/bridge/stream-transport.ts'
import { serveProviderStream } from '../../src/bridge/provider-server.ts'
import { tempHome } from '../overlay/helpers.ts'
import { EXAMPLE_CALLS } from './helpers.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/tools-server.ts', import.meta.url))
let home: { dir: string, cleanup: () => Promise<void> }
const relays: RelayNode[] = []
const onions: OnionRelay[] = []
let client: ClientNode
let circuits: ClientCircuits
let provider: Provider
let circuitsServed = 0
const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`

beforeAll(async () => {
  home = await tempHome('veil-mcp-circuit-')
  provider = createProvider({ server: { kind: 'stdio', command: process.execPath, args: [EXAMPLE] }, version: '1.0.0' })
  await provider.start()
  for (let i = 0; i < 3; i++) {
    const hooks = onionLinkHooks()
    const r = await startRelayNode({ dataDir: join(home.dir, `r${i}`), listen: [`/ip4/127.${i + 1}.0.1/tcp/0`], bootstrap: i === 0 ? [] : [bootOf(relays[0])], testnet: true, control: false, ...hooks })
    relays.push(r)
    const streams = new StreamTargetTable()
    if (i === 2) {
      streams.register('mcp', (s) => {
        circuitsServed++
        void serveProviderStream(provider, new StreamTransport(s), `circuit-${circuitsServed}`)
      })
    }
    onions.push(attachOnionRelay(r, hooks, { streams }))
  }
  const deadline = Date.now() + 30_000
  while (!relays.every(r => r.directory.size === 3)) {
    if (Date.now() > deadline) throw new Error('directories incomplete')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  client = await startClientNode({ bootstrap: [bootOf(relays[0])], entryCount: 1, confirmations: 1, minDirectory: 3 })
  await client.ready
  circuits = await attachCircuits(client, { startManager: false })
}, 60_000)

afterAll(async () => {
  await circuits?.stop()
  await client?.stop()
  for (const o of onions) o.stop()
  await Promise.all(relays.map(async r => { await r.stop() }))
  await provider?.stop()
  await home?.cleanup()
}, 30_000)

describe('MCP over a 3-hop circuit', { timeout: 60_000 }, () => {
  it('lists and calls every example tool through the circuit, equal to the provider\'s direct answers', async () => {
    const path = relays.map(r => circuits.hop(r.peerId.toString())).filter(h => h !== undefined)
    expect(path).toHaveLength(3)
    const circuit = await circuits.client.build(path, { signal: AbortSignal.timeout(15_000) })
    const stream = await circuit.openStream('mcp', { signal: AbortSignal.timeout(10_000) })
    const mcp = new Client({ name: 'veil-test', version: '1' })
    await mcp.connect(new StreamTransport(stream))
    try {
      const listed = await mcp.listTools()
      expect(listed.tools.map(t => t.name).sort()).toEqual(provider.listTools('network').map(t => t.name).sort())
      for (const [name, args] of EXAMPLE_CALLS) {
        const viaCircuit = await mcp.request({ method: 'tools/call', params: { name, arguments: args } })
        const direct = await provider.callTool(name, args, { signal: AbortSignal.timeout(20_000), caller: 'direct' })
        expect(viaCircuit.content, name).toEqual(direct.content)
        expect(viaCircuit.structuredContent, name).toEqual(direct.structuredContent)
        expect(viaCircuit.isError ?? false, name).toEqual(direct.isError ?? false)
      }
      // progress crosses the circuit too
      const progress: number[] = []
      await mcp.request({ method: 'tools/call', params: { name: 'slow', arguments: { steps: 3, delayMs: 5 } } }, { onprogress: (p) => { progress.push(p.progress) } })
      expect(progress.length).toBeGreaterThan(0)
      expect(circuitsServed).toBe(1)
    } finally {
      await mcp.close()
    }
  })

  it('a bridge on the overlay ToolNetwork: MCP client → bridge → circuit → provider, results equal', async () => {
    let circuitsBuilt = 0
    const network = overlayToolNetwork({
      connect: async (_address, o) => {
        const path = relays.map(r => circuits.hop(r.peerId.toString())).filter(h => h !== undefined)
        const circuit = await circuits.client.build(path, { signal: o.signal })
        circuitsBuilt++
        return await circuit.openStream('mcp', { signal: o.signal })
      }
    })
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    const running = await startBridge({ network, profile: 'fast', providers: [{ address: 'circuit-provider', tag: 'ex' }], serve: { kind: 'stdio', transport: serverSide } })
    const mcp = new Client({ name: 'veil-test', version: '1' })
    await mcp.connect(clientSide)
    try {
      let tools: string[] = []
      const deadline = Date.now() + 20_000
      while (!tools.includes('ex_echo')) {
        tools = (await mcp.listTools()).tools.map(t => t.name)
        if (Date.now() > deadline) throw new Error(`bridge catalogue never filled: ${tools.join(',')}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      for (const [name, args] of EXAMPLE_CALLS.filter(([n]) => n !== 'count')) {
        const via = await mcp.request({ method: 'tools/call', params: { name: `ex_${name}`, arguments: args } })
        const direct = await provider.callTool(name, args, { signal: AbortSignal.timeout(20_000), caller: 'direct' })
        expect(via.content, name).toEqual(direct.content)
        expect(via.structuredContent, name).toEqual(direct.structuredContent)
        expect(via.isError ?? false, name).toEqual(direct.isError ?? false)
      }
      expect(circuitsBuilt).toBe(1) // one circuit per provider and profile, reused for the catalogue and every call
    } finally {
      await mcp.close()
      await running.close()
      await network.close()
    }
  })
})
