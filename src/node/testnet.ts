/**
 * A local testnet: N relays on loopback, each its own `veil relay` process with its own
 * data dir under `<home>/testnet/relay-<i>`. Relay i listens on 127.<i+1>.0.1 (Linux
 * routes all of 127/8 to lo), so the /16 path rules hold as on a real network;
 * `singleAddress` puts every relay on 127.0.0.1 and switches the /16 rules off.
 *
 *   const net = await startTestnet({ home, nodes: 5, onProgress: line => console.error(line) })
 *   net.info.relays[0].addrs          // bootstrap addresses for clients
 *   await net.stop()
 *
 * Ready means every relay's directory holds every relay's verified descriptor. The
 * testnet writes `<home>/testnet.json` (0600) once ready and removes it on stop.
 * Children are tied to this process through an IPC channel: if it dies they stop too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readFile, rm } from 'node:fs/promises'
import { writeFileAtomic, ensureDir, isErrno } from '../overlay/index.ts'
import { controlRequest } from './control.ts'
import { CONTROL_SOCKET, type RelayStatus } from './relay.ts'

export const TESTNET_FILE = 'testnet.json'
export const TESTNET_FORMAT = 1
const VEIL_BIN = fileURLToPath(new URL('../../bin/veil.js', import.meta.url))

export interface TestnetRelayInfo {
  index: number
  peerId: string
  /** Dialable addresses, each ending in /p2p/<peer id>. */
  addrs: string[]
  control: string
  pid: number
  dataDir: string
}

export interface TestnetInfo {
  version: number
  network: 'testnet'
  pid: number
  startedAt: string
  singleAddress: boolean
  relays: TestnetRelayInfo[]
}

export interface TestnetOptions {
  home: string
  nodes: number
  singleAddress?: boolean
  /** First TCP port (relay i gets basePort + i); 0 lets the OS choose. */
  basePort?: number
  logLevel?: string
  /** Progress lines for a human (stderr). */
  onProgress?: (line: string, final: boolean) => void
  /** Give up if not ready by then. */
  readyTimeoutMs?: number
  signal?: AbortSignal
  /** Extra arguments for every `veil relay`. */
  relayArgs?: string[]
}

export interface Testnet {
  readonly info: TestnetInfo
  readonly readyMs: number
  /** PIDs of every process of the testnet (for RSS accounting). */
  pids(): number[]
  status(i: number): Promise<RelayStatus>
  /** Stop relay i (SIGTERM, or SIGKILL when `hard`). */
  kill(i: number, hard?: boolean): Promise<void>
  /** Start relay i again on its data dir; resolves when its control endpoint answers. */
  restart(i: number): Promise<TestnetRelayInfo>
  stop(): Promise<void>
}

export class TestnetError extends Error {
  override name = 'TestnetError'
}

function relayAddress (i: number, single: boolean): string {
  return single ? '127.0.0.1' : `127.${i + 1}.0.1`
}

