/**
 * Issue 3's "Done when", on a loopback network of 10 relays in this process
 * (each its own libp2p host — TCP + Noise + Yamux — data dir, keys and address)
 * and one client whose entry relays are all ten:
 *
 *   r0–r3  127.50.0.1–4    one /16
 *   r4, r5 127.51.0.1, 127.52.0.1   one declared family (each lists the other)
 *   r6–r9  127.53–56.0.1
 *
 * Every relay's links are instrumented: the peers it received cells from and
 * sent cells to, and an optional tamper on the cells it sends.
 * Covered elsewhere: arti's CGO vectors (test/onion/cgo-arti.test.ts), FIPS 203
 * and RFC 7748 vectors (test/onion/mlkem.test.ts, x25519.test.ts); the same
 * items on 3 relays (test/node/onion-circuits.test.ts) and in memory
 * (test/onion/circuit.test.ts).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import fc from 'fast-check'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { startClientNode, type ClientNode } from '../../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay, type ClientCircuits } from '../../src/node/onion-glue.ts'
import { loadOrCreateIdentity } from '../../src/overlay/index.ts'
import {
  CELL_SIZE, CIRC_ID_HIGH_BIT, MAX_HOPS, CircuitClosedError, OnionError, RelayCommand, CellCommand, DestroyReason, HANDSHAKE_TYPE_HYBRID_NTOR_V1,
  clientStart, decodeCell, encodeCell, encodeExtend, type Circuit, type LinkLike, type OnionStream
} from '../../src/onion/index.ts'
import { tempHome } from '../overlay/helpers.ts'

const N = 10
const SAME_16 = [0, 1, 2, 3]
const FAMILY = [4, 5]
const MAX_CIRCUITS_PER_LINK = 128
const addrOf = (i: number): string => i < 4 ? `127.50.0.${i + 1}` : `127.${51 + i - 4}.0.1`

let home: { dir: string, cleanup: () => Promise<void> }
const relays: RelayNode[] = []
const onions: OnionRelay[] = []
let client: ClientNode
let circuits: ClientCircuits
/** Per relay: peers it received cells from / sent cells to (reset by tests). */
const rx: Array<Set<string>> = Array.from({ length: N }, () => new Set())
const tx: Array<Set<string>> = Array.from({ length: N }, () => new Set())
/** Per relay: an optional tamper on the cells it sends (return the cell to send). */
const tamper: Array<((to: string, cell: Uint8Array) => Uint8Array) | undefined> = new Array(N).fill(undefined)
/** Messages the 'collect' target at each relay received. */
const delivered: Uint8Array[] = []
/** The client's links by peer (the raw view, to inject cells as an attacker on that link would). */
const clientLinks = new Map<string, LinkLike>()
const clientSent: Uint8Array[] = []

