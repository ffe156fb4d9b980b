/**
 * The commands as a user runs them, each its own process with its own VEIL_HOME, on a
 * local testnet: `veil testnet --nodes 6`, `veil provide --stdio -- node
 * examples/tools-server.ts` (a public-mode provider — hidden providers are not built yet;
 * its address read from stdout) and four bridges:
 *
 *   spawned `veil bridge --stdio` ← the 1.x SDK Client (2025-11-25)
 *   spawned `veil bridge --stdio` ← the v2 client pinned to 2026-07-28
 *   spawned `veil bridge --http`  ← the 1.x SDK Client (2025-11-25; Veil's legacy sessions)
 *   spawned `veil bridge --http`  ← the v2 client pinned to 2026-07-28
 *
 * Each is checked for: the negotiated revision, list, every example tool equal to calling
 * the wrapped server directly, a call that errors, progress, cancellation (the wrapped
 * server sees it: `count` peek), `list_changed` when the provider gains a tool, a vanished
 * provider (the `veil provide` process killed: a clear isError within the timeout), and a
 * changed definition after the provider restarts: held, no tool the model can call unholds
 * it, `veil tools accept` in a shell does. Then `veil call`'s JSON and exit codes, a bridge
 * with no reachable relay answering tools/list within 1 s from its cache, and one MCP
 * Inspector CLI run per era against a spawned `veil bridge --stdio`.
 * Everything is bounded in time and every process is killed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client'
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio'
import { readTestnetFile } from '../../src/node/testnet.ts'
import { EXAMPLE_CALLS, comparable } from '../bridge/helpers.ts'
import { BIN, ROOT, runVeil, tempDir, type TempDir } from './helpers.ts'

const NODE = process.execPath
const INSPECTOR = join(ROOT, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js')
const CHANGED_ECHO = 'Echo, version two: returns the given text unchanged.'
const homes: TempDir[] = []
const children: ChildProcess[] = []
let bootArgs: string[] = []
let address = ''
let providerProc: ReturnType<typeof start> | undefined
let trigger = ''

const cleanEnv = (home: string, extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) env[k] = v
  return { ...env, VEIL_HOME: home, ...extra }
}

function start (args: string[], home: string, extra: Record<string, string> = {}): { child: ChildProcess, stdout: () => string, stderr: () => string } {
  const child = spawn(NODE, [BIN, ...args], { cwd: ROOT, env: cleanEnv(home, extra), stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d })
  return { child, stdout: () => out, stderr: () => err }
}

async function until<T> (f: () => T | undefined | Promise<T | undefined>, ms: number, what: string | (() => string)): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function stop (c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return
  const exited = new Promise<void>(resolve => { c.once('exit', () => { resolve() }) })
  c.kill(signal)
  const t = setTimeout(() => { c.kill('SIGKILL') }, 10_000)
  await exited
  clearTimeout(t)
}

/** `veil provide` on homes[1] (same provider key, so the same address, every time). */
async function startProvider (extra: Record<string, string> = {}): Promise<string> {
  const p = start(['provide', ...bootArgs, '--stdio', '--', NODE, 'examples/tools-server.ts'], homes[1].path, { VEIL_EXAMPLE_TRIGGER_FILE: trigger, ...extra })
  providerProc = p
  return await until(() => p.stdout().includes('\n') ? p.stdout().split('\n')[0] : undefined, 60_000, () => `the provider's address (${p.stderr().slice(-300)})`)
}

