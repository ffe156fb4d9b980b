/**
 * Registry benchmark on a loopback testnet of 50 relay processes (`veil relay`, as
 * `veil testnet` starts them; 127.1–50.0.1): a `public` provider node and a `hidden`
 * provider node publish their descriptors; a consumer node (all three in this process, as
 * `veil provide` and `veil bridge` run them) then measures
 * - lookup_p50/p99_ms: finds, fetches and opens a descriptor by address, including the
 *   fresh circuit to a storer (RegistryClient.fetchDescriptor), VEIL_BENCH_LOOKUPS times
 *   (default 30), alternating the two providers;
 * - rendezvous_p50/p99_ms: the hidden provider reached from its opened descriptor — RP
 *   circuit, introduction circuit, INTRODUCE1, the provider's circuit to the RP,
 *   RENDEZVOUS2 — VEIL_BENCH_RENDEZVOUS times (default 30); includes the retries when the
 *   client picked an RP the provider refuses (its guard or a layer-2 guard);
 * - call_rtt_public_p50_ms / call_rtt_hidden_p50_ms: a 1 KiB request and its echo over an
 *   open MCP stream of a connection to each provider (openProvider), VEIL_BENCH_CALLS
 *   times (default 200).
 * Last line: {"bench":"registry","relays":50,"lookup_p50_ms":…,"lookup_p99_ms":…,
 *   "rendezvous_p50_ms":…,"rendezvous_p99_ms":…,"call_rtt_hidden_p50_ms":…,
 *   "call_rtt_public_p50_ms":…,"ready_s":…,"commit":…}
 * Env: VEIL_BENCH_RELAYS (default 50).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestnet } from '../src/node/testnet.ts'
import { startProviderNode, startHiddenProviderNode, type ProviderService } from '../src/node/provider-node.ts'
import { startConsumerNode, type ProviderConnection } from '../src/node/consumer-node.ts'
import { TESTNET_PARAMS } from '../src/node/network-params.ts'
import { percentile, report, round } from './common.ts'

const RELAYS = Number(process.env.VEIL_BENCH_RELAYS ?? 50)
const LOOKUPS = Number(process.env.VEIL_BENCH_LOOKUPS ?? 30)
const CALLS = Number(process.env.VEIL_BENCH_CALLS ?? 200)
const RENDEZVOUS = Number(process.env.VEIL_BENCH_RENDEZVOUS ?? 30)
const log = (s: string): void => { process.stderr.write(s + '\n') }

/** One tool; every MCP stream echoes its messages. */
const service: ProviderService = {
  tools: () => [{ name: 'echo', description: 'Echo back', inputSchema: { type: 'object' }, version: '1.0.0', tags: ['bench'] }],
  onToolsChanged: () => () => {},
  serveStream: (stream) => {
    void (async () => { for await (const m of stream) await stream.send(m); await stream.close() })().catch(() => {})
  }
}

const rtts = async (conn: ProviderConnection): Promise<number[]> => {
  const stream = await conn.openMcpStream()
  const msg = new Uint8Array(1024).fill(7)
  const out: number[] = []
  for (let i = 0; i < CALLS; i++) {
    const s = performance.now()
    await stream.send(msg)
    await stream.read()
    out.push(performance.now() - s)
  }
  await stream.close()
  return out.sort((a, b) => a - b)
}

