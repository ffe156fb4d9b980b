/**
 * Mixing benchmark (issue 4's anonymity experiment), on an in-process loopback network:
 * R = 20 relays on 127.1-20.0.1 (real libp2p: TCP + Noise + Yamux; each relay mixes with
 * the preset table and pads idle links) and N = 10 clients, each with its own libp2p host
 * and its own link to its guard, calling the echo target at the last hop of a 3-hop circuit.
 *
 * Paths are fixed so that the far end is N separate flows: guards are relays 0..4 (two
 * clients each, on separate links), middles 5..9, last hops 10..19 (one per client). For
 * each profile (fast, balanced, paranoid) every client gets a fresh circuit announcing
 * that profile (with its cover and padding) and runs a Poisson workload of calls for
 * PHASE_S seconds: at rate CALLS_PER_S, a message of 1..MAX_CELLS cells, echoed back.
 * Paranoid clients also keep the profile's cover circuits (5), built as the client would
 * build them but drawn from the same relay roles: own guard, a random middle of 5..9, a
 * random last hop of 10..19 other than its call circuit's.
 *
 * The adversary sees the link-level time of every cell (real, cover, padding alike —
 * Noise hides which is which) on every client–guard link (both directions) and on every
 * link into the last hops 10..19 from any relay (both directions). It bins each link's
 * cell times, and for each client picks the far-end link whose series has the highest
 * Pearson correlation with the client's series at any lag within ±1 s; a client is
 * matched when that is its own call circuit's link. It tries 18 variants: bins of 50, 250 and 1,000 ms; both directions, away
 * from the client only, toward it only; raw, or with the common mode (the per-bin mean
 * over all links: load, event-loop stalls) removed. match_accuracy is the variant the
 * adversary is most confident in (mean gap between its best and second-best match, in
 * standard deviations — computable without the answer); match_accuracy_best_variant is
 * the best variant in hindsight (an upper bound that uses the answer). chance = 1/N.
 * event_loop_utilization: the whole network shares one Node event loop here; near 1 it
 * adds queueing jitter to every cell, which blurs timings for the adversary too.
 *
 * Figures per profile: rtt_p50/p99_ms over every call; cover_overhead = cells on the
 * client–guard links / cells the calls needed (request and response DATA cells plus
 * BEGIN, CONNECTED and END), minus 1; match_accuracy.
 * A fourth phase, paranoid_light, runs paranoid with a local override (λ = 10/s, loops
 * 1/s): a lighter client load on the one shared event loop (see event_loop_utilization:
 * near 1, queueing jitter would blur timings for the adversary, so a low accuracy would
 * not be the design's merit). The relays' backward streams (μ) are relay-held and stay.
 * Last line: {"bench":"mix","relays":20,"clients":10,"chance":0.1,"fast":{…},"balanced":{…},"paranoid":{…},…}
 * Env: VEIL_BENCH_MIX_CLIENTS (10), VEIL_BENCH_MIX_PHASE_S (30), VEIL_BENCH_MIX_SEED (1).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { startRelayNode, type RelayNode } from '../src/node/relay.ts'
import { startClientNode, type ClientNode } from '../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay, type ClientCircuits } from '../src/node/onion-glue.ts'
import { RELAY_DATA_MAX, MESSAGE_LENGTH_LEN, type LinkLike, type Circuit } from '../src/onion/index.ts'
import { ClientMix } from '../src/node/mix-glue.ts'
import { PROFILE_NAMES, systemTimer, type ProfileName } from '../src/mix/index.ts'
import { secureRng, systemClock } from '../src/overlay/clock.ts'
import { percentile, report, round } from './common.ts'

const RELAYS = 20
const N = Number(process.env.VEIL_BENCH_MIX_CLIENTS ?? 10)
const PHASE_S = Number(process.env.VEIL_BENCH_MIX_PHASE_S ?? 30)
let seed = Number(process.env.VEIL_BENCH_MIX_SEED ?? 1)
const CALLS_PER_S = 1
const MAX_CELLS = 8
/** Bin widths the adversary tries; it is credited with the best of them (the safe side for a privacy claim). */
const BINS_MS = [50, 250, 1000]
/** Lags tried: ±1 s either way. */
const MAX_LAG_MS = 1000
const GUARDS = 5
const LIGHT = { sendRatePerSec: 10, loopRatePerSec: 1 }
const log = (s: string): void => { process.stderr.write(s + '\n') }
const sorted = (xs: number[]): number[] => xs.slice().sort((a, b) => a - b)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Workload randomness (not secret): a seeded generator, so runs are comparable. */
function rand (): number {
  seed = (seed * 1103515245 + 12345) >>> 0
  return ((seed >>> 8) + 1) / (2 ** 24 + 1)
}

