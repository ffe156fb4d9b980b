/**
 * One-shot waits for an extension command on a client circuit (INTRO_ESTABLISHED,
 * INTRODUCE_ACK, RENDEZVOUS_ESTABLISHED, RENDEZVOUS2): every wait is bounded by its
 * signal and ends when the circuit closes (STYLE.md §7).
 */
import type { Circuit } from '../onion/client-circuit.ts'
import type { RelayCell } from '../onion/relay-cell.ts'
import { HsProtocolError } from './hs-codec.ts'

export class HsTimeoutError extends HsProtocolError {}

/**
 * Resolve with the first cell of `command` from hop `hop`; any other extension cell from
 * that circuit while waiting is handed to `other` (or is a protocol error).
 */
export function awaitCommand (circuit: Circuit, hop: number, command: number, signal: AbortSignal, what: string): Promise<RelayCell> {
  return new Promise((resolve, reject) => {
    if (circuit.state === 'closed') { reject(new HsProtocolError(`circuit closed before ${what}`)); return }
    let done = false
    const finish = (err: Error | undefined, cell?: RelayCell): void => {
      if (done) return
      done = true
      signal.removeEventListener('abort', onAbort)
      offClose()
      if (circuit.onCommand === handler) circuit.onCommand = undefined
      if (err !== undefined) reject(err); else resolve(cell as RelayCell)
    }
    const onAbort = (): void => { finish(new HsTimeoutError(`no ${what} in time`)) }
    const handler = (h: number, cell: RelayCell): void => {
      if (h === hop && cell.command === command) finish(undefined, cell)
      else { finish(new HsProtocolError(`unexpected relay command ${cell.command} from hop ${h} while waiting for ${what}`)); circuit.destroy() }
    }
    const offClose = circuit.onClose((err) => { finish(new HsProtocolError(`circuit closed while waiting for ${what}: ${err.message}`)) })
    if (signal.aborted) { onAbort(); return }
    signal.addEventListener('abort', onAbort, { once: true })
    circuit.onCommand = handler
  })
}
