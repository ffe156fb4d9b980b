import { afterEach, describe, expect, it } from 'vitest'
import { EXPOSED_NAME_PATTERN, META_KEY, ToolNetworkError } from '../../src/bridge/index.ts'
import { ADDRESS, EXAMPLE_CALLS, ERAS, TAG, comparable, connectClient, startRig, textOf, waitFor, type Rig } from './helpers.ts'

let rig: Rig | undefined
afterEach(async () => { await rig?.close(); rig = undefined })

describe('bridge over in-memory transports', () => {
  for (const era of ERAS) {
    describe(`client era ${era}`, () => {
      it('negotiates the era, lists meta tools then the catalogue in a stable order with valid names and _meta', async () => {
        rig = await startRig()
        const client = await rig.client(era)
        expect(client.getNegotiatedProtocolVersion()).toBe(era === 'legacy' ? '2025-11-25' : '2026-07-28')
        const { tools } = await client.listTools()
        const names = tools.map((t) => t.name)
        expect(names.slice(0, 4)).toEqual(['veil_search_tools', 'veil_add_tool', 'veil_remove_tool', 'veil_status'])
        expect(names.slice(4)).toEqual([...names.slice(4)].sort())
        for (const name of names) expect(name).toMatch(EXPOSED_NAME_PATTERN)
        const weather = tools.find((t) => t.name === `${TAG}_weather`)
        expect(weather?.description).toMatch(/^\[Unverified provider ex via Veil/)
        expect(weather?.outputSchema).toBeDefined()
        const meta = weather?._meta?.[META_KEY] as Record<string, unknown>
        expect(meta.ref).toBe(`${ADDRESS}/weather@1.0.0`)
        expect(meta.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/)
        expect(meta.state).toBe('ready')
      })

      it('results equal calling the wrapped server directly, for every example tool', async () => {
        rig = await startRig()
        const client = await rig.client(era)
        const direct = await connectClient(rig.example.connect, era)
        const directTools = await direct.listTools()
        await client.listTools()
        for (const [name, args] of EXAMPLE_CALLS) {
          const want = await direct.callTool({ name, arguments: args })
          const got = await client.callTool({ name: `${TAG}_${name}`, arguments: args })
          expect(comparable(got), name).toEqual(comparable(want))
          // schemas pass through unchanged
          const remote = directTools.tools.find((t) => t.name === name)
          const exposed = (await client.listTools()).tools.find((t) => t.name === `${TAG}_${name}`)
          expect(exposed?.inputSchema).toEqual(remote?.inputSchema)
          expect(exposed?.outputSchema).toEqual(remote?.outputSchema)
        }
        await direct.close()
      })

      it('relays progress and carries cancellation to the wrapped server', async () => {
        rig = await startRig()
        const client = await rig.client(era)
        await client.listTools()
        const progress: number[] = []
        const done = await client.callTool({ name: `${TAG}_slow`, arguments: { steps: 3, delayMs: 5 } }, { onprogress: (p) => { progress.push(p.progress) } })
        expect(textOf(done)).toBe('done after 3 steps')
        expect(progress).toEqual([1, 2, 3])

        const abort = new AbortController()
        const nonce = `cancel-${era}`
        const call = client.callTool({ name: `${TAG}_slow`, arguments: { steps: 100, delayMs: 50, nonce } }, { signal: abort.signal })
        setTimeout(() => { abort.abort() }, 150)
        await expect(call).rejects.toThrow()
        await waitFor(() => rig?.example.servers.state.cancelled.has(nonce) === true, 3000, 'cancellation at the wrapped server')
      })

      it('sends list_changed when the provider gains a tool', async () => {
        rig = await startRig()
        let changed = 0
        const client = await rig.client(era, () => { changed++ })
        const before = (await client.listTools()).tools.map((t) => t.name)
        expect(before).not.toContain(`${TAG}_late_tool`)
        rig.example.servers.addLateTool()
        await waitFor(() => changed > 0, 5000, 'list_changed')
        const after = (await client.listTools()).tools.map((t) => t.name)
        expect(after).toContain(`${TAG}_late_tool`)
      })
    })
  }

  it('a tool error comes back as isError with the provider\'s text', async () => {
    rig = await startRig()
    const client = await rig.client('2026-07-28')
    const r = await client.callTool({ name: `${TAG}_fail`, arguments: { reason: 'x' } })
    expect(r.isError).toBe(true)
    expect(textOf(r)).toBe('failed on purpose: x')
  })

  it('paginates in a stable order', async () => {
    rig = await startRig({ bridge: { pageSize: 3 } })
    const client = await rig.client('legacy')
    const all = (await client.listTools()).tools.map((t) => t.name)
    const paged: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      // client.request: listTools() without a cursor aggregates every page itself
      const page = await client.request({ method: 'tools/list', params: { ...(cursor !== undefined && { cursor }) } })
      expect(page.tools.length).toBeLessThanOrEqual(3)
      paged.push(...page.tools.map((t) => t.name))
      cursor = page.nextCursor
      pages++
    } while (cursor !== undefined)
    expect(pages).toBeGreaterThan(2)
    expect(paged).toEqual(all)
  })

  it('lazy mode exposes only the meta tools and veil_call_tool, which calls by exposed name', async () => {
    rig = await startRig({ bridge: { lazy: true } })
    const client = await rig.client('2026-07-28')
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(['veil_search_tools', 'veil_add_tool', 'veil_remove_tool', 'veil_status', 'veil_call_tool'])
    const found = await client.callTool({ name: 'veil_search_tools', arguments: { query: 'weather' } })
    expect(JSON.stringify(found.structuredContent)).toContain(`${TAG}_weather`)
    const r = await client.callTool({ name: 'veil_call_tool', arguments: { tool: `${TAG}_echo`, arguments: { text: 'lazy' } } })
    expect(textOf(r)).toBe('lazy')
  })

  it('retries a read-only tool after a network failure, never a non-idempotent one', async () => {
    let failNext = 0
    rig = await startRig({
      fault: (op) => {
        if (op === 'call' && failNext > 0) { failNext--; throw new ToolNetworkError('circuit-failed', 'circuit broke') }
      }
    })
    const client = await rig.client('legacy')
    failNext = 1
    const echo = await client.callTool({ name: `${TAG}_echo`, arguments: { text: 'again' } })
    expect(textOf(echo)).toBe('again')
    expect((echo._meta?.[META_KEY] as { attempts: number }).attempts).toBe(2)
    failNext = 1
    const count = await client.callTool({ name: `${TAG}_count`, arguments: { nonce: 'no-retry' } })
    expect(count.isError).toBe(true)
    expect(textOf(count)).toMatch(/circuit-failed.*not retried/)
    expect(rig.example.servers.state.executions.get('no-retry')).toBeUndefined()
  })

  it('a vanished provider is a clear tool error, not a hang', async () => {
    let vanished = false
    rig = await startRig({ fault: (op) => { if (vanished && op === 'call') throw new ToolNetworkError('unreachable', 'no route to provider') } })
    const client = await rig.client('2026-07-28')
    vanished = true
    const started = Date.now()
    const r = await client.callTool({ name: `${TAG}_echo`, arguments: { text: 'x' } })
    expect(r.isError).toBe(true)
    expect(textOf(r)).toMatch(/unreachable/)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('times out below the client timeout and sends heartbeats while waiting', async () => {
    rig = await startRig({ bridge: { callTimeoutMs: 600, heartbeatMs: 100 } })
    const client = await rig.client('legacy')
    const progress: Array<{ progress: number, message?: string }> = []
    const r = await client.callTool({ name: `${TAG}_slow`, arguments: { steps: 1, delayMs: 5000 } }, { onprogress: (p) => { progress.push(p) } })
    expect(r.isError).toBe(true)
    expect(textOf(r)).toMatch(/did not answer within/)
    expect(progress.length).toBeGreaterThanOrEqual(3)
    for (let i = 1; i < progress.length; i++) expect(progress[i].progress).toBeGreaterThan(progress[i - 1].progress)
    expect(progress[0].message).toMatch(/waiting/)
  })

  it('provider limits: per-caller rate and concurrency give a clear error; the invocation log names no caller', async () => {
    rig = await startRig({ provider: { callsPerMinute: 2 } })
    const client = await rig.client('legacy')
    await client.callTool({ name: `${TAG}_echo`, arguments: { text: '1' } })
    await client.callTool({ name: `${TAG}_echo`, arguments: { text: '2' } })
    const third = await client.callTool({ name: `${TAG}_echo`, arguments: { text: '3' } })
    expect(third.isError).toBe(true)
    expect(textOf(third)).toMatch(/refused.*rate limit/)
    const log = rig.provider.invocations()
    expect(log.map((r) => r.outcome)).toEqual(['ok', 'ok', 'refused'])
    for (const r of log) expect(Object.keys(r).sort()).toEqual(['argsBytes', 'at', 'durationMs', 'outcome', 'resultBytes', 'tool'])
    expect(log[0].at).toMatch(/:\d\d\.000Z$/)
  })

  it('provider concurrency bound', async () => {
    rig = await startRig({ provider: { maxConcurrent: 1 } })
    const client = await rig.client('2026-07-28')
    const slow = client.callTool({ name: `${TAG}_slow`, arguments: { steps: 2, delayMs: 100 } })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const second = await client.callTool({ name: `${TAG}_echo`, arguments: { text: 'x' } })
    expect(second.isError).toBe(true)
    expect(textOf(second)).toMatch(/busy/)
    expect((await slow).isError).toBeUndefined()
  })

  it('an unknown tool name is a protocol error', async () => {
    rig = await startRig()
    const client = await rig.client('legacy')
    await expect(client.callTool({ name: 'nope', arguments: {} })).rejects.toThrow(/Unknown tool/)
  })
})
