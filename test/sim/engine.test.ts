import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { EventQueue } from '../../sim/engine/queue.ts'
import { Engine, SIM_EPOCH_MS } from '../../sim/engine/engine.ts'
import { benchQueue } from '../../sim/engine/bench.ts'
import { SeededRng } from '../../sim/rng.ts'
import { SimInternalError } from '../../sim/errors.ts'

describe('EventQueue', () => {
  it('property: pops in (time, insertion) order whatever the pushes, growing past its capacity', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 3000 }), (times) => {
      const q = new EventQueue(4)
      times.forEach((t, i) => q.push(t, 1, i))
      const expected = times.map((t, i) => [t, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
      for (const [t, i] of expected) {
        expect(q.pop()).toBe(true)
        expect([q.time, q.target]).toEqual([t, i])
      }
      expect(q.pop()).toBe(false)
    }), { numRuns: 50 })
  })
  it('property: interleaved pushes and pops come out in (time, insertion) order across the near heap, the bucket ring and the overflow', () => {
    // delays from ties (0) through the near heap and the ring (128 buckets) to far beyond
    // it, around the ring's edge in particular, with bucket widths small enough that every
    // path (ring wrap, overflow, jumps over an empty ring) runs
    const within = (lo: number, hi: number): fc.Arbitrary<number> =>
      fc.tuple(fc.integer({ min: lo, max: hi }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })).map(([a, b]) => a + b)
    const delay = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 }), within(0, 3), within(122, 134), within(250, 262), within(0, 600), fc.integer({ min: 0, max: 100_000 }))
    const op = fc.oneof({ arbitrary: fc.tuple(fc.constant('push' as const), delay), weight: 3 }, { arbitrary: fc.tuple(fc.constant('pop' as const), fc.constant(0)), weight: 2 })
    fc.assert(fc.property(fc.array(op, { maxLength: 2000 }), fc.constantFrom(1, 2, 256), (ops, bucketMs) => {
      const q = new EventQueue(2, bucketMs)
      const ref: Array<[number, number]> = [] // (time, id), kept sorted
      let now = 0
      let id = 0
      const popBoth = (): void => {
        expect(q.size).toBe(ref.length)
        if (ref.length === 0) { expect(q.peekTime()).toBe(Infinity); expect(q.pop()).toBe(false); return }
        const [t, i] = ref.shift() as [number, number]
        expect(q.peekTime()).toBe(t)
        expect(q.pop()).toBe(true)
        expect([q.time, q.target, q.arg]).toEqual([t, i, i % 7])
        now = t
      }
      for (const [kind, d] of ops) {
        if (kind === 'pop') { popBoth(); continue }
        const t = now + d
        q.push(t, 1, id, id % 7)
        let k = ref.length
        while (k > 0 && ref[k - 1][0] > t) k--
        ref.splice(k, 0, [t, id++])
      }
      while (ref.length > 0) popBoth()
      expect(q.pop()).toBe(false)
    }), { numRuns: 100 })
  })
  it('an event from the overflow is not overtaken by a later one pushed into the ring', () => {
    const q = new EventQueue(4, 1) // ring of 128 buckets of 1
    q.push(200, 0, 1)
    q.push(300.5, 0, 2) // 300 buckets ahead: overflow
    expect(q.pop()).toBe(true)
    expect(q.time).toBe(200)
    q.push(300.7, 0, 3) // 100 buckets ahead now: ring
    q.push(300.5, 0, 4) // ties with 2, pushed later
    const out: number[] = []
    while (q.pop()) out.push(q.target)
    expect(out).toEqual([2, 4, 3])
  })
  it('bucket width must be a power of two', () => {
    expect(() => new EventQueue(4, 100)).toThrow(RangeError)
  })
  it('interleaved push/pop keeps order', () => {
    const q = new EventQueue(2)
    const rng = SeededRng.derive(1, 'q')
    let last = -Infinity
    for (let i = 0; i < 10_000; i++) q.push(rng.float() * 100, 0, i)
    for (let i = 0; i < 100_000; i++) {
      q.pop()
      expect(q.time).toBeGreaterThanOrEqual(last)
      last = q.time
      q.push(q.time + rng.exp(1), 0, q.target, q.arg + 1)
    }
    expect(q.size).toBe(10_000)
  })
})

describe('Engine', () => {
  it('dispatches by kind on simulated time and exposes a Clock', () => {
    const e = new Engine()
    const log: string[] = []
    e.on(0, (t, a) => { log.push(`a${t}:${a}@${e.now}`); if (a < 2) e.after(10, 0, t, a + 1) })
    e.on(1, (t) => { log.push(`b${t}@${e.now}`) })
    e.at(5, 1, 7)
    e.at(0, 0, 1)
    e.at(5, 0, 2, 5)
    e.run(100)
    expect(log).toEqual(['a1:0@0', 'b7@5', 'a2:5@5', 'a1:1@10', 'a1:2@20'])
    expect(e.events).toBe(5)
    expect(e.clock.now()).toBe(SIM_EPOCH_MS + 100)
    expect(() => e.at(50, 0, 0)).toThrow(SimInternalError)
  })
  it('an unknown kind is an internal error', () => {
    const e = new Engine()
    e.at(1, 3, 0)
    expect(() => e.run(10)).toThrow(/kind 3/)
  })
  it('bare heap runs ≥ 1M events/s even on a shared machine (bench/sim.ts measures the real number)', () => {
    const r = benchQueue(2_000_000, 10_000)
    expect(r.eventsPerSecond).toBeGreaterThan(1_000_000)
  })
})

describe('SeededRng', () => {
  it('streams are derived from (seed, label, index) only', () => {
    const a = SeededRng.derive(42, 'relay', 3)
    const b = SeededRng.derive(42, 'relay', 3)
    const c = SeededRng.derive(42, 'relay', 4)
    const xa = Array.from({ length: 8 }, () => a.u32())
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(xa)
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(xa)
  })
  it('int is in range and unbiased enough; float in [0, 1)', () => {
    const r = SeededRng.derive(1, 'int')
    const counts = new Array(6).fill(0)
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]++
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500)
    for (let i = 0; i < 10_000; i++) { const f = r.float(); expect(f >= 0 && f < 1).toBe(true) }
    expect(() => r.int(0)).toThrow(SimInternalError)
    expect(r.bytes(7).length).toBe(7)
  })
})
