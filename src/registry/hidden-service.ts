/**
 * A hidden provider's side of introduction and rendezvous (rend-spec-v3 §3–4), on a
 * client node (no relay): its host links only to its guard.
 *
 *   start():       N introduction points (default 3), each a circuit G L2 M IP and
 *                  ESTABLISH_INTRO with a fresh auth key and the rate/burst limits the IP
 *                  enforces; their keys go into the descriptor (introPointKeys()).
 *   INTRODUCE2:    open it (hybrid X25519 + ML-KEM-768, hs-crypto.ts); refuse a replay
 *                  (cache per intro key), check the proof of work, and queue it —
 *                  highest effort first, the lowest dropped when the queue is full.
 *   rendezvous:    at most `concurrency` at once and `rendezvousPerMinute`; refuse an RP
 *                  that is our guard or layer-2 guard, or unknown to our verified
 *                  directory, or whose onion key differs from ours; build G L2 M RP, send
 *                  RENDEZVOUS1, and serve the stream targets over the joined channel (e2e.ts).
 *
 * Intro circuits are kept alive with INTRO_CREDIT (which also gives the IP reply credit);
 * one that closes is rebuilt to the same IP with the same keys (backing off between
 * attempts, so a guard or IP that restarts within seconds keeps its place), and after three
 * failures replaced by a new IP with new keys (`onIntroPointsChanged`: republish). Missing
 * introduction points (none could be built: the guard was down) are built again with
 * backoff, from INTRO_RETRY_MIN_MS to the keep-alive interval, all at once.
 *
 * Defends against: replayed introductions, introduction floods (PoW priority, queue bound,
 * rendezvous rate cap), guard discovery through client-chosen RPs (vanguards-lite paths;
 * an RP that is the guard or a layer-2 relay is served like any other — a refusal would be
 * the oracle). Not against: a flood with more work than genuine clients do.
 */
import type { Clock, Rng as PickRng } from '../overlay/clock.ts'
import type { Circuit } from '../onion/client-circuit.ts'
import type { StreamTargets } from '../onion/stream.ts'
import { MAX_EXTENSION_REPLY_CELLS } from '../onion/constants.ts'
import {
  DEFAULT_INTRO_BURST, DEFAULT_INTRO_RATE, DEFAULT_MAX_PENDING_INTRODUCTIONS, DEFAULT_RENDEZVOUS_CONCURRENCY, DEFAULT_RENDEZVOUS_PER_MINUTE,
  INTRO_DEFAULT_COUNT, INTRO_KEEPALIVE_MS, IP_REPLAY_WINDOW_MS, POW_SEED_LEN, PREBUILT_RENDEZVOUS_CIRCUITS, REND_COOKIE_TTL_MS, RELAY_ESTABLISH_INTRO, RELAY_INTRO_CREDIT,
  RELAY_INTRO_ESTABLISHED, RELAY_INTRODUCE2, RELAY_RENDEZVOUS1
} from './constants.ts'
import { HsProtocolError, HsStatus, decodeIntroduce, decodeStatus, encodeEstablishIntro, establishIntroSigned, hsStatusName } from './hs-codec.ts'
import { IntroSecrets, introPowEffort, serviceRendezvous, type OpenedIntroduction } from './hs-crypto.ts'
import { E2eChannel } from './e2e.ts'
import { HsPaths, LayerTwoGuards, type HiddenNetwork } from './hs-paths.ts'
import { awaitCommand } from './hs-wait.ts'
import { ReplayCache } from './replay.ts'
import { PrebuiltCircuits } from './prebuilt.ts'
import { constantTimeEqual, sha3_256, systemRng, type Rng } from './primitives.ts'
import type { PowParams } from './inner.ts'
import type { IntroPointKeys } from './descriptor.ts'

/** A channel with no open stream and no cell for this long is closed. */
export const CHANNEL_IDLE_MS = 5 * 60_000
/** Rebuilds of one intro circuit before the IP is replaced. */
export const INTRO_REBUILD_ATTEMPTS = 3
/** Rendezvous paths remembered for status and tests. */
export const MAX_RECORDED_PATHS = 1000
/** First wait before rebuilding a lost intro circuit again, or building missing intro points again (doubles per failure). */
export const INTRO_RETRY_MIN_MS = 1_000

