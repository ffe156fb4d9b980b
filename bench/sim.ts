/**
 * `node bench/sim.ts [scenario.yaml]` — simulator benchmarks.
 * 1. The bare event heap (hold model) and the engine with dispatch: events/s.
 * 2. A scenario (default sim/scenarios/paths-small.yaml) through runScenario into a temp dir.
 * Ends with one JSON line. (The 100k.yaml needs message mode, not built yet.)
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchEngine, benchQueue } from '../sim/engine/bench.ts'
import { runScenario } from '../sim/run.ts'

const HEAP_EVENTS = 10_000_000
const HEAP_SIZE = 100_000

const heap = benchQueue(HEAP_EVENTS, HEAP_SIZE)
const engine = benchEngine(HEAP_EVENTS, HEAP_SIZE)
const file = process.argv[2] ?? new URL('../sim/scenarios/paths-small.yaml', import.meta.url).pathname
const out = mkdtempSync(join(tmpdir(), 'veil-sim-bench-'))
try {
  const r = await runScenario(readFileSync(file, 'utf8'), { outDir: out })
  console.log(JSON.stringify({
    heap_events_per_s: Math.round(heap.eventsPerSecond),
    engine_events_per_s: Math.round(engine.eventsPerSecond),
    scenario: r.scenario.name,
    events: r.facts.events,
    events_per_s: r.facts.events_per_s,
    wall_s: r.facts.wall_s,
    sim_s: r.facts.sim_s,
    peak_rss_mb: r.facts.peak_rss_mb
  }))
} finally {
  rmSync(out, { recursive: true })
}
