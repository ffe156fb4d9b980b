/**
 * `node bench/sim.ts [scenario.yaml]` (`npm run bench -- sim`) — the simulator benchmark.
 * 1. The issue-7 scenario sim/scenarios/100k.yaml (message mode: 2,000 relays, 97,000
 *    clients, 1,000 providers, one simulated hour) through runScenario into a temp dir.
 * 2. The bare event heap (hold model) and the engine with dispatch, events/s (extra fields).
 * Ends with one JSON line: nodes, sim_s, messages (tool-call requests + responses), wall_s,
 * events, events_per_s, peak_rss_mb, plus cells, headline metrics and the 1-minute load
 * average before and after (the machine may be shared). Progress on stderr.
 * Targets (issue 7): events ≥ 1.5e8, wall_s ≤ 300, peak_rss_mb ≤ 2048, events_per_s ≥ 1e6.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchEngine, benchQueue } from '../sim/engine/bench.ts'
import { runScenario } from '../sim/run.ts'
import { report, round } from './common.ts'

const HEAP_EVENTS = 10_000_000
const HEAP_SIZE = 100_000

const file = process.argv[2] ?? new URL('../sim/scenarios/100k.yaml', import.meta.url).pathname
const out = mkdtempSync(join(tmpdir(), 'veil-sim-bench-'))
const loadBefore = loadavg()[0]
try {
  let lastTenth = -1
  const r = await runScenario(readFileSync(file, 'utf8'), {
    outDir: out,
    onProgress: p => {
      const tenth = Math.floor(p.fraction * 20)
      if (tenth !== lastTenth) { lastTenth = tenth; process.stderr.write(`sim ${(p.fraction * 100).toFixed(0)}% ${p.phase}\n`) }
    }
  })
  const loadAfter = loadavg()[0]
  const heap = benchQueue(HEAP_EVENTS, HEAP_SIZE)
  const engine = benchEngine(HEAP_EVENTS, HEAP_SIZE)
  const m = r.scenario.message
  const msg = r.results.message?.[0]
  report('sim', {
    scenario: r.scenario.name,
    nodes: r.scenario.modes.includes('message') ? m.relays + m.clients + m.providers : null,
    sim_s: r.facts.sim_s,
    messages: r.facts.messages,
    wall_s: r.facts.wall_s,
    events: r.facts.events,
    events_per_s: r.facts.events_per_s,
    peak_rss_mb: r.facts.peak_rss_mb,
    cells: msg === undefined ? null : msg.realCellsSent + msg.loopCellsSent + msg.dropCellsSent,
    entropy_mean_bits: msg?.entropyMean ?? null,
    targets: msg?.targetsMeasured ?? null,
    latency_p50_ms: msg === undefined ? null : round(msg.latencyMs.p50, 1),
    delivery_success: msg?.deliverySuccess ?? null,
    heap_events_per_s: Math.round(heap.eventsPerSecond),
    engine_events_per_s: Math.round(engine.eventsPerSecond),
    load_avg_1m_before: round(loadBefore, 2),
    load_avg_1m_after: round(loadAfter, 2)
  })
} finally {
  rmSync(out, { recursive: true })
}
