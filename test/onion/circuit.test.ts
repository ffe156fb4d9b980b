/**
 * Circuits on an in-memory network (no libp2p): telescoping build, what each
 * relay learns, EARLY and length rules, tampering, DESTROY both ways, codecs.
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { FakeNet, until, bytes } from './circuit-helpers.ts'
import { RelayCommand, encodeRelayCell } from '../../src/onion/relay-cell.ts'
import { CellCommand, DestroyReason, decodeCell, encodeCell } from '../../src/onion/cell.ts'
import { clientStart } from '../../src/onion/handshake.ts'
import { systemRng } from '../../src/onion/primitives.ts'
import {
  CircuitClosedError, decodeExtend, encodeExtend, decodeExtended, encodeExtended, decodeBegin, encodeBegin, decodeEnd, encodeEnd, allocateCircId, circIdBelongsTo
} from '../../src/onion/circuit.ts'
import { CircuitBuildError } from '../../src/onion/client-circuit.ts'
import { BuildTimeEstimator, CircuitManager, type PathSource } from '../../src/onion/manager.ts'
import { PathDirectory } from '../../src/onion/path/index.ts'
import { secureRng, systemClock } from '../../src/overlay/index.ts'
import { OnionError } from '../../src/onion/errors.ts'
import { CELL_SIZE, CIRC_ID_HIGH_BIT, HANDSHAKE_TYPE_HYBRID_NTOR_V1, MAX_HOPS, MAX_RELAY_EARLY, RELAY_DATA_MAX } from '../../src/onion/constants.ts'

function net3 (): FakeNet {
  const net = new FakeNet()
  for (const n of ['r1', 'r2', 'r3']) net.addRelay(n)
  return net
}

describe('circuit codecs', () => {
  it('EXTEND / EXTENDED / BEGIN / END round-trip and reject trailing or short data', () => {
    const req = { linkSpecifier: bytes(38), handshakeType: 1, handshake: bytes(1280) }
    expect(decodeExtend(encodeExtend(req))).toEqual(req)
    const blob = { handshakeType: 1, handshake: bytes(1152) }
    expect(decodeExtended(encodeExtended(blob))).toEqual(blob)
    expect(decodeBegin(encodeBegin('echo'))).toBe('echo')
    expect(decodeEnd(encodeEnd(7))).toBe(7)
    const ext = encodeExtend(req)
    expect(() => decodeExtend(ext.subarray(0, ext.length - 1))).toThrow(OnionError)
    expect(() => decodeExtended(new Uint8Array([0, 1, 0, 2, 9]))).toThrow(OnionError)
    expect(() => decodeBegin(new TextEncoder().encode('Echo!'))).toThrow(OnionError)
    expect(() => encodeBegin('')).toThrow(OnionError)
    expect(() => decodeEnd(new Uint8Array(2))).toThrow(OnionError)
    // the biggest EXTEND still fits a relay cell
    expect(encodeExtend({ linkSpecifier: bytes(255), handshakeType: 1, handshake: bytes(1280) }).length).toBeLessThanOrEqual(RELAY_DATA_MAX)
  })

  it('decoders throw only OnionError on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
      for (const f of [decodeExtend, decodeExtended, decodeBegin, decodeEnd]) {
        try { f(b) } catch (err) { if (!(err instanceof OnionError)) throw err }
      }
    }), { numRuns: 300 })
  })

  it('circuit ids: the link opener takes the top half, the other side the bottom half', () => {
    const used = new Set<number>()
    let x = 7
    const r32 = (): number => { x = (x * 69069 + 1) >>> 0; return x }
    for (let i = 0; i < 100; i++) {
      const o = allocateCircId({ peer: 'p', direction: 'outbound', closed: false, send: () => true }, used, r32)
      const n = allocateCircId({ peer: 'p', direction: 'inbound', closed: false, send: () => true }, used, r32)
      expect(o & CIRC_ID_HIGH_BIT).not.toBe(0)
      expect(n & CIRC_ID_HIGH_BIT).toBe(0)
      expect(n).not.toBe(0)
      expect(circIdBelongsTo(o, true) && circIdBelongsTo(n, false)).toBe(true)
      used.add(o); used.add(n)
    }
  })
})

describe('circuits (in memory)', { timeout: 30_000 }, () => {
  it('builds 3 hops telescopically; each relay knows only its neighbours; every cell is CELL_SIZE', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2', 'r3'), { signal: AbortSignal.timeout(10_000) })
    expect(c.state).toBe('open')
    expect(c.hops).toBe(3)
    const view = (n: string) => net.relays.get(n)!.service.circuits()
    expect(view('r1').map(v => [v.prev, v.next])).toEqual([['client', 'r2']])
    expect(view('r2').map(v => [v.prev, v.next])).toEqual([['r1', 'r3']])
    expect(view('r3').map(v => [v.prev, v.next])).toEqual([['r2', undefined]])
    // the extends were EARLY; nobody saw more than MAX_RELAY_EARLY
    expect(view('r1')[0].earlyCells).toBe(2)
    expect(view('r3')[0].earlyCells).toBe(0)
    const s = await c.openStream('echo')
    for (const size of [0, 1, 2017, 2018, 5000, 100_000]) {
      const m = bytes(size, size)
      await s.send(m)
      expect(await s.read()).toEqual(m)
    }
    await s.close()
    for (const l of net.allLinks) for (const cell of l.sent) expect(cell.length).toBe(CELL_SIZE)
    c.destroy()
    await until(() => [...net.relays.values()].every(r => r.service.size === 0), 5_000, 'relays forget the circuit')
  })

  it('a 1 MB message crosses more than one stream window and comes back intact', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2', 'r3'))
    const s = await c.openStream('echo')
    const m = bytes(1_000_000, 9)
    const [, back] = await Promise.all([s.send(m), s.read()])
    expect(back).toEqual(m)
    c.destroy()
  })

  it('a cell modified between r2 and r3 destroys the circuit at r3 and nothing else', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    const victim = await client.build(net.hops('r1', 'r2', 'r3'))
    const bystander = await client.build(net.hops('r1', 'r2', 'r3'))
    const s1 = await victim.openStream('echo')
    const s2 = await bystander.openStream('echo')
    const r2 = net.relays.get('r2')!
    const r3 = net.relays.get('r3')!
    const victimAtR2 = r2.service.circuits().length
    expect(victimAtR2).toBe(2)
    // find the victim's circuit id on the r2→r3 link: the one carrying the next relay cell we send
    const toR3 = r2.links.get('r3')!
    const seen = toR3.sent.length
    s1.send(bytes(10)).catch(() => {})
    await until(() => toR3.sent.length > seen, 2_000, 'a victim cell')
    const victimId = decodeCell(toR3.sent[seen]).circId
    let flipped = 0
    toR3.tamper = (cell) => {
      const d = decodeCell(cell)
      if (d.command !== 'relay' || d.circId !== victimId || flipped > 0) return cell
      flipped++
      cell[100] ^= 0x01
      return cell
    }
    const closed = new Promise<CircuitClosedError>(resolve => victim.onClose(resolve))
    s1.send(bytes(10)).catch(() => {})
    const err = await closed
    expect(err.reason).toBe(DestroyReason.DESTROYED) // relayed back without saying which hop or why
    expect(r3.service.counters.unrecognised).toBe(1)
    await expect(s1.read()).resolves.toEqual(bytes(10)) // the first, untouched message was echoed
    await expect(s1.read()).rejects.toBeInstanceOf(CircuitClosedError)
    // the bystander circuit carries on; no link closed; nobody was blamed
    await s2.send(bytes(3000, 3))
    expect(await s2.read()).toEqual(bytes(3000, 3))
    expect(net.allLinks.every(l => !l.closed)).toBe(true)
    for (const r of net.relays.values()) expect(r.service.counters.misbehaviour.size).toBe(0)
    bystander.destroy()
  })

  it('an inbound cell modified in flight is caught by the client, which destroys the circuit', async () => {
    const net = net3()
    const { client, links } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2', 'r3'))
    const s = await c.openStream('echo')
    const back = net.relays.get('r1')!.links.get('client')!
    back.tamper = (cell) => { if (cell[4] === CellCommand.RELAY) cell[2000] ^= 0x80; return cell }
    await s.send(bytes(5))
    await expect(s.read()).rejects.toBeInstanceOf(CircuitClosedError)
    expect(client.counters.unrecognised).toBe(1)
    await until(() => net.relays.get('r3')!.service.size === 0, 2_000, 'DESTROY to reach r3')
    void links
  })

  it('an EXTEND outside a RELAY_EARLY cell is refused', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2'))
    const hs = clientStart(systemRng, net.relays.get('r3')!.hop.keys)
    const closed = new Promise<CircuitClosedError>(resolve => c.onClose(resolve))
    c.sendRelay(1, RelayCommand.EXTEND, 0, encodeExtend({ linkSpecifier: new TextEncoder().encode('r3'), handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: hs.message }), { early: false })
    expect([DestroyReason.PROTOCOL, DestroyReason.DESTROYED]).toContain((await closed).reason)
    expect(net.relays.get('r2')!.service.counters.protocolErrors).toBe(1)
    expect(net.relays.get('r3')!.service.size).toBe(0)
  })

  it('the client marks exactly its first MAX_RELAY_EARLY relay cells EARLY, whatever the length', async () => {
    const net = net3()
    const { client, links } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2', 'r3'))
    for (let i = 0; i < 10; i++) c.sendRelay(2, RelayCommand.DROP, 0, new Uint8Array())
    const toR1 = links.get('r1')!
    const marks = toR1.sent.map(b => decodeCell(b)).filter(d => d.command === 'relay').map(d => d.command === 'relay' && d.early)
    expect(marks).toEqual([...Array(MAX_RELAY_EARLY).fill(true), ...Array(12 - MAX_RELAY_EARLY).fill(false)])
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(c.state).toBe('open')
    c.destroy()
  })

  it('a circuit of MAX_HOPS builds; a 9th hop is refused (no EARLY left), and so is one more EARLY cell', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    // r1 r2 r3 r1 r2 r3 r1 r2: distinct neighbours at every hop
    const names = Array.from({ length: MAX_HOPS }, (_, i) => ['r1', 'r2', 'r3'][i % 3])
    const c = await client.build(net.hops(...names), { signal: AbortSignal.timeout(10_000) })
    expect(c.hops).toBe(MAX_HOPS)
    await expect(c.extend(net.hops('r3')[0])).rejects.toBeInstanceOf(OnionError) // the client refuses itself
    // force it: the 8th relay cell is not EARLY, so the last hop refuses the EXTEND
    const hs = clientStart(systemRng, net.relays.get('r3')!.hop.keys)
    const ext = encodeExtend({ linkSpecifier: new TextEncoder().encode('r3'), handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: hs.message })
    const closed = new Promise<CircuitClosedError>(resolve => c.onClose(resolve))
    c.sendRelay(MAX_HOPS - 1, RelayCommand.EXTEND, 0, ext)
    expect([DestroyReason.PROTOCOL, DestroyReason.DESTROYED]).toContain((await closed).reason)
    await until(() => [...net.relays.values()].every(r => r.service.size === 0), 2_000, 'teardown')

    // and marking it EARLY anyway: the first hop sees one EARLY cell too many
    const c2 = await client.build(net.hops(...names), { signal: AbortSignal.timeout(10_000) })
    const closed2 = new Promise<CircuitClosedError>(resolve => c2.onClose(resolve))
    c2.sendRelay(MAX_HOPS - 1, RelayCommand.EXTEND, 0, ext, { early: true })
    expect((await closed2).reason).toBe(DestroyReason.PROTOCOL) // refused at the first hop itself
    expect(net.relays.get('r1')!.service.counters.protocolErrors).toBeGreaterThanOrEqual(1)
  })

  it('a CREATE with a bad handshake or a circuit id from the wrong half is refused with DESTROY', async () => {
    const net = net3()
    const { links } = net.addClient('client')
    const got: number[] = []
    const link = net.link('client', 'r1')
    link.receiver = { onCell: (b) => { const d = decodeCell(b); if (d.command === 'destroy') got.push(d.reason) }, onLinkClosed: () => {} }
    link.send(encodeCell({ command: 'create', circId: (CIRC_ID_HIGH_BIT | 5) >>> 0, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: bytes(1280) }))
    link.send(encodeCell({ command: 'create', circId: 5, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: clientStart(systemRng, net.relays.get('r1')!.hop.keys).message }))
    // a relay cell for no circuit, a malformed cell: ignored / counted, never thrown
    link.send(encodeCell({ command: 'relay', circId: (CIRC_ID_HIGH_BIT | 9) >>> 0, early: false, body: new Uint8Array(2043) }))
    const junk = bytes(CELL_SIZE); junk[4] = 99
    link.send(junk)
    await until(() => got.length === 2, 2_000, 'two DESTROYs')
    expect(got).toEqual([DestroyReason.PROTOCOL, DestroyReason.PROTOCOL])
    const r1 = net.relays.get('r1')!.service
    expect(r1.size).toBe(0)
    expect(r1.counters.handshakeFailures).toBe(1)
    expect(r1.counters.unknownCircuit).toBe(1)
    expect(r1.counters.malformedCells).toBe(1)
    void links
  })

  it('random cells never crash a relay nor leave state behind', async () => {
    const net = net3()
    net.addClient('client')
    const link = net.link('client', 'r1')
    link.receiver = { onCell: () => {}, onLinkClosed: () => {} }
    fc.assert(fc.property(fc.uint8Array({ minLength: CELL_SIZE, maxLength: CELL_SIZE }), fc.constantFrom(0, 1, 2, 3, 4, 5), (b, cmd) => {
      b[4] = cmd
      link.send(b)
    }), { numRuns: 300 })
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(net.relays.get('r1')!.service.size).toBe(0)
  })

  it('a build toward a hop that never answers fails with the failing hop named; a closed link ends circuits', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    // r2 drops everything r1 sends it
    net.link('r1', 'r2').tamper = () => undefined
    const err = await client.build(net.hops('r1', 'r2', 'r3'), { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CircuitBuildError)
    expect((err as CircuitBuildError).hopsBuilt).toBe(1)
    await until(() => net.relays.get('r1')!.service.size === 0, 2_000, 'r1 to forget the failed circuit')

    const c = await client.build(net.hops('r1', 'r3', 'r2'))
    const s = await c.openStream('echo')
    net.link('r1', 'r3').close()
    await expect(s.read({ signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(CircuitClosedError)
    expect(c.state).toBe('closed')
  })

  it('a stream to an unknown target is refused; many streams share a circuit', async () => {
    const net = net3()
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2', 'r3'))
    await expect(c.openStream('nothing-here')).rejects.toBeInstanceOf(OnionError)
    const streams = await Promise.all(Array.from({ length: 8 }, async () => c.openStream('echo')))
    await Promise.all(streams.map(async (s, i) => {
      const m = bytes(30_000 + i, i)
      await s.send(m)
      expect(await s.read()).toEqual(m)
      await s.close()
    }))
    c.destroy()
  })
})

void encodeRelayCell

describe('idle circuits and build timeouts', { timeout: 30_000 }, () => {
  it('a relay destroys a circuit that carried no cell for idleMs, and only then', async () => {
    const net = new FakeNet()
    for (const n of ['r1', 'r2']) net.addRelay(n, { idleMs: 60_000, clock: net.clock })
    const { client } = net.addClient('client')
    const c = await client.build(net.hops('r1', 'r2'), { signal: AbortSignal.timeout(10_000) })
    const relays = [...net.relays.values()].map(r => r.service)
    net.clock.advance(50_000)
    const s = await c.openStream('echo') // traffic: both relays see cells now
    await s.send(bytes(10)); expect(await s.read()).toEqual(bytes(10))
    net.clock.advance(50_000)
    for (const r of relays) r.sweepIdle()
    expect(relays.map(r => r.size)).toEqual([1, 1]) // 50 s since the last cell
    const closed = new Promise<CircuitClosedError>(resolve => c.onClose(resolve))
    net.clock.advance(10_001)
    relays[1].sweepIdle()
    expect(relays[1].size).toBe(0)
    expect(relays[1].counters.idle).toBe(1)
    expect([DestroyReason.TIMEOUT, DestroyReason.DESTROYED]).toContain((await closed).reason)
    await until(() => relays[0].size === 0, 2_000, 'r1 to forget it too')
    for (const r of relays) r.stop()
  })

  it('the manager leaves avoided relays out of new paths while others remain, and uses them rather than fail', async () => {
    const net = new FakeNet()
    const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']
    for (const n of names) net.addRelay(n)
    const { client } = net.addClient('client')
    const paths: PathSource = {
      snapshot: () => ({
        directory: new PathDirectory(names.map(id => ({ id, family: [], bandwidthClaim: 0, guardEligible: true })), { weighting: 'uniform' }),
        hop: (id) => net.relays.get(id)?.hop
      })
    }
    let avoided: string[] = ['r3', 'r4']
    const mgr = new CircuitManager({ client, paths, rng: secureRng, clock: systemClock, hops: 3, rules: { distinctSubnet: false, distinctFamily: false }, avoid: () => avoided })
    const seen = new Set<string>()
    for (let i = 0; i < 30; i++) {
      const c = await mgr.build()
      for (const h of c.path) seen.add(h.peer)
      c.destroy()
    }
    expect(seen.has('r3') || seen.has('r4')).toBe(false)
    expect([...seen].sort()).toEqual(['r1', 'r2', 'r5', 'r6'])
    expect(mgr.counters.avoidIgnored).toBe(0)
    // four of six avoided: no 3-hop path without them, so the build uses them
    avoided = ['r1', 'r2', 'r3', 'r4']
    const c = await mgr.build()
    expect(c.hops).toBe(3)
    expect(mgr.counters.avoidIgnored).toBe(1)
    c.destroy()
    for (const r of net.relays.values()) r.service.stop()
  })

  it('timed-out builds count in the build-time estimate (as Tor counts them), so the timeout can rise', async () => {
    const net = new FakeNet()
    const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'] // each failed attempt excludes one relay
    for (const n of names) net.addRelay(n)
    const { client } = net.addClient('client')
    // every relay swallows what it would send on: builds never finish
    for (const a of names) for (const b of names) if (a !== b) net.link(a, b).tamper = () => undefined
    const paths: PathSource = {
      snapshot: () => ({
        directory: new PathDirectory(names.map(id => ({ id, family: [], bandwidthClaim: 0, guardEligible: true })), { weighting: 'uniform' }),
        hop: (id) => net.relays.get(id)?.hop
      })
    }
    const buildTimes = new BuildTimeEstimator({ defaultMs: 150, minSamples: 1, floorMs: 1 })
    const mgr = new CircuitManager({ client, paths, rng: secureRng, clock: systemClock, hops: 2, attempts: 3, buildTimes, rules: { distinctSubnet: false, distinctFamily: false } })
    await expect(mgr.build()).rejects.toBeInstanceOf(CircuitBuildError)
    expect(mgr.counters.timeouts).toBe(3)
    expect(buildTimes.samples).toBe(3) // each timed-out attempt, recorded at its abandon time
    expect(buildTimes.timeoutMs()).toBeGreaterThanOrEqual(150)
  })
})
