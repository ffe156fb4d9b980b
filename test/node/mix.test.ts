/**
 * Mixing wired into real relays (src/node/mix-glue.ts through attachOnionRelay and
 * attachCircuits): 4 relays over libp2p in this process, a client whose entry is r0.
 *
 * - r1 runs its mixer on a virtual clock and timer with a seeded Rng, so its per-hop
 *   delays can be read exactly (KS against Exp(mean)) and a flood can be held in it;
 * - r0, r2 and r3 mix on the system clock with a CSPRNG, as in production;
 * - every relay uses the table balanced → 13.37 ms (an unusual number, searched for in
 *   every cell), and pads idle links at 20 cells/s after 100 ms.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { join } from 'node:path'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { startClientNode, type ClientNode } from '../../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay, type ClientCircuits } from '../../src/node/onion-glue.ts'
import { relayMixer } from '../../src/node/mix-glue.ts'
import {
  CELL_SIZE, CIRC_ID_LEN, CellCommand, RelayCommand, RelayCommandTable,
  type Circuit, type ExtensionHandler, type LinkLike, type RelayCell
} from '../../src/onion/index.ts'
import {
  ManualTimer, PROFILES, RELAY_LOOP, RELAY_SET_PROFILE, encodeProfileId, LOOP_ID_LEN
} from '../../src/mix/index.ts'
import { ManualClock } from '../../src/overlay/clock.ts'
import { tempHome } from '../overlay/helpers.ts'
import { expCdf, kendallTau, ksCritical, ksStatistic, seededRng } from '../mix/helpers.ts'

const MEAN = 13.37
const TABLE = { balanced: { perHopMeanDelayMs: MEAN } }
const LANE_LIMIT = 100

let home: { dir: string, cleanup: () => Promise<void> }
const relays: RelayNode[] = []
const onions: OnionRelay[] = []
let client: ClientNode
let circuits: ClientCircuits
const mixClock = new ManualClock(0)
const mixTimer = new ManualTimer(mixClock)

interface Seen { link: LinkLike, bytes: Uint8Array, at: number }
/** Every cell handed to a link by anyone (what Noise then encrypts), per owner. */
const seen = new Map<string, Seen[]>()
/** Plaintext extension cells recognised at each relay. */
const recognised: Array<{ relay: number, cell: RelayCell }> = []
/** r1 → r2 send times on r1's virtual clock. */
const r1Releases: number[] = []

