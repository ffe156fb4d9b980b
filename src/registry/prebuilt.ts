/**
 * Pre-built circuit prefixes, as Tor keeps pre-built circuits for onion services and HSDir
 * fetches and extends them on demand (registry lookups: guard–middle + storer; hidden
 * clients: G L2 + RP, G L2 M + IP; hidden providers: G L2 M + RP). A hidden provider's rendezvous circuit is
 * G L2 M + RP, and only the RP is known when an introduction arrives; building the three
 * first hops ahead takes them off the rendezvous's critical path (one EXTEND instead of
 * four hops' handshakes).
 *
 * A prefix is used only if it is still open, younger than maxAgeMs, still valid for the
 * caller (same guard, layer-2 relays still current: `valid`), and the target does not
 * conflict with it (`conflicts`: by default, the target is not on it; a hidden provider's
 * rendezvous allows its guard and layer-2 relays as the RP and only needs the last hop to
 * differ); otherwise the caller builds a whole path as before. The pool is refilled in the
 * background one build at a time, and holds at most `size` circuits (each one an idle
 * circuit through the caller's own guard: no relay learns more than from a fresh build,
 * and the guard already carries the caller's circuits).
 */
import type { Clock } from '../overlay/clock.ts'
import type { Circuit } from '../onion/client-circuit.ts'
import type { RegistryNetwork } from './client.ts'
import { PREBUILT_MAX_AGE_MS } from './constants.ts'

export interface PrebuiltOptions {
  readonly clock: Clock
  /** How many to keep. */
  readonly size: number
  readonly maxAgeMs: number
  /** A fresh prefix path (relay ids, entry first). */
  readonly prefix: () => string[]
  readonly build: (path: string[], signal: AbortSignal) => Promise<Circuit>
  /** Extend an open circuit by one relay; absent: no prefixes are kept and circuitTo() builds whole paths. */
  readonly extend?: (circuit: Circuit, id: string, signal: AbortSignal) => Promise<void>
  /** Whether a prefix built earlier may still be used (the caller's guards may have changed). */
  readonly valid: (path: readonly string[]) => boolean
  /** Whether `target` cannot extend `prefix` (default: it is on it). */
  readonly conflicts?: (prefix: readonly string[], target: string) => boolean
  readonly buildTimeoutMs?: number
}

interface Entry { readonly circuit: Circuit, readonly path: readonly string[], readonly at: number }

export class PrebuiltCircuits {
  readonly #o: PrebuiltOptions
  readonly #pool: Entry[] = []
  #filling = false
  #stopped = false
  /** targetOnPrefix: a call found prefixes, but every one held its target (a whole path was built). */
  readonly counters = { built: 0, used: 0, buildFailures: 0, discarded: 0, targetOnPrefix: 0 }

  constructor (o: PrebuiltOptions) { this.#o = o }

  /** A pool over a registry network: its build and extend, PREBUILT_MAX_AGE_MS. */
  static over (network: RegistryNetwork, clock: Clock, size: number, prefix: () => string[], valid: (path: readonly string[]) => boolean,
    conflicts?: (prefix: readonly string[], target: string) => boolean): PrebuiltCircuits {
    return new PrebuiltCircuits({
      clock, size, maxAgeMs: PREBUILT_MAX_AGE_MS, prefix, valid, conflicts,
      build: async (path, signal) => await network.build(path, signal),
      extend: network.extend?.bind(network)
    })
  }

  get size (): number { return this.#pool.length }

  /**
   * A fresh circuit ending at `target`: a pre-built prefix extended to it (and the pool
   * refilled), or `whole()` built now when there is none or it fails to extend.
   */
  async circuitTo (target: string, whole: () => string[], signal: AbortSignal): Promise<{ circuit: Circuit, path: string[] }> {
    const extend = this.#o.extend
    if (extend !== undefined) {
      const pre = this.#take(target)
      this.fill()
      if (pre !== undefined) {
        try {
          await extend(pre.circuit, target, signal)
          return { circuit: pre.circuit, path: [...pre.path, target] }
        } catch { pre.circuit.destroy() }
      }
    }
    const path = whole()
    return { circuit: await this.#o.build(path, signal), path }
  }

  /** A usable prefix that does not contain `target`, taken out of the pool; undefined if none. */
  #take (target: string): { circuit: Circuit, path: readonly string[] } | undefined {
    this.#prune()
    const conflicts = this.#o.conflicts ?? ((p: readonly string[], t: string) => p.includes(t))
    const i = this.#pool.findIndex(e => !conflicts(e.path, target))
    if (i < 0) {
      if (this.#pool.length > 0) this.counters.targetOnPrefix++
      return undefined
    }
    const [e] = this.#pool.splice(i, 1)
    this.counters.used++
    return { circuit: e.circuit, path: e.path }
  }

  /** Build prefixes in the background until the pool is full (one at a time; failures end the round). */
  fill (): void {
    if (this.#filling || this.#stopped || this.#o.extend === undefined) return
    this.#filling = true
    void (async () => {
      try {
        this.#prune()
        while (!this.#stopped && this.#pool.length < this.#o.size) {
          let path: string[]
          try { path = this.#o.prefix() } catch { return }
          let circuit: Circuit
          try {
            circuit = await this.#o.build(path, AbortSignal.timeout(this.#o.buildTimeoutMs ?? 15_000))
          } catch {
            this.counters.buildFailures++
            return
          }
          if (this.#stopped) { circuit.destroy(); return }
          this.counters.built++
          const entry: Entry = { circuit, path, at: this.#o.clock.now() }
          this.#pool.push(entry)
          circuit.onClose(() => {
            const k = this.#pool.indexOf(entry)
            if (k >= 0) this.#pool.splice(k, 1)
          })
        }
      } finally { this.#filling = false }
    })()
  }

  stop (): void {
    this.#stopped = true
    for (const e of this.#pool.splice(0)) e.circuit.destroy()
  }

  #prune (): void {
    const now = this.#o.clock.now()
    for (let i = this.#pool.length - 1; i >= 0; i--) {
      const e = this.#pool[i]
      if (e.circuit.state !== 'open' || now - e.at > this.#o.maxAgeMs || !this.#o.valid(e.path)) {
        this.#pool.splice(i, 1)
        this.counters.discarded++
        e.circuit.destroy()
      }
    }
  }
}
