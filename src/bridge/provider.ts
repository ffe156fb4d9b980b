/**
 * Provider mode core: wrap an existing MCP server as its client and serve its tools.
 *
 * A {@link Provider} connects to the wrapped server (a stdio command, a Streamable HTTP
 * URL, or — in tests — any `Transport`), builds the catalogue from its tools (which ones,
 * their visibility and versions from options), re-reads it when the server sends
 * `list_changed`, restarts a crashed stdio server with exponential backoff, bounds calls
 * (at once, and per minute per caller) and keeps an invocation log for the operator.
 *
 * The invocation log holds, per call: tool, time (to the second), duration, outcome and
 * byte sizes. By construction it has nothing that identifies a caller: the caller key is
 * used only by the rate limiter, kept in memory, and never logged.
 *
 * What a provider trusts: its own wrapped server (the operator chose it). What it does
 * not: callers — their arguments go to the wrapped server as given, which must validate
 * them; the limits here only bound load.
 *
 * Not in this module: publishing the descriptor, rendezvous circuits (the overlay calls
 * `listTools` / `callTool` of a Provider from its stream handler).
 */
import { appendFile } from 'node:fs/promises'
import { Client, StreamableHTTPClientTransport, type JSONRPCMessage, type MessageExtraInfo, type Transport, type Tool } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import {
  CALL_TIMEOUT_MS, INVOCATION_LOG_MAX, PROVIDER_CALLS_PER_MINUTE, PROVIDER_MAX_CONCURRENT,
  RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS, RESTART_STABLE_MS, WRAPPED_REQUEST_TIMEOUT_MS, MAX_TOOL_KEYWORDS, MAX_KEYWORD_CHARS
} from './constants.ts'
import { BridgeUsageError, ProviderLimitError, ToolNetworkError, errorMessage } from './errors.ts'
import type { ProgressUpdate } from './remote.ts'

export type Visibility = 'listed' | 'unlisted' | 'private'

export type WrappedServer =
  | { readonly kind: 'stdio', readonly command: string, readonly args?: readonly string[], readonly env?: Readonly<Record<string, string>>, readonly cwd?: string }
  | { readonly kind: 'url', readonly url: string, readonly headers?: Readonly<Record<string, string>> }
  /** In-process (tests, embedding): a fresh transport per connection. Not restarted on close unless `restart` is true. */
  | { readonly kind: 'transport', readonly connect: () => Transport | Promise<Transport>, readonly restart?: boolean }

export interface ProviderToolConfig {
  readonly visibility?: Visibility
  readonly version?: string
  /** Keywords a listed tool is found by (default: its name and the words in it). */
  readonly keywords?: readonly string[]
}

/** Default keywords from a tool name: the name, and its words of ≥ 3 letters ("get_weatherForecast" → get_weatherforecast, get, weather, forecast). */
export function defaultKeywords (name: string): string[] {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(w => w.length >= 3)
  return [...new Set([name.toLowerCase(), ...words])].slice(0, MAX_TOOL_KEYWORDS)
}

/** Which protocol era to speak to the wrapped server: probe (`auto`), 2025 only, or 2026-07-28 only. */
export type WrappedProtocol = 'auto' | 'legacy' | '2026-07-28'

export interface ProviderOptions {
  readonly server: WrappedServer
  /** Version for every tool without its own (default: the wrapped server's serverInfo.version). */
  readonly version?: string
  /** Visibility for every tool without its own (default `listed`). */
  readonly visibility?: Visibility
  /** Keywords added to every listed tool's own. */
  readonly keywords?: readonly string[]
  /** Per-tool settings by the wrapped server's tool name. */
  readonly tools?: Readonly<Record<string, ProviderToolConfig>>
  /** If set, only these tools are served at all. */
  readonly include?: readonly string[]
  readonly maxConcurrent?: number
  readonly callsPerMinute?: number
  readonly protocol?: WrappedProtocol
  /** Append each invocation record as one JSON line to this file. */
  readonly invocationLogFile?: string
  /** Operator diagnostics (the CLI sends them to stderr). Never caller data. */
  readonly onEvent?: (event: ProviderEvent) => void
  readonly restartBackoff?: { readonly minMs: number, readonly maxMs: number }
  readonly now?: () => number
}

export type ProviderEvent =
  | { readonly type: 'connected', readonly protocolVersion?: string, readonly tools: number }
  | { readonly type: 'catalogue-changed', readonly tools: number }
  | { readonly type: 'server-exited', readonly restartInMs: number | null }
  | { readonly type: 'error', readonly message: string }

/** A tool as the provider serves it (before the bridge's untrusted-input checks). */
export interface CatalogueEntry {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema: Record<string, unknown>
  readonly outputSchema?: Record<string, unknown>
  readonly annotations?: Record<string, unknown>
  readonly version: string
  readonly visibility: Visibility
  /** What the tool is found by in the keyword index (listed tools; also in its catalogue record's tags). */
  readonly keywords: readonly string[]
}

