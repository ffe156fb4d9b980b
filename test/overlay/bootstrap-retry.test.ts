/**
 * A relay whose bootstrap relay is unreachable when it starts is not isolated for good:
 * while it has no connection, every sync round dials its bootstrap relays again, so it
 * joins once the bootstrap relay is back (on a 50-relay testnet, a dozen relays were
 * refused by relay 0 while it upgraded the others' connections and never joined).
 */
import { describe, it, expect, afterAll } from 'vitest'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { startRelayNode, type RelayNode } from '../../src/node/relay.ts'
import { tempHome } from './helpers.ts'

const freePort = async (host: string): Promise<number> => await new Promise((resolve, reject) => {
  const srv = createServer()
  srv.once('error', reject)
  srv.listen(0, host, () => { const a = srv.address(); srv.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0) }) })
})

let home: { dir: string, cleanup: () => Promise<void> } | undefined
const running: RelayNode[] = []

afterAll(async () => {
  await Promise.all(running.map(async r => { await r.stop().catch(() => {}) }))
  await home?.cleanup()
}, 30_000)

describe('bootstrap retry', { timeout: 60_000 }, () => {
  it('a relay started while its bootstrap relay is down joins when it comes back', async () => {
    home = await tempHome('veil-boot-retry-')
    const port = await freePort('127.1.0.1')
    const listen = [`/ip4/127.1.0.1/tcp/${port}`]
    // learn the bootstrap relay's id, then take it down
    let boot = await startRelayNode({ dataDir: join(home.dir, 'boot'), listen, testnet: true })
    const bootAddr = `/ip4/127.1.0.1/tcp/${port}/p2p/${boot.peerId.toString()}`
    await boot.stop()

    const late = await startRelayNode({ dataDir: join(home.dir, 'late'), listen: ['/ip4/127.2.0.1/tcp/0'], bootstrap: [bootAddr], testnet: true })
    running.push(late)
    expect(late.host.getConnections().length).toBe(0)
    expect(late.directory.size).toBe(1)

    boot = await startRelayNode({ dataDir: join(home.dir, 'boot'), listen, testnet: true })
    running.push(boot)
    const t0 = Date.now()
    while (late.directory.size < 2 || boot.directory.size < 2) {
      if (Date.now() - t0 > 30_000) throw new Error(`not joined after 30 s: directories ${late.directory.size} and ${boot.directory.size}`)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(late.host.getConnections().map(c => c.remotePeer.toString())).toContain(boot.peerId.toString())
  })
})
