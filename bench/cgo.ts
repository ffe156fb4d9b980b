/**
 * Micro-benchmark of the onion crypto core: one CGO layer operation at
 * CELL_SIZE (relay forwarding: no key update), POLYVAL over 2 KB (the 4-bit
 * tables, the 256-entry table in JavaScript, and in WebAssembly — the one CGO
 * uses), an endpoint operation (with key update), and the handshake steps.
 * Each figure is the best of 5 rounds (the machine is shared).
 * Run: node bench/cgo.ts   (last line: one JSON object)
 */
import os from 'node:os'
import { execFileSync } from 'node:child_process'
import { VEIL_CGO_PARAMS, cgoLayout, clientLayer, relayLayer } from '../src/onion/cgo.ts'
import { PolyvalKey, PolyvalKey8, polyvalBackend, polyvalBlocks, polyvalBlocks8Js, polyvalTweak8 } from '../src/onion/polyval.ts'
import { CellCommand } from '../src/onion/cell.ts'
import { RelayHandshakeKeys, clientFinish, clientStart, generateOnionKey, relayRespond } from '../src/onion/handshake.ts'
import { systemRng } from '../src/onion/primitives.ts'
import { CGO_STATE_SEED_LEN, RELAY_ID_LEN } from '../src/onion/constants.ts'

function perOp (label: string, n: number, f: () => void): number {
  for (let i = 0; i < Math.min(n, 500); i++) f()
  let us = Infinity
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now()
    for (let i = 0; i < n; i++) f()
    us = Math.min(us, (performance.now() - t0) * 1000 / n)
  }
  console.log(`${label.padEnd(44)} ${us.toFixed(2).padStart(9)} µs/op`)
  return us
}

const layout = cgoLayout(VEIL_CGO_PARAMS)
const keys = { forward: systemRng(CGO_STATE_SEED_LEN), backward: systemRng(CGO_STATE_SEED_LEN) }
const relay = relayLayer(layout, keys)
const client = clientLayer(layout, keys)
const body = new Uint8Array(layout.bodyLen); body.set(systemRng(layout.bodyLen)) // fresh buffer, as decodeCell returns

const cgoLayerUs = perOp('CGO relay layer op (forward, no rekey)', 20000, () => { relay.outbound.decryptOutbound(CellCommand.RELAY, body) })
perOp('CGO relay layer op (backward, no rekey)', 20000, () => { relay.inbound.encryptInbound(CellCommand.RELAY, body) })
perOp('CGO client originate (incl. key update)', 5000, () => { client.outbound.originateFor(CellCommand.RELAY, body) })

const pk = new PolyvalKey(systemRng(16))
const words = new Uint32Array(512)
const s = new Uint32Array(4)
perOp('POLYVAL over 2048 bytes, 4-bit tables', 20000, () => { polyvalBlocks(pk, s, words, 0, 128) })
const pk8 = new PolyvalKey8(systemRng(16))
perOp('POLYVAL over 2048 bytes, 256-entry table, JS', 20000, () => { polyvalBlocks8Js(pk8, s, words, 0, 128) })
// as CGO's ET runs it: a 16-byte tag, one AD byte and the rest of the body written into the module's input
const tweakScratch = new Uint8Array(128 * 16)
const tweakTail = new Uint8Array(128 * 16 - 17)
const tweakHead = new Uint8Array(16)
const tweakScratchWords = new Uint32Array(tweakScratch.buffer)
const polyvalUs = perOp(`POLYVAL over 2048 bytes, as CGO runs it (${polyvalBackend()})`, 20000, () => { polyvalTweak8(pk8, s, tweakHead, 3, tweakTail, 128, tweakScratch, tweakScratchWords) })

const id = systemRng(RELAY_ID_LEN)
const onion = generateOnionKey(systemRng)
const relayKeys = new RelayHandshakeKeys(id, [onion])
let pending = clientStart(systemRng, { id, onionKey: onion.publicKey })
let reply = relayRespond(relayKeys, pending.message, systemRng).reply
const startUs = perOp('handshake clientStart', 300, () => { clientStart(systemRng, { id, onionKey: onion.publicKey }) })
const relayUs = perOp('handshake relayRespond', 300, () => { relayRespond(relayKeys, pending.message, systemRng) })
// clientFinish consumes its state, so each op needs a fresh start and reply: time the three, subtract the two
const finishUs = perOp('handshake start + respond + finish', 300, () => {
  pending = clientStart(systemRng, { id, onionKey: onion.publicKey })
  reply = relayRespond(relayKeys, pending.message, systemRng).reply
  clientFinish(pending.state, reply)
}) - startUs - relayUs
console.log(`${'handshake clientFinish (by difference)'.padEnd(44)} ${finishUs.toFixed(2).padStart(9)} µs/op`)

let commit = 'unknown'
try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim() } catch {}
console.log(JSON.stringify({
  bench: 'cgo',
  cgo_layer_us: Number(cgoLayerUs.toFixed(2)),
  polyval_2k_us: Number(polyvalUs.toFixed(2)),
  handshake_client_ms: Number(((startUs + finishUs) / 1000).toFixed(3)),
  handshake_relay_ms: Number((relayUs / 1000).toFixed(3)),
  node: process.version,
  cpus: os.cpus().length,
  commit
}))
