/**
 * A relay's resource limits, each flooded from a test peer on the in-memory network of
 * test/onion/circuit-helpers.ts: circuits per link (per peer), CREATEs per second (per link
 * and relay-wide: established circuits keep working under a CREATE flood), streams per
 * circuit, and cells queued per circuit on a link. Each refusal is counted under
 * `counters.limits` — what `veil status` shows in a relay's `circuits` section.
 */
import { describe, expect, it } from 'vitest'
import { FakeNet, bytes, until } from '../onion/circuit-helpers.ts'
import { encodeCell, DestroyReason, decodeCell } from '../../src/onion/cell.ts'
import { clientStart } from '../../src/onion/handshake.ts'
import { systemRng } from '../../src/onion/primitives.ts'
import { CIRC_ID_HIGH_BIT, HANDSHAKE_TYPE_HYBRID_NTOR_V1 } from '../../src/onion/constants.ts'
import { RELAY_CREATES_PER_SECOND, RELAY_CREATES_PER_SECOND_PER_LINK } from '../../src/onion/relay-circuits.ts'

/** A valid CREATE for `hop` (each copy costs the relay a full hybrid handshake). */
function createCell (net: FakeNet, relay: string, circId: number): Uint8Array {
  const { message } = clientStart(systemRng, net.relays.get(relay)!.hop.keys)
  return encodeCell({ command: 'create', circId: (CIRC_ID_HIGH_BIT | circId) >>> 0, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: message })
}

/** What came back on `link` from the relay: CREATED and DESTROY(RESOURCE_LIMIT) counts. */
function replies (net: FakeNet, from: string, to: string): { created: number, refused: number } {
  const back = net.link(from, to).sent
  let created = 0
  let refused = 0
  for (const b of back) {
    const c = decodeCell(b)
    if (c.command === 'created') created++
    if (c.command === 'destroy' && c.reason === DestroyReason.RESOURCE_LIMIT) refused++
  }
  return { created, refused }
}

