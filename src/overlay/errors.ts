/**
 * Overlay errors, grouped by whose fault they are (STYLE.md §8):
 * - PeerMisbehaviourError: a remote peer sent something invalid (count it, drop it).
 * - OverlayConfigError: the caller or the operator gave bad input (clear message).
 * - OverlayNetworkError: the network failed us (timeout, no peers).
 */
export class PeerMisbehaviourError extends Error {
  override name = 'PeerMisbehaviourError'
}

/** A descriptor failed validation; `reason` is a short stable code for counters. */
export class InvalidDescriptorError extends PeerMisbehaviourError {
  override name = 'InvalidDescriptorError'
  readonly reason: string
  constructor (reason: string, message?: string) {
    super(message ?? `invalid relay descriptor: ${reason}`)
    this.reason = reason
  }
}

export class OverlayConfigError extends Error {
  override name = 'OverlayConfigError'
}

export class OverlayNetworkError extends Error {
  override name = 'OverlayNetworkError'
}
