/**
 * A client's circuit manager: chooses paths (src/onion/path), builds circuits
 * with a timeout learnt from recent build times, retries on another path,
 * keeps a small pool of pre-built circuits and rotates circuits after an age.
 *
 * ```
 * const mgr = new CircuitManager({ client, paths, rng: secureRng, clock: systemClock })
 * mgr.start()                                    // fills the pool in the background
 * const c = await mgr.get()                      // the shared circuit (new streams go here)
 * const own = await mgr.get({ fresh: true })     // a circuit for this caller alone
 * await mgr.stop()
 * ```
 *
 * Build timeout (Tor's circuit-build-timeout, simplified): until
 * BUILD_TIMES_MIN_SAMPLES successful builds were seen, DEFAULT_BUILD_TIMEOUT_MS;
 * then the BUILD_TIMEOUT_QUANTILE (80th percentile) of the last
 * BUILD_TIMES_MAX_SAMPLES build times, never below BUILD_TIMEOUT_FLOOR_MS.
 * Tor fits a Pareto curve and keeps timed-out circuits for measurement; this
 * takes the empirical quantile, abandons timed-out circuits and records each
 * timed-out build at the time it was abandoned (a lower bound of its real build
 * time), so the timeout follows a network that slows down. About one build in five may
 * then time out and be retried on another path — which steers traffic away
 * from slow relays, as in Tor.
 *
 * Retry: a failed build names the hop that did not answer (CircuitBuildError.
 * hopsBuilt); that relay is excluded for the next attempts of this request.
 *
 * Rotation: the shared circuit takes no new work after `maxAgeMs` (Tor's
 * MaxCircuitDirtiness, measured here from build time); an aged circuit is
 * destroyed once its streams are done (or at twice the age), pooled ones at
 * once. Decisions use the injected Clock and Rng only.
 * Not here: links, cells (client-circuit.ts); guard persistence (the caller
 * owns the GuardSet and saves it).
 */
import type { Clock, Rng } from '../overlay/clock.ts'
import { OnionCallerError } from './errors.ts'
import { DestroyReason } from './cell.ts'
import { buildPath, NoEligibleRelayError, type GuardSet, type PathDirectory, type PathRules } from './path/index.ts'
import { CircuitBuildError, type Circuit, type CircuitClient, type HopSpec } from './client-circuit.ts'
import { CircuitBuildTimeoutError } from './circuit.ts'
import {
  BUILD_TIMEOUT_FLOOR_MS, BUILD_TIMEOUT_QUANTILE, BUILD_TIMES_MAX_SAMPLES, BUILD_TIMES_MIN_SAMPLES, DEFAULT_BUILD_ATTEMPTS, DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_CIRCUIT_MAX_AGE_MS, DEFAULT_CIRCUIT_POOL_SIZE, DEFAULT_HOPS
} from './constants.ts'

export interface BuildTimeOptions {
  defaultMs?: number
  minSamples?: number
  maxSamples?: number
  quantile?: number
  floorMs?: number
}

/** Recent build times → the build timeout. Pure: no clock, no I/O. */
export class BuildTimeEstimator {
  readonly #times: number[] = []
  readonly #o: Required<BuildTimeOptions>
  #next = 0

