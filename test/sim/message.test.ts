import { describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { poissonGapMs, runMessage } from '../../sim/message.ts'
import { runScenario } from '../../sim/run.ts'
import { parseScenario, resolveScenario } from '../../sim/scenario.ts'
import { ScenarioError } from '../../sim/errors.ts'
import { ChurnModel, distMean, gamma, Network, sampleDist, DEFAULT_GEOGRAPHY } from '../../sim/engine/network.ts'
import { RngBank, SeededRng } from '../../sim/rng.ts'
import { PoissonProcess } from '../../src/mix/index.ts'
import { senderEstimate, VectorMixer } from '../../sim/anonymity.ts'

/** A network small enough to be quick and busy enough to mix. */
const SMALL = {
  durationS: 60, warmupS: 10, relays: 20, clients: 150, providers: 5, cover: { perSec: 1 }, callIntervalS: 5,
  targets: 150, churn: { clients: 'none' }, network: { jitterMs: 0 }
}

describe('message mode: sender entropy', () => {
  it('is 0 with zero mixing delay and zero jitter, and rises monotonically over mean delays {0, 10, 50, 200} ms', () => {
    const s = resolveScenario({ modes: ['message'], message: SMALL })
    const h = [0, 10, 50, 200].map(d => runMessage(s.message, d, 3).result)
    expect(h[0].targetsMeasured).toBeGreaterThanOrEqual(100)
    expect(h[0].entropyMean).toBe(0)
    expect(h[0].effectiveSetMean).toBe(1)
    expect(h[0].linkedFraction).toBe(1)
    expect(h[0].mixingMs.p99).toBe(0)
    for (let i = 1; i < h.length; i++) expect(h[i].entropyMean as number).toBeGreaterThan(h[i - 1].entropyMean as number)
    // degree is H / log2 N, so it is in [0, 1]
    for (const r of h) expect(r.degreeMean as number).toBeLessThanOrEqual(1)
    // mixing shows up in latency as about 2 × hops × mean for a call (plus waiting for the slowest cell)
    expect(h[3].meanSplitMs.mixing).toBeGreaterThan(6 * 200 * 0.8)
    expect(h[3].epsilonDelta05 as number).toBeLessThan(h[0].epsilonDelta05 as number)
  })
  it('the mixer averages vectors and the estimate conditions on clients', () => {
    const m = new VectorMixer(10)
    m.add(null, 1, 0.5)
    m.add({ ids: [2, 8], p: [0.5, 0.5] }, 0, 0.5)
    const v = m.take()
    expect([...v.ids]).toEqual([1, 2, 8])
    expect([...v.p]).toEqual([0.5, 0.25, 0.25])
    // endpoint 8 is a provider (clients = 5): conditioned away
    const e = senderEstimate(v, 1, 1, 5)
    expect(e.pTrue).toBeCloseTo(2 / 3, 12)
    expect(e.support).toBe(2)
    expect(e.entropy).toBeCloseTo(-(2 / 3) * Math.log2(2 / 3) - (1 / 3) * Math.log2(1 / 3), 12)
  })
})

describe('message mode: latency, churn, cover', () => {
  it('relay churn loses cells and calls; client churn alone delivers nearly all', () => {
    const base = { ...SMALL, entropy: false, durationS: 120 }
    const calm = runMessage(resolveScenario({ modes: ['message'], message: { ...base, churn: { clients: { session: { dist: 'weibull', median: 60, shape: 0.6 }, downtime: { dist: 'exp', mean: 30 } } } } }).message, undefined, 1).result
    expect(calm.deliverySuccess as number).toBeGreaterThan(0.95)
    expect(calm.meanOnlineClients).toBeLessThan(150)
    const rough = runMessage(resolveScenario({ modes: ['message'], message: { ...base, churn: { clients: 'none', relays: { session: { dist: 'exp', mean: 30 }, downtime: { dist: 'exp', mean: 10 } } } } }).message, undefined, 1).result
    expect(rough.cellsLost).toBeGreaterThan(0)
    expect(rough.buildFailures).toBeGreaterThan(0)
    expect(rough.deliverySuccess as number).toBeLessThan(calm.deliverySuccess as number)
  })
  it('cover overhead follows the rates: cover cells ≈ rate × online time; loops cost two traversals', () => {
    const r = runMessage(resolveScenario({ modes: ['message'], message: { ...SMALL, entropy: false, cover: { perSec: 2, loopShare: 0.5 } } }).message, undefined, 2).result
    const expected = 2 * 150 * 60
    expect(r.loopCellsSent + r.dropCellsSent + r.coverSkippedNoCircuit).toBeGreaterThan(expected * 0.95)
    expect(r.loopCellsSent + r.dropCellsSent + r.coverSkippedNoCircuit).toBeLessThan(expected * 1.05)
    expect(r.coverCellHops / (r.loopCellsSent + r.dropCellsSent)).toBeGreaterThan(3.5) // drops 3, loops 5 relay transmissions
    expect(r.requestCells).toBe(2) // 3,000 B → 2 cells (pow2 buckets)
    expect(r.responseCells).toBe(4) // 6,000 B → 3 cells → padded to 4
    expect(r.circuitBuildMs.p50).toBeGreaterThan(0)
  })
  it('outputs are byte-identical for the same seed', async () => {
    const yaml = JSON.stringify({ name: 'm', modes: ['message'], message: { ...SMALL, durationS: 30, perHopMeanDelayMs: [0, 20] } })
    const a = mkdtempSync(join(tmpdir(), 'veil-msg-')); const b = mkdtempSync(join(tmpdir(), 'veil-msg-'))
    try {
      const r = await runScenario(yaml, { outDir: a })
      await runScenario(yaml, { outDir: b })
      const names = readdirSync(a).filter(f => f !== 'run.json').sort()
      expect(names).toEqual(['message-entropy-vs-delay.svg', 'message-latency-cdf.svg', 'message_latency_cdf.csv', 'message_summary.csv', 'message_targets.csv', 'summary.json'])
      for (const f of names) expect(readFileSync(join(b, f), 'utf8')).toBe(readFileSync(join(a, f), 'utf8'))
      expect(r.facts.messages).toBeGreaterThan(0)
    } finally {
      rmSync(a, { recursive: true }); rmSync(b, { recursive: true })
    }
  })
})

describe('message mode: paranoid send stream (src/mix SendStream)', () => {
  const P = {
    durationS: 30, warmupS: 5, relays: 30, clients: 20, providers: 4, callIntervalS: 1, targets: 50,
    churn: { clients: 'none' }, entropy: false, profile: 'paranoid'
  }
  const run = (m: object, seed = 1): ReturnType<typeof runMessage> => runMessage(resolveScenario({ modes: ['message'], message: { ...P, ...m } }).message, undefined, seed)
  /** Cells clients put on their links per client-second: stream slots (request or loop) and loop cover. */
  const clientRate = ({ result: r, messages }: ReturnType<typeof runMessage>): number => {
    const requestCells = r.realCellsSent - (messages - r.callsIssued) * r.responseCells
    return (requestCells + r.loopCellsSent + r.dropCellsSent + r.coverSkippedNoCircuit) / (P.clients * P.durationS)
  }
  it('a client sends λ = 50 slots/s plus 5 loops/s whether it calls or not', () => {
    const busy = run({})
    const idle = run({ callIntervalS: 100_000 })
    expect(busy.result.callsCompleted).toBeGreaterThan(400)
    expect(idle.result.callsIssued).toBe(0)
    for (const r of [busy, idle]) {
      expect(clientRate(r)).toBeGreaterThan(55 * 0.97)
      expect(clientRate(r)).toBeLessThan(55 * 1.03)
      expect(r.result.dropCellsSent).toBe(0) // paranoid has no drop cover: empty slots carry loops
    }
    expect(Math.abs(clientRate(busy) - clientRate(idle)) / clientRate(idle)).toBeLessThan(0.02)
  })
  it('request cells wait for slots: the median call spends ≈ two slot gaps (Gamma(2, 20 ms), median 34 ms) more in "other" than balanced', () => {
    const para = run({}).result
    const bal = run({ profile: 'balanced' }).result
    expect(bal.otherMs.p50).toBeCloseTo(20, 6) // provider service
    expect(para.otherMs.p50 - bal.otherMs.p50).toBeGreaterThan(20)
    expect(para.otherMs.p50 - bal.otherMs.p50).toBeLessThan(50)
    expect(para.deliverySuccess).toBe(1)
  })
  it('is deterministic per seed, and client churn drains queued cells', () => {
    const churn = { clients: { session: { dist: 'exp', mean: 5 }, downtime: { dist: 'exp', mean: 5 } } }
    const a = run({ churn }, 4)
    expect(run({ churn }, 4)).toEqual(a)
    expect(a.result.callsCompleted).toBeGreaterThan(100)
    expect(a.result.callsFailed).toBeGreaterThan(0)
  })
})

describe('network model', () => {
  it('latency is base + distance + access, symmetric; sends queue FIFO on the uplink', () => {
    const rng = SeededRng.derive(1, 'net')
    const net = new Network({ ...DEFAULT_GEOGRAPHY, jitterMs: 0 }, [
      { count: 50, bandwidth: { kind: 'fixed', value: 2_048_000 }, access: false },
      { count: 50, bandwidth: { kind: 'fixed', value: 1000 }, access: true }
    ], 2048, rng)
    for (let a = 0; a < 100; a += 7) for (let b = 0; b < 100; b += 11) {
      expect(net.latency(a, b)).toBeCloseTo(net.latency(b, a), 9)
      expect(net.latency(a, b)).toBeGreaterThanOrEqual(8)
    }
    const t1 = net.send(0, 1, 0, rng)
    expect(t1).toBeCloseTo(1 + net.latency(0, 1), 9) // 2,048 B at 2,048,000 B/s = 1 ms
    net.send(0, 2, 0, rng)
    expect(net.lastQueue).toBeCloseTo(1, 9)
  })
  it('distributions: Weibull by median, means, stationary churn', () => {
    expect(gamma(5)).toBeCloseTo(24, 9)
    expect(gamma(0.5)).toBeCloseTo(Math.sqrt(Math.PI), 9)
    const rng = SeededRng.derive(2, 'dist')
    const w = { kind: 'weibull' as const, median: 1800, shape: 0.6 }
    const xs = Array.from({ length: 20_001 }, () => sampleDist(w, rng)).sort((a, b) => a - b)
    expect(xs[10_000] / 1800).toBeGreaterThan(0.95)
    expect(xs[10_000] / 1800).toBeLessThan(1.05)
    expect(distMean({ kind: 'exp', mean: 3 })).toBe(3)
    const churn = new ChurnModel(w, { kind: 'exp', mean: 900 })
    expect(churn.onlineProbability).toBeCloseTo(distMean(w) / (distMean(w) + 900), 12)
  })
  it('client Poisson processes kept as numbers (poissonGapMs) draw exactly as src/mix PoissonProcess', () => {
    for (const rate of [0.05, 0.1, 1 / 600, 5, 0]) {
      const bank = new RngBank(3, 'p', 2)
      const proc = new PoissonProcess(rate, SeededRng.derive(3, 'p', 1), 1000)
      let next = 1000 + poissonGapMs(rate, bank.select(1))
      for (let k = 0; k < 50; k++) {
        expect(next).toBe(proc.next)
        proc.advance()
        next += poissonGapMs(rate, bank.select(1))
      }
    }
  })
  it('RngBank streams equal SeededRng streams', () => {
    const bank = new RngBank(9, 'x', 4)
    for (const i of [3, 0, 2]) {
      const s = SeededRng.derive(9, 'x', i)
      bank.select(i)
      for (let k = 0; k < 20; k++) expect(bank.u32()).toBe(s.u32())
      expect(bank.exp(3)).toBe(s.exp(3))
      expect(bank.int(1000)).toBe(s.int(1000))
    }
  })
})

describe('message scenarios', () => {
  it('100k.yaml is the issue\'s scenario', () => {
    const s = parseScenario(readFileSync('sim/scenarios/100k.yaml', 'utf8'))
    const m = s.message
    expect(s.modes).toEqual(['message'])
    expect([m.relays, m.clients, m.providers, m.relays + m.clients + m.providers]).toEqual([2000, 97_000, 1000, 100_000])
    expect([m.adversaryFraction, m.adversaryBy]).toEqual([0.1, 'bandwidth'])
    expect(m.clientChurn?.session).toEqual({ kind: 'weibull', median: 1800, shape: 0.6 })
    expect([m.hops, m.profile, m.perHopMeanDelayMs, m.callIntervalS, m.coverPerSec, m.durationS]).toEqual([3, 'balanced', null, 600, 0.1, 3600])
    expect(parseScenario(readFileSync('sim/scenarios/message-small.yaml', 'utf8')).message.perHopMeanDelayMs).toEqual([0, 10, 50, 200])
  })
  const bad: Array<[unknown, string]> = [
    [{ message: { churn: { clients: { session: { dist: 'pareto', median: 3 } } } } }, 'message.churn.clients.session.dist'],
    [{ message: { churn: { clients: { session: { dist: 'weibull', median: 3 } } } } }, 'message.churn.clients.session.shape'],
    [{ message: { churn: { clients: { session: { dist: 'exp', mean: 3, median: 2 } } } } }, 'message.churn.clients.session.median'],
    [{ message: { cover: { rate: 1 } } }, 'message.cover.rate'],
    [{ message: { profile: 'slow' } }, 'message.profile'],
    [{ message: { network: { regions: [{ name: 'a', weight: 1 }], baseMs: [[1, 2]] } } }, 'message.network.baseMs[0]'],
    [{ message: { bandwidth: { relays: 5 } } }, 'message.bandwidth.relays'],
    [{ message: { perHopMeanDelayMs: [10, 5000] } }, 'message.perHopMeanDelayMs[1]'],
    [{ message: { warmupS: 900, durationS: 600 } }, 'message.warmupS']
  ]
  for (const [input, path] of bad) {
    it(`names ${path}`, () => {
      try {
        resolveScenario({ modes: ['message'], ...(input as object) })
        expect.unreachable()
      } catch (err) {
        expect(err).toBeInstanceOf(ScenarioError)
        expect((err as ScenarioError).path).toBe(path)
      }
    })
  }
})
