/** The publisher on a manual clock and manual timers: current + next period, republish intervals, change delay. */
import { describe, it, expect } from 'vitest'
import { ManualClock, type Rng as PickRng } from '../../src/overlay/clock.ts'
import { Publisher, type Timers } from '../../src/registry/publisher.ts'
import { testnetParams, PRODUCTION_PARAMS } from '../../src/registry/params.ts'
import type { BuiltDescriptor } from '../../src/registry/descriptor.ts'

class ManualTimers implements Timers {
  readonly pending = new Map<number, { at: number, fn: () => void }>()
  #id = 0
  readonly clock: ManualClock
  constructor (clock: ManualClock) { this.clock = clock }
  setTimeout (fn: () => void, ms: number): unknown { const id = ++this.#id; this.pending.set(id, { at: this.clock.now() + ms, fn }); return id }
  clearTimeout (h: unknown): void { this.pending.delete(h as number) }
  next (): number | undefined { return Math.min(...[...this.pending.values()].map(p => p.at)) }
  async runNext (): Promise<void> {
    const [id, p] = [...this.pending.entries()].sort((a, b) => a[1].at - b[1].at)[0]
    this.pending.delete(id)
    this.clock.set(p.at)
    p.fn()
    await new Promise(resolve => setTimeout(resolve, 0))
  }
}

const mid: PickRng = { bytes: (n) => new Uint8Array(n), int: (n) => Math.floor(n / 2) }

describe('publisher', () => {
  it('publishes for p and p+1, republishes within 60–120 min, sooner after a change', async () => {
    const params = PRODUCTION_PARAMS
    const clock = new ManualClock(1_700_000_000_000)
    const timers = new ManualTimers(clock)
    const built: Array<{ period: number, at: number }> = []
    const pub = new Publisher({
      clock, rng: mid, timers, params,
      build: (period, now) => { built.push({ period, at: now }); return { period } as unknown as BuiltDescriptor },
      publish: async (d) => ({ period: d.period, attempted: 8, acknowledged: 8, ok: true, results: [] })
    })
    await pub.start()
    const p = built[0].period
    expect(built.map(b => b.period)).toEqual([p, p + 1])
    const delay = timers.next()! - clock.now()
    expect(delay).toBeGreaterThanOrEqual(60 * 60_000)
    expect(delay).toBeLessThanOrEqual(120 * 60_000)
    pub.change()
    const after = timers.next()! - clock.now()
    expect(after).toBeLessThanOrEqual(5 * 60_000)
    expect(timers.pending.size).toBe(1)
    await timers.runNext()
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(built.length).toBe(4)
    pub.stop()
    expect(timers.pending.size).toBe(0)
  })

  it('testnet preset shortens every clock; a failed publish is retried soon', async () => {
    const params = testnetParams(60)
    expect(params.lifetimeSeconds).toBeLessThanOrEqual(60)
    expect(params.republishMaxMs).toBeLessThan(10_000)
    expect(params.eligibilityAgeMs).toBe(120_000)
    const clock = new ManualClock(1_700_000_010_000)
    const timers = new ManualTimers(clock)
    let ok = false
    const pub = new Publisher({
      clock, rng: mid, timers, params, retryMs: 500,
      build: (period) => ({ period }) as unknown as BuiltDescriptor,
      publish: async (d) => ({ period: d.period, attempted: 8, acknowledged: ok ? 8 : 3, ok, results: [] })
    })
    await pub.start()
    expect(pub.counters.failures).toBe(1)
    expect(timers.next()! - clock.now()).toBe(500)
    ok = true
    await timers.runNext()
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(pub.counters.publishes).toBe(2)
    // never planned past the next period boundary (a fresh "next" descriptor is due then)
    const boundary = Math.ceil(clock.now() / 60_000) * 60_000
    expect(timers.next()!).toBeLessThanOrEqual(boundary + 1)
    pub.stop()
  })
})
