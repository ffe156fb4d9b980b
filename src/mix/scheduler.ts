/**
 * The relay's delay scheduler (Poisson mixing with per-circuit order).
 *
 * Each cell handed to `schedule(circuitKey, direction, send)` gets a delay
 * `d ~ Exp(mean)`, where `mean` is *this relay's* per-hop mean for the circuit's profile
 * id (profiles.ts), and is released (its `send` called) at
 *
 * ```
 *   release = max(arrival + d, previous release on the same circuit and direction)
 * ```
 *
 * so cells of one circuit+direction ("lane") never overtake each other (CGO's tag
 * chaining needs the order), while cells of different circuits interleave freely — that
 * is where the mixing comes from. Ties release in arrival order.
 *
 * One scheduler per relay: a flat binary min-heap over (release time, sequence) in
 * preallocated typed arrays, plus one timer armed at the earliest deadline by
 * {@link TimerDriver} — never a timer per cell. The pure core has `schedule`,
 * `nextDeadline()` and `releaseDue(now)`, so sim/ can drive it on virtual time directly.
 *
 * Bounded: at most `capacity` cells in flight (default 16,384 ≥ 10k) and at most
 * `laneLimit` per lane; excess cells are dropped (their `send` is never called),
 * counted, and reported to `onDrop` so the relay can destroy that circuit (a circuit
 * missing a cell cannot continue under CGO anyway). Memory never grows with load:
 * the heap is allocated once and lane records exist only while a lane has cells queued.
 *
 * Profile `fast` (mean 0): a cell whose lane is empty is sent synchronously inside
 * `schedule`, without touching the heap or the Rng.
 *
 * Defends against: linking a cell entering the relay to the cell leaving it by timing
 * alone, when other circuits' cells are in flight. Does not defend against: a relay
 * that sees few circuits (mixing needs company — cover traffic provides it), bursts
 * (inside a burst, delays are no longer exponential: see docs/mixing.md), or a global
 * observer without cover traffic (the anonymity trilemma).
 */
import type { Clock, Rng } from '../overlay/clock.ts'
import { DEFAULT_LANE_LIMIT, DEFAULT_SCHEDULER_CAPACITY, MAX_SCHEDULER_CAPACITY, MIN_SCHEDULER_CAPACITY } from './constants.ts'
import { MixCallerError, MixInternalError } from './errors.ts'
import { type ProfileId, type RelayMixTable, relayMixTable } from './profiles.ts'
import { sampleExp } from './random.ts'
import { DeadlineTimer, type Timer } from './timer.ts'

/**
 * The onion layer's forward-scheduler hook, structurally. `schedule` may return whether
 * the cell was accepted; the onion layer may ignore it (drops are also reported to onDrop).
 */
export interface ForwardScheduler<K = unknown, D = unknown> {
  schedule(circuitKey: K, direction: D, send: () => void): void
}

export type DropReason = 'capacity' | 'lane-limit'

/**
 * The per-lane release rule, pure: a cell arriving at `arrival` with sampled delay
 * `delay` leaves at `max(arrival + delay, prevRelease)`, so a lane (circuit+direction)
 * never reorders. `prevRelease` is −Infinity for an empty lane. Used by MixScheduler
 * and by sim/ (which keeps lanes in typed arrays at 100k-node scale).
 */
export function laneReleaseTime (arrival: number, delay: number, prevRelease: number): number {
  return Math.max(arrival + delay, prevRelease)
}

export interface MixSchedulerOptions<K, D> {
  clock: Clock
  /** Draws the delays: a CSPRNG on real relays (overlay/clock.ts secureRng). */
  rng: Rng
  /** The profile id the circuit announced to this hop (parsed and checked when the circuit was created). */
  profileOf: (circuitKey: K, direction: D) => ProfileId
  /** This relay's own numbers per profile id. Default: the presets. */
  table?: RelayMixTable
  /** Most cells in flight; at least MIN_SCHEDULER_CAPACITY. */
  capacity?: number
  /** Most cells in flight for one circuit+direction. */
  laneLimit?: number
  /** Told about every dropped cell, so the relay can destroy that circuit. */
  onDrop?: (circuitKey: K, direction: D, reason: DropReason) => void
  /** Told about an exception from a cell's `send`; without it, the first is rethrown after the batch. */
  onSendError?: (err: unknown, circuitKey: K, direction: D) => void
}

