/**
 * The relay side of circuits: what a relay does with every cell its links
 * bring. One instance per relay; src/node feeds it cells (`onCell`) and link
 * closures (`onLinkClosed`) and gives it its keys, a way to open links, a
 * forward scheduler and the tables later layers register in.
 *
 * Per link: a map circuit id → (circuit, side). Per circuit: the predecessor
 * (link + id), the successor once extended, the two CGO layers, EARLY and
 * EXTEND counters, and — at the last hop — a StreamMux.
 *
 * ```
 * CREATE (new id, peer's id space)  → handshake → CREATED          state: open
 * RELAY[_EARLY] from predecessor    → remove one layer
 *     not recognised                → forward to successor (through the scheduler), or destroy if none
 *     EXTEND (only in EARLY, ≤ MAX_HOPS−1 times, not while extending, not when extended)
 *                                   → link to next hop, CREATE there   state: extending
 *     DROP                          → discard
 *     stream commands, SENDME       → StreamMux (last hop only)
 *     extension commands            → RelayCommandTable, else destroy
 * CREATED from successor (extending) → EXTENDED toward the client    state: open
 * RELAY from successor              → add this relay's layer, pass back (never EARLY)
 * DESTROY from one side             → DESTROY to the other side, forget the circuit
 * any error                         → DESTROY both ways, count the peer's misbehaviour
 * ```
 * More than MAX_RELAY_EARLY EARLY cells on a circuit destroy it: with
 * EXTEND only in EARLY cells, no circuit gets longer than MAX_HOPS.
 *
 * A relay learns only its two neighbours: the predecessor's link (a client's
 * throwaway peer id at the first hop, a relay elsewhere) and the successor it
 * was asked to extend to. No field tells it its position.
 *
 * Never throws from `onCell` (a throw would abort the whole link).
 * Not here: link I/O (src/overlay), which keys are current (HandshakeKeySource),
 * what extension commands mean (later layers).
 */
import type { Rng } from './primitives.ts'
import { systemClock, type Clock } from '../overlay/clock.ts'
import { OnionError, OnionPeerError, HandshakeError } from './errors.ts'
import { CellCommand, DestroyReason, allocCell, copyCell, decodeCell, encodeCell, relayCellCircId, setRelayHeader, type Cell } from './cell.ts'
import { RelayCommand, decodeRelayCell, encodeRelayCellInto, isExtensionCommand, type RelayCell } from './relay-cell.ts'
import { relayRespond } from './handshake.ts'
import { VEIL_CGO_PARAMS, cgoLayout, relayLayer, type RelayInbound, type RelayOutbound } from './cgo.ts'
import {
  CircuitProtocolError, LinkWriter, allocateCircId, circIdBelongsTo, decodeExtend, encodeExtended, immediateScheduler, plainCopy, random32From,
  type ForwardScheduler, type HandshakeKeySource, type LinkLike, type LinkProvider, type QueueOwner
} from './circuit.ts'
import { StreamMux, type StreamTargets } from './stream.ts'
import type { RelayCommandTable, ExtensionContext } from './commands.ts'
import {
  CELL_HEADER_LEN, CGO_TAG_LEN, CIRC_ID_LEN, EXTEND_TIMEOUT_MS, HANDSHAKE_TYPE_HYBRID_NTOR_V1, MAX_CIRCUITS_PER_LINK, MAX_EXTENSION_REPLY_CELLS,
  MAX_HOPS, MAX_QUEUED_CELLS_PER_CIRCUIT, MAX_RELAY_CIRCUITS, MAX_RELAY_EARLY, MAX_STREAMS_PER_CIRCUIT, RELAY_CIRCUIT_IDLE_MS, RELAY_IDLE_SWEEPS_PER_PERIOD,
  RELAY_CREATES_PER_SECOND, RELAY_CREATES_PER_SECOND_PER_LINK, RELAY_CREATE_BURST_S, RELAY_CREATE_BURST_S_PER_LINK
} from './constants.ts'