export type InvocationOutcome = 'ok' | 'tool-error' | 'error' | 'cancelled' | 'refused' | 'unknown-tool'

/** One line of the operator's invocation log. Deliberately nothing about the caller. */
export interface InvocationRecord {
  readonly tool: string
  /** Start time, ISO 8601, truncated to the second. */
  readonly at: string
  readonly durationMs: number
  readonly outcome: InvocationOutcome
  readonly argsBytes: number
  readonly resultBytes: number
}

export interface ProviderCallOptions {
  readonly signal: AbortSignal
  readonly onProgress?: (update: ProgressUpdate) => void
  /** Opaque per-caller key (a circuit id in the overlay): rate limiting only, never logged. */
  readonly caller: string
  /** The caller showed a valid access token: private tools exist for it. Without it a private tool is an unknown tool. */
  readonly authorized?: boolean
}

export interface ProviderStatus {
  readonly connected: boolean
  readonly protocolVersion?: string
  readonly restarts: number
  readonly tools: number
  readonly inFlight: number
  readonly pid?: number
}

export interface Provider {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** True while the wrapped server is connected. */
  isReady: () => boolean
  /** `network`: listed + unlisted tools (served to callers who know the address); `search`: listed only; `all`: private ones too (for authorised callers and the signed catalogues). */
  listTools: (audience: 'network' | 'search' | 'all') => readonly CatalogueEntry[]
  callTool: (name: string, args: Record<string, unknown>, options: ProviderCallOptions) => Promise<Record<string, unknown>>
  onCatalogueChanged: (listener: () => void) => () => void
  invocations: () => readonly InvocationRecord[]
  status: () => ProviderStatus
}

const byteLength = (value: unknown): number => {
  try { return Buffer.byteLength(JSON.stringify(value) ?? '') } catch { return 0 }
}

/** Sliding one-minute window per caller. Memory is bounded by evicting the oldest caller. */
class RateLimiter {
  private readonly windows = new Map<string, number[]>()
  private readonly perMinute: number
  private static readonly MAX_CALLERS = 10_000
  constructor (perMinute: number) { this.perMinute = perMinute }

  /** Records a call, or returns the ms until one is allowed. */
  take (caller: string, now: number): number {
    const cutoff = now - 60_000
    const stamps = (this.windows.get(caller) ?? []).filter((t) => t > cutoff)
    if (stamps.length >= this.perMinute) {
      this.windows.set(caller, stamps)
      return stamps[0] - cutoff
    }
    stamps.push(now)
    this.windows.delete(caller)
    this.windows.set(caller, stamps)
    if (this.windows.size > RateLimiter.MAX_CALLERS) {
      const oldest = this.windows.keys().next().value
      if (oldest !== undefined) this.windows.delete(oldest)
    }
    return 0
  }
}

const CLIENT_INFO = { name: 'veil-provider', version: '0.1.0' }

