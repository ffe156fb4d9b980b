import { describe, it, expect } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveBootstrap, requireBootstrap, NoBootstrapError } from '../../src/node/bootstrap.ts'
import { tempHome } from '../overlay/helpers.ts'

const addr = '/ip4/127.1.0.1/tcp/4001/p2p/12D3KooWRDmzCyZnL3tpHUxP6Qxc6d5FCf4URpodyEu7DGJ343fP'

describe('bootstrap resolution', () => {
  it('explicit peers win over a running testnet; a live testnet.json is used; a stale one is ignored', async () => {
    const h = await tempHome()
    try {
      expect((await resolveBootstrap(h.dir, [addr])).peers).toEqual([addr])
      await expect(requireBootstrap(h.dir, [])).rejects.toThrow(NoBootstrapError)
      await expect(requireBootstrap(h.dir, [])).rejects.toThrow("no bootstrap peers: start 'veil testnet' or set bootstrap in config")
      const relay = { index: 0, peerId: 'x', addrs: [addr], control: '/nonexistent', pid: process.pid, dataDir: h.dir }
      await writeFile(join(h.dir, 'testnet.json'), JSON.stringify({ version: 1, pid: process.pid, relays: [relay] }))
      const live = await requireBootstrap(h.dir, [])
      expect(live.peers).toEqual([addr])
      expect(live.network).toMatch(/^network: local testnet \(1 relays/)
      expect((await resolveBootstrap(h.dir, ['/ip4/127.9.0.1/tcp/1/p2p/y'])).peers).toEqual(['/ip4/127.9.0.1/tcp/1/p2p/y'])
      await writeFile(join(h.dir, 'testnet.json'), JSON.stringify({ version: 1, pid: 999_999_999, relays: [relay] }))
      const stale = await resolveBootstrap(h.dir, [])
      expect(stale.peers).toEqual([])
      expect(stale.warning).toMatch(/stale/)
    } finally { await h.cleanup() }
  })
})
