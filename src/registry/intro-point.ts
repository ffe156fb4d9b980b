/**
 * The introduction point: a relay role (rend-spec-v3 §3.1–3.2). A hidden provider's
 * circuit ends here and sends ESTABLISH_INTRO (its per-IP auth key, rate and burst limits,
 * signed by that key); the IP keeps the circuit. A client's circuit sends INTRODUCE1 naming
 * the auth key; the IP checks its replay cache (per auth key, IP_REPLAY_WINDOW_MS) and the
 * provider's token bucket, forwards the bytes unchanged as INTRODUCE2 over the kept circuit,
 * and answers the client INTRODUCE_ACK.
 *
 * Rate: each provider (auth key) has a token bucket of the rate and burst it signed in
 * ESTABLISH_INTRO, capped by the relay operator's {@link IntroPointLimits} (`veil relay
 * --max-introductions-per-second`): an introduction beyond it is answered BUSY before any
 * other work and counted in `rateLimited`.
 *
 * What the IP learns: the auth key, the introduction's sealed bytes, the timing. Not the
 * provider's identity, not the RP, not the cookie (sealed to the provider's enc keys).
 * Defends against: replayed introductions (digest cache; fail closed when full), floods
 * beyond the provider's limits or the relay's cap (token bucket; BUSY), a second
 * ESTABLISH_INTRO on a circuit (replaces the first). Not against: a flood under the limits
 * (the provider's PoW queue).
 *
 * Handlers are synchronous (cells of one circuit are handled in order) and never throw:
 * bad input is answered with a status.
 */
import type { Clock } from '../overlay/clock.ts'
import type { ExtensionContext } from '../onion/commands.ts'
import {
  RELAY_INTRODUCE_ACK, RELAY_INTRODUCE2, RELAY_INTRO_ESTABLISHED, IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND, IP_INTRODUCTION_BURST_S, IP_MAX_INTROS, IP_REPLAY_WINDOW_MS
} from './constants.ts'
import { HsStatus, decodeEmpty, decodeEstablishIntro, encodeStatus, establishIntroSigned, introduceAuthKey } from './hs-codec.ts'
import { ReplayCache } from './replay.ts'
import { ReplyCredit } from './reply-credit.ts'
import { RegistryCallerError } from './errors.ts'
import { ed25519Verify, sha3_256 } from './primitives.ts'

/** Digests one intro point remembers (fail closed beyond). */
export const IP_REPLAY_CACHE_SIZE = 16_384

/** What the relay operator allows each provider at this introduction point. */
export interface IntroPointLimits {
  /** Introductions per second one provider (auth key) gets through, whatever it asked for. */
  readonly maxIntroductionsPerSecond: number
  /** Its bucket: introductions accepted at once after a quiet spell. */
  readonly maxIntroductionBurst: number
}

/** Limits with defaults resolved: the burst follows the rate unless given. */
export function introPointLimits (o: Partial<IntroPointLimits> = {}): IntroPointLimits {
  const rate = o.maxIntroductionsPerSecond ?? IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND
  const burst = o.maxIntroductionBurst ?? rate * IP_INTRODUCTION_BURST_S
  if (!(rate > 0) || !(burst >= 1)) throw new RegistryCallerError('introduction point limits: rate > 0 and burst ≥ 1')
  return Object.freeze({ maxIntroductionsPerSecond: rate, maxIntroductionBurst: burst })
}

interface Intro {
  readonly circuitKey: string
  readonly authHex: string
  readonly credit: ReplyCredit
  readonly rate: number
  readonly burst: number
  tokens: number
  last: number
  readonly replay: ReplayCache
}

export interface IntroPointCounters {
  established: number
  refused: number
  introductions: number
  forwarded: number
  replays: number
  unknown: number
  /** Refused: no reply credit toward the provider, or the replay cache full. */
  busy: number
  /** Refused by the provider's rate (its own, or the relay's cap when lower). */
  rateLimited: number
  malformed: number
}

export class IntroPointService {
  readonly #clock: Clock
  readonly #max: number
  readonly #byAuth = new Map<string, Intro>()
  readonly #byCircuit = new Map<string, Intro>()
  readonly counters: IntroPointCounters = { established: 0, refused: 0, introductions: 0, forwarded: 0, replays: 0, unknown: 0, busy: 0, rateLimited: 0, malformed: 0 }
  /** The relay's caps in force. */
  readonly limits: IntroPointLimits

  constructor (o: { clock: Clock, maxIntros?: number, limits?: Partial<IntroPointLimits> }) {
    this.#clock = o.clock
    this.#max = o.maxIntros ?? IP_MAX_INTROS
    this.limits = introPointLimits(o.limits)
  }

