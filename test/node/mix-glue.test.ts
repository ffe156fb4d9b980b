/**
 * The relay half of src/node/mix-glue.ts on a virtual clock: the mixer's timer and
 * commands, and idle-link padding.
 */
import { describe, it, expect } from 'vitest'
import { LinkPadder, relayMixer } from '../../src/node/mix-glue.ts'
import { CELL_SIZE, CIRC_ID_LEN, CellCommand, CircuitProtocolError, RelayCommand, RelayCommandTable, type ExtensionContext, type LinkLike } from '../../src/onion/index.ts'
import { LOOP_ID_LEN, ManualTimer, RELAY_LOOP, RELAY_SET_PROFILE } from '../../src/mix/index.ts'
import { ManualClock } from '../../src/overlay/clock.ts'
import { seededRng } from '../mix/helpers.ts'

function ctx (key: string, lastHop = false, replies: Array<[number, Uint8Array]> = []): ExtensionContext {
  return { circuitKey: key, lastHop, reply: (command, _sid, data) => { replies.push([command, data]) } }
}

describe('relayMixer', () => {
  it('one timer; the circuit\'s announced profile sets its delay; closed() cancels; stop() clears the timer', async () => {
    const clock = new ManualClock(0)
    const timer = new ManualTimer(clock)
    const m = relayMixer({ clock, timer, rng: seededRng(3) })
    const t = new RelayCommandTable()
    m.register(t)
    const sent: string[] = []
    // no SET_PROFILE: fast, sent at once, no timer
    m.scheduler.schedule('a', 'outbound', () => { sent.push('a0') })
    expect(sent).toEqual(['a0'])
    expect(timer.armed).toBe(0)
    await t.get(RELAY_SET_PROFILE)!(ctx('b'), { command: RELAY_SET_PROFILE, streamId: 0, data: Uint8Array.of(2) })
    expect(m.profileOf('b')).toBe(2)
    for (let i = 0; i < 100; i++) m.scheduler.schedule('b', 'outbound', () => { sent.push(`b${i}`) })
    expect(timer.armed).toBe(1) // one timer for 100 cells
    expect(m.stats()).toMatchObject({ inFlight: 100, circuitsByProfile: { paranoid: 1 } })
    timer.advance(200)
    const released = sent.length - 1
    expect(sent.slice(1)).toEqual(Array.from({ length: released }, (_, i) => `b${i}`)) // in order
    m.scheduler.closed?.('b')
    expect(m.stats().lanes).toBe(0)
    expect(m.profileOf('b')).toBe(0)
    timer.advance(10_000)
    expect(sent.length).toBe(1 + released) // cancelled cells never go
    await t.get(RELAY_SET_PROFILE)!(ctx('c'), { command: RELAY_SET_PROFILE, streamId: 0, data: Uint8Array.of(1) })
    for (let i = 0; i < 10; i++) m.scheduler.schedule('c', 'inbound', () => {})
    expect(timer.armed).toBe(1)
    expect(m.stop()).toBe(10)
    expect(timer.armed).toBe(0)
  })

  it('SET_PROFILE: one byte, a known id, once; LOOP only at the last hop, answered with a DROP', async () => {
    const clock = new ManualClock(0)
    const m = relayMixer({ clock, timer: new ManualTimer(clock), rng: seededRng(1) })
    const t = new RelayCommandTable()
    m.register(t)
    const set = t.get(RELAY_SET_PROFILE)!
    const cell = (data: Uint8Array) => ({ command: RELAY_SET_PROFILE, streamId: 0, data })
    expect(() => set(ctx('x'), cell(Uint8Array.of(3)))).toThrow(CircuitProtocolError)
    expect(() => set(ctx('x'), cell(Uint8Array.of(1, 0)))).toThrow(CircuitProtocolError)
    expect(() => set(ctx('x'), cell(new Uint8Array(0)))).toThrow(CircuitProtocolError)
    set(ctx('x'), cell(Uint8Array.of(1)))
    expect(() => set(ctx('x'), cell(Uint8Array.of(1)))).toThrow(CircuitProtocolError)
    expect(m.stats().profileRefused).toBe(4)
    const loop = t.get(RELAY_LOOP)!
    const id = Uint8Array.from({ length: LOOP_ID_LEN }, (_, i) => i + 1)
    expect(() => loop(ctx('x', false), { command: RELAY_LOOP, streamId: 0, data: id })).toThrow(CircuitProtocolError)
    expect(() => loop(ctx('x', true), { command: RELAY_LOOP, streamId: 0, data: id.subarray(1) })).toThrow(CircuitProtocolError)
    const replies: Array<[number, Uint8Array]> = []
    loop(ctx('x', true, replies), { command: RELAY_LOOP, streamId: 0, data: id })
    expect(replies).toEqual([[RelayCommand.DROP, id]])
    expect(m.stats().loopsEchoed).toBe(1)
  })
})

describe('LinkPadder', () => {
  function fakeLink (): LinkLike & { cells: Uint8Array[] } {
    const cells: Uint8Array[] = []
    return { peer: 'p', direction: 'inbound', closed: false, cells, send: (c) => { cells.push(c); return true } }
  }

  it('pads an idle link at the policy rate with CELL_SIZE PADDING cells; real activity restarts the idle wait; stop clears the timer', () => {
    const clock = new ManualClock(0)
    const timer = new ManualTimer(clock)
    const p = new LinkPadder({ policy: { ratePerSec: 10, idleAfterMs: 100 }, clock, timer, rng: seededRng(9) })
    const link = fakeLink()
    p.activity(link)
    timer.advance(99)
    expect(link.cells.length).toBe(0)
    timer.advance(1)
    expect(link.cells.length).toBe(1)
    timer.advance(10_000 - 100)
    // ≈ 10/s for 9.9 s (Exp gaps): well inside 4σ of 99
    expect(link.cells.length).toBeGreaterThan(60)
    expect(link.cells.length).toBeLessThan(140)
    for (const c of link.cells) {
      expect(c.length).toBe(CELL_SIZE)
      expect(c[CIRC_ID_LEN]).toBe(CellCommand.PADDING)
    }
    const n = link.cells.length
    p.activity(link)
    timer.advance(99)
    expect(link.cells.length).toBe(n)
    expect(p.stats()).toEqual({ links: 1, paddingSent: n })
    p.stop()
    expect(timer.armed).toBe(0)
    timer.advance(10_000)
    expect(link.cells.length).toBe(n)
  })
})
