/**
 * Typed errors of the mix area, grouped by whose fault they are (STYLE.md §8).
 *
 * - {@link MixPeerError}: a peer sent something illegal (an unknown profile id in a
 *   hop's layer). The relay refuses that circuit; it never crashes.
 * - {@link MixCallerError}: local code or configuration misused an API (a bad override,
 *   an out-of-range rate). The message says which field and why.
 * - {@link MixInternalError}: an invariant of this module broke.
 */

export type MixFault = 'peer' | 'caller' | 'internal'

export class MixError extends Error {
  readonly fault: MixFault
  readonly code: string
  constructor (fault: MixFault, code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.fault = fault
    this.code = code
  }
}

/** The peer put an illegal value on the wire (e.g. an unknown profile id). Refuse its circuit. */
export class MixPeerError extends MixError {
  constructor (code: string, message: string) { super('peer', code, message) }
}

/** An argument or configuration value is invalid; the message names it. */
export class MixCallerError extends MixError {
  constructor (message: string, code = 'ERR_INVALID_ARGUMENT') { super('caller', code, message) }
}

/** A profile override that is not allowed or out of range. */
export class ProfileOverrideError extends MixCallerError {
  readonly field: string
  constructor (field: string, message: string) {
    super(message, 'ERR_PROFILE_OVERRIDE')
    this.field = field
  }
}

/** An invariant of the mix code failed: a bug here. */
export class MixInternalError extends MixError {
  constructor (message: string) { super('internal', 'ERR_INTERNAL', message) }
}
