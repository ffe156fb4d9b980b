/**
 * The client side of circuits: build one telescopically (CREATE to the first
 * hop over the client's own link, then EXTEND hop by hop through the circuit),
 * then carry streams to its last hop and extension commands to any hop.
 *
 * ```
 * const client = new CircuitClient({ links, rng: systemRng, clock: systemClock })
 * linkManager.onCell = (cell, link) => client.onCell(cell, wrap(link))
 * const circuit = await client.build([guard, middle, last], { signal: AbortSignal.timeout(10_000) })
 * const stream = await circuit.openStream('echo')
 * await stream.send(bytes); const back = await stream.read()
 * circuit.destroy()
 * ```
 *
 * Circuit states: building (awaits CREATED, then one EXTENDED at a time) →
 * open → closed. Building accepts only the reply it awaits; any cell no hop
 * recognises (modified, reordered), any EARLY cell toward the client, any
 * command illegal now, destroys the circuit both ways. The first
 * MAX_RELAY_EARLY relay cells go out as RELAY_EARLY whatever the length.
 *
 * Not here: which relays (manager.ts / path/), link I/O (src/node).
 */
import type { Clock } from '../overlay/clock.ts'
import type { Rng } from './primitives.ts'
import { OnionCallerError, OnionError, OnionPeerError } from './errors.ts'
import { CellCommand, DestroyReason, allocCell, decodeCell, encodeCell, setRelayHeader, type Cell } from './cell.ts'
import { RelayCommand, decodeRelayCell, encodeRelayCellInto, isExtensionCommand, type RelayCell } from './relay-cell.ts'
import { clientFinish, clientStart, type HopPublicKeys } from './handshake.ts'
import { VEIL_CGO_PARAMS, cgoLayout, clientDecryptInbound, clientEncryptOutbound, clientLayer, type ClientInbound, type ClientOutbound } from './cgo.ts'
import {
  CircuitBuildTimeoutError, CircuitClosedError, CircuitProtocolError, LinkWriter, allocateCircId, decodeExtended, encodeExtend, plainCopy, random32From,
  type HandshakeBlob, type LinkLike, type LinkProvider, type QueueOwner
} from './circuit.ts'
import { StreamMux, type OnionStream } from './stream.ts'
import { CELL_HEADER_LEN, CGO_TAG_LEN, HANDSHAKE_TYPE_HYBRID_NTOR_V1, MAX_HOPS, MAX_QUEUED_CELLS_PER_CIRCUIT, MAX_RELAY_EARLY } from './constants.ts'

/** One hop of a path, from its verified descriptor. */
export interface HopSpec {
  /** Peer id (string form), for logs and path rules. */
  readonly peer: string
  /** What an EXTEND names (the peer id's multihash bytes); also what the LinkProvider resolves. */
  readonly linkSpecifier: Uint8Array
  readonly keys: HopPublicKeys
}

/** A build failed after `hopsBuilt` hops: the hop at that index did not answer (or refused). */
export class CircuitBuildError extends OnionError {
  readonly hopsBuilt: number
  override readonly cause: unknown
  constructor (hopsBuilt: number, cause: unknown) {
    super('peer', 'ERR_BUILD_FAILED', `circuit build failed after ${hopsBuilt} hop(s): ${cause instanceof Error ? cause.message : String(cause)}`)
    this.hopsBuilt = hopsBuilt
    this.cause = cause
  }
}

export interface CircuitClientOptions {
  /** Links to first hops (src/node allows only entry relays). */
  links: LinkProvider
  rng: Rng
  clock: Clock
  /** Largest stream message this client accepts. */
  maxMessageLen?: number
  /** Default bound on stream reads and window waits. */
  streamIdleMs?: number
}

export interface CircuitClientCounters { built: number, failed: number, destroyedByPeer: number, unrecognised: number, protocolErrors: number, unknownCircuit: number }

/** Internals a Circuit needs from its client. */
interface CircuitHost {
  readonly rng: Rng
  writer(link: LinkLike): LinkWriter
  forget(c: Circuit): void
  readonly counters: CircuitClientCounters
  readonly maxMessageLen: number | undefined
  readonly streamIdleMs: number | undefined
}

type Pending = { kind: 'created' | 'extended', resolve: (b: HandshakeBlob) => void, reject: (e: Error) => void }

const layout = cgoLayout(VEIL_CGO_PARAMS)

