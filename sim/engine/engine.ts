/**
 * Discrete-event engine: simulated time in milliseconds, numeric event kinds dispatched
 * to registered handlers, one EventQueue. Entities are numbers (indices into the
 * model's own typed arrays); an event carries (kind, target, arg).
 *
 * Time never goes backwards: scheduling in the past is a bug and throws. Cancellation is
 * lazy: a model keeps a generation counter per entity and passes it as `arg`.
 *
 * The engine's `clock` is an overlay `Clock` (epoch + simulated ms), so src/ code that
 * takes a Clock runs on simulated time unchanged.
 */
import type { Clock } from '../../src/overlay/clock.ts'
import { SimInternalError } from '../errors.ts'
import { EventQueue } from './queue.ts'

/** Simulated epoch: 2024-01-01T00:00:00Z. Fixed so simulated timestamps are reproducible. */
export const SIM_EPOCH_MS = 1_704_067_200_000

export type Handler = (target: number, arg: number) => void

export interface RunProgress {
  /** Simulated ms reached. */
  now: number
  until: number
  events: number
}

/** How many events between progress callbacks (cheap enough to be invisible, frequent enough for a bar). */
export const PROGRESS_EVERY_EVENTS = 1 << 16

export class Engine {
  readonly queue = new EventQueue()
  #handlers: Handler[] = []
  #now = 0
  events = 0
  readonly clock: Clock
  readonly epochMs: number

  constructor (epochMs = SIM_EPOCH_MS) {
    this.epochMs = epochMs
    this.clock = { now: () => this.epochMs + this.#now }
  }

  /** Simulated ms since the start. */
  get now (): number { return this.#now }

  /** Register the handler of `kind` (small non-negative integer). */
  on (kind: number, handler: Handler): void {
    if (!Number.isInteger(kind) || kind < 0) throw new SimInternalError(`event kind must be a non-negative integer, got ${kind}`)
    this.#handlers[kind] = handler
  }

  at (time: number, kind: number, target: number, arg = 0): void {
    if (!(time >= this.#now)) throw new SimInternalError(`event scheduled in the past: ${time} < ${this.#now}`)
    this.queue.push(time, kind, target, arg)
  }

  after (delay: number, kind: number, target: number, arg = 0): void {
    this.at(this.#now + delay, kind, target, arg)
  }

  /** Run events with time ≤ until; leaves `now` at `until`. */
  run (until: number, onProgress?: (p: RunProgress) => void): void {
    const q = this.queue
    const handlers = this.#handlers
    let sinceProgress = 0
    while (q.size > 0 && q.peekTime() <= until) {
      q.pop()
      this.#now = q.time
      const h = handlers[q.kind]
      if (h === undefined) throw new SimInternalError(`no handler for event kind ${q.kind}`)
      h(q.target, q.arg)
      this.events++
      if (onProgress !== undefined && ++sinceProgress === PROGRESS_EVERY_EVENTS) {
        sinceProgress = 0
        onProgress({ now: this.#now, until, events: this.events })
      }
    }
    this.#now = Math.max(this.#now, until)
  }
}