export interface MixSchedulerStats {
  /** Cells accepted into the heap. */
  scheduled: number
  /** Cells sent at once (fast profile, empty lane). */
  immediate: number
  /** Cells sent from the heap. */
  released: number
  droppedCapacity: number
  droppedLaneLimit: number
  /** Cells discarded because their circuit was cancelled. */
  cancelled: number
  inFlight: number
  /** Largest inFlight seen. */
  highWater: number
  /** Lanes with cells in flight. */
  lanes: number
}

interface Lane<K, D> {
  readonly key: K
  readonly dir: D
  /** Release time of the lane's latest cell. */
  last: number
  /** Cells of this lane in the heap. */
  pending: number
  /** Circuit cancelled: its queued cells are discarded when they come due. */
  cancelled: boolean
}

export class MixScheduler<K = unknown, D = unknown> implements ForwardScheduler<K, D> {
  readonly capacity: number
  readonly laneLimit: number
  readonly #clock: Clock
  readonly #rng: Rng
  readonly #profileOf: (k: K, d: D) => ProfileId
  readonly #table: RelayMixTable
  readonly #onDrop: ((k: K, d: D, r: DropReason) => void) | undefined
  readonly #onSendError: ((err: unknown, k: K, d: D) => void) | undefined

  // heap of (time, seq, slot), positions 0..size-1
  readonly #hTime: Float64Array
  readonly #hSeq: Float64Array
  readonly #hSlot: Int32Array
  #size = 0
  #seq = 0
  // payload per slot (slots never move)
  readonly #send: Array<(() => void) | undefined>
  readonly #lane: Array<Lane<K, D> | undefined>
  readonly #free: Int32Array
  #freeTop: number

  readonly #lanes = new Map<D, Map<K, Lane<K, D>>>()
  #laneCount = 0
  #stats = { scheduled: 0, immediate: 0, released: 0, droppedCapacity: 0, droppedLaneLimit: 0, cancelled: 0, highWater: 0 }

  constructor (opts: MixSchedulerOptions<K, D>) {
    const capacity = opts.capacity ?? DEFAULT_SCHEDULER_CAPACITY
    if (!Number.isInteger(capacity) || capacity < MIN_SCHEDULER_CAPACITY || capacity > MAX_SCHEDULER_CAPACITY) {
      throw new MixCallerError(`scheduler capacity must be an integer in [${MIN_SCHEDULER_CAPACITY}, ${MAX_SCHEDULER_CAPACITY}], got ${capacity}`)
    }
    const laneLimit = opts.laneLimit ?? DEFAULT_LANE_LIMIT
    if (!Number.isInteger(laneLimit) || laneLimit < 1 || laneLimit > capacity) {
      throw new MixCallerError(`scheduler laneLimit must be an integer in [1, capacity = ${capacity}], got ${laneLimit}`)
    }
    this.capacity = capacity
    this.laneLimit = laneLimit
    this.#clock = opts.clock
    this.#rng = opts.rng
    this.#profileOf = opts.profileOf
    this.#table = opts.table ?? relayMixTable()
    this.#onDrop = opts.onDrop
    this.#onSendError = opts.onSendError
    this.#hTime = new Float64Array(capacity)
    this.#hSeq = new Float64Array(capacity)
    this.#hSlot = new Int32Array(capacity)
    this.#send = new Array(capacity).fill(undefined)
    this.#lane = new Array(capacity).fill(undefined)
    this.#free = new Int32Array(capacity)
    for (let i = 0; i < capacity; i++) this.#free[i] = capacity - 1 - i
    this.#freeTop = capacity
  }

