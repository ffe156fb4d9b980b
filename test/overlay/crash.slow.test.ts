/**
 * Crash safety: a relay process killed with SIGKILL while it writes keys (onion-key
 * rotations requested as fast as it answers) and DHT records restarts with its
 * identity, its onion keys and its datastore intact — no half-written file.
 *
 * The same for a provider (`veil provide`, public mode): killed at the moment each file
 * of its first start is being written (data-dir stamp, provider key, relay identity, onion
 * key — the test kills it when the temp file appears), then repeatedly while it runs and
 * rotates onion keys as fast as it answers; every restart serves the same provider
 * address from the same relay, every key file is whole, every state file parses, and no
 * temp file outlives a start.
 */
import { describe, it, expect } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { existsSync, watch } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { controlRequest } from '../../src/node/control.ts'
import { startTestnet } from '../../src/node/testnet.ts'
import { PROVIDER_KEY_FILE, PROVIDER_KEY_LEN } from '../../src/node/provider-node.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { ENTRY_STATE_FILE, parseEntryState } from '../../src/node/entry-guards.ts'
import { ED25519_SEED_LEN } from '../../src/registry/constants.ts'
import { tempHome } from './helpers.ts'

const VEIL = fileURLToPath(new URL('../../bin/veil.js', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const EXAMPLE = join(ROOT, 'examples', 'tools-server.ts')
const TEMP_FILE = /(^|\/)\..+\.[0-9a-f]{12}\.tmp$/

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

  it('SIGKILL of a provider while it writes keys and state: same address, whole keys, no temp files left', async () => {
    const h = await tempHome()
    const net = await startTestnet({ home: join(h.dir, 'net'), nodes: 4 })
    const dir = join(h.dir, 'provider')
    await mkdir(dir, { mode: 0o700 })
    // made now, not by the first start: a recursive watch attaches to a subdirectory created
    // under it only after its creation event, and can miss a key file written at once in it
    // (CI once saw no onion-key temp file in the first rounds)
    await mkdir(join(dir, 'onion'), { mode: 0o700 })
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) env[k] = v
    const boot = [...net.info.relays.flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
    // its own process group: a kill takes the wrapped MCP server along
    const start = (): { child: ChildProcess, address: Promise<string | undefined> } => {
      const child = spawn(process.execPath, [VEIL, 'provide', ...boot, '--log-file', join(dir, 'provider.log'), '--stdio', '--', process.execPath, EXAMPLE],
        { cwd: ROOT, env: { ...env, VEIL_HOME: dir }, stdio: ['ignore', 'pipe', 'ignore'], detached: true })
      let out = ''
      const address = new Promise<string | undefined>((resolve) => {
        child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('\n')) resolve(out.split('\n')[0]) })
        child.once('exit', () => { resolve(undefined) })
      })
      return { child, address }
    }
    const kill = async (child: ChildProcess, signal: NodeJS.Signals): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      try { process.kill(-child.pid, signal) } catch { /* gone */ }
      await exited
    }
    /** Whatever is on disk is whole: each key file parses, format.json parses. Returns the address of provider.key, if any. */
    const checkFiles = async (): Promise<string | undefined> => {
      const names = await readdir(dir)
      if (names.includes('format.json')) expect(JSON.parse(await readFile(join(dir, 'format.json'), 'utf8'))).toEqual({ format: 1 })
      if (names.includes('identity.key')) privateKeyFromProtobuf(await readFile(join(dir, 'identity.key')))
      if (names.includes(ENTRY_STATE_FILE)) expect(parseEntryState(JSON.parse(await readFile(join(dir, ENTRY_STATE_FILE), 'utf8'))).state).toBeDefined()
      if (existsSync(join(dir, 'onion'))) {
        for (const n of (await readdir(join(dir, 'onion'))).filter(n => n.endsWith('.key'))) expect((await readFile(join(dir, 'onion', n))).length).toBe(32)
      }
      if (!names.includes(PROVIDER_KEY_FILE)) return undefined
      const raw = await readFile(join(dir, PROVIDER_KEY_FILE))
      expect(raw.length).toBe(PROVIDER_KEY_LEN)
      return ProviderIdentity.fromSeeds(raw.subarray(0, ED25519_SEED_LEN), raw.subarray(ED25519_SEED_LEN)).address.text
    }
    /** A watch event for a temp file that exists now: one being written (not a stale one being removed). */
    const beingWritten = (name: string | null): boolean => typeof name === 'string' && TEMP_FILE.test(name) && existsSync(join(dir, name))
    const running: ChildProcess[] = []
    /** The files a provider's first start writes, as the watcher names their temp files. */
    const KINDS = ['.format.json', '.provider.key', '.identity.key', 'onion/.N.key', '.guards.json']
    let killedWriting = 0
    try {
      // 1. first start: killed as each temp file appears, until a start gets through
      let address: string | undefined
      const killedOn = new Set<string>()
      // A write can finish before the watcher's callback sees its temp file: a start that got
      // through without a kill at every kind leaves the files it wrote checked and is wiped, and
      // the next start is a first start again (a fresh identity), until every kind was caught.
      for (let round = 0; (address === undefined || killedOn.size < KINDS.length) && round < 14; round++) {
        if (address !== undefined) {
          for (const n of await readdir(dir)) await rm(join(dir, n), { recursive: true, force: true })
          await mkdir(join(dir, 'onion'), { mode: 0o700 })
          address = undefined
        }
        const p = start()
        running.push(p.child)
        const watcher = watch(dir, { recursive: true }, (_event, name) => {
          // once per kind of file (KINDS), so each start gets further
          const kind = typeof name === 'string' ? name.replace(/\.[0-9a-f]{12}\.tmp$/, '').replace(/\d+/g, 'N') : ''
          if (beingWritten(name) && !killedOn.has(kind)) { killedOn.add(kind); killedWriting++; void kill(p.child, 'SIGKILL') }
        })
        try {
          address = await Promise.race([p.address, new Promise<undefined>(resolve => setTimeout(() => { resolve(undefined) }, 60_000))])
        } finally { watcher.close() }
        await kill(p.child, 'SIGKILL')
        const onDisk = await checkFiles()
        if (address !== undefined && onDisk !== undefined) expect(onDisk).toBe(address)
      }
      expect(address, 'a start got through').toMatch(/^[a-z2-7]{108}$/)
      // format.json, provider.key, identity.key, onion/N.key, guards.json: a start died writing each
      expect([...killedOn].sort()).toEqual([...KINDS].sort())
      // 2. running: onion keys rotated as fast as it answers; killed mid-write (at a temp file) after a varying delay
      let relayId: string | undefined
      for (let round = 0; round < 4; round++) {
        const p = start()
        running.push(p.child)
        expect(await p.address).toBe(address)
        const st = await controlRequest(join(dir, 'control.sock'), 'GET', '/status', 5_000)
        const id: unknown = Reflect.get(st as object, 'peerId')
        relayId ??= String(id)
        expect(id).toBe(relayId)
        let stop = false
        const hammer = (async () => {
          while (!stop) {
            try { await controlRequest(join(dir, 'control.sock'), 'POST', '/rotate-onion', 2_000) } catch { break }
          }
        })()
        await new Promise(resolve => setTimeout(resolve, 100 + round * 150))
        let watcher: ReturnType<typeof watch> | undefined
        await new Promise<void>(resolve => {
          const fallback = setTimeout(() => { resolve() }, 5_000)
          let seen = false
          watcher = watch(dir, { recursive: true }, (_event, name) => {
            if (!seen && beingWritten(name)) { seen = true; killedWriting++; clearTimeout(fallback); resolve() }
          })
        })
        await kill(p.child, 'SIGKILL')
        watcher?.close()
        stop = true
        await hammer
        expect(await checkFiles()).toBe(address)
      }
      // 3. a clean start: the same address and relay, stale temp files gone, state files parse, the datastore opens
      const p = start()
      running.push(p.child)
      expect(await p.address).toBe(address)
      const st = await controlRequest(join(dir, 'control.sock'), 'GET', '/status', 5_000)
      expect(Reflect.get(st as object, 'peerId')).toBe(relayId)
      expect(st).toMatchObject({ sections: { provider: { address, mode: 'public' } } })
      expect((Reflect.get(st as object, 'onionKeys') as unknown[]).length).toBeGreaterThan(0)
      expect(await checkFiles()).toBe(address)
      const temps = [...(await readdir(dir)).filter(n => TEMP_FILE.test(n)), ...(await readdir(join(dir, 'onion'))).filter(n => TEMP_FILE.test(n))]
      expect(temps).toEqual([])
      expect(existsSync(join(dir, 'datastore'))).toBe(true)
      console.log(`provider crash test: ${killedWriting} kills while a temp file was being written`)
      await kill(p.child, 'SIGTERM')
    } finally {
      for (const c of running) await kill(c, 'SIGKILL')
      await net.stop()
      await h.cleanup()
    }
  })
})
