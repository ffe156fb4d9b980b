/**
 * The relay-command table: how later layers (directory fetch, registry
 * STORE/FETCH, introduction, rendezvous) add relay commands in the
 * RELAY_EXTENSION_MIN..RELAY_EXTENSION_MAX range without onion importing them.
 * src/node registers handlers; the relay side of the circuit layer calls the
 * one registered for a recognised cell's command, and destroys the circuit for
 * a command nobody registered (only what is legal now is accepted).
 *
 * A handler may answer toward the client through `ctx.reply`, at most
 * MAX_EXTENSION_REPLY_CELLS cells per request: bulk answers belong in a stream,
 * which is flow-controlled. A handler that throws an OnionPeerError destroys
 * the circuit; any other error is counted and the circuit destroyed as
 * INTERNAL.
 */
import { OnionCallerError } from './errors.ts'
import { isExtensionCommand, type RelayCell } from './relay-cell.ts'

export interface ExtensionContext {
  /** Opaque key of the circuit at this relay (stable while it lives; never sent). */
  readonly circuitKey: string
  /** True when this relay is the circuit's last hop. */
  readonly lastHop: boolean
  /** Send a relay cell back toward the client (throws once the reply budget or the circuit is gone). */
  reply(command: number, streamId: number, data: Uint8Array): void
}

export type ExtensionHandler = (ctx: ExtensionContext, cell: RelayCell) => void | Promise<void>

export class RelayCommandTable {
  readonly #handlers = new Map<number, ExtensionHandler>()

  register (command: number, handler: ExtensionHandler): void {
    if (!isExtensionCommand(command)) throw new OnionCallerError(`relay command ${command} is not in the extension range`)
    if (this.#handlers.has(command)) throw new OnionCallerError(`relay command ${command} is already registered`)
    this.#handlers.set(command, handler)
  }

  unregister (command: number): void { this.#handlers.delete(command) }
  get (command: number): ExtensionHandler | undefined { return this.#handlers.get(command) }
}