  get size (): number { return this.#byAuth.size }

  /** Whether `circuitKey` is a provider's introduction circuit held here (testnet status: which relays serve as IPs). */
  hasCircuit (circuitKey: string): boolean { return this.#byCircuit.has(circuitKey) }

  onEstablish (ctx: ExtensionContext, data: Uint8Array): void {
    const answer = (s: number): void => { try { ctx.reply(RELAY_INTRO_ESTABLISHED, 0, encodeStatus(s)) } catch { /* circuit gone */ } }
    if (!ctx.lastHop) { this.counters.refused++; answer(HsStatus.NOT_LAST_HOP); return }
    let m
    try { m = decodeEstablishIntro(data) } catch { this.counters.malformed++; answer(HsStatus.MALFORMED); return }
    if (!ed25519Verify(m.signature, establishIntroSigned(m.authKey, m.rate, m.burst), m.authKey)) { this.counters.refused++; answer(HsStatus.BAD_SIGNATURE); return }
    const authHex = Buffer.from(m.authKey).toString('hex')
    this.#forget(this.#byCircuit.get(ctx.circuitKey))
    const old = this.#byAuth.get(authHex)
    if (old === undefined && this.#byAuth.size >= this.#max) { this.#sweep(); if (this.#byAuth.size >= this.#max) { this.counters.refused++; answer(HsStatus.BUSY); return } }
    this.#forget(old)
    const credit = new ReplyCredit()
    // the provider's signed limits, capped by this relay's
    const rate = Math.min(m.rate, this.limits.maxIntroductionsPerSecond)
    const burst = Math.min(m.burst, this.limits.maxIntroductionBurst)
    const intro: Intro = {
      circuitKey: ctx.circuitKey, authHex, credit, rate, burst, tokens: burst, last: this.#clock.now(),
      // the same auth key re-established (a provider's new circuit) keeps its replay history
      replay: old?.replay ?? new ReplayCache(this.#clock, IP_REPLAY_CACHE_SIZE)
    }
    this.#byAuth.set(authHex, intro)
    this.#byCircuit.set(ctx.circuitKey, intro)
    this.counters.established++
    answer(HsStatus.OK)
    credit.add(ctx, 1)
  }

  /** Provider's keep-alive: more reply credit toward it. */
  onCredit (ctx: ExtensionContext, data: Uint8Array): void {
    const intro = this.#byCircuit.get(ctx.circuitKey)
    try { decodeEmpty(data, 'INTRO_CREDIT') } catch { return }
    intro?.credit.add(ctx)
  }

  onIntroduce1 (ctx: ExtensionContext, data: Uint8Array): void {
    const answer = (s: number): void => { try { ctx.reply(RELAY_INTRODUCE_ACK, 0, encodeStatus(s)) } catch { /* circuit gone */ } }
    this.counters.introductions++
    if (!ctx.lastHop) { answer(HsStatus.NOT_LAST_HOP); return }
    if (this.#byCircuit.has(ctx.circuitKey)) { this.counters.malformed++; answer(HsStatus.MALFORMED); return } // never on an intro circuit
    let authKey: Uint8Array
    try { authKey = introduceAuthKey(data) } catch { this.counters.malformed++; answer(HsStatus.MALFORMED); return }
    const intro = this.#byAuth.get(Buffer.from(authKey).toString('hex'))
    if (intro === undefined || intro.credit.closed) { this.#forget(intro); this.counters.unknown++; answer(HsStatus.UNKNOWN); return }
    const now = this.#clock.now()
    intro.tokens = Math.min(intro.burst, intro.tokens + (now - intro.last) * intro.rate / 1000)
    intro.last = now
    if (intro.tokens < 1) { this.counters.rateLimited++; answer(HsStatus.BUSY); return }
    if (intro.credit.available < 1) { this.counters.busy++; answer(HsStatus.BUSY); return }
    const verdict = intro.replay.check(sha3_256(data), now + IP_REPLAY_WINDOW_MS)
    if (verdict !== 'new') { this.counters[verdict === 'replay' ? 'replays' : 'busy']++; answer(verdict === 'replay' ? HsStatus.REPLAY : HsStatus.BUSY); return }
    intro.tokens -= 1
    if (!intro.credit.send(RELAY_INTRODUCE2, data)) {
      if (intro.credit.closed) { this.#forget(intro); this.counters.unknown++; answer(HsStatus.UNKNOWN) } else { this.counters.busy++; answer(HsStatus.BUSY) }
      return
    }
    this.counters.forwarded++
    answer(HsStatus.OK)
  }

  #forget (intro: Intro | undefined): void {
    if (intro === undefined) return
    if (this.#byAuth.get(intro.authHex) === intro) this.#byAuth.delete(intro.authHex)
    if (this.#byCircuit.get(intro.circuitKey) === intro) this.#byCircuit.delete(intro.circuitKey)
    intro.credit.close()
  }

  /** Drop intro points whose circuits are known to be gone. */
  #sweep (): void {
    for (const intro of [...this.#byAuth.values()]) if (intro.credit.closed || intro.credit.available === 0) this.#forget(intro)
  }
}
