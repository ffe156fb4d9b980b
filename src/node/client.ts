/**
 * A client node (what a bridge, a consumer or a hidden provider runs): a client host
 * with a fresh identity, a small set of entry relays, and a directory filled only
 * through those entry relays.
 *
 *   const client = await startClientNode({ bootstrap: ['/ip4/127.1.0.1/tcp/4001/p2p/12D3…'] })
 *   await client.ready                  // directory holds ≥ minDirectory confirmed relays
 *   client.directory.confirmed(2)       // descriptors served by ≥ 2 entry relays
 *   await client.stop()
 *
 * The entry relays (the client's guards) are a small set chosen at random from the
 * bootstrap list and, given a `guardFile`, kept across restarts for 30–60 days each
 * (entry-guards.ts); they are the only peers this node ever dials. It announces nothing, runs no DHT and no identify, and the relays it
 * talks to learn only a throwaway peer id.
 * Must never: dial a relay that is not an entry relay; reuse a peer id across starts.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { ENTRY_LIFETIME, ENTRY_PROBE_TIMEOUT_MS, TESTNET_ENTRY_LIFETIME, loadEntryState, saveEntryState, selectEntries } from './entry-guards.ts'
import {
  createClientHost, ephemeralIdentity, Directory, fetchDirectory, peerIdOfAddr, shuffled, secureRng, systemClock, silentLog,
  InvalidDescriptorError, OverlayConfigError, OverlayNetworkError, DIR_PROTOCOL,
  type Clock, type Log, type Rng, type ClientHost
} from '../overlay/index.ts'

export interface ClientNodeOptions {
  bootstrap: string[]
  /** How many entry relays to use (Tor: 3 primary guards). */
  entryCount?: number
  /** Build nothing before the directory holds at least this many confirmed relays. */
  minDirectory?: number
  /** A descriptor counts as confirmed when this many entry relays served it. */
  confirmations?: number
  subnetRules?: boolean
  /**
   * Where the entry relays are persisted (`dataDir/guards.json`): kept across restarts as
   * Tor keeps its guards. Absent: drawn afresh on every start (tests, throwaway clients).
   */
  guardFile?: string
  /** Testnet clocks: an entry relay is kept for TESTNET_ENTRY_LIFETIME (minutes), not ENTRY_LIFETIME (days). */
  testnet?: boolean
  /**
   * A saved entry relay that does not answer a dial within this long at start is replaced
   * (default ENTRY_PROBE_TIMEOUT_MS): a dead guard must not keep a client from starting.
   */
  entryProbeTimeoutMs?: number
  /** Give up on the directory after this long. */
  timeoutMs?: number
  clock?: Clock
  rng?: Rng
  log?: Log
}

export interface ClientNode {
  readonly peerId: PeerId
  readonly host: ClientHost
  readonly directory: Directory
  readonly entries: ReadonlyArray<{ peerId: PeerId, addr: Multiaddr }>
  /** Resolves when the directory is usable; rejects with OverlayNetworkError on timeout. */
  readonly ready: Promise<void>
  refresh(): Promise<void>
  stop(): Promise<void>
}

