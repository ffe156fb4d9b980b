/**
 * The example MCP server Veil ships as its demo and test provider: a plain stdio MCP
 * server (SDK v2, both protocol eras) that knows nothing about Veil.
 *
 *   node examples/tools-server.ts          # speaks MCP on stdin/stdout
 *
 * Its tools between them return every shape a bridge must carry unchanged:
 *
 * | tool      | returns                                                     | annotations            |
 * |-----------|-------------------------------------------------------------|------------------------|
 * | echo      | text                                                        | readOnly, idempotent   |
 * | image     | an image (a 1×1 PNG)                                        | readOnly, idempotent   |
 * | weather   | structuredContent matching its outputSchema                 | readOnly, idempotent   |
 * | fail      | `isError: true` with a readable message                     | readOnly               |
 * | big       | a text result of `bytes` bytes (default 1 MiB)              | readOnly, idempotent   |
 * | unicode   | non-ASCII text (several scripts, combining marks, emoji)    | readOnly, idempotent   |
 * | slow      | progress notifications, then text; honours cancellation     | readOnly               |
 * | count     | records `nonce`, returns how often that nonce was executed  | none (not idempotent)  |
 *
 * `count` is how chaos tests measure "executions per nonce": `{ nonce, peek: true }` reads
 * the tally without adding to it, and also says whether a `slow` call with that nonce was
 * cancelled here.
 *
 * Test hook: when `VEIL_EXAMPLE_TRIGGER_FILE` names a file, the server watches it, and
 * once it exists registers one more tool, `late_tool` — every connected client then gets
 * `notifications/tools/list_changed`. When `VEIL_EXAMPLE_ECHO_DESCRIPTION` is set, `echo`
 * has that description instead of its own (a changed definition, for consent tests).
 * Nothing else reads the environment.
 *
 * Not in this file: anything about Veil. Diagnostics go to stderr; stdout is MCP only.
 */
import { McpServer, type McpRequestContext } from '@modelcontextprotocol/server'
import { serveStdio } from '@modelcontextprotocol/server/stdio'
import { existsSync, unwatchFile, watchFile } from 'node:fs'
import * as z from 'zod'

export const EXAMPLE_SERVER_NAME = 'veil-example-tools'
export const EXAMPLE_SERVER_VERSION = '1.0.0'
/** The default size of `big`'s result: the 1 MB case a bridge must carry. */
export const BIG_DEFAULT_BYTES = 1024 * 1024
/** `big` refuses more than this, so a typo cannot exhaust memory. */
export const BIG_MAX_BYTES = 8 * 1024 * 1024
/** `slow` refuses more steps than this (each step sends one progress notification). */
export const SLOW_MAX_STEPS = 1000
/** The non-ASCII text `unicode` returns: Latin with diacritics, CJK, Cyrillic, Arabic (RTL), Devanagari, a combining sequence, emoji with ZWJ. */
export const UNICODE_TEXT = 'Grüße aus Zürich · 你好，世界 · Привет, мир · مرحبا بالعالم · नमस्ते दुनिया · e\u0301 · 👩🏽‍💻🌍'
/** A 1×1 transparent PNG. */
export const PNG_1X1_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='
/** Polling interval of the trigger file (test hook). */
const TRIGGER_POLL_MS = 50

/** Process-wide state shared by every connection (stdio serves one; tests may open many). */
export interface ExampleState {
  readonly executions: Map<string, number>
  readonly cancelled: Set<string>
  lateTool: boolean
}