  /** Cells in the heap. */
  get inFlight (): number { return this.#size }

  stats (): MixSchedulerStats {
    return { ...this.#stats, inFlight: this.#size, lanes: this.#laneCount }
  }

  /**
   * Queue one cell. Returns false if it was dropped (never sent). The arrival time is
   * `clock.now()`.
   */
  schedule (circuitKey: K, direction: D, send: () => void): boolean {
    const now = this.#clock.now()
    const id = this.#profileOf(circuitKey, direction)
    const params = this.#table.get(id)
    if (params === undefined) throw new MixCallerError(`scheduler: no relay parameters for profile id ${String(id)} (check the id when the circuit is created)`)
    const mean = params.perHopMeanDelayMs
    let lanes = this.#lanes.get(direction)
    let lane = lanes?.get(circuitKey)

    if (mean === 0 && lane === undefined) {
      this.#stats.immediate++
      send()
      return true
    }
    if (this.#size >= this.capacity) return this.#drop(circuitKey, direction, 'capacity')
    if (lane !== undefined && lane.pending >= this.laneLimit) return this.#drop(circuitKey, direction, 'lane-limit')

    const release = laneReleaseTime(now, sampleExp(this.#rng, mean), lane?.last ?? -Infinity)
    if (lane === undefined) {
      lane = { key: circuitKey, dir: direction, last: release, pending: 0, cancelled: false }
      if (lanes === undefined) { lanes = new Map(); this.#lanes.set(direction, lanes) }
      lanes.set(circuitKey, lane)
      this.#laneCount++
    }
    lane.last = release
    lane.pending++
    const slot = this.#free[--this.#freeTop]
    this.#send[slot] = send
    this.#lane[slot] = lane
    this.#push(release, slot)
    this.#stats.scheduled++
    if (this.#size > this.#stats.highWater) this.#stats.highWater = this.#size
    return true
  }

  /** Release time of the earliest queued cell, or undefined when empty. */
  nextDeadline (): number | undefined {
    return this.#size > 0 ? this.#hTime[0] : undefined
  }

  /** Send every cell due at or before `now`, in release order. Returns how many were sent. */
  releaseDue (now: number): number {
    let sent = 0
    let firstError: { err: unknown } | undefined
    while (this.#size > 0 && this.#hTime[0] <= now) {
      const slot = this.#pop()
      const send = this.#send[slot]
      const lane = this.#lane[slot]
      this.#send[slot] = undefined
      this.#lane[slot] = undefined
      this.#free[this.#freeTop++] = slot
      if (send === undefined || lane === undefined) throw new MixInternalError('scheduler: empty slot in heap')
      lane.pending--
      if (lane.pending === 0 && !lane.cancelled) this.#removeLane(lane)
      if (lane.cancelled) { this.#stats.cancelled++; continue }
      this.#stats.released++
      sent++
      try {
        send()
      } catch (err) {
        if (this.#onSendError !== undefined) this.#onSendError(err, lane.key, lane.dir)
        else firstError ??= { err }
      }
    }
    if (firstError !== undefined) throw firstError.err
    return sent
  }

  /**
   * Forget a circuit (destroyed): its queued cells are discarded when they come due
   * (they keep their heap slot until then: at most ≈ 36.7 means), and a later cell with
   * the same key starts a fresh lane.
   */
  cancelCircuit (circuitKey: K): void {
    for (const lanes of this.#lanes.values()) {
      const lane = lanes.get(circuitKey)
      if (lane === undefined) continue
      lane.cancelled = true
      lanes.delete(circuitKey)
      this.#laneCount--
    }
  }

  /** Discard every queued cell (relay stopping). Returns how many were discarded. */
  clear (): number {
    const n = this.#size
    for (let i = 0; i < this.#size; i++) {
      const slot = this.#hSlot[i]
      this.#send[slot] = undefined
      this.#lane[slot] = undefined
      this.#free[this.#freeTop++] = slot
    }
    this.#size = 0
    this.#stats.cancelled += n
    this.#lanes.clear()
    this.#laneCount = 0
    return n
  }

  #drop (k: K, d: D, reason: DropReason): false {
    if (reason === 'capacity') this.#stats.droppedCapacity++
    else this.#stats.droppedLaneLimit++
    this.#onDrop?.(k, d, reason)
    return false
  }

  #removeLane (lane: Lane<K, D>): void {
    const lanes = this.#lanes.get(lane.dir)
    if (lanes?.get(lane.key) === lane) {
      lanes.delete(lane.key)
      this.#laneCount--
      if (lanes.size === 0) this.#lanes.delete(lane.dir)
    }
  }

  // ----- binary heap, ordered by (time, seq) ---------------------------------

  #less (i: number, j: number): boolean {
    const ti = this.#hTime[i]
    const tj = this.#hTime[j]
    return ti < tj || (ti === tj && this.#hSeq[i] < this.#hSeq[j])
  }

  #swap (i: number, j: number): void {
    const t = this.#hTime[i]; this.#hTime[i] = this.#hTime[j]; this.#hTime[j] = t
    const s = this.#hSeq[i]; this.#hSeq[i] = this.#hSeq[j]; this.#hSeq[j] = s
    const l = this.#hSlot[i]; this.#hSlot[i] = this.#hSlot[j]; this.#hSlot[j] = l
  }

  #push (time: number, slot: number): void {
    let i = this.#size++
    this.#hTime[i] = time
    this.#hSeq[i] = this.#seq++
    this.#hSlot[i] = slot
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(i, parent)) break
      this.#swap(i, parent)
      i = parent
    }
  }

  #pop (): number {
    const top = this.#hSlot[0]
    const last = --this.#size
    if (last > 0) {
      this.#hTime[0] = this.#hTime[last]
      this.#hSeq[0] = this.#hSeq[last]
      this.#hSlot[0] = this.#hSlot[last]
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= last) break
        const r = l + 1
        const c = r < last && this.#less(r, l) ? r : l
        if (!this.#less(c, i)) break
        this.#swap(c, i)
        i = c
      }
    }
    return top
  }
}

/**
 * Drives a MixScheduler with a single timer armed at its earliest deadline; this is
 * what the relay plugs into the onion layer's forward-scheduler hook. `stop()` cancels
 * the timer and discards queued cells.
 */
export class TimerDriver<K = unknown, D = unknown> implements ForwardScheduler<K, D> {
  readonly scheduler: MixScheduler<K, D>
  readonly #clock: Clock
  readonly #timer: DeadlineTimer
  /** Timer firings (for tests: one timer, not one per cell). */
  wakeups = 0

  constructor (scheduler: MixScheduler<K, D>, clock: Clock, timer: Timer) {
    this.scheduler = scheduler
    this.#clock = clock
    this.#timer = new DeadlineTimer(clock, timer, () => { this.#fire() })
  }

  schedule (circuitKey: K, direction: D, send: () => void): boolean {
    const accepted = this.scheduler.schedule(circuitKey, direction, send)
    this.#arm()
    return accepted
  }

  cancelCircuit (circuitKey: K): void { this.scheduler.cancelCircuit(circuitKey) }

  /** Whether a timer is armed, and for when. */
  get armedAt (): number | undefined {
    const t = this.#timer.armedAt
    return t === Infinity ? undefined : t
  }

  stop (): number {
    this.#timer.cancel()
    return this.scheduler.clear()
  }

  #arm (): void {
    const deadline = this.scheduler.nextDeadline()
    if (deadline === undefined) this.#timer.cancel()
    else this.#timer.armAt(deadline)
  }

  #fire (): void {
    this.wakeups++
    try {
      this.scheduler.releaseDue(this.#clock.now())
    } finally {
      this.#arm()
    }
  }
}
