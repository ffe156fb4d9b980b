/**
 * Entry relays (guards) kept across restarts: the pure choice, the file, and a real
 * client node restarted on one guard file (4 relays on loopback; one stopped).
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { join } from 'node:path'
import { readFile, stat, writeFile } from 'node:fs/promises'
import {
  ENTRY_LIFETIME, ENTRY_STATE_FILE, TESTNET_ENTRY_LIFETIME, loadEntryState, parseEntryState, saveEntryState, selectEntries
} from '../../src/node/entry-guards.ts'
import { startClientNode } from '../../src/node/client.ts'
import { secureRng } from '../../src/overlay/clock.ts'
import { tempHome } from '../overlay/helpers.ts'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'

const DAY = 86_400_000
const offered = ['a', 'b', 'c', 'd', 'e', 'f']

describe('selectEntries', () => {
  it('keeps what it chose until it expires or is no longer offered, then draws anew', () => {
    const t0 = 1_000_000
    const first = selectEntries(undefined, offered, 3, t0, secureRng)
    expect(first.changed).toBe(true)
    expect(first.kept).toBe(0)
    expect(new Set(first.chosen).size).toBe(3)
    for (const e of first.state.entries) {
      expect(e.expiresAt - t0).toBeGreaterThanOrEqual(ENTRY_LIFETIME.minMs)
      expect(e.expiresAt - t0).toBeLessThanOrEqual(ENTRY_LIFETIME.maxMs)
    }
    // a restart a week later: the same three, nothing to write
    const again = selectEntries(first.state, offered, 3, t0 + 7 * DAY, secureRng)
    expect(again.chosen).toEqual(first.chosen)
    expect(again.changed).toBe(false)
    // one is no longer offered: it is replaced, the other two stay first
    const gone = first.chosen[1]
    const later = selectEntries(first.state, offered.filter(x => x !== gone), 3, t0 + 8 * DAY, secureRng)
    expect(later.chosen.slice(0, 2)).toEqual(first.chosen.filter(x => x !== gone))
    expect(later.chosen).not.toContain(gone)
    expect(later.changed).toBe(true)
    // past every lifetime: all new draws (possibly the same relays, with new times)
    const expired = selectEntries(later.state, offered, 3, t0 + 69 * DAY, secureRng)
    expect(expired.kept).toBe(0)
    for (const e of expired.state.entries) expect(e.addedAt).toBe(t0 + 69 * DAY)
    // fewer offered than wanted: all of them
    expect(selectEntries(undefined, ['x'], 3, t0, secureRng).chosen).toEqual(['x'])
  })

  it('testnet lifetimes are minutes', () => {
    const s = selectEntries(undefined, offered, 3, 0, secureRng, TESTNET_ENTRY_LIFETIME)
    for (const e of s.state.entries) expect(e.expiresAt).toBeLessThanOrEqual(60 * 60_000)
  })
})

describe('guard file', () => {
  it('the parser never throws, and what it accepts selectEntries can use (fast-check)', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.record({ version: fc.constant(1), entries: fc.array(fc.record({ id: fc.string(), addedAt: fc.double(), expiresAt: fc.double() }), { maxLength: 20 }) })), (json) => {
      const r = parseEntryState(json)
      expect((r.state === undefined) !== (r.error === undefined)).toBe(true)
      if (r.state === undefined) return
      // whatever the file held: three distinct relays, all from the offered list
      const chosen = selectEntries(r.state, offered, 3, 0, secureRng).chosen
      expect(chosen.length).toBe(3)
      expect(new Set(chosen).size).toBe(3)
      for (const id of chosen) expect(offered).toContain(id)
    }), { numRuns: 500 })
  })


  it('round-trips at mode 0600; a bad file is reported and ignored, never thrown', async () => {
    const home = await tempHome('veil-guards-')
    try {
      const file = join(home.dir, ENTRY_STATE_FILE)
      expect(await loadEntryState(file)).toBeUndefined() // absent: silently nothing
      const { state } = selectEntries(undefined, offered, 3, 5, secureRng)
      await saveEntryState(file, state)
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      expect(await loadEntryState(file)).toEqual(state)
      for (const bad of ['not json', JSON.stringify({ version: 9, entries: [] }), JSON.stringify({ version: 1, entries: [{ id: 'a' }] }), 'x'.repeat(70_000)]) {
        await writeFile(file, bad)
        const reasons: string[] = []
        expect(await loadEntryState(file, (r) => { reasons.push(r) })).toBeUndefined()
        expect(reasons.length).toBe(1)
      }
    } finally { await home.cleanup() }
  })

  it('a client node restarted on one guard file keeps its entry relays; one that stopped answering is replaced', async () => {
    const home = await tempHome('veil-guards-')
    const relays: RelayNode[] = []
    try {
      for (let i = 0; i < 4; i++) {
        relays.push(await startRelayNode({ dataDir: join(home.dir, `r${i}`), listen: [`/ip4/127.${i + 1}.0.1/tcp/0`], bootstrap: [], testnet: true, control: false }))
      }
      const bootstrap = relays.map(r => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`)
      const guardFile = join(home.dir, ENTRY_STATE_FILE)
      const entriesOf = async (): Promise<string[]> => {
        const c = await startClientNode({ bootstrap, entryCount: 2, guardFile, timeoutMs: 60_000, entryProbeTimeoutMs: 2_000 })
        const e = c.entries.map(x => x.peerId.toString())
        await c.stop()
        await c.ready.catch(() => {})
        return e
      }
      const first = await entriesOf()
      expect(first).toHaveLength(2)
      const saved = JSON.parse(await readFile(guardFile, 'utf8')) as { entries: Array<{ id: string }> }
      expect(saved.entries.map(e => e.id)).toEqual(first)
      // the chance that two fresh draws of 2 of 4 repeat the same pair, in order, three times is (1/12)^3
      for (let i = 0; i < 3; i++) expect(await entriesOf()).toEqual(first)
      // the first entry stops answering: replaced at the next start, the other kept
      const gone = relays.find(r => r.peerId.toString() === first[0])!
      await gone.stop()
      const after = await entriesOf()
      expect(after).toHaveLength(2)
      expect(after).not.toContain(first[0])
      expect(after[0]).toBe(first[1])
      const resaved = JSON.parse(await readFile(guardFile, 'utf8')) as { entries: Array<{ id: string }> }
      expect(resaved.entries.map(e => e.id)).toEqual(after)
      // without a guard file: drawn afresh (not asserted to differ: it may repeat by chance)
      const c = await startClientNode({ bootstrap, entryCount: 2, timeoutMs: 60_000 })
      expect(c.entries).toHaveLength(2)
      await c.stop()
      await c.ready.catch(() => {})
    } finally {
      for (const r of relays) await r.stop().catch(() => {})
      await home.cleanup()
    }
  }, 60_000)
})
