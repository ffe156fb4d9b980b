import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ManualClock } from '../../src/overlay/clock.ts'
import { LoopTracker, MAX_AVOIDED_RELAYS, MixCallerError, type RelayId } from '../../src/mix/index.ts'
import { seededRng } from './helpers.ts'

const TIMEOUT = 20_000
const GUARDS = new Set(['G1', 'G2', 'G3'])
const isGuard = (r: RelayId): boolean => GUARDS.has(r)

function tracker () {
  const clock = new ManualClock(0)
  const t = new LoopTracker({ clock, isGuard, timeoutMs: TIMEOUT, confirmWindowMs: 10_000 })
  let n = 0
  /** Send a loop on `path`; it returns (after 100 ms) unless `lost`. Then a confirming loop on `confirm` returns. */
  const loop = (path: RelayId[], lost: boolean): void => {
    const id = `l${n++}`
    t.sent(id, path)
    if (!lost) { clock.advance(100); t.returned(id) }
  }
  /** A loss on `path`, confirmed by a returned loop on a disjoint path sent right after. */
  const confirmedLoss = (path: RelayId[], via = 'G1'): void => {
    loop(path, true)
    loop([via, `ok-m${n}`, `ok-x${n}`], false)
    clock.advance(TIMEOUT)
    t.expire()
  }
  return { clock, t, loop, confirmedLoss }
}

describe('LoopTracker: counters', () => {
  it('sent, returned, lost, late', () => {
    const { clock, t } = tracker()
    t.sent('a', ['G1', 'M', 'X'])
    t.sent('b', ['G1', 'M', 'X'])
    expect(t.returned('a')).toBe('returned')
    expect(t.nextDeadline()).toBe(TIMEOUT)
    clock.advance(TIMEOUT)
    expect(t.expire()).toBe(1)
    expect(t.returned('b')).toBe('late')
    expect(t.returned('zzz')).toBe('unknown')
    expect(t.stats()).toMatchObject({ loopsSent: 2, loopsReturned: 1, loopsLost: 1, lateReturns: 1, pending: 0, relaysAvoided: 0 })
  })

  it('refuses bad input', () => {
    const { t } = tracker()
    expect(() => t.sent('a', [])).toThrow(MixCallerError)
    t.sent('a', ['G1'])
    expect(() => t.sent('a', ['G1'])).toThrow(/unique/)
    expect(() => new LoopTracker({ clock: new ManualClock(), isGuard, timeoutMs: 1000, confirmWindowMs: 1000 })).toThrow(/below timeoutMs/)
  })
})

describe('LoopTracker: the rule', () => {
  it('three failed paths sharing only r (apart from guards) → r avoided, nobody else', () => {
    const { t, confirmedLoss } = tracker()
    confirmedLoss(['G1', 'R', 'X1'])
    confirmedLoss(['G2', 'R', 'X2'])
    expect(t.isAvoided('R')).toBe(false) // two are not enough
    confirmedLoss(['G1', 'X3', 'R'])
    expect(t.avoided()).toEqual(['R'])
    expect(t.stats().relaysAvoided).toBe(1)
  })

  it('pairwise, not just the triple intersection: {r,a,b} {r,a,c} {r,b,c} convict nobody', () => {
    const { t, confirmedLoss } = tracker()
    confirmedLoss(['G1', 'R', 'A', 'B'])
    confirmedLoss(['G1', 'R', 'A', 'C'])
    confirmedLoss(['G1', 'R', 'B', 'C'])
    expect(t.avoided()).toEqual([])
  })

  it('paths that also share another relay do not convict either', () => {
    const { t, confirmedLoss } = tracker()
    for (let i = 0; i < 10; i++) confirmedLoss(['G1', 'R', 'S', `X${i}`])
    expect(t.avoided()).toEqual([])
  })

  it('the same path failing many times is one path', () => {
    const { t, confirmedLoss } = tracker()
    for (let i = 0; i < 10; i++) confirmedLoss(['G1', 'R', 'X'])
    confirmedLoss(['G2', 'R', 'Y'])
    expect(t.avoided()).toEqual([])
    expect(t.stats().failedPaths).toBe(2)
  })

  it('guards are never dropped, even when they are the common relay', () => {
    const { t, confirmedLoss } = tracker()
    for (let i = 0; i < 6; i++) confirmedLoss(['G1', `M${i}`, `X${i}`], 'G2')
    expect(t.isAvoided('G1')).toBe(false)
    expect(t.avoided()).toEqual([])
  })

  it('unconfirmed losses (a client outage: nothing came back) are counted but convict nobody', () => {
    const { clock, t, loop } = tracker()
    for (let i = 0; i < 200; i++) { loop(['G1', `M${i % 7}`, `X${i % 11}`], true); clock.advance(50) }
    clock.advance(TIMEOUT)
    t.expire()
    expect(t.stats()).toMatchObject({ loopsLost: 200, lossesConfirmed: 0, relaysAvoided: 0, failedPaths: 0 })
  })

  it('avoidance and evidence expire', () => {
    const clock = new ManualClock(0)
    const t = new LoopTracker({ clock, isGuard, timeoutMs: TIMEOUT, avoidDurationMs: 60_000, evidenceWindowMs: 50_000 })
    let n = 0
    const loss = (path: RelayId[]): void => {
      t.sent(`l${n++}`, path)
      t.sent(`l${n++}`, ['G1', `ok${n}`]); clock.advance(10); t.returned(`l${n - 1}`)
      clock.advance(TIMEOUT); t.expire()
    }
    loss(['G1', 'R', 'A']); loss(['G1', 'R', 'B']); loss(['G1', 'R', 'C'])
    expect(t.isAvoided('R')).toBe(true)
    clock.advance(60_000)
    expect(t.isAvoided('R')).toBe(false)
    loss(['G1', 'R', 'D']); clock.advance(31_000); loss(['G1', 'R', 'E']); clock.advance(31_000); loss(['G1', 'R', 'F'])
    expect(t.isAvoided('R')).toBe(false) // too far apart: evidence forgotten
  })
})

