/**
 * Paranoid's backward stream at a circuit's last hop: what a relay sends toward the client
 * on a paranoid circuit that ends at it (responses, replies to LOOP, CONNECTED, END,
 * SENDME) leaves only in the slots of a Poisson process at the relay's own rate μ
 * (RelayProfileParams.lastHopRatePerSec); a slot with nothing queued sends a filler (the
 * relay originates a DROP, which the client discards). So every paranoid circuit carries
 * μ cells/s toward its client while it is open, whether or not it is carrying a response,
 * and a response's size and timing are not visible to an observer of the far end — the
 * client's send stream (cover.ts) does the same for the other direction.
 *
 * One timer per relay (the earliest slot over all lanes, from a binary heap), not one per
 * circuit. Bounded: each lane's queue (laneLimit), the cells queued over all lanes
 * (capacity) and the number of lanes (maxLanes). A cell past a bound is dropped, counted and
 * reported (onDrop), as the delay scheduler does: the circuit's next cell then fails CGO at
 * the client, which destroys the circuit. A lane past maxLanes is not opened (`open`
 * returns false: the caller refuses the circuit). Ordering: a lane's cells leave in the
 * order offered, and a filler is sent only when its lane's queue is empty, so the hop's
 * CGO chain sees cells in order.
 *
 * Not here: which circuits get a lane (mix-glue opens one when a circuit announces a
 * profile with a rate at its last hop), building the filler cell (the onion layer).
 * Clock, Rng and Timer are injected: sim/ and tests run this code on virtual time.
 */
import type { Clock, Rng } from '../overlay/clock.ts'
import { DEFAULT_LANE_LIMIT, DEFAULT_SCHEDULER_CAPACITY } from './constants.ts'
import { DEFAULT_MAX_BURST, PoissonProcess } from './cover.ts'
import { MixCallerError } from './errors.ts'
import { DeadlineTimer, type Timer } from './timer.ts'

export interface LastHopStreamsOptions<K> {
  clock: Clock
  /** Slot times: a CSPRNG on real relays. */
  rng: Rng
  timer: Timer
  /** Send a filler toward the client on `key`; false when the circuit can take none (closed, or no longer ends here): its lane is closed. */
  filler: (key: K) => boolean
  /** Cells queued per lane at most (default DEFAULT_LANE_LIMIT). */
  laneLimit?: number
  /** Cells queued over all lanes at most (default DEFAULT_SCHEDULER_CAPACITY). */
  capacity?: number
  /** Lanes (paranoid circuits ending here) at most (default DEFAULT_MAX_BACKWARD_LANES). */
  maxLanes?: number
  /** A cell refused because its lane was full. */
  onDrop?: (key: K) => void
  /** Told about an exception from a cell's `send` or the filler (counted; the stream goes on). */
  onSendError?: (err: unknown, key: K) => void
  /** Slots emitted per lane per timer firing at most (after a clock jump the rest are skipped). */
  maxBurst?: number
}

export interface LastHopStreamsStats {
  lanes: number
  /** Queued cells sent in slots. */
  sent: number
  /** Fillers sent in empty slots. */
  fillers: number
  /** Cells refused (a lane or the capacity full). */
  dropped: number
  /** Lanes refused (maxLanes reached). */
  lanesRefused: number
  /** Slots skipped after a clock jump. */
  skipped: number
  /** Sends or fillers that threw. */
  sendErrors: number
  queued: number
}

interface Lane<K> {
  readonly key: K
  readonly slots: PoissonProcess
  readonly queue: Array<() => void>
  open: boolean
}

/** Paranoid circuits one relay shapes at most: each costs μ cells/s toward its client. */
export const DEFAULT_MAX_BACKWARD_LANES = 4096

export class LastHopStreams<K> {
  readonly #o: LastHopStreamsOptions<K>
  readonly #laneLimit: number
  readonly #capacity: number
  readonly #maxLanes: number
  readonly #maxBurst: number
  #queued = 0
  readonly #lanes = new Map<K, Lane<K>>()
  /** Min-heap of (slot time, lane); an entry is stale when its lane closed or moved on. */
  readonly #heap: Array<{ t: number, lane: Lane<K> }> = []
  readonly #timer: DeadlineTimer
  /** The lane whose filler is being originated: its cell goes out at once. */
  #filling: K | undefined
  #stopped = false
  #stats = { sent: 0, fillers: 0, dropped: 0, skipped: 0, lanesRefused: 0, sendErrors: 0 }

