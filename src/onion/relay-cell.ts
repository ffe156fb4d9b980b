/**
 * Relay cell codec: the plaintext inside a CGO-protected relay cell body.
 * Pure functions, no I/O, no crypto.
 *
 * The CGO body is TAG (16 bytes, owned by cgo.ts) || PAYLOAD (CGO_PAYLOAD_LEN =
 * 2027 bytes). This module encodes and decodes the PAYLOAD:
 *
 * ```
 *  0        1                3              5                       2027
 * +--------+----------------+--------------+---------+-------------+
 * | RCMD u8| STREAM_ID u16  | LENGTH u16   |  DATA   | zero padding|
 * +--------+----------------+--------------+---------+-------------+
 * ```
 *
 * RCMD 0 is invalid (so an all-zero payload never parses). Core commands are
 * 1..63; RELAY_EXTENSION_MIN..RELAY_EXTENSION_MAX (64..255) are registered by
 * later layers (directory fetch, registry STORE/FETCH, introduction,
 * rendezvous) in the relay-command table; onion never imports them.
 * STREAM_ID 0 addresses the circuit itself (EXTEND, EXTENDED, SENDME for the
 * circuit window, DROP); stream commands need a non-zero id.
 *
 * Padding is zeros, not random: the payload is only ever visible to the two
 * endpoints of a hop under UIV+ (a wide-block cipher, so known plaintext in the
 * padding gives nothing), zero padding keeps encoding a pure function with no
 * Rng, and the decoder can insist on it — a canonical encoding leaves no spare
 * bits for a covert channel and catches framing bugs. (Tor pads with random
 * bytes because its tor1 relay crypto is plain AES-CTR; CGO does not need that.)
 *
 * Defends against: malformed or non-canonical payloads reaching stream logic;
 * throws only {@link MalformedRelayCellError} on peer input.
 */
import { MalformedRelayCellError, OnionCallerError } from './errors.ts'
import { CGO_PAYLOAD_LEN, RELAY_COMMAND_LEN, RELAY_DATA_MAX, RELAY_EXTENSION_MAX, RELAY_EXTENSION_MIN, RELAY_HEADER_LEN, STREAM_ID_LEN } from './constants.ts'

/** Core relay commands. */
export const RelayCommand = Object.freeze({
  /** Open a stream (data: the target, chosen by the stream layer). */
  BEGIN: 1,
  /** Stream bytes. */
  DATA: 2,
  /** Close a stream (data: one reason byte). */
  END: 3,
  /** Stream opened. */
  CONNECTED: 4,
  /** Flow control: the receiver consumed a window's worth (stream id 0: circuit window). */
  SENDME: 5,
  /** Extend the circuit by one hop (data: link specifier | HTYPE | HLEN | HDATA). Only in RELAY_EARLY cells. */
  EXTEND: 6,
  /** Reply to EXTEND (data: HTYPE | HLEN | HDATA). */
  EXTENDED: 7,
  /** Cover traffic: the recognising hop drops it. */
  DROP: 10
} as const)

/** Commands allowed with stream id 0 only. */
const CIRCUIT_COMMANDS: ReadonlySet<number> = new Set([RelayCommand.EXTEND, RelayCommand.EXTENDED, RelayCommand.DROP])
/** Commands that require a stream id. */
const STREAM_COMMANDS: ReadonlySet<number> = new Set([RelayCommand.BEGIN, RelayCommand.DATA, RelayCommand.END, RelayCommand.CONNECTED])
const CORE_COMMANDS: ReadonlySet<number> = new Set(Object.values(RelayCommand))

/** True for numbers later layers may register handlers for. */
export function isExtensionCommand (command: number): boolean {
  return Number.isInteger(command) && command >= RELAY_EXTENSION_MIN && command <= RELAY_EXTENSION_MAX
}

/** A decoded relay cell payload. */
export interface RelayCell {
  readonly command: number
  readonly streamId: number
  readonly data: Uint8Array
}