beforeAll(async () => {
  for (let i = 0; i < 9; i++) homes.push(await tempDir('veil-bridge-cli-'))
  trigger = join(homes[1].path, 'late-tool-trigger')
  const testnet = start(['testnet', '--nodes', '6'], homes[0].path)
  const info = await until(async () => (await readTestnetFile(homes[0].path)).info, 60_000, () => `the testnet (${testnet.stderr().slice(-300)})`)
  bootArgs = [...info.relays.flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
  address = await startProvider()
  expect(providerProc?.stderr().split('\n')[0]).toMatch(/^veil: network: 6 bootstrap peers from --bootstrap/)
}, 150_000)

afterAll(async () => {
  await Promise.allSettled(clients.map(async c => { await c.close() }))
  await Promise.allSettled(children.map(async c => { await stop(c) }))
  for (const h of homes) await h.remove()
}, 60_000)

type Result = Record<string, unknown>
interface CallOptions { onprogress?: (p: { progress: number }) => void, signal?: AbortSignal }
interface AnyClient {
  readonly label: string
  readonly revision: string
  readonly home: string
  changed: number
  version: () => string | undefined
  tools: () => Promise<Array<{ name: string, description?: string }>>
  call: (name: string, args: Record<string, unknown>, o?: CallOptions) => Promise<Result>
  close: () => Promise<void>
}

const bridgeArgs = (mode: '--stdio' | '--http'): string[] => ['bridge', mode, '--provider', `${address}=ex`, '--profile', 'fast', ...bootArgs]

function v1Client (label: string, home: string): { c: AnyClient, client: ClientV1 } {
  const c: AnyClient = {
    label, revision: '2025-11-25', home, changed: 0,
    version: () => undefined,
    tools: async () => (await client.listTools()).tools,
    call: async (name, a, o) => await client.callTool({ name, arguments: a }, undefined, { ...o, timeout: 59_000 }) as Result,
    close: async () => { await client.close() }
  }
  const client = new ClientV1({ name: 'v1-client', version: '1.0.0' }, { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => { c.changed++ } } } })
  return { c, client }
}

function v2Client (label: string, home: string): { c: AnyClient, client: ClientV2 } {
  const c: AnyClient = {
    label, revision: '2026-07-28', home, changed: 0,
    version: () => client.getNegotiatedProtocolVersion(),
    tools: async () => (await client.listTools(undefined, { cacheMode: 'refresh' })).tools,
    call: async (name, a, o) => await client.callTool({ name, arguments: a }, { ...o, timeout: 59_000 }) as Result,
    close: async () => { await client.close() }
  }
  const client = new ClientV2({ name: 'v2-client', version: '1.0.0' }, {
    versionNegotiation: { mode: { pin: '2026-07-28' } },
    listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => { c.changed++ } } }
  })
  return { c, client }
}

async function stdioV1 (home: string): Promise<AnyClient> {
  let negotiated: string | undefined
  const transport = new StdioV1({ command: NODE, args: [BIN, ...bridgeArgs('--stdio')], cwd: ROOT, env: cleanEnv(home), stderr: 'ignore' })
  ;(transport as unknown as { setProtocolVersion: (v: string) => void }).setProtocolVersion = (v) => { negotiated = v }
  const { c, client } = v1Client('stdio, 1.x SDK client', home)
  await client.connect(transport)
  return { ...c, version: () => negotiated, get changed () { return c.changed }, set changed (n) { c.changed = n } }
}

async function stdioV2 (home: string): Promise<AnyClient> {
  const { c, client } = v2Client('stdio, v2 client', home)
  await client.connect(new StdioV2({ command: NODE, args: [BIN, ...bridgeArgs('--stdio')], cwd: ROOT, env: cleanEnv(home), stderr: 'ignore' }))
  return c
}

async function httpBridge (home: string): Promise<URL> {
  const b = start(bridgeArgs('--http'), home)
  return new URL(await until(() => b.stdout().includes('\n') ? b.stdout().split('\n')[0] : undefined, 30_000, () => `the HTTP bridge's URL (${b.stderr().slice(-300)})`))
}

async function httpV1 (home: string): Promise<AnyClient> {
  const transport = new HttpV1(await httpBridge(home))
  const { c, client } = v1Client('HTTP, 1.x SDK client', home)
  await client.connect(transport)
  return { ...c, version: () => transport.protocolVersion, get changed () { return c.changed }, set changed (n) { c.changed = n } }
}