/** Factory: `createProvider(options)`; `start()` connects, `stop()` disconnects and clears every timer. */
export function createProvider (options: ProviderOptions): Provider {
  const now = options.now ?? Date.now
  const maxConcurrent = options.maxConcurrent ?? PROVIDER_MAX_CONCURRENT
  const limiter = new RateLimiter(options.callsPerMinute ?? PROVIDER_CALLS_PER_MINUTE)
  const backoff = options.restartBackoff ?? { minMs: RESTART_BACKOFF_MIN_MS, maxMs: RESTART_BACKOFF_MAX_MS }
  if (maxConcurrent < 1) throw new BridgeUsageError('maxConcurrent must be at least 1')
  if (options.server.kind === 'url') {
    try { void new URL(options.server.url) } catch { throw new BridgeUsageError(`not a URL: ${options.server.url}`) }
  }

  let client: Client | undefined
  let stdioTransport: StdioClientTransport | undefined
  let catalogue: CatalogueEntry[] = []
  let running = false
  let restarts = 0
  let failures = 0
  let connectedAt = 0
  let restartTimer: NodeJS.Timeout | undefined
  let inFlight = 0
  const listeners = new Set<() => void>()
  const log: InvocationRecord[] = []
  let logWrite: Promise<void> = Promise.resolve()
  // Progress is tapped at the transport, in wire order: the SDK client (2.4) dispatches progress
  // asynchronously but settles the response synchronously, so a progress notification that
  // arrives in the same read as the result is dropped by `onprogress`. Tokens are ours.
  const progressTaps = new Map<string, (update: ProgressUpdate) => void>()
  let nextToken = 0

  const emit = (event: ProviderEvent): void => { try { options.onEvent?.(event) } catch { /* the operator's hook must not break serving */ } }

  const buildCatalogue = (tools: readonly Tool[], serverVersion: string | undefined): CatalogueEntry[] => {
    const include = options.include === undefined ? undefined : new Set(options.include)
    const out: CatalogueEntry[] = []
    for (const t of tools) {
      if (include !== undefined && !include.has(t.name)) continue
      const cfg = options.tools?.[t.name]
      const visibility = cfg?.visibility ?? options.visibility ?? 'listed'
      out.push({
        name: t.name,
        ...(t.title !== undefined && { title: t.title }),
        ...(t.description !== undefined && { description: t.description }),
        inputSchema: t.inputSchema as Record<string, unknown>,
        ...(t.outputSchema !== undefined && { outputSchema: t.outputSchema as Record<string, unknown> }),
        ...(t.annotations !== undefined && { annotations: t.annotations as Record<string, unknown> }),
        version: cfg?.version ?? options.version ?? serverVersion ?? '0',
        visibility,
        keywords: [...new Set([...(cfg?.keywords ?? defaultKeywords(t.name)), ...(options.keywords ?? [])].map(k => k.trim().toLowerCase()).filter(k => k !== '' && k.length <= MAX_KEYWORD_CHARS))].slice(0, MAX_TOOL_KEYWORDS)
      })
    }
    return out
  }

  const refresh = async (c: Client): Promise<void> => {
    const listed = await c.listTools(undefined, { timeout: WRAPPED_REQUEST_TIMEOUT_MS, cacheMode: 'refresh' })
    if (c !== client) return
    const next = buildCatalogue(listed.tools, c.getServerVersion()?.version)
    const changed = JSON.stringify(next) !== JSON.stringify(catalogue)
    catalogue = next
    if (changed) {
      emit({ type: 'catalogue-changed', tools: next.length })
      for (const l of listeners) l()
    }
  }

  const makeTransport = async (): Promise<Transport> => {
    const s = options.server
    switch (s.kind) {
      case 'stdio': {
        const t = new StdioClientTransport({
          command: s.command,
          args: [...(s.args ?? [])],
          ...(s.env !== undefined && { env: { ...s.env } }),
          ...(s.cwd !== undefined && { cwd: s.cwd }),
          stderr: 'inherit'
        })
        stdioTransport = t
        return t
      }
      case 'url':
        return new StreamableHTTPClientTransport(new URL(s.url), s.headers === undefined ? undefined : { requestInit: { headers: { ...s.headers } } })
      case 'transport':
        return await s.connect()
    }
  }

  const restartable = (): boolean => options.server.kind === 'stdio' || (options.server.kind === 'transport' && options.server.restart === true)

  const scheduleRestart = (): void => {
    if (!running || restartTimer !== undefined) return
    if (!restartable()) { emit({ type: 'server-exited', restartInMs: null }); return }
    if (connectedAt > 0 && now() - connectedAt >= RESTART_STABLE_MS) failures = 0
    const delay = Math.min(backoff.maxMs, backoff.minMs * 2 ** failures)
    failures++
    emit({ type: 'server-exited', restartInMs: delay })
    restartTimer = setTimeout(() => {
      restartTimer = undefined
      restarts++
      connect().catch((err: unknown) => {
        emit({ type: 'error', message: `restart failed: ${errorMessage(err)}` })
        scheduleRestart()
      })
    }, delay)
    restartTimer.unref()
  }

  const connect = async (): Promise<void> => {
    const mode = options.protocol ?? 'auto'
    const c = new Client(CLIENT_INFO, {
      versionNegotiation: { mode: mode === '2026-07-28' ? { pin: mode } : mode },
      listChanged: {
        tools: {
          autoRefresh: false,
          debounceMs: 20,
          onChanged: () => {
            refresh(c).catch((err: unknown) => { emit({ type: 'error', message: `re-reading the catalogue failed: ${errorMessage(err)}` }) })
          }
        }
      }
    })
    c.onclose = () => {
      if (client !== c) return
      client = undefined
      scheduleRestart()
    }
    c.onerror = (err) => { emit({ type: 'error', message: err.message }) }
    const transport = await makeTransport()
    try {
      await c.connect(transport, { timeout: WRAPPED_REQUEST_TIMEOUT_MS })
    } catch (err) {
      await c.close().catch(() => {})
      throw err
    }
    if (!running) { await c.close().catch(() => {}); return }
    const inner = transport.onmessage
    transport.onmessage = <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo): void => {
      if ('method' in message && message.method === 'notifications/progress' && !('id' in message)) {
        const p = message.params as { progressToken?: unknown, progress?: unknown, total?: unknown, message?: unknown } | undefined
        const tap = typeof p?.progressToken === 'string' ? progressTaps.get(p.progressToken) : undefined
        if (tap !== undefined && typeof p?.progress === 'number') {
          tap({ progress: p.progress, ...(typeof p.total === 'number' && { total: p.total }), ...(typeof p.message === 'string' && { message: p.message }) })
          return
        }
      }
      inner?.call(transport, message, extra)
    }
    client = c
    connectedAt = now()
    await refresh(c)
    emit({ type: 'connected', protocolVersion: c.getNegotiatedProtocolVersion(), tools: catalogue.length })
  }

  const record = (r: InvocationRecord): void => {
    log.push(r)
    if (log.length > INVOCATION_LOG_MAX) log.splice(0, log.length - INVOCATION_LOG_MAX)
    const file = options.invocationLogFile
    if (file !== undefined) {
      logWrite = logWrite.then(async () => { await appendFile(file, JSON.stringify(r) + '\n', { mode: 0o600 }) })
        .catch((err: unknown) => { emit({ type: 'error', message: `invocation log: ${errorMessage(err)}` }) })
    }
  }

  return {
    async start () {
      if (running) return
      running = true
      try {
        await connect()
      } catch (err) {
        if (!restartable()) { running = false; throw err }
        emit({ type: 'error', message: `could not start the wrapped server: ${errorMessage(err)}` })
        scheduleRestart()
      }
    },
    async stop () {
      running = false
      if (restartTimer !== undefined) { clearTimeout(restartTimer); restartTimer = undefined }
      const c = client
      client = undefined
      await c?.close().catch(() => {})
      await logWrite
    },
    isReady: () => client !== undefined,
    listTools: (audience) => catalogue.filter((t) => audience === 'all' || (audience === 'network' ? t.visibility !== 'private' : t.visibility === 'listed')),
    async callTool (name, args, callOptions) {
      const started = now()
      const at = new Date(Math.floor(started / 1000) * 1000).toISOString()
      const argsBytes = byteLength(args)
      const done = (outcome: InvocationOutcome, resultBytes = 0): void => {
        record({ tool: name, at, durationMs: now() - started, outcome, argsBytes, resultBytes })
      }
      if (!catalogue.some((t) => t.name === name && (t.visibility !== 'private' || callOptions.authorized === true))) {
        done('unknown-tool')
        throw new ToolNetworkError('unknown-tool', `the provider has no tool named ${JSON.stringify(name.slice(0, 128))}`)
      }
      if (inFlight >= maxConcurrent) {
        done('refused')
        throw new ProviderLimitError('concurrency', `provider busy: ${maxConcurrent} calls already running; try again shortly`, 1000)
      }
      const wait = limiter.take(callOptions.caller, started)
      if (wait > 0) {
        done('refused')
        throw new ProviderLimitError('rate', `rate limit: at most ${options.callsPerMinute ?? PROVIDER_CALLS_PER_MINUTE} calls per minute; retry in ${Math.ceil(wait / 1000)} s`, wait)
      }
      const c = client
      if (c === undefined) {
        done('error')
        throw new ToolNetworkError('unreachable', 'the provider\'s MCP server is not running (restarting)')
      }
      inFlight++
      try {
        const token = `veil-progress-${nextToken++}`
        if (callOptions.onProgress !== undefined) progressTaps.set(token, callOptions.onProgress)
        const result = await c.request({
          method: 'tools/call',
          params: { name, arguments: args, ...(callOptions.onProgress !== undefined && { _meta: { progressToken: token } }) }
        }, { signal: callOptions.signal, timeout: CALL_TIMEOUT_MS }).finally(() => progressTaps.delete(token))
        const out = result as Record<string, unknown>
        done(out.isError === true ? 'tool-error' : 'ok', byteLength(out))
        return out
      } catch (err) {
        if (callOptions.signal.aborted) {
          done('cancelled')
          throw new ToolNetworkError('cancelled', 'the call was cancelled', { cause: err })
        }
        done('error')
        if (client !== c) throw new ToolNetworkError('circuit-failed', `the provider's MCP server exited during the call: ${errorMessage(err)}`, { cause: err })
        // A JSON-RPC error from the wrapped server (bad arguments, unknown tool, …): a tool error, not a network one.
        return { isError: true, content: [{ type: 'text', text: `the provider's MCP server answered with an error: ${errorMessage(err)}` }] }
      } finally {
        inFlight--
      }
    },
    onCatalogueChanged (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    invocations: () => [...log],
    status: () => ({
      connected: client !== undefined,
      ...(client?.getNegotiatedProtocolVersion() !== undefined && { protocolVersion: client.getNegotiatedProtocolVersion() }),
      restarts,
      tools: catalogue.length,
      inFlight,
      ...(stdioTransport?.pid != null && { pid: stdioTransport.pid })
    })
  }
}
