import { describe, expect, it } from 'vitest'
import { RELAY_DATA_MAX } from '../../src/onion/constants.ts'
import { CoverTraffic, DEFAULT_SEND_QUEUE_LIMIT, MixCallerError, PROFILES, PoissonProcess, SendStream, SpreadStream, sampleExp } from '../../src/mix/index.ts'
import { expCdf, ksCritical, ksStatistic, seededRng } from './helpers.ts'

const HOUR = 3_600_000
/** Two-sided z for 99.9 %: Poisson counts over a long window are checked at this confidence. */
const Z = 3.29

describe('PoissonProcess', () => {
  it('gaps fit Exp(1/rate) (KS, α = 0.01) at a fixed seed', () => {
    const p = new PoissonProcess(5, seededRng(11), 0)
    const gaps: number[] = []
    let prev = 0
    for (let i = 0; i < 2000; i++) { const t = p.advance(); gaps.push(t - prev); prev = t }
    const d = ksStatistic(gaps, expCdf(200))
    console.log(`Poisson gaps KS D=${d.toFixed(4)} critical=${ksCritical(2000, 0.01).toFixed(4)}`)
    expect(d).toBeLessThan(ksCritical(2000, 0.01))
  })

  it('rate 0 never fires; bad rates are refused', () => {
    expect(new PoissonProcess(0, seededRng(1), 0).next).toBe(Infinity)
    expect(() => new PoissonProcess(-1, seededRng(1), 0)).toThrow(MixCallerError)
    expect(() => new PoissonProcess(NaN, seededRng(1), 0)).toThrow(MixCallerError)
  })
})

describe('CoverTraffic', () => {
  it('emits loop and drop cover at their rates, in time order', () => {
    const { loopRatePerSec, dropRatePerSec } = PROFILES.balanced.client
    const c = new CoverTraffic({ loopRatePerSec, dropRatePerSec, rng: seededRng(12), startMs: 0 })
    let last = -1
    for (let t = c.nextDeadline(); t <= HOUR; t = c.nextDeadline()) {
      for (const e of c.takeDue(t)) { expect(e.at).toBeGreaterThanOrEqual(last); last = e.at }
    }
    const s = c.stats()
    for (const [n, rate] of [[s.loops, loopRatePerSec], [s.drops, dropRatePerSec]]) {
      const mu = rate * HOUR / 1000
      expect(Math.abs(n - mu)).toBeLessThan(Z * Math.sqrt(mu))
    }
  })

  it('after a clock jump emits at most maxBurst and skips the rest (no telltale flood)', () => {
    const c = new CoverTraffic({ loopRatePerSec: 5, dropRatePerSec: 5, rng: seededRng(13), startMs: 0, maxBurst: 16 })
    expect(c.takeDue(60_000).length).toBe(16)
    expect(c.stats().skipped).toBeGreaterThan(500)
    expect(c.nextDeadline()).toBeGreaterThan(60_000)
  })
})

