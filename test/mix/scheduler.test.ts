import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ManualClock } from '../../src/overlay/clock.ts'
import {
  DEFAULT_LANE_LIMIT, DEFAULT_SCHEDULER_CAPACITY, MIN_SCHEDULER_CAPACITY, MAX_EXP_SAMPLE_MEANS, MixCallerError,
  ManualTimer, MixScheduler, PROFILE_IDS, TimerDriver, mantissa53, relayMixTable, sampleExp, uniform53,
  type ProfileId
} from '../../src/mix/index.ts'
import { expCdf, kendallTau, ksCritical, ksStatistic, seededRng } from './helpers.ts'

const START = 1_700_000_000_000
const BALANCED_MEAN = relayMixTable().get(PROFILE_IDS.balanced)!.perHopMeanDelayMs

function make (opts: { seed?: number, profile?: ProfileId, capacity?: number, laneLimit?: number } = {}) {
  const clock = new ManualClock(START)
  const drops: string[] = []
  const s = new MixScheduler<string, 'forward' | 'backward'>({
    clock,
    rng: seededRng(opts.seed ?? 1),
    profileOf: () => opts.profile ?? PROFILE_IDS.balanced,
    capacity: opts.capacity,
    laneLimit: opts.laneLimit,
    onDrop: (k, _d, r) => drops.push(`${k}:${r}`)
  })
  return { clock, s, drops }
}

/** Run the scheduler to empty on virtual time, jumping to each deadline. */
function drain (clock: ManualClock, s: MixScheduler<string, 'forward' | 'backward'>, until = Infinity): void {
  for (let d = s.nextDeadline(); d !== undefined && d <= until; d = s.nextDeadline()) {
    if (d > clock.now()) clock.set(d)
    s.releaseDue(clock.now())
  }
}

describe('random', () => {
  it('builds 53-bit doubles from 7 bytes exactly', () => {
    expect(mantissa53(new Uint8Array(7))).toBe(0)
    expect(mantissa53(new Uint8Array(7).fill(0xff))).toBe(2 ** 53 - 1)
    expect(mantissa53(Uint8Array.of(0x80, 0, 0, 0, 0, 0, 0))).toBe(2 ** 52)
    expect(mantissa53(Uint8Array.of(0, 0, 0, 0, 0, 0, 0x08))).toBe(1) // lowest kept bit
    expect(mantissa53(Uint8Array.of(0, 0, 0, 0, 0, 0, 0x07))).toBe(0) // 3 dropped bits
    const ones = { bytes: (n: number) => new Uint8Array(n).fill(0xff), int: () => 0 }
    expect(uniform53(ones)).toBe(1 - 2 ** -53)
    expect(sampleExp(ones, 1)).toBeCloseTo(MAX_EXP_SAMPLE_MEANS, 10)
    expect(sampleExp(ones, 10)).toBeLessThanOrEqual(10 * MAX_EXP_SAMPLE_MEANS + 1e-9)
  })

  it('is uniform in [0, 1) for any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 7, maxLength: 7 }), (b) => {
      const u = uniform53({ bytes: () => b, int: () => 0 })
      return u >= 0 && u < 1 && Number.isInteger(u * 2 ** 53)
    }))
  })

  it('rejects bad means', () => {
    expect(() => sampleExp(seededRng(1), -1)).toThrow(MixCallerError)
    expect(() => sampleExp(seededRng(1), Infinity)).toThrow(MixCallerError)
    expect(sampleExp(seededRng(1), 0)).toBe(0)
  })
})

describe('MixScheduler: delays', () => {
  it('isolated cells (10 means apart) have per-hop delays fitting Exp(mean) (KS, α = 0.01)', () => {
    const { clock, s } = make({ seed: 20240601 })
    const n = 2000
    const delays: number[] = []
    for (let i = 0; i < n; i++) {
      const arrival = START + i * 10 * BALANCED_MEAN
      drain(clock, s, arrival)
      clock.set(arrival)
      let releasedAt = NaN
      s.schedule('c0', 'forward', () => { releasedAt = clock.now() })
      drain(clock, s, arrival + 10 * BALANCED_MEAN - 1e-9)
      if (Number.isNaN(releasedAt)) drain(clock, s) // a delay beyond 10 means (rare)
      delays.push(releasedAt - arrival)
    }
    const d = ksStatistic(delays, expCdf(BALANCED_MEAN))
    const crit = ksCritical(n, 0.01)
    const mean = delays.reduce((a, b) => a + b, 0) / n
    console.log(`KS: n=${n} mean=${BALANCED_MEAN}ms sample mean=${mean.toFixed(3)}ms D=${d.toFixed(4)} critical(α=0.01)=${crit.toFixed(4)}`)
    expect(d).toBeLessThan(crit)
    // and the statistic is not blind: the same delays shifted by half a mean fail
    expect(ksStatistic(delays.map((x) => x + BALANCED_MEAN / 2), expCdf(BALANCED_MEAN))).toBeGreaterThan(crit)
  })

  it('is deterministic under a seed', () => {
    const run = (seed: number): number[] => {
      const { clock, s } = make({ seed })
      const out: number[] = []
      for (let i = 0; i < 50; i++) s.schedule(`c${i % 5}`, 'forward', () => out.push(i * 1e6 + clock.now() - START))
      drain(clock, s)
      return out
    }
    expect(run(7)).toEqual(run(7))
    expect(run(7)).not.toEqual(run(8))
  })

  it('fast profile: sent at once, no heap, no randomness', () => {
    const rng = seededRng(3)
    const clock = new ManualClock(START)
    const s = new MixScheduler({ clock, rng, profileOf: () => PROFILE_IDS.fast })
    let sent = 0
    for (let i = 0; i < 100; i++) s.schedule('c', 'forward', () => { sent++ })
    expect(sent).toBe(100)
    expect(s.inFlight).toBe(0)
    expect(s.stats().immediate).toBe(100)
    expect(rng.draws()).toBe(0)
  })
})