export async function startTestnet (opts: TestnetOptions): Promise<Testnet> {
  const n = opts.nodes
  if (!Number.isInteger(n) || n < 1 || n > 250) throw new TestnetError('--nodes must be between 1 and 250')
  const single = opts.singleAddress === true
  const started = Date.now()
  const root = join(opts.home, 'testnet')
  await ensureDir(root)
  const progress = opts.onProgress ?? (() => {})
  const children: Array<ChildProcess | undefined> = new Array(n).fill(undefined)
  const infos: Array<TestnetRelayInfo | undefined> = new Array(n).fill(undefined)
  let stopped = false
  let bootstrap: string[] = []

  const dirOf = (i: number): string => join(root, `relay-${i}`)

  const spawnRelay = async (i: number): Promise<ChildProcess> => {
    const dir = dirOf(i)
    await ensureDir(dir)
    const args = [VEIL_BIN, 'relay', '--data-dir', dir, '--listen', `/ip4/${relayAddress(i, single)}/tcp/${(opts.basePort ?? 0) > 0 ? (opts.basePort ?? 0) + i : 0}`, '--testnet',
      '--log-file', join(dir, 'relay.log'), '--log-level', opts.logLevel ?? 'info']
    if (single) args.push('--single-address')
    for (const b of bootstrap) args.push('--bootstrap', b)
    args.push(...(opts.relayArgs ?? []))
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, VEIL_HOME: dir } })
    let errText = ''
    child.stderr?.on('data', (d: Buffer) => { if (errText.length < 4096) errText += d.toString('utf8') })
    child.on('exit', (code, sig) => {
      if (!stopped && children[i] === child) {
        progress(`testnet: relay ${i} exited (${sig ?? `code ${code}`})${errText !== '' ? ': ' + errText.trim().split('\n')[0] : ''}`, false)
      }
    })
    children[i] = child
    return child
  }

  const waitControl = async (i: number, child: ChildProcess, deadline: number): Promise<TestnetRelayInfo> => {
    const control = join(dirOf(i), CONTROL_SOCKET)
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new TestnetError(`relay ${i} exited during start-up (see ${join(dirOf(i), 'relay.log')})`)
      if (Date.now() > deadline) throw new TestnetError(`relay ${i} did not start in time`)
      try {
        const st = parseStatus(await controlRequest(control, 'GET', '/status', 2_000))
        if (st.addrs.length > 0) {
          const info: TestnetRelayInfo = { index: i, peerId: st.peerId, addrs: st.addrs.map(a => `${a}/p2p/${st.peerId}`), control, pid: child.pid ?? -1, dataDir: dirOf(i) }
          infos[i] = info
          return info
        }
      } catch { /* not up yet */ }
      await sleep(50)
    }
  }

  const stopAll = async (): Promise<void> => {
    stopped = true
    await Promise.all(children.map(async (c) => { if (c !== undefined) await stopChild(c, 10_000) }))
    await rm(join(opts.home, TESTNET_FILE), { force: true })
  }

  const onAbort = (): void => { void stopAll() }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  const deadline = started + (opts.readyTimeoutMs ?? Math.max(60_000, n * 3_000))
  try {
    progress(`testnet: starting ${n} relay${n === 1 ? '' : 's'} on ${single ? '127.0.0.1 (single address: /16 rules off)' : '127.<i+1>.0.1'}`, false)
    // Relay 0 first: every other relay bootstraps through it (plus whatever the DHT finds).
    const first = await waitControl(0, await spawnRelay(0), deadline)
    bootstrap = [first.addrs[0]]
    await Promise.all(Array.from({ length: n - 1 }, (_, k) => k + 1).map(async i => waitControl(i, await spawnRelay(i), deadline)))
    // Ready when every directory holds every relay.
    let lastLine = ''
    for (;;) {
      if (opts.signal?.aborted === true) throw new TestnetError('interrupted')
      const sizes = await Promise.all(infos.map(async (info) => {
        if (info === undefined) return 0
        try { return parseStatus(await controlRequest(info.control, 'GET', '/status', 5_000)).directorySize } catch { return 0 }
      }))
      const complete = sizes.filter(s => s >= n).length
      const line = `testnet: ${n} relays up; ${complete}/${n} directories complete (${sizes.reduce((a, b) => a + Math.min(b, n), 0)}/${n * n} descriptors)`
      if (line !== lastLine) { progress(line, false); lastLine = line }
      if (complete === n) break
      if (Date.now() > deadline) throw new TestnetError(`testnet not ready in time: ${complete}/${n} directories complete`)
      await sleep(200)
    }
  } catch (err) {
    opts.signal?.removeEventListener('abort', onAbort)
    await stopAll()
    throw err
  }
  const info: TestnetInfo = {
    version: TESTNET_FORMAT,
    network: 'testnet',
    pid: process.pid,
    startedAt: new Date(started).toISOString(),
    singleAddress: single,
    relays: infos.filter((x): x is TestnetRelayInfo => x !== undefined)
  }
  await writeFileAtomic(join(opts.home, TESTNET_FILE), JSON.stringify(info, null, 2) + '\n', 0o600)
  const readyMs = Date.now() - started
  progress(`testnet: ready in ${(readyMs / 1000).toFixed(1)} s — ${n} relays, every directory complete; ${join(opts.home, TESTNET_FILE)}`, true)

  return {
    info,
    readyMs,
    pids: () => children.flatMap(c => c?.pid !== undefined && c.exitCode === null ? [c.pid] : []),
    status: async (i) => parseStatus(await controlRequest(info.relays[i].control, 'GET', '/status')),
    kill: async (i, hard = false) => {
      const c = children[i]
      if (c === undefined) return
      children[i] = undefined
      if (hard) {
        c.kill('SIGKILL')
        await onceExit(c, 10_000)
      } else {
        await stopChild(c, 10_000)
      }
    },
    restart: async (i) => {
      if (children[i] !== undefined) throw new TestnetError(`relay ${i} is running`)
      const r = await waitControl(i, await spawnRelay(i), Date.now() + 30_000)
      info.relays[i] = r
      await writeFileAtomic(join(opts.home, TESTNET_FILE), JSON.stringify(info, null, 2) + '\n', 0o600)
      return r
    },
    stop: async () => {
      opts.signal?.removeEventListener('abort', onAbort)
      await stopAll()
    }
  }
}

