/**
 * The provider's end of a circuit: a plain MCP server, one per incoming circuit stream,
 * answering `tools/list` with the provider's catalogue (listed and unlisted tools: the
 * caller knows the address) and `tools/call` by calling the wrapped server through the
 * Provider (its limits, restarts and invocation log apply). Progress is relayed back,
 * cancellation (the SDK's notifications/cancelled) aborts the wrapped call.
 *
 *   streams.register('mcp', s => { void serveProviderStream(provider, new StreamTransport(s), circuitKey) })
 *
 * `caller` is an opaque per-circuit key for the provider's per-caller limits: it names a
 * circuit, never a person — the provider cannot tell two circuits of one client apart.
 *
 * Private tools: a request whose `_meta["net.veil/access"]` carries (base64url) an access
 * token that `authorized` accepts — the token authorised clients derive from the
 * descriptor's private layer — sees and may call private tools; any other request is
 * answered as if they did not exist (an unknown tool), so a guesser learns nothing.
 * Must never: log or keep anything that identifies a caller beyond the circuit's lifetime.
 */
import { Server, ProtocolError, ProtocolErrorCode, isCallToolResult, type Tool, type Transport } from '@modelcontextprotocol/server'
import type { Provider } from './provider.ts'

export const PROVIDER_SERVER_INFO = { name: 'veil-provider', version: '0.1.0' } as const

/** The `_meta` key an authorised client's requests carry its access token under (base64url). */
export const ACCESS_META_KEY = 'net.veil/access'

export async function serveProviderStream (provider: Provider, transport: Transport, caller: string, authorized: (token: Uint8Array | undefined) => boolean = () => false): Promise<Server> {
  const server = new Server({ ...PROVIDER_SERVER_INFO }, { capabilities: { tools: { listChanged: true } } })
  const isAuthorized = (meta: Record<string, unknown> | undefined): boolean => {
    const v = meta?.[ACCESS_META_KEY]
    if (typeof v !== 'string' || v.length > 64) return false
    return authorized(Buffer.from(v, 'base64url'))
  }
  server.setRequestHandler('tools/list', async (request) => ({
    // the wrapped server's own definitions, as it sent them: the bridge on the far end
    // treats them as untrusted input and checks everything (untrusted.ts)
    tools: provider.listTools(isAuthorized(request.params?._meta) ? 'all' : 'network').map((t): Tool => ({
      name: t.name,
      ...(t.title !== undefined && { title: t.title }),
      ...(t.description !== undefined && { description: t.description }),
      inputSchema: { ...t.inputSchema, type: 'object' },
      ...(t.outputSchema !== undefined && { outputSchema: { ...t.outputSchema, type: 'object' } }),
      ...(t.annotations !== undefined && { annotations: t.annotations }),
      _meta: { 'net.veil/version': t.version }
    }))
  }))
  server.setRequestHandler('tools/call', async (request, ctx) => {
    const name = request.params.name
    const authorizedCall = isAuthorized(request.params._meta)
    if (!provider.listTools(authorizedCall ? 'all' : 'network').some(t => t.name === name)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 128)}`)
    const token = ctx.mcpReq._meta?.progressToken
    const result = await provider.callTool(name, request.params.arguments ?? {}, {
      signal: ctx.mcpReq.signal,
      caller,
      authorized: authorizedCall,
      onProgress: token === undefined
        ? undefined
        : (update) => {
            void ctx.mcpReq.notify({
              method: 'notifications/progress',
              params: { progressToken: token, progress: update.progress, ...(update.total !== undefined && { total: update.total }), ...(update.message !== undefined && { message: update.message }) }
            })
          }
    })
    if (!isCallToolResult(result)) throw new ProtocolError(ProtocolErrorCode.InternalError, 'the wrapped server returned an invalid tool result')
    return result
  })
  const unsubscribe = provider.onCatalogueChanged(() => { void server.sendToolListChanged().catch(() => {}) })
  const prevClose = server.onclose
  server.onclose = () => { unsubscribe(); prevClose?.() }
  await server.connect(transport)
  return server
}