describe('relay resource limits', { timeout: 30_000 }, () => {
  it('defaults are resolved and exposed', () => {
    const net = new FakeNet()
    const r = net.addRelay('r1')
    expect(r.service.limits).toMatchObject({ createsPerSecond: RELAY_CREATES_PER_SECOND, createsPerSecondPerLink: RELAY_CREATES_PER_SECOND_PER_LINK, createBurst: 400, createBurstPerLink: 200 })
    expect(r.service.counters.limits).toEqual({ circuitsPerLink: 0, circuitsTotal: 0, createsPerSecond: 0, createsPerSecondPerLink: 0, queueFull: 0, streamsPerCircuit: 0 })
    r.service.stop()
  })

  it('a CREATE flood from one peer is refused past its per-link rate; established circuits keep working and another client still builds', async () => {
    const net = new FakeNet()
    net.addRelay('r1', { createsPerSecondPerLink: 20, createsPerSecond: 1000 })
    net.addRelay('r2')
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2'), { signal: AbortSignal.timeout(10_000) })
    const s = await c.openStream('echo')
    net.addClient('attacker')
    const link = net.link('attacker', 'r1')
    const r1 = net.relays.get('r1')!.service
    const t0 = Date.now()
    const FLOOD = 600
    // the flood, in bursts, while the honest circuit echoes
    let sent = 0
    const flood = (async () => {
      while (sent < FLOOD) {
        for (let k = 0; k < 50; k++) link.send(createCell(net, 'r1', ++sent))
        await new Promise(resolve => setImmediate(resolve))
      }
    })()
    for (let i = 0; i < 20; i++) {
      await s.send(bytes(500, i))
      expect(await s.read()).toEqual(bytes(500, i))
    }
    await flood
    await until(() => r1.counters.limits.createsPerSecondPerLink + r1.counters.created >= FLOOD + 1, 10_000, 'every CREATE answered')
    const elapsedS = (Date.now() - t0) / 1000
    const { created, refused } = replies(net, 'r1', 'attacker')
    // at most a second's burst plus the refill: the rest refused without a handshake
    expect(created).toBeLessThanOrEqual(r1.limits.createBurstPerLink + Math.ceil(elapsedS * 20) + 1)
    expect(r1.limits.createBurstPerLink).toBe(80)
    expect(refused).toBe(FLOOD - created)
    expect(r1.counters.limits.createsPerSecondPerLink).toBe(refused)
    // another client on its own link is not starved
    const { client: other } = net.addClient('other')
    const c2 = await other.build(net.hops('r1', 'r2'), { signal: AbortSignal.timeout(10_000) })
    const s2 = await c2.openStream('echo')
    await s2.send(bytes(10)); expect(await s2.read()).toEqual(bytes(10))
    await s.send(bytes(10, 9)); expect(await s.read()).toEqual(bytes(10, 9))
    for (const r of net.relays.values()) r.service.stop()
  })

  it('CREATEs per second over all links: a flood from many peers is capped relay-wide', async () => {
    const net = new FakeNet()
    net.addRelay('r1', { createsPerSecondPerLink: 1000, createsPerSecond: 30 })
    const r1 = net.relays.get('r1')!.service
    const peers = ['a1', 'a2', 'a3', 'a4']
    for (const p of peers) net.addClient(p)
    const t0 = Date.now()
    for (const p of peers) for (let k = 1; k <= 50; k++) net.link(p, 'r1').send(createCell(net, 'r1', k))
    await until(() => r1.counters.limits.createsPerSecond + r1.counters.created >= 200, 10_000, 'every CREATE answered')
    const elapsedS = (Date.now() - t0) / 1000
    expect(r1.counters.created).toBeLessThanOrEqual(r1.limits.createBurst + Math.ceil(elapsedS * 30) + 1)
    expect(r1.limits.createBurst).toBe(60)
    expect(r1.counters.limits.createsPerSecond).toBe(200 - r1.counters.created)
    r1.stop()
  })

  it('circuits per link (per peer): past the cap CREATE gets DESTROY(RESOURCE_LIMIT), counted', async () => {
    const net = new FakeNet()
    net.addRelay('r1', { maxCircuitsPerLink: 5 })
    const r1 = net.relays.get('r1')!.service
    net.addClient('attacker')
    for (let k = 1; k <= 12; k++) net.link('attacker', 'r1').send(createCell(net, 'r1', k))
    await until(() => r1.counters.created + r1.counters.limits.circuitsPerLink >= 12, 10_000, 'every CREATE answered')
    expect(r1.size).toBe(5)
    expect(r1.counters.limits.circuitsPerLink).toBe(7)
    expect(replies(net, 'r1', 'attacker')).toEqual({ created: 5, refused: 7 })
    r1.stop()
  })

  it('streams per circuit: BEGIN past the cap is refused (END), counted; the open streams still work', async () => {
    const net = new FakeNet()
    net.addRelay('r1')
    net.addRelay('r2', { maxStreamsPerCircuit: 3 })
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2'), { signal: AbortSignal.timeout(10_000) })
    const open = [await c.openStream('echo'), await c.openStream('echo'), await c.openStream('echo')]
    const refused = await Promise.allSettled([c.openStream('echo'), c.openStream('echo')])
    expect(refused.map(r => r.status)).toEqual(['rejected', 'rejected'])
    const r2 = net.relays.get('r2')!.service
    expect(r2.counters.limits.streamsPerCircuit).toBe(2)
    for (const [i, s] of open.entries()) { await s.send(bytes(20, i)); expect(await s.read()).toEqual(bytes(20, i)) }
    for (const r of net.relays.values()) r.service.stop()
  })

  it('cells queued per circuit on a link: a circuit whose next link stops draining is destroyed at the cap (queueFull); a circuit on another link lives', async () => {
    const net = new FakeNet()
    net.addRelay('r1')
    net.addRelay('r2')
    net.addRelay('r3')
    const { client } = net.addClient('client')
    await client.build(net.hops('r1', 'r2'), { signal: AbortSignal.timeout(10_000) })
    const toR1 = net.link('client', 'r1')
    const stuckId = decodeCell(toR1.sent[0]).circId
    const fine = await client.build(net.hops('r1', 'r3'), { signal: AbortSignal.timeout(10_000) })
    const r1 = net.relays.get('r1')!.service
    // r1 → r2 stops draining; a hostile client pushes RELAY cells r1 cannot recognise (so forwards) without waiting for SENDMEs
    net.link('r1', 'r2').capacity = 0
    const limit = r1.limits.maxQueuedCellsPerCircuit
    for (let i = 0; i < limit + 50; i++) {
      const cell = new Uint8Array(toR1.sent[0].length)
      cell.set(bytes(cell.length, i + 1))
      new DataView(cell.buffer).setUint32(0, stuckId)
      cell[4] = 3 // RELAY
      toR1.send(cell)
    }
    await until(() => r1.counters.limits.queueFull > 0, 10_000, 'the stuck circuit destroyed at its queue cap')
    expect(r1.counters.limits.queueFull).toBe(1)
    expect(r1.size).toBe(1)
    const s2 = await fine.openStream('echo')
    await s2.send(bytes(10)); expect(await s2.read()).toEqual(bytes(10))
    for (const r of net.relays.values()) r.service.stop()
  })
})
