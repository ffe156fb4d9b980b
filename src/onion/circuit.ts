/**
 * What the circuit layer shares between its relay side (relay-circuits.ts),
 * its client side (client-circuit.ts) and streams (stream.ts): the small
 * interfaces through which it touches the world (links, keys, a scheduler), the
 * circuit-level errors, the pure codecs of EXTEND / EXTENDED / BEGIN / END
 * data, circuit-id allocation and the bounded per-link writer.
 *
 * The onion layer never imports libp2p: src/node wraps an overlay Link as a
 * {@link LinkLike} and fills {@link LinkProvider} and {@link HandshakeKeySource}.
 *
 * EXTEND data (inside a relay cell, stream id 0):
 * ```
 * +--------+-------------------+-----------+-----------+-----------+
 * | LSLEN  | LINK SPECIFIER    | HTYPE u16 | HLEN u16  | HDATA     |
 * | u8     | (peer id mhash)   |           |           | message 1 |
 * +--------+-------------------+-----------+-----------+-----------+
 * EXTENDED data: HTYPE u16 | HLEN u16 | HDATA (message 2)
 * BEGIN data:    target name, 1..MAX_STREAM_TARGET_LEN bytes of [a-z0-9._/-]
 * END data:      REASON u8
 * SENDME, CONNECTED, DROP data: empty
 * ```
 * Every decoder is exact (no trailing bytes) and throws only
 * {@link MalformedRelayCellError}.
 */
import { MalformedRelayCellError, OnionCallerError, OnionError, OnionPeerError } from './errors.ts'
import type { RelayHandshakeKeys } from './handshake.ts'
import {
  CIRC_ID_HIGH_BIT, HANDSHAKE_HEADER_LEN, HANDSHAKE_TYPE_LEN, LINK_SPECIFIER_LEN_LEN, MAX_LINK_SPECIFIER_LEN,
  MAX_STREAM_TARGET_LEN, RELAY_DATA_MAX, STREAM_END_REASON_LEN
} from './constants.ts'

// ---------------------------------------------------------------------------
// The world, as the circuit layer sees it
// ---------------------------------------------------------------------------

/** One link to a neighbour, carrying CELL_SIZE cells of many circuits. */
export interface LinkLike {
  /** The neighbour's peer id (string form): what this relay learns about it. */
  readonly peer: string
  /** 'outbound' if this side opened the link (it then allocates circuit ids with the top bit set). */
  readonly direction: 'inbound' | 'outbound'
  readonly closed: boolean
  /** Queue one cell; false when the link is closed or full (never throws for a CELL_SIZE cell). */
  send(cell: Uint8Array): boolean
}

/** Opens (or reuses) the link to the relay named by an EXTEND's link specifier, or a client's first hop. */
export interface LinkProvider {
  get(linkSpecifier: Uint8Array, signal: AbortSignal): Promise<LinkLike>
}

/** The relay's current handshake keys (identity + onion keys valid now, previous included during rotation). */
export interface HandshakeKeySource {
  current(): RelayHandshakeKeys
}

/** Direction of a cell on a circuit: away from the client, or toward it. */
export type CellDirection = 'outbound' | 'inbound'

/**
 * The forward-scheduler hook: every cell a relay sends on a circuit passes
 * through here, so a mixing layer can delay cells *between* circuits. It must
 * call `send` for cells of one circuit and direction in the order given (CGO
 * chains each cell's tag to the previous one: a reordered cell destroys the
 * circuit). `send` is a no-op once the circuit is gone.
 */
export interface ForwardScheduler {
  schedule(circuitKey: string, direction: CellDirection, send: () => void): void
  /** Optional: the circuit was destroyed; cells still queued for it may be discarded (src/mix frees its lanes). */
  closed?(circuitKey: string): void
}

/** The default scheduler: send now. */
export const immediateScheduler: ForwardScheduler = Object.freeze({
  schedule (_circuitKey: string, _direction: CellDirection, send: () => void): void { send() }
})

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** The circuit was destroyed (by a DESTROY from a neighbour, a local error, or on request). */
export class CircuitClosedError extends OnionError {
  readonly reason: number
  constructor (reason: number, message: string) {
    super('peer', 'ERR_CIRCUIT_CLOSED', message)
    this.reason = reason
  }
}

/** A circuit did not finish building in time. */
export class CircuitBuildTimeoutError extends OnionError {
  constructor (message: string) {
    super('peer', 'ERR_BUILD_TIMEOUT', message)
  }
}

/** A peer broke circuit or stream rules (illegal command now, flow-control violation, unrecognised cell). */
export class CircuitProtocolError extends OnionPeerError {
  constructor (message: string) {
    super('ERR_CIRCUIT_PROTOCOL', message)
  }
}

