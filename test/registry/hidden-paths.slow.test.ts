/**
 * Vanguards-lite at the provider: across 200 rendezvous to client-chosen RPs (clients on
 * three different sets of entry relays, 8 at a time), every rendezvous circuit the
 * provider builds starts at its one guard and uses at most 4 distinct layer-2 relays; RPs
 * that are the provider's guard or layer-2 guards are refused.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRegistryNet, type RegistryNet } from './net.ts'
import { startHiddenProvider, hiddenClientOf, type HiddenProvider } from './hidden-net.ts'
import { testnetParams } from '../../src/registry/params.ts'
import type { HiddenClient } from '../../src/registry/hidden-client.ts'
import type { OpenedDescriptor } from '../../src/registry/descriptor.ts'

const N = 20
const RENDEZVOUS = 200
const params = testnetParams(600, { eligibilityAgeMs: 0 })
let net: RegistryNet
let provider: HiddenProvider
const clients: HiddenClient[] = []
let opened: OpenedDescriptor

beforeAll(async () => {
  net = await startRegistryNet(N, params)
  provider = await startHiddenProvider(net, params, 0, { rendezvousPerMinute: 60_000, concurrency: 8 })
  for (const entries of [[1, 2], [3, 4], [5, 6]]) clients.push(hiddenClientOf(await net.client({ entries })))
  const c = await net.client({ entries: [7] })
  opened = (await c.registry.fetchDescriptor(provider.id.address.text)).opened
}, 90_000)

afterAll(async () => { await provider?.stop(); await net?.stop() }, 30_000)

describe('provider paths across many rendezvous', { timeout: 85_000 }, () => {
  it(`${RENDEZVOUS} rendezvous: 1 guard, ≤ 4 layer-2 relays, guard/L2 never accepted as RP`, async () => {
    const t0 = performance.now()
    let done = 0
    const rps = new Set<string>()
    const worker = async (w: number): Promise<void> => {
      while (done < RENDEZVOUS) {
        done++
        const conn = await clients[w % clients.length].connect(opened, { rendezvousWaitMs: 1500, signal: AbortSignal.timeout(30_000) })
        rps.add(conn.rp)
        conn.close()
      }
    }
    await Promise.all(Array.from({ length: 8 }, async (_, w) => { await worker(w) }))
    const paths = provider.service.rendezvousPaths
    expect(paths.length).toBeGreaterThanOrEqual(RENDEZVOUS)
    const guards = new Set(paths.map(p => p[0]))
    const layer2 = new Set(paths.map(p => p[1]))
    expect([...guards]).toEqual([provider.guard])
    expect(layer2.size).toBeLessThanOrEqual(4)
    for (const p of paths) {
      expect(p.length).toBe(4)
      expect(new Set(p).size).toBe(4)
      expect(layer2.has(p[3])).toBe(false)
      expect(p[3]).not.toBe(provider.guard)
    }
    // the intro circuits too
    for (const c of provider.client.circuits.client.circuits()) expect(c.path[0].peer).toBe(provider.guard)
    console.log(`${paths.length} rendezvous in ${((performance.now() - t0) / 1000).toFixed(1)} s to ${rps.size} distinct RPs; layer-2 relays used: ${layer2.size}; RPs refused (guard/L2): ${provider.service.counters.refusedRp}`)
  })
})
