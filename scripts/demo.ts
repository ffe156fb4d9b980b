/**
 * `npm run demo`: Veil's main job on a local testnet it starts by itself, then stops.
 *
 * Today: start a loopback testnet of relay processes, wait until every relay's
 * directory holds every verified descriptor, start an anonymous client host that fills
 * its directory only through its entry relays, build a 3-hop onion circuit (hybrid
 * X25519 + ML-KEM-768 handshake per hop, CGO layers), send messages through it to the
 * last hop's echo target, and print the hops, the latency and what each party saw.
 * Leaves nothing running. Grows into the full bridge → provider demo.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestnet, type Testnet } from '../src/node/testnet.ts'
import { startClientNode, type ClientNode } from '../src/node/client.ts'
import { attachCircuits, type ClientCircuits } from '../src/node/onion-glue.ts'

const NODES = Number(process.env.VEIL_DEMO_NODES ?? 6)
const started = Date.now()
const out = (s: string): void => { process.stdout.write(s + '\n') }
const short = (id: string): string => id.slice(-6)
const home = await mkdtemp(join(tmpdir(), 'veil-demo-'))
let net: Testnet | undefined
let client: ClientNode | undefined
let circuits: ClientCircuits | undefined
const abort = new AbortController()
const onSignal = (): void => { abort.abort() }
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)

try {
  out(`Veil demo — a local testnet in ${home}\n`)
  net = await startTestnet({ home, nodes: NODES, signal: abort.signal, onProgress: (line) => { process.stderr.write(`  ${line}\n`) } })
  out(`\n1. ${NODES} relays, each its own process on its own 127.x address, ready in ${(net.readyMs / 1000).toFixed(1)} s:`)
  for (const r of net.info.relays) out(`   relay ${r.index}  …${short(r.peerId)}  ${r.addrs[0].split('/p2p/')[0]}`)

  client = await startClientNode({ bootstrap: net.info.relays.map(r => r.addrs[0]), entryCount: 3, minDirectory: NODES })
  const t0 = Date.now()
  await client.ready
  const entries = new Set(client.entries.map(e => e.peerId.toString()))
  out(`\n2. An anonymous client host (fresh peer id …${short(client.peerId.toString())}, no listen address, no DHT, no identify)`)
  out(`   filled its directory through ${entries.size} entry relays in ${Date.now() - t0} ms:`)
  out(`   ${client.directory.confirmed(2).length}/${NODES} relays, every descriptor signature-checked and confirmed by ≥ 2 entry relays`)

  circuits = await attachCircuits(client, { hops: 3, startManager: false })
  const tb = Date.now()
  const circuit = await circuits.manager.get({ signal: AbortSignal.timeout(20_000) })
  const buildMs = Date.now() - tb
  const hops = circuit.path.map(h => h.peer)
  const indexOf = (id: string): number => net!.info.relays.findIndex(r => r.peerId === id)
  out(`\n3. A 3-hop circuit, built telescopically in ${buildMs} ms (one hybrid X25519 + ML-KEM-768 handshake per hop):`)
  out(`   client → relay ${indexOf(hops[0])} …${short(hops[0])} → relay ${indexOf(hops[1])} …${short(hops[1])} → relay ${indexOf(hops[2])} …${short(hops[2])} (echo)`)
  const stream = await circuit.openStream('echo', { signal: AbortSignal.timeout(10_000) })
  const sizes = [1, 1024, 100 * 1024, 1024 * 1024]
  for (const n of sizes) {
    const msg = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff)
    const t = performance.now()
    const [, back] = await Promise.all([stream.send(msg), stream.read({ signal: AbortSignal.timeout(30_000) })])
    const ms = performance.now() - t
    const ok = back instanceof Uint8Array && back.length === n && Buffer.from(back).equals(msg)
    out(`   ${String(n).padStart(8)} bytes there and back: ${ms.toFixed(1).padStart(7)} ms ${ok ? 'byte-exact' : 'MISMATCH'}`)
    if (!ok) throw new Error('echo mismatch')
  }
  await stream.close()

  out('\n4. What each party saw:')
  for (let i = 0; i < net.info.relays.length; i++) {
    const st = await net.status(i)
    const saw = client.peerId.toString() in st.peersSeen
    const inDht = st.dhtPeersEver.includes(client.peerId.toString())
    const pos = hops.indexOf(st.peerId)
    const role = pos === 0
      ? 'guard: the client\'s throwaway peer id and the middle relay; never the destination'
      : pos === 1 ? 'middle: only its two neighbour relays; not who, not what'
        : pos === 2 ? 'last hop: only the middle relay as predecessor, and the (echo) request — not who sent it'
          : saw ? 'an entry relay (served the directory); not on this circuit' : 'nothing of this client'
    const c: unknown = st.sections?.circuits
    const cells = typeof c === 'object' && c !== null ? Number(Reflect.get(c, 'forwardedOut') ?? 0) + Number(Reflect.get(c, 'forwardedIn') ?? 0) : 0
    out(`   relay ${i} …${short(st.peerId)}: ${role}${cells > 0 ? ` (${cells} cells forwarded, each 2048 bytes)` : ''}${inDht ? ' — AND ITS DHT RECORDED IT (bug)' : ''}`)
  }
  const st0 = await net.status(0)
  out(`\n5. Relay 0's own view: directory ${st0.directorySize} relays, ${st0.connectedPeers.length} peers connected, onion key ${st0.onionKeys[0]?.ageS ?? 0}s old;`)
  out(`   descriptors published ${st0.counters.descriptorsPublished}, directory fetches ${st0.counters.dirFetches}, rejected ${st0.counters.descriptorsRejected}`)
  out('\n(The registry and the MCP bridge join this demo as they land: see README.)')
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = abort.signal.aborted ? 130 : 1
} finally {
  await circuits?.stop()
  await client?.stop()
  await net?.stop()
  await rm(home, { recursive: true, force: true })
  out(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s; everything stopped.`)
}