async function stopChild (c: ChildProcess, timeoutMs: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return
  c.kill('SIGTERM')
  if (!await onceExit(c, timeoutMs)) {
    c.kill('SIGKILL')
    await onceExit(c, 5_000)
  }
}

function onceExit (c: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(true)
  return new Promise(resolve => {
    const t = setTimeout(() => { resolve(false) }, timeoutMs)
    c.once('exit', () => { clearTimeout(t); resolve(true) })
  })
}

function sleep (ms: number): Promise<void> { return new Promise(resolve => setTimeout(resolve, ms)) }

/** Check the shape of a relay's status answer (it crosses a process boundary). */
export function parseStatus (v: unknown): RelayStatus {
  if (typeof v !== 'object' || v === null) throw new TestnetError('bad status answer')
  const peerId: unknown = Reflect.get(v, 'peerId')
  const addrs: unknown = Reflect.get(v, 'addrs')
  const size: unknown = Reflect.get(v, 'directorySize')
  if (typeof peerId !== 'string' || !Array.isArray(addrs) || !addrs.every(a => typeof a === 'string') || typeof size !== 'number') {
    throw new TestnetError('bad status answer')
  }
  // the remaining fields are informational; the node that sent them is our own child
  return v as RelayStatus
}

/** Read `<home>/testnet.json` if the testnet that wrote it is still running. */
export async function readTestnetFile (home: string): Promise<{ info?: TestnetInfo, stale: boolean }> {
  let text: string
  try {
    text = await readFile(join(home, TESTNET_FILE), 'utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { stale: false }
    throw err
  }
  let v: unknown
  try { v = JSON.parse(text) } catch { return { stale: true } }
  if (typeof v !== 'object' || v === null) return { stale: true }
  const pid: unknown = Reflect.get(v, 'pid')
  const relays: unknown = Reflect.get(v, 'relays')
  if (typeof pid !== 'number' || !Array.isArray(relays)) return { stale: true }
  if (!pidAlive(pid)) return { stale: true }
  const out: TestnetRelayInfo[] = []
  for (const r of relays) {
    if (typeof r !== 'object' || r === null) return { stale: true }
    const peerId: unknown = Reflect.get(r, 'peerId')
    const addrs: unknown = Reflect.get(r, 'addrs')
    const control: unknown = Reflect.get(r, 'control')
    const index: unknown = Reflect.get(r, 'index')
    const rpid: unknown = Reflect.get(r, 'pid')
    const dataDir: unknown = Reflect.get(r, 'dataDir')
    if (typeof peerId !== 'string' || !Array.isArray(addrs) || !addrs.every(a => typeof a === 'string') || typeof control !== 'string' ||
      typeof index !== 'number' || typeof rpid !== 'number' || typeof dataDir !== 'string') return { stale: true }
    out.push({ peerId, addrs, control, index, pid: rpid, dataDir })
  }
  const singleAddress = Reflect.get(v, 'singleAddress') === true
  const startedAt = Reflect.get(v, 'startedAt')
  return { stale: false, info: { version: TESTNET_FORMAT, network: 'testnet', pid, startedAt: typeof startedAt === 'string' ? startedAt : '', singleAddress, relays: out } }
}

export function pidAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return isErrno(err, 'EPERM') }
}
