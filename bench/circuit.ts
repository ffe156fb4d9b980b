/**
 * Circuit benchmark on an in-process loopback network: 5 relays (127.1-5.0.1,
 * OS-chosen ports) and one client.
 * - build_p50/p99_ms: 3-hop circuits on paths from the circuit manager, warm links;
 * - rtt_p50/p99_ms: a 2 KB message echoed by the last hop over one warm circuit;
 * - throughput_mb_s: one 10 MB message to a sink at the last hop, until its 1-byte ack.
 * Last line: {"bench":"circuit","build_p50_ms":…,"build_p99_ms":…,"rtt_p50_ms":…,"rtt_p99_ms":…,"throughput_mb_s":…,"commit":…,"node":…,"cpus":…}
 * Env: VEIL_BENCH_BUILDS (default 100), VEIL_BENCH_RTTS (default 300), VEIL_BENCH_MB (default 10).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelayNode, type RelayNode } from '../src/node/relay.ts'
import { startClientNode } from '../src/node/client.ts'
import { attachOnionRelay, attachCircuits, onionLinkHooks, type OnionRelay } from '../src/node/onion-glue.ts'
import type { OnionStream } from '../src/onion/index.ts'
import { percentile, report, round } from './common.ts'

const BUILDS = Number(process.env.VEIL_BENCH_BUILDS ?? 100)
const RTTS = Number(process.env.VEIL_BENCH_RTTS ?? 300)
const MB = Number(process.env.VEIL_BENCH_MB ?? 10)
const log = (s: string): void => { process.stderr.write(s + '\n') }

const home = await mkdtemp(join(tmpdir(), 'veil-bench-circuit-'))
const relays: RelayNode[] = []
const onions: OnionRelay[] = []
const bootOf = (r: RelayNode): string => `${r.addrs()[0].toString()}/p2p/${r.peerId.toString()}`
try {
  for (let i = 0; i < 5; i++) {
    const hooks = onionLinkHooks()
    const r = await startRelayNode({ dataDir: join(home, `r${i}`), listen: [`/ip4/127.${i + 1}.0.1/tcp/0`], bootstrap: relays.slice(0, 1).map(bootOf), testnet: true, control: false, ...hooks })
    relays.push(r)
    const o = attachOnionRelay(r, hooks, { echo: true })
    o.streams.register('sink', async (s: OnionStream) => {
      for await (const m of s) await s.send(Uint8Array.of(m.length > 0 ? 1 : 0))
      await s.close()
    })
    onions.push(o)
  }
  const end = Date.now() + 30_000
  while (!relays.every(r => r.directory.size === 5)) {
    if (Date.now() > end) throw new Error('relay directories did not fill')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const client = await startClientNode({ bootstrap: relays.map(bootOf), entryCount: 3, minDirectory: 5 })
  await client.ready
  const circuits = await attachCircuits(client, { startManager: false })
  try {
    // warm every link a path may use
    for (let i = 0; i < 10; i++) (await circuits.manager.build()).destroy()
    const builds: number[] = []
    for (let i = 0; i < BUILDS; i++) {
      const t0 = performance.now()
      const c = await circuits.manager.build()
      builds.push(performance.now() - t0)
      c.destroy()
    }
    builds.sort((a, b) => a - b)
    log(`built ${BUILDS} circuits: p50 ${round(percentile(builds, 0.5))} ms, p99 ${round(percentile(builds, 0.99))} ms`)

    const c = await circuits.manager.build()
    const echo = await c.openStream('echo')
    const msg = new Uint8Array(2048).fill(7)
    for (let i = 0; i < 20; i++) { await echo.send(msg); await echo.read() }
    const rtts: number[] = []
    for (let i = 0; i < RTTS; i++) {
      const t0 = performance.now()
      await echo.send(msg)
      await echo.read()
      rtts.push(performance.now() - t0)
    }
    rtts.sort((a, b) => a - b)
    log(`2 KB echo: p50 ${round(percentile(rtts, 0.5))} ms, p99 ${round(percentile(rtts, 0.99))} ms`)

    const sink = await c.openStream('sink')
    const big = new Uint8Array(MB * 1_000_000).fill(3)
    const t0 = performance.now()
    await Promise.all([sink.send(big), sink.read({ signal: AbortSignal.timeout(120_000) })])
    const secs = (performance.now() - t0) / 1000
    const tput = MB / secs
    log(`${MB} MB one way: ${round(secs, 3)} s, ${round(tput)} MB/s`)
    c.destroy()
    report('circuit', {
      build_p50_ms: round(percentile(builds, 0.5)),
      build_p99_ms: round(percentile(builds, 0.99)),
      rtt_p50_ms: round(percentile(rtts, 0.5), 3),
      rtt_p99_ms: round(percentile(rtts, 0.99), 3),
      throughput_mb_s: round(tput)
    })
  } finally {
    await circuits.stop()
    await client.stop()
  }
} finally {
  for (const o of onions) o.stop()
  await Promise.all(relays.map(async r => { await r.stop() }))
  await rm(home, { recursive: true, force: true })
}
