/**
 * Link cell codec: pure functions, no I/O, no clock, no crypto.
 *
 * Every cell on a link is exactly CELL_SIZE (2048) bytes:
 *
 * ```
 *  0                   4         5                                   2048
 * +-------------------+---------+-------------------------------------+
 * | CIRC_ID (u32, BE) | COMMAND |  BODY (CELL_BODY_LEN = 2043 bytes)  |
 * +-------------------+---------+-------------------------------------+
 *
 * COMMAND      CIRC_ID   BODY
 * 0 PADDING    0         all zero (link-level cover)
 * 1 CREATE     ≠ 0       HTYPE (u16) | HLEN (u16) | HDATA | zero padding
 * 2 CREATED    ≠ 0       HTYPE (u16) | HLEN (u16) | HDATA | zero padding
 * 3 RELAY      ≠ 0       CGO-protected relay cell body (opaque here)
 * 4 RELAY_EARLY≠ 0       same as RELAY, marked EARLY
 * 5 DESTROY    ≠ 0       REASON (u8) | zero padding
 * ```
 *
 * The EARLY/normal mark is the RELAY vs RELAY_EARLY command. CGO binds the
 * command byte as associated data at every layer, so a relay cannot change the
 * mark without making the cell unrecognisable.
 *
 * Decoding is canonical: wrong size, unknown command, circuit id 0 on a
 * circuit command (or ≠ 0 on PADDING), HLEN out of range or non-zero padding
 * throw {@link MalformedCellError}; nothing else is ever thrown.
 * Defends against: parser confusion and covert channels in padding. Cell
 * sizes reveal nothing because there is only one.
 */
import { MalformedCellError, OnionCallerError } from './errors.ts'
import { CELL_BODY_LEN, CELL_HEADER_LEN, CELL_SIZE, CIRC_ID_LEN, DESTROY_REASON_LEN, HANDSHAKE_HEADER_LEN, HANDSHAKE_LENGTH_LEN, HANDSHAKE_TYPE_LEN, MAX_CIRC_ID } from './constants.ts'

/** Link cell command numbers. */
export const CellCommand = Object.freeze({
  PADDING: 0,
  CREATE: 1,
  CREATED: 2,
  RELAY: 3,
  RELAY_EARLY: 4,
  DESTROY: 5
} as const)
export type CellCommandNumber = typeof CellCommand[keyof typeof CellCommand]

/** DESTROY reasons (one byte; unknown values decode as-is so newer peers interoperate). */
export const DestroyReason = Object.freeze({
  NONE: 0,
  PROTOCOL: 1,
  INTERNAL: 2,
  REQUESTED: 3,
  HIBERNATING: 4,
  RESOURCE_LIMIT: 5,
  TIMEOUT: 6,
  DESTROYED: 7,
  NO_SUCH_SERVICE: 8,
  CONNECT_FAILED: 9
} as const)

/** Largest HDATA in a CREATE/CREATED body. */
export const MAX_HANDSHAKE_DATA_LEN = CELL_BODY_LEN - HANDSHAKE_HEADER_LEN

/** A decoded link cell (discriminated by `command`). */
export type Cell =
  | { readonly command: 'padding', readonly circId: 0 }
  | { readonly command: 'create', readonly circId: number, readonly handshakeType: number, readonly handshake: Uint8Array }
  | { readonly command: 'created', readonly circId: number, readonly handshakeType: number, readonly handshake: Uint8Array }
  | { readonly command: 'relay', readonly circId: number, readonly early: boolean, readonly body: Uint8Array }
  | { readonly command: 'destroy', readonly circId: number, readonly reason: number }

function checkCircId (circId: number, allowZero: boolean): void {
  if (!Number.isInteger(circId) || circId < 0 || circId > MAX_CIRC_ID) throw new OnionCallerError('circuit id must be a u32')
  if (!allowZero && circId === 0) throw new OnionCallerError('circuit id 0 is reserved for link-level cells')
}

/** The command byte a cell is sent with (also the CGO associated data for relay cells). */
export function commandByte (cell: Cell): number {
  switch (cell.command) {
    case 'padding': return CellCommand.PADDING
    case 'create': return CellCommand.CREATE
    case 'created': return CellCommand.CREATED
    case 'relay': return cell.early ? CellCommand.RELAY_EARLY : CellCommand.RELAY
    case 'destroy': return CellCommand.DESTROY
  }
}

/** Encode a cell into exactly CELL_SIZE bytes. Throws OnionCallerError on invalid input. */
export function encodeCell (cell: Cell): Uint8Array {
  const out = new Uint8Array(CELL_SIZE)
  checkCircId(cell.circId, cell.command === 'padding')
  if (cell.command === 'padding' && cell.circId !== 0) throw new OnionCallerError('PADDING uses circuit id 0')
  new DataView(out.buffer).setUint32(0, cell.circId)
  out[CIRC_ID_LEN] = commandByte(cell)
  const body = out.subarray(CELL_HEADER_LEN)
  switch (cell.command) {
    case 'padding':
      break
    case 'create':
    case 'created': {
      const { handshakeType, handshake } = cell
      if (!Number.isInteger(handshakeType) || handshakeType < 0 || handshakeType > 0xffff) throw new OnionCallerError('handshake type must be a u16')
      if (!(handshake instanceof Uint8Array) || handshake.length > MAX_HANDSHAKE_DATA_LEN) throw new OnionCallerError(`handshake data must be at most ${MAX_HANDSHAKE_DATA_LEN} bytes`)
      const dv = new DataView(body.buffer, body.byteOffset)
      dv.setUint16(0, handshakeType)
      dv.setUint16(HANDSHAKE_TYPE_LEN, handshake.length)
      body.set(handshake, HANDSHAKE_HEADER_LEN)
      break
    }
    case 'relay':
      if (!(cell.body instanceof Uint8Array) || cell.body.length !== CELL_BODY_LEN) throw new OnionCallerError(`relay body must be ${CELL_BODY_LEN} bytes`)
      body.set(cell.body)
      break
    case 'destroy':
      if (!Number.isInteger(cell.reason) || cell.reason < 0 || cell.reason > 0xff) throw new OnionCallerError('destroy reason must be a u8')
      body[0] = cell.reason
      break
  }
  return out
}

