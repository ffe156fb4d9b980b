/**
 * The introduction point's rate limit per provider: the rate and burst a provider signs in
 * ESTABLISH_INTRO, capped by the relay's own limit (`veil relay
 * --max-introductions-per-second`). Introductions past it are answered BUSY before any
 * other work, counted in `rateLimited`, and never reach the provider.
 */
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { IntroPointService } from '../../src/registry/intro-point.ts'
import { HsStatus, decodeStatus, encodeEstablishIntro, establishIntroSigned } from '../../src/registry/hs-codec.ts'
import {
  INTRODUCE_LEN, IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND, IP_INTRODUCTION_BURST_S, RELAY_INTRODUCE_ACK, RELAY_INTRODUCE2, RELAY_INTRO_ESTABLISHED
} from '../../src/registry/constants.ts'
import { ExpandedEd25519Key } from '../../src/registry/primitives.ts'
import { ManualClock } from '../../src/overlay/clock.ts'
import type { ExtensionContext } from '../../src/onion/commands.ts'

interface Sent { readonly command: number, readonly data: Uint8Array }

/** An ExtensionContext that records what the IP sends back on the circuit. */
function context (circuitKey: string, sent: Sent[]): ExtensionContext {
  return { circuitKey, lastHop: true, reply: (command, _streamId, data) => { sent.push({ command, data }) } }
}

/** A provider's intro circuit at `ip`, established with the given signed rate and burst and ample reply credit. */
function establish (ip: IntroPointService, rate: number, burst: number): { authKey: Uint8Array, toProvider: Sent[] } {
  const key = ExpandedEd25519Key.fromSeed(new Uint8Array(randomBytes(32)))
  const toProvider: Sent[] = []
  const ctx = context(`provider-${Buffer.from(key.publicKey).toString('hex')}`, toProvider)
  ip.onEstablish(ctx, encodeEstablishIntro({ authKey: key.publicKey, rate, burst, signature: key.sign(establishIntroSigned(key.publicKey, rate, burst)) }))
  expect(toProvider.map(s => [s.command, decodeStatus(s.data)])).toEqual([[RELAY_INTRO_ESTABLISHED, HsStatus.OK]])
  toProvider.length = 0
  // INTRO_CREDIT cells: each gives the IP one more reply budget toward the provider
  for (let i = 0; i < 60; i++) ip.onCredit(ctx, new Uint8Array(0))
  return { authKey: key.publicKey, toProvider }
}

let clients = 0
/** One INTRODUCE1 (the IP reads only the auth key and hashes the rest for its replay cache) from a fresh client circuit: the ACK status. */
function introduce (ip: IntroPointService, authKey: Uint8Array): number {
  const data = new Uint8Array(INTRODUCE_LEN)
  data.set(authKey)
  data.set(randomBytes(64), authKey.length)
  const acks: Sent[] = []
  ip.onIntroduce1(context(`client-${clients++}`, acks), data)
  expect(acks.map(a => a.command)).toEqual([RELAY_INTRODUCE_ACK])
  return decodeStatus(acks[0].data)
}

function burstOf (ip: IntroPointService, authKey: Uint8Array, n: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const s = introduce(ip, authKey)
    const name = s === HsStatus.OK ? 'ok' : s === HsStatus.BUSY ? 'busy' : String(s)
    out[name] = (out[name] ?? 0) + 1
  }
  return out
}

describe('introduction point: introductions per second per provider', () => {
  it('defaults: the relay caps every provider at IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND', () => {
    const ip = new IntroPointService({ clock: new ManualClock() })
    expect(ip.limits).toEqual({ maxIntroductionsPerSecond: IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND, maxIntroductionBurst: IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND * IP_INTRODUCTION_BURST_S })
  })

  it('the relay\'s cap refuses excess INTRODUCE1 cells with BUSY, counts them, and forwards none of them', () => {
    const clock = new ManualClock()
    const ip = new IntroPointService({ clock, limits: { maxIntroductionsPerSecond: 10 } })
    expect(ip.limits).toEqual({ maxIntroductionsPerSecond: 10, maxIntroductionBurst: 20 })
    // the provider asks for far more than the relay allows
    const p = establish(ip, 200, 400)
    expect(burstOf(ip, p.authKey, 50)).toEqual({ ok: 20, busy: 30 })
    expect(ip.counters).toMatchObject({ introductions: 50, forwarded: 20, rateLimited: 30, busy: 0, replays: 0 })
    expect(p.toProvider.length).toBe(20)
    expect(p.toProvider.every(s => s.command === RELAY_INTRODUCE2)).toBe(true)
    // one second later: ten more
    clock.advance(1000)
    expect(burstOf(ip, p.authKey, 15)).toEqual({ ok: 10, busy: 5 })
    expect(ip.counters).toMatchObject({ forwarded: 30, rateLimited: 35 })
    expect(p.toProvider.length).toBe(30)
  })

  it('each provider has its own bucket; one below the cap is held to its own signed limit', () => {
    const clock = new ManualClock()
    const ip = new IntroPointService({ clock, limits: { maxIntroductionsPerSecond: 10 } })
    const flooded = establish(ip, 200, 400)
    const modest = establish(ip, 2, 3)
    expect(burstOf(ip, flooded.authKey, 25)).toEqual({ ok: 20, busy: 5 })
    // the flood of the first takes nothing from the second
    expect(burstOf(ip, modest.authKey, 5)).toEqual({ ok: 3, busy: 2 })
    clock.advance(500)
    expect(burstOf(ip, modest.authKey, 2)).toEqual({ ok: 1, busy: 1 })
    expect(ip.counters).toMatchObject({ forwarded: 24, rateLimited: 8 })
    expect(modest.toProvider.length).toBe(4)
  })
})
