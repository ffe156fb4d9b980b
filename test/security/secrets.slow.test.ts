/**
 * No secret leaks into output. Every process runs with --log-level debug; every secret it
 * generates, loads or derives is collected through the test-only hook on the key
 * generators (VEIL_TEST_ONLY_SECRETS_DUMP in children, setSecretObserverForTests here):
 * identity, onion, session (circuit handshakes), introduction, rendezvous, end-to-end,
 * client-auth and blinded keys. Then every log, every `veil status --json`, every stdout
 * and stderr and the error messages are searched for each secret in every encoding a test
 * can check (raw, hex, base64, base64url, base32, base58btc; identities also as libp2p
 * protobuf).
 *
 * 1. The demo itself (`scripts/demo.ts --log-level debug`, kept home): a testnet of relay
 *    processes, a public provider and a bridge (in the demo's process), an MCP client's
 *    calls; the relays' statuses are read while it runs.
 * 2. What the demo has no room for, as a user runs it: a 12-relay testnet, `veil provide
 *    --hidden` (introduction points, rendezvous, end-to-end channel), `veil provide`
 *    (public, with a control socket), `veil bridge --stdio` serving both to an MCP client,
 *    `veil call`, and commands that fail; plus circuits built in this process.
 */
import { describe, it, expect } from 'vitest'
import { readFile, readdir } from 'node:fs/promises'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { privateKeyToProtobuf, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { Client } from '@modelcontextprotocol/client'
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio'
import { startTestnet, readTestnetFile } from '../../src/node/testnet.ts'
import { controlRequest } from '../../src/node/control.ts'
import { startClientNode } from '../../src/node/client.ts'
import { attachCircuits } from '../../src/node/onion-glue.ts'
import { setSecretObserverForTests, SECRETS_DUMP_ENV } from '../../src/overlay/index.ts'
import { tempHome } from '../overlay/helpers.ts'
import { findLeaks, type NamedSecret } from './encodings.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const VEIL = join(ROOT, 'bin', 'veil.js')
const NODE = process.execPath

/** Our environment without VEIL_* settings, plus `extra`. */
function env (extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) out[k] = v
  return { ...out, ...extra }
}

interface Proc { readonly child: ChildProcess, stdout: () => string, stderr: () => string, readonly exited: Promise<number | null> }

function run (args: string[], e: Record<string, string>): Proc {
  const child = spawn(NODE, args, { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d })
  const exited = new Promise<number | null>(resolve => { child.once('exit', (code) => { resolve(code) }) })
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function until<T> (f: () => T | undefined | Promise<T | undefined>, ms: number, what: () => string): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function stop (p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill('SIGTERM')
  const t = setTimeout(() => { p.child.kill('SIGKILL') }, 15_000)
  await p.exited
  clearTimeout(t)
}

/** The secrets in a dump file, plus identities in libp2p protobuf form. */
async function readDump (path: string): Promise<NamedSecret[]> {
  const out: NamedSecret[] = []
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    const [kind, hex] = line.split(' ')
    if (kind !== undefined && hex !== undefined && hex !== '') out.push({ kind, bytes: new Uint8Array(Buffer.from(hex, 'hex')) })
  }
  return withProtobufForms(out)
}

function withProtobufForms (secrets: NamedSecret[]): NamedSecret[] {
  const extra: NamedSecret[] = []
  for (const s of secrets) {
    // libp2p Ed25519 private keys (64 bytes: seed | public key)
    if ((s.kind === 'identity' || s.kind === 'client-identity') && s.bytes.length === 64) {
      extra.push({ kind: `${s.kind}-protobuf`, bytes: privateKeyToProtobuf(privateKeyFromRaw(s.bytes)) })
    }
  }
  return [...secrets, ...extra]
}

function count (secrets: readonly NamedSecret[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of secrets) out[s.kind] = (out[s.kind] ?? 0) + 1
  return out
}

async function addLogs (dir: string, name: (entry: string) => string, texts: Map<string, string>, raws: Map<string, Buffer>, file = 'relay.log'): Promise<number> {
  let n = 0
  for (const d of await readdir(dir)) {
    let log: Buffer
    try { log = await readFile(join(dir, d, file)) } catch { continue }
    texts.set(name(d), log.toString('utf8'))
    raws.set(name(d), log)
    n++
  }
  return n
}

