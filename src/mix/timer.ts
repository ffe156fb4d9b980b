/**
 * The one timer abstraction of the mix area: setTimeout-shaped, on a Clock.
 *
 * A relay's delay scheduler arms exactly one timer (at its earliest deadline), never one
 * per cell. The real relay passes {@link systemTimer}; tests and sim/ pass a virtual
 * timer such as {@link ManualTimer}, which fires callbacks as a ManualClock is advanced.
 */
import type { ManualClock } from '../overlay/clock.ts'
import { MixCallerError } from './errors.ts'

/** Cancels an armed timer; calling it twice or after it fired does nothing. */
export type CancelTimer = () => void

export interface Timer {
  /** Call `fire` once, `delayMs` (≥ 0) from now on the timer's clock. */
  setTimeout(fire: () => void, delayMs: number): CancelTimer
}

/**
 * One timer kept at the earliest of its owner's deadlines: `armAt(t)` arms it for `t`
 * unless it is already armed for `t` or earlier; when it fires, it is disarmed before
 * `fire` runs (which usually arms it again).
 */
export class DeadlineTimer {
  readonly #clock: { now(): number }
  readonly #timer: Timer
  readonly #fire: () => void
  #cancel: CancelTimer | undefined
  #armedAt = Infinity

  constructor (clock: { now(): number }, timer: Timer, fire: () => void) {
    this.#clock = clock
    this.#timer = timer
    this.#fire = fire
  }

  /** When it is armed for (Infinity when not). */
  get armedAt (): number { return this.#cancel === undefined ? Infinity : this.#armedAt }

  armAt (deadline: number): void {
    if (deadline === Infinity) return
    if (this.#cancel !== undefined && this.#armedAt <= deadline) return
    this.#cancel?.()
    this.#armedAt = deadline
    this.#cancel = this.#timer.setTimeout(() => {
      this.#cancel = undefined
      this.#armedAt = Infinity
      this.#fire()
    }, Math.max(0, deadline - this.#clock.now()))
  }

  cancel (): void {
    this.#cancel?.()
    this.#cancel = undefined
    this.#armedAt = Infinity
  }
}

/** Node's timers. Created on demand by the relay's composition root, never at import. */
export const systemTimer: Timer = {
  setTimeout (fire, delayMs) {
    const t = setTimeout(fire, Math.max(0, delayMs))
    return () => clearTimeout(t)
  }
}

/**
 * A virtual timer over a ManualClock: `advanceTo(t)` moves the clock through each due
 * deadline in order (ties in arming order), firing callbacks with the clock set to their
 * deadline, so a callback sees exactly its due time. Callbacks may arm further timers.
 */
export class ManualTimer implements Timer {
  readonly #clock: ManualClock
  #pending: Array<{ at: number, seq: number, fire: () => void, live: boolean }> = []
  #seq = 0

  constructor (clock: ManualClock) { this.#clock = clock }

  setTimeout (fire: () => void, delayMs: number): CancelTimer {
    if (!(delayMs >= 0)) delayMs = 0
    const entry = { at: this.#clock.now() + delayMs, seq: this.#seq++, fire, live: true }
    this.#pending.push(entry)
    return () => { entry.live = false }
  }

  /** Armed, uncancelled timers. */
  get armed (): number { return this.#pending.filter((e) => e.live).length }

  /** Earliest live deadline, or undefined. */
  next (): number | undefined {
    this.#pending = this.#pending.filter((e) => e.live)
    let best: number | undefined
    for (const e of this.#pending) if (best === undefined || e.at < best) best = e.at
    return best
  }

  /** Advance the clock to `t`, firing every timer due on the way. */
  advanceTo (t: number): void {
    if (t < this.#clock.now()) throw new MixCallerError(`ManualTimer: cannot go back in time (${t} < ${this.#clock.now()})`)
    for (;;) {
      this.#pending = this.#pending.filter((e) => e.live)
      let best: { at: number, seq: number, fire: () => void, live: boolean } | undefined
      for (const e of this.#pending) {
        if (e.at <= t && (best === undefined || e.at < best.at || (e.at === best.at && e.seq < best.seq))) best = e
      }
      if (best === undefined) break
      best.live = false
      if (best.at > this.#clock.now()) this.#clock.set(best.at)
      best.fire()
    }
    this.#clock.set(t)
  }

  advance (ms: number): void { this.advanceTo(this.#clock.now() + ms) }
}