// the CREATE budgets live in constants.ts (the CLI's flag defaults read them without loading this module)
export { RELAY_CREATES_PER_SECOND, RELAY_CREATES_PER_SECOND_PER_LINK, RELAY_CREATE_BURST_S, RELAY_CREATE_BURST_S_PER_LINK }


export interface RelayCircuitsOptions {
  keys: HandshakeKeySource
  links: LinkProvider
  /** Randomness for handshakes and circuit ids (systemRng in production). */
  rng: Rng
  scheduler?: ForwardScheduler
  commands?: RelayCommandTable
  /** Stream targets at the last hop (the exit side). */
  streams?: StreamTargets
  extendTimeoutMs?: number
  maxCircuitsPerLink?: number
  maxCircuits?: number
  /** Largest stream message accepted at this relay's stream end. */
  maxMessageLen?: number
  /** Streams open at once on one circuit at this relay's stream end (default MAX_STREAMS_PER_CIRCUIT). */
  maxStreamsPerCircuit?: number
  /**
   * After each message this relay's stream end sent on a circuit (it is the last hop), with
   * the message's cell count: src/mix pads responses to the circuit's profile bucket here.
   */
  onMessageSent?: (circuitKey: string, cells: number) => void
  /**
   * CREATEs this relay answers per second, over all links (default RELAY_CREATES_PER_SECOND); a
   * token bucket holding RELAY_CREATE_BURST_S seconds' worth. Over it a CREATE gets DESTROY(RESOURCE_LIMIT) before
   * any handshake work, so a create flood costs the relay a cell decode, not a hybrid handshake,
   * and established circuits keep being served.
   */
  createsPerSecond?: number
  /** CREATEs per second from one link (default RELAY_CREATES_PER_SECOND_PER_LINK; bucket of RELAY_CREATE_BURST_S_PER_LINK seconds). */
  createsPerSecondPerLink?: number
  /** Called for every peer fault (after the circuit is destroyed). */
  onMisbehaviour?: (peer: string, err: OnionError) => void
  /** A circuit that carried no cell for this long is destroyed (default RELAY_CIRCUIT_IDLE_MS). */
  idleMs?: number
  /** Time source for the idle rule (default the system clock). */
  clock?: Clock
}

export interface RelayCircuitCounters {
  created: number
  extended: number
  destroyed: number
  forwardedOut: number
  forwardedIn: number
  unknownCircuit: number
  malformedCells: number
  handshakeFailures: number
  unrecognised: number
  protocolErrors: number
  resourceLimit: number
  /** Circuits destroyed for carrying no cell for idleMs. */
  idle: number
  /** Peer misbehaviour by peer id (bounded: at most 1024 peers kept). */
  misbehaviour: Map<string, number>
  /** What each resource limit refused (their sum is `resourceLimit`, plus streamsPerCircuit). */
  limits: RelayLimitCounters
}

/** Refusals per limit, for `veil status` (the `circuits.limits` section of a relay). */
export interface RelayLimitCounters {
  /** CREATEs refused: the link already carries maxCircuitsPerLink circuits (one link per peer: circuits per peer). */
  circuitsPerLink: number
  /** CREATEs refused: the relay already carries maxCircuits circuits. */
  circuitsTotal: number
  /** CREATEs refused by the relay-wide CREATEs-per-second bucket. */
  createsPerSecond: number
  /** CREATEs refused by the per-link CREATEs-per-second bucket. */
  createsPerSecondPerLink: number
  /** Circuits destroyed because their queue toward a link was full (bytes buffered per circuit and link). */
  queueFull: number
  /** BEGINs refused: the circuit already had maxStreamsPerCircuit streams. */
  streamsPerCircuit: number
}

/** The limits a RelayCircuits enforces (resolved defaults), for `veil status`. */
export interface RelayLimitSettings {
  maxCircuitsPerLink: number
  maxCircuits: number
  createsPerSecond: number
  createsPerSecondPerLink: number
  /** Bucket sizes: CREATEs accepted at once after a quiet spell. */
  createBurst: number
  createBurstPerLink: number
  maxStreamsPerCircuit: number
  maxQueuedCellsPerCircuit: number
}

