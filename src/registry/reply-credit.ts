/**
 * Reply credit at a relay: the onion layer lets an extension handler send at most
 * MAX_EXTENSION_REPLY_CELLS cells toward the client per cell it received (ctx.reply's
 * budget). An introduction or rendezvous point that must send toward a circuit later
 * (INTRODUCE2 to a provider, a joined peer's cells) keeps the contexts of the cells that
 * circuit sent, and spends their remaining budgets. The circuit's owner tops the credit up
 * with cells of its own (INTRO_CREDIT, RV_CREDIT, RV_SENDME, any data it sends).
 *
 * Bounded: at most MAX_STORED_CREDIT cells of credit are kept per circuit; contexts beyond
 * that are dropped. A reply that throws means the circuit is gone: `closed` turns true.
 */
import type { ExtensionContext } from '../onion/commands.ts'
import { MAX_EXTENSION_REPLY_CELLS } from '../onion/constants.ts'

export const MAX_STORED_CREDIT = 1024

export class ReplyCredit {
  readonly #senders: Array<{ ctx: ExtensionContext, left: number }> = []
  #available = 0
  #closed = false

  get available (): number { return this.#available }
  get closed (): boolean { return this.#closed }

  /** Keep `ctx`, whose handler already used `used` of its budget. */
  add (ctx: ExtensionContext, used = 0): void {
    const left = MAX_EXTENSION_REPLY_CELLS - used
    if (left <= 0 || this.#closed || this.#available >= MAX_STORED_CREDIT) return
    this.#senders.push({ ctx, left })
    this.#available += left
  }

  /** Send one cell toward the circuit: false when no credit is left or the circuit is gone. */
  send (command: number, data: Uint8Array): boolean {
    while (this.#senders.length > 0 && !this.#closed) {
      const s = this.#senders[0]
      try {
        s.ctx.reply(command, 0, data)
      } catch (err) {
        // the circuit closed (every context of it fails alike), or this budget was spent elsewhere
        if (err instanceof Error && /closed/.test(err.message)) { this.close(); return false }
        this.#available -= s.left
        this.#senders.shift()
        continue
      }
      s.left--
      this.#available--
      if (s.left === 0) this.#senders.shift()
      return true
    }
    return false
  }

  close (): void {
    this.#closed = true
    this.#senders.length = 0
    this.#available = 0
  }
}
