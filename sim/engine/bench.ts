/**
 * Micro-benchmarks of the engine (used by bench/sim.ts and a smoke test):
 * - `benchQueue`: the "hold" model on the bare heap — pop the earliest event, push one
 *   at now + Exp(1) — at a steady queue size; returns events/s.
 * - `benchEngine`: the same through Engine dispatch (handler call per event).
 * Wall time here is a measured fact, never part of a deterministic result.
 */
import { SeededRng } from '../rng.ts'
import { Engine } from './engine.ts'
import { EventQueue } from './queue.ts'

export interface BenchResult {
  events: number
  seconds: number
  eventsPerSecond: number
}

/** Pre-drawn exponential increments, so the benchmark measures the heap and not the RNG. */
function increments (n: number, seed: number): Float64Array {
  const rng = SeededRng.derive(seed, 'bench-increments')
  const a = new Float64Array(n)
  for (let i = 0; i < n; i++) a[i] = rng.exp(1)
  return a
}

const INCREMENT_TABLE = 1 << 16
/** Events per run() slice in benchEngine (each entity fires at rate 1 per simulated unit). */
const ENGINE_SLICE_EVENTS = 1 << 16

export function benchQueue (events: number, queueSize: number, seed = 1): BenchResult {
  const inc = increments(INCREMENT_TABLE, seed)
  const q = new EventQueue()
  for (let i = 0; i < queueSize; i++) q.push(inc[i & (INCREMENT_TABLE - 1)] * queueSize, 0, i)
  const t0 = performance.now()
  for (let i = 0; i < events; i++) {
    q.pop()
    q.push(q.time + inc[i & (INCREMENT_TABLE - 1)], q.kind, q.target)
  }
  const seconds = (performance.now() - t0) / 1000
  return { events, seconds, eventsPerSecond: events / seconds }
}

export function benchEngine (events: number, queueSize: number, seed = 1): BenchResult {
  const inc = increments(INCREMENT_TABLE, seed)
  const e = new Engine()
  let k = 0
  e.on(0, (target) => { e.after(inc[k++ & (INCREMENT_TABLE - 1)], 0, target) })
  for (let i = 0; i < queueSize; i++) e.at(inc[i & (INCREMENT_TABLE - 1)] * queueSize, 0, i)
  const t0 = performance.now()
  let done = 0
  // run in slices of simulated time until `events` events have run
  while (done < events) {
    const before = e.events
    e.run(e.now + ENGINE_SLICE_EVENTS / queueSize)
    done += e.events - before
  }
  const seconds = (performance.now() - t0) / 1000
  return { events: done, seconds, eventsPerSecond: done / seconds }
}