// ---------------------------------------------------------------------------
// What the adversary records: (link, time) for every cell
// ---------------------------------------------------------------------------

/** Observed cell times per link key ("from>to"), only while recording. */
const observed = new Map<string, number[]>()
let recording = false
const watched = new Set<string>() // link keys the adversary watches

function tap (owner: string) {
  return (link: LinkLike): LinkLike => ({
    peer: link.peer,
    direction: link.direction,
    get closed () { return link.closed },
    send: (cell) => {
      if (recording) {
        const key = `${owner}>${link.peer}`
        if (watched.has(key)) {
          let l = observed.get(key)
          if (l === undefined) { l = []; observed.set(key, l) }
          l.push(performance.now())
        }
      }
      return link.send(cell)
    }
  })
}

// ---------------------------------------------------------------------------
// The correlation attack
// ---------------------------------------------------------------------------

function bins (times: number[], t0: number, n: number, binMs: number): Float64Array {
  const out = new Float64Array(n)
  for (const t of times) {
    const i = Math.floor((t - t0) / binMs)
    if (i >= 0 && i < n) out[i]++
  }
  return out
}

function pearsonAtLag (x: Float64Array, y: Float64Array, lag: number): number {
  // corr(x[t], y[t + lag]) over the overlap
  let sx = 0; let sy = 0; let sxx = 0; let syy = 0; let sxy = 0; let m = 0
  for (let t = Math.max(0, -lag); t < x.length && t + lag < y.length; t++) {
    const a = x[t]; const b = y[t + lag]
    sx += a; sy += b; sxx += a * a; syy += b * b; sxy += a * b; m++
  }
  if (m < 2) return 0
  const cov = sxy / m - (sx / m) * (sy / m)
  const vx = sxx / m - (sx / m) ** 2
  const vy = syy / m - (sy / m) ** 2
  return vx <= 0 || vy <= 0 ? 0 : cov / Math.sqrt(vx * vy)
}

function bestCorrelation (x: Float64Array, y: Float64Array, maxLag: number): number {
  let best = -Infinity
  for (let lag = -maxLag; lag <= maxLag; lag++) best = Math.max(best, pearsonAtLag(x, y, lag))
  return best
}

/** One way of looking at the links: which directions, and whether the common mode is removed. */
interface Variant { name: string, binMs: number, dir: 'both' | 'out' | 'in', demean: boolean }

const VARIANTS: Variant[] = BINS_MS.flatMap(binMs => (['both', 'out', 'in'] as const).flatMap(dir =>
  [false, true].map(demean => ({ name: `${dir}/${binMs}ms${demean ? '/demeaned' : ''}`, binMs, dir, demean }))))

/** Subtract, per bin, the mean over all series (what every link shares: load, event-loop stalls). */
function demeaned (xs: Float64Array[]): Float64Array[] {
  const n = xs[0]?.length ?? 0
  const mean = new Float64Array(n)
  for (const x of xs) for (let t = 0; t < n; t++) mean[t] += x[t] / xs.length
  return xs.map(x => x.map((v, t) => v - mean[t]))
}

