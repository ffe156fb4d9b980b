/**
 * `veil relay`: run a relay until SIGINT/SIGTERM (or, as a testnet child, until the
 * testnet process goes away), then stop cleanly.
 */
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { startRelayNode, type RelayNode } from '../../node/relay.ts'
import { attachOnionRelay, onionLinkHooks, type OnionRelay } from '../../node/onion-glue.ts'
import { resolveBootstrap } from '../../node/bootstrap.ts'
import { attachRegistryRelay, registryDhtNamespaces, type RegistryRelay } from '../../node/registry-glue.ts'
import { registryParamsFor } from '../../node/network-params.ts'
import { nodeErrorToCli, waitForStop } from './node-glue.ts'

export async function runRelay (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const testnet = opts.boolean('testnet')
  const explicit = opts.strings('bootstrap')
  let bootstrap: string[] = [...explicit]
  let network: string
  let warning: string | undefined
  if (testnet) {
    network = `network: local testnet relay${explicit.length > 0 ? ` (bootstrap ${explicit.length} peer${explicit.length === 1 ? '' : 's'})` : ' (first relay)'}`
  } else {
    const choice = await resolveBootstrap(ctx.dataDir, explicit, opts.source('bootstrap') === 'default' ? 'flag' : opts.source('bootstrap'))
    warning = choice.warning
    bootstrap = choice.peers
    network = choice.peers.length > 0 ? choice.network : 'network: new (no bootstrap peers: this relay starts a network of its own)'
  }
  // The network line is printed once the relay listens: a bad --listen stays one line.
  const announce = (): void => {
    ctx.stderr(`veil: ${network}\n`)
    if (warning !== undefined) ctx.stderr(`veil: ${warning}\n`)
  }
  const rotationHours = opts.number('onion-key-rotation-hours') ?? 24
  const stores = opts.number('max-stores-per-second')
  const records = opts.number('max-records-per-namespace')
  let node: RelayNode | undefined
  let onion: OnionRelay | undefined
  let registry: RegistryRelay | undefined
  // every relay stores descriptors; testnets run the registry on testnet clocks
  const params = registryParamsFor(testnet)
  const stopRequested = new AbortController()
  const hooks = onionLinkHooks()
  try {
    node = await startRelayNode({
      ...hooks,
      dataDir: ctx.dataDir,
      listen: [...opts.strings('listen')],
      announce: [...opts.strings('announce')],
      bootstrap,
      bandwidth: opts.number('bandwidth'),
      family: [...opts.strings('family')],
      testnet,
      singleAddress: opts.boolean('single-address'),
      onionKeyRotationMs: rotationHours * 3_600_000,
      maxQueuedCellsPerLink: opts.number('max-link-queue-cells'),
      control: opts.boolean('control'),
      log: ctx.log,
      namespaces: registryDhtNamespaces(undefined, params.periods),
      onListening: announce,
      onStopRequested: () => { stopRequested.abort() }
    })
    // Circuits on this relay's links; testnets also serve the echo stream target (demo, tests).
    onion = attachOnionRelay(node, hooks, {
      echo: testnet,
      maxCircuitsPerLink: opts.number('max-circuits-per-peer'),
      maxCircuits: opts.number('max-circuits'),
      createsPerSecond: opts.number('creates-per-second'),
      createsPerSecondPerLink: opts.number('creates-per-second-per-peer'),
      maxStreamsPerCircuit: opts.number('max-streams-per-circuit')
    })
    const counters = onion.counters
    const service = onion.service
    node.setStatusSection('circuits', () => ({ ...counters, misbehaviour: Object.fromEntries(counters.misbehaviour), limits: { ...counters.limits }, limitSettings: service.limits, open: service.size }))
    // testnets only: each circuit's two neighbours and its circuit ids on those links, so chaos
    // tests can tell which relays a circuit used; a circuit ending here as a hidden provider's
    // introduction circuit or as one side of a rendezvous also says so (role; `peer`: the
    // circuit key of the side it is joined to)
    if (testnet) {
      node.setStatusSection('circuitNeighbours', () => service.circuits().map(c => {
        const rv = registry?.rendezvous.sideOf(c.key)
        const role = registry?.intro.hasCircuit(c.key) === true ? 'intro' : rv !== undefined ? `rv-${rv.role}` : undefined
        return {
          key: c.key, prev: c.prev, next: c.next, prevCirc: c.prevCircId, nextCirc: c.nextCircId,
          ...(role !== undefined && { role }), ...(rv?.peer !== undefined && { peer: rv.peer })
        }
      }))
    }
    registry = await attachRegistryRelay(node, onion, {
      params,
      // set only what is given: the storer spreads these over its defaults
      limits: { ...(stores !== undefined && { maxStoresPerSecond: stores }), ...(records !== undefined && { maxRecordsPerNamespace: records }) },
      introLimits: { maxIntroductionsPerSecond: opts.number('max-introductions-per-second') }
    })
  } catch (err) {
    onion?.stop()
    await node?.stop()
    throw nodeErrorToCli(err)
  }
  await waitForStop([ctx.signal, stopRequested.signal])
  registry.stop()
  onion.stop()
  await node.stop()
  return 0
}

