/**
 * Client cover traffic as Poisson processes, and paranoid's single send stream.
 *
 * - {@link PoissonProcess}: event times with Exp(1/rate) gaps drawn from the Rng.
 * - {@link CoverTraffic}: loop cover (a cell that travels the circuit to its last hop
 *   and back to the sender, which also measures loss — loops.ts) and drop cover (a cell
 *   the last hop discards), each its own Poisson process.
 * - {@link SendStream}: paranoid's stream at rate λ. Each Poisson slot takes the oldest
 *   queued real cell if there is one, else emits a cover (loop) cell. The slot times are
 *   drawn from the Rng alone — they never depend on the queue — so the rate on the wire
 *   reveals nothing about activity, and real throughput is capped at λ cells/s. The
 *   queue is bounded: `offer` refuses with a retry estimate when full (backpressure);
 *   nothing is dropped silently.
 *
 * All of them are pull-style: the caller asks `nextDeadline()`, arms one timer, and at
 * that time calls `takeDue(now)`. If the clock jumped (suspend, overloaded event loop),
 * at most `maxBurst` events are emitted per call and the rest are skipped and counted,
 * rather than flushed as a telltale burst.
 *
 * Not here: building the cells (same size and encryption as real cells: src/onion),
 * choosing circuits for them, timers. Defends against: an observer of the client's
 * link learning when the client is active (paranoid) or how much it sends (balanced,
 * partially). Does not defend against: an observer who can tell cover cells from real
 * ones by content — they must be indistinguishable once encrypted (the onion layer's job).
 */
import type { Rng } from '../overlay/clock.ts'
import { DEFAULT_SEND_QUEUE_LIMIT, MAX_COVER_RATE_PER_SEC } from './constants.ts'
import { MixCallerError } from './errors.ts'
import { sampleExp } from './random.ts'

/** Events emitted per `takeDue` call at most; older due events are skipped (counted). */
export const DEFAULT_MAX_BURST = 64

function checkRate (what: string, rate: number): void {
  if (!Number.isFinite(rate) || rate < 0 || rate > MAX_COVER_RATE_PER_SEC) {
    throw new MixCallerError(`${what} must be in [0, ${MAX_COVER_RATE_PER_SEC}] per second, got ${rate}`)
  }
}

function checkBurst (maxBurst: number): void {
  if (!Number.isInteger(maxBurst) || maxBurst < 1) throw new MixCallerError(`maxBurst must be a positive integer, got ${maxBurst}`)
}

/** A send stream's options, checked: its queue limit and burst bound. */
function checkStream (opts: { ratePerSec: number, queueLimit?: number, maxBurst?: number }): { limit: number, maxBurst: number } {
  checkRate('send stream rate', opts.ratePerSec)
  if (opts.ratePerSec === 0) throw new MixCallerError('send stream rate must be > 0: with 0 no cell would ever leave')
  const limit = opts.queueLimit ?? DEFAULT_SEND_QUEUE_LIMIT
  if (!Number.isInteger(limit) || limit < 1) throw new MixCallerError(`send stream queueLimit must be a positive integer, got ${limit}`)
  const maxBurst = opts.maxBurst ?? DEFAULT_MAX_BURST
  checkBurst(maxBurst)
  return { limit, maxBurst }
}

/** A Poisson process: event times `startMs + Σ Exp(1000/rate)`. Rate 0 never fires. */
export class PoissonProcess {
  readonly ratePerSec: number
  readonly #rng: Rng
  #next: number

  constructor (ratePerSec: number, rng: Rng, startMs: number) {
    checkRate('Poisson rate', ratePerSec)
    this.ratePerSec = ratePerSec
    this.#rng = rng
    this.#next = startMs + this.#gap()
  }

  #gap (): number {
    return this.ratePerSec === 0 ? Infinity : sampleExp(this.#rng, 1000 / this.ratePerSec)
  }

  /** Time of the next event (Infinity for rate 0). */
  get next (): number { return this.#next }

  /** Consume the next event; returns its time. */
  advance (): number {
    const t = this.#next
    this.#next = t + this.#gap()
    return t
  }
}

export type CoverKind = 'loop' | 'drop'

export interface CoverEmission { at: number, kind: CoverKind }

export interface CoverStats { loops: number, drops: number, skipped: number }

/** Loop and drop cover for one client, as two independent Poisson processes. */
export class CoverTraffic {
  readonly #loop: PoissonProcess
  readonly #drop: PoissonProcess
  readonly #maxBurst: number
  #stats: CoverStats = { loops: 0, drops: 0, skipped: 0 }