/**
 * One variant of the attack: each client is matched to the far-end flow with the highest
 * best-lag correlation. Returns how many were matched correctly and the adversary's own
 * confidence (mean over clients of (best − second best) / spread of its correlations),
 * which it can compute without knowing the answer.
 */
function attack (flows: Flows, start: number, phaseMs: number, v: Variant): { matched: number, confidence: number } {
  // flows.far: every watched far-end pair; flows.answer[i]: the index in flows.far of client i's own pair
  const nb = Math.ceil(phaseMs / v.binMs)
  const pick = (o: number[], i: number[]): number[] => v.dir === 'both' ? [...o, ...i] : v.dir === 'out' ? o : i
  let xs = flows.client.map(f => bins(pick(f.out, f.in), start, nb, v.binMs))
  let ys = flows.far.map(f => bins(pick(f.out, f.in), start, nb, v.binMs))
  if (v.demean) { xs = demeaned(xs); ys = demeaned(ys) }
  const maxLag = Math.ceil(MAX_LAG_MS / v.binMs)
  let matched = 0
  let confidence = 0
  for (let i = 0; i < xs.length; i++) {
    const rs = ys.map(y => bestCorrelation(xs[i], y, maxLag))
    let bestJ = 0
    for (let j = 1; j < rs.length; j++) if (rs[j] > rs[bestJ]) bestJ = j
    if (bestJ === flows.answer[i]) matched++
    const sortedR = rs.slice().sort((a, b) => b - a)
    const mean = rs.reduce((a, b) => a + b, 0) / rs.length
    const sd = Math.sqrt(rs.reduce((a, b) => a + (b - mean) ** 2, 0) / rs.length) || 1
    confidence += ((sortedR[0] ?? 0) - (sortedR[1] ?? 0)) / sd / xs.length
  }
  return { matched, confidence }
}

/** Cell times per direction: out = away from the client, in = toward it. */
interface Flow { out: number[], in: number[] }
interface Flows { client: Flow[], far: Flow[], answer: number[] }

// ---------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------

async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

interface Client {
  node: ClientNode
  circuits: ClientCircuits
  guard: number
  middle: number
  last: number
  buildCover: (signal: AbortSignal) => Promise<Circuit>
}

/** A cover circuit's path: the client's guard, a random middle, a random last hop other than its call circuit's. */
function coverPath (guard: number, ownLast: number): number[] {
  const lasts = LASTS.filter(l => l !== ownLast)
  return [guard, MIDDLES[Math.floor(rand() * MIDDLES.length)], lasts[Math.floor(rand() * lasts.length)]]
}

/** Relay roles in this bench: last hops are 10..19, middles 5..9. */
const LASTS = Array.from({ length: 10 }, (_, i) => 10 + i)
const MIDDLES = [5, 6, 7, 8, 9]

