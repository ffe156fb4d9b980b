import { describe, it, expect, afterEach } from 'vitest'
import { stat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadOrCreateIdentity, OnionKeyStore, ManualClock, Secret, x25519PublicOf, generateX25519 } from '../../src/overlay/index.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { inspect } from 'node:util'
import { tempHome } from './helpers.ts'

const H = 3_600_000
let cleanup: (() => Promise<void>) | undefined
afterEach(async () => { await cleanup?.(); cleanup = undefined })

describe('relay keys on disk', () => {
  it('keeps the identity across restarts, in a 0600 file', async () => {
    const t = await tempHome(); cleanup = t.cleanup
    const a = await loadOrCreateIdentity(t.dir)
    const b = await loadOrCreateIdentity(t.dir)
    expect(peerIdFromPrivateKey(a).equals(peerIdFromPrivateKey(b))).toBe(true)
    expect((await stat(join(t.dir, 'identity.key'))).mode & 0o777).toBe(0o600)
    expect((await readdir(t.dir)).filter(n => n.endsWith('.tmp'))).toEqual([])
  })

  it('keeps onion keys across restarts', async () => {
    const t = await tempHome(); cleanup = t.cleanup
    const clock = new ManualClock()
    const s1 = new OnionKeyStore({ dir: t.dir, clock })
    await s1.load()
    clock.advance(H)
    const s2 = new OnionKeyStore({ dir: t.dir, clock })
    await s2.load()
    expect(s2.active().map(k => Buffer.from(k.publicKey).toString('hex'))).toEqual(s1.active().map(k => Buffer.from(k.publicKey).toString('hex')))
    const files = await readdir(join(t.dir, 'onion'))
    expect(files).toHaveLength(1)
    expect((await stat(join(t.dir, 'onion', files[0]))).mode & 0o777).toBe(0o600)
  })

  it('rotation: old and new keys both work during the overlap, only the new one after it', async () => {
    const t = await tempHome(); cleanup = t.cleanup
    const clock = new ManualClock()
    const store = new OnionKeyStore({ dir: t.dir, clock, rotationMs: 24 * H, overlapMs: 6 * H })
    await store.load()
    const first = store.current()
    clock.advance(23 * H)
    expect(await store.rotateIfDue()).toBe(false)
    clock.advance(H)
    expect(await store.rotateIfDue()).toBe(true)
    const second = store.current()
    expect(second.publicKey).not.toEqual(first.publicKey)
    // during the overlap both are usable
    expect(store.find(first.publicKey)).toBeDefined()
    expect(store.find(second.publicKey)).toBeDefined()
    expect(store.active()).toHaveLength(2)
    // a restart during the overlap keeps both
    const again = new OnionKeyStore({ dir: t.dir, clock, rotationMs: 24 * H, overlapMs: 6 * H })
    await again.load()
    expect(again.active()).toHaveLength(2)
    // after the overlap only the new key works and the old file is gone
    clock.advance(6 * H)
    await store.rotateIfDue()
    expect(store.find(first.publicKey)).toBeUndefined()
    expect(store.find(second.publicKey)).toBeDefined()
    expect(await readdir(join(t.dir, 'onion'))).toEqual([`${second.validFrom}.key`])
    expect(store.nextChangeAt()).toBe(second.validFrom + 24 * H)
  })

  it('stored onion keys are raw X25519 secrets matching their public keys', async () => {
    const t = await tempHome(); cleanup = t.cleanup
    const store = new OnionKeyStore({ dir: t.dir, clock: new ManualClock() })
    await store.load()
    const k = store.current()
    const raw = await readFile(join(t.dir, 'onion', `${k.validFrom}.key`))
    expect(x25519PublicOf(new Uint8Array(raw))).toEqual(k.publicKey)
    const g = generateX25519()
    expect(x25519PublicOf(g.secretKey)).toEqual(g.publicKey)
  })

  it('secrets print as [redacted]', () => {
    const s = new Secret(new Uint8Array([1, 2, 3]))
    expect(String(s)).toBe('[redacted]')
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}')
    expect(inspect({ s })).toContain('[redacted]')
  })
})

describe('rotation seen through the circuit handshake', () => {
  it('a client using the old onion key completes a handshake during the overlap, not after it', async () => {
    const { RelayHandshakeKeys, clientStart, relayRespond, clientFinish, systemRng } = await import('../../src/onion/index.ts')
    const t = await tempHome(); cleanup = t.cleanup
    const clock = new ManualClock()
    const store = new OnionKeyStore({ dir: t.dir, clock, rotationMs: 24 * H, overlapMs: 6 * H })
    await store.load()
    const id = new Uint8Array(32).fill(7)
    const relayKeys = (): InstanceType<typeof RelayHandshakeKeys> => new RelayHandshakeKeys(id, store.active().map(k => ({ publicKey: k.publicKey, secretKey: k.secretKey.expose() })))
    const handshake = (onionKey: Uint8Array): boolean => {
      const { state, message } = clientStart(systemRng, { id, onionKey })
      try {
        const { reply, sessionKeys } = relayRespond(relayKeys(), message, systemRng)
        const mine = clientFinish(state, reply)
        return Buffer.from(mine.forward).equals(sessionKeys.forward)
      } catch { return false }
    }
    const old = store.current().publicKey
    clock.advance(24 * H)
    await store.rotateIfDue()
    const fresh = store.current().publicKey
    expect(handshake(old)).toBe(true) // overlap: a client with a cached descriptor still gets through
    expect(handshake(fresh)).toBe(true)
    clock.advance(6 * H)
    await store.rotateIfDue()
    expect(handshake(old)).toBe(false) // after the overlap only the new key works
    expect(handshake(fresh)).toBe(true)
  })
})
