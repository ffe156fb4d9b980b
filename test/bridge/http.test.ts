import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request as httpRequest } from 'node:http'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { serveBridgeHttp, type HttpServedHandle } from '../../src/bridge/index.ts'
import { TAG, startRig, textOf, waitFor, type Rig } from './helpers.ts'

const TOKEN = 'test-token-0123456789'

/** A raw POST with a chosen Host header (fetch() does not let us set Host). */
async function rawPost (port: number, headers: Record<string, string>): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }))
  })
}

describe('bridge over Streamable HTTP on 127.0.0.1', () => {
  let rig: Rig
  let http: HttpServedHandle
  beforeAll(async () => {
    rig = await startRig()
    http = await serveBridgeHttp(rig.bridge, { port: 0, token: TOKEN })
  })
  afterAll(async () => { await http.close(); await rig.close() })

  it('binds to loopback on an ephemeral port', () => {
    expect(http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    expect(http.port).toBeGreaterThan(0)
  })

  it('rejects a foreign Host (DNS rebinding) and a foreign Origin', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` }
    expect(await rawPost(http.port, { ...auth, host: 'evil.example:80' })).toBe(403)
    expect(await rawPost(http.port, { ...auth, host: `127.0.0.1:${http.port}`, origin: 'http://evil.example' })).toBe(403)
    expect(await rawPost(http.port, { ...auth, host: `localhost:${http.port}` })).toBe(200)
  })

  it('enforces the bearer token', async () => {
    expect(await rawPost(http.port, { host: `127.0.0.1:${http.port}` })).toBe(401)
    expect(await rawPost(http.port, { host: `127.0.0.1:${http.port}`, authorization: 'Bearer wrong' })).toBe(401)
  })

  it('a 2026-07-28 client lists, calls, gets progress and list_changed', async () => {
    let changed = 0
    const client = new Client({ name: 'http-2026', version: '1' }, {
      versionNegotiation: { mode: { pin: '2026-07-28' } },
      listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => { changed++ } } }
    })
    await client.connect(new StreamableHTTPClientTransport(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }))
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28')
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain(`${TAG}_weather`)
      const r = await client.callTool({ name: `${TAG}_weather`, arguments: { city: 'Oslo' } })
      expect((r.structuredContent as { city: string }).city).toBe('Oslo')
      const seen: number[] = []
      await client.callTool({ name: `${TAG}_slow`, arguments: { steps: 2, delayMs: 5 } }, { onprogress: (p) => { seen.push(p.progress) } })
      expect(seen).toEqual([1, 2])
      rig.example.servers.addLateTool()
      await waitFor(() => changed > 0, 5000, 'list_changed over subscriptions/listen')
      expect((await client.listTools(undefined, { cacheMode: 'refresh' })).tools.map((t) => t.name)).toContain(`${TAG}_late_tool`)
    } finally { await client.close() }
  })

  it('a 2025-era (1.x SDK) client gets a session: list, call, and list_changed on its GET stream', async () => {
    let changed = 0
    const client = new ClientV1({ name: 'http-2025', version: '1' }, { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => { changed++ } } } })
    const transport = new HttpV1(new URL(http.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } })
    await client.connect(transport)
    try {
      expect(transport.sessionId).toBeDefined()
      const r = await client.callTool({ name: `${TAG}_echo`, arguments: { text: 'over http' } })
      expect(textOf(r as Record<string, unknown>)).toBe('over http')
      await new Promise((resolve) => setTimeout(resolve, 200)) // let the GET stream open
      // make the catalogue change again: remove a tool via the meta tool
      await client.callTool({ name: 'veil_remove_tool', arguments: { tool: `${TAG}_image` } })
      await waitFor(() => changed > 0, 5000, 'list_changed on the legacy session stream')
    } finally { await client.close() }
  })
})