describe('SendStream (paranoid)', () => {
  const λ = PROFILES.paranoid.client.sendRatePerSec

  /** Run a stream for `ms` with real cells offered as a Poisson process at `offerRate` (0 = idle). */
  function run (seed: number, offerRate: number, ms: number) {
    const s = new SendStream<number>({ ratePerSec: λ, rng: seededRng(seed), startMs: 0 })
    const offers = new PoissonProcess(offerRate, seededRng(seed + 1000), 0)
    const slotTimes: number[] = []
    const realOrder: number[] = []
    let next = 0
    let refused = 0
    for (;;) {
      const t = Math.min(s.nextDeadline(), offers.next)
      if (t > ms) break
      if (offers.next === t) {
        offers.advance()
        if (s.offer(next).ok) next++
        else refused++
      } else {
        for (const e of s.takeDue(t)) {
          slotTimes.push(e.at)
          if (e.kind === 'real') realOrder.push(e.cell)
        }
      }
    }
    return { stats: s.stats(), slotTimes, realOrder, refused, offered: next }
  }

  it('the wire rate is independent of real traffic (idle vs busy, 1 h virtual, 99.9 % Poisson bounds)', () => {
    const mu = λ * HOUR / 1000
    const idle = run(21, 0, HOUR)
    const light = run(22, 20, HOUR)
    const busy = run(23, 200, HOUR) // 4× more than the stream can carry
    const counts = { idle: idle.stats.slots, light: light.stats.slots, busy: busy.stats.slots }
    console.log(`send stream λ=${λ}/s over 1 h: expected ${mu}, slots ${JSON.stringify(counts)}, real ${JSON.stringify({ idle: idle.stats.real, light: light.stats.real, busy: busy.stats.real })}, busy refused ${busy.refused}`)
    for (const n of Object.values(counts)) expect(Math.abs(n - mu)).toBeLessThan(Z * Math.sqrt(mu))
    expect(Math.abs(counts.idle - counts.busy)).toBeLessThan(Z * Math.sqrt(2 * mu))
    expect(idle.stats.real).toBe(0)
    expect(idle.stats.cover).toBe(idle.stats.slots)
    // light load: everything offered went, in order, the rest of the slots were cover
    expect(light.realOrder).toEqual(Array.from({ length: light.realOrder.length }, (_, i) => i))
    expect(light.stats.real + light.stats.queued).toBe(light.offered)
    // saturated: real throughput is capped at λ cells/s, backpressure refused the excess
    expect(busy.stats.real / (HOUR / 1000)).toBeLessThan(λ * 1.01)
    expect(busy.stats.real).toBeGreaterThan(busy.stats.slots - 100)
    expect(busy.refused).toBeGreaterThan(0)
    expect(busy.stats.queued).toBeLessThanOrEqual(DEFAULT_SEND_QUEUE_LIMIT)
    const capBytes = (busy.stats.real * RELAY_DATA_MAX) / (HOUR / 1000)
    expect(capBytes).toBeLessThan(λ * RELAY_DATA_MAX * 1.01)
  })

  it('with the same seed, slot times are identical whether idle or busy', () => {
    const a = run(31, 0, 60_000)
    const b = run(31, 200, 60_000)
    expect(a.slotTimes).toEqual(b.slotTimes)
  })

  it('backpressure: bounded queue, all-or-nothing messages, a retry estimate', () => {
    const s = new SendStream<string>({ ratePerSec: 50, rng: seededRng(41), startMs: 0, queueLimit: 8 })
    expect(s.offerAll(['a', 'b', 'c', 'd', 'e'])).toEqual({ ok: true, queued: 5 })
    const r = s.offerAll(['f', 'g', 'h', 'i', 'j'])
    expect(r).toEqual({ ok: false, reason: 'queue-full', queued: 5, limit: 8, retryAfterMs: 40 })
    expect(s.queued).toBe(5) // nothing half-queued
    expect(s.waitEstimateMs(1)).toBe(120)
    expect(s.stats().refused).toBe(5)
    const out = s.takeDue(10_000).filter((e) => e.kind === 'real').map((e) => e.kind === 'real' ? e.cell : '')
    expect(out).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(s.offer('z').ok).toBe(true)
    expect(s.drain()).toEqual(['z'])
  })

  it('refuses a zero or bad rate and a bad queue limit', () => {
    expect(() => new SendStream({ ratePerSec: 0, rng: seededRng(1), startMs: 0 })).toThrow(/no cell would ever leave/)
    expect(() => new SendStream({ ratePerSec: 10, rng: seededRng(1), startMs: 0, queueLimit: 0 })).toThrow(/queueLimit/)
  })

  it('a real cell waits Exp(1/λ) for its slot when the queue is empty (mean 1000/λ ms)', () => {
    const rng = seededRng(51)
    const s = new SendStream<number>({ ratePerSec: λ, rng: seededRng(52), startMs: 0 })
    const waits: number[] = []
    let t = 0
    for (let i = 0; i < 2000; i++) {
      t += sampleExp(rng, 500) // sparse offers: queue always empty on arrival
      s.takeDue(t)
      s.offer(i)
      let got: number | undefined
      while (got === undefined) {
        const at = s.nextDeadline()
        for (const e of s.takeDue(at)) if (e.kind === 'real') got = e.at
      }
      waits.push(got - t)
      t = got
    }
    const d = ksStatistic(waits, expCdf(1000 / λ))
    expect(d).toBeLessThan(ksCritical(2000, 0.01))
  })
})

