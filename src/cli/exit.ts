/**
 * Exit codes of the `veil` command. `veil --help` prints this table; scripts may rely on it.
 */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed (e.g. a tool returned an error). */
  failed: 1,
  /** Bad input or configuration: unknown flag, bad value, unreadable data dir. */
  usage: 2,
  /** Network: no bootstrap peers, no circuit, timeout. */
  network: 3,
  /** Not found: no such tool, provider, node or key. */
  notFound: 4,
  /** Interrupted by SIGINT or SIGTERM. */
  interrupted: 130
} as const

export type ExitCode = typeof EXIT[keyof typeof EXIT]

/** The table as `veil --help` shows it, in order. */
export const EXIT_CODE_TABLE: ReadonlyArray<{ readonly code: ExitCode, readonly meaning: string }> = [
  { code: EXIT.ok, meaning: 'ok' },
  { code: EXIT.failed, meaning: 'the operation ran and failed' },
  { code: EXIT.usage, meaning: 'bad input or configuration' },
  { code: EXIT.network, meaning: 'network: no bootstrap peers, no circuit, timeout' },
  { code: EXIT.notFound, meaning: 'not found' },
  { code: EXIT.interrupted, meaning: 'interrupted (SIGINT or SIGTERM)' }
]
