/**
 * Secret bytes that refuse to be printed: `String(s)`, `JSON.stringify(s)` and
 * `util.inspect(s)` all give "[redacted]". Code that needs the bytes calls `expose()`
 * deliberately, which makes every use of a secret easy to find.
 */
import { inspect } from 'node:util'

export class Secret {
  readonly #bytes: Uint8Array
  constructor (bytes: Uint8Array) { this.#bytes = bytes }
  expose (): Uint8Array { return this.#bytes }
  /** Overwrite the bytes with zeros (best effort: JS may hold other copies). */
  wipe (): void { this.#bytes.fill(0) }
  toString (): string { return '[redacted]' }
  toJSON (): string { return '[redacted]' }
  [inspect.custom] (): string { return '[redacted]' }
}