  constructor (opts: { loopRatePerSec: number, dropRatePerSec: number, rng: Rng, startMs: number, maxBurst?: number }) {
    this.#maxBurst = opts.maxBurst ?? DEFAULT_MAX_BURST
    checkBurst(this.#maxBurst)
    this.#loop = new PoissonProcess(opts.loopRatePerSec, opts.rng, opts.startMs)
    this.#drop = new PoissonProcess(opts.dropRatePerSec, opts.rng, opts.startMs)
  }

  /** Earliest next emission (Infinity when both rates are 0). */
  nextDeadline (): number { return Math.min(this.#loop.next, this.#drop.next) }

  /** Emissions due at or before `now`, in time order (at most maxBurst; the rest skipped). */
  takeDue (now: number): CoverEmission[] {
    const out: CoverEmission[] = []
    for (;;) {
      const loopFirst = this.#loop.next <= this.#drop.next
      const p = loopFirst ? this.#loop : this.#drop
      if (p.next > now) break
      const at = p.advance()
      if (out.length >= this.#maxBurst) { this.#stats.skipped++; continue }
      const kind: CoverKind = loopFirst ? 'loop' : 'drop'
      out.push({ at, kind })
      if (kind === 'loop') this.#stats.loops++
      else this.#stats.drops++
    }
    return out
  }

  stats (): CoverStats { return { ...this.#stats } }
}

export type StreamEmission<T> = { at: number, kind: 'real', cell: T } | { at: number, kind: 'cover' }

export type OfferResult =
  | { ok: true, queued: number }
  /** The queue cannot take the cells now; retry after about `retryAfterMs` (expected time for enough slots). */
  | { ok: false, reason: 'queue-full', queued: number, limit: number, retryAfterMs: number }

export interface SendStreamStats {
  /** Slots emitted (real + cover). */
  slots: number
  real: number
  cover: number
  /** Slots skipped after a clock jump (beyond maxBurst). */
  skippedSlots: number
  /** Cells refused by `offer` (backpressure). */
  refused: number
  queued: number
}

const ONE_LANE: readonly [0] = [0]

/**
 * Paranoid's send stream on one circuit: one Poisson stream at rate λ; each slot takes a
 * queued real cell or emits cover. Real cells leave in FIFO order. It is the one-lane case
 * of {@link SpreadStream} (which draws no lane, so the slot times and the Rng's use are the
 * same); sim/ models a paranoid client this way.
 */
export class SendStream<T> {
  readonly #s: SpreadStream<0, T>

  constructor (opts: { ratePerSec: number, rng: Rng, startMs: number, queueLimit?: number, maxBurst?: number }) {
    this.#s = new SpreadStream(opts)
  }

  get ratePerSec (): number { return this.#s.ratePerSec }
  get queueLimit (): number { return this.#s.queueLimit }
  get queued (): number { return this.#s.queued }

  /** Expected ms until `cells` more cells (after those queued) have left: (queued + cells) / λ. */
  waitEstimateMs (cells = 1): number { return (this.queued + cells) * 1000 / this.ratePerSec }

  /** Queue one real cell, or refuse (backpressure). */
  offer (cell: T): OfferResult { return this.offerAll([cell]) }

  /**
   * Queue all `cells` (one message) or none of them: a message is never half-queued.
   * When refused, `retryAfterMs` is the expected time until enough space has drained.
   */
  offerAll (cells: readonly T[]): OfferResult { return this.#s.offerAll(0, cells) }

  /** Time of the next slot. */
  nextDeadline (): number { return this.#s.nextDeadline() }

  /** Slots due at or before `now`, each carrying a real cell or cover (at most maxBurst). */
  takeDue (now: number): Array<StreamEmission<T>> { return this.#s.takeDue(now, ONE_LANE) }

  /** Discard queued real cells (client closing); returns them so the caller can fail their messages. */
  drain (): T[] { return this.#s.drain() }

  stats (): SendStreamStats {
    const { noLane: _noLane, ...s } = this.#s.stats()
    return s
  }
}


export type SpreadEmission<L, T> = { at: number, lane: L, kind: 'real', cell: T } | { at: number, lane: L, kind: 'cover' }

export interface SpreadStreamStats extends SendStreamStats {
  /** Slots that found no lane to go on (no circuit open): nothing was sent. */
  noLane: number
}

/**
 * Paranoid's send stream spread over several circuits ("lanes": the call circuits and
 * the cover circuits). One Poisson process at rate λ; each slot goes to a lane drawn
 * uniformly from the lanes open at that moment, and carries that lane's oldest queued
 * real cell, or a cover cell on that lane. So every lane's rate is λ / (number of lanes)
 * whatever the load — a lane's flow at the far end tells neither whether nor when it
 * carries a call — and one lane's real throughput is capped at λ / lanes cells/s.
 *
 * Queues are per lane (FIFO: a circuit's cells keep their order) and bounded per lane
 * (`offerAll` refuses a whole message that does not fit). Pure: times come from the
 * caller, randomness from the Rng.
 */
export class SpreadStream<L, T> {
  readonly ratePerSec: number
  readonly queueLimit: number
  readonly #slots: PoissonProcess
  readonly #rng: Rng
  readonly #maxBurst: number
  readonly #queues = new Map<L, T[]>()
  #queued = 0
  #stats = { slots: 0, real: 0, cover: 0, skippedSlots: 0, refused: 0, noLane: 0 }

  constructor (opts: { ratePerSec: number, rng: Rng, startMs: number, queueLimit?: number, maxBurst?: number }) {
    const { limit, maxBurst } = checkStream(opts)
    this.#maxBurst = maxBurst
    this.ratePerSec = opts.ratePerSec
    this.queueLimit = limit
    this.#rng = opts.rng
    this.#slots = new PoissonProcess(opts.ratePerSec, opts.rng, opts.startMs)
  }

  /** Real cells queued on all lanes. */
  get queued (): number { return this.#queued }

  /** Queue all `cells` (one message) on `lane`, or none of them when the lane's queue cannot take them. */
  offerAll (lane: L, cells: readonly T[]): OfferResult {
    let q = this.#queues.get(lane)
    const have = q?.length ?? 0
    if (have + cells.length > this.queueLimit) {
      this.#stats.refused += cells.length
      const missing = have + cells.length - this.queueLimit
      return { ok: false, reason: 'queue-full', queued: have, limit: this.queueLimit, retryAfterMs: missing * 1000 / this.ratePerSec }
    }
    if (q === undefined) { q = []; this.#queues.set(lane, q) }
    for (const c of cells) q.push(c)
    this.#queued += cells.length
    return { ok: true, queued: q.length }
  }

  /** Time of the next slot. */
  nextDeadline (): number { return this.#slots.next }

  /**
   * Slots due at or before `now` (at most maxBurst; older ones skipped and counted), each
   * on a lane drawn uniformly from `lanes` (the lanes open now), carrying its oldest real
   * cell or cover. With no lane open, a slot sends nothing (counted as noLane).
   */
  takeDue (now: number, lanes: readonly L[]): Array<SpreadEmission<L, T>> {
    const out: Array<SpreadEmission<L, T>> = []
    while (this.#slots.next <= now) {
      const at = this.#slots.advance()
      if (out.length >= this.#maxBurst) { this.#stats.skippedSlots++; continue }
      if (lanes.length === 0) { this.#stats.noLane++; continue }
      const lane = lanes[lanes.length === 1 ? 0 : this.#rng.int(lanes.length)]
      this.#stats.slots++
      const q = this.#queues.get(lane)
      if (q !== undefined && q.length > 0) {
        const cell = q.shift() as T
        if (q.length === 0) this.#queues.delete(lane)
        this.#queued--
        this.#stats.real++
        out.push({ at, lane, kind: 'real', cell })
      } else {
        this.#stats.cover++
        out.push({ at, lane, kind: 'cover' })
      }
    }
    return out
  }

  /** Forget a lane (its circuit closed); returns its queued cells so the caller can fail their messages. */
  dropLane (lane: L): T[] {
    const q = this.#queues.get(lane) ?? []
    this.#queues.delete(lane)
    this.#queued -= q.length
    return q
  }

  /** Forget every lane. */
  drain (): T[] {
    const out: T[] = []
    for (const lane of [...this.#queues.keys()]) out.push(...this.dropLane(lane))
    return out
  }

  stats (): SpreadStreamStats { return { ...this.#stats, queued: this.#queued } }
}
