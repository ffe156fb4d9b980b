/**
 * Circuits over real libp2p hosts: 3 relays in this process on 127.{1,2,3}.0.1
 * (OS-chosen ports, temp data dirs) and a client whose only entry relay is r1.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { startClientNode, type ClientNode } from '../../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay, type ClientCircuits } from '../../src/node/onion-glue.ts'
import { CELL_SIZE, CircuitClosedError, RelayCommand, encodeExtend, clientStart, systemRng, decodeCell, HANDSHAKE_TYPE_HYBRID_NTOR_V1, type LinkLike } from '../../src/onion/index.ts'
import { tempHome } from '../overlay/helpers.ts'

let home: { dir: string, cleanup: () => Promise<void> }
const relays: RelayNode[] = []
const onions: OnionRelay[] = []
let client: ClientNode
let circuits: ClientCircuits
const sizes = new Map<number, number>() // cell size → count, over every link end
/** Test-only tamper on r2's link to r3. */
let tamperR2toR3: ((cell: Uint8Array) => Uint8Array) | undefined

const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`
const id = (r: RelayNode): string => r.peerId.toString()

function recording (tap?: (link: LinkLike, cell: Uint8Array) => Uint8Array) {
  return (link: LinkLike): LinkLike => ({
    peer: link.peer,
    direction: link.direction,
    get closed () { return link.closed },
    send: (cell) => {
      sizes.set(cell.length, (sizes.get(cell.length) ?? 0) + 1)
      return link.send(tap === undefined ? cell : tap(link, cell))
    }
  })
}

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

beforeAll(async () => {
  home = await tempHome('veil-onion-')
  for (let i = 0; i < 3; i++) {
    const hooks = onionLinkHooks()
    const r = await startRelayNode({
      dataDir: join(home.dir, `r${i}`),
      listen: [`/ip4/127.${i + 1}.0.1/tcp/0`],
      bootstrap: i === 0 ? [] : [bootOf(relays[0])],
      testnet: true,
      control: false,
      ...hooks
    })
    relays.push(r)
    const tap = i === 1 ? (link: LinkLike, cell: Uint8Array) => (tamperR2toR3 !== undefined && link.peer === id(relays[2]) ? tamperR2toR3(cell) : cell) : undefined
    onions.push(attachOnionRelay(r, hooks, { echo: true, wrapLink: recording(tap) }))
  }
  await until(() => relays.every(r => r.directory.size === 3), 30_000, 'relay directories')
  client = await startClientNode({ bootstrap: [bootOf(relays[0])], entryCount: 1, confirmations: 1, minDirectory: 3 })
  await client.ready
  circuits = await attachCircuits(client, { startManager: false, wrapLink: recording() })
}, 60_000)

afterAll(async () => {
  await circuits?.stop()
  await client?.stop()
  for (const o of onions) o.stop()
  await Promise.all(relays.map(async r => { await r.stop() }))
  await home?.cleanup()
}, 30_000)

describe('circuits over libp2p', { timeout: 45_000 }, () => {
  it('a 3-hop circuit echoes 1 B, 100 KB and 1 MB intact; cells are CELL_SIZE; each relay knows only its neighbours', async () => {
    const path = relays.map(r => circuits.hop(id(r))!)
    const c = await circuits.client.build(path, { signal: AbortSignal.timeout(10_000) })
    const s = await c.openStream('echo', { signal: AbortSignal.timeout(5_000) })
    for (const [n, seed] of [[1, 1], [100_000, 2], [1_000_000, 3]]) {
      const m = bytes(n, seed)
      const [, back] = await Promise.all([s.send(m), s.read({ signal: AbortSignal.timeout(20_000) })])
      expect(back).toEqual(m)
    }
    await s.close()
    expect([...sizes.keys()]).toEqual([CELL_SIZE])
    expect(sizes.get(CELL_SIZE)).toBeGreaterThan(3 * 2 * 500)

    const me = client.peerId.toString()
    const [v1, v2, v3] = onions.map(o => o.service.circuits())
    expect(v1.map(v => [v.prev, v.next])).toEqual([[me, id(relays[1])]])
    expect(v2.map(v => [v.prev, v.next])).toEqual([[id(relays[0]), id(relays[2])]])
    expect(v3.map(v => [v.prev, v.next])).toEqual([[id(relays[1]), undefined]])
    // r2 and r3 never saw a connection from the client's peer id
    for (const r of relays.slice(1)) expect(Object.keys(r.status().peersSeen)).not.toContain(me)
    // the client host connected to its entry relay only
    expect(new Set(client.host.getConnections().map(x => x.remotePeer.toString()))).toEqual(new Set([id(relays[0])]))
    c.destroy()
    await until(() => onions.every(o => o.service.size === 0), 5_000, 'relays to forget the circuit')
  })

  it('a cell modified between r2 and r3 destroys that circuit at r3, and nothing else', async () => {
    const path = relays.map(r => circuits.hop(id(r))!)
    const victim = await circuits.client.build(path, { signal: AbortSignal.timeout(10_000) })
    const other = await circuits.client.build(path, { signal: AbortSignal.timeout(10_000) })
    const sv = await victim.openStream('echo')
    const so = await other.openStream('echo')
    await sv.send(bytes(10, 1))
    expect(await sv.read()).toEqual(bytes(10, 1))
    // the victim's id on the r2→r3 link
    const victimKey = onions[2].service.circuits().map(v => v.key)
    expect(victimKey.length).toBe(2)
    let victimCircId: number | undefined
    let flipped = 0
    tamperR2toR3 = (cell) => {
      const d = decodeCell(cell)
      if (d.command !== 'relay') return cell
      if (victimCircId === undefined) victimCircId = d.circId // the next relay cell is the victim's (sent below)
      if (d.circId !== victimCircId || flipped > 0) return cell
      flipped++
      const out = cell.slice()
      out[700] ^= 0x04
      return out
    }
    const unrecognisedBefore = onions[2].counters.unrecognised
    const closed = new Promise<CircuitClosedError>(resolve => victim.onClose(resolve))
    sv.send(bytes(10, 2)).catch(() => {})
    await closed
    tamperR2toR3 = undefined
    expect(onions[2].counters.unrecognised).toBe(unrecognisedBefore + 1)
    await expect(sv.read({ signal: AbortSignal.timeout(5_000) })).rejects.toBeInstanceOf(CircuitClosedError)
    // the other circuit, on the same links, still works; no relay blamed anyone
    await so.send(bytes(50_000, 4))
    expect(await so.read({ signal: AbortSignal.timeout(10_000) })).toEqual(bytes(50_000, 4))
    for (const o of onions) expect(o.counters.misbehaviour.size).toBe(0)
    expect(relays[1].links.links().every(l => !l.closed)).toBe(true)
    other.destroy()
  })

  it('an EXTEND outside RELAY_EARLY is refused, and so is one past MAX_RELAY_EARLY EARLY cells', async () => {
    const path = relays.slice(0, 2).map(r => circuits.hop(id(r))!)
    const c = await circuits.client.build(path, { signal: AbortSignal.timeout(10_000) })
    const third = circuits.hop(id(relays[2]))!
    const ext = encodeExtend({ linkSpecifier: third.linkSpecifier, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: clientStart(systemRng, third.keys).message })
    const errorsBefore = onions[1].counters.protocolErrors
    const closed = new Promise<CircuitClosedError>(resolve => c.onClose(resolve))
    c.sendRelay(1, RelayCommand.EXTEND, 0, ext, { early: false })
    await closed
    expect(onions[1].counters.protocolErrors).toBe(errorsBefore + 1)
    expect(onions[2].service.size).toBe(0)
  })

  it('the circuit manager picks a path whose first hop is the entry relay, builds it and rotates it', async () => {
    const c = await circuits.manager.get({ signal: AbortSignal.timeout(20_000) })
    expect(c.state).toBe('open')
    expect(c.path[0].peer).toBe(id(relays[0]))
    expect(new Set(c.path.map(h => h.peer)).size).toBe(3)
    expect(await circuits.manager.get()).toBe(c) // shared until it ages
    const s = await c.openStream('echo')
    await s.send(bytes(2048, 5))
    expect(await s.read()).toEqual(bytes(2048, 5))
    await s.close()
    const fresh = await circuits.manager.get({ fresh: true, signal: AbortSignal.timeout(20_000) })
    expect(fresh).not.toBe(c)
    fresh.destroy()
  })
})
