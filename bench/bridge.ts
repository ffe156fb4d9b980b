/**
 * Bridge benchmark: a small `tools/call` (echo, a few bytes of text) through the whole path
 *
 *   MCP client ─stdio─▶ `veil bridge --stdio --profile fast` ─circuit (3 hops)─▶ `veil provide` ─stdio─▶ examples/tools-server.ts
 *
 * on a 6-relay loopback testnet (`veil testnet`; every party its own process, as a user
 * runs them), next to the same call made directly to a wrapped server process
 * (examples/tools-server.ts on stdio) in the same run; then calls/s with 32 concurrent
 * callers through the bridge. Both clients are the v2 SDK client pinned to 2026-07-28.
 *
 *   npm run bench -- bridge [--mode public|hidden] [--calls N]
 *
 * `--mode` (or VEIL_BENCH_PROVIDER_MODE) chooses the provider mode: `hidden` (default, as
 * the issue asks: introduction points and rendezvous) or `public` (a circuit to the
 * provider's own relay).
 * The provider runs with --max-concurrent 64 and --calls-per-minute 100000: its default
 * per-circuit rate limit (120/min) would refuse a benchmark's call rate, and the
 * benchmark measures the path, not the operator's policy.
 *
 * Last line: {"bench":"bridge","direct_p50_ms","bridge_p50_ms","bridge_p99_ms",
 * "overhead_p50_ms","calls_per_s_32","provider_mode",…}. Target: overhead_p50_ms ≤ 15.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { startTestnet } from '../src/node/testnet.ts'
import { percentile, report, round, veilEnv, firstLine } from './common.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'veil.js')
const NODE = process.execPath

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}
const mode = arg('mode') ?? process.env.VEIL_BENCH_PROVIDER_MODE ?? 'hidden'
const CALLS = Number(arg('calls') ?? process.env.VEIL_BENCH_CALLS ?? 400)
const WARMUP = 40
const CONCURRENCY = 32
const CONCURRENT_MS = 8_000
if (mode !== 'public' && mode !== 'hidden') { process.stderr.write('bench bridge: --mode must be public or hidden\n'); process.exit(2) }
const log = (line: string): void => { process.stderr.write(`bench bridge: ${line}\n`) }

const env = veilEnv

async function connect (args: string[], home?: string): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await client.connect(new StdioClientTransport({ command: NODE, args, cwd: ROOT, stderr: 'ignore', ...(home !== undefined && { env: env(home) }) }))
  return client
}

async function timeCalls (client: Client, name: string, n: number): Promise<number[]> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = await client.callTool({ name, arguments: { text: `bench ${i}` } })
    ms.push(performance.now() - t0)
    if (r.isError === true) throw new Error(`${name} failed: ${JSON.stringify(r.content).slice(0, 300)}`)
  }
  return ms.sort((a, b) => a - b)
}

const home = await mkdtemp(join(tmpdir(), 'veil-bench-bridge-'))
const procs: ChildProcess[] = []
const clients: Client[] = []
// hidden mode needs room for vanguards-lite: the provider's guard and 4 layer-2 guards are
// never its rendezvous point, and paths are G L2 M X, so 6 relays leave almost no choice
const RELAYS = mode === 'hidden' ? 12 : 6
const net = await startTestnet({ home: join(home, 'testnet'), nodes: RELAYS, onProgress: (line) => { process.stderr.write(line + '\n') } })
try {
  const boot = [...net.info.relays.flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
  const provider = spawn(NODE, [BIN, 'provide', ...boot, ...(mode === 'hidden' ? ['--hidden'] : []), '--max-concurrent', '64', '--calls-per-minute', '100000', '--stdio', '--', NODE, 'examples/tools-server.ts'],
    { cwd: ROOT, env: env(join(home, 'provider')), stdio: ['ignore', 'pipe', 'pipe'] })
  procs.push(provider)
  const address = await firstLine(provider, 'veil provide', 60_000)
  log(`provider (${mode} mode) ${address.slice(0, 12)}…`)

  const direct = await connect(['examples/tools-server.ts'])
  clients.push(direct)
  const bridge = await connect([BIN, 'bridge', '--stdio', '--provider', `${address}=ex`, '--profile', 'fast', ...boot], join(home, 'bridge'))
  clients.push(bridge)
  const deadline = Date.now() + 60_000
  while (!(await bridge.listTools(undefined, { cacheMode: 'refresh' })).tools.some(t => t.name === 'ex_echo')) {
    if (Date.now() > deadline) throw new Error('the bridge never listed ex_echo')
    await new Promise(resolve => setTimeout(resolve, 200))
  }

  await timeCalls(direct, 'echo', WARMUP)
  await timeCalls(bridge, 'ex_echo', WARMUP)
  // interleave the two series in blocks so drift (GC, CPU frequency) hits both alike
  const directMs: number[] = []
  const bridgeMs: number[] = []
  for (let done = 0; done < CALLS; done += 50) {
    const n = Math.min(50, CALLS - done)
    directMs.push(...await timeCalls(direct, 'echo', n))
    bridgeMs.push(...await timeCalls(bridge, 'ex_echo', n))
  }
  directMs.sort((a, b) => a - b)
  bridgeMs.sort((a, b) => a - b)
  log(`sequential: direct p50 ${round(percentile(directMs, 0.5), 3)} ms; bridge p50 ${round(percentile(bridgeMs, 0.5))} ms, p99 ${round(percentile(bridgeMs, 0.99))} ms (${CALLS} calls each)`)

  let completed = 0
  let failed = 0
  const stopAt = performance.now() + CONCURRENT_MS
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => {
    for (let i = 0; performance.now() < stopAt; i++) {
      const r = await bridge.callTool({ name: 'ex_echo', arguments: { text: `w${w} ${i}` } })
      if (r.isError === true) failed++
      else completed++
    }
  }))
  const elapsed = (performance.now() - t0) / 1000
  log(`${CONCURRENCY} concurrent callers: ${completed} calls in ${round(elapsed)} s, ${failed} failed`)

  report('bridge', {
    direct_p50_ms: round(percentile(directMs, 0.5), 3),
    bridge_p50_ms: round(percentile(bridgeMs, 0.5)),
    bridge_p99_ms: round(percentile(bridgeMs, 0.99)),
    overhead_p50_ms: round(percentile(bridgeMs, 0.5) - percentile(directMs, 0.5)),
    calls_per_s_32: round(completed / elapsed, 1),
    failed_32: failed,
    provider_mode: mode,
    profile: 'fast',
    calls: CALLS,
    relays: net.info.relays.length
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