const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`
const id = (i: number): string => relays[i].peerId.toString()
const indexOf = (peer: string): number => relays.findIndex(r => r.peerId.toString() === peer)

async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

function bytes (n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}

async function echo (s: OnionStream, m: Uint8Array, ms = 20_000): Promise<Uint8Array | undefined> {
  const [, back] = await Promise.all([s.send(m), s.read({ signal: AbortSignal.timeout(ms) })])
  return back
}

async function quiet (): Promise<void> {
  await until(() => onions.every(o => o.service.size === 0), 20_000, 'relays to forget every circuit')
}

beforeAll(async () => {
  home = await tempHome('veil-circuits10-')
  // identities first: r4 and r5 declare each other as family
  const ids: string[] = []
  for (let i = 0; i < N; i++) ids.push(peerIdFromPrivateKey(await loadOrCreateIdentity(join(home.dir, `r${i}`))).toString())
  const circIdOf = (cell: Uint8Array): number => new DataView(cell.buffer, cell.byteOffset, cell.byteLength).getUint32(0)
  const start = async (i: number): Promise<void> => {
    const hooks = onionLinkHooks()
    const onCell = hooks.onCell
    // circuit cells only: link-level padding (circuit id 0) goes to whichever neighbours a
    // relay has links with and carries nothing about any path (tested in test/node/mix*.ts)
    hooks.onCell = (cell, link) => { if (circIdOf(cell) !== 0) rx[i].add(link.peer.toString()); onCell(cell, link) }
    const r = await startRelayNode({
      dataDir: join(home.dir, `r${i}`),
      listen: [`/ip4/${addrOf(i)}/tcp/0`],
      bootstrap: i === 0 ? [] : [bootOf(relays[0])],
      family: FAMILY.includes(i) ? FAMILY.filter(j => j !== i).map(j => ids[j]) : [],
      testnet: true,
      control: false,
      ...hooks
    })
    relays[i] = r
    const wrapLink = (link: LinkLike): LinkLike => ({
      peer: link.peer,
      direction: link.direction,
      get closed () { return link.closed },
      send: (cell) => {
        if (circIdOf(cell) !== 0) tx[i].add(link.peer)
        const t = tamper[i]
        return link.send(t === undefined ? cell : t(link.peer, cell))
      }
    })
    const o = attachOnionRelay(r, hooks, { echo: true, wrapLink, maxCircuitsPerLink: MAX_CIRCUITS_PER_LINK })
    o.streams.register('collect', async (s: OnionStream) => {
      for await (const m of s) { delivered.push(m); await s.send(Uint8Array.of(1)) }
      await s.close()
    })
    onions[i] = o
  }
  await start(0)
  await Promise.all(Array.from({ length: N - 1 }, async (_, k) => { await start(k + 1) }))
  await until(() => relays.every(r => r.directory.size === N), 60_000, 'every relay directory to hold every relay')
  client = await startClientNode({ bootstrap: relays.map(bootOf), entryCount: N, confirmations: 2, minDirectory: N })
  await client.ready
  circuits = await attachCircuits(client, {
    startManager: false,
    wrapLink: (link) => {
      clientLinks.set(link.peer, link)
      return { peer: link.peer, direction: link.direction, get closed () { return link.closed }, send: (cell) => { clientSent.push(cell); return link.send(cell) } }
    }
  })
}, 90_000)

afterAll(async () => {
  await circuits?.stop()
  await client?.stop()
  for (const o of onions) o?.stop()
  await Promise.all(relays.map(async r => { await r?.stop() }))
  await home?.cleanup()
}, 60_000)

describe(`circuits on ${N} relays`, { timeout: 60_000 }, () => {
  it('a 3-hop circuit carries a 5 MB message byte-exact each way', async () => {
    const c = await circuits.manager.build({ signal: AbortSignal.timeout(20_000) })
    expect(c.hops).toBe(3)
    const s = await c.openStream('echo', { signal: AbortSignal.timeout(10_000) })
    const m = bytes(5_000_000, 42)
    const back = await echo(s, m, 40_000)
    expect(back?.length).toBe(m.length)
    expect(Buffer.compare(Buffer.from(back!), Buffer.from(m))).toBe(0) // client → last hop, and last hop → client
    await s.close()
    c.destroy()
    await quiet()
  })

  it('50 circuits built concurrently all succeed, and each carries a message', async () => {
    const failuresBefore = circuits.manager.counters.buildFailures
    const built = await Promise.all(Array.from({ length: 50 }, async () => circuits.manager.build({ signal: AbortSignal.timeout(45_000) })))
    expect(built.every(c => c.state === 'open' && c.hops === 3)).toBe(true)
    expect(circuits.manager.counters.buildFailures - failuresBefore).toBe(0) // none needed a retry
    await Promise.all(built.map(async (c, i) => {
      const s = await c.openStream('echo', { signal: AbortSignal.timeout(20_000) })
      expect(await echo(s, bytes(100, i))).toEqual(bytes(100, i))
    }))
    for (const c of built) c.destroy()
    await quiet()
  })

  it('path rules: 1,000 built paths never hold two of r0–r3 (one /16) nor both r4 and r5 (one family)', async () => {
    let checked = 0
    const seen = new Set<number>()
    const worker = async (): Promise<void> => {
      while (checked < 1000) {
        checked++
        const c = await circuits.manager.build({ signal: AbortSignal.timeout(30_000) })
        const idx = c.path.map(h => indexOf(h.peer))
        c.destroy()
        for (const i of idx) seen.add(i)
        expect(new Set(idx).size).toBe(3)
        expect(idx.filter(i => SAME_16.includes(i)).length).toBeLessThanOrEqual(1)
        expect(FAMILY.every(i => idx.includes(i))).toBe(false)
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    expect(checked).toBeGreaterThanOrEqual(1000)
    expect(seen.size).toBe(N) // every relay was used: the rules exclude pairs, not relays
    await quiet()
  }, 120_000)

  it('instrumented: every relay on a path exchanged cells only with its two neighbours, others with nobody', async () => {
    await quiet()
    for (const s of [...rx, ...tx]) s.clear()
    const c = await circuits.manager.build({ signal: AbortSignal.timeout(20_000) })
    const s = await c.openStream('echo')
    expect(await echo(s, bytes(30_000, 7))).toEqual(bytes(30_000, 7))
    await s.close()
    const path = c.path.map(h => indexOf(h.peer))
    c.destroy()
    await quiet()
    const me = client.peerId.toString()
    for (let i = 0; i < N; i++) {
      const k = path.indexOf(i)
      const expected = k < 0 ? [] : [k === 0 ? me : id(path[k - 1]), ...(k < path.length - 1 ? [id(path[k + 1])] : [])]
      expect([...rx[i]].sort()).toEqual(expected.slice().sort())
      expect([...tx[i]].sort()).toEqual(expected.slice().sort())
    }
  })

  it('a relay that flips one bit in a relay cell gets the circuit destroyed, and no corrupted data is delivered (both directions)', async () => {
    for (const direction of ['outbound', 'inbound'] as const) {
      const c = await circuits.manager.build({ signal: AbortSignal.timeout(20_000) })
      const path = c.path.map(h => indexOf(h.peer))
      const middle = path[1]
      const toward = direction === 'outbound' ? id(path[2]) : id(path[0])
      const s = await c.openStream('collect')
      const first = bytes(5_000, 1)
      expect(await echo(s, first)).toEqual(Uint8Array.of(1))
      delivered.length = 0
      let flipped = 0
      tamper[middle] = (to, cell) => {
        if (to !== toward || flipped > 0 || cell.length !== CELL_SIZE || cell[4] !== CellCommand.RELAY) return cell
        flipped++
        const out = cell.slice()
        out[900] ^= 0x10
        return out
      }
      const closed = new Promise<CircuitClosedError>(resolve => c.onClose(resolve))
      const second = bytes(5_000, 2)
      const reply = echo(s, second, 10_000)
      await expect(reply).rejects.toBeInstanceOf(OnionError)
      const err = await closed
      tamper[middle] = undefined
      expect(flipped).toBe(1)
      expect(err).toBeInstanceOf(CircuitClosedError)
      // outbound: the last hop got the flipped cell and delivered nothing; inbound: the exit got
      // the message intact, its one-byte answer was flipped, and the client delivered nothing
      if (direction === 'outbound') expect(delivered).toEqual([])
      else expect(delivered.map(m => Buffer.from(m).equals(Buffer.from(second)))).toEqual([true])
      await quiet()
    }
  })

  it('a replayed CREATE yields no usable circuit', async () => {
    clientSent.length = 0
    const c = await circuits.manager.build({ signal: AbortSignal.timeout(20_000) })
    const entry = indexOf(c.path[0].peer)
    const create = clientSent.find(b => decodeCell(b).command === 'create' && decodeCell(b).circId === c.circId)!
    const extend = clientSent.find(b => b[4] === CellCommand.RELAY_EARLY && decodeCell(b).circId === c.circId)!
    expect(create).toBeDefined()
    expect(extend).toBeDefined()
    const o = onions[entry]
    const before = { ...o.counters }
    // an observer of the client's link replays both cells under a circuit id of its own
    const replayId = (CIRC_ID_HIGH_BIT | 0x1234_5677) >>> 0
    const withId = (cell: Uint8Array): Uint8Array => { const out = cell.slice(); new DataView(out.buffer).setUint32(0, replayId); return out }
    const link = clientLinks.get(c.path[0].peer)!
    link.send(withId(create))
    await until(() => o.counters.created === before.created + 1, 10_000, 'the entry to answer the replayed CREATE')
    link.send(withId(extend))
    await until(() => o.counters.unrecognised === before.unrecognised + 1, 10_000, 'the replayed EXTEND to be refused')
    // fresh Y and C at the relay: the replayed cell means nothing under the new keys; nothing was extended
    expect(o.counters.extended).toBe(before.extended)
    expect(o.service.circuits().length).toBe(1) // only the genuine circuit
    // and the genuine circuit is untouched
    const s = await c.openStream('echo')
    expect(await echo(s, bytes(1000, 3))).toEqual(bytes(1000, 3))
    c.destroy()
    await quiet()
  })

  it(`a circuit that tries a ${MAX_HOPS + 1}th hop is destroyed`, async () => {
    const order = [6, 7, 8, 9, 0, 4, 2, 5] // MAX_HOPS relays, hand-picked (a hand-made path skips selection rules)
    const path = order.map(i => circuits.hop(id(i))!)
    const c = await circuits.client.build(path, { signal: AbortSignal.timeout(30_000) })
    expect(c.hops).toBe(MAX_HOPS)
    const ninth = circuits.hop(id(1))!
    await expect(c.extend(ninth)).rejects.toBeInstanceOf(OnionError) // the client refuses itself
    const ext = encodeExtend({ linkSpecifier: ninth.linkSpecifier, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: clientStart((n) => crypto.getRandomValues(new Uint8Array(n)), ninth.keys).message })
    // forced: without EARLY the last hop refuses the EXTEND; marked EARLY the first hop sees one EARLY cell too many
    for (const early of [false, true]) {
      const cc: Circuit = early ? await circuits.client.build(path, { signal: AbortSignal.timeout(30_000) }) : c
      const closed = new Promise<CircuitClosedError>(resolve => cc.onClose(resolve))
      cc.sendRelay(MAX_HOPS - 1, RelayCommand.EXTEND, 0, ext, { early })
      const err = await closed
      expect([DestroyReason.PROTOCOL, DestroyReason.DESTROYED]).toContain(err.reason)
      await quiet()
      expect(onions[1].service.size).toBe(0)
    }
  })

  it('random and malformed cells (fast-check) never crash a relay nor grow its state; a CREATE flood stays bounded', async () => {
    const c0 = await circuits.manager.build({ signal: AbortSignal.timeout(20_000) })
    const entry = indexOf(c0.path[0].peer)
    c0.destroy()
    await quiet()
    const o = onions[entry]
    const link = clientLinks.get(id(entry))!
    const before = { ...o.counters }
    const inbound = (): number => relays[entry].links.links().find(l => l.peer.toString() === client.peerId.toString())?.stats.cellsIn ?? 0
    const inBefore = inbound()
    let sent = 0
    fc.assert(fc.property(
      fc.uint8Array({ minLength: CELL_SIZE, maxLength: CELL_SIZE }),
      fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 200),
      fc.boolean(),
      (b, cmd, highHalf) => {
        b[4] = cmd
        if (highHalf) b[0] |= 0x80
        link.send(b)
        sent++
      }), { numRuns: 1000 })
    await until(() => inbound() >= inBefore + 1000, 20_000, 'the relay to take every cell')
    expect(sent).toBe(1000)
    expect(o.service.size).toBe(0) // nothing random left state behind
    expect(o.counters.misbehaviour.size).toBeLessThanOrEqual(1024)
    expect(o.counters.malformedCells + o.counters.unknownCircuit + o.counters.handshakeFailures + o.counters.protocolErrors)
      .toBeGreaterThan(before.malformedCells + before.unknownCircuit + before.handshakeFailures + before.protocolErrors)

    // valid CREATEs past the per-link cap: refused with RESOURCE_LIMIT, state capped
    const hop = circuits.hop(id(entry))!
    const ids: number[] = []
    for (let i = 0; i < MAX_CIRCUITS_PER_LINK + 40; i++) {
      const circId = (CIRC_ID_HIGH_BIT | (0x0100_0000 + i)) >>> 0
      ids.push(circId)
      link.send(encodeCell({ command: 'create', circId, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: clientStart((n) => crypto.getRandomValues(new Uint8Array(n)), hop.keys).message }))
    }
    await until(() => o.counters.created + o.counters.resourceLimit >= before.created + before.resourceLimit + ids.length, 30_000, 'every CREATE answered')
    expect(o.service.size).toBe(MAX_CIRCUITS_PER_LINK)
    expect(o.counters.resourceLimit - before.resourceLimit).toBe(40)
    for (const circId of ids) link.send(encodeCell({ command: 'destroy', circId, reason: DestroyReason.REQUESTED }))
    await quiet()
    // still serving
    const c = await circuits.client.build([hop, circuits.hop(id((entry + 5) % N))!], { signal: AbortSignal.timeout(20_000) })
    const s = await c.openStream('echo')
    expect(await echo(s, bytes(100, 9))).toEqual(bytes(100, 9))
    c.destroy()
    await quiet()
  })

  it('killing a middle relay mid-transfer ends the stream with a clear error at the client, in time', async () => {
    const c = await circuits.manager.build({ signal: AbortSignal.timeout(20_000) })
    const middle = indexOf(c.path[1].peer)
    const s = await c.openStream('echo')
    const transfer = echo(s, bytes(5_000_000, 5), 60_000)
    transfer.catch(() => {})
    await until(() => onions[middle].counters.forwardedOut > 200, 20_000, 'the transfer to be under way')
    const t0 = Date.now()
    // a crash: every connection of the middle relay reset at once, then the node gone
    onions[middle].stop()
    for (const conn of relays[middle].host.getConnections()) conn.abort(new Error('killed'))
    await relays[middle].stop()
    const err = await transfer.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(OnionError)
    expect((err as Error).message).toMatch(/destroyed|closed/)
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(c.state).toBe('closed')
  })
})