export async function startClientNode (opts: ClientNodeOptions): Promise<ClientNode> {
  const clock = opts.clock ?? systemClock
  const rng = opts.rng ?? secureRng
  const log = opts.log ?? silentLog
  const confirmations = opts.confirmations ?? 2
  const entryCount = Math.max(opts.entryCount ?? 3, confirmations)
  const minDirectory = opts.minDirectory ?? 3
  const boots: Array<{ peerId: PeerId, addr: Multiaddr }> = []
  for (const b of opts.bootstrap) {
    const addr = multiaddr(b)
    const id = peerIdOfAddr(addr)
    if (id === undefined) throw new OverlayConfigError(`bootstrap address ${b} has no /p2p/<peer id>`)
    if (boots.some(x => x.peerId.toString() === id)) continue
    boots.push({ peerId: peerIdFromString(id), addr })
  }
  if (boots.length === 0) throw new OverlayNetworkError('no bootstrap peers')
  const host = await createClientHost({ privateKey: await ephemeralIdentity() })
  await host.start()
  let entries: Array<{ peerId: PeerId, addr: Multiaddr }>
  if (opts.guardFile === undefined) {
    entries = shuffled(boots, rng).slice(0, entryCount)
  } else {
    const file = opts.guardFile
    const offered = boots.map(b => b.peerId.toString())
    const byId = (id: string): { peerId: PeerId, addr: Multiaddr } | undefined => boots.find(b => b.peerId.toString() === id)
    const previous = await loadEntryState(file, (reason) => { log.warn('ignoring the saved entry relays', { file, reason }) })
    const lifetime = opts.testnet === true ? TESTNET_ENTRY_LIFETIME : ENTRY_LIFETIME
    let pick = selectEntries(previous, offered, entryCount, clock.now(), rng, lifetime)
    // saved entries that do not answer now are replaced (Tor moves on to its next guard)
    const saved = pick.chosen.slice(0, pick.kept)
    const probeMs = opts.entryProbeTimeoutMs ?? ENTRY_PROBE_TIMEOUT_MS
    const dead = (await Promise.all(saved.map(async id => {
      const b = byId(id)
      if (b === undefined) return id
      try { await host.dial(b.addr, { signal: AbortSignal.timeout(probeMs) }); return undefined } catch { return id }
    }))).filter((id): id is string => id !== undefined)
    const kept = pick.kept - dead.length // saved entries that answered
    if (dead.length > 0) {
      log.warn('saved entry relays did not answer: replaced', { count: dead.length })
      // offered without the dead ones: selectEntries drops their records itself, so the state changes
      pick = selectEntries(pick.state, offered.filter(id => !dead.includes(id)), entryCount, clock.now(), rng, lifetime)
    }
    entries = pick.chosen.map(byId).filter(b => b !== undefined)
    if (pick.changed) {
      try { await saveEntryState(file, pick.state) } catch (err) {
        log.warn('could not save the entry relays', { file, error: err instanceof Error ? err.message : String(err) })
      }
    }
    log.info('entry relays', { kept, new: pick.chosen.length - kept })
  }
  const directory = new Directory({ clock, subnetRules: opts.subnetRules })
  const entryIds = new Set(entries.map(e => e.peerId.toString()))

  const dial = async (peer: PeerId, signal: AbortSignal) => {
    const entry = entries.find(e => e.peerId.equals(peer))
    // the only peers this host ever dials are its entry relays
    if (entry === undefined || !entryIds.has(peer.toString())) throw new OverlayConfigError('refusing to dial a non-entry relay')
    return host.dialProtocol(entry.addr, DIR_PROTOCOL, { signal })
  }

  const refresh = async (): Promise<void> => {
    await Promise.all(entries.map(async e => {
      try {
        await fetchDirectory(dial, e.peerId, async (bytes) => {
          try { await directory.add(bytes, e.peerId.toString()) } catch (err) {
            if (!(err instanceof InvalidDescriptorError)) throw err
          }
        }, AbortSignal.timeout(20_000))
      } catch (err) {
        log.warn('entry relay did not serve its directory', { peer: e.peerId.toString().slice(-8), error: err instanceof Error ? err.message : String(err) })
      }
    }))
  }

  const timeoutMs = opts.timeoutMs ?? 60_000
  // stop() ends the wait for a directory at once (a bridge with no reachable relay must
  // exit promptly on SIGTERM, not after the directory timeout)
  const stopping = new AbortController()
  const ready = (async () => {
    const deadline = Date.now() + timeoutMs
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      await refresh()
      if (directory.confirmed(confirmations).length >= minDirectory) return
      if (stopping.signal.aborted) throw new OverlayNetworkError('client node stopped before its directory was complete')
      if (Date.now() + delay > deadline) {
        throw new OverlayNetworkError(`directory incomplete: ${directory.confirmed(confirmations).length} of ${minDirectory} relays confirmed by ${confirmations} entry relays`)
      }
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, delay)
        stopping.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
      if (stopping.signal.aborted) throw new OverlayNetworkError('client node stopped before its directory was complete')
    }
  })()
  ready.catch(() => {})

  return {
    peerId: host.peerId,
    host,
    directory,
    entries,
    ready,
    refresh,
    stop: async () => { stopping.abort(); await host.stop() }
  }
}