export interface HiddenServiceOptions {
  readonly network: HiddenNetwork
  readonly clock: Clock
  /** Path choices (not secret). */
  readonly rng: PickRng
  /** Keys, cookies, ephemerals (default systemRng). */
  readonly keyRng?: Rng
  readonly targets: StreamTargets
  readonly introPoints?: number
  readonly introRate?: number
  readonly introBurst?: number
  /** Pre-built G L2 M circuits kept to extend to a rendezvous point (default PREBUILT_RENDEZVOUS_CIRCUITS; 0: none). */
  readonly prebuiltCircuits?: number
  /** Proof of work: the suggested effort published in the descriptor (null or absent: none). */
  readonly pow?: { readonly suggestedEffort: number } | null
  readonly rendezvousPerMinute?: number
  readonly concurrency?: number
  readonly maxPending?: number
  readonly layer2?: LayerTwoGuards
  readonly circuitTimeoutMs?: number
  readonly maxMessageLen?: number
  readonly streamIdleMs?: number
  readonly onIntroPointsChanged?: () => void
}

interface IntroState {
  readonly relay: string
  readonly secrets: IntroSecrets
  readonly authHex: string
  readonly replay: ReplayCache
  circuit: Circuit | undefined
  failures: number
  received: number
  retired: boolean
}

interface Pending { readonly opened: OpenedIntroduction, readonly effort: number, readonly at: number }

export interface HiddenServiceCounters {
  introductions: number
  replays: number
  malformed: number
  dropped: number
  rendezvous: number
  rendezvousFailures: number
  unknownRp: number
  introRebuilds: number
  introReplaced: number
}

export class HiddenService {
  readonly #o: HiddenServiceOptions
  readonly #keyRng: Rng
  readonly #paths: HsPaths
  readonly #prebuilt: PrebuiltCircuits
  readonly #intros = new Map<string, IntroState>()
  readonly #pending: Pending[] = []
  readonly #powSeed: Uint8Array
  readonly channels = new Set<E2eChannel>()
  /** Paths of the rendezvous circuits built (newest last, bounded). */
  readonly rendezvousPaths: string[][] = []
  readonly counters: HiddenServiceCounters = {
    introductions: 0, replays: 0, malformed: 0, dropped: 0, rendezvous: 0, rendezvousFailures: 0, unknownRp: 0, introRebuilds: 0, introReplaced: 0
  }

  #active = 0
  #tokens: number
  #tokensAt: number
  #pumpTimer: ReturnType<typeof setTimeout> | undefined
  #keepalive: ReturnType<typeof setInterval> | undefined
  #refillTimer: ReturnType<typeof setTimeout> | undefined
  #refillDelay = INTRO_RETRY_MIN_MS
  #stopped = false