const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`
const id = (r: RelayNode): string => r.peerId.toString()

function recording (owner: string, tap?: (link: LinkLike, cell: Uint8Array) => void) {
  return (link: LinkLike): LinkLike => ({
    peer: link.peer,
    direction: link.direction,
    get closed () { return link.closed },
    send: (cell) => {
      let list = seen.get(owner)
      if (list === undefined) { list = []; seen.set(owner, list) }
      list.push({ link, bytes: cell.slice(), at: Date.now() })
      tap?.(link, cell)
      return link.send(cell)
    }
  })
}

class SpyTable extends RelayCommandTable {
  readonly #relay: number
  constructor (relay: number) { super(); this.#relay = relay }
  override get (command: number): ExtensionHandler | undefined {
    const h = super.get(command)
    if (h === undefined) return undefined
    return (ctx, cell) => { recognised.push({ relay: this.#relay, cell }); return h(ctx, cell) }
  }
}

async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

function bytes (n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}

/** Let cells already queued at r1 (e.g. a later hop's SET_PROFILE) leave, so r1 holds nothing. */
async function settleR1 (): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 100))
  mixTimer.advance(40 * MEAN)
  await until(() => onions[1].mix!.stats().inFlight === 0, 5_000, 'r1 to drain')
}

/** Run r1's virtual timer alongside real time (for circuits the manager may route through r1). */
function runR1 (): () => void {
  const t = setInterval(() => { mixTimer.advance(5) }, 5)
  return () => { clearInterval(t) }
}

/** A circuit through `path` (relay indices), announcing `profile` by hand (no cover). */
async function handBuilt (path: number[], profile = PROFILES.balanced): Promise<Circuit> {
  const c = await circuits.client.build(path.map(i => circuits.hop(id(relays[i]))!), { signal: AbortSignal.timeout(15_000) })
  for (let hop = 0; hop < c.hops; hop++) c.sendRelay(hop, RELAY_SET_PROFILE, 0, encodeProfileId(profile))
  return c
}

beforeAll(async () => {
  home = await tempHome('veil-mix-')
  for (let i = 0; i < 4; i++) {
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
    const tap = i === 1
      ? (link: LinkLike, cell: Uint8Array) => { if (link.peer === id(relays[2]) && (cell[CIRC_ID_LEN] === CellCommand.RELAY || cell[CIRC_ID_LEN] === CellCommand.RELAY_EARLY)) r1Releases.push(mixClock.now()) }
      : undefined
    onions.push(attachOnionRelay(r, hooks, {
      echo: true,
      commands: new SpyTable(i),
      wrapLink: recording(`r${i}`, tap),
      mix: i === 1 ? { clock: mixClock, timer: mixTimer, rng: seededRng(4), table: TABLE, laneLimit: LANE_LIMIT } : { table: TABLE },
      linkPadding: { policy: { ratePerSec: 20, idleAfterMs: 100 } }
    }))
  }
  await until(() => relays.every(r => r.directory.size === 4), 30_000, 'relay directories')
  client = await startClientNode({ bootstrap: [bootOf(relays[0])], entryCount: 1, confirmations: 1, minDirectory: 4 })
  await client.ready
  circuits = await attachCircuits(client, { startManager: false, wrapLink: recording('client'), mixOverrides: { loopRatePerSec: 20, dropRatePerSec: 20 } })
}, 60_000)

afterAll(async () => {
  await circuits?.stop()
  await client?.stop()
  for (const o of onions) o.stop()
  await Promise.all(relays.map(async r => { await r.stop() }))
  await home?.cleanup()
}, 30_000)

describe('mixing on real relays', { timeout: 90_000 }, () => {
  it('isolated cells: r1\'s per-hop delays fit Exp(mean) (KS, fixed seed)', async () => {
    const c = await handBuilt([0, 1, 2])
    await until(() => onions[1].mix!.stats().circuitsByProfile.balanced === 1, 5_000, 'SET_PROFILE at r1')
    await settleR1()
    const n = 300
    const delays: number[] = []
    for (let i = 0; i < n; i++) {
      const arrival = mixClock.now()
      const before = r1Releases.length
      c.sendRelay(2, RelayCommand.DROP, 0, new Uint8Array(0))
      await until(() => onions[1].mix!.stats().inFlight === 1, 5_000, `cell ${i} at r1`)
      // 40 means: past the largest possible delay (36.7 means), so cells stay ≥ 10 means apart
      mixTimer.advance(40 * MEAN)
      expect(r1Releases.length).toBe(before + 1)
      delays.push(r1Releases[before] - arrival)
    }
    const d = ksStatistic(delays, expCdf(MEAN))
    const crit = ksCritical(n, 0.01)
    const mean = delays.reduce((a, b) => a + b, 0) / n
    console.log(`KS on a real relay: n=${n} mean=${MEAN}ms sample mean=${mean.toFixed(3)}ms D=${d.toFixed(4)} critical(α=0.01)=${crit.toFixed(4)}`)
    expect(d).toBeLessThan(crit)
    c.destroy()
    await until(() => onions[1].mix!.stats().lanes === 0, 5_000, 'r1 to cancel the circuit')
  })

  it('a flood on one circuit stops at r1\'s lane bound: the excess is dropped and counted', async () => {
    const c = await handBuilt([0, 1, 2])
    await until(() => onions[1].mix!.stats().circuitsByProfile.balanced === 1, 5_000, 'SET_PROFILE at r1')
    await settleR1()
    const before = onions[1].mix!.stats()
    const flood = 3 * LANE_LIMIT
    for (let i = 0; i < flood; i++) c.sendRelay(2, RelayCommand.DROP, 0, new Uint8Array(0))
    await until(() => onions[1].mix!.stats().droppedLaneLimit - before.droppedLaneLimit === flood - LANE_LIMIT, 10_000, 'the flood at r1')
    const s = onions[1].mix!.stats()
    expect(s.inFlight).toBe(LANE_LIMIT)
    expect(s.highWater).toBeLessThanOrEqual(LANE_LIMIT)
    // the counters are in the relay's status
    const status = relays[1].status().sections.mix as { scheduler: { droppedLaneLimit: number } }
    expect(status.scheduler.droppedLaneLimit).toBe(s.droppedLaneLimit)
    c.destroy()
    mixTimer.advance(40 * MEAN)
    await until(() => onions[1].mix!.stats().inFlight === 0, 5_000, 'r1 to drain')
    // the relay-wide bound: 50,000 cells into one mixer leave exactly its capacity in flight
    const clock = new ManualClock(0)
    const m = relayMixer({ clock, timer: new ManualTimer(clock), rng: seededRng(1), table: TABLE, capacity: 10_000 })
    const t = new RelayCommandTable()
    m.register(t)
    let profileOk = 0
    for (let k = 0; k < 50; k++) {
      await t.get(RELAY_SET_PROFILE)!({ circuitKey: `k${k}`, lastHop: false, reply: () => {} }, { command: RELAY_SET_PROFILE, streamId: 0, data: Uint8Array.of(1) })
      profileOk++
    }
    for (let i = 0; i < 50_000; i++) m.scheduler.schedule(`k${i % 50}`, 'outbound', () => {})
    const ms = m.stats()
    expect(profileOk).toBe(50)
    expect(ms.inFlight).toBe(10_000)
    expect(ms.droppedCapacity).toBe(40_000)
    expect(m.stop()).toBe(10_000)
  })

  it('within a circuit loops return in order; across 50 circuits they interleave (Kendall τ)', async () => {
    const cs: Circuit[] = []
    for (let b = 0; b < 5; b++) cs.push(...await Promise.all(Array.from({ length: 10 }, async () => await handBuilt([0, 3, 2]))))
    const order: Array<[number, number]> = []
    cs.forEach((c, ci) => {
      c.onDrop = (_hop, data) => { if (data.length === LOOP_ID_LEN) order.push([data[0] * 256 + data[1], data[2]]) }
    })
    await new Promise(resolve => setTimeout(resolve, 100)) // SET_PROFILE processed everywhere
    const rounds = 4
    const sent: Array<[number, number]> = []
    for (let k = 0; k < rounds; k++) {
      for (let ci = 0; ci < cs.length; ci++) {
        const loopId = new Uint8Array(LOOP_ID_LEN)
        loopId[0] = ci >> 8; loopId[1] = ci & 0xff; loopId[2] = k
        cs[ci].sendRelay(2, RELAY_LOOP, 0, loopId)
        sent.push([ci, k])
      }
    }
    await until(() => order.length === sent.length, 20_000, 'every loop back')
    // within a circuit: output order = input order
    for (let ci = 0; ci < cs.length; ci++) {
      expect(order.filter(([c]) => c === ci).map(([, k]) => k)).toEqual([0, 1, 2, 3])
    }
    const rank = new Map(order.map(([c, k], i) => [c * rounds + k, i]))
    const tau = kendallTau(sent.map((_, i) => i), sent.map(([c, k]) => rank.get(c * rounds + k)!))
    console.log(`Kendall τ (send vs return order, ${cs.length} circuits × ${rounds} loops through 3 mixing hops out and back): ${tau.toFixed(4)}`)
    expect(tau).toBeLessThan(0.99)
    for (const c of cs) c.destroy()
  })

  it('cover, padding and link padding cells are CELL_SIZE on the same link stream as real cells', async () => {
    const stopR1 = runR1()
    const before = circuits.mix.stats()
    const c = await circuits.managerFor('balanced').get({ signal: AbortSignal.timeout(15_000) })
    const lastHop = onions[relays.findIndex(r => id(r) === c.path.at(-1)!.peer)]
    const padBefore = lastHop.mix!.stats().responsePaddingCells
    const s = await c.openStream('echo', { signal: AbortSignal.timeout(5_000) })
    const msg = bytes(5_000, 7) // (4 + 5000) B = 3 cells → padded to 4
    await s.send(msg)
    expect(await s.read({ signal: AbortSignal.timeout(10_000) })).toEqual(msg)
    // the response too: the last hop padded its 3 cells to 4
    expect(lastHop.mix!.stats().responsePaddingCells - padBefore).toBe(1)
    await new Promise(resolve => setTimeout(resolve, 800))
    const after = circuits.mix.stats()
    expect(after.cover.loops).toBeGreaterThan(before.cover.loops)
    expect(after.cover.drops).toBeGreaterThan(before.cover.drops)
    expect(after.paddingCells - before.paddingCells).toBeGreaterThanOrEqual(1)
    expect(after.loops.loopsReturned).toBeGreaterThan(0)

    // paranoid: the send stream carries the stream's cells; echo still works
    const p = await circuits.managerFor('paranoid').get({ signal: AbortSignal.timeout(15_000) })
    expect(p).not.toBe(c) // different profiles, different circuits
    const ps = await p.openStream('echo', { signal: AbortSignal.timeout(5_000) })
    await ps.send(msg)
    expect(await ps.read({ signal: AbortSignal.timeout(10_000) })).toEqual(msg)
    const st = circuits.mix.stats().stream
    expect(st.real).toBeGreaterThan(0)
    expect(st.cover).toBeGreaterThan(0)
    const live = circuits.mix.stats().circuits // the shared circuit plus each manager's pool
    expect(live.balanced).toBeGreaterThanOrEqual(1)
    expect(live.paranoid).toBeGreaterThanOrEqual(1)

    // link padding: r0 pads its idle links; same size, same link objects as real cells
    await new Promise(resolve => setTimeout(resolve, 400))
    const r0 = seen.get('r0')!
    const padding = r0.filter(x => x.bytes[CIRC_ID_LEN] === CellCommand.PADDING)
    const real = r0.filter(x => x.bytes[CIRC_ID_LEN] !== CellCommand.PADDING)
    expect(padding.length).toBeGreaterThan(0)
    expect(onions[0].padder!.stats().paddingSent).toBeGreaterThan(0)
    const realLinks = new Set(real.map(x => x.link.peer))
    expect(padding.some(x => realLinks.has(x.link.peer))).toBe(true)
    for (const [, list] of seen) for (const x of list) expect(x.bytes.length).toBe(CELL_SIZE)
    // the client sends on one link only (to r0): cover and real cells alike
    expect(new Set(seen.get('client')!.map(x => x.link.peer))).toEqual(new Set([id(relays[0])]))
    console.log(`cells seen: client ${seen.get('client')!.length}, r0 ${r0.length} (padding ${padding.length}); client mix ${JSON.stringify(circuits.mix.stats())}`)
    c.destroy(); p.destroy()
    stopR1()
  })

  it('paranoid: cover circuits beside the call circuit; each circuit\'s last hop answers at its own constant rate', async () => {
    const stopR1 = runR1()
    try {
      const p = await circuits.managerFor('paranoid').get({ signal: AbortSignal.timeout(15_000) })
      const want = PROFILES.paranoid.client.coverCircuits
      await until(() => circuits.mix.stats().coverCircuits.paranoid >= want, 30_000, 'cover circuits')
      // every paranoid circuit (call and cover) has a backward stream at its last hop
      const lanes = (): number => onions.reduce((n, o) => n + (o.mix?.stats().backward.lanes ?? 0), 0)
      await until(() => lanes() >= want + 1, 10_000, 'backward streams')
      const fillers = (): number => onions.reduce((n, o) => n + (o.mix?.stats().backward.fillers ?? 0), 0)
      const f0 = fillers()
      const t0 = Date.now()
      await new Promise(resolve => setTimeout(resolve, 1_000))
      const rate = (fillers() - f0) / ((Date.now() - t0) / 1000)
      // ≈ μ per circuit while idle (loop replies take a few of the slots)
      const μ = PROFILES.paranoid.relay.lastHopRatePerSec
      expect(rate).toBeGreaterThan(0.4 * μ * (want + 1))
      // a call still works: its cells ride its own circuit's slots, the echo the last hop's stream
      // the backward stream at the call circuit's own last hop carries the echo: CONNECTED and 3 DATA cells at least
      const lastHop = onions[relays.findIndex(r => id(r) === p.path[p.path.length - 1].peer)]
      const sentThere = (): number => lastHop.mix?.stats().backward.sent ?? 0
      const sent0 = sentThere()
      const ps = await p.openStream('echo', { signal: AbortSignal.timeout(10_000) })
      const msg = bytes(5_000, 9)
      await ps.send(msg)
      expect(await ps.read({ signal: AbortSignal.timeout(15_000) })).toEqual(msg)
      expect(sentThere() - sent0).toBeGreaterThanOrEqual(4)
      // the call's circuit counts as a call circuit, and the cover circuits are counted apart (not here)
      expect(circuits.mix.stats().circuits.paranoid).toBeGreaterThanOrEqual(1)
      expect(circuits.mix.stats().circuits.paranoid).toBeLessThan(want + 1)
      console.log(`paranoid: ${lanes()} backward streams, fillers ${rate.toFixed(1)}/s; client mix ${JSON.stringify(circuits.mix.stats())}`)
      p.destroy()
    } finally { stopR1() }
  })

  it('an unknown profile id, or a second SET_PROFILE, destroys the circuit at that hop', async () => {
    const stopR1 = runR1()
    try {
      const path = [0, 3, 2].map(i => circuits.hop(id(relays[i]))!)
      const refusedBefore = onions[3].mix!.stats().profileRefused
      const bad = await circuits.client.build(path, { signal: AbortSignal.timeout(15_000) })
      const closed = new Promise(resolve => bad.onClose(resolve))
      bad.sendRelay(1, RELAY_SET_PROFILE, 0, Uint8Array.of(7))
      await closed
      const twice = await circuits.client.build(path, { signal: AbortSignal.timeout(15_000) })
      const closed2 = new Promise(resolve => twice.onClose(resolve))
      twice.sendRelay(1, RELAY_SET_PROFILE, 0, encodeProfileId(PROFILES.fast))
      twice.sendRelay(1, RELAY_SET_PROFILE, 0, encodeProfileId(PROFILES.paranoid))
      await closed2
      expect(onions[3].mix!.stats().profileRefused).toBe(refusedBefore + 2)
    } finally { stopR1() }
  })

  it('a profile\'s numbers never appear in a cell: a hop sees only the one-byte id', () => {
    // plaintext at the hops: every SET_PROFILE carried exactly one byte, a known id
    const sets = recognised.filter(r => r.cell.command === RELAY_SET_PROFILE)
    expect(sets.length).toBeGreaterThan(50)
    for (const r of sets) expect(r.cell.data.length).toBe(1)
    // known ids only — apart from the one id 7 the previous test sent on purpose (refused)
    expect(sets.filter(r => ![0, 1, 2].includes(r.cell.data[0])).map(r => r.cell.data[0])).toEqual([7])
    // and no encoding of any profile number in any plaintext extension cell or any link cell
    const numbers = [MEAN, PROFILES.paranoid.relay.perHopMeanDelayMs, 20, PROFILES.paranoid.client.sendRatePerSec, PROFILES.balanced.client.loopRatePerSec]
    const needles: Uint8Array[] = []
    for (const x of numbers) {
      const b = new DataView(new ArrayBuffer(8))
      b.setFloat64(0, x); needles.push(new Uint8Array(b.buffer.slice(0)))
      b.setFloat64(0, x, true); needles.push(new Uint8Array(b.buffer.slice(0)))
      const f = new DataView(new ArrayBuffer(4))
      f.setFloat32(0, x); needles.push(new Uint8Array(f.buffer.slice(0)))
      f.setFloat32(0, x, true); needles.push(new Uint8Array(f.buffer.slice(0)))
      needles.push(new TextEncoder().encode(String(x) + (Number.isInteger(x) ? '' : '')))
      if (Number.isInteger(x * 1000)) {
        const u = new DataView(new ArrayBuffer(4))
        u.setUint32(0, x * 1000); needles.push(new Uint8Array(u.buffer.slice(0)))
        u.setUint32(0, x * 1000, true); needles.push(new Uint8Array(u.buffer.slice(0)))
      }
    }
    needles.push(new TextEncoder().encode('perHopMeanDelayMs'))
    const contains = (hay: Uint8Array, needle: Uint8Array): boolean => {
      if (needle.length < 4) return false // 1–3 byte strings occur by chance in 2 KB of ciphertext
      outer: for (let i = 0; i + needle.length <= hay.length; i++) {
        for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
        return true
      }
      return false
    }
    let scanned = 0
    for (const r of recognised) for (const n of needles) expect(contains(r.cell.data, n), `${r.cell.command} ${Buffer.from(r.cell.data).toString("hex")} has ${Buffer.from(n).toString("hex")}`).toBe(false)
    // in 2 KB of ciphertext a given 4-byte string turns up by chance (≈ 2^-21 per cell): link
    // cells get the ≥ 8-byte encodings — those with ≥ 4 non-zero bytes: a round number's
    // float64 (20 = 40 34 00 00 00 00 00 00) is two bytes of entropy, and a CREATE cell's
    // random handshake followed by its zero padding holds one by chance about once in 2^16 cells
    const long = needles.filter(n => n.length >= 8 && n.filter(b => b !== 0).length >= 4)
    expect(long.length).toBeGreaterThanOrEqual(2) // 13.37 both ways at least
    for (const [, list] of seen) {
      for (const x of list) {
        scanned++
        for (const n of long) expect(contains(x.bytes, n), `link cell has ${Buffer.from(n).toString('hex')}`).toBe(false)
      }
    }
    expect(scanned).toBeGreaterThan(1000)
  })
})
