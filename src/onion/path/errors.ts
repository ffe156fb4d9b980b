/**
 * Errors of path selection. Both are the caller's side: bad options or persisted
 * state (fix the caller), or a directory too small for the requested rules (the
 * caller may relax the rules, shorten the path or wait for a fuller directory).
 */
import { OnionError } from '../errors.ts'

/** An option, relay list or persisted guard state is malformed. */
export class PathOptionsError extends OnionError {
  constructor (message: string) {
    super('caller', 'ERR_PATH_OPTIONS', message)
  }
}

/** No relay satisfies the path rules for the hop being chosen. */
export class NoEligibleRelayError extends OnionError {
  /** Which hop or set was being filled: 'entry', 'middle', 'last', 'layer2', 'guard'. */
  readonly role: string
  constructor (role: string, message: string) {
    super('caller', 'ERR_NO_ELIGIBLE_RELAY', message)
    this.role = role
  }
}
