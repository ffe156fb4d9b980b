/**
 * No secret leaks into output. A testnet of relay processes runs with --log-level
 * debug; a client builds circuits and sends data through them; every secret each
 * process generated or loaded is collected through the test-only hook on the key
 * generators (VEIL_TEST_ONLY_SECRETS_DUMP in children, setSecretObserverForTests here).
 * Then every relay log, every `veil status --json`, and error messages are searched
 * for each secret in every encoding a test can check.
 */
import { describe, it, expect } from 'vitest'
import { readFile, readdir } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { privateKeyToProtobuf, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { startTestnet } from '../../src/node/testnet.ts'
import { startClientNode } from '../../src/node/client.ts'
import { attachCircuits } from '../../src/node/onion-glue.ts'
import { setSecretObserverForTests, SECRETS_DUMP_ENV } from '../../src/overlay/index.ts'
import { tempHome } from '../overlay/helpers.ts'
import { findSecret } from './encodings.ts'

const VEIL = fileURLToPath(new URL('../../bin/veil.js', import.meta.url))

describe('secrets never appear in logs, status or errors', { timeout: 180_000 }, () => {
  it('a debug-logged testnet run with circuits leaks none', async () => {
    const h = await tempHome()
    const dump = join(h.dir, 'secrets.dump')
    const local: Array<{ kind: string, bytes: Uint8Array }> = []
    setSecretObserverForTests((kind, bytes) => { local.push({ kind, bytes: bytes.slice() }) })
    const prev = process.env[SECRETS_DUMP_ENV]
    process.env[SECRETS_DUMP_ENV] = dump
    const texts = new Map<string, string>()
    const raws = new Map<string, Buffer>()
    try {
      const net = await startTestnet({ home: h.dir, nodes: 5, logLevel: 'debug' })
      try {
        const client = await startClientNode({ bootstrap: net.info.relays.map(r => r.addrs[0]), minDirectory: 5 })
        await client.ready
        const circuits = await attachCircuits(client, { hops: 3, startManager: false })
        try {
          for (let i = 0; i < 3; i++) {
            const c = await circuits.manager.get({ fresh: true, signal: AbortSignal.timeout(20_000) })
            const s = await c.openStream('echo', { signal: AbortSignal.timeout(10_000) })
            const msg = new Uint8Array(50_000).fill(i + 1)
            const [, back] = await Promise.all([s.send(msg), s.read({ signal: AbortSignal.timeout(20_000) })])
            expect(back?.length).toBe(msg.length)
          }
        } finally { await circuits.stop(); await client.stop() }
        for (let i = 0; i < 5; i++) texts.set(`status relay ${i}`, JSON.stringify(await net.status(i)))
        const env = { ...process.env, VEIL_HOME: h.dir }
        for (const args of [['status', '--json'], ['status', '--node', '1', '--json'], ['status', '--node', '42'], ['keys', 'show', '--json'], ['config', 'show', '--json'], ['relay', '--listen', '/ip4/127.0.0.1/tcp/1', '--bootstrap', 'junk']]) {
          const r = spawnSync(process.execPath, [VEIL, ...args, '--log-level', 'debug'], { env, encoding: 'utf8', timeout: 20_000 })
          texts.set(`veil ${args.join(' ')}`, r.stdout + r.stderr)
        }
        // keys show of a relay's own data dir (public keys only)
        const r = spawnSync(process.execPath, [VEIL, 'keys', 'show', '--json'], { env: { ...process.env, VEIL_HOME: net.info.relays[0].dataDir }, encoding: 'utf8' })
        expect(r.status).toBe(0)
        texts.set('veil keys show (relay 0)', r.stdout + r.stderr)
      } finally {
        await net.stop()
      }
      for (const d of await readdir(join(h.dir, 'testnet'))) {
        const log = await readFile(join(h.dir, 'testnet', d, 'relay.log'))
        expect(log.length).toBeGreaterThan(0)
        texts.set(`${d}/relay.log`, log.toString('utf8'))
        raws.set(`${d}/relay.log`, log)
      }
    } finally {
      setSecretObserverForTests(undefined)
      if (prev === undefined) delete process.env[SECRETS_DUMP_ENV]; else process.env[SECRETS_DUMP_ENV] = prev
    }
    const secrets: Array<{ kind: string, bytes: Uint8Array }> = [...local]
    for (const line of (await readFile(dump, 'utf8')).split('\n')) {
      const [kind, hex] = line.split(' ')
      if (kind !== undefined && hex !== undefined && hex !== '') secrets.push({ kind, bytes: new Uint8Array(Buffer.from(hex, 'hex')) })
    }
    // identities also in libp2p protobuf form
    for (const s of secrets.filter(s => s.kind.includes('identity'))) {
      secrets.push({ kind: `${s.kind}-protobuf`, bytes: privateKeyToProtobuf(privateKeyFromRaw(s.bytes)) })
    }
    const kinds = new Set(secrets.map(s => s.kind))
    expect(secrets.filter(s => s.kind === 'identity').length).toBeGreaterThanOrEqual(5)
    expect(secrets.filter(s => s.kind === 'onion').length).toBeGreaterThanOrEqual(5)
    expect(kinds.has('client-identity')).toBe(true)
    const leaks: string[] = []
    for (const s of secrets) {
      const where = findSecret(s.bytes, texts, raws)
      if (where !== '') leaks.push(`${s.kind} in ${where}`)
    }
    expect(leaks).toEqual([])
    // the haystacks are real: the logs mention the relays' (public) peer ids
    expect([...texts.values()].join('\n')).toMatch(/12D3KooW/)
    await h.cleanup()
  })
})