/** A token bucket: `rate` per second, holding at most `burst`. */
class Bucket {
  readonly rate: number
  readonly burst: number
  #tokens: number
  #at: number
  constructor (rate: number, burst: number, now: number) { this.rate = rate; this.burst = burst; this.#tokens = burst; this.#at = now }
  take (now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#at) * this.rate / 1000)
      this.#at = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** A circuit as one relay sees it (for status and the tests that check what a relay learns). */
export interface RelayCircuitView {
  readonly key: string
  readonly prev: string
  readonly next: string | undefined
  /** The circuit's id on the link to `prev` (and to `next`): the neighbour sees the same id on its side of that link. */
  readonly prevCircId: number
  readonly nextCircId: number | undefined
  readonly state: 'open' | 'extending'
  readonly earlyCells: number
  readonly extends: number
  readonly streams: number
}

interface HopEnd { readonly link: LinkLike, readonly circId: number }

interface RelayCircuit {
  readonly key: string
  readonly prev: HopEnd
  next: HopEnd | undefined
  state: 'open' | 'extending' | 'closed'
  readonly outbound: RelayOutbound
  readonly inbound: RelayInbound
  earlyCells: number
  extends: number
  streams: StreamMux | undefined
  extendTimer: ReturnType<typeof setTimeout> | undefined
  extendAbort: AbortController | undefined
  readonly outQueue: QueueOwner
  /** Clock time of the last cell in either direction (the idle rule). */
  lastActive: number
  readonly inQueue: QueueOwner
}

interface Slot { readonly circuit: RelayCircuit, readonly side: 'prev' | 'next' }

const MAX_MISBEHAVIOUR_PEERS = 1024

export class RelayCircuits {
  readonly #opts: RelayCircuitsOptions
  readonly #scheduler: ForwardScheduler
  readonly #layout = cgoLayout(VEIL_CGO_PARAMS)
  readonly #random32: () => number
  readonly #byLink = new Map<LinkLike, Map<number, Slot>>()
  readonly #writers = new Map<LinkLike, LinkWriter>()
  /** Every circuit at this relay, by its relay-local key. */
  readonly #all = new Map<string, RelayCircuit>()
  #seq = 0
  #stopped = false
  readonly counters: RelayCircuitCounters = {
    created: 0, extended: 0, destroyed: 0, forwardedOut: 0, forwardedIn: 0, unknownCircuit: 0, malformedCells: 0,
    handshakeFailures: 0, unrecognised: 0, protocolErrors: 0, resourceLimit: 0, idle: 0, misbehaviour: new Map(),
    limits: { circuitsPerLink: 0, circuitsTotal: 0, createsPerSecond: 0, createsPerSecondPerLink: 0, queueFull: 0, streamsPerCircuit: 0 }
  }

  /** The limits in force (defaults resolved). */
  readonly limits: Readonly<RelayLimitSettings>
  readonly #createBucket: Bucket
  readonly #linkBuckets = new Map<LinkLike, Bucket>()

  readonly #clock: Clock
  readonly #idleMs: number
  #sweep: ReturnType<typeof setInterval> | undefined

  constructor (opts: RelayCircuitsOptions) {
    this.#opts = opts
    this.#scheduler = opts.scheduler ?? immediateScheduler
    this.#random32 = random32From(opts.rng)
    this.#clock = opts.clock ?? systemClock
    this.#idleMs = opts.idleMs ?? RELAY_CIRCUIT_IDLE_MS
    this.limits = Object.freeze({
      maxCircuitsPerLink: opts.maxCircuitsPerLink ?? MAX_CIRCUITS_PER_LINK,
      maxCircuits: opts.maxCircuits ?? MAX_RELAY_CIRCUITS,
      createsPerSecond: opts.createsPerSecond ?? RELAY_CREATES_PER_SECOND,
      createsPerSecondPerLink: opts.createsPerSecondPerLink ?? RELAY_CREATES_PER_SECOND_PER_LINK,
      createBurst: (opts.createsPerSecond ?? RELAY_CREATES_PER_SECOND) * RELAY_CREATE_BURST_S,
      createBurstPerLink: (opts.createsPerSecondPerLink ?? RELAY_CREATES_PER_SECOND_PER_LINK) * RELAY_CREATE_BURST_S_PER_LINK,
      maxStreamsPerCircuit: opts.maxStreamsPerCircuit ?? MAX_STREAMS_PER_CIRCUIT,
      maxQueuedCellsPerCircuit: MAX_QUEUED_CELLS_PER_CIRCUIT
    })
    this.#createBucket = new Bucket(this.limits.createsPerSecond, this.limits.createBurst, this.#clock.now())
  }

  /** Destroy circuits idle for idleMs (run by the sweep timer; public so tests on a manual clock can call it). */
  sweepIdle (): void {
    const cutoff = this.#clock.now() - this.#idleMs
    for (const c of [...this.#all.values()]) {
      if (c.lastActive <= cutoff) {
        this.counters.idle++
        this.#destroy(c, DestroyReason.TIMEOUT, 'local')
      }
    }
    if (this.#all.size === 0) this.#stopSweep()
  }

  /** One timer per relay, only while it carries circuits. */
  #startSweep (): void {
    if (this.#sweep !== undefined || this.#stopped) return
    this.#sweep = setInterval(() => { this.sweepIdle() }, Math.max(1, Math.floor(this.#idleMs / RELAY_IDLE_SWEEPS_PER_PERIOD)))
    this.#sweep.unref?.()
  }

  #stopSweep (): void {
    clearInterval(this.#sweep)
    this.#sweep = undefined
  }

  get size (): number { return this.#all.size }

  /** Snapshot of the circuits this relay carries. */
  circuits (): RelayCircuitView[] {
    return [...this.#all.values()].map(c => ({
      key: c.key,
      prev: c.prev.link.peer,
      next: c.next?.link.peer,
      prevCircId: c.prev.circId,
      nextCircId: c.next?.circId,
      state: c.state === 'extending' ? 'extending' : 'open',
      earlyCells: c.earlyCells,
      extends: c.extends,
      streams: c.streams?.size ?? 0
    }))
  }

  /** Destroy every circuit; later cells are ignored. */
  stop (): void {
    this.#stopped = true
    this.#stopSweep()
    for (const c of [...this.#all.values()]) this.#destroy(c, DestroyReason.HIBERNATING, 'local')
    for (const w of this.#writers.values()) w.clear()
    this.#writers.clear()
  }

  /** A link closed: its circuits are destroyed toward their other side. */
  onLinkClosed (link: LinkLike): void {
    const slots = this.#byLink.get(link)
    if (slots !== undefined) {
      for (const { circuit, side } of [...slots.values()]) this.#destroy(circuit, DestroyReason.DESTROYED, side)
    }
    this.#byLink.delete(link)
    this.#linkBuckets.delete(link)
    this.#writers.get(link)?.clear()
    this.#writers.delete(link)
  }

  /** One CELL_SIZE cell from `link`. Never throws. */
  onCell (bytes: Uint8Array, link: LinkLike): void {
    if (this.#stopped) return
    const relayCircId = relayCellCircId(bytes)
    if (relayCircId !== undefined) {
      // fast path for RELAY cells: one aligned copy, CGO in place, header rewritten, same buffer forwarded
      const slot = this.#byLink.get(link)?.get(relayCircId)
      if (slot === undefined) { this.counters.unknownCircuit++; return }
      const cell = copyCell(bytes)
      const early = cell[CIRC_ID_LEN] === CellCommand.RELAY_EARLY
      slot.circuit.lastActive = this.#clock.now()
      try {
        if (slot.side === 'prev') this.#onOutbound(slot.circuit, early, cell)
        else this.#onInbound(slot.circuit, link, early, cell)
      } catch {
        // a bug in this module: never let it take the link down
        this.#destroy(slot.circuit, DestroyReason.INTERNAL, 'local')
      }
      return
    }
    let cell: Cell
    try {
      cell = decodeCell(plainCopy(bytes))
    } catch (err) {
      this.counters.malformedCells++
      // the circuit id is still the first four bytes: destroy that circuit if it is one of ours
      const circId = bytes.length >= CIRC_ID_LEN ? new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0) : 0
      const slot = this.#byLink.get(link)?.get(circId)
      this.#misbehaved(link.peer, err instanceof OnionError ? err : new CircuitProtocolError('undecodable cell'))
      if (slot !== undefined) this.#destroy(slot.circuit, DestroyReason.PROTOCOL, slot.side)
      return
    }
    try {
      this.#dispatch(cell, link)
    } catch (err) {
      // a bug in this module: never let it take the link down
      const slot = cell.command === 'padding' ? undefined : this.#byLink.get(link)?.get(cell.circId)
      if (slot !== undefined) this.#destroy(slot.circuit, DestroyReason.INTERNAL, 'local')
      void err
    }
  }

  #dispatch (cell: Cell, link: LinkLike): void {
    if (cell.command === 'padding') return
    const slot = this.#byLink.get(link)?.get(cell.circId)
    switch (cell.command) {
      case 'create':
        this.#onCreate(cell, link, slot)
        return
      case 'created':
        if (slot === undefined) { this.counters.unknownCircuit++; return }
        if (slot.side !== 'next' || slot.circuit.state !== 'extending') { this.#fault(slot.circuit, link, new CircuitProtocolError('CREATED not awaited'), slot.side); return }
        this.#onCreated(slot.circuit, cell.handshakeType, cell.handshake)
        return
      case 'relay': {
        if (slot === undefined) { this.counters.unknownCircuit++; return }
        const whole = encodeCell(cell) // (onCell takes RELAY cells on the fast path; this keeps dispatch total)
        if (slot.side === 'prev') this.#onOutbound(slot.circuit, cell.early, copyCell(whole))
        else this.#onInbound(slot.circuit, link, cell.early, copyCell(whole))
        return
      }
      case 'destroy':
        if (slot === undefined) { this.counters.unknownCircuit++; return }
        this.#destroy(slot.circuit, DestroyReason.DESTROYED, slot.side)
    }
  }

  // ----- CREATE / CREATED / EXTEND --------------------------------------------

  #onCreate (cell: Extract<Cell, { command: 'create' }>, link: LinkLike, slot: Slot | undefined): void {
    if (slot !== undefined) {
      this.#fault(slot.circuit, link, new CircuitProtocolError('CREATE for a circuit id in use'), slot.side)
      return
    }
    // the peer allocates from its own half of the id space
    if (!circIdBelongsTo(cell.circId, link.direction === 'inbound')) {
      this.#misbehaved(link.peer, new CircuitProtocolError('CREATE with a circuit id from the wrong half'))
      this.#sendDestroy(link, cell.circId, DestroyReason.PROTOCOL)
      return
    }
    const slots = this.#slots(link)
    const refused = slots.size >= this.limits.maxCircuitsPerLink
      ? 'circuitsPerLink'
      : this.#all.size >= this.limits.maxCircuits
        ? 'circuitsTotal'
        : !this.#linkBucket(link).take(this.#clock.now())
            ? 'createsPerSecondPerLink'
            : !this.#createBucket.take(this.#clock.now()) ? 'createsPerSecond' : undefined
    if (refused !== undefined) {
      this.counters.resourceLimit++
      this.counters.limits[refused]++
      this.#sendDestroy(link, cell.circId, DestroyReason.RESOURCE_LIMIT)
      return
    }
    if (cell.handshakeType !== HANDSHAKE_TYPE_HYBRID_NTOR_V1) {
      this.counters.handshakeFailures++
      this.#misbehaved(link.peer, new CircuitProtocolError(`unknown handshake type ${cell.handshakeType}`))
      this.#sendDestroy(link, cell.circId, DestroyReason.PROTOCOL)
      return
    }
    let reply: Uint8Array
    let layers: { outbound: RelayOutbound, inbound: RelayInbound }
    try {
      const r = relayRespond(this.#opts.keys.current(), cell.handshake, this.#opts.rng)
      reply = r.reply
      layers = relayLayer(this.#layout, r.sessionKeys)
      r.sessionKeys.wipe()
    } catch (err) {
      if (!(err instanceof HandshakeError)) throw err
      this.counters.handshakeFailures++
      this.#misbehaved(link.peer, err)
      this.#sendDestroy(link, cell.circId, DestroyReason.PROTOCOL)
      return
    }
    const c: RelayCircuit = {
      key: `c${++this.#seq}`,
      prev: { link, circId: cell.circId },
      next: undefined,
      state: 'open',
      outbound: layers.outbound,
      inbound: layers.inbound,
      earlyCells: 0,
      extends: 0,
      streams: undefined,
      extendTimer: undefined,
      extendAbort: undefined,
      outQueue: { queued: 0 },
      lastActive: this.#clock.now(),
      inQueue: { queued: 0 }
    }
    slots.set(cell.circId, { circuit: c, side: 'prev' })
    this.#all.set(c.key, c)
    this.#startSweep()
    this.counters.created++
    this.#write(c, 'inbound', link, encodeCell({ command: 'created', circId: cell.circId, handshakeType: HANDSHAKE_TYPE_HYBRID_NTOR_V1, handshake: reply }))
  }

  #onExtend (c: RelayCircuit, early: boolean, data: Uint8Array): void {
    if (!early) throw new CircuitProtocolError('EXTEND outside a RELAY_EARLY cell')
    if (c.state !== 'open' || c.next !== undefined) throw new CircuitProtocolError('EXTEND on a circuit already extended or extending')
    c.extends++
    if (c.extends > MAX_HOPS - 1) throw new CircuitProtocolError('circuit extended too many times')
    const req = decodeExtend(data)
    if (req.handshakeType !== HANDSHAKE_TYPE_HYBRID_NTOR_V1) throw new CircuitProtocolError(`unknown handshake type ${req.handshakeType}`)
    c.state = 'extending'
    const abort = new AbortController()
    c.extendAbort = abort
    const timeoutMs = this.#opts.extendTimeoutMs ?? EXTEND_TIMEOUT_MS
    c.extendTimer = setTimeout(() => { abort.abort(); this.#destroy(c, DestroyReason.TIMEOUT, 'local') }, timeoutMs)
    c.extendTimer.unref?.()
    this.#opts.links.get(req.linkSpecifier, abort.signal).then((link) => {
      if (c.state !== 'extending') return
      if (link.closed) throw new Error('next link closed')
      if (link.peer === c.prev.link.peer) {
        // never extend back to where the circuit came from
        this.#fault(c, c.prev.link, new CircuitProtocolError('EXTEND back to the predecessor'), 'local')
        return
      }
      const slots = this.#slots(link)
      const circId = allocateCircId(link, slots, this.#random32)
      c.next = { link, circId }
      slots.set(circId, { circuit: c, side: 'next' })
      this.#write(c, 'outbound', link, encodeCell({ command: 'create', circId, handshakeType: req.handshakeType, handshake: req.handshake }))
    }).catch(() => {
      if (c.state === 'extending') this.#destroy(c, DestroyReason.CONNECT_FAILED, 'local')
    })
  }

  #onCreated (c: RelayCircuit, handshakeType: number, handshake: Uint8Array): void {
    clearTimeout(c.extendTimer)
    c.extendTimer = undefined
    c.extendAbort = undefined
    c.state = 'open'
    this.counters.extended++
    this.#originate(c, RelayCommand.EXTENDED, 0, encodeExtended({ handshakeType, handshake }))
  }

  // ----- RELAY cells ------------------------------------------------------------

  /** `cell`: a whole RELAY cell (an allocCell buffer), decrypted and forwarded in place. */
  #onOutbound (c: RelayCircuit, early: boolean, cell: Uint8Array): void {
    const body = cell.subarray(CELL_HEADER_LEN)
    if (early) {
      c.earlyCells++
      if (c.earlyCells > MAX_RELAY_EARLY) { this.#fault(c, c.prev.link, new CircuitProtocolError('too many RELAY_EARLY cells'), 'local'); return }
    }
    const ad = early ? CellCommand.RELAY_EARLY : CellCommand.RELAY
    if (!c.outbound.decryptOutbound(ad, body)) {
      const next = c.next
      if (next === undefined || c.state !== 'open') {
        // modified in flight, reordered, or sent past the end: CGO makes it noise here
        this.counters.unrecognised++
        this.#destroy(c, DestroyReason.PROTOCOL, 'local')
        return
      }
      this.counters.forwardedOut++
      setRelayHeader(cell, next.circId, early)
      this.#write(c, 'outbound', next.link, cell)
      return
    }
    let rc: RelayCell
    try {
      rc = decodeRelayCell(body.subarray(CGO_TAG_LEN))
      this.#onRecognised(c, early, rc)
    } catch (err) {
      if (err instanceof OnionPeerError) { this.#fault(c, c.prev.link, err, 'local'); return }
      throw err
    }
  }

  #onRecognised (c: RelayCircuit, early: boolean, rc: RelayCell): void {
    switch (rc.command) {
      case RelayCommand.EXTEND:
        this.#onExtend(c, early, rc.data)
        return
      case RelayCommand.DROP:
        // cover: whatever it carries is discarded
        return
      case RelayCommand.EXTENDED:
        throw new CircuitProtocolError('EXTENDED sent away from the client')
      case RelayCommand.BEGIN:
      case RelayCommand.DATA:
      case RelayCommand.END:
      case RelayCommand.CONNECTED:
      case RelayCommand.SENDME: {
        if (c.next !== undefined || c.state !== 'open') throw new CircuitProtocolError('stream command at a hop that is not the last')
        c.streams ??= new StreamMux({ sendCell: (cmd, sid, d) => { this.#originate(c, cmd, sid, d) } }, {
          role: 'server',
          targets: this.#opts.streams,
          maxMessageLen: this.#opts.maxMessageLen,
          maxStreams: this.limits.maxStreamsPerCircuit,
          onStreamLimit: () => { this.counters.limits.streamsPerCircuit++ },
          onMessageSent: (cells) => { this.#opts.onMessageSent?.(c.key, cells) }
        })
        c.streams.handle(rc)
        return
      }
      default: {
        const handler = isExtensionCommand(rc.command) ? this.#opts.commands?.get(rc.command) : undefined
        if (handler === undefined) throw new CircuitProtocolError(`no handler for relay command ${rc.command}`)
        this.#runExtension(c, handler, rc)
      }
    }
  }

  #runExtension (c: RelayCircuit, handler: NonNullable<ReturnType<RelayCommandTable['get']>>, rc: RelayCell): void {
    let budget = MAX_EXTENSION_REPLY_CELLS
    const ctx: ExtensionContext = {
      circuitKey: c.key,
      lastHop: c.next === undefined,
      reply: (command, streamId, data) => {
        if (c.state === 'closed') throw new CircuitProtocolError('circuit is closed')
        if (budget-- <= 0) throw new CircuitProtocolError('extension reply budget exhausted')
        this.#originate(c, command, streamId, data)
      }
    }
    Promise.resolve().then(async () => { await handler(ctx, rc) }).catch((err: unknown) => {
      if (c.state === 'closed') return
      if (err instanceof OnionPeerError) this.#fault(c, c.prev.link, err, 'local')
      else this.#destroy(c, DestroyReason.INTERNAL, 'local')
    })
  }

  #onInbound (c: RelayCircuit, link: LinkLike, early: boolean, cell: Uint8Array): void {
    if (early) { this.#fault(c, link, new CircuitProtocolError('RELAY_EARLY toward the client'), 'next'); return }
    if (c.state !== 'open') { this.#fault(c, link, new CircuitProtocolError('RELAY before CREATED'), 'next'); return }
    c.inbound.encryptInbound(CellCommand.RELAY, cell.subarray(CELL_HEADER_LEN))
    this.counters.forwardedIn++
    setRelayHeader(cell, c.prev.circId, false)
    this.#write(c, 'inbound', c.prev.link, cell)
  }

  /**
   * Send a relay cell toward the client from this relay, on circuit `circuitKey`, if this
   * relay is its last hop and it is open (src/mix's backward stream sends its filler DROPs
   * here). Returns false, sending nothing, otherwise.
   */
  originateAtLastHop (circuitKey: string, command: number, streamId: number, data: Uint8Array): boolean {
    const c = this.#all.get(circuitKey)
    if (c === undefined || c.state !== 'open' || c.next !== undefined) return false
    this.#originate(c, command, streamId, data)
    return true
  }

  /** A relay cell from this hop toward the client. */
  #originate (c: RelayCircuit, command: number, streamId: number, data: Uint8Array): void {
    if (c.state === 'closed') throw new CircuitProtocolError('circuit is closed')
    const cell = allocCell()
    const body = cell.subarray(CELL_HEADER_LEN)
    encodeRelayCellInto(body.subarray(CGO_TAG_LEN), { command, streamId, data })
    c.inbound.originate(CellCommand.RELAY, body)
    setRelayHeader(cell, c.prev.circId, false)
    this.#write(c, 'inbound', c.prev.link, cell)
  }

  // ----- output -------------------------------------------------------------------

  #write (c: RelayCircuit, direction: 'outbound' | 'inbound', link: LinkLike, cell: Uint8Array): void {
    this.#scheduler.schedule(c.key, direction, () => {
      if (c.state === 'closed') return
      const owner = direction === 'outbound' ? c.outQueue : c.inQueue
      if (!this.#writer(link).write(cell, owner)) {
        this.counters.resourceLimit++
        this.counters.limits.queueFull++
        this.#destroy(c, DestroyReason.RESOURCE_LIMIT, 'local')
      }
    })
  }

  #writer (link: LinkLike): LinkWriter {
    let w = this.#writers.get(link)
    if (w === undefined) {
      w = new LinkWriter(link, MAX_QUEUED_CELLS_PER_CIRCUIT)
      this.#writers.set(link, w)
    }
    return w
  }

  #sendDestroy (link: LinkLike, circId: number, reason: number): void {
    this.#writer(link).write(encodeCell({ command: 'destroy', circId, reason }))
  }

  #linkBucket (link: LinkLike): Bucket {
    let b = this.#linkBuckets.get(link)
    if (b === undefined) { b = new Bucket(this.limits.createsPerSecondPerLink, this.limits.createBurstPerLink, this.#clock.now()); this.#linkBuckets.set(link, b) }
    return b
  }

  #slots (link: LinkLike): Map<number, Slot> {
    let m = this.#byLink.get(link)
    if (m === undefined) { m = new Map(); this.#byLink.set(link, m) }
    return m
  }

  // ----- teardown -----------------------------------------------------------------

  #misbehaved (peer: string, err: OnionError): void {
    this.counters.protocolErrors++
    const m = this.counters.misbehaviour
    if (m.has(peer) || m.size < MAX_MISBEHAVIOUR_PEERS) m.set(peer, (m.get(peer) ?? 0) + 1)
    this.#opts.onMisbehaviour?.(peer, err)
  }

  #fault (c: RelayCircuit, link: LinkLike, err: OnionError, from: 'prev' | 'next' | 'local'): void {
    this.#misbehaved(link.peer, err)
    this.#destroy(c, DestroyReason.PROTOCOL, from)
  }

  /** Forget `c` and send DESTROY to each side except the one it came from. */
  #destroy (c: RelayCircuit, reason: number, from: 'prev' | 'next' | 'local'): void {
    if (c.state === 'closed') return
    c.state = 'closed'
    this.#all.delete(c.key)
    this.counters.destroyed++
    clearTimeout(c.extendTimer)
    c.extendAbort?.abort()
    c.streams?.close(new CircuitProtocolError('circuit destroyed'))
    this.#byLink.get(c.prev.link)?.delete(c.prev.circId)
    if (from !== 'prev') this.#sendDestroy(c.prev.link, c.prev.circId, reason)
    if (c.next !== undefined) {
      this.#byLink.get(c.next.link)?.delete(c.next.circId)
      if (from !== 'next') this.#sendDestroy(c.next.link, c.next.circId, DestroyReason.DESTROYED)
    }
    c.outbound.state.wipe()
    c.inbound.state.wipe()
    this.#scheduler.closed?.(c.key)
    this.#opts.commands?.circuitClosed(c.key)
  }
}
