/** Shared helpers for the bridge tests: in-process example server, provider, bridge and clients. */
import { Client } from '@modelcontextprotocol/client'
import { InMemoryTransport } from '@modelcontextprotocol/server'
import { serveStdio } from '@modelcontextprotocol/server/stdio'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createExampleServers, type ExampleServers } from '../../examples/tools-server.ts'
import { createBridge, createProvider, localToolNetwork, serveBridgeStdio, type Bridge, type BridgeCoreOptions, type Provider, type ProviderOptions, type ToolNetwork } from '../../src/bridge/index.ts'

export const ADDRESS = 'example-provider'
export const TAG = 'ex'
export type Era = 'legacy' | '2026-07-28'
export const ERAS: readonly Era[] = ['legacy', '2026-07-28']

/** Arguments that exercise each example tool once. */
export const EXAMPLE_CALLS: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['echo', { text: 'hello through the overlay' }],
  ['image', {}],
  ['weather', { city: 'Zürich' }],
  ['fail', { reason: 'testing' }],
  ['big', {}],
  ['unicode', {}],
  ['slow', { steps: 2, delayMs: 5 }],
  ['count', { nonce: 'equality-nonce', peek: true }]
]

export function tempDir (): { path: string, cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'veil-bridge-'))
  return { path, cleanup: () => { rmSync(path, { recursive: true, force: true }) } }
}

/** An in-process example server served (both eras) over an InMemoryTransport per connection. */
export function inMemoryExample (servers: ExampleServers = createExampleServers()): { servers: ExampleServers, connect: () => InMemoryTransport, closeAll: () => Promise<void> } {
  const handles: Array<{ close: () => Promise<void> }> = []
  return {
    servers,
    connect: () => {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      handles.push(serveStdio(servers.factory, { legacy: 'serve', transport: serverSide }))
      return clientSide
    },
    closeAll: async () => { await Promise.allSettled(handles.map(async (h) => { await h.close() })) }
  }
}

export async function connectClient (connectTransport: () => InMemoryTransport, era: Era, onToolsChanged?: () => void): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' }, {
    versionNegotiation: { mode: era === 'legacy' ? 'legacy' : { pin: era } },
    ...(onToolsChanged !== undefined && { listChanged: { tools: { autoRefresh: false, debounceMs: 0, onChanged: () => { onToolsChanged() } } } })
  })
  await client.connect(connectTransport())
  return client
}

export interface Rig {
  readonly example: ReturnType<typeof inMemoryExample>
  readonly provider: Provider
  readonly network: ToolNetwork
  readonly bridge: Bridge
  /** A new in-memory client connection to the bridge. */
  client: (era: Era, onToolsChanged?: () => void) => Promise<Client>
  close: () => Promise<void>
}

/** Example server → Provider → localToolNetwork → Bridge, all in memory. */
export async function startRig (opts: {
  bridge?: Partial<BridgeCoreOptions>
  provider?: Partial<ProviderOptions>
  fault?: Parameters<typeof localToolNetwork>[0]['fault']
} = {}): Promise<Rig> {
  const example = inMemoryExample()
  const provider = createProvider({ server: { kind: 'transport', connect: example.connect }, version: '1.0.0', ...opts.provider })
  await provider.start()
  const network = localToolNetwork({ providers: { [ADDRESS]: provider }, ...(opts.fault !== undefined && { fault: opts.fault }) })
  const bridge = createBridge({ network, providers: [{ address: ADDRESS, tag: TAG }], ...opts.bridge })
  await bridge.start()
  await bridge.refresh()
  const served: Array<{ close: () => Promise<void> }> = []
  const clients: Client[] = []
  return {
    example,
    provider,
    network,
    bridge,
    client: async (era, onToolsChanged) => {
      const c = await connectClient(() => {
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
        served.push(serveBridgeStdio(bridge, { transport: serverSide }))
        return clientSide
      }, era, onToolsChanged)
      clients.push(c)
      return c
    },
    close: async () => {
      await Promise.allSettled(clients.map(async (c) => { await c.close() }))
      await Promise.allSettled(served.map(async (s) => { await s.close() }))
      await bridge.stop()
      await provider.stop()
      await example.closeAll()
    }
  }
}

export async function waitFor (predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The parts of a tool result a bridge must carry unchanged. */
export function comparable (result: Record<string, unknown>): unknown {
  return { content: result.content, structuredContent: result.structuredContent, isError: result.isError === true }
}

export function textOf (result: Record<string, unknown>): string {
  const content = result.content as Array<{ type: string, text?: string }>
  return content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join('\n')
}
