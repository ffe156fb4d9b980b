/**
 * An introduction flooder, run as its own process by hidden-flood.slow.test.ts (so that
 * generating and sending the flood does not share the test process's event loop).
 *
 *   node test/registry/flooder.ts '{"bootstrap":[…],"address":"…","rate":500,"seconds":12,"rps":[…]}'
 *
 * A client node whose entry relays are the provider's introduction points (`bootstrap`)
 * fetches the provider's descriptor, builds two one-hop circuits to each introduction
 * point — junk needs no anonymity, and the shortest circuit is the cheapest flood for the
 * attacker and the network (the IP cannot tell a circuit's length) — and precomputes rate × seconds distinct,
 * well-formed INTRODUCE1 messages without proof of work (each a fresh X25519 key and ML-KEM
 * encapsulation, naming an RP from `rps` — relays the provider accepts — so every one the
 * provider serves costs it a rendezvous circuit). It prints `ready {…}` and waits for `go`
 * on stdin; then sends at `rate` per second, spread over the circuits, for `seconds`, prints
 * `done {"sent":…,"sendErrors":…,"seconds":…}` and exits. Precomputing matters: one ML-KEM
 * encapsulation costs about as much as forwarding the cell, and the test measures the
 * provider under the flood, not the flooder's CPU.
 */
import { createInterface } from 'node:readline'
import { startClientNode } from '../../src/node/client.ts'
import { attachCircuits } from '../../src/node/onion-glue.ts'
import { hiddenNetwork, registryClient } from '../../src/node/registry-glue.ts'
import { TESTNET_PARAMS } from '../../src/node/network-params.ts'
import { HiddenClient } from '../../src/registry/hidden-client.ts'
import { clientIntroduce } from '../../src/registry/hs-crypto.ts'
import { RELAY_INTRODUCE1 } from '../../src/registry/constants.ts'
import { sha3_256, systemRng } from '../../src/registry/primitives.ts'
import { secureRng, systemClock } from '../../src/overlay/index.ts'
import type { Circuit } from '../../src/onion/index.ts'

interface Config { bootstrap: string[], address: string, rate: number, seconds: number, rps: string[] }
const cfg = JSON.parse(process.argv[2] ?? '{}') as Config
const say = (line: string): void => { process.stdout.write(line + '\n') }

const node = await startClientNode({ bootstrap: cfg.bootstrap, entryCount: cfg.bootstrap.length, confirmations: 1, timeoutMs: 60_000 })
await node.ready
const circuits = await attachCircuits(node, { startManager: false, confirmations: 1 })
const registry = registryClient(node, circuits, { params: TESTNET_PARAMS })
const net = hiddenNetwork(node, circuits)
const hc = new HiddenClient({ network: net, clock: systemClock, rng: secureRng })
const { opened } = await registry.fetchDescriptor(cfg.address, { signal: AbortSignal.timeout(30_000) })
if (opened.reach.mode !== 'hidden') throw new Error('not a hidden provider')
const ips = opened.reach.introPoints
const flood: Array<{ c: Circuit, ip: (typeof ips)[number] }> = []
for (const ip of [...ips, ...ips]) {
  const id = net.relayId(ip.relay)
  const c = await net.build(net.guards().includes(id) ? [id] : hc.paths.long(id), AbortSignal.timeout(15_000))
  c.onCommand = () => {}
  flood.push({ c, ip })
}
const rps = cfg.rps.filter(id => net.onionKey(id) !== undefined)
if (rps.length === 0) throw new Error('no usable rendezvous point')
const total = Math.ceil(cfg.rate * cfg.seconds)
const messages: Array<{ c: Circuit, m: Uint8Array }> = []
for (let i = 0; i < total; i++) {
  const { c, ip } = flood[i % flood.length]
  const rp = rps[i % rps.length]
  const { message } = clientIntroduce(systemRng, ip, { rpRelay: net.relayBytes(rp), rpOnionKeyId: sha3_256(net.onionKey(rp) as Uint8Array), cookie: systemRng(20) }, null)
  messages.push({ c, m: message })
}
say(`ready ${JSON.stringify({ circuits: flood.length, messages: messages.length })}`)

const lines = createInterface({ input: process.stdin })
for await (const line of lines) if (line.trim() === 'go') break

let sent = 0
let sendErrors = 0
const t0 = performance.now()
await new Promise<void>(resolve => {
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor((performance.now() - t0) / 1000 * cfg.rate))
    while (sent < due) {
      const { c, m } = messages[sent++]
      try { c.sendRelay(c.hops - 1, RELAY_INTRODUCE1, 0, m) } catch { sendErrors++ }
    }
    if (sent >= total) { clearInterval(timer); resolve() }
  }, 5)
})
const seconds = (performance.now() - t0) / 1000
// let the last cells leave before the circuits go
await new Promise(resolve => setTimeout(resolve, 500))
say(`done ${JSON.stringify({ sent, sendErrors, seconds })}`)
for (const { c } of flood) c.destroy()
await circuits.stop()
await node.stop()
process.exit(0)