/** A stream ended: cleanly (reason DONE) surfaces as end of stream; anything else as this error. */
export class StreamClosedError extends OnionError {
  readonly reason: number
  constructor (reason: number, message: string) {
    super('peer', 'ERR_STREAM_CLOSED', message)
    this.reason = reason
  }
}

/** A wait (stream open, read, window) ran out of time or was aborted. */
export class OnionTimeoutError extends OnionError {
  constructor (message: string) {
    super('peer', 'ERR_TIMEOUT', message)
  }
}

// ---------------------------------------------------------------------------
// Codecs of circuit-level relay data
// ---------------------------------------------------------------------------

export interface ExtendRequest {
  readonly linkSpecifier: Uint8Array
  readonly handshakeType: number
  readonly handshake: Uint8Array
}

export interface HandshakeBlob {
  readonly handshakeType: number
  readonly handshake: Uint8Array
}

function checkU16 (v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new OnionCallerError(`${what} must be a u16`)
}

export function encodeExtend (req: ExtendRequest): Uint8Array {
  const { linkSpecifier: ls, handshakeType, handshake } = req
  if (!(ls instanceof Uint8Array) || ls.length === 0 || ls.length > MAX_LINK_SPECIFIER_LEN) throw new OnionCallerError('link specifier must be 1..255 bytes')
  checkU16(handshakeType, 'handshake type')
  const len = LINK_SPECIFIER_LEN_LEN + ls.length + HANDSHAKE_HEADER_LEN + handshake.length
  if (len > RELAY_DATA_MAX) throw new OnionCallerError('EXTEND does not fit one relay cell')
  const out = new Uint8Array(len)
  out[0] = ls.length
  out.set(ls, LINK_SPECIFIER_LEN_LEN)
  const at = LINK_SPECIFIER_LEN_LEN + ls.length
  const dv = new DataView(out.buffer)
  dv.setUint16(at, handshakeType)
  dv.setUint16(at + HANDSHAKE_TYPE_LEN, handshake.length)
  out.set(handshake, at + HANDSHAKE_HEADER_LEN)
  return out
}

export function decodeExtend (data: Uint8Array): ExtendRequest {
  if (data.length < LINK_SPECIFIER_LEN_LEN) throw new MalformedRelayCellError('EXTEND too short')
  const lsLen = data[0]
  if (lsLen === 0) throw new MalformedRelayCellError('EXTEND with an empty link specifier')
  const at = LINK_SPECIFIER_LEN_LEN + lsLen
  if (data.length < at + HANDSHAKE_HEADER_LEN) throw new MalformedRelayCellError('EXTEND too short')
  const blob = decodeHandshakeBlob(data.subarray(at), 'EXTEND')
  return { linkSpecifier: data.slice(LINK_SPECIFIER_LEN_LEN, at), ...blob }
}

export function encodeExtended (blob: HandshakeBlob): Uint8Array {
  checkU16(blob.handshakeType, 'handshake type')
  if (HANDSHAKE_HEADER_LEN + blob.handshake.length > RELAY_DATA_MAX) throw new OnionCallerError('EXTENDED does not fit one relay cell')
  const out = new Uint8Array(HANDSHAKE_HEADER_LEN + blob.handshake.length)
  const dv = new DataView(out.buffer)
  dv.setUint16(0, blob.handshakeType)
  dv.setUint16(HANDSHAKE_TYPE_LEN, blob.handshake.length)
  out.set(blob.handshake, HANDSHAKE_HEADER_LEN)
  return out
}

export function decodeExtended (data: Uint8Array): HandshakeBlob {
  return decodeHandshakeBlob(data, 'EXTENDED')
}

function decodeHandshakeBlob (data: Uint8Array, what: string): HandshakeBlob {
  if (data.length < HANDSHAKE_HEADER_LEN) throw new MalformedRelayCellError(`${what} too short`)
  const dv = new DataView(data.buffer, data.byteOffset, data.length)
  const handshakeType = dv.getUint16(0)
  const len = dv.getUint16(HANDSHAKE_TYPE_LEN)
  if (data.length !== HANDSHAKE_HEADER_LEN + len) throw new MalformedRelayCellError(`${what} handshake length does not match`)
  return { handshakeType, handshake: data.slice(HANDSHAKE_HEADER_LEN) }
}

const TARGET_RE = /^[a-z0-9._/-]+$/

/** BEGIN data: a registered target name. */
export function encodeBegin (target: string): Uint8Array {
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_STREAM_TARGET_LEN || !TARGET_RE.test(target)) {
    throw new OnionCallerError(`stream target must be 1..${MAX_STREAM_TARGET_LEN} characters of [a-z0-9._/-]`)
  }
  return new TextEncoder().encode(target)
}