async function main (): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'veil-bench-mix-'))
  const relays: RelayNode[] = []
  const onions: OnionRelay[] = []
  const clients: Client[] = []
  const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`
  const id = (i: number): string => relays[i].peerId.toString()
  try {
    const t0 = performance.now()
    for (let i = 0; i < RELAYS; i++) {
      const hooks = onionLinkHooks()
      const r = await startRelayNode({
        dataDir: join(home, `r${i}`),
        listen: [`/ip4/127.${i + 1}.0.1/tcp/0`],
        bootstrap: i === 0 ? [] : [bootOf(relays[0])],
        testnet: true,
        control: false,
        ...hooks
      })
      relays.push(r)
      onions.push(attachOnionRelay(r, hooks, { echo: true, wrapLink: tap(`r${i}`) }))
    }
    await until(() => relays.every(r => r.directory.size === RELAYS), 120_000, 'relay directories')
    log(`${RELAYS} relays up in ${Math.round(performance.now() - t0)} ms`)

    for (let i = 0; i < N; i++) {
      const guard = i % GUARDS
      const middle = GUARDS + (i % 5)
      const last = 10 + (i % 10)
      const node = await startClientNode({ bootstrap: [bootOf(relays[guard])], entryCount: 1, confirmations: 1, minDirectory: RELAYS })
      await node.ready
      const owner = `c${i}`
      let circuits: ClientCircuits | undefined
      const buildCover = async (signal: AbortSignal): Promise<Circuit> => {
        if (circuits === undefined) throw new Error('not attached yet')
        return await circuits.client.build(coverPath(guard, last).map(j => circuits!.hop(id(j))!), { signal })
      }
      circuits = await attachCircuits(node, { startManager: false, wrapLink: tap(owner), buildCover })
      clients.push({ node, circuits, guard, middle, last, buildCover })
      const me = node.peerId.toString()
      // the adversary's view: client–guard link both ways
      watched.add(`${owner}>${id(guard)}`)
      watched.add(`r${guard}>${me}`)
    }
    // … and every link into a last hop, both ways
    for (const l of LASTS) {
      for (let r = 0; r < RELAYS; r++) {
        if (r === l) continue
        watched.add(`r${r}>${id(l)}`)
        watched.add(`r${l}>${id(r)}`)
      }
    }
    if (new Set(clients.map(c => c.last)).size !== N) throw new Error('the far end needs one last hop per client (N ≤ 10)')
    log(`${N} clients up`)

    const results: Record<string, unknown> = {}
    for (const profile of PROFILE_NAMES) results[profile] = await phase(profile, clients, id, (c) => c.circuits.mix)
    // the preset paranoid's cover circuits would run on under the next phase
    for (const c of clients) c.circuits.mix.stop()
    await until(() => clients.every(c => c.circuits.mix.stats().coverCircuits.paranoid === 0), 10_000, 'the preset paranoid cover circuits to close')
    // paranoid with a lighter local override (λ = 10/s, loops 1/s): the same attack with
    // less client load on the shared event loop (an extra figure, not the preset)
    const light = clients.map(c => new ClientMix({ clock: systemClock, rng: secureRng, timer: systemTimer, overrides: LIGHT, isGuard: (r) => r === id(c.guard), buildCover: c.buildCover }))
    results.paranoid_light = { overrides: LIGHT, ...await phase('paranoid', clients, id, (c) => light[clients.indexOf(c)]) }
    for (const m of light) m.stop()
    report('mix', { relays: RELAYS, clients: N, chance: round(1 / N, 3), ...results, phase_s: PHASE_S, bins_ms: BINS_MS })
  } finally {
    for (const c of clients) { await c.circuits.stop().catch(() => {}); await c.node.stop().catch(() => {}) }
    for (const o of onions) o.stop()
    await Promise.all(relays.map(async r => { await r.stop().catch(() => {}) }))
    await rm(home, { recursive: true, force: true })
  }
}

async function phase (profile: ProfileName, clients: Client[], id: (i: number) => string, mixOf: (c: Client) => ClientMix): Promise<Record<string, unknown>> {
  const circuits: Circuit[] = []
  for (const c of clients) {
    const path = [c.guard, c.middle, c.last].map(i => c.circuits.hop(id(i))!)
    const circuit = await c.circuits.client.build(path, { signal: AbortSignal.timeout(30_000) })
    mixOf(c).prepare(circuit, profile)
    circuits.push(circuit)
  }
  const streams = await Promise.all(circuits.map(async c => await c.openStream('echo', { signal: AbortSignal.timeout(30_000) })))
  await sleep(2_000) // cover settles; SET_PROFILE processed
  observed.clear()
  recording = true
  const elu0 = performance.eventLoopUtilization()
  const start = performance.now()
  const rtts: number[] = []
  let neededCells = 0
  await Promise.all(streams.map(async (s) => {
    let next = start + (-Math.log(rand()) * 1000) / CALLS_PER_S
    while (next < start + PHASE_S * 1000) {
      await sleep(Math.max(0, next - performance.now()))
      const cells = 1 + Math.floor(rand() * MAX_CELLS)
      const msg = new Uint8Array(cells * RELAY_DATA_MAX - MESSAGE_LENGTH_LEN)
      const t = performance.now()
      await s.send(msg)
      const back = await s.read({ signal: AbortSignal.timeout(30_000) })
      if (back?.length !== msg.length) throw new Error('echo mismatch')
      rtts.push(performance.now() - t)
      neededCells += 2 * cells
      next += (-Math.log(rand()) * 1000) / CALLS_PER_S
      if (next < performance.now()) next = performance.now()
    }
  }))
  const end = start + PHASE_S * 1000
  await sleep(Math.max(0, end - performance.now()) + 500)
  recording = false
  for (const s of streams) await s.close().catch(() => {})
  neededCells += 3 * streams.length // BEGIN, CONNECTED, END

  const elu = performance.eventLoopUtilization(elu0)
  // the attack
  // far-end candidates: every link into a last hop that carried cells in the phase
  const pairs: Array<[number, number]> = []
  for (const l of LASTS) {
    for (let r = 0; r < RELAYS; r++) {
      if (r !== l && (observed.has(`r${r}>${id(l)}`) || observed.has(`r${l}>${id(r)}`))) pairs.push([r, l])
    }
  }
  const flows: Flows = {
    client: clients.map((c, i) => ({ out: observed.get(`c${i}>${id(c.guard)}`) ?? [], in: observed.get(`r${c.guard}>${c.node.peerId.toString()}`) ?? [] })),
    far: pairs.map(([r, l]) => ({ out: observed.get(`r${r}>${id(l)}`) ?? [], in: observed.get(`r${l}>${id(r)}`) ?? [] })),
    answer: clients.map(c => pairs.findIndex(([r, l]) => r === c.middle && l === c.last))
  }
  if (flows.answer.includes(-1)) throw new Error('a client\'s own far-end link carried no cell: the phase did not run')
  const byVariant = VARIANTS.map(v => ({ v, ...attack(flows, start, PHASE_S * 1000, v) }))
  // the adversary's choice, made without the answer: its most confident variant
  const chosen = byVariant.reduce((a, b) => b.confidence > a.confidence ? b : a)
  const oracle = byVariant.reduce((a, b) => b.matched > a.matched ? b : a)
  let clientLinkCells = 0
  for (const f of flows.client) for (const x of [...f.out, ...f.in]) if (x >= start && x < end) clientLinkCells++
  const mixStats = clients.map(c => mixOf(c).stats())
  for (const c of circuits) c.destroy()
  const r = sorted(rtts)
  const out = {
    rtt_p50_ms: round(percentile(r, 0.5), 1),
    rtt_p99_ms: round(percentile(r, 0.99), 1),
    cover_overhead: round(clientLinkCells / neededCells - 1, 2),
    match_accuracy: round(chosen.matched / clients.length, 2),
    attack: chosen.v.name,
    match_accuracy_best_variant: round(oracle.matched / clients.length, 2),
    best_variant: oracle.v.name,
    event_loop_utilization: round(elu.utilization, 2),
    calls: rtts.length,
    client_link_cells: clientLinkCells,
    cover_circuits: mixStats.reduce((a, s) => a + s.coverCircuits[profile], 0),
    far_end_links: pairs.length
  }
  log(`${profile}: every variant (matched of ${clients.length}, confidence): ${byVariant.map(x => `${x.v.name} ${x.matched} ${x.confidence.toFixed(2)}`).join('; ')}`)
  log(`${profile}: ${JSON.stringify(out)} loops ${JSON.stringify(mixStats.reduce((a, s) => a + s.loops.loopsReturned, 0))} returned`)
  return out
}

await main()
process.exit(0)