  constructor (o: HiddenServiceOptions) {
    this.#o = o
    this.#keyRng = o.keyRng ?? systemRng
    this.#paths = new HsPaths(o.network, o.layer2 ?? new LayerTwoGuards({ clock: o.clock, rng: o.rng }), o.rng)
    const paths = this.#paths
    // a prefix G L2 M extends to any RP but M (the RP may be the guard or a layer-2 relay)
    this.#prebuilt = PrebuiltCircuits.over(o.network, o.clock, o.prebuiltCircuits ?? PREBUILT_RENDEZVOUS_CIRCUITS,
      () => paths.longPrefix(), (path) => paths.prefixValid(path), (prefix, rp) => prefix.at(-1) === rp)
    this.#powSeed = this.#keyRng(POW_SEED_LEN)
    this.#tokens = this.#burst()
    this.#tokensAt = o.clock.now()
  }

  get paths (): HsPaths { return this.#paths }
  /** Pre-built rendezvous prefixes: built, used (extended to an RP), discarded. */
  get prebuilt (): PrebuiltCircuits['counters'] { return this.#prebuilt.counters }
  get pendingIntroductions (): number { return this.#pending.length }

  /** The descriptor's introduction points: those with an established circuit. */
  introPointKeys (): IntroPointKeys[] {
    return [...this.#intros.values()].filter(i => !i.retired && i.circuit?.state === 'open').map(i => i.secrets.keys(this.#o.network.relayBytes(i.relay)))
  }

  /** The descriptor's PoW parameters. */
  powParams (): PowParams | null {
    const pow = this.#o.pow
    return pow === undefined || pow === null ? null : { seed: this.#powSeed, suggestedEffort: pow.suggestedEffort }
  }

  /** Establish the introduction points; resolves once at least one is up (throws if none). */
  async start (signal?: AbortSignal): Promise<void> {
    const n = this.#o.introPoints ?? INTRO_DEFAULT_COUNT
    const relays = this.#chooseIntroRelays(n, [])
    const results = await Promise.allSettled(relays.map(async r => { await this.#newIntro(r, signal) }))
    if (!results.some(r => r.status === 'fulfilled')) {
      const first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      throw new HsProtocolError(`no introduction point could be established: ${first?.reason instanceof Error ? first.reason.message : String(first?.reason)}`)
    }
    this.#keepalive = setInterval(() => { this.#tick() }, Math.min(INTRO_KEEPALIVE_MS, CHANNEL_IDLE_MS))
    this.#keepalive.unref?.()
    if (this.#intros.size < n) this.#scheduleRefill()
    this.#prebuilt.fill()
  }

  stop (): void {
    this.#stopped = true
    this.#prebuilt.stop()
    clearInterval(this.#keepalive)
    clearTimeout(this.#pumpTimer)
    clearTimeout(this.#refillTimer)
    for (const i of this.#intros.values()) { i.retired = true; i.circuit?.destroy(); i.secrets.wipe() }
    this.#intros.clear()
    for (const c of [...this.channels]) c.close()
    this.#pending.length = 0
  }

  // ── introduction points ─────────────────────────────────────────────────────

  #chooseIntroRelays (n: number, exclude: readonly string[]): string[] {
    const taken = [...exclude, ...[...this.#intros.values()].map(i => i.relay)]
    const pool = this.#paths.endpoints(taken)
    const out: string[] = []
    while (out.length < n && pool.length > 0) out.push(pool.splice(this.#o.rng.int(pool.length), 1)[0])
    if (out.length === 0) throw new HsProtocolError('no relay available as an introduction point')
    return out
  }

  async #newIntro (relay: string, signal?: AbortSignal): Promise<void> {
    const secrets = IntroSecrets.generate(this.#keyRng)
    const intro: IntroState = {
      relay, secrets, authHex: Buffer.from(secrets.authKey.publicKey).toString('hex'),
      replay: new ReplayCache(this.#o.clock), circuit: undefined, failures: 0, received: 0, retired: false
    }
    this.#intros.set(intro.authHex, intro)
    try {
      await this.#establish(intro, signal)
    } catch (err) {
      this.#intros.delete(intro.authHex)
      secrets.wipe()
      throw err
    }
  }

  async #establish (intro: IntroState, signal?: AbortSignal): Promise<void> {
    const s = signal ?? AbortSignal.timeout(this.#o.circuitTimeoutMs ?? 15_000)
    const circuit = await this.#o.network.build(this.#paths.long(intro.relay), s)
    if (intro.retired || this.#stopped) { circuit.destroy(); return }
    const last = circuit.hops - 1
    try {
      const rate = this.#o.introRate ?? DEFAULT_INTRO_RATE
      const burst = Math.max(rate, this.#o.introBurst ?? DEFAULT_INTRO_BURST)
      const authKey = intro.secrets.authKey
      const waiting = awaitCommand(circuit, last, RELAY_INTRO_ESTABLISHED, s, 'INTRO_ESTABLISHED')
      waiting.catch(() => {}) // a circuit already closed rejects it at once, and sendRelay throws before the await
      circuit.sendRelay(last, RELAY_ESTABLISH_INTRO, 0, encodeEstablishIntro({ authKey: authKey.publicKey, rate, burst, signature: authKey.sign(establishIntroSigned(authKey.publicKey, rate, burst)) }))
      const status = decodeStatus((await waiting).data)
      if (status !== HsStatus.OK) throw new HsProtocolError(`introduction point refused: ${hsStatusName(status)}`)
    } catch (err) {
      circuit.destroy()
      throw err
    }
    intro.circuit = circuit
    intro.failures = 0
    circuit.onCommand = (hop, cell) => {
      if (hop === last && cell.command === RELAY_INTRODUCE2) this.#onIntroduce2(intro, cell.data)
      else circuit.destroy()
    }
    // reply credit for INTRODUCE2: 3 × MAX_EXTENSION_REPLY_CELLS on top of the ESTABLISH's
    for (let i = 0; i < 3; i++) circuit.sendRelay(last, RELAY_INTRO_CREDIT, 0, new Uint8Array(0))
    circuit.onClose(() => { this.#introLost(intro, circuit) })
  }

  #introLost (intro: IntroState, circuit: Circuit): void {
    if (intro.circuit !== circuit || intro.retired || this.#stopped) return
    intro.circuit = undefined
    const retry = async (): Promise<void> => {
      while (!intro.retired && !this.#stopped && intro.failures < INTRO_REBUILD_ATTEMPTS) {
        try { this.counters.introRebuilds++; await this.#establish(intro); return } catch { intro.failures++ }
        // a guard or IP that restarts comes back within seconds: do not spend every attempt at once
        if (intro.failures < INTRO_REBUILD_ATTEMPTS) await this.#wait(INTRO_RETRY_MIN_MS * 2 ** (intro.failures - 1))
      }
      if (intro.retired || this.#stopped) return
      // replace: a new relay, new keys; the descriptor must be republished
      intro.retired = true
      this.#intros.delete(intro.authHex)
      this.counters.introReplaced++
      try { await this.#newIntro(this.#chooseIntroRelays(1, [intro.relay])[0]) } catch { this.#scheduleRefill() }
      this.#o.onIntroPointsChanged?.()
    }
    void retry()
  }

  #tick (): void {
    if (this.#stopped) return
    for (const i of this.#intros.values()) {
      const c = i.circuit
      if (c?.state === 'open') { try { c.sendRelay(c.hops - 1, RELAY_INTRO_CREDIT, 0, new Uint8Array(0)) } catch { /* onClose rebuilds */ } }
    }
    this.#scheduleRefill()
    const cutoff = this.#o.clock.now() - CHANNEL_IDLE_MS
    for (const ch of [...this.channels]) if (ch.mux.size === 0 && ch.lastActive < cutoff) ch.close()
  }

  async #wait (ms: number): Promise<void> {
    await new Promise<void>(resolve => { setTimeout(resolve, ms).unref?.() })
  }

  /** Build the missing introduction points soon: after the current backoff (doubled per failed round, up to the keep-alive interval). */
  #scheduleRefill (): void {
    if (this.#stopped || this.#refillTimer !== undefined) return
    this.#refillTimer = setTimeout(() => { this.#refillTimer = undefined; void this.#refill() }, this.#refillDelay)
    this.#refillTimer.unref?.()
  }

  async #refill (): Promise<void> {
    const missing = (this.#o.introPoints ?? INTRO_DEFAULT_COUNT) - this.#intros.size
    if (this.#stopped || missing <= 0) { this.#refillDelay = INTRO_RETRY_MIN_MS; return }
    let results: Array<PromiseSettledResult<void>> = []
    try {
      results = await Promise.allSettled(this.#chooseIntroRelays(missing, []).map(async r => { await this.#newIntro(r) }))
    } catch { /* no relay to choose from */ }
    if (this.#stopped) return
    if (results.some(r => r.status === 'fulfilled')) this.#o.onIntroPointsChanged?.()
    if (results.length > 0 && results.every(r => r.status === 'fulfilled')) { this.#refillDelay = INTRO_RETRY_MIN_MS; return }
    this.#refillDelay = Math.min(this.#refillDelay * 2, INTRO_KEEPALIVE_MS)
    this.#scheduleRefill()
  }

  // ── introductions ───────────────────────────────────────────────────────────

  #onIntroduce2 (intro: IntroState, data: Uint8Array): void {
    this.counters.introductions++
    intro.received++
    const c = intro.circuit
    // give back exactly the IP's reply credit this used: one INTRO_CREDIT (MAX_EXTENSION_REPLY_CELLS
    // cells) per MAX_EXTENSION_REPLY_CELLS introductions received. The window of INTRODUCE2 in
    // flight from the IP stays at what the circuit started with (≈ 63): under a flood the IP
    // answers BUSY beyond it, instead of queueing thousands of introductions in the relays
    // ahead of a genuine one (they are FIFO within the circuit; this queue is the provider's
    // priority queue only once they arrive). Granting more than was used let the window grow
    // to MAX_STORED_CREDIT (1,024) per IP: seconds of flood in the network ahead of every
    // genuine introduction.
    if (c !== undefined && intro.received % MAX_EXTENSION_REPLY_CELLS === 0) { try { c.sendRelay(c.hops - 1, RELAY_INTRO_CREDIT, 0, new Uint8Array(0)) } catch { /* closing */ } }
    this.acceptIntroduction(data)
  }

  /**
   * Open, de-duplicate and queue one INTRODUCE2 (public for tests that replay one).
   * Returns what happened to it.
   */
  acceptIntroduction (data: Uint8Array): 'queued' | 'replay' | 'malformed' | 'dropped' | 'unknown' {
    let opened: OpenedIntroduction
    let intro: IntroState | undefined
    try {
      const m = decodeIntroduce(data)
      intro = this.#intros.get(Buffer.from(m.authKey).toString('hex'))
      if (intro === undefined) return 'unknown'
      opened = intro.secrets.open(m)
    } catch {
      this.counters.malformed++
      return 'malformed'
    }
    const now = this.#o.clock.now()
    if (intro.replay.check(sha3_256(opened.clientKey), now + IP_REPLAY_WINDOW_MS) !== 'new') { this.counters.replays++; return 'replay' }
    const pow = this.powParams()
    const effort = pow === null ? 0 : introPowEffort(pow.seed, intro.secrets.authKey.publicKey, opened.clientKey, opened.plaintext.pow)
    const max = this.#o.maxPending ?? DEFAULT_MAX_PENDING_INTRODUCTIONS
    if (this.#pending.length >= max) {
      // drop the lowest effort (the newcomer if it is no better)
      let lo = 0
      for (let i = 1; i < this.#pending.length; i++) if (this.#pending[i].effort < this.#pending[lo].effort) lo = i
      if (this.#pending[lo].effort >= effort) { this.counters.dropped++; return 'dropped' }
      this.#pending.splice(lo, 1)
      this.counters.dropped++
    }
    this.#pending.push({ opened, effort, at: now })
    this.#pump()
    return 'queued'
  }

  #burst (): number {
    const perMinute = this.#o.rendezvousPerMinute ?? DEFAULT_RENDEZVOUS_PER_MINUTE
    return Math.max(1, Math.ceil(perMinute / 6))
  }

  #pump (): void {
    if (this.#stopped) return
    const perMinute = this.#o.rendezvousPerMinute ?? DEFAULT_RENDEZVOUS_PER_MINUTE
    const now = this.#o.clock.now()
    this.#tokens = Math.min(this.#burst(), this.#tokens + (now - this.#tokensAt) * perMinute / 60_000)
    this.#tokensAt = now
    while (this.#active < (this.#o.concurrency ?? DEFAULT_RENDEZVOUS_CONCURRENCY) && this.#pending.length > 0) {
      if (this.#tokens < 1) {
        if (this.#pumpTimer === undefined) {
          this.#pumpTimer = setTimeout(() => { this.#pumpTimer = undefined; this.#pump() }, Math.ceil((1 - this.#tokens) * 60_000 / perMinute))
          this.#pumpTimer.unref?.()
        }
        return
      }
      // highest effort first; among equals the oldest
      let hi = 0
      for (let i = 1; i < this.#pending.length; i++) if (this.#pending[i].effort > this.#pending[hi].effort) hi = i
      const p = this.#pending.splice(hi, 1)[0]
      if (now - p.at > REND_COOKIE_TTL_MS) { this.counters.dropped++; continue }
      this.#tokens -= 1
      this.#active++
      this.#rendezvous(p.opened).catch(() => { this.counters.rendezvousFailures++ }).finally(() => { this.#active--; this.#pump() })
    }
  }

  async #rendezvous (opened: OpenedIntroduction): Promise<void> {
    const net = this.#o.network
    let rp: string
    try { rp = net.relayId(opened.plaintext.rpRelay) } catch { this.counters.unknownRp++; return }
    // an RP that is this provider's guard or a layer-2 relay is served like any other: a
    // refusal (or a slower path) would tell a probing client which relays those are
    const key = net.onionKey(rp)
    if (key === undefined || !constantTimeEqual(sha3_256(key), opened.plaintext.rpOnionKeyId)) { this.counters.unknownRp++; return }
    const signal = AbortSignal.timeout(this.#o.circuitTimeoutMs ?? 15_000)
    // a pre-built G L2 M extended to the RP (one EXTEND), else the whole path
    const { circuit, path } = await this.#prebuilt.circuitTo(rp, () => this.#paths.rendezvous(rp), signal)
    if (this.#stopped) { circuit.destroy(); return }
    this.rendezvousPaths.push(path)
    if (this.rendezvousPaths.length > MAX_RECORDED_PATHS) this.rendezvousPaths.shift()
    const last = circuit.hops - 1
    const { message, keys } = serviceRendezvous(this.#keyRng, opened)
    const channel = new E2eChannel({
      carrier: { send: (cmd, d) => { circuit.sendRelay(last, cmd, 0, d) }, destroy: () => { circuit.destroy() } },
      keys, role: 'provider', targets: this.#o.targets, maxMessageLen: this.#o.maxMessageLen, streamIdleMs: this.#o.streamIdleMs
    })
    keys.wipe()
    channel.lastActive = this.#o.clock.now()
    circuit.onCommand = (hop, cell) => {
      if (hop !== last) { circuit.destroy(); return }
      channel.lastActive = this.#o.clock.now()
      channel.onCell(cell)
    }
    circuit.onClose((err) => { channel.circuitClosed(err) })
    this.channels.add(channel)
    channel.onClose(() => { this.channels.delete(channel) })
    circuit.sendRelay(last, RELAY_RENDEZVOUS1, 0, message)
    channel.start()
    this.counters.rendezvous++
  }
}
