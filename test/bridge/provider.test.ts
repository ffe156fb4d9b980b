import { afterEach, describe, expect, it } from 'vitest'
import { createProvider, type Provider } from '../../src/bridge/index.ts'
import { inMemoryExample, waitFor } from './helpers.ts'

let provider: Provider | undefined
afterEach(async () => { await provider?.stop(); provider = undefined })

describe('provider', () => {
  it('restarts a crashed stdio server with backoff and re-reads its catalogue', async () => {
    const events: string[] = []
    provider = createProvider({
      server: { kind: 'stdio', command: process.execPath, args: ['examples/tools-server.ts'] },
      protocol: 'legacy',
      restartBackoff: { minMs: 50, maxMs: 1000 },
      onEvent: (e) => { events.push(e.type) }
    })
    await provider.start()
    const pid = provider.status().pid
    expect(pid).toBeGreaterThan(0)
    process.kill(pid as number, 'SIGKILL')
    await waitFor(() => provider?.status().restarts === 1 && provider.isReady(), 10_000, 'restart')
    expect(provider.status().pid).not.toBe(pid)
    expect(events).toContain('server-exited')
    expect(provider.listTools('network').length).toBe(8)
  })

  it('applies visibility, include and versions from options', async () => {
    const example = inMemoryExample()
    provider = createProvider({
      server: { kind: 'transport', connect: example.connect },
      include: ['echo', 'weather', 'count'],
      version: '2.0.0',
      tools: { weather: { visibility: 'unlisted', version: '2.1.0' }, count: { visibility: 'private' } }
    })
    await provider.start()
    expect(provider.listTools('network').map((t) => [t.name, t.version, t.visibility])).toEqual([['echo', '2.0.0', 'listed'], ['weather', '2.1.0', 'unlisted']])
    expect(provider.listTools('search').map((t) => t.name)).toEqual(['echo'])
    await expect(provider.callTool('count', { nonce: 'x' }, { signal: AbortSignal.timeout(1000), caller: 'c' })).rejects.toThrow(/no tool named/)
    await provider.stop()
    await example.closeAll()
  })
})