export function decodeBegin (data: Uint8Array): string {
  if (data.length === 0 || data.length > MAX_STREAM_TARGET_LEN) throw new MalformedRelayCellError('BEGIN target length out of range')
  let s = ''
  for (const b of data) s += String.fromCharCode(b)
  if (!TARGET_RE.test(s)) throw new MalformedRelayCellError('BEGIN target has illegal characters')
  return s
}

export function encodeEnd (reason: number): Uint8Array {
  if (!Number.isInteger(reason) || reason < 0 || reason > 0xff) throw new OnionCallerError('END reason must be a u8')
  return Uint8Array.of(reason)
}

export function decodeEnd (data: Uint8Array): number {
  if (data.length !== STREAM_END_REASON_LEN) throw new MalformedRelayCellError('END carries exactly one reason byte')
  return data[0]
}

/** Data that must be empty (SENDME, CONNECTED, DROP). */
export function expectEmpty (data: Uint8Array, what: string): void {
  if (data.length !== 0) throw new MalformedRelayCellError(`${what} carries no data`)
}

// ---------------------------------------------------------------------------
// Circuit ids
// ---------------------------------------------------------------------------

/** True if `circId` is in the id space of the side that opened (`outbound`) or accepted the link. */
export function circIdBelongsTo (circId: number, opener: boolean): boolean {
  return ((circId & CIRC_ID_HIGH_BIT) !== 0) === opener
}

/**
 * A fresh circuit id for this side of `link`, not in `used`. Random (from
 * `random32`), so ids reveal nothing about how many circuits a link carried.
 */
export function allocateCircId (link: LinkLike, used: { has(id: number): boolean }, random32: () => number): number {
  const high = link.direction === 'outbound'
  for (let i = 0; i < 64; i++) {
    let id = random32() & 0x7fff_ffff
    if (high) id = (id | CIRC_ID_HIGH_BIT) >>> 0
    if (id === 0 || used.has(id)) continue
    return id
  }
  throw new OnionCallerError('no free circuit id on this link')
}

/** A u32 from an onion Rng. */
export function random32From (rng: (n: number) => Uint8Array): () => number {
  return () => {
    const b = rng(4)
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
  }
}

// ---------------------------------------------------------------------------
// Bounded writing to a link
// ---------------------------------------------------------------------------

/** Whoever owns queued cells (a circuit and direction): its share of a link's overflow is bounded. */
export interface QueueOwner { queued: number }

/** How often a writer retries a full link (the overlay Link exposes no drain event). */
const RETRY_MS = 1

/**
 * Writes cells to one link in order. When the link refuses a cell (full), the
 * cell and all later ones wait here and are retried; each owner may hold at
 * most `maxPerOwner` of them — `write` returns false beyond that, and the
 * caller destroys that circuit (its peer ignored flow control).
 */
export class LinkWriter {
  readonly link: LinkLike
  readonly #maxPerOwner: number
  readonly #queue: Array<{ cell: Uint8Array, owner: QueueOwner | undefined }> = []
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor (link: LinkLike, maxPerOwner: number) {
    this.link = link
    this.#maxPerOwner = maxPerOwner
  }

  get queued (): number { return this.#queue.length }

  write (cell: Uint8Array, owner?: QueueOwner): boolean {
    if (this.link.closed) return true // nothing to deliver to: the link's close handler tears the circuits down
    if (this.#queue.length === 0 && this.link.send(cell)) return true
    if (owner !== undefined) {
      if (owner.queued >= this.#maxPerOwner) return false
      owner.queued++
    }
    this.#queue.push({ cell, owner })
    this.#arm()
    return true
  }

  #arm (): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#pump() }, RETRY_MS)
    this.#timer.unref?.()
  }

  #pump (): void {
    if (this.link.closed) { this.clear(); return }
    while (this.#queue.length > 0) {
      const head = this.#queue[0]
      if (!this.link.send(head.cell)) break
      this.#queue.shift()
      if (head.owner !== undefined) head.owner.queued--
    }
    if (this.#queue.length > 0) this.#arm()
  }

  clear (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (const e of this.#queue) if (e.owner !== undefined) e.owner.queued--
    this.#queue.length = 0
  }
}

/**
 * A plain Uint8Array copy of a received cell. Links hand over Node Buffers
 * (from the muxer), and Buffer#slice aliases instead of copying: code that
 * keeps a `.slice()` of a Buffer (decodeCell's body, CGO's saved tag) would
 * see it change under it. Every cell entering the circuit layer goes through here.
 */
export function plainCopy (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}
