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
 *
 * A handler that keeps state per circuit (a rendezvous point's joins) learns when such a
 * circuit is gone through `onClosed`: the relay calls it for every circuit it destroys,
 * whatever the cause (DESTROY from a neighbour, a closed link, a timeout), so the state
 * goes with the circuit instead of waiting for the next cell to fail.
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
  readonly #closed = new Set<(circuitKey: string) => void>()

  register (command: number, handler: ExtensionHandler): void {
    if (!isExtensionCommand(command)) throw new OnionCallerError(`relay command ${command} is not in the extension range`)
    if (this.#handlers.has(command)) throw new OnionCallerError(`relay command ${command} is already registered`)
    this.#handlers.set(command, handler)
  }

  unregister (command: number): void { this.#handlers.delete(command) }
  get (command: number): ExtensionHandler | undefined { return this.#handlers.get(command) }

  /** Call `listener` with the circuitKey of every circuit this relay destroys; returns the unsubscribe. */
  onClosed (listener: (circuitKey: string) => void): () => void {
    this.#closed.add(listener)
    return () => { this.#closed.delete(listener) }
  }

  /** Called by the relay when a circuit is destroyed. A listener that throws is skipped. */
  circuitClosed (circuitKey: string): void {
    for (const l of this.#closed) {
      try { l(circuitKey) } catch { /* a listener's fault is not the circuit layer's */ }
    }
  }
}