describe('secrets never appear in logs, status or errors', { timeout: 300_000 }, () => {
  it('the demo with --log-level debug in every process leaks none', async () => {
    const h = await tempHome('veil-secrets-demo-')
    try {
      const dump = join(h.dir, 'secrets.dump')
      const demoHome = join(h.dir, 'demo')
      const demo = run(['scripts/demo.ts', '--log-level', 'debug'], env({ VEIL_DEMO_HOME: demoHome, VEIL_DEMO_NODES: '5', [SECRETS_DUMP_ENV]: dump }))
      const texts = new Map<string, string>()
      const raws = new Map<string, Buffer>()
      // every relay's status while the demo runs: once the testnet is up, and again during the calls
      const statuses = async (label: string, required: boolean): Promise<void> => {
        const { info } = await readTestnetFile(demoHome)
        if (info === undefined) { if (required) throw new Error('no testnet.json while the demo runs'); return }
        await Promise.all(info.relays.map(async (r, i) => {
          try { texts.set(`demo status ${label} relay ${i}`, JSON.stringify(await controlRequest(r.control, 'GET', '/status'))) } catch (err) { if (required) throw err }
        }))
      }
      await until(() => /^1\. /m.test(demo.stdout()) ? true : (demo.child.exitCode !== null ? false : undefined), 120_000, () => `the demo's testnet (${demo.stderr().slice(-300)})`)
      await statuses('at start', true)
      await until(() => /^4\. /m.test(demo.stdout()) || demo.child.exitCode !== null ? true : undefined, 120_000, () => `the demo's calls (${demo.stderr().slice(-300)})`)
      await statuses('during calls', false)
      const code = await demo.exited
      expect(code, demo.stderr().slice(-2000)).toBe(0)
      expect(demo.stdout()).toMatch(/everything stopped/)
      expect(texts.size).toBeGreaterThanOrEqual(5)
      texts.set('demo stdout', demo.stdout())
      texts.set('demo stderr', demo.stderr())
      raws.set('demo stderr', Buffer.from(demo.stderr()))
      // the demo's own provider node logged (at debug level: it has few debug lines of its own)
      expect(demo.stderr()).toMatch(/\[provider\] \S+ info {2}relay started/)
      expect(await addLogs(join(demoHome, 'testnet'), d => `demo ${d}/relay.log`, texts, raws)).toBe(5)

      const secrets = await readDump(dump)
      const kinds = count(secrets)
      expect(kinds.identity).toBeGreaterThanOrEqual(6) // 5 relays and the provider's relay
      expect(kinds.onion).toBeGreaterThanOrEqual(6)
      for (const k of ['client-identity', 'provider-identity', 'session', 'blinded', 'client-auth']) expect(kinds[k] ?? 0, k).toBeGreaterThan(0)
      console.log(`demo: ${secrets.length} secrets ${JSON.stringify(kinds)} searched in ${texts.size} texts (${[...texts.values()].reduce((n, t) => n + t.length, 0)} characters)`)
      expect(findLeaks(secrets, texts, raws)).toEqual([])
      // the haystacks are real: the logs and statuses name the relays' (public) peer ids
      expect([...texts.values()].join('\n')).toMatch(/12D3KooW/)
    } finally { await h.cleanup() }
  })

  it('a hidden provider, a public provider, a bridge and veil call, all debug-logged, leak none', async () => {
    const h = await tempHome('veil-secrets-hidden-')
    const dump = join(h.dir, 'secrets.dump')
    const local: NamedSecret[] = []
    const procs: Proc[] = []
    const texts = new Map<string, string>()
    const raws = new Map<string, Buffer>()
    const prev = process.env[SECRETS_DUMP_ENV]
    let mcp: Client | undefined
    let bridgeStderr = ''
    const netHome = join(h.dir, 'net')
    try {
      // testnet relays inherit our environment: they dump their secrets too
      process.env[SECRETS_DUMP_ENV] = dump
      // hidden mode needs room: the bridge's 3 entry relays and 4 layer-2 guards are never its
      // rendezvous point, and the provider refuses its own guard and layer-2 guards
      const net = await startTestnet({ home: netHome, nodes: 12, logLevel: 'debug' })
      try {
        const boot = [...net.info.relays.flatMap(r => ['--bootstrap', r.addrs[0]]), '--testnet']
        // circuits from this process (the in-process observer), before the providers' relays join: every exit is a testnet relay, which serves echo
        setSecretObserverForTests((kind, bytes) => { local.push({ kind, bytes: bytes.slice() }) })
        const node = await startClientNode({ bootstrap: net.info.relays.slice(0, 3).map(r => r.addrs[0]), minDirectory: 12 })
        await node.ready
        const circuits = await attachCircuits(node, { hops: 3, startManager: false })
        try {
          for (let i = 0; i < 2; i++) {
            const c = await circuits.manager.get({ fresh: true, signal: AbortSignal.timeout(30_000) })
            const s = await c.openStream('echo', { signal: AbortSignal.timeout(20_000) })
            const msg = new Uint8Array(20_000).fill(i + 1)
            const [, back] = await Promise.all([s.send(msg), s.read({ signal: AbortSignal.timeout(30_000) })])
            expect(back?.length).toBe(msg.length)
          }
        } finally {
          await circuits.stop(); await node.stop()
          setSecretObserverForTests(undefined)
        }

        const debug = (dir: string): string[] => ['--log-level', 'debug', '--log-file', join(dir, 'veil.log')]
        const homeOf = (name: string): string => join(h.dir, name)
        const provide = (name: string, hidden: boolean): Proc => {
          const p = run([VEIL, 'provide', ...boot, ...(hidden ? ['--hidden'] : []), ...debug(homeOf(name)), '--stdio', '--', NODE, 'examples/tools-server.ts'],
            env({ VEIL_HOME: homeOf(name), [SECRETS_DUMP_ENV]: dump }))
          procs.push(p)
          return p
        }
        const hiddenProc = provide('hidden', true)
        const publicProc = provide('public', false)
        const addressOf = async (p: Proc, what: string): Promise<string> => until(() => p.stdout().includes('\n') ? p.stdout().split('\n')[0] : (p.child.exitCode !== null ? 'exited' : undefined), 120_000, () => `${what}'s address (${p.stderr().slice(-300)})`)
        const [hid, pub] = await Promise.all([addressOf(hiddenProc, 'the hidden provider'), addressOf(publicProc, 'the public provider')])
        expect(hid, hiddenProc.stderr()).toMatch(/^[a-z2-7]{108}$/)
        expect(pub, publicProc.stderr()).toMatch(/^[a-z2-7]{108}$/)

        // the bridge, serving both to an MCP client
        const transport = new StdioClientTransport({
          command: NODE,
          args: [VEIL, 'bridge', '--stdio', '--provider', `${hid}=hid`, '--provider', `${pub}=pub`, '--profile', 'fast', ...boot, ...debug(homeOf('bridge'))],
          cwd: ROOT,
          env: env({ VEIL_HOME: homeOf('bridge'), [SECRETS_DUMP_ENV]: dump }),
          stderr: 'pipe'
        })
        transport.stderr?.on('data', (d: Buffer) => { bridgeStderr += d.toString('utf8') })
        mcp = new Client({ name: 'secrets-test', version: '1.0.0' })
        await mcp.connect(transport)
        const client = mcp
        await until(async () => {
          const names = (await client.listTools()).tools.map(t => t.name)
          return names.includes('hid_echo') && names.includes('pub_echo') ? true : undefined
        }, 150_000, () => `both catalogues through the bridge (${bridgeStderr.slice(-300)})`)
        const results: unknown[] = []
        for (const [name, args] of [['hid_echo', { text: 'hello, hidden' }], ['hid_weather', { city: 'Zürich' }], ['hid_fail', { reason: 'on purpose' }], ['pub_echo', { text: 'hello, public' }], ['pub_fail', { reason: 'again' }], ['hid_nope', {}]] as const) {
          try { results.push(await client.callTool({ name, arguments: args })) } catch (err) { results.push({ thrown: err instanceof Error ? err.message : String(err) }) }
        }
        const shown = JSON.stringify(results)
        expect(shown).toMatch(/hello, hidden/)
        expect(shown).toMatch(/hello, public/)
        expect(shown).toMatch(/on purpose/)
        texts.set('MCP results and errors', shown)

        // veil call: one success through the hidden provider, one error
        const call = async (label: string, args: string[]): Promise<{ code: number | null, out: string }> => {
          const p = run([VEIL, 'call', ...args, ...boot, '--log-level', 'debug'], env({ VEIL_HOME: homeOf(label), [SECRETS_DUMP_ENV]: dump }))
          const code = await p.exited
          texts.set(`veil call ${label}`, p.stdout() + p.stderr())
          return { code, out: p.stdout() + p.stderr() }
        }
        const ok = await call('call-ok', [`${hid}/echo`, '--args', '{"text":"via veil call"}'])
        expect(ok.code, ok.out).toBe(0)
        expect(ok.out).toMatch(/via veil call/)
        const bad = await call('call-bad', [`${pub}/no_such_tool`])
        expect(bad.code, bad.out).toBe(4)

        // status of every process with a control socket: the relays, the public provider
        const status = (args: string[], home: string): string => {
          const r = spawnSync(NODE, [VEIL, 'status', ...args, '--log-level', 'debug'], { cwd: ROOT, env: env({ VEIL_HOME: home }), encoding: 'utf8', timeout: 30_000 })
          expect(r.status, r.stderr).toBe(0)
          return r.stdout + r.stderr
        }
        texts.set('veil status --json (testnet)', status(['--json'], netHome))
        texts.set('veil status --json (public provider)', status(['--json'], homeOf('public')))
        expect(texts.get('veil status --json (public provider)')).toMatch(new RegExp(pub))
        // commands that fail: their one-line errors
        for (const args of [['status', '--node', '42'], ['relay', '--listen', '/ip4/127.0.0.1/tcp/1', '--bootstrap', 'junk'], ['keys', 'show', '--json'], ['config', 'show', '--json']]) {
          const r = spawnSync(NODE, [VEIL, ...args, '--log-level', 'debug'], { cwd: ROOT, env: env({ VEIL_HOME: netHome }), encoding: 'utf8', timeout: 30_000 })
          texts.set(`veil ${args.join(' ')}`, r.stdout + r.stderr)
        }
        await mcp.close()
        mcp = undefined
        for (const p of procs) await stop(p)
      } finally {
        await mcp?.close().catch(() => {})
        for (const p of procs) await stop(p)
        await net.stop()
      }
      expect(await addLogs(join(netHome, 'testnet'), d => `${d}/relay.log`, texts, raws)).toBe(12)
      for (const name of ['hidden', 'public', 'bridge']) {
        const log = await readFile(join(h.dir, name, 'veil.log'))
        // `veil provide` logs each catalogue it signs at debug level
        if (name !== 'bridge') expect(log.toString('utf8'), name).toMatch(/ debug {1,2}catalogue signed/)
        texts.set(`${name}/veil.log`, log.toString('utf8'))
        raws.set(`${name}/veil.log`, log)
      }
      for (const [i, p] of procs.entries()) texts.set(`process ${i} stdout+stderr`, p.stdout() + p.stderr())
      texts.set('bridge stderr', bridgeStderr)
    } finally {
      setSecretObserverForTests(undefined)
      if (prev === undefined) delete process.env[SECRETS_DUMP_ENV]; else process.env[SECRETS_DUMP_ENV] = prev
    }
    const secrets = [...await readDump(dump), ...withProtobufForms(local)]
    const kinds = count(secrets)
    expect(kinds.identity).toBeGreaterThanOrEqual(13) // 12 relays and the public provider's relay
    expect(kinds.onion).toBeGreaterThanOrEqual(13)
    for (const k of ['client-identity', 'provider-identity', 'session', 'introduction', 'rendezvous', 'e2e', 'blinded', 'client-auth']) expect(kinds[k] ?? 0, k).toBeGreaterThan(0)
    expect(local.some(s => s.kind === 'session')).toBe(true)
    console.log(`hidden and public providers, bridge: ${secrets.length} secrets ${JSON.stringify(kinds)} searched in ${texts.size} texts (${[...texts.values()].reduce((n, t) => n + t.length, 0)} characters)`)
    expect(findLeaks(secrets, texts, raws)).toEqual([])
    expect([...texts.values()].join('\n')).toMatch(/12D3KooW/)
    await h.cleanup()
  })
})