/** A client's circuit. */
export class Circuit {
  readonly key: string
  readonly link: LinkLike
  readonly circId: number
  readonly createdAt: number
  /** Hops built so far, entry first. */
  readonly path: HopSpec[] = []
  /** Called for extension commands arriving from any hop. Without it they destroy the circuit. */
  onCommand: ((hop: number, cell: RelayCell) => void) | undefined
  /** Called for every DROP cell from any hop (src/mix: a returning loop-cover cell is a DROP carrying the loop id). */
  onDrop: ((hop: number, data: Uint8Array) => void) | undefined
  /** Called right after the last DATA cell of each stream message this end sends, with its cell count (src/mix pads messages to a bucket). */
  onMessageSent: ((cells: number) => void) | undefined
  readonly #host: CircuitHost
  readonly #out: ClientOutbound[] = []
  readonly #in: ClientInbound[] = []
  readonly #queue: QueueOwner = { queued: 0 }
  #state: 'building' | 'open' | 'closed' = 'building'
  #relaySent = 0
  #pending: Pending | undefined
  #streams: StreamMux | undefined
  #error: CircuitClosedError | undefined
  readonly #closeListeners = new Set<(err: CircuitClosedError) => void>()

  constructor (host: CircuitHost, key: string, link: LinkLike, circId: number, createdAt: number) {
    this.#host = host
    this.key = key
    this.link = link
    this.circId = circId
    this.createdAt = createdAt
  }

