/**
 * `npm run demo`: Veil's main job on a local testnet it starts by itself, then stops.
 *
 * Today (foundation): start a loopback testnet of relay processes, wait until every
 * relay's directory holds every verified descriptor, start an anonymous client host
 * that fills its directory only through its entry relays, and print what each party
 * saw. Leaves nothing running. Grows into the full bridge → provider demo.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestnet, type Testnet } from '../src/node/testnet.ts'
import { startClientNode, type ClientNode } from '../src/node/client.ts'

const NODES = Number(process.env.VEIL_DEMO_NODES ?? 6)
const started = Date.now()
const out = (s: string): void => { process.stdout.write(s + '\n') }
const short = (id: string): string => id.slice(-6)
const home = await mkdtemp(join(tmpdir(), 'veil-demo-'))
let net: Testnet | undefined
let client: ClientNode | undefined
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

  out('\n3. What each party saw of the client:')
  for (let i = 0; i < net.info.relays.length; i++) {
    const st = await net.status(i)
    const saw = client.peerId.toString() in st.peersSeen
    const inDht = st.dhtPeersEver.includes(client.peerId.toString())
    out(`   relay ${i} …${short(st.peerId)}: ${saw ? 'a connection from a throwaway peer id (it is an entry relay)' : 'nothing'}${inDht ? ' — AND ITS DHT RECORDED IT (bug)' : ''}`)
  }
  const st0 = await net.status(0)
  out(`\n4. Relay 0's view: directory ${st0.directorySize} relays, ${st0.connectedPeers.length} peers connected, onion key ${st0.onionKeys[0]?.ageS ?? 0}s old;`)
  out(`   descriptors published ${st0.counters.descriptorsPublished}, directory fetches ${st0.counters.dirFetches}, rejected ${st0.counters.descriptorsRejected}`)
  out('\n(Circuits, the registry and the MCP bridge join this demo as they land: see README.)')
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = abort.signal.aborted ? 130 : 1
} finally {
  await client?.stop()
  await net?.stop()
  await rm(home, { recursive: true, force: true })
  out(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s; everything stopped.`)
}
