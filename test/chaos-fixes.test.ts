/**
 * Regressions for faults the chaos test (test/chaos.slow.test.ts) found, each small enough
 * to check without a testnet:
 *
 * - a registry STORE or FETCH on a circuit that closed after it was built: the caller gets
 *   the error, and no promise is left rejected unhandled (before: the reply's rejection
 *   was unhandled, and Node ended the `veil provide` process);
 * - the same for an introduction sent on an intro circuit that closed after it was built
 *   (the wait for INTRODUCE_ACK was left rejected unhandled; likewise RENDEZVOUS_ESTABLISHED
 *   and the provider's INTRO_ESTABLISHED);
 * - a relay's links deliver cells before its onion layer is attached (startRelayNode still
 *   bootstraps and publishes): they are held and handed over on bind, not dropped (before:
 *   a CREATE to a restarting relay was never answered and its sender waited until its own
 *   timeout).
 */
import { describe, expect, it } from 'vitest'
import { StoreChannel } from '../src/registry/store.ts'
import { CircuitClosedError } from '../src/onion/index.ts'
import { MAX_EARLY_CELLS, onionLinkHooks, type OnionLinkHooks } from '../src/node/onion-glue.ts'
import type { Circuit } from '../src/onion/client-circuit.ts'
import type { Link } from '../src/overlay/index.ts'
import { HiddenClient } from '../src/registry/hidden-client.ts'
import type { HiddenNetwork } from '../src/registry/hs-paths.ts'
import { secureRng, systemClock } from '../src/overlay/index.ts'

/** A circuit that closed (a relay of it went down) after it was built, as Circuit behaves then. */
function closedCircuit (): Circuit {
  const err = new CircuitClosedError(7, 'circuit destroyed by the network (reason 7)')
  const fake = {
    hops: 3,
    state: 'closed',
    onCommand: undefined,
    destroy: () => {},
    sendRelay: () => { throw err },
    onClose: (fn: (e: CircuitClosedError) => void) => { fn(err); return () => {} }
  }
  return fake as unknown as Circuit
}

async function noUnhandledRejection<T> (run: () => Promise<T>): Promise<unknown[]> {
  const seen: unknown[] = []
  const on = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', on)
  try {
    await run().catch(() => {})
    // let rejections without a handler surface
    await new Promise(resolve => setTimeout(resolve, 50))
  } finally { process.off('unhandledRejection', on) }
  return seen
}

describe('faults found by the chaos test', () => {
  it('STORE on a circuit that closed under it: rejects with the circuit error, nothing unhandled', async () => {
    const ch = new StoreChannel(closedCircuit())
    await expect(ch.store(new Uint8Array(32), new Uint8Array(100), { signal: AbortSignal.timeout(1_000) })).rejects.toThrow(/reason 7/)
    expect(await noUnhandledRejection(async () => await ch.store(new Uint8Array(32), new Uint8Array(100)))).toEqual([])
  })

  it('FETCH on a circuit that closed under it: rejects, nothing unhandled', async () => {
    const ch = new StoreChannel(closedCircuit())
    await expect(ch.fetch(new Uint8Array(32), { signal: AbortSignal.timeout(1_000) })).rejects.toThrow(/reason 7/)
    expect(await noUnhandledRejection(async () => await ch.fetch(new Uint8Array(32)))).toEqual([])
  })

  it('an introduction on an intro circuit that closed under it: rejects, nothing unhandled', async () => {
    const hc = new HiddenClient({ network: {} as unknown as HiddenNetwork, clock: systemClock, rng: secureRng })
    const send = async (): Promise<number> => await hc.sendIntroduction('ip', new Uint8Array(8), AbortSignal.timeout(1_000), Promise.resolve(closedCircuit()))
    await expect(send()).rejects.toThrow(/reason 7/)
    expect(await noUnhandledRejection(send)).toEqual([])
  })

  it('cells a relay\'s links deliver before its onion layer is attached are handed over on bind, in order, bounded', () => {
    const hooks = onionLinkHooks()
    const link = (closed = false): Link => ({ closed, abort: () => {} }) as unknown as Link
    const a = link()
    const gone = link(true)
    const dropped = link()
    const cell = (n: number): Uint8Array => Uint8Array.of(n)
    hooks.onCell(cell(1), a)
    hooks.onCell(cell(2), gone)
    hooks.onCell(cell(3), dropped)
    hooks.onLinkClosed(dropped)
    hooks.onCell(cell(4), a)
    for (let i = 0; i < MAX_EARLY_CELLS + 10; i++) hooks.onCell(cell(5), a)
    const got: Array<[number, Link]> = []
    const target: OnionLinkHooks = { onCell: (c, l) => { got.push([c[0], l]) }, onLinkClosed: () => {} }
    hooks.bind(target)
    // a closed link's cells and those of a link that closed before bind are not handed over
    expect(got.slice(0, 2)).toEqual([[1, a], [4, a]])
    expect(got.every(([, l]) => l === a)).toBe(true)
    // bounded: MAX_EARLY_CELLS held at most (one of them the closed link's, skipped)
    expect(got.length).toBe(MAX_EARLY_CELLS - 1)
    // after bind, straight through
    hooks.onCell(cell(9), a)
    expect(got.at(-1)).toEqual([9, a])
  })
})
