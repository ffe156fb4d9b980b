/**
 * Chaos: 200 tool calls through `veil bridge --stdio` while relays are SIGKILLed and
 * restarted.
 *
 *   MCP client (1.x SDK) ─stdio─▶ `veil bridge --stdio` ─circuit─▶ `veil provide` ─stdio─▶ examples/tools-server.ts
 *
 * on an 8-relay loopback testnet started in this process (startTestnet: the handle gives
 * kill(i, hard) and restart(i); relays keep their ports across restarts). The provider is a
 * public-mode `veil provide` process: hidden providers are not built yet, so the
 * introduction-point kill the issue asks for cannot be tested here.
 *
 * Calls: 200, mostly `count` with a unique nonce (not idempotent: the bridge never retries
 * it), every fifth an `echo` (idempotent: the bridge may retry it once). Up to 4 in flight.
 * Meanwhile a chaos loop SIGKILLs one relay every few seconds and restarts it 1–3 s later,
 * choosing in turn: the middle hop of a current bridge→provider circuit, a registry storer
 * (a relay holding registry records), a random relay.
 *
 * Which relays a call's circuit used is observed from outside: every relay of a testnet
 * lists its circuits' two neighbours in its status (`circuitNeighbours`, testnet only);
 * a poller walks back from each circuit whose next hop is the provider. A call's relays are
 * the union of every bridge→provider path seen while it ran (an over-approximation: the
 * bridge may hold more than one circuit to the provider), plus the relay a failed circuit
 * build names in its error (a circuit being built for the call is not visible at the relays
 * until it exists). A call none of whose relays was killed while it ran must succeed.
 *
 * Asserted: every call returns its correct result or an isError with readable text, within
 * its timeout; ≥ 90% succeed; calls whose relays all stayed up succeed; afterwards, every
 * nonce's count (peeked) is ≤ 1, and = 1 for every successful count call; the bridge and
 * the provider processes are still running. Prints calls / ok / errors / retries / kills.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { startTestnet, type Testnet } from '../src/node/testnet.ts'
import { controlRequest } from '../src/node/control.ts'
import { BIN, ROOT, tempDir, type TempDir } from './cli/helpers.ts'

const NODE = process.execPath
const RELAYS = 8
const CALLS = 200
const IN_FLIGHT = 4
const CALL_TIMEOUT_MS = 55_000
const homes: TempDir[] = []
const children: ChildProcess[] = []
let net: Testnet | undefined
let client: Client | undefined
let transport: StdioClientTransport | undefined
let provider: ChildProcess | undefined
let providerErr = ''
let address = ''
let bootArgs: string[] = []

const cleanEnv = (home: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) env[k] = v
  return { ...env, VEIL_HOME: home }
}
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const alive = (pid: number | null | undefined): boolean => {
  if (pid === undefined || pid === null) return false
  try { process.kill(pid, 0); return true } catch { return false }
}
async function until<T> (f: () => T | undefined | Promise<T | undefined>, ms: number, what: () => string): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`)
    await sleep(200)
  }
}

type Result = { content?: Array<{ type: string, text?: string }>, isError?: boolean, structuredContent?: Record<string, unknown>, _meta?: Record<string, unknown> }
const text = (r: Result): string => (r.content ?? []).map(c => c.text ?? '').join('')

beforeAll(async () => {
  for (let i = 0; i < 3; i++) homes.push(await tempDir('veil-chaos-'))
  // fixed ports, so a restarted relay is where its descriptor says it is
  const basePort = 20_000 + Math.floor(Math.random() * 20_000)
  net = await startTestnet({ home: homes[0].path, nodes: RELAYS, basePort })
  bootArgs = [...net.info.relays.flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
  provider = spawn(NODE, [BIN, 'provide', ...bootArgs, '--calls-per-minute', '100000', '--max-concurrent', '64', '--stdio', '--', NODE, 'examples/tools-server.ts'],
    { cwd: ROOT, env: cleanEnv(homes[1].path), stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(provider)
  let out = ''
  provider.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  provider.stderr?.setEncoding('utf8').on('data', (d: string) => { providerErr = (providerErr + d).slice(-4000) })
  address = await until(() => out.includes('\n') ? out.split('\n')[0] : undefined, 60_000, () => `the provider's address (${providerErr.slice(-300)})`)
  transport = new StdioClientTransport({ command: NODE, args: [BIN, 'bridge', '--stdio', '--provider', `${address}=ex`, '--profile', 'fast', ...bootArgs], cwd: ROOT, env: cleanEnv(homes[2].path), stderr: 'ignore' })
  client = new Client({ name: 'chaos', version: '1.0.0' })
  await client.connect(transport)
  await until(async () => (await client?.listTools())?.tools.some(t => t.name === 'ex_count') === true ? true : undefined, 60_000, () => 'the provider\'s catalogue through the bridge')
}, 180_000)

afterAll(async () => {
  await client?.close().catch(() => {})
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  await net?.stop()
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const h of homes) await h.remove()
}, 60_000)

interface CallRecord {
  i: number
  tool: 'count' | 'echo'
  nonce: string
  start: number
  end: number
  ok: boolean
  error?: string
  attempts: number
  relays: Set<number>
}

describe('chaos: relays killed and restarted during 200 calls through the bridge', () => {
  it('every call: its result or a clear error; ≥ 90% ok; nothing runs twice; bridge and provider survive', async () => {
    const testnet = net as Testnet
    const c = client as Client
    const peerIndex = new Map(testnet.info.relays.map(r => [r.peerId, r.index]))
    const down = new Set<number>()
    /** relay index → kill times (SIGKILL sent) and restart times. */
    const downIntervals: Array<{ relay: number, from: number, to: number }> = []
    let stopped = false

    // ── path poller: bridge→provider paths, as relay indices ──
    let currentPaths: number[][] = []
    const storers = new Set<number>()
    const poll = async (): Promise<void> => {
      const neigh = new Map<number, Array<{ prev: string, next?: string }>>()
      await Promise.all(testnet.info.relays.map(async (r) => {
        if (down.has(r.index)) return
        try {
          const st = await controlRequest(r.control, 'GET', '/status', 1_000) as { sections?: Record<string, unknown> }
          const n = st.sections?.circuitNeighbours
          if (Array.isArray(n)) neigh.set(r.index, n as Array<{ prev: string, next?: string }>)
          const reg = st.sections?.registry as { records?: Record<string, number>, counters?: { records?: Record<string, number> } } | undefined
          const records = Object.values(reg?.records ?? reg?.counters?.records ?? {}).reduce((a, b) => a + b, 0)
          if (records > 0) storers.add(r.index); else storers.delete(r.index)
        } catch { /* down or slow */ }
      }))
      const paths: number[][] = []
      for (const [i, list] of neigh) {
        for (const circ of list) {
          // a circuit leaving the testnet: its next hop is the provider (the only non-relay circuits end at)
          if (circ.next === undefined || peerIndex.has(circ.next)) continue
          const path = [i]
          let prev = circ.prev
          for (let guard = 0; guard < 8 && peerIndex.has(prev); guard++) {
            const j = peerIndex.get(prev) as number
            path.unshift(j)
            const here = path[1]
            const up = (neigh.get(j) ?? []).find(x => x.next === testnet.info.relays[here].peerId)
            if (up === undefined) break
            prev = up.prev
          }
          paths.push(path)
        }
      }
      currentPaths = paths
    }
    const poller = (async () => { while (!stopped) { await poll(); await sleep(250) } })()

    // ── calls ──
    const records: CallRecord[] = []
    const inFlight = new Set<CallRecord>()
    const runId = Math.random().toString(36).slice(2, 8)
    const recorder = setInterval(() => {
      for (const r of inFlight) for (const p of currentPaths) for (const j of p) r.relays.add(j)
    }, 100)
    const callOne = async (i: number): Promise<void> => {
      const tool = i % 5 === 4 ? 'echo' : 'count'
      const nonce = `chaos-${runId}-${i}`
      const rec: CallRecord = { i, tool, nonce, start: Date.now(), end: 0, ok: false, attempts: 1, relays: new Set() }
      for (const p of currentPaths) for (const j of p) rec.relays.add(j)
      inFlight.add(rec)
      records.push(rec)
      try {
        const r = await c.callTool({ name: `ex_${tool}`, arguments: tool === 'echo' ? { text: nonce } : { nonce } }, undefined, { timeout: CALL_TIMEOUT_MS }) as Result
        const meta = r._meta?.['net.veil/tool'] as { attempts?: number } | undefined
        rec.attempts = meta?.attempts ?? 1
        if (r.isError === true) {
          rec.error = text(r)
          // a circuit that failed to build names the relay it could not reach: that circuit used it
          for (const m of rec.error.matchAll(/127\.(\d+)\.0\.1/g)) rec.relays.add(Number(m[1]) - 1)
        } else if (tool === 'echo') {
          rec.ok = text(r) === nonce
          if (!rec.ok) rec.error = `wrong echo: ${text(r).slice(0, 100)}`
        } else {
          const sc = r.structuredContent as { nonce?: string, executions?: number } | undefined
          rec.ok = sc?.nonce === nonce && sc.executions === 1
          if (!rec.ok) rec.error = `wrong count result: ${JSON.stringify(sc)}`
        }
      } catch (err) {
        rec.error = `client error: ${err instanceof Error ? err.message : String(err)}`
      } finally {
        rec.end = Date.now()
        inFlight.delete(rec)
      }
    }

    // ── chaos ──
    let kills = 0
    const killLog: string[] = []
    const chaos = (async () => {
      await sleep(1_500)
      let round = 0
      while (!stopped) {
        const kind = (['middle', 'storer', 'random'] as const)[round++ % 3]
        const up = testnet.info.relays.map(r => r.index).filter(j => !down.has(j))
        let pick: number | undefined
        if (kind === 'middle') {
          const mids = currentPaths.filter(p => p.length >= 2).map(p => p[p.length - 1]).filter(j => !down.has(j))
          pick = mids[Math.floor(Math.random() * mids.length)]
        } else if (kind === 'storer') {
          const s = [...storers].filter(j => !down.has(j))
          pick = s[Math.floor(Math.random() * s.length)]
        }
        pick ??= up[Math.floor(Math.random() * up.length)]
        if (pick !== undefined && down.size < 2) {
          const j = pick
          down.add(j)
          const from = Date.now()
          await testnet.kill(j, true)
          kills++
          killLog.push(`${kind}:${j}`)
          void (async () => {
            await sleep(1_000 + Math.random() * 2_000)
            try { await testnet.restart(j) } catch (err) { killLog.push(`restart ${j} failed: ${String(err)}`) }
            downIntervals.push({ relay: j, from, to: Date.now() })
            down.delete(j)
          })()
        }
        await sleep(4_000 + Math.random() * 2_000)
      }
    })()

    const t0 = Date.now()
    let next = 0
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < CALLS) {
        const i = next++
        await callOne(i)
        await sleep(800 + Math.random() * 400)
      }
    }))
    const elapsed = Date.now() - t0
    stopped = true
    clearInterval(recorder)
    await chaos
    await poller
    // every relay back before the checks
    await until(() => down.size === 0 ? true : undefined, 10_000, () => 'the last restart')

    // ── checks ──
    const ok = records.filter(r => r.ok).length
    const errors = records.filter(r => !r.ok)
    const retries = records.reduce((n, r) => n + (r.attempts - 1), 0)
    console.log(`chaos: calls ${records.length} / ok ${ok} / errors ${errors.length} / retries ${retries} / kills ${kills} in ${(elapsed / 1000).toFixed(1)} s; kills: ${killLog.join(' ')}`)
    for (const e of errors.slice(0, 20)) console.log(`  error #${e.i} ${e.tool} (${e.end - e.start} ms, relays ${[...e.relays].join(',')}): ${e.error?.slice(0, 200)}`)

    expect(records.length).toBe(CALLS)
    expect(kills).toBeGreaterThanOrEqual(5)
    for (const r of records) {
      // within its timeout (the bridge's own timeout is 50 s)
      expect(r.end - r.start, `call ${r.i}`).toBeLessThan(CALL_TIMEOUT_MS)
      // a clear error: the bridge's readable isError text, never a client-side failure
      if (!r.ok) expect(r.error, `call ${r.i}`).toMatch(/^Veil: ex_(count|echo) /)
    }
    expect(ok / CALLS).toBeGreaterThanOrEqual(0.9)
    // calls none of whose observed relays was killed while they ran succeeded
    const lostRelay = (r: CallRecord): boolean => downIntervals.some(d => r.relays.has(d.relay) && d.from <= r.end && d.to >= r.start)
    const observed = records.filter(r => r.relays.size > 0)
    const untouched = observed.filter(r => !lostRelay(r))
    console.log(`chaos: circuit path observed for ${observed.length}/${CALLS} calls; ${untouched.length} lost no relay, of which ${untouched.filter(r => r.ok).length} ok`)
    for (const r of untouched) expect(r.ok, `call ${r.i} lost no relay but failed: ${r.error}`).toBe(true)

    // no non-idempotent call ran twice; every success ran exactly once
    for (const r of records.filter(x => x.tool === 'count')) {
      const peek = await c.callTool({ name: 'ex_count', arguments: { nonce: r.nonce, peek: true } }, undefined, { timeout: CALL_TIMEOUT_MS }) as Result
      const n = (peek.structuredContent as { executions?: number } | undefined)?.executions
      expect(n, `nonce ${r.nonce}: ${text(peek).slice(0, 200)}`).toBeTypeOf('number')
      expect(n as number, `nonce ${r.nonce}`).toBeLessThanOrEqual(1)
      if (r.ok) expect(n, `nonce ${r.nonce}`).toBe(1)
    }
    // every relay reports its limits and what they refused (`veil status`)
    const st = await testnet.status(0)
    expect(st.sections.circuits).toMatchObject({ limits: { createsPerSecond: expect.any(Number), createsPerSecondPerLink: expect.any(Number), streamsPerCircuit: expect.any(Number) }, limitSettings: { createsPerSecond: expect.any(Number) } })
    expect(st.sections.links).toMatchObject({ limits: { maxQueuedCells: expect.any(Number) }, cellsDropped: expect.any(Number) })
    // the bridge and the provider keep running
    expect(alive(transport?.pid), 'the bridge process').toBe(true)
    expect(alive(provider?.pid) && provider?.exitCode === null, `the provider process (${providerErr.slice(-300)})`).toBe(true)
  }, 360_000)
})
