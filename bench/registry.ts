/**
 * Registry benchmark on an in-process loopback testnet of 50 relays (127.1–50.0.1,
 * OS-chosen ports, registry storers attached): a `public` provider publishes its
 * descriptors; a consumer then
 * - lookup_p50/p99_ms: finds, fetches and opens the descriptor by address (including
 *   building the circuit to a storer), VEIL_BENCH_LOOKUPS times (default 30);
 * - call_rtt_public_p50_ms: a small request/response over a warm session to the provider's
 *   relay, VEIL_BENCH_CALLS times (default 200);
 * - rendezvous_p50/p99_ms: a hidden provider (one guard, 3 introduction points) reached
 *   from its opened descriptor — RP circuit, introduction, the provider's circuit to the
 *   RP, RENDEZVOUS2 — VEIL_BENCH_RENDEZVOUS times (default 30); includes the retries
 *   when the client picked an RP the provider refuses (its guard or layer-2 guard);
 * - call_rtt_hidden_p50_ms: the same small call over a warm rendezvous channel.
 * Last line: {"bench":"registry","relays":50,"lookup_p50_ms":…,"lookup_p99_ms":…,"rendezvous_p50_ms":…,
 *   "rendezvous_p99_ms":…,"call_rtt_hidden_p50_ms":…,"call_rtt_public_p50_ms":…,"commit":…}
 * Env: VEIL_BENCH_RELAYS (default 50).
 */
import { startRegistryNet } from '../test/registry/net.ts'
import { startHiddenProvider, hiddenClientOf, sessionOver } from '../test/registry/hidden-net.ts'
import { servePublicProvider, relayIdOf } from '../src/node/registry-glue.ts'
import { ProviderIdentity } from '../src/registry/identity.ts'
import { buildDescriptor } from '../src/registry/descriptor.ts'
import { signCatalogue } from '../src/registry/catalogue.ts'
import { makeToolRecord } from '../src/registry/tool.ts'
import { testnetParams } from '../src/registry/params.ts'
import { systemRng } from '../src/registry/primitives.ts'
import { percentile, report, round } from './common.ts'

const RELAYS = Number(process.env.VEIL_BENCH_RELAYS ?? 50)
const LOOKUPS = Number(process.env.VEIL_BENCH_LOOKUPS ?? 30)
const CALLS = Number(process.env.VEIL_BENCH_CALLS ?? 200)
const RENDEZVOUS = Number(process.env.VEIL_BENCH_RENDEZVOUS ?? 30)
const log = (s: string): void => { process.stderr.write(s + '\n') }

const params = testnetParams(600, { eligibilityAgeMs: 0 })
const t0 = performance.now()
const net = await startRegistryNet(RELAYS, params, { readyMs: 180_000 })
try {
  log(`${RELAYS} relays ready in ${round((performance.now() - t0) / 1000, 1)} s`)
  const id = ProviderIdentity.generate(systemRng)
  const tools = [makeToolRecord({ name: 'echo', description: 'Echo back', inputSchema: { type: 'object' } }, '1.0.0', [], id.address.text)]
  const cat = signCatalogue(id, { provider: id.address.text, serial: 1, issuedAt: Math.floor(Date.now() / 1000), tools }, systemRng)
  const providerRelay = net.relays[RELAYS - 1]
  servePublicProvider(providerRelay.onion, { catalogue: () => cat.bytes, call: async (b) => b })
  const publisher = await net.client({ entries: [2, 3] })
  const consumer = await net.client({ entries: [0, 1] })
  const res = await publisher.registry.publish(buildDescriptor(id, {
    nowMs: Date.now(), rng: systemRng, periods: params.periods, lifetimeSeconds: params.lifetimeSeconds,
    reach: { mode: 'public', relay: providerRelay.node.peerId.toMultihash().bytes }, pow: null, catalogue: { digest: cat.digest, version: 1 }
  }))
  log(`published: ${res.acknowledged}/${res.attempted} storers acknowledged`)
  const lookups: number[] = []
  let opened
  for (let i = 0; i < LOOKUPS; i++) {
    const s = performance.now()
    opened = (await consumer.registry.fetchDescriptor(id.address.text)).opened
    lookups.push(performance.now() - s)
  }
  const session = await consumer.registry.connectPublic(id.address.text, opened!, relayIdOf)
  await session.catalogue()
  const rtts: number[] = []
  const msg = new Uint8Array(1024)
  for (let i = 0; i < CALLS; i++) {
    const s = performance.now()
    await session.call(msg)
    rtts.push(performance.now() - s)
  }
  await session.close()

  // hidden provider: rendezvous set-up and calls over the joined channel
  const hidden = await startHiddenProvider(net, params, 4)
  const { opened: hiddenOpened } = await consumer.registry.fetchDescriptor(hidden.id.address.text)
  const hc = hiddenClientOf(consumer)
  const rendezvous: number[] = []
  for (let i = 0; i < RENDEZVOUS; i++) {
    const s = performance.now()
    const conn = await hc.connect(hiddenOpened, { signal: AbortSignal.timeout(30_000) })
    rendezvous.push(performance.now() - s)
    conn.close()
  }
  const conn = await hc.connect(hiddenOpened)
  const hiddenSession = await sessionOver(t => conn.openStream(t), hidden.id.address.text, hiddenOpened)
  await hiddenSession.catalogue()
  const hiddenRtts: number[] = []
  for (let i = 0; i < CALLS; i++) {
    const s = performance.now()
    await hiddenSession.call(msg)
    hiddenRtts.push(performance.now() - s)
  }
  await hiddenSession.close()
  conn.close()
  log(`hidden: ${hidden.service.counters.rendezvous} rendezvous, ${hidden.service.counters.refusedRp} RPs refused (guard/L2)`)
  await hidden.stop()

  lookups.sort((a, b) => a - b)
  rtts.sort((a, b) => a - b)
  rendezvous.sort((a, b) => a - b)
  hiddenRtts.sort((a, b) => a - b)
  report('registry', {
    relays: RELAYS,
    lookup_p50_ms: round(percentile(lookups, 0.5)),
    lookup_p99_ms: round(percentile(lookups, 0.99)),
    rendezvous_p50_ms: round(percentile(rendezvous, 0.5)),
    rendezvous_p99_ms: round(percentile(rendezvous, 0.99)),
    call_rtt_hidden_p50_ms: round(percentile(hiddenRtts, 0.5)),
    call_rtt_public_p50_ms: round(percentile(rtts, 0.5))
  })
} finally {
  await net.stop()
}
