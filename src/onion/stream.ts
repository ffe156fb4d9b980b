/**
 * Streams inside a circuit, between the client and the circuit's last hop:
 * BEGIN / CONNECTED / DATA / END, carrying length-delimited messages of any
 * size split across DATA cells, with Tor's two flow-control windows (SENDME).
 * The same {@link StreamMux} runs at both ends; it only needs a
 * {@link StreamCarrier} that encrypts and sends one relay cell toward the other
 * end (client-circuit.ts, relay-circuits.ts).
 *
 * Framing: a stream is a byte sequence of messages `LENGTH u32 | bytes`; a
 * message always starts a new DATA cell, so a 1-byte message costs one cell.
 *
 * Flow control (counts DATA cells only, as Tor):
 * - circuit window: each end may send CIRCUIT_WINDOW_START DATA cells on the
 *   circuit; the receiver sends a circuit SENDME (stream id 0) per
 *   CIRCUIT_WINDOW_INCREMENT cells received. Bounds the cells of one circuit
 *   and direction in flight — what any relay may have to queue.
 * - stream window: STREAM_WINDOW_START per stream; a stream SENDME per
 *   STREAM_WINDOW_INCREMENT cells, sent only while the complete-but-unread
 *   messages stay under STREAM_READY_BYTES_MAX, so a slow reader stops the
 *   sender. Cells of an unfinished message are acknowledged as they arrive
 *   (a message larger than a window must get through), bounded instead by the
 *   receiver's `maxMessageLen`.
 * A SENDME that would open a window past its start, or DATA beyond a window,
 * is a protocol violation: the circuit is destroyed.
 *
 * Memory per stream ≤ STREAM_READY_BYTES_MAX + 2 × maxMessageLen; per circuit
 * ≤ MAX_STREAMS_PER_CIRCUIT streams.
 * Not here: cell crypto, circuits, which targets exist (StreamTargetTable).
 */
import { OnionCallerError } from './errors.ts'
import { RelayCommand, type RelayCell } from './relay-cell.ts'
import { DestroyReason } from './cell.ts'
import {
  CircuitProtocolError, OnionTimeoutError, StreamClosedError,
  decodeBegin, decodeEnd, encodeBegin, encodeEnd, expectEmpty
} from './circuit.ts'
import {
  CIRCUIT_WINDOW_INCREMENT, CIRCUIT_WINDOW_START, DEFAULT_MAX_MESSAGE_LEN, DEFAULT_STREAM_IDLE_MS, DEFAULT_STREAM_OPEN_TIMEOUT_MS,
  MAX_STREAMS_PER_CIRCUIT, MESSAGE_LENGTH_LEN, RELAY_DATA_MAX, STREAM_READY_BYTES_MAX, STREAM_WINDOW_INCREMENT, STREAM_WINDOW_START
} from './constants.ts'

/** END reasons (one byte). DONE is a clean close. */
export const StreamEndReason = Object.freeze({
  DONE: 0,
  PROTOCOL: DestroyReason.PROTOCOL,
  INTERNAL: DestroyReason.INTERNAL,
  RESOURCE_LIMIT: DestroyReason.RESOURCE_LIMIT,
  TIMEOUT: DestroyReason.TIMEOUT,
  NO_SUCH_SERVICE: DestroyReason.NO_SUCH_SERVICE,
  MESSAGE_TOO_LARGE: 10
} as const)

const EMPTY = new Uint8Array(0)
/** Yield to the event loop every this many cells sent back to back, so one bulk sender cannot starve other circuits. */
const YIELD_EVERY_CELLS = 64

/** Sends one relay cell to the other end of the stream layer. Throws CircuitClosedError once the circuit is gone. */
export interface StreamCarrier {
  sendCell(command: number, streamId: number, data: Uint8Array): void
}

/** Runs a stream opened by a client (at the last hop). Errors abort the stream. */
export type StreamHandler = (stream: OnionStream) => void | Promise<void>

/** Where BEGIN's target names resolve. */
export interface StreamTargets { get(target: string): StreamHandler | undefined }