function commandRule (command: number, streamId: number): string | undefined {
  if (!CORE_COMMANDS.has(command) && !isExtensionCommand(command)) return `unknown relay command ${command}`
  if (CIRCUIT_COMMANDS.has(command) && streamId !== 0) return `relay command ${command} must use stream id 0`
  if (STREAM_COMMANDS.has(command) && streamId === 0) return `relay command ${command} needs a stream id`
  return undefined
}

/** Encode into exactly CGO_PAYLOAD_LEN bytes (zero-padded). Throws OnionCallerError on invalid input. */
export function encodeRelayCell (cell: RelayCell): Uint8Array {
  const { command, streamId, data } = cell
  if (!Number.isInteger(command) || command < 1 || command > 0xff) throw new OnionCallerError('relay command must be 1..255')
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffff) throw new OnionCallerError('stream id must be a u16')
  const rule = commandRule(command, streamId)
  if (rule !== undefined) throw new OnionCallerError(rule)
  if (!(data instanceof Uint8Array) || data.length > RELAY_DATA_MAX) throw new OnionCallerError(`relay data must be at most ${RELAY_DATA_MAX} bytes`)
  const out = new Uint8Array(CGO_PAYLOAD_LEN)
  writeRelayCell(out, command, streamId, data)
  return out
}

/** As encodeRelayCell, into `out` (CGO_PAYLOAD_LEN bytes, e.g. a view into a cell body), which must be zero past the data. */
export function encodeRelayCellInto (out: Uint8Array, cell: RelayCell): void {
  if (!(out instanceof Uint8Array) || out.length !== CGO_PAYLOAD_LEN) throw new OnionCallerError(`relay payload must be ${CGO_PAYLOAD_LEN} bytes`)
  const { command, streamId, data } = cell
  if (!Number.isInteger(command) || command < 1 || command > 0xff) throw new OnionCallerError('relay command must be 1..255')
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffff) throw new OnionCallerError('stream id must be a u16')
  const rule = commandRule(command, streamId)
  if (rule !== undefined) throw new OnionCallerError(rule)
  if (!(data instanceof Uint8Array) || data.length > RELAY_DATA_MAX) throw new OnionCallerError(`relay data must be at most ${RELAY_DATA_MAX} bytes`)
  writeRelayCell(out, command, streamId, data)
}

function writeRelayCell (out: Uint8Array, command: number, streamId: number, data: Uint8Array): void {
  out[0] = command
  out[RELAY_COMMAND_LEN] = streamId >>> 8
  out[RELAY_COMMAND_LEN + 1] = streamId
  out[RELAY_COMMAND_LEN + STREAM_ID_LEN] = data.length >>> 8
  out[RELAY_COMMAND_LEN + STREAM_ID_LEN + 1] = data.length
  out.set(data, RELAY_HEADER_LEN)
}

/** Decode a CGO_PAYLOAD_LEN-byte payload. Throws only MalformedRelayCellError. */
export function decodeRelayCell (payload: Uint8Array): RelayCell {
  if (!(payload instanceof Uint8Array) || payload.length !== CGO_PAYLOAD_LEN) throw new MalformedRelayCellError(`relay payload must be ${CGO_PAYLOAD_LEN} bytes`)
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.length)
  const command = payload[0]
  const streamId = dv.getUint16(RELAY_COMMAND_LEN)
  const length = dv.getUint16(RELAY_COMMAND_LEN + STREAM_ID_LEN)
  if (command === 0) throw new MalformedRelayCellError('relay command 0 is invalid')
  const rule = commandRule(command, streamId)
  if (rule !== undefined) throw new MalformedRelayCellError(rule)
  if (length > RELAY_DATA_MAX) throw new MalformedRelayCellError('relay length exceeds the payload')
  for (let i = RELAY_HEADER_LEN + length; i < payload.length; i++) {
    if (payload[i] !== 0) throw new MalformedRelayCellError('non-zero relay padding')
  }
  return { command, streamId, data: new Uint8Array(payload.subarray(RELAY_HEADER_LEN, RELAY_HEADER_LEN + length)) }
}
