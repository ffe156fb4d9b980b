/**
 * Replay caches with an injected clock (STYLE.md §10), as arti's `tor-hsservice/src/replay.rs`
 * and Tor's introduction replay cache do.
 *
 * - {@link ReplayCache}: "have I seen this digest before?" for introductions. An IP keeps
 *   one per auth key and a provider one per introduction key; entries live until the key
 *   they belong to expires (`expiresAtMs`). Bounded: when full of unexpired entries it
 *   refuses new digests (fail closed — a flood cannot flush older digests out to make a
 *   replay succeed); the caller sheds load instead.
 * - {@link OneTimeCookies}: rendezvous cookies that work exactly once, and only before
 *   they expire.
 *
 * Keys are hex strings of digests the caller computed (SHA3-256 of the introduction);
 * nothing here hashes or decides what a digest covers. Memory: O(maxEntries).
 */
import type { Clock } from '../overlay/clock.ts'
import { DEFAULT_REPLAY_CACHE_SIZE } from './constants.ts'
import { RegistryCallerError } from './errors.ts'

export type ReplayVerdict = 'new' | 'replay' | 'full'

function keyOf (digest: Uint8Array): string {
  if (!(digest instanceof Uint8Array) || digest.length < 16 || digest.length > 64) throw new RegistryCallerError('replay digest must be 16–64 bytes')
  return Buffer.from(digest).toString('hex')
}

export class ReplayCache {
  readonly #clock: Clock
  readonly #max: number
  /** Insertion-ordered; expiry is per entry. */
  readonly #seen = new Map<string, number>()

  constructor (clock: Clock, maxEntries = DEFAULT_REPLAY_CACHE_SIZE) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RegistryCallerError('maxEntries must be ≥ 1')
    this.#clock = clock
    this.#max = maxEntries
  }

  get size (): number { return this.#seen.size }

  /** Drop expired entries. */
  purge (): void {
    const now = this.#clock.now()
    for (const [k, exp] of this.#seen) if (exp <= now) this.#seen.delete(k)
  }

  /** Record `digest` until `expiresAtMs`: 'new' the first time, 'replay' after, 'full' when no room. */
  check (digest: Uint8Array, expiresAtMs: number): ReplayVerdict {
    const k = keyOf(digest)
    const now = this.#clock.now()
    const exp = this.#seen.get(k)
    if (exp !== undefined && exp > now) return 'replay'
    if (expiresAtMs <= now) return 'replay' // its key has expired: nothing for it may be accepted
    if (this.#seen.size >= this.#max) {
      this.purge()
      if (this.#seen.size >= this.#max) return 'full'
    }
    this.#seen.set(k, expiresAtMs)
    return 'new'
  }
}

export class OneTimeCookies {
  readonly #clock: Clock
  readonly #max: number
  readonly #ttlMs: number
  readonly #live = new Map<string, number>()
  /** Consumed cookies, kept until they would have expired, so they cannot be registered again. */
  readonly #used = new Map<string, number>()

  constructor (clock: Clock, ttlMs: number, maxEntries = DEFAULT_REPLAY_CACHE_SIZE) {
    if (!(ttlMs > 0)) throw new RegistryCallerError('ttl must be positive')
    this.#clock = clock
    this.#ttlMs = ttlMs
    this.#max = maxEntries
  }

  get size (): number { return this.#live.size }

  purge (): void {
    const now = this.#clock.now()
    for (const [k, exp] of this.#live) if (exp <= now) this.#live.delete(k)
    for (const [k, exp] of this.#used) if (exp <= now) this.#used.delete(k)
  }

  /** Register a cookie; false if it is already registered or the table is full. */
  register (cookie: Uint8Array): boolean {
    const k = keyOf(cookie)
    this.purge()
    if (this.#live.has(k) || this.#used.has(k) || this.#live.size + this.#used.size >= this.#max) return false
    this.#live.set(k, this.#clock.now() + this.#ttlMs)
    return true
  }

  /** Use a cookie: true exactly once, while unexpired. */
  consume (cookie: Uint8Array): boolean {
    const k = keyOf(cookie)
    const exp = this.#live.get(k)
    if (exp === undefined) return false
    this.#live.delete(k)
    if (exp <= this.#clock.now()) return false
    this.#used.set(k, exp)
    return true
  }
}
