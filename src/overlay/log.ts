/**
 * The minimal logger the overlay writes to. The CLI passes its own (text/json, levels,
 * redaction); libraries pass nothing and get silence. Never pass payloads or key
 * material as fields: the CLI logger redacts secret-looking keys, but the rule is not
 * to hand them over at all.
 */
export type LogFields = Record<string, unknown>

export interface Log {
  error(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  debug(msg: string, fields?: LogFields): void
}

const noop = (): void => {}
export const silentLog: Log = { error: noop, warn: noop, info: noop, debug: noop }