  constructor (o: LastHopStreamsOptions<K>) {
    this.#o = o
    this.#laneLimit = o.laneLimit ?? DEFAULT_LANE_LIMIT
    this.#capacity = o.capacity ?? DEFAULT_SCHEDULER_CAPACITY
    this.#maxLanes = o.maxLanes ?? DEFAULT_MAX_BACKWARD_LANES
    this.#maxBurst = o.maxBurst ?? DEFAULT_MAX_BURST
    this.#timer = new DeadlineTimer(o.clock, o.timer, () => { this.#fire() })
    if (!Number.isInteger(this.#laneLimit) || this.#laneLimit < 1) throw new MixCallerError(`laneLimit must be a positive integer, got ${this.#laneLimit}`)
  }

  /** Start circuit `key`'s backward stream at `ratePerSec` (> 0). A second call is ignored. False when maxLanes are open. */
  open (key: K, ratePerSec: number): boolean {
    if (this.#stopped) return false
    if (this.#lanes.has(key)) return true
    if (!(ratePerSec > 0)) throw new MixCallerError(`backward stream rate must be > 0, got ${ratePerSec}`)
    if (this.#lanes.size >= this.#maxLanes) { this.#stats.lanesRefused++; return false }
    const lane: Lane<K> = { key, slots: new PoissonProcess(ratePerSec, this.#o.rng, this.#o.clock.now()), queue: [], open: true }
    this.#lanes.set(key, lane)
    this.#push(lane)
    this.#arm()
    return true
  }

  has (key: K): boolean { return this.#lanes.has(key) }

  /**
   * A cell this hop sends toward the client on `key`: sent at once if it is the lane's own
   * filler, else queued for the lane's next free slot. Returns false when refused (lane full).
   */
  offer (key: K, send: () => void): boolean {
    const lane = this.#lanes.get(key)
    if (lane === undefined || this.#filling === key) { send(); return true }
    if (lane.queue.length >= this.#laneLimit || this.#queued >= this.#capacity) {
      this.#stats.dropped++
      this.#o.onDrop?.(key)
      return false
    }
    lane.queue.push(send)
    this.#queued++
    return true
  }

  /** Circuit gone: discard its queued cells. */
  close (key: K): void {
    const lane = this.#lanes.get(key)
    if (lane === undefined) return
    lane.open = false
    this.#queued -= lane.queue.length
    lane.queue.length = 0
    this.#lanes.delete(key)
  }

  stop (): void {
    this.#stopped = true
    this.#timer.cancel()
    for (const key of [...this.#lanes.keys()]) this.close(key)
    this.#heap.length = 0
  }

  stats (): LastHopStreamsStats {
    return { ...this.#stats, lanes: this.#lanes.size, queued: this.#queued }
  }

  /** Run every slot due at or before `now`. */
  #runDue (now: number): void {
    while (this.#heap.length > 0 && this.#heap[0].t <= now) {
      const { t, lane } = this.#pop()
      if (!lane.open || lane.slots.next !== t) continue
      let n = 0
      try {
        while (lane.open && lane.slots.next <= now) {
          lane.slots.advance()
          if (n++ >= this.#maxBurst) { this.#stats.skipped++; continue }
          this.#slot(lane)
        }
      } finally {
        // (a throwing send must not strand the lane: it stays scheduled)
        if (lane.open) this.#push(lane)
      }
    }
  }

  #slot (lane: Lane<K>): void {
    const send = lane.queue.shift()
    if (send !== undefined) {
      this.#queued--
      this.#stats.sent++
      try { send() } catch (err) { this.#sendError(err, lane.key) }
      return
    }
    this.#filling = lane.key
    let ok = false
    try { ok = this.#o.filler(lane.key) } catch (err) { this.#sendError(err, lane.key); return } finally { this.#filling = undefined }
    if (ok) this.#stats.fillers++
    else this.close(lane.key)
  }

  #sendError (err: unknown, key: K): void {
    this.#stats.sendErrors++
    this.#o.onSendError?.(err, key)
  }

  #arm (): void {
    if (this.#stopped) return
    while (this.#heap.length > 0 && (!this.#heap[0].lane.open || this.#heap[0].lane.slots.next !== this.#heap[0].t)) this.#pop()
    this.#timer.armAt(this.#heap.length > 0 ? this.#heap[0].t : Infinity)
  }

  #fire (): void {
    if (this.#stopped) return
    try { this.#runDue(this.#o.clock.now()) } finally { this.#arm() }
  }

  // ----- binary heap on slot time -------------------------------------------

  #push (lane: Lane<K>): void {
    const h = this.#heap
    h.push({ t: lane.slots.next, lane })
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p].t <= h[i].t) break
      const x = h[p]; h[p] = h[i]; h[i] = x
      i = p
    }
  }

  #pop (): { t: number, lane: Lane<K> } {
    const h = this.#heap
    const top = h[0]
    const last = h.pop() as { t: number, lane: Lane<K> }
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && h[r].t < h[l].t ? r : l
        if (h[i].t <= h[c].t) break
        const x = h[c]; h[c] = h[i]; h[i] = x
        i = c
      }
    }
    return top
  }
}