export function createExampleState (): ExampleState {
  return { executions: new Map(), cancelled: new Set(), lateTool: false }
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
  await new Promise<void>((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function registerLateTool (server: McpServer): void {
  server.registerTool('late_tool', {
    title: 'Late tool',
    description: 'A tool that appeared after the server started (list_changed test).',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true, idempotentHint: true }
  }, async () => ({ content: [{ type: 'text', text: 'late but here' }] }))
}

/** One McpServer with the example tools, over shared `state`. */
export function createExampleServer (state: ExampleState, echoDescription = 'Returns the given text unchanged.'): McpServer {
  const server = new McpServer(
    { name: EXAMPLE_SERVER_NAME, version: EXAMPLE_SERVER_VERSION },
    { capabilities: { tools: { listChanged: true } } }
  )

  server.registerTool('echo', {
    title: 'Echo',
    description: echoDescription,
    inputSchema: z.object({ text: z.string().describe('Text to echo back') }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
  }, async ({ text }) => ({ content: [{ type: 'text', text }] }))

  server.registerTool('image', {
    title: 'Image',
    description: 'Returns a 1×1 PNG image.',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true, idempotentHint: true }
  }, async () => ({ content: [{ type: 'image', data: PNG_1X1_BASE64, mimeType: 'image/png' }] }))

  server.registerTool('weather', {
    title: 'Weather',
    description: 'Returns a (made-up, deterministic) weather report as structured content.',
    inputSchema: z.object({ city: z.string().min(1).max(100) }),
    outputSchema: z.object({
      city: z.string(),
      temperatureC: z.number(),
      conditions: z.enum(['sunny', 'cloudy', 'rain', 'snow']),
      humidity: z.number().min(0).max(100)
    }),
    annotations: { readOnlyHint: true, idempotentHint: true }
  }, async ({ city }) => {
    let h = 0
    for (const ch of city) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0
    const conditions = (['sunny', 'cloudy', 'rain', 'snow'] as const)[h % 4]
    const structuredContent = { city, temperatureC: (h % 40) - 5, conditions, humidity: h % 101 }
    return { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent }
  })

  server.registerTool('fail', {
    title: 'Fail',
    description: 'Always fails with isError: true and a readable message.',
    inputSchema: z.object({ reason: z.string().max(1000).optional() }),
    annotations: { readOnlyHint: true }
  }, async ({ reason }) => ({ isError: true, content: [{ type: 'text', text: `failed on purpose: ${reason ?? 'no reason given'}` }] }))

  server.registerTool('big', {
    title: 'Big',
    description: `Returns a text result of the requested size in bytes (default ${BIG_DEFAULT_BYTES}, at most ${BIG_MAX_BYTES}).`,
    inputSchema: z.object({ bytes: z.number().int().min(1).max(BIG_MAX_BYTES).optional() }),
    annotations: { readOnlyHint: true, idempotentHint: true }
  }, async ({ bytes }) => {
    const n = bytes ?? BIG_DEFAULT_BYTES
    const unit = 'abcdefghijklmnopqrstuvwxyz0123456789\n'
    return { content: [{ type: 'text', text: unit.repeat(Math.ceil(n / unit.length)).slice(0, n) }] }
  })

  server.registerTool('unicode', {
    title: 'Unicode',
    description: 'Returns non-ASCII text: Grüße, 你好, Привет, مرحبا, नमस्ते, emoji.',
    inputSchema: z.object({}),
    annotations: { readOnlyHint: true, idempotentHint: true }
  }, async () => ({ content: [{ type: 'text', text: UNICODE_TEXT }] }))

  server.registerTool('slow', {
    title: 'Slow',
    description: 'Sends `steps` progress notifications `delayMs` apart, then returns. Honours cancellation.',
    inputSchema: z.object({
      steps: z.number().int().min(1).max(SLOW_MAX_STEPS).optional(),
      delayMs: z.number().int().min(0).max(60_000).optional(),
      nonce: z.string().max(200).optional()
    }),
    annotations: { readOnlyHint: true }
  }, async ({ steps, delayMs, nonce }, ctx) => {
    const total = steps ?? 3
    const delay = delayMs ?? 50
    const token = ctx.mcpReq._meta?.progressToken
    try {
      for (let i = 1; i <= total; i++) {
        await sleep(delay, ctx.mcpReq.signal)
        if (token !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total, message: `step ${i} of ${total}` }
          })
        }
      }
    } catch (err) {
      if (ctx.mcpReq.signal.aborted && nonce !== undefined) state.cancelled.add(nonce)
      throw err
    }
    return { content: [{ type: 'text', text: `done after ${total} steps` }] }
  })

  server.registerTool('count', {
    title: 'Count executions',
    description: 'Records one execution of `nonce` and returns how many times that nonce has been executed. With peek: true, only reads the tally.',
    inputSchema: z.object({ nonce: z.string().min(1).max(200), peek: z.boolean().optional() }),
    outputSchema: z.object({ nonce: z.string(), executions: z.number().int(), cancelled: z.boolean() }),
    annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false }
  }, async ({ nonce, peek }) => {
    const executions = (state.executions.get(nonce) ?? 0) + (peek === true ? 0 : 1)
    if (peek !== true) state.executions.set(nonce, executions)
    const structuredContent = { nonce, executions, cancelled: state.cancelled.has(nonce) }
    return { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent }
  })

  if (state.lateTool) registerLateTool(server)
  return server
}

export interface ExampleServers {
  readonly state: ExampleState
  /** A server factory for `serveStdio` / `createMcpHandler`; tracks live instances. */
  readonly factory: (ctx?: McpRequestContext) => McpServer
  /** Registers `late_tool` on every live instance (and every later one). */
  addLateTool: () => void
}

/** A factory over one shared state; `addLateTool()` makes every live instance gain a tool. */
export function createExampleServers (state: ExampleState = createExampleState(), echoDescription?: string): ExampleServers {
  const live = new Set<McpServer>()
  return {
    state,
    factory: () => {
      const server = createExampleServer(state, echoDescription)
      live.add(server)
      server.server.onclose = () => { live.delete(server) }
      return server
    },
    addLateTool: () => {
      if (state.lateTool) return
      state.lateTool = true
      for (const server of live) registerLateTool(server)
    }
  }
}

function main (): void {
  const echoDescription = process.env.VEIL_EXAMPLE_ECHO_DESCRIPTION
  const servers = createExampleServers(createExampleState(), echoDescription === '' ? undefined : echoDescription)
  const trigger = process.env.VEIL_EXAMPLE_TRIGGER_FILE
  if (trigger !== undefined && trigger !== '') {
    const check = (): void => {
      if (existsSync(trigger)) { unwatchFile(trigger); servers.addLateTool() }
    }
    watchFile(trigger, { interval: TRIGGER_POLL_MS, persistent: false }, check)
    check()
  }
  const handle = serveStdio(servers.factory, {
    legacy: 'serve',
    onerror: (err) => { process.stderr.write(`${EXAMPLE_SERVER_NAME}: ${err.message}\n`) }
  })
  const shutdown = (): void => { void handle.close().finally(() => process.exit(0)) }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
}

if (import.meta.main) main()