describe('MixScheduler: order', () => {
  it('within a circuit and direction, output order equals input order (any arrival schedule)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 31 }),
      fc.array(fc.record({
        gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5 * BALANCED_MEAN, noNaN: true })),
        circuit: fc.integer({ min: 0, max: 4 }),
        backward: fc.boolean()
      }), { minLength: 1, maxLength: 300 }),
      (seed, arrivals) => {
        const { clock, s } = make({ seed })
        const out = new Map<string, number[]>()
        arrivals.forEach((a, i) => {
          const t = clock.now() + a.gap
          drain(clock, s, t)
          clock.set(t)
          const lane = `c${a.circuit}/${a.backward ? 'b' : 'f'}`
          s.schedule(`c${a.circuit}`, a.backward ? 'backward' : 'forward', () => {
            const l = out.get(lane) ?? []
            l.push(i)
            out.set(lane, l)
          })
        })
        drain(clock, s)
        let total = 0
        for (const seq of out.values()) {
          total += seq.length
          for (let k = 1; k < seq.length; k++) if (seq[k] <= seq[k - 1]) return false
        }
        return total === arrivals.length && s.inFlight === 0 && s.stats().lanes === 0
      }
    ), { numRuns: 200 })
  })

  it('across 50 circuits, release order differs from arrival order (Kendall τ < 0.99)', () => {
    const { clock, s } = make({ seed: 99 })
    const rng = seededRng(100)
    const circuits = 50
    const cells = 1000
    const arrivalRank: number[] = []
    const releaseRank: number[] = new Array(cells)
    let released = 0
    let lanesSeenReordered = 0
    const lastPerCircuit = new Map<number, number>()
    for (let i = 0; i < cells; i++) {
      // Poisson arrivals, one cell per mean/20 across all circuits (2,000 cells/s at a 10 ms
      // mean): 1,000 cells span K ≈ 50 means. For i.i.d. delays τ ≈ 1 − 2/K over such a
      // window, so τ measures how much the window mixes, not a property of one cell.
      const gap = sampleExp(rng, BALANCED_MEAN / 20)
      const t = clock.now() + gap
      drain(clock, s, t)
      clock.set(t)
      const c = rng.int(circuits)
      arrivalRank.push(i)
      s.schedule(`c${c}`, 'forward', () => {
        releaseRank[i] = released++
        const prev = lastPerCircuit.get(c)
        if (prev !== undefined && prev > i) lanesSeenReordered++
        lastPerCircuit.set(c, i)
      })
    }
    const spanMeans = (clock.now() - START) / BALANCED_MEAN
    drain(clock, s)
    expect(released).toBe(cells)
    expect(lanesSeenReordered).toBe(0)
    const tau = kendallTau(arrivalRank, releaseRank)
    console.log(`Kendall τ (arrival vs release, ${circuits} circuits, ${cells} cells, arrivals every mean/20 spanning ${spanMeans.toFixed(1)} means): ${tau.toFixed(4)}`)
    expect(tau).toBeLessThan(0.99)
    expect(tau).toBeGreaterThan(0) // still strongly related: delays are short
  })
})