/**
 * Relay-cell fast path (pure, no copies): relays forward RELAY cells by
 * removing or adding one CGO layer to the body in place and rewriting the
 * header, instead of decoding into a fresh body and encoding a fresh cell.
 * {@link relayCellCircId} is the circuit id of a well-sized RELAY or RELAY_EARLY
 * cell with a non-zero id, and undefined for anything else (which then goes
 * through {@link decodeCell}); {@link setRelayHeader} writes CIRC_ID | RELAY
 * (or RELAY_EARLY) over the first CELL_HEADER_LEN bytes. Byte-for-byte the same
 * cells as encodeCell / decodeCell produce and accept.
 */
export function relayCellCircId (bytes: Uint8Array): number | undefined {
  if (bytes.length !== CELL_SIZE) return undefined
  const command = bytes[CIRC_ID_LEN]
  if (command !== CellCommand.RELAY && command !== CellCommand.RELAY_EARLY) return undefined
  const circId = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0
  return circId === 0 ? undefined : circId
}

/** Write a RELAY (or RELAY_EARLY) header in place. Throws OnionCallerError on a bad id or size. */
export function setRelayHeader (cell: Uint8Array, circId: number, early: boolean): void {
  if (!(cell instanceof Uint8Array) || cell.length !== CELL_SIZE) throw new OnionCallerError(`a cell is ${CELL_SIZE} bytes`)
  checkCircId(circId, false)
  cell[0] = circId >>> 24; cell[1] = circId >>> 16; cell[2] = circId >>> 8; cell[3] = circId
  cell[CIRC_ID_LEN] = early ? CellCommand.RELAY_EARLY : CellCommand.RELAY
}

/**
 * A zeroed CELL_SIZE buffer whose body (from CELL_HEADER_LEN) starts on a 4-byte
 * boundary, so CGO can XOR its keystream 32 bits at a time in place.
 */
export function allocCell (): Uint8Array {
  return new Uint8Array(CELL_SIZE + CELL_ALIGN_PAD).subarray(CELL_ALIGN_PAD)
}

/** A copy of `bytes` (CELL_SIZE) in an {@link allocCell} buffer. */
export function copyCell (bytes: Uint8Array): Uint8Array {
  const out = allocCell()
  out.set(bytes)
  return out
}

/** Bytes in front of a cell so that its body is 4-byte aligned. */
const CELL_ALIGN_PAD = (4 - (CELL_HEADER_LEN % 4)) % 4

function allZero (b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  return true
}

/** Decode exactly CELL_SIZE bytes. Throws only MalformedCellError. */
export function decodeCell (bytes: Uint8Array): Cell {
  if (!(bytes instanceof Uint8Array) || bytes.length !== CELL_SIZE) throw new MalformedCellError(`cell must be ${CELL_SIZE} bytes`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const circId = dv.getUint32(0)
  const command = bytes[CIRC_ID_LEN]
  const body = bytes.subarray(CELL_HEADER_LEN)
  if (command === CellCommand.PADDING) {
    if (circId !== 0) throw new MalformedCellError('PADDING must use circuit id 0')
    if (!allZero(body)) throw new MalformedCellError('PADDING body must be zero')
    return { command: 'padding', circId: 0 }
  }
  if (circId === 0) throw new MalformedCellError('circuit id 0 on a circuit command')
  switch (command) {
    case CellCommand.CREATE:
    case CellCommand.CREATED: {
      const handshakeType = dv.getUint16(CELL_HEADER_LEN)
      const len = dv.getUint16(CELL_HEADER_LEN + HANDSHAKE_TYPE_LEN)
      if (len > MAX_HANDSHAKE_DATA_LEN) throw new MalformedCellError('handshake length exceeds the cell')
      const start = HANDSHAKE_TYPE_LEN + HANDSHAKE_LENGTH_LEN
      if (!allZero(body.subarray(start + len))) throw new MalformedCellError('non-zero padding after handshake data')
      const handshake = new Uint8Array(body.subarray(start, start + len)) // a copy, even when the input is a Buffer (whose slice() is a view)
      return command === CellCommand.CREATE
        ? { command: 'create', circId, handshakeType, handshake }
        : { command: 'created', circId, handshakeType, handshake }
    }
    case CellCommand.RELAY:
    case CellCommand.RELAY_EARLY:
      return { command: 'relay', circId, early: command === CellCommand.RELAY_EARLY, body: new Uint8Array(body) }
    case CellCommand.DESTROY:
      if (!allZero(body.subarray(DESTROY_REASON_LEN))) throw new MalformedCellError('non-zero padding in DESTROY')
      return { command: 'destroy', circId, reason: body[0] }
    default:
      throw new MalformedCellError(`unknown cell command ${command}`)
  }
}
