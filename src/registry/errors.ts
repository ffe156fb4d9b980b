/**
 * Typed errors of the registry, grouped by whose fault they are (STYLE.md §8).
 *
 * - {@link RegistryPeerError}: something that came off the network (an address a user
 *   pasted, a descriptor, an index entry, a catalogue) is invalid. `kind` names the
 *   object and `reason` is a short stable code for counters and tests. Never crashes
 *   the process; the caller drops the record and counts it.
 * - {@link RegistryCallerError}: local code misused an API (bad length, too many
 *   introduction points). A bug in the caller, with a clear message.
 *
 * Every parser and check in src/registry throws only these two classes (checked by the
 * fast-check properties in test/registry). Messages never contain secret bytes.
 */

export type RegistryFault = 'peer' | 'caller'

/** What kind of object failed. */
export type RecordKind = 'address' | 'descriptor' | 'entry' | 'catalogue' | 'tool' | 'semver'

/** Stable reason codes. */
export type RecordFailure =
  | 'malformed'          // not the expected structure, length or encoding
  | 'non-canonical'      // parses, but is not the one canonical encoding
  | 'version'            // unsupported version
  | 'checksum'           // address checksum mismatch
  | 'bad-key'            // not a valid, torsion-free Ed25519 point (or bad PQ key)
  | 'too-large'          // over its size limit
  | 'key-mismatch'       // stored under a key it does not belong to
  | 'bad-signature'      // a classical (Ed25519) signature failed
  | 'bad-pq-signature'   // the ML-DSA signature failed
  | 'pq-key-mismatch'    // the ML-DSA key does not hash to the address
  | 'blinding-mismatch'  // A'_p is not blind(A, p) for any acceptable period
  | 'expired'            // expiry in the past
  | 'too-far-future'     // expiry beyond now + 2 periods
  | 'stale'              // older than what is already held
  | 'decrypt'            // MAC failed: wrong address/keyword, or tampered
  | 'padding'            // non-zero padding
  | 'insufficient-work'  // proof of work below the minimum
  | 'digest-mismatch'    // catalogue does not match the descriptor's digest

export class RegistryError extends Error {
  readonly fault: RegistryFault
  constructor (fault: RegistryFault, message: string) {
    super(message)
    this.name = new.target.name
    this.fault = fault
  }
}

/** A record from outside failed a check. */
export class RegistryPeerError extends RegistryError {
  readonly kind: RecordKind
  readonly reason: RecordFailure
  constructor (kind: RecordKind, reason: RecordFailure, message?: string) {
    super('peer', message ?? `invalid ${kind}: ${reason}`)
    this.kind = kind
    this.reason = reason
  }
}

/** An address string that does not parse. */
export class InvalidAddressError extends RegistryPeerError {
  constructor (reason: RecordFailure, message?: string) { super('address', reason, message) }
}

/** A descriptor (outer or inner layer) that must be refused. */
export class InvalidDescriptorError extends RegistryPeerError {
  constructor (reason: RecordFailure, message?: string) { super('descriptor', reason, message) }
}

/** A keyword index entry that must be refused. */
export class InvalidEntryError extends RegistryPeerError {
  constructor (reason: RecordFailure, message?: string) { super('entry', reason, message) }
}

/** A catalogue or tool record that must be refused. */
export class InvalidCatalogueError extends RegistryPeerError {
  constructor (kind: 'catalogue' | 'tool', reason: RecordFailure, message?: string) { super(kind, reason, message) }
}

/** A version or range string that does not parse. */
export class InvalidSemverError extends RegistryPeerError {
  constructor (message: string) { super('semver', 'malformed', message) }
}

/** Local misuse of an API. */
export class RegistryCallerError extends RegistryError {
  constructor (message: string) { super('caller', message) }
}

/** Throw a caller error unless `b` is a Uint8Array of exactly `len` bytes. */
export function expectLen (b: unknown, len: number, what: string): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new RegistryCallerError(`${what}: expected Uint8Array`)
  if (b.length !== len) throw new RegistryCallerError(`${what}: expected ${len} bytes, got ${b.length}`)
}
