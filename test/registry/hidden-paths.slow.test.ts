/**
 * Vanguards-lite at the provider: across 200 rendezvous to client-chosen RPs (clients on
 * three different sets of entry relays, 8 at a time), every rendezvous circuit the
 * provider builds starts at its one guard and uses at most 4 distinct layer-2 relays; RPs
 * that are the provider's guard or layer-2 guards are served like any other (vanguards
 * spec: a refusal would be an oracle for a client probing for the provider's guards).
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
  it(`${RENDEZVOUS} rendezvous: 1 guard, ≤ 4 layer-2 relays, no relay twice in a row`, async () => {
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
      for (let i = 1; i < p.length; i++) expect(p[i]).not.toBe(p[i - 1])
      // the hops before the RP are distinct (the RP itself may be the guard or a layer-2 relay)
      expect(new Set(p.slice(0, 3)).size).toBe(3)
    }
    // the intro circuits too
    for (const c of provider.client.circuits.client.circuits()) expect(c.path[0].peer).toBe(provider.guard)
    console.log(`${paths.length} rendezvous in ${((performance.now() - t0) / 1000).toFixed(1)} s to ${rps.size} distinct RPs; layer-2 relays used: ${layer2.size}`)
  })

  it('a client probing with the provider\'s guard and layer-2 relays as RPs is served like any other: no oracle', async () => {
    const probes = [provider.guard, ...provider.service.paths.layer2Now()]
    const ordinary = net.relays.map(r => r.node.peerId.toString()).find(id => !probes.includes(id))!
    for (const rp of [...probes, ordinary]) {
      const steps: Array<{ step: string, ok?: boolean }> = []
      const conn = await clients[0].connect(opened, { rp, rendezvousWaitMs: 4_000, signal: AbortSignal.timeout(30_000), onStep: (s) => { steps.push(s as { step: string, ok?: boolean }) } })
      expect(conn.rp).toBe(rp)
      // served: a RENDEZVOUS2 came (a transient failure under load may cost one more try, as
      // it may for any RP; a refused RP would never answer)
      expect(steps.filter(s => s.step === 'rendezvous2' && s.ok === true)).toHaveLength(1)
      if (steps.some(s => s.step === 'rendezvous2' && s.ok === false)) console.log(`probe ${probes.indexOf(rp)}: one RENDEZVOUS2 wait timed out before the one that came`)
      const last = provider.service.rendezvousPaths.at(-1)!
      expect(last.at(-1)).toBe(rp)
      expect(last[0]).toBe(provider.guard)
      conn.close()
    }
  })
})
