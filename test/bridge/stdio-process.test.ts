/**
 * The bridge as a spawned process on stdio (test/bridge/fixtures/run-bridge.ts: startBridge +
 * localToolNetwork + a Provider wrapping a spawned examples/tools-server.ts), driven by
 * (a) the 1.x SDK Client (2025-11-25) and (b) the v2 Client pinned to 2026-07-28.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js'
import { Client as ClientV2 } from '@modelcontextprotocol/client'
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio'
import { acceptTool } from '../../src/bridge/index.ts'
import { EXAMPLE_CALLS, comparable, tempDir, textOf, waitFor } from './helpers.ts'

const NODE = process.execPath
const FIXTURE = 'test/bridge/fixtures/run-bridge.ts'
const TOOLS_SERVER = 'examples/tools-server.ts'
const TAG = 'ex'

type Result = Record<string, unknown>
interface AnyClient {
  readonly era: string
  version: () => string | undefined
  tools: () => Promise<Array<{ name: string, description?: string }>>
  call: (name: string, args: Record<string, unknown>, opts?: { onprogress?: (p: { progress: number }) => void, signal?: AbortSignal }) => Promise<Result>
  close: () => Promise<void>
}

async function v1 (args: string[], onChanged?: () => void): Promise<AnyClient> {
  let negotiated: string | undefined
  const transport = new StdioV1({ command: NODE, args, stderr: 'ignore' })
  ;(transport as unknown as { setProtocolVersion: (v: string) => void }).setProtocolVersion = (v) => { negotiated = v }
  const client = new ClientV1({ name: 'v1-client', version: '1.0.0' }, onChanged === undefined ? {} : { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged } } })
  await client.connect(transport)
  return {
    era: '2025-11-25',
    version: () => negotiated,
    tools: async () => (await client.listTools()).tools,
    call: async (name, a, o) => await client.callTool({ name, arguments: a }, undefined, o) as Result,
    close: async () => { await client.close() }
  }
}

async function v2 (args: string[], onChanged?: () => void): Promise<AnyClient> {
  const client = new ClientV2({ name: 'v2-client', version: '1.0.0' }, {
    versionNegotiation: { mode: { pin: '2026-07-28' } },
    ...(onChanged !== undefined && { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged } } })
  })
  await client.connect(new StdioV2({ command: NODE, args, stderr: 'ignore' }))
  return {
    era: '2026-07-28',
    version: () => client.getNegotiatedProtocolVersion(),
    tools: async () => (await client.listTools(undefined, { cacheMode: 'refresh' })).tools,
    call: async (name, a, o) => await client.callTool({ name, arguments: a }, o) as Result,
    close: async () => { await client.close() }
  }
}

const makers = [['1.x SDK client (2025-11-25)', v1], ['v2 client pinned to 2026-07-28', v2]] as const

for (const [label, make] of makers) {
  describe(`spawned bridge on stdio, ${label}`, () => {
    const dir = tempDir()
    const trigger = join(dir.path, 'trigger')
    let changed = 0
    let bridge: AnyClient
    let direct: AnyClient
    beforeAll(async () => {
      ;[bridge, direct] = await Promise.all([
        make([FIXTURE, '--data-dir', dir.path, '--trigger', trigger], () => { changed++ }),
        make([TOOLS_SERVER])
      ])
      await waitFor(async () => (await bridge.tools()).some((t) => t.name === `${TAG}_echo`), 10_000, 'catalogue from the provider')
    })
    afterAll(async () => {
      await Promise.allSettled([bridge?.close(), direct?.close()])
      dir.cleanup()
    })

    it('negotiates the expected revision and lists the catalogue', async () => {
      expect(bridge.version()).toBe(bridge.era)
      const names = (await bridge.tools()).map((t) => t.name)
      for (const [tool] of EXAMPLE_CALLS) expect(names).toContain(`${TAG}_${tool}`)
      expect(names.slice(0, 4)).toEqual(['veil_search_tools', 'veil_add_tool', 'veil_remove_tool', 'veil_status'])
    })

    it('results equal calling the wrapped server directly, for every example tool', async () => {
      await direct.tools()
      for (const [tool, args] of EXAMPLE_CALLS) {
        const want = await direct.call(tool, args)
        const got = await bridge.call(`${TAG}_${tool}`, args)
        expect(comparable(got), tool).toEqual(comparable(want))
      }
    })

    it('a failing tool returns isError with its text', async () => {
      const r = await bridge.call(`${TAG}_fail`, { reason: 'on purpose' })
      expect(r.isError).toBe(true)
      expect(textOf(r)).toBe('failed on purpose: on purpose')
    })

    it('relays progress', async () => {
      const seen: number[] = []
      const r = await bridge.call(`${TAG}_slow`, { steps: 3, delayMs: 10 }, { onprogress: (p) => { seen.push(p.progress) } })
      expect(textOf(r)).toBe('done after 3 steps')
      expect(seen).toEqual([1, 2, 3])
    })

    it('carries cancellation to the wrapped server', async () => {
      const nonce = `cancel-${bridge.era}`
      const abort = new AbortController()
      const call = bridge.call(`${TAG}_slow`, { steps: 200, delayMs: 50, nonce }, { signal: abort.signal })
      setTimeout(() => { abort.abort() }, 300)
      await expect(call).rejects.toThrow()
      await waitFor(async () => (await bridge.call(`${TAG}_count`, { nonce, peek: true })).structuredContent !== undefined &&
        ((await bridge.call(`${TAG}_count`, { nonce, peek: true })).structuredContent as { cancelled: boolean }).cancelled, 5000, 'cancellation seen by the wrapped server')
    })

    it('sends list_changed when the provider gains a tool', async () => {
      const before = changed
      expect((await bridge.tools()).map((t) => t.name)).not.toContain(`${TAG}_late_tool`)
      writeFileSync(trigger, 'go')
      await waitFor(() => changed > before, 10_000, 'list_changed')
      expect((await bridge.tools()).map((t) => t.name)).toContain(`${TAG}_late_tool`)
    })
  })
}

describe('spawned bridge: consent and start-up', () => {
  it('holds a tool whose fingerprint changed; the model cannot accept it; the user can out of band', async () => {
    const dir = tempDir()
    try {
      mkdirSync(join(dir.path, 'bridge'), { recursive: true })
      // as if the user had accepted an older definition of echo
      writeFileSync(join(dir.path, 'bridge', 'pins.json'), JSON.stringify({ format: 1, tools: { 'example-provider/echo': { state: 'accepted', fingerprint: 'sha256:' + '0'.repeat(64) } } }))
      let changed = 0
      const client = await v2([FIXTURE, '--data-dir', dir.path], () => { changed++ })
      try {
        await waitFor(async () => (await client.tools()).some((t) => t.name === `${TAG}_echo`), 10_000, 'catalogue')
        expect((await client.tools()).find((t) => t.name === `${TAG}_echo`)?.description).toMatch(/^\[HELD/)
        const held = await client.call(`${TAG}_echo`, { text: 'x' })
        expect(held.isError).toBe(true)
        expect(textOf(held)).toMatch(/HELD/)
        await client.call('veil_add_tool', { address: 'example-provider', tool: 'echo' })
        await client.call('veil_remove_tool', { tool: `${TAG}_echo` })
        await client.call('veil_add_tool', { address: 'example-provider', tool: 'echo' })
        expect((await client.call(`${TAG}_echo`, { text: 'x' })).isError).toBe(true)
        await waitFor(() => existsSync(join(dir.path, 'bridge', 'catalogue.json')), 5000, 'catalogue cache')
        const before = changed
        acceptTool(dir.path, `${TAG}_echo`) // what `veil tools accept ex_echo` does, from another process
        await waitFor(() => changed > before, 5000, 'list_changed after accept')
        expect(textOf(await client.call(`${TAG}_echo`, { text: 'accepted' }))).toBe('accepted')
      } finally { await client.close() }
    } finally { dir.cleanup() }
  })

  it('answers initialize and tools/list within 1 s of start with no network, from the cached catalogue', async () => {
    const dir = tempDir()
    try {
      mkdirSync(join(dir.path, 'bridge'), { recursive: true })
      writeFileSync(join(dir.path, 'bridge', 'catalogue.json'), JSON.stringify({
        format: 1,
        providers: { 'example-provider': { fetchedAt: '2025-01-01T00:00:00.000Z', tools: [{ name: 'cached_tool', description: 'from the cache', inputSchema: { type: 'object' }, version: '1.0.0' }] } },
        names: {}
      }))
      const child = spawn(NODE, [FIXTURE, '--data-dir', dir.path, '--no-network'], { stdio: ['pipe', 'pipe', 'pipe'] })
      const started = performance.now()
      let out = ''
      let stderr = ''
      let begun = 0
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (begun === 0 && stderr.includes('run-bridge: started')) begun = performance.now() })
      const answered = new Promise<{ list: { result: { tools: Array<{ name: string }> } }, ms: number, fromBegin: number }>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          const lines = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { id?: number })
          const list = lines.find((l) => l.id === 2)
          const now = performance.now()
          if (list !== undefined) resolve({ list: list as never, ms: now - started, fromBegin: now - begun })
        })
      })
      const send = (m: unknown): void => { child.stdin.write(JSON.stringify(m) + '\n') }
      send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })
      send({ jsonrpc: '2.0', method: 'notifications/initialized' })
      send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} })
      const { list, ms, fromBegin } = await answered
      child.kill()
      expect(list.result.tools.map((t) => t.name)).toContain(`${TAG}_cached_tool`)
      expect(out.split('\n').filter((l) => l.trim() !== '').every((l) => JSON.parse(l).jsonrpc === '2.0')).toBe(true)
      expect(stderr).toContain('serving')
      // From the bridge's start (modules loaded) within 1 s; from spawn (Node start-up and
      // module loading included, seconds on a busy machine) only logged and loosely bounded.
      console.log(`tools/list answered ${fromBegin.toFixed(0)} ms after the bridge began, ${ms.toFixed(0)} ms after spawn`)
      expect(begun).toBeGreaterThan(0)
      expect(fromBegin).toBeLessThan(1000)
      expect(ms).toBeLessThan(10_000)
    } finally { dir.cleanup() }
  })
})
