/**
 * The provider's publisher: keeps its descriptors for the current and the next period on
 * their storers. Clock-driven, with the clock, randomness and timers injected (STYLE.md
 * §10), so tests and sim/ run it on a virtual clock.
 *
 *   start()   → publish now (periods p and p+1)
 *   then      → republish at a random 60–120 min (testnet: scaled), and
 *   change()  → republish at a random delay ≤ 5 min (scaled), never later than already planned
 *
 * Every publish builds fresh descriptors (fresh salt, revision = seconds since the
 * previous period began), so one provider's records in two periods share nothing.
 * A publish that misses the ≥ half-acknowledged bar is retried after a short backoff.
 * Not here: where records go (RegistryClient.publish), what the descriptor says (`build`).
 */
import type { Clock, Rng as PickRng } from '../overlay/clock.ts'
import { RegistryCallerError } from './errors.ts'
import { periodAt } from './time.ts'
import type { BuiltDescriptor } from './descriptor.ts'
import type { PublishResult } from './client.ts'
import type { RegistryParams } from './params.ts'

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); t.unref?.(); return t },
  clearTimeout: (h) => { clearTimeout(h as ReturnType<typeof setTimeout>) }
}

export interface PublisherOptions {
  clock: Clock
  rng: PickRng
  timers?: Timers
  params: RegistryParams
  /** Build this provider's descriptor for `period` at `nowMs` (buildDescriptor with the current reach, PoW and catalogue). */
  build(period: number, nowMs: number): BuiltDescriptor
  /** Send it to its storers (RegistryClient.publish). */
  publish(d: BuiltDescriptor): Promise<PublishResult>
  onPublished?: (results: PublishResult[]) => void
  onError?: (err: unknown) => void
  /** Backoff after a failed publish (default: republishMinMs / 10, at least 100 ms). */
  retryMs?: number
}

export class Publisher {
  readonly #o: PublisherOptions
  readonly #timers: Timers
  #timer: unknown
  #dueAt = Infinity
  #running: Promise<void> | undefined
  #stopped = true
  readonly counters = { publishes: 0, failures: 0, changes: 0 }
  /** Last results (for status and tests). */
  last: PublishResult[] = []

  constructor (o: PublisherOptions) {
    if (o.params.republishMinMs > o.params.republishMaxMs) throw new RegistryCallerError('republishMinMs > republishMaxMs')
    this.#o = o
    this.#timers = o.timers ?? systemTimers
  }

  /** When the next publish is planned (ms since the epoch; Infinity when none). */
  get dueAt (): number { return this.#dueAt }

  /** Publish now, then keep republishing. Resolves after the first publish. */
  async start (): Promise<void> {
    this.#stopped = false
    await this.publishNow()
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#dueAt = Infinity
  }

  /** Something the descriptor carries changed: republish within changeDelayMaxMs. */
  change (): void {
    this.counters.changes++
    if (this.#stopped) return
    const delay = this.#o.rng.int(this.#o.params.changeDelayMaxMs + 1)
    this.#plan(delay)
  }

  #plan (delayMs: number): void {
    const at = this.#o.clock.now() + delayMs
    if (at >= this.#dueAt) return
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer)
    this.#dueAt = at
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined
      this.#dueAt = Infinity
      void this.publishNow()
    }, delayMs)
  }

  #republishDelay (): number {
    const { republishMinMs: lo, republishMaxMs: hi } = this.#o.params
    return lo + this.#o.rng.int(hi - lo + 1)
  }

  /** Build and publish for the current and next period now; plan the next run. */
  async publishNow (): Promise<void> {
    if (this.#running !== undefined) { await this.#running; return }
    const run = (async () => {
      let ok = false
      try {
        const now = this.#o.clock.now()
        const p = periodAt(now, this.#o.params.periods)
        const results = await Promise.all([p, p + 1].map(async period => this.#o.publish(this.#o.build(period, now))))
        this.last = results
        this.counters.publishes++
        ok = results.every(r => r.ok)
        if (!ok) this.counters.failures++
        this.#o.onPublished?.(results)
      } catch (err) {
        this.counters.failures++
        this.#o.onError?.(err)
      } finally {
        this.#running = undefined
      }
      if (this.#stopped) return
      // the period boundary needs a fresh "next" descriptor: never plan past it
      const now = this.#o.clock.now()
      const { lengthSeconds, offsetSeconds } = this.#o.params.periods
      const nextBoundary = (offsetSeconds + (periodAt(now, this.#o.params.periods) + 1) * lengthSeconds) * 1000
      const retry = this.#o.retryMs ?? Math.max(100, Math.round(this.#o.params.republishMinMs / 10))
      this.#plan(Math.min(ok ? this.#republishDelay() : retry, Math.max(0, nextBoundary - now) + 1))
    })()
    this.#running = run
    await run
  }
}
