/**
 * Introduction floods: a flooder sends INTRODUCE1 cells without proof of work to all of a
 * hidden provider's introduction points as fast as one process can (target FLOOD_RATE per
 * second; the rate reached is printed); a genuine client that does the descriptor's
 * suggested work still reaches the provider within 10 s, because the provider serves the
 * highest effort first and caps the rendezvous circuits it builds per minute.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startRegistryNet, type RegistryNet, type NetClient } from './net.ts'
import { startHiddenProvider, hiddenClientOf, sessionOver, type HiddenProvider } from './hidden-net.ts'
import { hiddenNetwork } from '../../src/node/registry-glue.ts'
import { testnetParams } from '../../src/registry/params.ts'
import { clientIntroduce } from '../../src/registry/hs-crypto.ts'
import { RELAY_INTRODUCE1 } from '../../src/registry/constants.ts'
import { sha3_256, systemRng } from '../../src/registry/primitives.ts'
import type { Circuit } from '../../src/onion/index.ts'

const N = 20
const FLOOD_RATE = Number(process.env.VEIL_FLOOD_RATE ?? 300)
const EFFORT = 12
const params = testnetParams(600, { eligibilityAgeMs: 0 })
let net: RegistryNet
let provider: HiddenProvider
let flooder: NetClient
let genuine: NetClient

beforeAll(async () => {
  net = await startRegistryNet(N, params)
  provider = await startHiddenProvider(net, params, 0, {
    pow: { suggestedEffort: EFFORT }, introRate: 20_000, introBurst: 40_000, rendezvousPerMinute: 120, concurrency: 2, maxPending: 64
  })
  flooder = await net.client({ entries: [1, 2] })
  genuine = await net.client({ entries: [3, 4] })
}, 90_000)

afterAll(async () => { await provider?.stop(); await net?.stop() }, 30_000)

describe('introduction floods', { timeout: 60_000 }, () => {
  it('a client with proof of work gets through a flood of introductions without it within 10 s', async () => {
    const { opened } = await genuine.registry.fetchDescriptor(provider.id.address.text)
    if (opened.reach.mode !== 'hidden') throw new Error('expected a hidden descriptor')
    expect(opened.pow?.suggestedEffort).toBe(EFFORT)
    const fnet = hiddenNetwork(flooder.node, flooder.circuits)
    const fhc = hiddenClientOf(flooder)
    // two flood circuits per introduction point
    const ips = opened.reach.introPoints
    const circuits: Array<{ c: Circuit, ip: (typeof ips)[number] }> = []
    for (const ip of [...ips, ...ips]) {
      const c = await fnet.build(fhc.paths.long(fnet.relayId(ip.relay)), AbortSignal.timeout(15_000))
      c.onCommand = () => {}
      circuits.push({ c, ip })
    }
    // junk names an RP the provider accepts, so every junk introduction it serves costs it a circuit
    const providerOk = new Set(provider.service.paths.endpoints())
    const rp = fhc.paths.endpoints().find(id => providerOk.has(id))!
    const rpRelay = fnet.relayBytes(rp)
    const rpKeyId = sha3_256(fnet.onionKey(rp)!)
    let sent = 0
    let sendErrors = 0
    const t0 = performance.now()
    const perTick = FLOOD_RATE / 100
    const timer = setInterval(() => {
      const due = Math.floor((performance.now() - t0) / 1000 * FLOOD_RATE) - sent
      for (let i = 0; i < Math.min(due, 4 * perTick); i++) {
        const { c, ip } = circuits[sent % circuits.length]
        const { message } = clientIntroduce(systemRng, ip, { rpRelay, rpOnionKeyId: rpKeyId, cookie: systemRng(20) }, null)
        try { c.sendRelay(c.hops - 1, RELAY_INTRODUCE1, 0, message) } catch { sendErrors++ }
        sent++
      }
    }, 10)
    const forwardedAt = (): number => net.relays.reduce((n, r) => n + r.registry.intro.counters.forwarded, 0)
    try {
      await new Promise(resolve => setTimeout(resolve, 2_000))
      const hc = hiddenClientOf(genuine)
      const g0 = performance.now()
      const conn = await hc.connect(opened, { signal: AbortSignal.timeout(10_000), rendezvousWaitMs: 2_500 })
      const reachedMs = performance.now() - g0
      const session = await sessionOver(t => conn.openStream(t), provider.id.address.text, opened)
      expect((await session.catalogue()).tools.length).toBe(1)
      conn.close()
      const elapsed = (performance.now() - t0) / 1000
      const s = provider.service.counters
      console.log(`flood: ${sent} introductions sent in ${elapsed.toFixed(1)} s (${(sent / elapsed).toFixed(0)}/s offered, ${(forwardedAt() / elapsed).toFixed(0)}/s forwarded by IPs, ${(s.introductions / elapsed).toFixed(0)}/s reached the provider; ${sendErrors} send errors); ` +
        `genuine client reached the provider in ${reachedMs.toFixed(0)} ms after ${conn.introductions} introduction(s); provider: ${JSON.stringify(s)}`)
      expect(reachedMs).toBeLessThan(10_000)
      expect(s.introductions).toBeGreaterThan(500)
      expect(s.dropped).toBeGreaterThan(0)
      // junk that was served cost rendezvous circuits, capped at 120 per minute (+ burst 20)
      expect(s.rendezvous).toBeLessThanOrEqual(20 + Math.ceil(elapsed * 2) + 1)
    } finally {
      clearInterval(timer)
      for (const { c } of circuits) c.destroy()
    }
  })
})