describe('MixScheduler: bounds', () => {
  it('holds the default capacity (≥ 10k) in flight', () => {
    const { s } = make()
    expect(s.capacity).toBe(DEFAULT_SCHEDULER_CAPACITY)
    expect(s.capacity).toBeGreaterThanOrEqual(MIN_SCHEDULER_CAPACITY)
    for (let i = 0; i < 10_000; i++) expect(s.schedule(`c${i % 100}`, 'forward', () => {})).toBe(true)
    expect(s.inFlight).toBe(10_000)
    expect(s.stats().droppedCapacity).toBe(0)
  })

  it('a flood cannot grow the queue past its bound: the excess is dropped and counted', () => {
    const { clock, s, drops } = make({ capacity: MIN_SCHEDULER_CAPACITY, laneLimit: MIN_SCHEDULER_CAPACITY })
    const flood = 50_000
    let sent = 0
    let accepted = 0
    for (let i = 0; i < flood; i++) if (s.schedule(`c${i % 1000}`, 'forward', () => { sent++ })) accepted++
    expect(s.inFlight).toBe(MIN_SCHEDULER_CAPACITY)
    expect(accepted).toBe(MIN_SCHEDULER_CAPACITY)
    const st = s.stats()
    expect(st.droppedCapacity).toBe(flood - MIN_SCHEDULER_CAPACITY)
    expect(st.highWater).toBe(MIN_SCHEDULER_CAPACITY)
    expect(drops.length).toBe(flood - MIN_SCHEDULER_CAPACITY)
    expect(drops[0]).toMatch(/:capacity$/)
    drain(clock, s)
    expect(sent).toBe(MIN_SCHEDULER_CAPACITY)
    // room again after release, and the heap never grew
    expect(s.schedule('x', 'forward', () => {})).toBe(true)
  })

  it('one flooding circuit is stopped at its lane limit, leaving room for others', () => {
    const { s, drops } = make()
    for (let i = 0; i < DEFAULT_LANE_LIMIT + 500; i++) s.schedule('flood', 'forward', () => {})
    expect(s.inFlight).toBe(DEFAULT_LANE_LIMIT)
    expect(s.stats().droppedLaneLimit).toBe(500)
    expect(drops.every((d) => d === 'flood:lane-limit')).toBe(true)
    expect(s.schedule('other', 'forward', () => {})).toBe(true)
    expect(s.schedule('flood', 'backward', () => {})).toBe(true) // the other direction is its own lane
  })

  it('rejects bad options with clear errors', () => {
    const clock = new ManualClock()
    const base = { clock, rng: seededRng(1), profileOf: () => PROFILE_IDS.balanced }
    expect(() => new MixScheduler({ ...base, capacity: 100 })).toThrow(/capacity must be an integer in \[10000/)
    expect(() => new MixScheduler({ ...base, laneLimit: 0 })).toThrow(/laneLimit/)
    const s = new MixScheduler({ ...base, profileOf: () => 9 as ProfileId })
    expect(() => s.schedule('c', 'f', () => {})).toThrow(/no relay parameters for profile id 9/)
  })

  it('cancelCircuit discards queued cells; clear empties everything', () => {
    const { clock, s } = make()
    let sent = 0
    for (let i = 0; i < 10; i++) s.schedule('a', 'forward', () => { sent++ })
    for (let i = 0; i < 10; i++) s.schedule('b', 'forward', () => { sent++ })
    s.cancelCircuit('a')
    drain(clock, s)
    expect(sent).toBe(10)
    expect(s.stats().cancelled).toBe(10)
    for (let i = 0; i < 5; i++) s.schedule('a', 'forward', () => { sent++ })
    expect(s.clear()).toBe(5)
    expect(s.inFlight).toBe(0)
    expect(s.nextDeadline()).toBeUndefined()
  })

  it('a throwing send does not strand the rest of the batch', () => {
    const { clock, s } = make()
    let sent = 0
    s.schedule('a', 'forward', () => { throw new Error('boom') })
    for (let i = 0; i < 5; i++) s.schedule(`b${i}`, 'forward', () => { sent++ })
    clock.advance(100 * BALANCED_MEAN)
    expect(() => s.releaseDue(clock.now())).toThrow('boom')
    expect(sent).toBe(5)
    expect(s.inFlight).toBe(0)
  })
})

describe('TimerDriver', () => {
  it('arms one timer (not one per cell) and releases everything on virtual time', () => {
    const clock = new ManualClock(START)
    const timer = new ManualTimer(clock)
    const driver = new TimerDriver(new MixScheduler({ clock, rng: seededRng(5), profileOf: () => PROFILE_IDS.paranoid }), clock, timer)
    const out: number[] = []
    for (let i = 0; i < 1000; i++) {
      driver.schedule(`c${i % 20}`, 'forward', () => out.push(clock.now()))
      expect(timer.armed).toBe(1)
    }
    expect(driver.armedAt).toBe(driver.scheduler.nextDeadline())
    timer.advance(60_000)
    expect(out.length).toBe(1000)
    expect(timer.armed).toBe(0)
    expect(driver.armedAt).toBeUndefined()
    expect(driver.wakeups).toBeLessThanOrEqual(1000)
    // released exactly at their deadlines, in time order
    for (let i = 1; i < out.length; i++) expect(out[i]).toBeGreaterThanOrEqual(out[i - 1])
  })

  it('stop() cancels the timer and discards queued cells', () => {
    const clock = new ManualClock(START)
    const timer = new ManualTimer(clock)
    const driver = new TimerDriver(new MixScheduler({ clock, rng: seededRng(5), profileOf: () => PROFILE_IDS.balanced }), clock, timer)
    let sent = 0
    for (let i = 0; i < 10; i++) driver.schedule('c', 'forward', () => { sent++ })
    expect(driver.stop()).toBe(10)
    expect(timer.armed).toBe(0)
    timer.advance(10_000)
    expect(sent).toBe(0)
  })
})
