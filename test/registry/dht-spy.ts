/**
 * Counts the kad-dht queries relays start (get, put, getClosestPeers, findPeer, provide,
 * findProviders), by wrapping those methods on each relay's DHT service — in all, and
 * those started while a registry relay-command handler runs (its async context, tracked
 * with AsyncLocalStorage through a wrapper around each registered handler). The second
 * count is the "no relay issues a DHT query in response to a relay cell"; the
 * first also sees the relay's own background work (its descriptor publishing).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { RelayNode } from '../../src/node/relay.ts'
import type { OnionRelay } from '../../src/node/onion-glue.ts'
import {
  RELAY_REGISTRY_FETCH, RELAY_REGISTRY_STORE, RELAY_ESTABLISH_INTRO, RELAY_INTRODUCE1, RELAY_INTRO_CREDIT, RELAY_ESTABLISH_RENDEZVOUS,
  RELAY_RENDEZVOUS1, RELAY_RV_DATA, RELAY_RV_CREDIT, RELAY_RV_SENDME, RELAY_RV_CLOSE, RELAY_REGISTRY_STORE_ENTRY, RELAY_REGISTRY_FETCH_ENTRIES
} from '../../src/registry/constants.ts'

/** Every registry relay command: STORE/FETCH and the introduction/rendezvous roles. */
const COMMANDS = [
  RELAY_REGISTRY_STORE, RELAY_REGISTRY_FETCH, RELAY_ESTABLISH_INTRO, RELAY_INTRODUCE1, RELAY_INTRO_CREDIT, RELAY_ESTABLISH_RENDEZVOUS,
  RELAY_RENDEZVOUS1, RELAY_RV_DATA, RELAY_RV_CREDIT, RELAY_RV_SENDME, RELAY_RV_CLOSE, RELAY_REGISTRY_STORE_ENTRY, RELAY_REGISTRY_FETCH_ENTRIES
]

const METHODS = ['get', 'put', 'getClosestPeers', 'findPeer', 'provide', 'findProviders'] as const

export interface DhtSpy {
  total(): number
  /** Queries started inside a relay-cell handler. */
  causedByCells(): number
  /** Relay-cell handler invocations seen. */
  cells(): number
  restore(): void
}

export function countDhtQueries (relays: ReadonlyArray<{ node: RelayNode, onion: OnionRelay }>): DhtSpy {
  const als = new AsyncLocalStorage<boolean>()
  let total = 0
  let caused = 0
  let cells = 0
  const restores: Array<() => void> = []
  for (const r of relays) {
    const dht = r.node.host.services.dht as unknown as Record<string, unknown>
    for (const m of METHODS) {
      const orig = dht[m]
      if (typeof orig !== 'function') continue
      dht[m] = function (...args: unknown[]) {
        total++
        if (als.getStore() === true) caused++
        return Reflect.apply(orig, dht, args)
      }
      restores.push(() => { dht[m] = orig })
    }
    for (const cmd of COMMANDS) {
      const h = r.onion.commands.get(cmd)
      if (h === undefined) continue
      r.onion.commands.unregister(cmd)
      r.onion.commands.register(cmd, (ctx, cell) => { cells++; return als.run(true, () => h(ctx, cell)) })
      restores.push(() => { r.onion.commands.unregister(cmd); r.onion.commands.register(cmd, h) })
    }
  }
  return { total: () => total, causedByCells: () => caused, cells: () => cells, restore: () => { for (const f of restores) f() } }
}
