/**
 * Load benchmark: many MCP sessions through several bridges at once, over a larger testnet.
 *
 *   32 MCP client sessions (v2 SDK client, 2026-07-28) ─HTTP─▶ 4 × `veil bridge --http --profile fast`
 *     ─circuits─▶ `veil provide` (public mode) ─stdio─▶ examples/tools-server.ts
 *
 * on a 20-relay loopback testnet (startTestnet: every relay its own process). Each session
 * keeps 8 `echo` calls in flight (256 at once). 15 s of warm-up, then 60 s measured.
 *
 *   npm run bench -- load [--relays 20] [--bridges 4] [--sessions 32] [--inflight 8] [--warmup 15] [--seconds 60]
 *
 * Relays run with their default limits (circuits per link, CREATEs per second, streams per
 * circuit, queued cells per circuit and per link, storer limits); the `limits` field reports
 * them as a relay reports them in `veil status`, with the refusals each counted, summed over
 * relays. The provider runs with --max-concurrent 512 and --calls-per-minute 100000: its
 * defaults (8 at once, 120 a minute per circuit) are an operator's policy for a public tool,
 * and would refuse 256 concurrent callers by design; the bench measures the network.
 *
 * RSS is summed over every Veil process: the testnet's relays, the provider's `veil provide`
 * and the bridges (not the wrapped example server, not this process with its clients).
 *
 * Last line: {"bench":"load","calls","errors","p50_ms","p99_ms","rss_warm_mb","rss_end_mb","limits":{…},…}.
 * Targets: errors = 0 with the default limits; rss_end_mb ≤ 1.2 × rss_warm_mb.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { startTestnet } from '../src/node/testnet.ts'
import { percentile, report, round, rssMb, veilEnv, firstLine } from './common.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'veil.js')
const NODE = process.execPath

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const v = i === -1 ? undefined : Number(process.argv[i + 1])
  if (v !== undefined && (!Number.isFinite(v) || v <= 0)) { process.stderr.write(`bench load: --${name} must be a positive number\n`); process.exit(2) }
  return v ?? dflt
}
const RELAYS = arg('relays', 20)
const BRIDGES = arg('bridges', 4)
const SESSIONS = arg('sessions', 32)
const INFLIGHT = arg('inflight', 8)
const WARMUP_S = arg('warmup', 15)
const MEASURE_S = arg('seconds', 60)
const log = (line: string): void => { process.stderr.write(`bench load: ${line}\n`) }

const env = veilEnv

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

const home = await mkdtemp(join(tmpdir(), 'veil-bench-load-'))
const procs: ChildProcess[] = []
const clients: Client[] = []
log(`${RELAYS} relays, ${BRIDGES} bridges, ${SESSIONS} sessions × ${INFLIGHT} in flight; ${WARMUP_S} s warm-up, ${MEASURE_S} s measured`)
const net = await startTestnet({ home: join(home, 'testnet'), nodes: RELAYS, onProgress: (line, final) => { if (final) process.stderr.write(line + '\n') } })
try {
  const boot = [...net.info.relays.slice(0, 8).flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
  const provider = spawn(NODE, [BIN, 'provide', ...boot, '--max-concurrent', '512', '--calls-per-minute', '100000', '--stdio', '--', NODE, 'examples/tools-server.ts'],
    { cwd: ROOT, env: env(join(home, 'provider')), stdio: ['ignore', 'pipe', 'pipe'] })
  procs.push(provider)
  const address = await firstLine(provider, 'veil provide', 90_000)
  log(`provider ${address.slice(0, 12)}…`)

  const bridges: ChildProcess[] = []
  const urls = await Promise.all(Array.from({ length: BRIDGES }, async (_, b) => {
    const child = spawn(NODE, [BIN, 'bridge', '--http', '--provider', `${address}=ex`, '--profile', 'fast', ...boot], { cwd: ROOT, env: env(join(home, `bridge-${b}`)), stdio: ['ignore', 'pipe', 'pipe'] })
    procs.push(child)
    bridges.push(child)
    return new URL(await firstLine(child, `veil bridge ${b}`, 60_000))
  }))
  const sessions = await Promise.all(Array.from({ length: SESSIONS }, async (_, s) => {
    const client = new Client({ name: `load-${s}`, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
    await client.connect(new StreamableHTTPClientTransport(urls[s % BRIDGES]))
    clients.push(client)
    return client
  }))
  // every bridge has the provider's catalogue before the clock starts
  await Promise.all(sessions.slice(0, BRIDGES).map(async (c, b) => {
    const deadline = Date.now() + 90_000
    while (!(await c.listTools(undefined, { cacheMode: 'refresh' })).tools.some(t => t.name === 'ex_echo')) {
      if (Date.now() > deadline) throw new Error(`bridge ${b} never listed ex_echo`)
      await sleep(250)
    }
  }))

  const veilPids = (): number[] => [...net.pids(), ...[provider, ...bridges].flatMap(p => p.pid !== undefined && p.exitCode === null ? [p.pid] : [])]
  const rss = (): number => veilPids().reduce((a, p) => a + rssMb(p), 0)

  let phase: 'warm' | 'measure' | 'done' = 'warm'
  const latencies: number[] = []
  let calls = 0
  let errors = 0
  let warmCalls = 0
  let warmErrors = 0
  const errorSamples = new Map<string, number>()
  const t0 = performance.now()
  const warmEnd = t0 + WARMUP_S * 1000
  const end = warmEnd + MEASURE_S * 1000
  let rssWarm = 0
  const rssTimer = setTimeout(() => { rssWarm = rss(); phase = 'measure'; log(`warm: rss ${round(rssWarm, 1)} MB over ${veilPids().length} processes; ${warmCalls} warm-up calls, ${warmErrors} errors`) }, WARMUP_S * 1000)
  await Promise.all(sessions.flatMap((client, s) => Array.from({ length: INFLIGHT }, async (_, k) => {
    for (let i = 0; performance.now() < end; i++) {
      const text = `s${s} k${k} ${i}`
      const started = performance.now()
      const p = phase
      let ok = false
      let why = ''
      try {
        const r = await client.callTool({ name: 'ex_echo', arguments: { text } }, { timeout: 60_000 })
        const got = (r.content as Array<{ text?: string }> | undefined)?.[0]?.text
        ok = r.isError !== true && got === text
        if (!ok) why = JSON.stringify(r.content).slice(0, 160)
      } catch (err) { why = err instanceof Error ? err.message.slice(0, 160) : String(err) }
      const ms = performance.now() - started
      if (p === 'warm' || started < warmEnd) { warmCalls++; if (!ok) warmErrors++; continue }
      calls++
      if (ok) latencies.push(ms)
      else { errors++; errorSamples.set(why, (errorSamples.get(why) ?? 0) + 1) }
    }
  })))
  clearTimeout(rssTimer)
  phase = 'done'
  const rssEnd = rss()
  const measured = (performance.now() - warmEnd) / 1000
  latencies.sort((a, b) => a - b)
  for (const [why, n] of errorSamples) log(`error ×${n}: ${why}`)

  // the limits in force and what each refused, as relays report them in `veil status`
  const statuses = await Promise.all(net.info.relays.map(async (_, i) => { try { return await net.status(i) } catch { return undefined } }))
  const refused: Record<string, number> = {}
  let settings: unknown
  let linkLimits: unknown
  let linkDropped = 0
  let storer: unknown
  for (const st of statuses) {
    const circ = st?.sections.circuits as { limits?: Record<string, number>, limitSettings?: unknown } | undefined
    for (const [k, v] of Object.entries(circ?.limits ?? {})) refused[k] = (refused[k] ?? 0) + v
    settings ??= circ?.limitSettings
    const links = st?.sections.links as { limits?: unknown, cellsDropped?: number } | undefined
    linkLimits ??= links?.limits
    linkDropped += links?.cellsDropped ?? 0
    const reg = st?.sections.registry as { limits?: unknown } | undefined
    storer ??= reg?.limits
  }
  log(`measured ${round(measured, 1)} s: ${calls} calls (${round(calls / measured, 1)}/s), ${errors} errors; p50 ${round(percentile(latencies, 0.5))} ms, p99 ${round(percentile(latencies, 0.99))} ms; rss ${round(rssWarm, 1)} → ${round(rssEnd, 1)} MB`)
  report('load', {
    calls,
    errors,
    p50_ms: round(percentile(latencies, 0.5)),
    p99_ms: round(percentile(latencies, 0.99)),
    rss_warm_mb: round(rssWarm, 1),
    rss_end_mb: round(rssEnd, 1),
    limits: { circuits: settings ?? null, links: linkLimits ?? null, storer: storer ?? null, refused: { ...refused, linkCellsDropped: linkDropped }, provider: { maxConcurrent: 512, callsPerMinute: 100_000 } },
    calls_per_s: round(calls / measured, 1),
    warmup_calls: warmCalls,
    warmup_errors: warmErrors,
    relays: RELAYS,
    bridges: BRIDGES,
    sessions: SESSIONS,
    inflight: INFLIGHT,
    warmup_s: WARMUP_S,
    measured_s: round(measured, 1),
    veil_processes: veilPids().length,
    profile: 'fast',
    provider_mode: 'public'
  })
} finally {
  await Promise.allSettled(clients.map(async c => { await c.close() }))
  await Promise.allSettled(procs.map(async p => {
    if (p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise<void>(resolve => { p.once('exit', () => { resolve() }) })
    p.kill('SIGTERM')
    const t = setTimeout(() => { p.kill('SIGKILL') }, 10_000)
    await exited
    clearTimeout(t)
  }))
  await net.stop()
  await rm(home, { recursive: true, force: true })
}