const home = await mkdtemp(join(tmpdir(), 'veil-bench-registry-'))
const t0 = performance.now()
const net = await startTestnet({
  home: join(home, 'net'), nodes: RELAYS, readyTimeoutMs: 600_000,
  onProgress: (line, final) => { if (final || /ready|started/.test(line)) log(line) }
})
const stops: Array<() => Promise<void>> = []
try {
  const readyS = (performance.now() - t0) / 1000
  log(`${RELAYS} relays ready in ${round(readyS, 1)} s`)
  const addr = (i: number): string => net.info.relays[i].addrs[0]
  const pub = await startProviderNode({ dataDir: join(home, 'public'), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [addr(0), addr(1)], testnet: true, service, params: TESTNET_PARAMS, control: false })
  stops.push(async () => { await pub.stop() })
  const hidden = await startHiddenProviderNode({ dataDir: join(home, 'hidden'), bootstrap: [addr(2)], testnet: true, service, params: TESTNET_PARAMS })
  stops.push(async () => { await hidden.stop() })
  await Promise.all([pub.published, hidden.published])
  log(`providers published (public ${pub.address.slice(0, 12)}…, hidden ${hidden.address.slice(0, 12)}…)`)
  const consumer = await startConsumerNode({ bootstrap: [addr(3), addr(4), addr(5)], testnet: true, params: TESTNET_PARAMS })
  stops.push(async () => { await consumer.stop() })
  await consumer.ready

  const lookups: number[] = []
  for (let i = 0; i < LOOKUPS; i++) {
    const s = performance.now()
    await consumer.registry.fetchDescriptor(i % 2 === 0 ? pub.address : hidden.address, { signal: AbortSignal.timeout(60_000) })
    lookups.push(performance.now() - s)
  }
  lookups.sort((a, b) => a - b)
  log(`lookups (ms): p50 ${round(percentile(lookups, 0.5))}, max ${round(lookups.at(-1) ?? NaN)}; storer circuits ${consumer.registry.counters.circuits}, failed ${consumer.registry.counters.circuitFailures}`)

  const pubConn = await consumer.openProvider(pub.address, { signal: AbortSignal.timeout(60_000) })
  const publicRtts = await rtts(pubConn)
  pubConn.close()

  const { opened } = await consumer.registry.fetchDescriptor(hidden.address, { signal: AbortSignal.timeout(60_000) })
  const rendezvous: number[] = []
  /** Per connect, when each step ended (ms from its start): the split of rendezvous_p50 printed below. */
  const stepMs = new Map<string, number[]>()
  for (let i = 0; i < RENDEZVOUS; i++) {
    const s = performance.now()
    const conn = await consumer.hidden.connect(opened, {
      signal: AbortSignal.timeout(30_000),
      onStep: (e) => { if (!('ok' in e) || e.ok) { const k = e.step; if (!stepMs.has(k)) stepMs.set(k, []); stepMs.get(k)?.push(e.ms) } }
    })
    rendezvous.push(performance.now() - s)
    conn.close()
  }
  rendezvous.sort((a, b) => a - b)
  log(`rendezvous steps, p50 ms from the start: ${[...stepMs].map(([k, v]) => `${k} ${round(percentile(v.sort((a, b) => a - b), 0.5))}`).join(', ')}; provider pre-built circuits ${JSON.stringify(hidden.hidden.prebuilt)}`)
  log(`rendezvous (ms): p50 ${round(percentile(rendezvous, 0.5))}, max ${round(rendezvous.at(-1) ?? NaN)}; provider: ${JSON.stringify(hidden.hidden.counters)}`)
  const hiddenConn = await consumer.openProvider(hidden.address, { signal: AbortSignal.timeout(60_000) })
  const hiddenRtts = await rtts(hiddenConn)
  hiddenConn.close()

  report('registry', {
    relays: RELAYS,
    lookup_p50_ms: round(percentile(lookups, 0.5)),
    lookup_p99_ms: round(percentile(lookups, 0.99)),
    rendezvous_p50_ms: round(percentile(rendezvous, 0.5)),
    rendezvous_p99_ms: round(percentile(rendezvous, 0.99)),
    call_rtt_hidden_p50_ms: round(percentile(hiddenRtts, 0.5)),
    call_rtt_public_p50_ms: round(percentile(publicRtts, 0.5)),
    ready_s: round(readyS, 1),
    relay_processes: true
  })
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {})
  await net.stop()
  await rm(home, { recursive: true, force: true })
}
