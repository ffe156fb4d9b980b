/**
 * Bridge and provider errors, grouped by whose fault they are (STYLE §8).
 *
 * - {@link ToolNetworkError}: the network between bridge and provider failed (circuit
 *   broke, provider unreachable, timed out, refused). The bridge turns every one into
 *   an MCP tool error (`isError: true`) — never a crash, never a hang.
 * - {@link ProviderLimitError}: the provider refused a call by policy (too many at once,
 *   too many per minute). Carried to the bridge as a ToolNetworkError `refused`.
 * - {@link BridgeUsageError}: the caller (the CLI, a config file) asked for something
 *   impossible: bad options, unknown tag.
 * - {@link RemoteDefinitionError}: a remote tool definition broke the untrusted-input
 *   rules; that one tool is dropped, the rest of the catalogue stays.
 */

/**
 * - `unreachable`: no route to the provider (no circuit, provider offline). Nothing ran.
 * - `circuit-failed`: the circuit broke mid-call. The call may or may not have run.
 * - `timeout`: no answer in time. The call may or may not have run.
 * - `cancelled`: the caller cancelled.
 * - `refused`: the provider refused by policy (rate or concurrency limit). Nothing ran.
 * - `protocol`: the provider answered something that is not a valid result.
 * - `unknown-tool`: the provider has no such tool (any more).
 * - `stale-catalogue`: the provider now serves a catalogue other than the one the bridge
 *   last read (it restarted, or changed while no session was open). Nothing was sent: the
 *   bridge re-reads the catalogue and checks the pinned fingerprint before calling.
 */
export type ToolNetworkErrorCode = 'unreachable' | 'circuit-failed' | 'timeout' | 'cancelled' | 'refused' | 'protocol' | 'unknown-tool' | 'stale-catalogue'

export class ToolNetworkError extends Error {
  override readonly name = 'ToolNetworkError'
  readonly code: ToolNetworkErrorCode
  constructor (code: ToolNetworkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  /** Worth retrying on a new circuit (only ever done for read-only or idempotent tools). */
  get retryable (): boolean {
    return this.code === 'unreachable' || this.code === 'circuit-failed' || this.code === 'timeout'
  }
}

export type ProviderLimitKind = 'concurrency' | 'rate'

export class ProviderLimitError extends Error {
  override readonly name = 'ProviderLimitError'
  readonly kind: ProviderLimitKind
  readonly retryAfterMs: number
  constructor (kind: ProviderLimitKind, message: string, retryAfterMs: number) {
    super(message)
    this.kind = kind
    this.retryAfterMs = retryAfterMs
  }
}

export class BridgeUsageError extends Error {
  override readonly name = 'BridgeUsageError'
}

export class RemoteDefinitionError extends Error {
  override readonly name = 'RemoteDefinitionError'
}

export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