describe('SpreadStream (paranoid over call and cover circuits)', () => {
  const λ = 50
  const LANES = ['call', 'c1', 'c2', 'c3', 'c4', 'c5'] as const

  /** Run `ms` of stream; the call lane is offered real cells at `offerRate`/s. Per-lane emission times. */
  function run (seed: number, offerRate: number, ms: number) {
    const s = new SpreadStream<string, number>({ ratePerSec: λ, rng: seededRng(seed), startMs: 0 })
    const offers = new PoissonProcess(offerRate, seededRng(seed + 500), 0)
    const perLane = new Map<string, number>(LANES.map(l => [l, 0]))
    const realOrder: number[] = []
    let next = 0
    let t = 0
    while (t < ms) {
      t = Math.min(s.nextDeadline(), offers.next)
      if (offers.next === t) {
        offers.advance()
        if (s.offerAll('call', [next]).ok) next++
      } else {
        for (const e of s.takeDue(t, LANES)) {
          perLane.set(e.lane, (perLane.get(e.lane) ?? 0) + 1)
          if (e.kind === 'real') { expect(e.lane).toBe('call'); realOrder.push(e.cell) }
        }
      }
    }
    return { perLane, realOrder, stats: s.stats() }
  }

  it('every lane carries λ / lanes whether the call lane is idle, busy or saturated', () => {
    const ms = HOUR / 6
    const expected = λ / LANES.length * ms / 1000
    for (const offerRate of [0, 4, 100]) {
      const { perLane, realOrder, stats } = run(7 + offerRate, offerRate, ms)
      for (const [lane, n] of perLane) {
        // Poisson thinning: each lane's count is Poisson(λ/6 · T)
        expect(Math.abs(n - expected), `${lane} at offer rate ${offerRate}`).toBeLessThan(Z * Math.sqrt(expected))
      }
      // the call lane's real cells left in the order offered
      expect(realOrder).toEqual(realOrder.slice().sort((a, b) => a - b))
      if (offerRate === 100) expect(stats.real).toBeGreaterThan(0.95 * expected) // saturated: the call lane's share, no more
      if (offerRate === 0) expect(stats.real).toBe(0)
    }
  })

  it('per-lane bounded queues; a closed lane gives its cells back; no lane open sends nothing', () => {
    const s = new SpreadStream<string, string>({ ratePerSec: 50, rng: seededRng(3), startMs: 0, queueLimit: 4 })
    expect(s.offerAll('a', ['a1', 'a2', 'a3'])).toEqual({ ok: true, queued: 3 })
    const r = s.offerAll('a', ['a4', 'a5'])
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toBe('queue-full')
    expect(s.offerAll('b', ['b1', 'b2', 'b3', 'b4']).ok).toBe(true) // the limit is per lane
    expect(s.queued).toBe(7)
    expect(s.dropLane('a')).toEqual(['a1', 'a2', 'a3'])
    expect(s.queued).toBe(4)
    expect(s.takeDue(1_000, [])).toEqual([])
    expect(s.stats().noLane).toBeGreaterThan(0)
    // only b is open: its cells leave in order, then cover on b
    const out = s.takeDue(2_000, ['b'])
    expect(out.filter(e => e.kind === 'real').map(e => e.kind === 'real' ? e.cell : '')).toEqual(['b1', 'b2', 'b3', 'b4'].slice(0, out.filter(e => e.kind === 'real').length))
    expect(out.every(e => e.lane === 'b')).toBe(true)
  })
})
