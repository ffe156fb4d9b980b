/**
 * Crash safety: a relay process killed with SIGKILL while it writes keys (onion-key
 * rotations requested as fast as it answers) and DHT records restarts with its
 * identity, its onion keys and its datastore intact — no half-written file.
 */
import { describe, it, expect } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { controlRequest } from '../../src/node/control.ts'
import { tempHome } from './helpers.ts'

const VEIL = fileURLToPath(new URL('../../bin/veil.js', import.meta.url))

function startRelay (dir: string): ChildProcess {
  return spawn(process.execPath, [VEIL, 'relay', '--data-dir', dir, '--listen', '/ip4/127.1.0.1/tcp/0', '--testnet', '--log-file', join(dir, 'relay.log')], { stdio: 'ignore' })
}

async function waitUp (dir: string, child: ChildProcess): Promise<string> {
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited ${child.exitCode}`)
    try {
      const st = await controlRequest(join(dir, 'control.sock'), 'GET', '/status', 2_000)
      const id: unknown = Reflect.get(st as object, 'peerId')
      if (typeof id === 'string') return id
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error('relay did not start')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe('crash safety', { timeout: 180_000 }, () => {
  it('SIGKILL during key writes leaves whole keys and an openable datastore', async () => {
    const h = await tempHome()
    try {
      const dir = join(h.dir, 'relay')
      let peerId: string | undefined
      for (let round = 0; round < 5; round++) {
        const child = startRelay(dir)
        const id = await waitUp(dir, child)
        if (peerId === undefined) peerId = id
        expect(id).toBe(peerId)
        // hammer key writes, then kill at a moment that varies per round
        let stop = false
        const hammer = (async () => {
          while (!stop) {
            try { await controlRequest(join(dir, 'control.sock'), 'POST', '/rotate-onion', 2_000) } catch { break }
          }
        })()
        await new Promise(resolve => setTimeout(resolve, 100 + round * 137))
        child.kill('SIGKILL')
        await new Promise(resolve => child.once('exit', resolve))
        stop = true
        await hammer
        // every key file on disk is whole
        const key = privateKeyFromProtobuf(await readFile(join(dir, 'identity.key')))
        expect(peerIdFromPrivateKey(key).toString()).toBe(peerId)
        for (const n of (await readdir(join(dir, 'onion'))).filter(n => n.endsWith('.key'))) {
          expect((await readFile(join(dir, 'onion', n))).length).toBe(32)
        }
      }
      // a last clean start: keys load, stale temp files are gone, the datastore opens
      const child = startRelay(dir)
      expect(await waitUp(dir, child)).toBe(peerId)
      const st = await controlRequest(join(dir, 'control.sock'), 'GET', '/status')
      expect((Reflect.get(st as object, 'onionKeys') as unknown[]).length).toBeGreaterThan(0)
      expect((await readdir(join(dir, 'onion'))).filter(n => n.endsWith('.tmp'))).toEqual([])
      expect((await readdir(dir)).filter(n => n.endsWith('.tmp'))).toEqual([])
      expect(existsSync(join(dir, 'datastore'))).toBe(true)
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    } finally { await h.cleanup() }
  })
})
