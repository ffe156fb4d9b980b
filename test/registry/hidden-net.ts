/**
 * Hidden-provider fixtures over an in-process registry testnet (net.ts): a provider on a
 * client node with ONE entry relay running a HiddenService, its descriptor published with
 * the introduction points, and consumers with a HiddenClient.
 */
import type { NetClient, RegistryNet } from './net.ts'
import { hiddenNetwork } from '../../src/node/registry-glue.ts'
import { HiddenService, type HiddenServiceOptions } from '../../src/registry/hidden-service.ts'
import { HiddenClient } from '../../src/registry/hidden-client.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { buildDescriptor } from '../../src/registry/descriptor.ts'
import { signCatalogue } from '../../src/registry/catalogue.ts'
import { parseAddress } from '../../src/registry/identity.ts'
import { makeToolRecord } from '../../src/registry/tool.ts'
import { PROVIDER_TARGET, serveSession, ProviderSession, type MessageChannel } from '../../src/registry/session.ts'
import { StreamTargetTable, ECHO_TARGET, echoHandler, type OnionStream } from '../../src/onion/index.ts'
import { systemRng } from '../../src/registry/primitives.ts'
import { secureRng, systemClock } from '../../src/overlay/index.ts'
import type { RegistryParams } from '../../src/registry/params.ts'
import type { OpenedDescriptor } from '../../src/registry/descriptor.ts'

export interface HiddenProvider {
  readonly id: ProviderIdentity
  readonly client: NetClient
  readonly service: HiddenService
  readonly cat: { bytes: Uint8Array, digest: Uint8Array }
  readonly guard: string
  publish(): Promise<void>
  stop(): Promise<void>
}

export function streamChannel (stream: OnionStream): MessageChannel {
  return {
    send: async (m, o) => { await stream.send(m, o) },
    read: async (o) => stream.read(o),
    close: async () => { await stream.close() }
  }
}

export async function startHiddenProvider (net: RegistryNet, params: RegistryParams, entry: number, o: Partial<HiddenServiceOptions> = {}, id = ProviderIdentity.generate(systemRng)): Promise<HiddenProvider> {
  const client = await net.client({ entries: [entry] })
  const tools = [makeToolRecord({ name: 'echo', description: 'Echo back', inputSchema: { type: 'object' } }, '1.0.0', ['test'], id.address.text)]
  const cat = signCatalogue(id, { provider: id.address.text, serial: 1, issuedAt: Math.floor(Date.now() / 1000), tools }, systemRng)
  const targets = new StreamTargetTable()
  targets.register(PROVIDER_TARGET, async (stream) => {
    await serveSession(streamChannel(stream), { catalogue: () => cat.bytes, call: async (b) => b.slice().reverse() })
  })
  targets.register(ECHO_TARGET, echoHandler)
  const service = new HiddenService({ network: hiddenNetwork(client.node, client.circuits), clock: systemClock, rng: secureRng, targets, ...o })
  await service.start()
  const publish = async (): Promise<void> => {
    const d = buildDescriptor(id, {
      nowMs: Date.now(), rng: systemRng, periods: params.periods, lifetimeSeconds: params.lifetimeSeconds,
      reach: { mode: 'hidden', introPoints: service.introPointKeys() }, pow: service.powParams(), catalogue: { digest: cat.digest, version: 1 }
    })
    const res = await client.registry.publish(d)
    if (!res.ok) throw new Error(`publish failed: ${JSON.stringify(res.results)}`)
  }
  await publish()
  return {
    id, client, service, cat, guard: client.node.entries[0].peerId.toString(), publish,
    stop: async () => { service.stop(); await client.stop() }
  }
}

export function hiddenClientOf (c: NetClient): HiddenClient {
  return new HiddenClient({ network: hiddenNetwork(c.node, c.circuits), clock: systemClock, rng: secureRng })
}

/** A verified session over a hidden connection's PROVIDER_TARGET stream. */
export async function sessionOver (open: (t: string) => Promise<OnionStream>, address: string, opened: OpenedDescriptor): Promise<ProviderSession> {
  return new ProviderSession(streamChannel(await open(PROVIDER_TARGET)), parseAddress(address), opened.catalogue.digest)
}
