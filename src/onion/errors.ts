/**
 * Typed errors of the onion area, grouped by whose fault they are.
 *
 * - {@link OnionPeerError}: the remote peer sent something illegal (malformed
 *   cell, bad handshake, failed authentication). The caller closes that peer's
 *   circuit and counts it; it must never crash the process.
 * - {@link OnionCallerError}: local code misused an API (wrong key length,
 *   oversized data). A bug in the caller, with a clear message.
 * - {@link OnionInternalError}: an invariant of this module broke.
 *
 * Every codec and crypto step throws only these classes, so a parser fed
 * arbitrary bytes either returns a value or throws an `OnionError` (checked by
 * the fast-check properties in test/onion). Messages never contain secret bytes.
 */

/** Who is to blame: decides whether to destroy a circuit, fix the caller, or file a bug. */
export type OnionFault = 'peer' | 'caller' | 'internal'

/** Base class of every onion error. */
export class OnionError extends Error {
  readonly fault: OnionFault
  readonly code: string
  constructor (fault: OnionFault, code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.fault = fault
    this.code = code
  }
}

// ----- peer misbehaviour ----------------------------------------------------

/** The peer broke the protocol. Close its circuit (or link) and count it. */
export class OnionPeerError extends OnionError {
  constructor (code: string, message: string) {
    super('peer', code, message)
  }
}

/** A link cell that is not exactly CELL_SIZE bytes, has an unknown command, or non-canonical fields. */
export class MalformedCellError extends OnionPeerError {
  constructor (message: string) {
    super('ERR_MALFORMED_CELL', message)
  }
}

/** A recognised relay cell whose plaintext does not parse (bad command, length, non-zero padding). */
export class MalformedRelayCellError extends OnionPeerError {
  constructor (message: string) {
    super('ERR_MALFORMED_RELAY_CELL', message)
  }
}

/** Why a handshake failed. */
export type HandshakeFailure =
  | 'malformed'          // wrong length or layout
  | 'wrong-identity'     // ID is not this relay
  | 'unknown-onion-key'  // KEYID matches none of this relay's onion keys
  | 'zero-shared-secret' // an X25519 output was all zero (small-order point)
  | 'bad-kem-key'        // EPK fails the FIPS 203 encapsulation-key check
  | 'bad-auth'           // AUTH did not verify

/** A CREATE or CREATED message that must be refused. */
export class HandshakeError extends OnionPeerError {
  readonly reason: HandshakeFailure
  constructor (reason: HandshakeFailure, message: string) {
    super('ERR_HANDSHAKE', message)
    this.reason = reason
  }
}

// ----- caller misuse --------------------------------------------------------

/** An argument had the wrong type, length or range. */
export class OnionCallerError extends OnionError {
  constructor (message: string) {
    super('caller', 'ERR_INVALID_ARGUMENT', message)
  }
}

// ----- internal bug ---------------------------------------------------------

/** An invariant of the onion code itself failed. */
export class OnionInternalError extends OnionError {
  constructor (message: string) {
    super('internal', 'ERR_INTERNAL', message)
  }
}

/** Throw a caller error unless `bytes` is a Uint8Array of exactly `len` bytes. */
export function expectBytes (bytes: unknown, len: number, what: string): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new OnionCallerError(`${what}: expected Uint8Array`)
  if (bytes.length !== len) throw new OnionCallerError(`${what}: expected ${len} bytes, got ${bytes.length}`)
}
