import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/overlay/clock.ts'
import { LastHopStreams, ManualTimer } from '../../src/mix/index.ts'
import { seededRng } from './helpers.ts'

/** Two-sided z for 99.9 %. */
const Z = 3.29

/** A relay's backward streams on virtual time; `sent` records (time, what) per circuit. */
function setup (seed: number, opts: { laneLimit?: number } = {}) {
  const clock = new ManualClock(0)
  const timer = new ManualTimer(clock)
  const sent = new Map<string, Array<{ at: number, what: string }>>()
  const record = (k: string, what: string): void => {
    let l = sent.get(k)
    if (l === undefined) { l = []; sent.set(k, l) }
    l.push({ at: clock.now(), what })
  }
  const closedCircuits = new Set<string>()
  const drops: string[] = []
  // the filler goes the way every originated cell goes: back through offer(), which sends it at once
  const streams: LastHopStreams<string> = new LastHopStreams<string>({
    clock, timer, rng: seededRng(seed), laneLimit: opts.laneLimit,
    filler: (k) => closedCircuits.has(k) ? false : streams.offer(k, () => { record(k, 'filler') }),
    onDrop: (k) => { drops.push(k) }
  })
  return { clock, timer, streams, sent, closedCircuits, drops, record }
}

describe('LastHopStreams (paranoid backward stream)', () => {
  it('an idle circuit gets μ fillers per second; a busy one μ cells per second all told', () => {
    const { timer, streams, sent, record } = setup(5)
    const μ = 20
    streams.open('idle', μ)
    streams.open('busy', μ)
    // the busy circuit's last hop produces responses in bursts of 30 cells every 3 s
    let n = 0
    for (let t = 1_000; t < 600_000; t += 3_000) {
      timer.advanceTo(t)
      for (let i = 0; i < 30; i++) { const id = n++; expect(streams.offer('busy', () => { record('busy', `r${id}`) })).toBe(true) }
    }
    timer.advanceTo(600_000)
    const expected = μ * 600
    for (const k of ['idle', 'busy']) {
      const got = sent.get(k) ?? []
      expect(Math.abs(got.length - expected), k).toBeLessThan(Z * Math.sqrt(expected))
    }
    expect((sent.get('idle') ?? []).every(e => e.what === 'filler')).toBe(true)
    // responses left in order, one per slot, and never in a burst: gaps are the stream's
    const responses = (sent.get('busy') ?? []).filter(e => e.what !== 'filler')
    expect(responses.map(e => e.what)).toEqual(Array.from({ length: responses.length }, (_, i) => `r${i}`))
    expect(responses.length).toBeGreaterThan(n - 60)
    const s = streams.stats()
    expect(s.lanes).toBe(2)
    expect(s.sent).toBe(responses.length)
    console.log(`backward streams, 600 s at μ = ${μ}: ${JSON.stringify(s)}`)
  })

  it('one timer for many circuits', () => {
    const { timer, streams } = setup(9)
    for (let i = 0; i < 200; i++) streams.open(`c${i}`, 20)
    expect(timer.armed).toBe(1)
    timer.advanceTo(10_000)
    expect(timer.armed).toBe(1)
    expect(streams.stats().fillers).toBeGreaterThan(200 * 20 * 10 * 0.9)
  })

  it('bounded: past laneLimit a cell is refused and reported; a lane whose circuit can take no filler closes', () => {
    const { timer, streams, sent, closedCircuits, drops } = setup(2, { laneLimit: 8 })
    streams.open('a', 20)
    for (let i = 0; i < 8; i++) expect(streams.offer('a', () => {})).toBe(true)
    expect(streams.offer('a', () => {})).toBe(false)
    expect(drops).toEqual(['a'])
    expect(streams.stats()).toMatchObject({ dropped: 1, queued: 8 })
    // the circuit stops ending here (closed or extended): its first empty slot closes the lane
    streams.open('b', 20)
    closedCircuits.add('b')
    timer.advanceTo(5_000)
    expect(streams.has('b')).toBe(false)
    expect(sent.get('b')).toBeUndefined()
    // a cell for a circuit without a lane goes at once
    let now = false
    streams.offer('b', () => { now = true })
    expect(now).toBe(true)
    streams.close('a')
    expect(streams.stats()).toMatchObject({ lanes: 0, queued: 0 })
    streams.stop()
    expect(timer.armed).toBe(0)
  })
})

describe('LastHopStreams bounds', () => {
  it('refuses lanes past maxLanes and cells past the shared capacity; a throwing send does not strand its lane', () => {
    const clock = new ManualClock(0)
    const timer = new ManualTimer(clock)
    const drops: string[] = []
    let throwOnce = true
    const sent: string[] = []
    const s: LastHopStreams<string> = new LastHopStreams<string>({
      clock, timer, rng: seededRng(8), maxLanes: 2, capacity: 3, laneLimit: 100,
      filler: (k) => s.offer(k, () => { sent.push(`${k}:filler`) }),
      onDrop: (k) => { drops.push(k) }
    })
    expect(s.open('a', 10)).toBe(true)
    expect(s.open('b', 10)).toBe(true)
    expect(s.open('c', 10)).toBe(false)
    expect(s.stats().lanesRefused).toBe(1)
    expect(s.offer('a', () => { if (throwOnce) { throwOnce = false; throw new Error('boom') } sent.push('a:1') })).toBe(true)
    expect(s.offer('a', () => { sent.push('a:2') })).toBe(true)
    expect(s.offer('b', () => { sent.push('b:1') })).toBe(true)
    expect(s.offer('b', () => { sent.push('b:2') })).toBe(false) // capacity 3 over all lanes
    expect(drops).toEqual(['b'])
    // the first send throws: counted, and its lane keeps its slots
    timer.advanceTo(20_000)
    expect(s.stats().sendErrors).toBe(1)
    expect(sent).toContain('a:2')
    expect(sent).toContain('b:1')
    expect(sent.filter(x => x === 'a:filler').length).toBeGreaterThan(50)
    expect(s.stats().queued).toBe(0)
    s.stop()
  })
})