/** A registry of stream targets; later layers (and tests) register theirs. */
export class StreamTargetTable implements StreamTargets {
  readonly #handlers = new Map<string, StreamHandler>()
  register (target: string, handler: StreamHandler): void {
    encodeBegin(target) // validates the name
    if (this.#handlers.has(target)) throw new OnionCallerError(`stream target ${target} is already registered`)
    this.#handlers.set(target, handler)
  }

  unregister (target: string): void { this.#handlers.delete(target) }
  get (target: string): StreamHandler | undefined { return this.#handlers.get(target) }
}

/** The echo target: every message comes back unchanged; used by tests, the bench and the demo. */
export const ECHO_TARGET = 'echo'
export const echoHandler: StreamHandler = async (stream) => {
  for await (const m of stream) await stream.send(m)
  await stream.close()
}

export interface StreamMuxOptions {
  /** 'client' opens streams; 'server' (the last hop) accepts BEGIN. */
  role: 'client' | 'server'
  targets?: StreamTargets
  maxStreams?: number
  /** Largest message this end accepts (default DEFAULT_MAX_MESSAGE_LEN). */
  maxMessageLen?: number
  /** Default bound on one read and one send wait. */
  idleMs?: number
  /** Called when a BEGIN is refused because the circuit already has maxStreams streams (relay status counts it). */
  onStreamLimit?: () => void
  /**
   * Called after the last DATA cell of each message this end sent, with the message's cell
   * count (the last hop pads responses to the profile's bucket here: src/mix via src/node).
   */
  onMessageSent?: (cells: number) => void
}

export interface StreamMuxCounters { dataDropped: number, sendmesSent: number, sendmesReceived: number, streamsRefused: number }

/** The streams of one circuit at one end. */
export class StreamMux {
  readonly #carrier: StreamCarrier
  readonly role: 'client' | 'server'
  readonly #targets: StreamTargets | undefined
  readonly maxStreams: number
  readonly maxMessageLen: number
  readonly idleMs: number
  readonly #streams = new Map<number, OnionStream>()
  readonly #waiters = new Set<() => void>()
  readonly counters: StreamMuxCounters = { dataDropped: 0, sendmesSent: 0, sendmesReceived: 0, streamsRefused: 0 }
  readonly #onStreamLimit: (() => void) | undefined
  #circPackage = CIRCUIT_WINDOW_START
  #circDeliver = CIRCUIT_WINDOW_START
  #nextId = 1
  #closed: Error | undefined

  constructor (carrier: StreamCarrier, opts: StreamMuxOptions) {
    this.#carrier = carrier
    this.role = opts.role
    this.#targets = opts.targets
    this.maxStreams = opts.maxStreams ?? MAX_STREAMS_PER_CIRCUIT
    this.maxMessageLen = opts.maxMessageLen ?? DEFAULT_MAX_MESSAGE_LEN
    this.idleMs = opts.idleMs ?? DEFAULT_STREAM_IDLE_MS
    this.#onStreamLimit = opts.onStreamLimit
    this.#onMessageSent = opts.onMessageSent
  }

  readonly #onMessageSent: ((cells: number) => void) | undefined
  /** A message's last cell was handed to the circuit. */
  _messageSent (cells: number): void { this.#onMessageSent?.(cells) }

  /** Open streams. */
  get size (): number { return this.#streams.size }
  get closed (): boolean { return this.#closed !== undefined }

  /**
   * A stream command or circuit SENDME recognised at this end. Throws
   * CircuitProtocolError / MalformedRelayCellError (peer fault): the caller
   * destroys the circuit.
   */
  handle (rc: RelayCell): void {
    if (this.#closed !== undefined) return
    switch (rc.command) {
      case RelayCommand.SENDME:
        expectEmpty(rc.data, 'SENDME')
        this.counters.sendmesReceived++
        if (rc.streamId === 0) {
          this.#circPackage += CIRCUIT_WINDOW_INCREMENT
          if (this.#circPackage > CIRCUIT_WINDOW_START) throw new CircuitProtocolError('circuit SENDME beyond the window')
          this.#wake()
        } else {
          this.#streams.get(rc.streamId)?.onSendme()
        }
        return
      case RelayCommand.DATA: {
        this.#circDeliver--
        if (this.#circDeliver < 0) throw new CircuitProtocolError('DATA beyond the circuit window')
        if (this.#circDeliver <= CIRCUIT_WINDOW_START - CIRCUIT_WINDOW_INCREMENT) {
          this.#circDeliver += CIRCUIT_WINDOW_INCREMENT
          this._sendCell(RelayCommand.SENDME, 0, EMPTY)
        }
        const s = this.#streams.get(rc.streamId)
        // DATA racing our END (or after an error): counted above for the window, then dropped
        if (s === undefined) { this.counters.dataDropped++; return }
        s.onData(rc.data)
        return
      }
      case RelayCommand.BEGIN:
        this.#onBegin(rc.streamId, decodeBegin(rc.data))
        return
      case RelayCommand.CONNECTED: {
        expectEmpty(rc.data, 'CONNECTED')
        const s = this.#streams.get(rc.streamId)
        if (this.role !== 'client' || s === undefined) throw new CircuitProtocolError('CONNECTED for no stream being opened')
        s.onConnected()
        return
      }
      case RelayCommand.END:
        this.#streams.get(rc.streamId)?.onEnd(decodeEnd(rc.data))
        return
      default:
        throw new CircuitProtocolError(`relay command ${rc.command} is not a stream command`)
    }
  }

  #onBegin (id: number, target: string): void {
    if (this.role !== 'server') throw new CircuitProtocolError('BEGIN sent toward the client')
    if (this.#streams.has(id)) throw new CircuitProtocolError('BEGIN for a stream id in use')
    if (this.#streams.size >= this.maxStreams) {
      this.counters.streamsRefused++
      this.#onStreamLimit?.()
      this._sendCell(RelayCommand.END, id, encodeEnd(StreamEndReason.RESOURCE_LIMIT))
      return
    }
    const handler = this.#targets?.get(target)
    if (handler === undefined) { this._sendCell(RelayCommand.END, id, encodeEnd(StreamEndReason.NO_SUCH_SERVICE)); return }
    const s = new OnionStream(this, id, target, 'open')
    this.#streams.set(id, s)
    this._sendCell(RelayCommand.CONNECTED, id, EMPTY)
    Promise.resolve().then(async () => { await handler(s) }).catch((err: unknown) => {
      s.abort(err instanceof Error ? err : new Error(String(err)))
    })
  }

  /** Client: open a stream to `target` at the last hop; resolves on CONNECTED. */
  async open (target: string, opts: { signal?: AbortSignal } = {}): Promise<OnionStream> {
    if (this.role !== 'client') throw new OnionCallerError('only the client end opens streams')
    if (this.#closed !== undefined) throw this.#closed
    const data = encodeBegin(target)
    if (this.#streams.size >= this.maxStreams) throw new OnionCallerError('too many streams on this circuit')
    let id = this.#nextId
    while (this.#streams.has(id)) id = id >= 0xffff ? 1 : id + 1
    this.#nextId = id >= 0xffff ? 1 : id + 1
    const s = new OnionStream(this, id, target, 'connecting')
    this.#streams.set(id, s)
    this._sendCell(RelayCommand.BEGIN, id, data)
    await s.connected(opts.signal ?? AbortSignal.timeout(DEFAULT_STREAM_OPEN_TIMEOUT_MS))
    return s
  }

  /** The circuit is gone: every stream fails with `err`. */
  close (err: Error): void {
    if (this.#closed !== undefined) return
    this.#closed = err
    for (const s of this.#streams.values()) s.fail(err)
    this.#streams.clear()
    this.#wake()
  }

  // ----- for OnionStream ----------------------------------------------------

  _sendCell (command: number, streamId: number, data: Uint8Array): void {
    if (this.#closed !== undefined) throw this.#closed
    if (command === RelayCommand.SENDME) this.counters.sendmesSent++
    this.#carrier.sendCell(command, streamId, data)
  }

  _circuitWindowOpen (): boolean { return this.#circPackage > 0 }

  _sendData (streamId: number, chunk: Uint8Array): void {
    this.#circPackage--
    this._sendCell(RelayCommand.DATA, streamId, chunk)
  }

  /** Resolves on the next SENDME (or close); rejects when `signal` fires. */
  _waitWindow (signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => { signal.removeEventListener('abort', onAbort); this.#waiters.delete(done); resolve() }
      const onAbort = (): void => { this.#waiters.delete(done); reject(new OnionTimeoutError('timed out waiting for a flow-control window')) }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiters.add(done)
    })
  }

  _wakeWindow (): void { this.#wake() }

  #wake (): void {
    const ws = [...this.#waiters]
    this.#waiters.clear()
    for (const w of ws) w()
  }

  _remove (s: OnionStream): void {
    if (this.#streams.get(s.id) === s) this.#streams.delete(s.id)
  }
}

type StreamState = 'connecting' | 'open' | 'closed'

/** One stream: send and read whole messages. */
export class OnionStream {
  readonly id: number
  readonly target: string
  readonly #mux: StreamMux
  #state: StreamState
  #package = STREAM_WINDOW_START
  #deliver = STREAM_WINDOW_START
  readonly #ready: Uint8Array[] = []
  #readyBytes = 0
  // framer
  readonly #hdr = new Uint8Array(MESSAGE_LENGTH_LEN)
  #hdrGot = 0
  #expect = -1
  #chunks: Uint8Array[] = []
  #got = 0
  // waits
  #reader: { resolve: () => void } | undefined
  #connect: { resolve: () => void, reject: (e: Error) => void } | undefined
  /** Set when the stream ended: undefined error = clean end. */
  #ended = false
  #error: Error | undefined
  #sendChain: Promise<void> = Promise.resolve()

  constructor (mux: StreamMux, id: number, target: string, state: StreamState) {
    this.#mux = mux
    this.id = id
    this.target = target
    this.#state = state
  }

  get state (): StreamState { return this.#state }

  // ----- sending --------------------------------------------------------------

  /** Send one message (any length). Resolves once every cell is handed to the circuit. Messages go out in call order. */
  send (message: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (!(message instanceof Uint8Array)) return Promise.reject(new OnionCallerError('message must be a Uint8Array'))
    if (message.length > 0xffff_ffff) return Promise.reject(new OnionCallerError('message longer than 4 GiB'))
    const p = this.#sendChain.then(async () => { await this.#sendNow(message, opts.signal ?? AbortSignal.timeout(this.#mux.idleMs)) })
    this.#sendChain = p.catch(() => {})
    return p
  }

  async #sendNow (message: Uint8Array, signal: AbortSignal): Promise<void> {
    this.#checkWritable()
    const total = MESSAGE_LENGTH_LEN + message.length
    let off = 0 // offset in header+message
    let sent = 0
    while (off < total) {
      while (!(this.#package > 0 && this.#mux._circuitWindowOpen())) {
        await this.#mux._waitWindow(signal)
        this.#checkWritable()
      }
      const n = Math.min(RELAY_DATA_MAX, total - off)
      const chunk = new Uint8Array(n)
      let w = 0
      if (off < MESSAGE_LENGTH_LEN) {
        const hdr = new Uint8Array(MESSAGE_LENGTH_LEN)
        new DataView(hdr.buffer).setUint32(0, message.length)
        w = MESSAGE_LENGTH_LEN - off
        chunk.set(hdr.subarray(off))
      }
      const from = off + w - MESSAGE_LENGTH_LEN
      chunk.set(message.subarray(from, from + (n - w)), w)
      this.#package--
      this.#mux._sendData(this.id, chunk)
      off += n
      if (++sent % YIELD_EVERY_CELLS === 0 && off < total) {
        await new Promise<void>(resolve => { setImmediate(resolve) })
        this.#checkWritable()
      }
    }
    this.#mux._messageSent(sent)
  }

  #checkWritable (): void {
    if (this.#error !== undefined) throw this.#error
    if (this.#state !== 'open') throw new StreamClosedError(StreamEndReason.DONE, 'stream is closed')
  }

  /** Close cleanly: pending sends finish, then END(DONE). Reading what already arrived still works. */
  async close (): Promise<void> {
    await this.#sendChain
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#ended = true
    this.#mux._remove(this)
    try { this.#mux._sendCell(RelayCommand.END, this.id, encodeEnd(StreamEndReason.DONE)) } catch { /* circuit already gone */ }
    this.#wakeReader()
  }

  /** End with an error (sent to the peer as END(INTERNAL)). */
  abort (err: Error): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#mux._remove(this)
    try { this.#mux._sendCell(RelayCommand.END, this.id, encodeEnd(StreamEndReason.INTERNAL)) } catch { /* circuit already gone */ }
    this.fail(err)
  }

  // ----- reading --------------------------------------------------------------

  /** The next whole message, or undefined at a clean end. One read at a time. */
  async read (opts: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    for (;;) {
      const m = this.#ready.shift()
      if (m !== undefined) {
        this.#readyBytes -= m.length
        this.#maybeSendme()
        return m
      }
      if (this.#error !== undefined) throw this.#error
      if (this.#ended) return undefined
      if (this.#reader !== undefined) throw new OnionCallerError('one read at a time on a stream')
      const signal = opts.signal ?? AbortSignal.timeout(this.#mux.idleMs)
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { this.#reader = undefined; reject(new OnionTimeoutError('timed out waiting for a message')) }
        if (signal.aborted) { onAbort(); return }
        signal.addEventListener('abort', onAbort, { once: true })
        this.#reader = { resolve: () => { signal.removeEventListener('abort', onAbort); this.#reader = undefined; resolve() } }
      })
    }
  }

  async * [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const m = await this.read()
      if (m === undefined) return
      yield m
    }
  }

  #wakeReader (): void { this.#reader?.resolve() }

  // ----- from the mux ---------------------------------------------------------

  connected (signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#connect = undefined
        this.abort(new OnionTimeoutError('timed out opening a stream'))
        reject(new OnionTimeoutError('timed out opening a stream'))
      }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#connect = {
        resolve: () => { signal.removeEventListener('abort', onAbort); this.#connect = undefined; resolve() },
        reject: (e) => { signal.removeEventListener('abort', onAbort); this.#connect = undefined; reject(e) }
      }
    })
  }

  onConnected (): void {
    if (this.#state !== 'connecting') throw new CircuitProtocolError('CONNECTED on a stream already open')
    this.#state = 'open'
    this.#connect?.resolve()
  }

  onSendme (): void {
    this.#package += STREAM_WINDOW_INCREMENT
    if (this.#package > STREAM_WINDOW_START) throw new CircuitProtocolError('stream SENDME beyond the window')
    this.#mux._wakeWindow()
  }

  onData (data: Uint8Array): void {
    if (this.#state !== 'open') {
      if (this.#state === 'closed') return // racing our END
      throw new CircuitProtocolError('DATA before CONNECTED')
    }
    this.#deliver--
    if (this.#deliver < 0) throw new CircuitProtocolError('DATA beyond the stream window')
    if (data.length === 0) throw new CircuitProtocolError('empty DATA cell')
    let off = 0
    while (off < data.length) {
      if (this.#expect < 0) {
        const n = Math.min(MESSAGE_LENGTH_LEN - this.#hdrGot, data.length - off)
        this.#hdr.set(data.subarray(off, off + n), this.#hdrGot)
        this.#hdrGot += n
        off += n
        if (this.#hdrGot < MESSAGE_LENGTH_LEN) continue
        const len = new DataView(this.#hdr.buffer).getUint32(0)
        this.#hdrGot = 0
        if (len > this.#mux.maxMessageLen) {
          this.#endWith(StreamEndReason.MESSAGE_TOO_LARGE, new StreamClosedError(StreamEndReason.MESSAGE_TOO_LARGE, `peer sent a ${len}-byte message; this end accepts ${this.#mux.maxMessageLen}`))
          return
        }
        this.#expect = len
        this.#chunks = []
        this.#got = 0
        if (len === 0) this.#complete()
      } else {
        const n = Math.min(this.#expect - this.#got, data.length - off)
        this.#chunks.push(data.slice(off, off + n))
        this.#got += n
        off += n
        if (this.#got === this.#expect) this.#complete()
      }
    }
    this.#maybeSendme()
  }

  #complete (): void {
    let msg: Uint8Array
    if (this.#chunks.length === 1) msg = this.#chunks[0]
    else {
      msg = new Uint8Array(this.#expect)
      let o = 0
      for (const c of this.#chunks) { msg.set(c, o); o += c.length }
    }
    this.#chunks = []
    this.#expect = -1
    this.#got = 0
    this.#ready.push(msg)
    this.#readyBytes += msg.length
    this.#wakeReader()
  }

  #maybeSendme (): void {
    while (this.#state === 'open' && this.#deliver <= STREAM_WINDOW_START - STREAM_WINDOW_INCREMENT && this.#readyBytes < STREAM_READY_BYTES_MAX) {
      this.#deliver += STREAM_WINDOW_INCREMENT
      try { this.#mux._sendCell(RelayCommand.SENDME, this.id, EMPTY) } catch { return }
    }
  }

  #endWith (reason: number, err: Error): void {
    this.#state = 'closed'
    this.#mux._remove(this)
    try { this.#mux._sendCell(RelayCommand.END, this.id, encodeEnd(reason)) } catch { /* circuit gone */ }
    this.fail(err)
  }

  onEnd (reason: number): void {
    const wasConnecting = this.#state === 'connecting'
    this.#state = 'closed'
    this.#ended = true
    this.#mux._remove(this)
    if (this.#expect >= 0 || this.#hdrGot > 0) {
      this.fail(new StreamClosedError(reason, 'stream ended in the middle of a message'))
      return
    }
    if (reason !== StreamEndReason.DONE || wasConnecting) {
      this.fail(new StreamClosedError(reason, wasConnecting ? `stream refused (reason ${reason})` : `stream ended by peer (reason ${reason})`))
      return
    }
    this.#wakeReader()
    this.#mux._wakeWindow()
  }

  /** Fail every wait on this stream with `err` (circuit gone, local abort). */
  fail (err: Error): void {
    this.#state = 'closed'
    this.#ended = true
    if (this.#error === undefined) this.#error = err
    this.#connect?.reject(err)
    this.#wakeReader()
    this.#mux._wakeWindow()
  }
}
