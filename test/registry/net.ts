/**
 * In-process registry testnets: N relays (startRelayNode + the onion layer + a storer) on
 * 127.<i+1>.0.1 with OS-chosen ports and temp data dirs, and client nodes with circuits
 * and a RegistryClient. Shared by the quick and slow network tests and the bench.
 */
import { join } from 'node:path'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { startClientNode, type ClientNode } from '../../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay, type ClientCircuits } from '../../src/node/onion-glue.ts'
import { attachRegistryRelay, registryClient, registryDhtNamespaces, type RegistryRelay } from '../../src/node/registry-glue.ts'
import type { RegistryClient } from '../../src/registry/client.ts'
import type { RegistryParams } from '../../src/registry/params.ts'
import type { StorerLimits } from '../../src/registry/store.ts'
import type { IndexStorerLimits } from '../../src/registry/index-store.ts'
import { systemClock } from '../../src/overlay/index.ts'
import { tempHome } from '../overlay/helpers.ts'

export interface NetRelay { node: RelayNode, onion: OnionRelay, registry: RegistryRelay }
export interface NetClient { node: ClientNode, circuits: ClientCircuits, registry: RegistryClient, stop(): Promise<void> }
export interface RegistryNet {
  readonly relays: NetRelay[]
  readonly home: string
  boot(i: number): string
  client(o?: { entries?: number[] }): Promise<NetClient>
  stop(): Promise<void>
}

export async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export async function startRegistryNet (n: number, params: RegistryParams, o: { limits?: Partial<StorerLimits>, indexLimits?: Partial<IndexStorerLimits>, readyMs?: number } = {}): Promise<RegistryNet> {
  const home = await tempHome('veil-registry-')
  const relays: NetRelay[] = []
  const clients: NetClient[] = []
  const boot = (i: number): string => `${relays[i].node.addrs()[0].toString()}/p2p/${relays[i].node.peerId.toString()}`
  const stop = async (): Promise<void> => {
    for (const c of clients) await c.stop().catch(() => {})
    for (const r of relays) { r.registry.stop(); r.onion.stop() }
    await Promise.all(relays.map(async r => { await r.node.stop().catch(() => {}) }))
    await home.cleanup()
  }
  try {
    const startOne = async (i: number): Promise<NetRelay> => {
      const hooks = onionLinkHooks()
      const node = await startRelayNode({
        dataDir: join(home.dir, `r${i}`),
        listen: [`/ip4/127.${i + 1}.0.1/tcp/0`],
        bootstrap: i === 0 ? [] : [boot(0)],
        testnet: true,
        control: false,
        targetDegree: 4,
        namespaces: registryDhtNamespaces(systemClock, params.periods),
        ...hooks
      })
      const onion = attachOnionRelay(node, hooks, { echo: true })
      const registry = await attachRegistryRelay(node, onion, { params, limits: o.limits, indexLimits: o.indexLimits })
      return { node, onion, registry }
    }
    relays.push(await startOne(0))
    for (let i = 1; i < n; i += 5) {
      const batch = await Promise.all(Array.from({ length: Math.min(5, n - i) }, async (_, k) => startOne(i + k)))
      relays.push(...batch)
    }
    await until(() => relays.every(r => r.node.directory.size === n), o.readyMs ?? 60_000, 'relay directories to converge')
  } catch (err) {
    await stop()
    throw err
  }
  return {
    relays,
    home: home.dir,
    boot,
    client: async (co = {}) => {
      const entries = co.entries ?? [0, 1]
      const node = await startClientNode({ bootstrap: entries.map(boot), entryCount: entries.length, confirmations: 1, minDirectory: n })
      await node.ready
      const circuits = await attachCircuits(node, { startManager: false })
      const c: NetClient = {
        node,
        circuits,
        registry: registryClient(node, circuits, { params }),
        stop: async () => { await circuits.stop(); await node.stop() }
      }
      clients.push(c)
      return c
    },
    stop
  }
}