  constructor (o: BuildTimeOptions = {}) {
    this.#o = {
      defaultMs: o.defaultMs ?? DEFAULT_BUILD_TIMEOUT_MS,
      minSamples: o.minSamples ?? BUILD_TIMES_MIN_SAMPLES,
      maxSamples: o.maxSamples ?? BUILD_TIMES_MAX_SAMPLES,
      quantile: o.quantile ?? BUILD_TIMEOUT_QUANTILE,
      floorMs: o.floorMs ?? BUILD_TIMEOUT_FLOOR_MS
    }
    if (!(this.#o.quantile > 0 && this.#o.quantile <= 1)) throw new OnionCallerError('quantile must be in (0, 1]')
    if (!(this.#o.maxSamples >= this.#o.minSamples && this.#o.minSamples >= 1)) throw new OnionCallerError('need 1 ≤ minSamples ≤ maxSamples')
  }

  get samples (): number { return this.#times.length }

  /** Record one build time (ms): a success, or a timed-out build at its abandon time. Keeps the last maxSamples (a ring). */
  record (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    if (this.#times.length < this.#o.maxSamples) this.#times.push(ms)
    else { this.#times[this.#next] = ms; this.#next = (this.#next + 1) % this.#o.maxSamples }
  }

  timeoutMs (): number {
    if (this.#times.length < this.#o.minSamples) return this.#o.defaultMs
    const sorted = this.#times.slice().sort((a, b) => a - b)
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(this.#o.quantile * sorted.length) - 1))
    return Math.max(this.#o.floorMs, Math.ceil(sorted[i]))
  }
}

/** Where paths come from: a directory snapshot for selection and each relay's hop keys. */
export interface PathSource {
  snapshot(): { directory: PathDirectory, hop(id: string): HopSpec | undefined }
}

export interface CircuitManagerOptions {
  client: CircuitClient
  paths: PathSource
  rng: Rng
  clock: Clock
  hops?: number
  poolSize?: number
  maxAgeMs?: number
  attempts?: number
  rules?: PathRules
  /** Guards (persisted by the caller); null: draw the entry among guard-eligible relays each time. */
  guards?: GuardSet | null
  buildTimes?: BuildTimeEstimator
  /** How often the pool is checked and refilled. */
  maintenanceMs?: number
  /** Called with every circuit this manager built, before it is pooled or handed out (src/node: the mix profile, cover). */
  onBuilt?: (circuit: Circuit) => void
  /**
   * Relays to leave out of new paths while there are enough others (src/node: those the
   * client's loop tracker avoids after losses on ≥ 3 disjoint paths; never a guard). When
   * no path can be built without them, they are used (counted as avoidIgnored) rather
   * than failing the build.
   */
  avoid?: () => readonly string[]
}

export interface CircuitManagerCounters { builds: number, buildFailures: number, timeouts: number, rotated: number, avoidIgnored: number }

export class CircuitManager {
  readonly #o: CircuitManagerOptions
  readonly buildTimes: BuildTimeEstimator
  readonly counters: CircuitManagerCounters = { builds: 0, buildFailures: 0, timeouts: 0, rotated: 0, avoidIgnored: 0 }
  readonly #pool: Circuit[] = []
  readonly #retiring = new Set<Circuit>()
  #shared: Circuit | undefined
  #filling: Promise<void> | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #stopped = false

  constructor (o: CircuitManagerOptions) {
    const hops = o.hops ?? DEFAULT_HOPS
    if (!Number.isInteger(hops) || hops < 1) throw new OnionCallerError('hops must be a positive integer')
    this.#o = o
    this.buildTimes = o.buildTimes ?? new BuildTimeEstimator()
  }

  get poolSize (): number { return this.#o.poolSize ?? DEFAULT_CIRCUIT_POOL_SIZE }
  get maxAgeMs (): number { return this.#o.maxAgeMs ?? DEFAULT_CIRCUIT_MAX_AGE_MS }
  /** Pre-built circuits waiting. */
  get pooled (): number { return this.#pool.length }

  start (): void {
    if (this.#timer !== undefined) return
    this.#stopped = false
    const every = this.#o.maintenanceMs ?? Math.min(60_000, Math.max(1_000, this.maxAgeMs / 4))
    this.#timer = setInterval(() => { this.maintain() }, every)
    this.#timer.unref?.()
    this.maintain()
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#filling?.catch(() => {})
    for (const c of [...this.#pool, ...this.#retiring]) c.destroy(DestroyReason.REQUESTED)
    this.#shared?.destroy(DestroyReason.REQUESTED)
    this.#pool.length = 0
    this.#retiring.clear()
    this.#shared = undefined
  }

  #fresh (c: Circuit): boolean {
    return c.state === 'open' && this.#o.clock.now() - c.createdAt < this.maxAgeMs
  }

  /**
   * An open circuit younger than maxAgeMs: the shared one, or (fresh) one for
   * the caller alone. Taken from the pool when possible, else built now.
   */
  async get (opts: { fresh?: boolean, signal?: AbortSignal } = {}): Promise<Circuit> {
    if (this.#stopped) throw new OnionCallerError('circuit manager is stopped')
    if (opts.fresh !== true && this.#shared !== undefined && this.#fresh(this.#shared)) return this.#shared
    this.#prunePool()
    let c = this.#pool.shift()
    if (c === undefined) c = await this.build({ signal: opts.signal })
    this.maintain()
    if (opts.fresh !== true) {
      if (this.#shared !== undefined) this.#retire(this.#shared)
      this.#shared = c
    }
    return c
  }

  /** Build one circuit on a fresh path, retrying on other paths. */
  async build (opts: { signal?: AbortSignal, length?: number } = {}): Promise<Circuit> {
    const attempts = this.#o.attempts ?? DEFAULT_BUILD_ATTEMPTS
    const exclude = new Set<string>()
    let lastErr: unknown
    for (let a = 0; a < attempts; a++) {
      opts.signal?.throwIfAborted()
      const snap = this.#o.paths.snapshot()
      const ctx = { rng: this.#o.rng, clock: this.#o.clock, guards: this.#o.guards ?? null, rules: this.#o.rules }
      const length = opts.length ?? this.#o.hops ?? DEFAULT_HOPS
      const avoided = this.#o.avoid?.() ?? []
      let ids: string[]
      try {
        ids = buildPath(snap.directory, ctx, { length, exclude: [...exclude, ...avoided] })
      } catch (err) {
        if (avoided.length === 0 || !(err instanceof NoEligibleRelayError)) throw err
        this.counters.avoidIgnored++
        ids = buildPath(snap.directory, ctx, { length, exclude: [...exclude] })
      }
      const hops: HopSpec[] = []
      for (const id of ids) {
        const h = snap.hop(id)
        if (h === undefined) { exclude.add(id); break }
        hops.push(h)
      }
      if (hops.length !== ids.length) continue
      const timeout = this.buildTimes.timeoutMs()
      const timeoutSignal = AbortSignal.timeout(timeout)
      const signals = [timeoutSignal]
      if (opts.signal !== undefined) signals.push(opts.signal)
      const t0 = this.#o.clock.now()
      this.counters.builds++
      try {
        const c = await this.#o.client.build(hops, { signal: AbortSignal.any(signals) })
        this.buildTimes.record(this.#o.clock.now() - t0)
        this.#o.onBuilt?.(c)
        return c
      } catch (err) {
        lastErr = err
        this.counters.buildFailures++
        if (opts.signal?.aborted === true) throw err
        if (timeoutSignal.aborted) {
          // A timed-out build took at least this long: count it (as Tor counts timed-out
          // circuits), so a timeout learnt on a quiet network rises when builds slow
          // down instead of failing every build that is slower than the old 80th percentile.
          this.buildTimes.record(this.#o.clock.now() - t0)
        }
        if (err instanceof CircuitBuildError) {
          if (err.cause instanceof CircuitBuildTimeoutError) this.counters.timeouts++
          exclude.add(ids[Math.min(err.hopsBuilt, ids.length - 1)])
        }
      }
    }
    throw lastErr instanceof Error ? lastErr : new OnionCallerError('no path could be built')
  }

  /** Drop closed and aged circuits, destroy idle retired ones, refill the pool. */
  maintain (): void {
    if (this.#stopped) return
    this.#prunePool()
    if (this.#shared !== undefined && !this.#fresh(this.#shared)) { this.#retire(this.#shared); this.#shared = undefined }
    const now = this.#o.clock.now()
    for (const c of [...this.#retiring]) {
      if (c.state === 'closed') { this.#retiring.delete(c); continue }
      if (c.streamCount === 0 || now - c.createdAt >= 2 * this.maxAgeMs) {
        c.destroy(DestroyReason.REQUESTED)
        this.#retiring.delete(c)
      }
    }
    if (this.#filling === undefined && this.#pool.length < this.poolSize) {
      this.#filling = this.#fill().finally(() => { this.#filling = undefined })
    }
  }

  #retire (c: Circuit): void {
    if (c.state === 'closed') return
    this.counters.rotated++
    this.#retiring.add(c)
  }

  #prunePool (): void {
    for (let i = this.#pool.length - 1; i >= 0; i--) {
      const c = this.#pool[i]
      if (!this.#fresh(c)) {
        this.#pool.splice(i, 1)
        if (c.state !== 'closed') { this.counters.rotated++; c.destroy(DestroyReason.REQUESTED) }
      }
    }
  }

  async #fill (): Promise<void> {
    while (!this.#stopped && this.#pool.length < this.poolSize) {
      let c: Circuit
      try {
        c = await this.build()
      } catch {
        return // next maintenance round tries again
      }
      if (this.#stopped) { c.destroy(DestroyReason.REQUESTED); return }
      this.#pool.push(c)
    }
  }
}
