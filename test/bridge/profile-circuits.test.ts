/**
 * A call's privacy profile reaches the relays: through the overlay ToolNetwork a call with
 * `balanced` runs on a circuit of its own whose every hop was told the profile
 * (SET_PROFILE inside its layer: the relays' mixers count the circuit as balanced), while
 * a `fast` call to the same provider uses another circuit; a `paranoid` call brings the
 * profile's cover circuits and backward streams. Public provider wrapping the
 * real examples/tools-server.ts on a 6-relay loopback testnet.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRegistryNet, until, type RegistryNet } from '../registry/net.ts'
import { startOverlayProvider, type RunningPublicOverlayProvider } from '../../src/bridge/index.ts'
import { consumerToolNetwork, type ConsumerToolNetwork } from '../../src/bridge/overlay.ts'
import { startConsumerNode, type ConsumerNode } from '../../src/node/consumer-node.ts'
import { TESTNET_PARAMS } from '../../src/node/network-params.ts'
import type { OnionRelay } from '../../src/node/onion-glue.ts'
import { tempDir } from './helpers.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/tools-server.ts', import.meta.url))
let net: RegistryNet
let provider: RunningPublicOverlayProvider | undefined
let consumer: ConsumerNode | undefined
let network: ConsumerToolNetwork | undefined
const dir = tempDir()

beforeAll(async () => {
  net = await startRegistryNet(6, TESTNET_PARAMS)
  const boots = net.relays.map((_, i) => net.boot(i))
  provider = await startOverlayProvider({
    provider: { server: { kind: 'stdio', command: process.execPath, args: [EXAMPLE] } },
    node: { dataDir: join(dir.path, 'provider'), listen: ['/ip4/127.7.0.1/tcp/0'], bootstrap: boots, testnet: true, control: false }
  })
  await provider.node.published
  const relayId = provider.node.relay.peerId.toString()
  await until(() => net.relays.every(r => r.node.directory.has(relayId)), 30_000, 'every relay to know the provider\'s relay')
  consumer = await startConsumerNode({ bootstrap: boots, testnet: true })
  network = consumerToolNetwork(consumer)
}, 90_000)

afterAll(async () => {
  await network?.close().catch(() => {})
  await consumer?.stop().catch(() => {})
  await provider?.close()
  await net?.stop()
  dir.cleanup()
}, 30_000)

describe('per-call privacy profile', { timeout: 60_000 }, () => {
  it('a balanced call runs on its own circuit, and every hop of it knows the profile', async () => {
    const p = provider as RunningPublicOverlayProvider
    const n = network as ConsumerToolNetwork
    const onions = new Map<string, OnionRelay>(net.relays.map(r => [r.node.peerId.toString(), r.onion]))
    onions.set(p.node.relay.peerId.toString(), p.node.onion)
    const balancedAt = (id: string): number => onions.get(id)?.mix?.stats().circuitsByProfile.balanced ?? -1
    await n.listTools(p.address, AbortSignal.timeout(20_000)) // the bridge reads (and checks) the catalogue before any call
    const fast = await n.callTool(p.address, 'echo', { text: 'fast' }, { signal: AbortSignal.timeout(20_000), profile: 'fast' }) as { content?: Array<{ text?: string }> }
    expect(fast.content?.[0]?.text).toBe('fast')
    const before = new Map([...onions.keys()].map(id => [id, balancedAt(id)]))
    const balanced = await n.callTool(p.address, 'echo', { text: 'balanced' }, { signal: AbortSignal.timeout(20_000), profile: 'balanced' }) as { content?: Array<{ text?: string }> }
    expect(balanced.content?.[0]?.text).toBe('balanced')
    const pathFast = n.pathOf(p.address, 'fast')
    const pathBalanced = n.pathOf(p.address, 'balanced')
    expect(pathBalanced).toHaveLength(3)
    expect(pathBalanced?.at(-1)).toBe(p.node.relay.peerId.toString())
    expect(pathFast).toBeDefined()
    // SET_PROFILE travels inside each hop's layer: give the last hop a moment
    await until(() => (pathBalanced ?? []).every(id => balancedAt(id) === (before.get(id) ?? 0) + 1), 5_000, 'every hop to count the balanced circuit')
  })

  it('a paranoid call: its circuit plus five cover circuits, a backward stream at each last hop; veil_status counts them', async () => {
    const p = provider as RunningPublicOverlayProvider
    const n = network as ConsumerToolNetwork
    const onions = [...net.relays.map(r => r.onion), p.node.onion]
    const r = await n.callTool(p.address, 'echo', { text: 'paranoid' }, { signal: AbortSignal.timeout(30_000), profile: 'paranoid' }) as { content?: Array<{ text?: string }> }
    expect(r.content?.[0]?.text).toBe('paranoid')
    // the call's circuit ends at the provider's relay, which answers at its constant rate
    expect(p.node.onion.mix?.stats().backward.lanes).toBeGreaterThanOrEqual(1)
    await until(() => (n.status().mix?.coverCircuits.paranoid ?? 0) >= 5, 30_000, 'five cover circuits')
    await until(() => onions.reduce((k, o) => k + (o.mix?.stats().backward.lanes ?? 0), 0) >= 6, 10_000, 'a backward stream on each paranoid circuit')
    const st = n.status()
    expect(st.coverTraffic).toBe(true)
    expect(st.mix?.circuits.paranoid).toBeGreaterThanOrEqual(1)
    expect(st.mix?.streamRealCells).toBeGreaterThan(0)
    expect(st.mix?.coverCells).toBeGreaterThan(0)
    expect(st.mix?.loops.sent).toBeGreaterThan(0)
    // counts only: no relay id, no provider address in the mix section
    const text = JSON.stringify(st.mix)
    for (const o of net.relays) expect(text).not.toContain(o.node.peerId.toString())
    expect(text).not.toContain(p.address)
    console.log(`paranoid call: veil_status mix ${text}`)
  })
})