  get state (): 'building' | 'open' | 'closed' { return this.#state }
  get hops (): number { return this.path.length }
  /** Why it closed (undefined while alive). */
  get error (): CircuitClosedError | undefined { return this.#error }
  /** Streams open on it. */
  get streamCount (): number { return this.#streams?.size ?? 0 }
  /** Relay cells sent so far (the first MAX_RELAY_EARLY were EARLY). */
  get relayCellsSent (): number { return this.#relaySent }

  /** Called once when the circuit closes, with the reason. Returns an unsubscribe function. */
  onClose (fn: (err: CircuitClosedError) => void): () => void {
    if (this.#error !== undefined) { fn(this.#error); return () => {} }
    this.#closeListeners.add(fn)
    return () => { this.#closeListeners.delete(fn) }
  }

  // ----- building -----------------------------------------------------------

  async _create (hop: HopSpec, signal: AbortSignal): Promise<void> {
    const { state, message } = clientStart(this.#host.rng, hop.keys)
    try {
      this.#write(encodeCell({ command: 'create', circId: this.circId, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: message }))
      const reply = await this.#await('created', signal)
      this.#addHop(hop, state, reply)
    } finally { state.wipe() }
  }

  /** Extend by one hop (telescoping). At most MAX_HOPS hops; not while streams are open. */
  async extend (hop: HopSpec, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === 'closed') throw this.#error ?? new CircuitClosedError(DestroyReason.NONE, 'circuit is closed')
    if (this.path.length === 0) throw new OnionCallerError('circuit has no first hop yet')
    if (this.path.length >= MAX_HOPS) throw new OnionCallerError(`a circuit has at most ${MAX_HOPS} hops`)
    if (this.streamCount > 0) throw new OnionCallerError('cannot extend a circuit with open streams')
    const signal = opts.signal ?? AbortSignal.timeout(30_000)
    const { state, message } = clientStart(this.#host.rng, hop.keys)
    try {
      this.sendRelay(this.path.length - 1, RelayCommand.EXTEND, 0, encodeExtend({ linkSpecifier: hop.linkSpecifier, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: message }))
      const reply = await this.#await('extended', signal)
      this.#addHop(hop, state, reply)
    } finally { state.wipe() }
  }

  #addHop (hop: HopSpec, state: ReturnType<typeof clientStart>['state'], reply: HandshakeBlob): void {
    if (reply.handshakeType !== HANDSHAKE_TYPE_HYBRID_NTOR_V1) throw new CircuitProtocolError('reply with another handshake type')
    const keys = clientFinish(state, reply.handshake)
    const l = clientLayer(layout, keys)
    keys.wipe()
    this.#out.push(l.outbound)
    this.#in.push(l.inbound)
    this.path.push(hop)
  }

  #await (kind: Pending['kind'], signal: AbortSignal): Promise<HandshakeBlob> {
    if (this.#pending !== undefined) throw new OnionCallerError('one handshake at a time')
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending = undefined
        reject(new CircuitBuildTimeoutError(`no ${kind.toUpperCase()} in time`))
      }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pending = {
        kind,
        resolve: (b) => { signal.removeEventListener('abort', onAbort); this.#pending = undefined; resolve(b) },
        reject: (e) => { signal.removeEventListener('abort', onAbort); this.#pending = undefined; reject(e) }
      }
    })
  }

  _opened (): void {
    if (this.#state !== 'building') return
    this.#state = 'open'
    this.#streams = new StreamMux({ sendCell: (cmd, sid, data) => { this.sendRelay(this.path.length - 1, cmd, sid, data) } }, {
      role: 'client', maxMessageLen: this.#host.maxMessageLen, idleMs: this.#host.streamIdleMs, onMessageSent: (cells) => { this.onMessageSent?.(cells) }
    })
  }

  // ----- use --------------------------------------------------------------------

  /** Open a stream to a target registered at the last hop. */
  async openStream (target: string, opts: { signal?: AbortSignal } = {}): Promise<OnionStream> {
    if (this.#state !== 'open' || this.#streams === undefined) throw this.#error ?? new OnionCallerError('circuit is not open')
    return this.#streams.open(target, opts)
  }

  /**
   * Send one relay cell to hop `hop` (0 = entry). EARLY is automatic (the first
   * MAX_RELAY_EARLY cells); `early` overrides it — relays destroy a circuit that
   * gets more EARLY cells than allowed, or an EXTEND outside one.
   */
  sendRelay (hop: number, command: number, streamId: number, data: Uint8Array, opts: { early?: boolean } = {}): void {
    if (this.#state === 'closed') throw this.#error ?? new CircuitClosedError(DestroyReason.NONE, 'circuit is closed')
    if (!Number.isInteger(hop) || hop < 0 || hop >= this.#out.length) throw new OnionCallerError('no such hop')
    const early = opts.early ?? this.#relaySent < MAX_RELAY_EARLY
    this.#relaySent++
    const cell = allocCell()
    const body = cell.subarray(CELL_HEADER_LEN)
    encodeRelayCellInto(body.subarray(CGO_TAG_LEN), { command, streamId, data })
    clientEncryptOutbound(this.#out, hop, early ? CellCommand.RELAY_EARLY : CellCommand.RELAY, body)
    setRelayHeader(cell, this.circId, early)
    this.#write(cell)
  }

  #write (cell: Uint8Array): void {
    if (!this.#host.writer(this.link).write(cell, this.#queue)) {
      const err = new CircuitClosedError(DestroyReason.RESOURCE_LIMIT, 'link to the first hop is full')
      this.#close(err, true)
      throw err
    }
  }

  /** Tear down both ways (DESTROY to the first hop). */
  destroy (reason: number = DestroyReason.REQUESTED): void {
    this.#close(new CircuitClosedError(reason, 'circuit destroyed locally'), true)
  }

  // ----- incoming ----------------------------------------------------------------

  _onCell (cell: Cell): void {
    if (this.#state === 'closed') return
    try {
      switch (cell.command) {
        case 'created':
          if (this.#pending?.kind !== 'created') throw new CircuitProtocolError('CREATED not awaited')
          this.#pending.resolve({ handshakeType: cell.handshakeType, handshake: cell.handshake })
          return
        case 'relay':
          this.#onRelay(cell.early, cell.body)
          return
        case 'destroy':
          this.#host.counters.destroyedByPeer++
          this.#close(new CircuitClosedError(cell.reason, `circuit destroyed by the network (reason ${cell.reason})`), false)
          return
        default:
          throw new CircuitProtocolError(`${cell.command} is not legal toward a client`)
      }
    } catch (err) {
      if (!(err instanceof OnionPeerError)) throw err
      this.#host.counters.protocolErrors++
      this.#close(new CircuitClosedError(DestroyReason.PROTOCOL, err.message), true)
    }
  }

  #onRelay (early: boolean, body: Uint8Array): void {
    if (early) throw new CircuitProtocolError('RELAY_EARLY toward the client')
    if (this.#in.length === 0) throw new CircuitProtocolError('RELAY before CREATED')
    const hop = clientDecryptInbound(this.#in, CellCommand.RELAY, body)
    if (hop < 0) {
      this.#host.counters.unrecognised++
      throw new CircuitProtocolError('a cell no hop recognises: modified or reordered in flight')
    }
    const rc = decodeRelayCell(body.subarray(CGO_TAG_LEN))
    const last = this.#in.length - 1
    switch (rc.command) {
      case RelayCommand.EXTENDED:
        if (this.#pending?.kind !== 'extended' || hop !== last) throw new CircuitProtocolError('EXTENDED not awaited')
        this.#pending.resolve(decodeExtended(rc.data))
        return
      case RelayCommand.DROP:
        this.onDrop?.(hop, rc.data)
        return
      case RelayCommand.DATA:
      case RelayCommand.END:
      case RelayCommand.CONNECTED:
      case RelayCommand.SENDME:
        if (hop !== last || this.#streams === undefined) throw new CircuitProtocolError('stream command from a hop that is not the last')
        this.#streams.handle(rc)
        return
      default:
        if (isExtensionCommand(rc.command) && this.onCommand !== undefined) { this.onCommand(hop, rc); return }
        throw new CircuitProtocolError(`relay command ${rc.command} is not legal toward a client`)
    }
  }

  _remoteClosed (reason: number, message: string): void {
    this.#close(new CircuitClosedError(reason, message), false)
  }

  #close (err: CircuitClosedError, sendDestroy: boolean): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#error = err
    if (sendDestroy) this.#host.writer(this.link).write(encodeCell({ command: 'destroy', circId: this.circId, reason: DestroyReason.REQUESTED }))
    this.#pending?.reject(err)
    this.#streams?.close(err)
    for (const l of this.#out) l.state.wipe()
    for (const l of this.#in) l.state.wipe()
    this.#host.forget(this)
    for (const fn of this.#closeListeners) fn(err)
    this.#closeListeners.clear()
  }
}

/** All circuits of one client, over its links to first hops. */
export class CircuitClient {
  readonly #opts: CircuitClientOptions
  readonly #random32: () => number
  readonly #byLink = new Map<LinkLike, Map<number, Circuit>>()
  readonly #writers = new Map<LinkLike, LinkWriter>()
  #seq = 0
  readonly counters: CircuitClientCounters = { built: 0, failed: 0, destroyedByPeer: 0, unrecognised: 0, protocolErrors: 0, unknownCircuit: 0 }
  readonly #host: CircuitHost

  constructor (opts: CircuitClientOptions) {
    this.#opts = opts
    this.#random32 = random32From(opts.rng)
    this.#host = {
      rng: opts.rng,
      counters: this.counters,
      maxMessageLen: opts.maxMessageLen,
      streamIdleMs: opts.streamIdleMs,
      writer: (link) => {
        let w = this.#writers.get(link)
        if (w === undefined) { w = new LinkWriter(link, MAX_QUEUED_CELLS_PER_CIRCUIT); this.#writers.set(link, w) }
        return w
      },
      forget: (c) => {
        const m = this.#byLink.get(c.link)
        if (m?.get(c.circId) === c) m.delete(c.circId)
      }
    }
  }

  /** Live circuits. */
  circuits (): Circuit[] {
    const out: Circuit[] = []
    for (const m of this.#byLink.values()) out.push(...m.values())
    return out
  }

  /**
   * Build a circuit through `path` (entry first, 1..MAX_HOPS hops). Rejects with
   * CircuitBuildError (its `hopsBuilt` names the hop that failed); the partial
   * circuit is destroyed both ways.
   */
  async build (path: readonly HopSpec[], opts: { signal?: AbortSignal } = {}): Promise<Circuit> {
    if (path.length < 1 || path.length > MAX_HOPS) throw new OnionCallerError(`a path has 1..${MAX_HOPS} hops`)
    const signal = opts.signal ?? AbortSignal.timeout(60_000)
    let circuit: Circuit | undefined
    try {
      const link = await this.#opts.links.get(path[0].linkSpecifier, signal)
      if (link.closed) throw new CircuitClosedError(DestroyReason.CONNECT_FAILED, 'link to the first hop is closed')
      const slots = this.#slots(link)
      const circId = allocateCircId(link, slots, this.#random32)
      circuit = new Circuit(this.#host, `k${++this.#seq}`, link, circId, this.#opts.clock.now())
      slots.set(circId, circuit)
      await circuit._create(path[0], signal)
      for (const hop of path.slice(1)) await circuit.extend(hop, { signal })
      circuit._opened()
      this.counters.built++
      return circuit
    } catch (err) {
      this.counters.failed++
      const built = circuit?.hops ?? 0
      circuit?.destroy(DestroyReason.REQUESTED)
      throw new CircuitBuildError(built, err)
    }
  }

  /** One CELL_SIZE cell from a link to a first hop. Never throws. */
  onCell (bytes: Uint8Array, link: LinkLike): void {
    let cell: Cell
    try { cell = decodeCell(plainCopy(bytes)) } catch { this.counters.protocolErrors++; return }
    if (cell.command === 'padding') return
    const c = this.#byLink.get(link)?.get(cell.circId)
    if (c === undefined) { this.counters.unknownCircuit++; return }
    try {
      c._onCell(cell)
    } catch {
      c.destroy(DestroyReason.INTERNAL)
    }
  }

  /** A link closed: its circuits are gone. */
  onLinkClosed (link: LinkLike): void {
    const m = this.#byLink.get(link)
    if (m !== undefined) for (const c of [...m.values()]) c._remoteClosed(DestroyReason.DESTROYED, 'link to the first hop closed')
    this.#byLink.delete(link)
    this.#writers.get(link)?.clear()
    this.#writers.delete(link)
  }

  /** Destroy every circuit. */
  stop (): void {
    for (const c of this.circuits()) c.destroy(DestroyReason.REQUESTED)
  }

  #slots (link: LinkLike): Map<number, Circuit> {
    let m = this.#byLink.get(link)
    if (m === undefined) { m = new Map(); this.#byLink.set(link, m) }
    return m
  }
}
