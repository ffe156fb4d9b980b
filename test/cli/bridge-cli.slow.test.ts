/**
 * The commands as a user runs them, each its own process with its own VEIL_HOME:
 * `veil testnet --nodes 6`, `veil provide --stdio -- node examples/tools-server.ts`
 * (its address read from stdout), `veil bridge --stdio --provider ADDR` driven by the 1.x
 * SDK Client (2025 era) and by the v2 client pinned to 2026-07-28 — list, call, a call
 * that errors, the negotiated revision — and `veil call` with its JSON output and exit
 * codes. Everything is bounded in time and killed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js'
import { Client as ClientV2 } from '@modelcontextprotocol/client'
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio'
import { readTestnetFile } from '../../src/node/testnet.ts'
import { BIN, ROOT, runVeil, tempDir, type TempDir } from './helpers.ts'

const NODE = process.execPath
const homes: TempDir[] = []
const children: ChildProcess[] = []
let bootArgs: string[] = []
let address = ''

const cleanEnv = (home: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) env[k] = v
  return { ...env, VEIL_HOME: home }
}

function start (args: string[], home: string): { child: ChildProcess, stdout: () => string, stderr: () => string } {
  const child = spawn(NODE, [BIN, ...args], { cwd: ROOT, env: cleanEnv(home), stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d })
  return { child, stdout: () => out, stderr: () => err }
}

async function until<T> (f: () => T | undefined | Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function stopAll (): Promise<void> {
  await Promise.all(children.map(async c => {
    if (c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>(resolve => { c.once('exit', () => { resolve() }) })
    c.kill('SIGTERM')
    const t = setTimeout(() => { c.kill('SIGKILL') }, 10_000)
    await exited
    clearTimeout(t)
  }))
}

beforeAll(async () => {
  for (let i = 0; i < 4; i++) homes.push(await tempDir('veil-bridge-cli-'))
  const testnet = start(['testnet', '--nodes', '6'], homes[0].path)
  const info = await until(async () => (await readTestnetFile(homes[0].path)).info, 60_000, `the testnet (${testnet.stderr().slice(-300)})`)
  bootArgs = [...info.relays.flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
  const provider = start(['provide', ...bootArgs, '--stdio', '--', NODE, 'examples/tools-server.ts'], homes[1].path)
  address = await until(() => { const l = provider.stdout().split('\n')[0]; return provider.stdout().includes('\n') ? l : undefined }, 60_000, `the provider's address (${provider.stderr().slice(-300)})`)
  expect(provider.stderr().split('\n')[0]).toMatch(/^veil: network: 6 bootstrap peers from --bootstrap/)
}, 150_000)

afterAll(async () => {
  await stopAll()
  for (const h of homes) await h.remove()
}, 60_000)

type Result = Record<string, unknown>
interface AnyClient {
  version: () => string | undefined
  tools: () => Promise<Array<{ name: string }>>
  call: (name: string, args: Record<string, unknown>) => Promise<Result>
  close: () => Promise<void>
}

const bridgeArgs = (): string[] => [BIN, 'bridge', '--stdio', '--provider', `${address}=ex`, '--profile', 'fast', ...bootArgs]

async function v1 (home: string): Promise<AnyClient> {
  let negotiated: string | undefined
  const transport = new StdioV1({ command: NODE, args: bridgeArgs(), cwd: ROOT, env: cleanEnv(home), stderr: 'ignore' })
  ;(transport as unknown as { setProtocolVersion: (v: string) => void }).setProtocolVersion = (v) => { negotiated = v }
  const client = new ClientV1({ name: 'v1-client', version: '1.0.0' })
  await client.connect(transport)
  return {
    version: () => negotiated,
    tools: async () => (await client.listTools()).tools,
    call: async (name, a) => await client.callTool({ name, arguments: a }) as Result,
    close: async () => { await client.close() }
  }
}

async function v2 (home: string): Promise<AnyClient> {
  const client = new ClientV2({ name: 'v2-client', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await client.connect(new StdioV2({ command: NODE, args: bridgeArgs(), cwd: ROOT, env: cleanEnv(home), stderr: 'ignore' }))
  return {
    version: () => client.getNegotiatedProtocolVersion(),
    tools: async () => (await client.listTools(undefined, { cacheMode: 'refresh' })).tools,
    call: async (name, a) => await client.callTool({ name, arguments: a }) as Result,
    close: async () => { await client.close() }
  }
}

const text = (r: Result): string => (r.content as Array<{ type: string, text?: string }>).map(c => c.text ?? '').join('')

describe('veil bridge --stdio on a testnet, with a veil provide process', { timeout: 90_000 }, () => {
  const cases = [['1.x SDK client (2025-11-25)', v1, '2025-11-25', 2], ['v2 client pinned to 2026-07-28', v2, '2026-07-28', 3]] as const
  for (const [label, make, revision, home] of cases) {
    it(`${label}: negotiated revision, list, call, a call that errors`, async () => {
      const client = await make(homes[home].path)
      try {
        expect(client.version()).toBe(revision)
        await until(async () => (await client.tools()).some(t => t.name === 'ex_echo') ? true : undefined, 45_000, 'the provider\'s catalogue through the bridge')
        const names = (await client.tools()).map(t => t.name)
        for (const n of ['ex_echo', 'ex_weather', 'ex_fail', 'ex_unicode', 'veil_status']) expect(names).toContain(n)
        const echo = await client.call('ex_echo', { text: `hello from ${revision}` })
        expect(echo.isError ?? false).toBe(false)
        expect(text(echo)).toBe(`hello from ${revision}`)
        const weather = await client.call('ex_weather', { city: 'Zürich' })
        expect((weather.structuredContent as { city?: string }).city).toBe('Zürich')
        const failed = await client.call('ex_fail', { reason: 'on purpose' })
        expect(failed.isError).toBe(true)
        expect(text(failed)).toMatch(/failed on purpose: on purpose/)
      } finally {
        await client.close()
      }
    })
  }

  it('veil call: JSON on stdout and the documented exit codes', async () => {
    const env = { VEIL_HOME: homes[2].path }
    const ok = await runVeil(['call', `${address}/echo`, '--args', '{"text":"héllo"}', ...bootArgs], env, 45_000)
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stderr.split('\n')[0]).toMatch(/^veil: network: /)
    expect(JSON.parse(ok.stdout)).toEqual({ content: [{ type: 'text', text: 'héllo' }] })
    const failed = await runVeil(['call', `${address}/fail`, '--args', '{"reason":"x"}', ...bootArgs], env, 45_000)
    expect(failed.code).toBe(1)
    expect(JSON.parse(failed.stdout).isError).toBe(true)
    const unknown = await runVeil(['call', `${address}/no_such_tool`, ...bootArgs], env, 45_000)
    expect(unknown.code).toBe(4)
    expect(unknown.stdout).toBe('')
    const badArgs = await runVeil(['call', `${address}/echo`, '--args', 'not json', ...bootArgs], env, 45_000)
    expect(badArgs.code).toBe(2)
    const noNetwork = await runVeil(['call', `${address}/echo`], { VEIL_HOME: homes[2].path }, 20_000)
    expect(noNetwork.code).toBe(3)
    expect(noNetwork.stderr).toMatch(/^veil: no bootstrap peers/)
  })
})