async function httpV2 (home: string): Promise<AnyClient> {
  const { c, client } = v2Client('HTTP, v2 client', home)
  await client.connect(new HttpV2(await httpBridge(home)))
  return c
}

const text = (r: Result): string => (r.content as Array<{ type: string, text?: string }>).map(c => c.text ?? '').join('')
const clients: AnyClient[] = []
/** Runs `f` for every client at once; failures name the client. */
async function each (f: (c: AnyClient) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(clients.map(f))
  const failed = results.flatMap((r, i) => r.status === 'rejected' ? [`${clients[i].label}: ${r.reason instanceof Error ? r.reason.stack ?? r.reason.message : String(r.reason)}`] : [])
  if (failed.length > 0) throw new Error(failed.join('\n\n'))
}
const peekCancelled = async (c: AnyClient, nonce: string): Promise<boolean> =>
  ((await c.call('ex_count', { nonce, peek: true })).structuredContent as { cancelled?: boolean } | undefined)?.cancelled === true

describe('veil bridge --stdio and --http on a testnet, with a veil provide process (public mode)', { timeout: 60_000 }, () => {
  it('each era on each transport: the negotiated revision and the provider\'s catalogue', async () => {
    clients.push(...await Promise.all([stdioV1(homes[2].path), stdioV2(homes[3].path), httpV1(homes[4].path), httpV2(homes[5].path)]))
    await each(async (c) => {
      expect(c.version()).toBe(c.revision)
      await until(async () => (await c.tools()).some(t => t.name === 'ex_echo') ? true : undefined, 45_000, 'the provider\'s catalogue through the bridge')
      const names = (await c.tools()).map(t => t.name)
      for (const [tool] of EXAMPLE_CALLS) expect(names).toContain(`ex_${tool}`)
      expect(names).toContain('veil_status')
    })
  })

  it('every example tool\'s result equals the wrapped server\'s; a call that errors is isError', async () => {
    const direct = new ClientV2({ name: 'direct', version: '1' })
    await direct.connect(new StdioV2({ command: NODE, args: ['examples/tools-server.ts'], cwd: ROOT, stderr: 'ignore' }))
    try {
      const want = new Map<string, unknown>()
      for (const [tool, args] of EXAMPLE_CALLS) want.set(tool, comparable(await direct.callTool({ name: tool, arguments: args }) as Result))
      await each(async (c) => {
        for (const [tool, args] of EXAMPLE_CALLS) expect(comparable(await c.call(`ex_${tool}`, args)), tool).toEqual(want.get(tool))
        const echo = await c.call('ex_echo', { text: `hello from ${c.revision}` })
        expect(text(echo)).toBe(`hello from ${c.revision}`)
        const failed = await c.call('ex_fail', { reason: 'on purpose' })
        expect(failed.isError).toBe(true)
        expect(text(failed)).toBe('failed on purpose: on purpose')
      })
    } finally { await direct.close() }
  })

  it('progress is relayed; cancellation reaches the wrapped server', async () => {
    await each(async (c) => {
      const seen: number[] = []
      const r = await c.call('ex_slow', { steps: 3, delayMs: 20 }, { onprogress: (p) => { seen.push(p.progress) } })
      expect(text(r)).toBe('done after 3 steps')
      // Both SDK clients (1.x and 2.4) drop a progress notification that arrives in the same
      // read as the result (reproduced against examples/tools-server.ts with no Veil in
      // between; docs/bridge.md): the last step may be lost by the client, never reordered.
      expect(seen.length).toBeGreaterThanOrEqual(2)
      expect(seen).toEqual([1, 2, 3].slice(0, seen.length))

      const nonce = `cancel-${c.label}`
      const abort = new AbortController()
      let progressed = 0
      const call = c.call('ex_slow', { steps: 400, delayMs: 50, nonce }, { signal: abort.signal, onprogress: () => { if (++progressed === 2) abort.abort() } })
      await expect(call).rejects.toThrow()
      await until(async () => await peekCancelled(c, nonce) ? true : undefined, 10_000, 'the cancellation at the wrapped server')
    })
  })

  it('list_changed reaches every client when the provider gains a tool', async () => {
    await each(async (c) => { expect((await c.tools()).map(t => t.name)).not.toContain('ex_late_tool') })
    const before = clients.map(c => c.changed)
    writeFileSync(trigger, 'now')
    await each(async (c) => {
      const i = clients.indexOf(c)
      await until(() => c.changed > before[i] ? true : undefined, 40_000, 'notifications/tools/list_changed')
      expect((await c.tools()).map(t => t.name)).toContain('ex_late_tool')
      expect(text(await c.call('ex_late_tool', {}))).toBe('late but here')
    })
  })

  it('a vanished provider (veil provide killed): a clear isError within the timeout, for every client', async () => {
    await stop(providerProc?.child as ChildProcess, 'SIGKILL')
    await each(async (c) => {
      const t0 = Date.now()
      const r = await c.call('ex_echo', { text: 'anyone there?' })
      expect(r.isError).toBe(true)
      expect(text(r)).toMatch(/^Veil: ex_echo (failed \((unreachable|circuit-failed|timeout)\)|did not answer|was not called)/)
      expect(Date.now() - t0).toBeLessThan(50_000)
    })
  })

  it('the provider comes back with a changed echo: held for every client; no model-callable tool unholds it; veil tools accept does', async () => {
    const again = await startProvider({ VEIL_EXAMPLE_ECHO_DESCRIPTION: CHANGED_ECHO })
    expect(again).toBe(address)
    await each(async (c) => {
      // the bridge notices through its own re-read, or at the latest when the tool is called
      await until(async () => {
        const r = await c.call('ex_echo', { text: 'x' })
        return text(r).includes('is HELD') ? r : undefined
      }, 50_000, 'echo held after the definition changed')
      const listed = (await c.tools()).find(t => t.name === 'ex_echo')
      expect(listed?.description).toMatch(/^\[HELD/)
      expect(listed?.description).toContain(CHANGED_ECHO)
      // an unchanged tool of the same provider still works
      expect(text(await c.call('ex_unicode', {}))).toMatch(/Grüße/)
      // everything the model can do leaves it uncallable
      await c.call('veil_add_tool', { address, tool: 'echo' })
      expect((await c.call('ex_echo', { text: 'x' })).isError).toBe(true)
      await c.call('veil_remove_tool', { tool: 'ex_echo' })
      const added = await c.call('veil_add_tool', { address, tool: 'echo' })
      expect(text(added)).toMatch(/PENDING/)
      const pending = await c.call('ex_echo', { text: 'x' })
      expect(pending.isError).toBe(true)
      expect(text(pending)).toMatch(/PENDING|HELD/)
      const status = await c.call('veil_status', {})
      expect(JSON.stringify(status.structuredContent)).toMatch(/ex_echo/)
      // the user, in a shell
      const before = c.changed
      const accepted = await runVeil(['tools', 'accept', 'ex_echo'], { VEIL_HOME: c.home }, 20_000)
      expect(accepted.code, accepted.stderr).toBe(0)
      await until(() => c.changed > before ? true : undefined, 10_000, 'list_changed after veil tools accept')
      expect(text(await c.call('ex_echo', { text: 'accepted' }))).toBe('accepted')
    })
  }, 120_000)

  it('veil call: JSON on stdout and the documented exit codes', async () => {
    const env = { VEIL_HOME: homes[6].path }
    const ok = await runVeil(['call', `${address}/echo`, '--args', '{"text":"héllo"}', ...bootArgs], env, 45_000)
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stderr.split('\n')[0]).toMatch(/^veil: network: /)
    expect(JSON.parse(ok.stdout)).toEqual({ content: [{ type: 'text', text: 'héllo' }] })
    const [failed, unknown, badArgs, noNetwork] = await Promise.all([
      runVeil(['call', `${address}/fail`, '--args', '{"reason":"x"}', ...bootArgs], env, 45_000),
      runVeil(['call', `${address}/no_such_tool`, ...bootArgs], { VEIL_HOME: homes[7].path }, 45_000),
      runVeil(['call', `${address}/echo`, '--args', 'not json', ...bootArgs], env, 45_000),
      runVeil(['call', `${address}/echo`], { VEIL_HOME: homes[8].path }, 20_000)
    ])
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout).isError).toBe(true)
    expect(unknown.code).toBe(4)
    expect(unknown.stdout).toBe('')
    expect(badArgs.code).toBe(2)
    expect(noNetwork.code).toBe(3)
    expect(noNetwork.stderr).toMatch(/^veil: no bootstrap peers/)
    // TOOL@RANGE: the signed version must satisfy the range
    const [inRange, outOfRange, badRange] = await Promise.all([
      runVeil(['call', `${address}/echo@*`, '--args', '{"text":"r"}', ...bootArgs], env, 45_000),
      runVeil(['call', `${address}/echo@^999.0.0`, '--args', '{"text":"r"}', ...bootArgs], env, 45_000),
      runVeil(['call', `${address}/echo@not a range`, ...bootArgs], env, 45_000)
    ])
    expect(inRange.code, inRange.stderr).toBe(0)
    expect(JSON.parse(inRange.stdout)).toEqual({ content: [{ type: 'text', text: 'r' }] })
    expect(outOfRange.code).toBe(4)
    expect(outOfRange.stderr).toMatch(/does not satisfy \^999\.0\.0/)
    expect(badRange.code).toBe(2)
  })

  it('veil tools search: listed tools by keyword through the index, one per line; exit 4 when none; 2 without words', async () => {
    const env = { VEIL_HOME: homes[6].path }
    const [found, json, none, noWords] = await Promise.all([
      runVeil(['tools', 'search', 'echo', ...bootArgs], env, 45_000),
      runVeil(['tools', 'search', 'ECHO slow', '--json', ...bootArgs], env, 45_000),
      runVeil(['tools', 'search', 'no-such-keyword-anywhere', ...bootArgs], env, 45_000),
      runVeil(['tools', 'search'], env, 20_000)
    ])
    expect(found.code, found.stderr).toBe(0)
    expect(found.stdout.split('\n')[0]).toMatch(new RegExp(`^${address}/echo@\\S+`))
    expect(json.code, json.stderr).toBe(0)
    const hits = JSON.parse(json.stdout) as Array<{ address: string, name: string, verified: boolean }>
    expect(hits.map(h => h.name).sort()).toEqual(['echo', 'slow'])
    expect(hits.every(h => h.address === address && h.verified)).toBe(true)
    expect(none.code).toBe(4)
    expect(none.stdout).toBe('')
    expect(noWords.code).toBe(2)
    expect(noWords.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('a bridge with no reachable relay answers tools/list within 1 s, from its cached catalogue', async () => {
    const home = homes[7].path
    mkdirSync(join(home, 'bridge'), { recursive: true })
    for (const f of ['catalogue.json', 'pins.json']) copyFileSync(join(homes[2].path, 'bridge', f), join(home, 'bridge', f))
    // a real relay's address on a port nobody listens on
    const bogus = bootArgs[1].replace(/\/tcp\/\d+\//, '/tcp/9/')
    const child = spawn(NODE, [BIN, 'bridge', '--stdio', '--provider', `${address}=ex`, '--bootstrap', bogus, '--testnet'], { cwd: ROOT, env: cleanEnv(home), stdio: ['pipe', 'pipe', 'pipe'] })
    children.push(child)
    const spawned = performance.now()
    let out = ''
    let err = ''
    let begun = 0
    // the first stderr line (the network) is written as `veil bridge` begins, once Node has
    // loaded the CLI's modules
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; if (begun === 0 && err.includes('veil: ')) begun = performance.now() })
    const answered = new Promise<{ tools: Array<{ name: string }>, at: number }>((resolve, reject) => {
      child.once('exit', (code) => { reject(new Error(`the bridge exited (${code}) before answering: ${err.slice(-500)}`)) })
      setTimeout(() => { reject(new Error(`no tools/list answer within 10 s: ${err.slice(-500)}`)) }, 10_000).unref()
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d
        const list = out.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as { id?: number, result?: { tools: Array<{ name: string }> } }).find(l => l.id === 2)
        if (list?.result !== undefined) resolve({ tools: list.result.tools, at: performance.now() })
      })
    })
    const send = (m: unknown): void => { child.stdin.write(JSON.stringify(m) + '\n') }
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
    send({ jsonrpc: '2.0', method: 'notifications/initialized' })
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })
    const { tools, at } = await answered
    // SIGKILL: with no relay reachable, the consumer node's directory loop (src/node/client.ts)
    // keeps the process alive for up to a minute after a SIGTERM
    await stop(child, 'SIGKILL')
    expect(tools.map(t => t.name)).toContain('ex_echo')
    expect(tools.map(t => t.name)).toContain('ex_late_tool')
    const fromSpawn = at - spawned
    const fromBegin = at - begun
    console.log(`no relay reachable: tools/list answered ${fromBegin.toFixed(0)} ms after 'veil bridge' began, ${fromSpawn.toFixed(0)} ms after spawn (Node start-up and the CLI's module loading included)`)
    expect(begun).toBeGreaterThan(0)
    expect(fromBegin).toBeLessThan(1000)
    // from spawn, Node start-up and loading every command's modules dominate (~1 s idle on
    // 2 cores, several seconds when the machine is busy): logged above, bounded loosely
    expect(fromSpawn).toBeLessThan(10_000)
  })

  it('MCP Inspector CLI, one run per era, against a spawned veil bridge --stdio', async () => {
    expect(existsSync(INSPECTOR)).toBe(true)
    const runs = (['legacy', 'modern'] as const).map(async (era) => {
      // a copy of a bridge data dir whose user accepted the changed echo
      const home = join(homes[8].path, `bridge-${era}`)
      mkdirSync(join(home, 'bridge'), { recursive: true })
      for (const f of ['catalogue.json', 'pins.json']) copyFileSync(join(homes[2].path, 'bridge', f), join(home, 'bridge', f))
      const inspectorHome = join(homes[8].path, `inspector-${era}`)
      mkdirSync(inspectorHome, { recursive: true })
      const child = spawn(NODE, [
        INSPECTOR, '--cli', '--protocol-era', era, '--format', 'json', '-e', `VEIL_HOME=${home}`,
        NODE, BIN, ...bridgeArgs('--stdio'),
        '--method', 'tools/call', '--tool-name', 'ex_echo', '--tool-arg', `text=inspected ${era}`
      ], { cwd: ROOT, env: { ...cleanEnv(home), HOME: inspectorHome, MCP_CATALOG_PATH: join(inspectorHome, 'mcp.json'), MCP_CLIENT_CONFIG_PATH: join(inspectorHome, 'client.json') }, stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(child)
      let out = ''
      let err = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
      child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d })
      const code = await new Promise<number | null>((resolve) => { child.on('exit', (c) => { resolve(c) }) })
      return { era, code, out, err }
    })
    for (const r of await Promise.all(runs)) {
      expect(r.code, `${r.era}: ${r.err.slice(-500)}`).toBe(0)
      const result = (JSON.parse(r.out) as { result: Result & { _meta?: Record<string, unknown> } }).result
      expect(result.isError ?? false).toBe(false)
      expect(text(result)).toBe(`inspected ${r.era}`)
      // a 2026-07-28 result carries the server's identity in _meta; a 2025-era one does not
      if (r.era === 'modern') expect(result._meta?.['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'veil-bridge' })
      else expect(result._meta?.['io.modelcontextprotocol/serverInfo']).toBeUndefined()
    }
  })
})
