/**
 * The end-to-end channel between a client and a hidden provider, over their two circuits
 * joined at the rendezvous point. Each end runs src/onion's {@link StreamMux} (the same
 * streams, BEGIN/DATA/END and SENDME windows as a circuit's last hop), so a client opens
 * 'veil-provider' and 'veil-mcp' streams exactly as it would at a public provider's relay.
 *
 * Below the mux, a byte pipe of records sealed cell by cell:
 *
 *   record  = command u8 | streamId u16 | length u16 | data      (one StreamMux cell)
 *   records are concatenated and cut into RV_DATA cells of ≤ E2E_CELL_PLAINTEXT bytes;
 *   cell    = ChaCha20-Poly1305(k_dir, nonce = 0^4 | seq u64, plaintext, AD = direction byte)
 *
 * with k_dir the direction's key from the rendezvous handshake (hs-crypto.ts) and seq the
 * direction's cell counter: a cell dropped, replayed, reordered or forged fails to open
 * and closes the channel. Flow control: E2E_WINDOW_CELLS sealed cells in flight; the
 * receiver sends RV_SENDME every E2E_SENDME_EVERY cells (the RP forwards it); both ends
 * grant the RP reply credit at start (RV_CREDIT). RV_CLOSE ends the channel.
 *
 * Not here: the handshake (hs-crypto.ts), the circuits (hidden-client.ts, hidden-service.ts).
 */
import { StreamMux, type OnionStream, type StreamTargets } from '../onion/stream.ts'
import type { RelayCell } from '../onion/relay-cell.ts'
import { RELAY_DATA_MAX } from '../onion/constants.ts'
import { AEAD_NONCE_LEN, AEAD_TAG_LEN, E2E_SENDME_EVERY, E2E_WINDOW_CELLS, RELAY_RV_CLOSE, RELAY_RV_CREDIT, RELAY_RV_DATA, RELAY_RV_SENDME } from './constants.ts'
import { HsProtocolError } from './hs-codec.ts'
import { aeadOpen, aeadSeal } from './primitives.ts'
import type { ChannelKeys } from './hs-crypto.ts'

/** Plaintext bytes per sealed cell. */
export const E2E_CELL_PLAINTEXT = RELAY_DATA_MAX - AEAD_TAG_LEN
/** command u8 | streamId u16 | length u16 */
export const E2E_RECORD_HEADER_LEN = 5
/** Initial RV_CREDIT cells: the RP may then send a whole window toward us. */
export const E2E_INITIAL_CREDITS = E2E_WINDOW_CELLS / E2E_SENDME_EVERY

export interface E2eCarrier {
  /** Send one relay cell to the RP (the circuit's last hop). Throws once the circuit is gone. */
  send(command: number, data: Uint8Array): void
  /** Tear the circuit down. */
  destroy(): void
}

export interface E2eChannelOptions {
  readonly carrier: E2eCarrier
  readonly keys: ChannelKeys
  readonly role: 'client' | 'provider'
  /** Provider: the stream targets clients may open. */
  readonly targets?: StreamTargets
  readonly maxMessageLen?: number
  readonly streamIdleMs?: number
}

export class ChannelClosedError extends HsProtocolError {}

const DIR_C2P = Uint8Array.of(0x63) // 'c'
const DIR_P2C = Uint8Array.of(0x70) // 'p'

function nonce (seq: number): Uint8Array {
  const n = new Uint8Array(AEAD_NONCE_LEN)
  const v = new DataView(n.buffer)
  v.setUint32(4, Math.floor(seq / 0x1_0000_0000))
  v.setUint32(8, seq >>> 0)
  return n
}

export class E2eChannel {
  readonly mux: StreamMux
  readonly role: 'client' | 'provider'
  readonly #carrier: E2eCarrier
  readonly #sendKey: Uint8Array
  readonly #recvKey: Uint8Array
  readonly #sendAd: Uint8Array
  readonly #recvAd: Uint8Array
  #sendSeq = 0
  #recvSeq = 0
  #window = E2E_WINDOW_CELLS
  #received = 0
  readonly #pending: Uint8Array[] = []
  #pendingBytes = 0
  #flushScheduled = false
  #inbuf = new Uint8Array(0)
  #closed: Error | undefined
  readonly #closeListeners = new Set<(err: Error) => void>()
  readonly counters = { cellsSent: 0, cellsReceived: 0 }
  lastActive = 0