describe('LoopTracker: an attacker dropping loops', () => {
  const honest = Array.from({ length: 30 }, (_, i) => `H${i}`)
  const guards = [...GUARDS]

  /** Random 3-hop loops through `relays`; `drops(path)` says whether the attacker drops it. */
  function simulate (seed: number, relays: RelayId[], drops: (path: RelayId[]) => boolean, loops = 3000) {
    const clock = new ManualClock(0)
    const t = new LoopTracker({ clock, isGuard, timeoutMs: TIMEOUT })
    const rng = seededRng(seed)
    const inFlight: Array<{ id: string, back: number }> = []
    for (let i = 0; i < loops; i++) {
      clock.advance(200) // 5 loops/s
      const g = guards[rng.int(guards.length)]
      const m = relays[rng.int(relays.length)]
      let x = relays[rng.int(relays.length)]
      while (x === m) x = relays[rng.int(relays.length)]
      const path = [g, m, x]
      const id = `l${i}`
      t.sent(id, path)
      if (!drops(path)) inFlight.push({ id, back: clock.now() + 150 })
      while (inFlight.length > 0 && inFlight[0].back <= clock.now()) t.returned(inFlight.shift()!.id)
      t.expire()
    }
    clock.advance(2 * TIMEOUT)
    for (const l of inFlight) t.returned(l.id)
    t.expire()
    return t
  }

  it('an attacker relay A dropping every loop through it: A is avoided, no honest relay is', () => {
    const t = simulate(61, [...honest, 'A'], (p) => p.includes('A'))
    const st = t.stats()
    console.log('attacker A drops its loops:', JSON.stringify(st), 'avoided', t.avoided())
    expect(t.avoided()).toEqual(['A'])
    expect(st.loopsLost).toBeGreaterThan(100)
  })

  it('an attacker dropping loops only when an honest target H0 is also on the path cannot get H0 avoided', () => {
    // every failed path contains both A and H0: A is a common relay of all of them
    const t = simulate(62, [...honest, 'A'], (p) => p.includes('A') && p.includes('H0'))
    expect(t.isAvoided('H0')).toBe(false)
    expect(t.avoided().filter((r) => r.startsWith('H'))).toEqual([])
  })

  it('two colluding relays dropping every loop through either cannot frame an honest relay', () => {
    // pigeonhole: of any three failed paths, two contain the same attacker relay
    const t = simulate(65, [...honest, 'A1', 'A2'], (p) => p.includes('A1') || p.includes('A2'), 4000)
    expect(t.avoided().filter((r) => r.startsWith('H'))).toEqual([])
    expect(t.avoided()).toEqual(['A1', 'A2'])
  })

  it('property: if every failed path contains A, no relay but A is ever avoided', () => {
    const relay = fc.constantFrom(...honest.slice(0, 12))
    const path = fc.record({ guard: fc.constantFrom(...guards), others: fc.uniqueArray(relay, { minLength: 1, maxLength: 4 }), at: fc.nat(3) })
    fc.assert(fc.property(fc.array(path, { minLength: 1, maxLength: 40 }), (paths) => {
      const { t, confirmedLoss } = tracker()
      for (const p of paths) {
        const others = [...p.others]
        others.splice(Math.min(p.at, others.length), 0, 'A')
        confirmedLoss([p.guard, ...others], guards.find((g) => g !== p.guard))
      }
      expect(t.avoided().every((r) => r === 'A')).toBe(true)
    }), { numRuns: 300 })
  })

  it('a malicious guard dropping loops is never dropped, and what it can frame is capped', () => {
    const t = simulate(63, honest, (p) => p[0] === 'G1')
    expect(t.isAvoided('G1')).toBe(false)
    expect(t.avoided().length).toBeLessThanOrEqual(MAX_AVOIDED_RELAYS)
    expect(t.avoided()).not.toContain('G1')
  })

  it('with no attacker, nobody is avoided', () => {
    const t = simulate(64, honest, () => false)
    expect(t.avoided()).toEqual([])
    expect(t.stats().loopsLost).toBe(0)
  })
})
