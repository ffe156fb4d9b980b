/**
 * The genuine client of hidden-flood.slow.test.ts, run as its own process (a client does
 * not share the provider's CPU; in one process the provider's work under the flood would
 * delay this client's circuit builds by seconds of event-loop lag):
 *
 *   node test/registry/genuine.ts '{"bootstrap":[…],"address":"…"}'
 *
 * A consumer node fetches the provider's descriptor (clients cache descriptors) and prints
 * `ready`; on `go` (stdin) it introduces itself with the descriptor's suggested proof of
 * work, joins the provider at a rendezvous point and reads the verified catalogue, then
 * prints `reached {"ms":…,"tools":[…],"introductions":…,"refused":…,"steps":[…]}` and, on
 * `lookup`, times one more descriptor lookup: `lookup {"ms":…}`. Then it exits on `exit`.
 */
import { createInterface } from 'node:readline'
import { startConsumerNode } from '../../src/node/consumer-node.ts'
import { TESTNET_PARAMS } from '../../src/node/network-params.ts'
import { sessionOver } from './hidden-net.ts'

interface Config { bootstrap: string[], address: string }
const cfg = JSON.parse(process.argv[2] ?? '{}') as Config
const say = (line: string): void => { process.stdout.write(line + '\n') }

const consumer = await startConsumerNode({ bootstrap: cfg.bootstrap, testnet: true, params: TESTNET_PARAMS })
await consumer.ready
const { opened } = await consumer.registry.fetchDescriptor(cfg.address, { signal: AbortSignal.timeout(30_000) })
say('ready {}')

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = line.trim()
  if (cmd === 'go') {
    const steps: string[] = []
    const h0 = { ...consumer.hidden.counters }
    const t0 = performance.now()
    const conn = await consumer.hidden.connect(opened, {
      signal: AbortSignal.timeout(30_000),
      onStep: (e) => { steps.push(`${e.step}${'ok' in e ? (e.ok ? '' : ' FAILED') : ` ${e.status}`} ${e.ms.toFixed(0)}`) }
    })
    const joinedMs = performance.now() - t0
    const session = await sessionOver(t => conn.openStream(t), cfg.address, opened)
    const cat = await session.catalogue()
    const ms = performance.now() - t0
    conn.close()
    const h = consumer.hidden.counters
    say(`reached ${JSON.stringify({ ms, joinedMs, tools: cat.tools.map(t => t.definition.name), introductions: h.introductions - h0.introductions, refused: h.refused - h0.refused, steps })}`)
  } else if (cmd === 'lookup') {
    const t0 = performance.now()
    await consumer.registry.fetchDescriptor(cfg.address, { signal: AbortSignal.timeout(30_000) })
    say(`lookup ${JSON.stringify({ ms: performance.now() - t0 })}`)
  } else if (cmd === 'exit') break
}
await consumer.stop()
process.exit(0)
