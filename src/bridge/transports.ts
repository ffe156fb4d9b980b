/**
 * Serving the bridge over stdio and Streamable HTTP (SDK v2), both protocol eras.
 *
 * stdio — `serveStdio(factory, { legacy: 'serve' })`: one connection, era chosen by its
 *   opening (`initialize` → 2025-11-25 and earlier; `server/discover` or an enveloped
 *   request → 2026-07-28). `list_changed` reaches 2025-era clients unsolicited and
 *   2026-era clients on their `subscriptions/listen` stream. Nothing but MCP is written
 *   to stdout.
 *
 * HTTP — a node:http server on 127.0.0.1 (default; any port, 0 for an ephemeral one):
 *   - every request: Host validated against the allowed host names (DNS rebinding),
 *     Origin (when present) validated, then the bearer token (when configured);
 *   - 2026-07-28 requests → `createMcpHandler` (per-request instances; `list_changed`
 *     on `subscriptions/listen` streams via `handler.notify.toolsChanged()`);
 *   - 2025-era requests (`isLegacyRequest`) → our own *sessionful* legacy leg: an
 *     `initialize` POST opens a session (`WebStandardStreamableHTTPServerTransport` with a
 *     session id), later POST/GET/DELETE carry `Mcp-Session-Id`; the GET stream carries
 *     `list_changed`. So 2025-era HTTP clients get list_changed too (createMcpHandler's
 *     own legacy fallback is stateless and answers GET with 405). At most
 *     HTTP_LEGACY_SESSIONS_MAX sessions; `legacy: 'stateless'` selects the SDK's stateless
 *     fallback instead (then 2025-era clients must re-list to see changes).
 *
 * Not in this module: what the server answers (server.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import {
  createMcpHandler, hostHeaderValidationResponse, isInitializeRequest, isLegacyRequest, localhostAllowedHostnames,
  originValidationResponse, WebStandardStreamableHTTPServerTransport, type Server, type Transport
} from '@modelcontextprotocol/server'
import { serveStdio } from '@modelcontextprotocol/server/stdio'
import { HTTP_DEFAULT_HOST, HTTP_LEGACY_SESSIONS_MAX, HTTP_MAX_BODY_BYTES } from './constants.ts'
import { BridgeUsageError } from './errors.ts'
import type { Bridge } from './server.ts'

export interface StdioServeOptions {
  /** Defaults to the process's stdin/stdout. Tests pass an InMemoryTransport. */
  readonly transport?: Transport
  readonly onerror?: (error: Error) => void
}

export interface ServedHandle {
  close: () => Promise<void>
}

export function serveBridgeStdio (bridge: Bridge, options: StdioServeOptions = {}): ServedHandle {
  const handle = serveStdio(bridge.serverFactory({ track: true }), {
    legacy: 'serve',
    ...(options.transport !== undefined && { transport: options.transport }),
    ...(options.onerror !== undefined && { onerror: options.onerror })
  })
  return { close: async () => { await handle.close() } }
}

export interface HttpServeOptions {
  /** Default 127.0.0.1. Binding elsewhere requires `allowedHosts`. */
  readonly host?: string
  /** Default 0 (ephemeral). */
  readonly port?: number
  /** The path MCP is served on (default `/mcp`). */
  readonly path?: string
  /** Require `Authorization: Bearer <token>` on every request. */
  readonly token?: string
  /** Host names accepted in the Host header (default: localhost, 127.0.0.1, [::1]). */
  readonly allowedHosts?: readonly string[]
  /** Origin host names accepted when an Origin header is present (default: the allowed hosts). */
  readonly allowedOrigins?: readonly string[]
  /** 2025-era serving: `sessions` (default; list_changed over the GET stream) or `stateless`. */
  readonly legacy?: 'sessions' | 'stateless'
  readonly onerror?: (error: Error) => void
}

export interface HttpServedHandle extends ServedHandle {
  readonly url: string
  readonly port: number
  readonly host: string
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

const jsonRpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}): Response =>
  Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status, headers })

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

async function readBody (req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) return 'too-large'
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

async function writeResponse (res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, key) => { headers[key] = value })
  res.writeHead(response.status, headers)
  if (response.body === null) { res.end(); return }
  const reader = response.body.getReader()
  res.on('close', () => { reader.cancel().catch(() => {}) })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!res.write(value)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve) })
    }
  } catch { /* the client went away, or the stream was cancelled */ }
  res.end()
}