  constructor (o: E2eChannelOptions) {
    this.#carrier = o.carrier
    this.role = o.role
    const c2p = o.keys.clientToProvider.slice()
    const p2c = o.keys.providerToClient.slice()
    this.#sendKey = o.role === 'client' ? c2p : p2c
    this.#recvKey = o.role === 'client' ? p2c : c2p
    this.#sendAd = o.role === 'client' ? DIR_C2P : DIR_P2C
    this.#recvAd = o.role === 'client' ? DIR_P2C : DIR_C2P
    this.mux = new StreamMux({ sendCell: (command, streamId, data) => { this.#enqueue(command, streamId, data) } }, {
      role: o.role === 'client' ? 'client' : 'server', targets: o.targets, maxMessageLen: o.maxMessageLen, idleMs: o.streamIdleMs
    })
  }

  get closed (): boolean { return this.#closed !== undefined }

  /** Grant the RP reply credit toward this end (call once, right after the join). */
  start (): void {
    for (let i = 0; i < E2E_INITIAL_CREDITS; i++) this.#carrier.send(RELAY_RV_CREDIT, new Uint8Array(0))
  }

  async openStream (target: string, opts: { signal?: AbortSignal } = {}): Promise<OnionStream> {
    if (this.#closed !== undefined) throw this.#closed
    return this.mux.open(target, opts)
  }

  onClose (fn: (err: Error) => void): () => void {
    if (this.#closed !== undefined) { fn(this.#closed); return () => {} }
    this.#closeListeners.add(fn)
    return () => { this.#closeListeners.delete(fn) }
  }

  /** A cell from the RP (RV_DATA, RV_SENDME or RV_CLOSE). Never throws: a bad cell closes the channel. */
  onCell (rc: RelayCell): void {
    if (this.#closed !== undefined) return
    try {
      switch (rc.command) {
        case RELAY_RV_DATA: this.#onData(rc.data); return
        case RELAY_RV_SENDME:
          this.#window += E2E_SENDME_EVERY
          if (this.#window > E2E_WINDOW_CELLS) throw new HsProtocolError('RV_SENDME beyond the window')
          this.#flush()
          return
        case RELAY_RV_CLOSE:
          this.#shutdown(new ChannelClosedError('the other end closed the channel'), false)
          return
        default:
          throw new HsProtocolError(`relay command ${rc.command} is not legal on a rendezvous channel`)
      }
    } catch (err) {
      this.#shutdown(err instanceof Error ? err : new Error(String(err)), false)
    }
  }

  /** Close: RV_CLOSE to the other end (through the RP), then the circuit. */
  close (): void { this.#shutdown(new ChannelClosedError('channel closed locally'), true) }

  /** The carrying circuit closed under us. */
  circuitClosed (err: Error): void { this.#shutdown(err, false) }

  #onData (sealed: Uint8Array): void {
    const plain = aeadOpen(this.#recvKey, nonce(this.#recvSeq), sealed, this.#recvAd)
    if (plain === undefined) throw new HsProtocolError('a channel cell does not open: forged, replayed or reordered')
    this.#recvSeq++
    this.counters.cellsReceived++
    this.#received++
    if (this.#received % E2E_SENDME_EVERY === 0) this.#carrier.send(RELAY_RV_SENDME, new Uint8Array(0))
    const buf = this.#inbuf.length === 0 ? plain : concatTwo(this.#inbuf, plain)
    let off = 0
    while (buf.length - off >= E2E_RECORD_HEADER_LEN) {
      const v = new DataView(buf.buffer, buf.byteOffset + off, E2E_RECORD_HEADER_LEN)
      const len = v.getUint16(3)
      if (len > RELAY_DATA_MAX) throw new HsProtocolError('channel record longer than a relay cell')
      if (buf.length - off < E2E_RECORD_HEADER_LEN + len) break
      const cell: RelayCell = { command: v.getUint8(0), streamId: v.getUint16(1), data: buf.slice(off + E2E_RECORD_HEADER_LEN, off + E2E_RECORD_HEADER_LEN + len) }
      off += E2E_RECORD_HEADER_LEN + len
      this.mux.handle(cell)
      if (this.#closed !== undefined) return
    }
    this.#inbuf = buf.slice(off)
  }

  #enqueue (command: number, streamId: number, data: Uint8Array): void {
    if (this.#closed !== undefined) throw this.#closed
    const rec = new Uint8Array(E2E_RECORD_HEADER_LEN + data.length)
    const v = new DataView(rec.buffer)
    v.setUint8(0, command)
    v.setUint16(1, streamId)
    v.setUint16(3, data.length)
    rec.set(data, E2E_RECORD_HEADER_LEN)
    this.#pending.push(rec)
    this.#pendingBytes += rec.length
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      queueMicrotask(() => { this.#flushScheduled = false; this.#flush() })
    }
  }

  #flush (): void {
    try {
      while (this.#pendingBytes > 0 && this.#window > 0 && this.#closed === undefined) {
        const n = Math.min(E2E_CELL_PLAINTEXT, this.#pendingBytes)
        const plain = new Uint8Array(n)
        let got = 0
        while (got < n) {
          const head = this.#pending[0]
          const take = Math.min(head.length, n - got)
          plain.set(head.subarray(0, take), got)
          got += take
          if (take === head.length) this.#pending.shift()
          else this.#pending[0] = head.subarray(take)
        }
        this.#pendingBytes -= n
        const sealed = aeadSeal(this.#sendKey, nonce(this.#sendSeq++), plain, this.#sendAd)
        this.#window--
        this.counters.cellsSent++
        this.#carrier.send(RELAY_RV_DATA, sealed)
      }
    } catch (err) {
      this.#shutdown(err instanceof Error ? err : new Error(String(err)), false)
    }
  }

  #shutdown (err: Error, notify: boolean): void {
    if (this.#closed !== undefined) return
    this.#closed = err
    if (notify) { try { this.#carrier.send(RELAY_RV_CLOSE, new Uint8Array(0)) } catch { /* circuit gone */ } }
    this.mux.close(err)
    this.#pending.length = 0
    this.#pendingBytes = 0
    this.#sendKey.fill(0)
    this.#recvKey.fill(0)
    this.#carrier.destroy()
    for (const fn of this.#closeListeners) { try { fn(err) } catch { /* listener */ } }
    this.#closeListeners.clear()
  }
}

function concatTwo (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
