import { describe, it, expect } from 'vitest'
import { createServer } from 'node:net'
import { startClientNode } from '../../src/node/client.ts'
import { OverlayNetworkError } from '../../src/overlay/index.ts'

describe('client node', () => {
  it('stop() ends the wait for a directory at once when no relay answers', async () => {
    // a port that accepts TCP and says nothing: the dial hangs until its own timeout
    const server = createServer(() => {})
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const addr = server.address()
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0
    try {
      const client = await startClientNode({ bootstrap: [`/ip4/127.0.0.1/tcp/${port}/p2p/12D3KooWRDmzCyZnL3tpHUxP6Qxc6d5FCf4URpodyEu7DGJ343fP`], timeoutMs: 60_000 })
      await new Promise(resolve => setTimeout(resolve, 300))
      const t = Date.now()
      await client.stop()
      await expect(client.ready).rejects.toThrow(OverlayNetworkError)
      expect(Date.now() - t).toBeLessThan(5_000)
    } finally {
      server.close()
    }
  }, 30_000)
})