export async function serveBridgeHttp (bridge: Bridge, options: HttpServeOptions = {}): Promise<HttpServedHandle> {
  const host = options.host ?? HTTP_DEFAULT_HOST
  const path = options.path ?? '/mcp'
  if (!LOOPBACK.has(host) && options.allowedHosts === undefined) {
    throw new BridgeUsageError(`binding to ${host} exposes the bridge beyond this machine: pass allowedHosts (and a token)`)
  }
  const allowedHosts = [...(options.allowedHosts ?? localhostAllowedHostnames())]
  const allowedOrigins = [...(options.allowedOrigins ?? allowedHosts)]
  const tokenDigest = options.token === undefined ? undefined : digest(options.token)
  const onerror = options.onerror ?? (() => {})
  const legacyMode = options.legacy ?? 'sessions'

  const modern = createMcpHandler(bridge.serverFactory({ track: false }), {
    legacy: legacyMode === 'stateless' ? 'stateless' : 'reject',
    onerror,
    maxRequestBodySize: HTTP_MAX_BODY_BYTES
  })
  const unsubscribe = bridge.onToolsChanged(() => { modern.notify.toolsChanged() })

  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport, server: Server }>()

  const legacy = async (request: Request, body: unknown): Promise<Response> => {
    const sid = request.headers.get('mcp-session-id')
    if (sid !== null) {
      const s = sessions.get(sid)
      if (s === undefined) return jsonRpcError(404, -32001, 'Session not found')
      return await s.transport.handleRequest(request, { parsedBody: body })
    }
    if (request.method !== 'POST' || !isInitializeRequest(body)) {
      return jsonRpcError(400, -32000, 'Bad Request: no valid session id (send initialize first)')
    }
    if (sessions.size >= HTTP_LEGACY_SESSIONS_MAX) return jsonRpcError(503, -32000, 'Too many sessions', { 'retry-after': '5' })
    const server = bridge.serverFactory({ track: true })()
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => { sessions.set(id, { transport, server }) },
      onsessionclosed: (id) => { sessions.delete(id) },
      maxRequestBodySize: HTTP_MAX_BODY_BYTES
    })
    transport.onclose = () => { if (transport.sessionId !== undefined) sessions.delete(transport.sessionId) }
    await server.connect(transport)
    return await transport.handleRequest(request, { parsedBody: body })
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const abort = new AbortController()
    res.on('close', () => { abort.abort() })
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const headers = new Headers()
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1])
    const bare = new Request(url, { method: req.method, headers })
    const rejected = hostHeaderValidationResponse(bare, allowedHosts) ?? originValidationResponse(bare, allowedOrigins)
    if (rejected !== undefined) { await writeResponse(res, rejected); return }
    if (tokenDigest !== undefined) {
      const auth = headers.get('authorization') ?? ''
      const given = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : ''
      if (!timingSafeEqual(digest(given), tokenDigest)) {
        await writeResponse(res, jsonRpcError(401, -32001, 'Unauthorized', { 'www-authenticate': 'Bearer realm="veil-bridge"' }))
        return
      }
    }
    if (url.pathname !== path) { await writeResponse(res, jsonRpcError(404, -32601, 'Not found')); return }
    let bodyBytes: Buffer | undefined
    if (req.method === 'POST') {
      const read = await readBody(req, HTTP_MAX_BODY_BYTES)
      if (read === 'too-large') { await writeResponse(res, jsonRpcError(413, -32600, 'Request body too large')); return }
      bodyBytes = read
    }
    const request = new Request(url, { method: req.method, headers, signal: abort.signal, ...(bodyBytes !== undefined && { body: new Uint8Array(bodyBytes) }) })
    let parsed: unknown
    if (bodyBytes !== undefined) { try { parsed = JSON.parse(bodyBytes.toString('utf8')) } catch { parsed = undefined } }
    const response = legacyMode === 'sessions' && await isLegacyRequest(request, parsed)
      ? await legacy(request, parsed)
      : await modern.fetch(request, parsed === undefined ? undefined : { parsedBody: parsed })
    await writeResponse(res, response)
  }

  const httpServer = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      onerror(err instanceof Error ? err : new Error(String(err)))
      if (!res.headersSent) { res.writeHead(500, { 'content-type': 'application/json' }); res.end('{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":null}') } else res.end()
    })
  })
  httpServer.on('connection', (socket) => { socket.setNoDelay(true) })
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject)
    httpServer.listen(options.port ?? 0, host, () => { httpServer.off('error', reject); resolve() })
  })
  const address = httpServer.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${urlHost}:${address.port}${path}`,
    port: address.port,
    host,
    async close () {
      unsubscribe()
      await modern.close()
      await Promise.allSettled([...sessions.values()].map(async (s) => { await s.transport.close(); await s.server.close() }))
      sessions.clear()
      httpServer.closeAllConnections()
      await new Promise<void>((resolve) => { httpServer.close(() => { resolve() }) })
    }
  }
}
