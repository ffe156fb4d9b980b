/**
 * Paths of hidden-provider circuits, vanguards-lite shaped (proposal 333):
 *
 *   client   → rendezvous point     G L2 RP
 *   client   → introduction point   G L2 M IP
 *   provider → IP, provider → RP    G L2 M X
 *
 * G is one of the caller's entry relays (the only relays its host links to); L2 one of
 * {@link LayerTwoGuards}: LAYER2_GUARD_COUNT relays each kept a random 1–12 days, so a
 * client that makes a provider build many circuits to relays of its choice sees at most
 * 4 distinct second hops, and never learns the guard by rotating through middles. M is
 * drawn fresh. All hops distinct. Decides only — clock and randomness injected; no I/O.
 */
import type { Clock, Rng as PickRng } from '../overlay/clock.ts'
import { LAYER2_GUARD_COUNT, LAYER2_MAX_LIFETIME_MS, LAYER2_MIN_LIFETIME_MS } from '../onion/path/constants.ts'
import { RegistryCallerError } from './errors.ts'
import type { RegistryNetwork } from './client.ts'

/** What hidden-provider logic needs from a node beyond the registry's network. */
export interface HiddenNetwork extends RegistryNetwork {
  /** The relay's current onion public key in the caller's verified directory (undefined: unknown relay). */
  onionKey(id: string): Uint8Array | undefined
  /** A relay id's peer id multihash (descriptor and introduction fields), and back (throws on garbage). */
  relayBytes(id: string): Uint8Array
  relayId(bytes: Uint8Array): string
}

export interface LayerTwoOptions {
  readonly clock: Clock
  readonly rng: PickRng
  readonly count?: number
  readonly minLifetimeMs?: number
  readonly maxLifetimeMs?: number
}

/** The layer-2 guard set of one client or provider. */
export class LayerTwoGuards {
  readonly #o: LayerTwoOptions
  #entries: Array<{ id: string, expiresAt: number }> = []

  constructor (o: LayerTwoOptions) { this.#o = o }

  /** The current set after dropping expired, unlisted or excluded relays and refilling. */
  current (candidates: readonly string[], exclude: readonly string[]): string[] {
    const now = this.#o.clock.now()
    const listed = new Set(candidates)
    const ex = new Set(exclude)
    this.#entries = this.#entries.filter(e => e.expiresAt > now && listed.has(e.id) && !ex.has(e.id))
    const count = this.#o.count ?? LAYER2_GUARD_COUNT
    const min = this.#o.minLifetimeMs ?? LAYER2_MIN_LIFETIME_MS
    const max = this.#o.maxLifetimeMs ?? LAYER2_MAX_LIFETIME_MS
    while (this.#entries.length < count) {
      const taken = new Set(this.#entries.map(e => e.id))
      const pool = candidates.filter(id => !taken.has(id) && !ex.has(id))
      if (pool.length === 0) break
      const id = pool[this.#o.rng.int(pool.length)]
      this.#entries.push({ id, expiresAt: now + min + this.#o.rng.int(Math.max(1, max - min)) })
    }
    return this.#entries.map(e => e.id)
  }

  /** The ids held now (no refresh). */
  ids (): string[] { return this.#entries.map(e => e.id) }
}

export class HsPaths {
  readonly #net: HiddenNetwork
  readonly #l2: LayerTwoGuards
  readonly #rng: PickRng

  constructor (net: HiddenNetwork, l2: LayerTwoGuards, rng: PickRng) {
    this.#net = net
    this.#l2 = l2
    this.#rng = rng
  }

  get layer2 (): LayerTwoGuards { return this.#l2 }

  #pick<T> (xs: readonly T[], what: string): T {
    if (xs.length === 0) throw new RegistryCallerError(`no relay available for ${what}`)
    return xs[this.#rng.int(xs.length)]
  }

  #ids (): string[] { return this.#net.candidates().map(c => c.id) }

  /** Entry relays other than `target`. */
  #guard (target: string): string {
    return this.#pick(this.#net.guards().filter(g => g !== target), 'the entry hop')
  }

  /** The layer-2 set (refreshed), never containing the guards. */
  layer2Now (): string[] { return this.#l2.current(this.#ids(), this.#net.guards()) }

  /** G L2 X (client → RP). */
  short (target: string): string[] {
    const g = this.#guard(target)
    const l2 = this.#pick(this.layer2Now().filter(id => id !== target && id !== g), 'the layer-2 hop')
    return [g, l2, target]
  }

  /**
   * The provider's rendezvous circuit to a client-chosen RP: G L2 M RP, where the RP may be
   * the provider's own guard or a layer-2 relay (vanguards spec, "Path Restriction Changes":
   * guards can be chosen for the RP and the hop before it). Refusing such an RP — or
   * building to it in a visibly different way — would let a client find the provider's
   * guards by trying RPs one by one. Only adjacent hops must differ: M is neither L2 nor the RP.
   */
  rendezvous (rp: string): string[] { return [...this.#prefix('', rp), rp] }

  /** G L2 M, to be extended to a target later (pre-built rendezvous circuits). */
  longPrefix (): string[] { return this.#prefix('', '') }

  /** Whether a prefix built earlier still follows the rules: the current guard, a current layer-2 relay. */
  prefixValid (path: readonly string[]): boolean {
    return this.#net.guards().includes(path[0]) && this.layer2Now().includes(path[1])
  }

  /** G L2 M X (client → IP; provider → IP and RP). */
  long (target: string): string[] { return [...this.#prefix(target, target), target] }

  /**
   * G L2 M: G and L2 are not `notGuard` (a target that may not be the provider's own
   * guard or layer-2 relay; '' for none), M is neither G, L2 nor `notMiddle` (the hop after it).
   */
  #prefix (notGuard: string, notMiddle: string): string[] {
    const [g, l2] = this.short(notGuard)
    const m = this.#pick(this.#ids().filter(id => id !== g && id !== l2 && id !== notMiddle), 'the middle hop')
    return [g, l2, m]
  }

  /** Relays that may serve as an IP or RP for the caller: listed, not a guard or layer-2 guard, not in `exclude`. */
  endpoints (exclude: readonly string[] = []): string[] {
    const bad = new Set([...this.#net.guards(), ...this.layer2Now(), ...exclude])
    return this.#ids().filter(id => !bad.has(id))
  }
}
