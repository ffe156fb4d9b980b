/**
 * The CLI's logger: levels, text or JSON lines, to stderr or a file.
 *
 *     2026-11-22T02:10:00.000Z info  relay started peer=12D3KooW… addrs=2
 *     {"time":"2026-11-22T02:10:00.000Z","level":"info","msg":"relay started","peer":"12D3KooW…"}
 *
 * Threat: logs end up in bug reports, journald and shared terminals. A field whose key
 * looks secret (key, secret, token, private, seed, password, passphrase) is printed as
 * `[redacted]`, at any depth; byte arrays are never printed, only their length; errors
 * print their message (their stack only with VEIL_DEBUG_STACK=1). Control characters
 * are stripped so a value cannot forge a log line. This is a safety net, not a licence:
 * callers must not pass payloads or key material at all.
 *
 * `Logger` is structurally compatible with the overlay's `Log`, so the CLI hands its
 * logger straight down.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
export type LogFormat = 'text' | 'json'
export type LogFields = Record<string, unknown>

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json']

export interface Logger {
  error (msg: string, fields?: LogFields): void
  warn (msg: string, fields?: LogFields): void
  info (msg: string, fields?: LogFields): void
  debug (msg: string, fields?: LogFields): void
}

export interface ClosableLogger extends Logger {
  /** Flush and close the log file, if any. Safe to call twice. */
  close (): void
}

export interface LoggerOptions {
  readonly level: LogLevel
  readonly format: LogFormat
  /** Where lines go when there is no log file (normally stderr). */
  readonly write: (line: string) => void
  /** Append to this file (created 0600) instead of calling `write`. */
  readonly file?: string
  readonly now?: () => Date
  /** Include error stacks (VEIL_DEBUG_STACK=1). */
  readonly stacks?: boolean
}

export const REDACTED = '[redacted]'
const SECRET_KEY = /key|secret|token|private|seed|passw|passphrase|credential|cookie/i
const MAX_DEPTH = 4

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && LOG_LEVELS.some(l => l === value)
}

export function isLogFormat (value: unknown): value is LogFormat {
  return typeof value === 'string' && LOG_FORMATS.some(f => f === value)
}

/** Whether a field name looks like it holds a secret. */
export function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(key)
}

/**
 * Create a logger. Opening the log file may throw (the caller reports it as bad input);
 * writing never throws.
 */
export function createLogger (options: LoggerOptions): ClosableLogger {
  const threshold = LOG_LEVELS.indexOf(options.level)
  const now = options.now ?? (() => new Date())
  const stacks = options.stacks ?? false
  // the log's directory is created like a data dir (0700): `--log-file $VEIL_HOME/x.log` works on first start
  if (options.file !== undefined) mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 })
  let fd = options.file === undefined ? undefined : openSync(options.file, 'a', 0o600)

  const emit = (line: string): void => {
    try {
      if (fd !== undefined) writeSync(fd, line + '\n')
      else options.write(line + '\n')
    } catch { /* a failing log sink must not take the process down */ }
  }

  const log = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) > threshold) return
    const time = now().toISOString()
    const clean = sanitizeFields(fields ?? {}, stacks)
    if (options.format === 'json') {
      const record: Record<string, unknown> = { time, level, msg: stripControl(msg) }
      for (const [k, v] of Object.entries(clean)) record[k in record ? `field_${k}` : k] = v
      emit(safeStringify(record))
    } else {
      const parts = [time, level.padEnd(5), stripControl(msg)]
      for (const [k, v] of Object.entries(clean)) parts.push(`${stripControl(k)}=${textValue(v)}`)
      emit(parts.join(' '))
    }
  }

  return {
    error: (msg, fields) => log('error', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    info: (msg, fields) => log('info', msg, fields),
    debug: (msg, fields) => log('debug', msg, fields),
    close: () => {
      if (fd === undefined) return
      try { closeSync(fd) } catch { /* already closed */ }
      fd = undefined
    }
  }
}

/** Redact secret-looking keys, summarise bytes, flatten errors; returns JSON-safe data. */
export function sanitizeFields (fields: LogFields, stacks = false): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) out[k] = isSecretKey(k) ? REDACTED : sanitizeValue(v, stacks, 0)
  return out
}

function sanitizeValue (value: unknown, stacks: boolean, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  if (value === undefined) return 'undefined'
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'function' || typeof value === 'symbol') return `[${typeof value}]`
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  if (value instanceof Error) {
    return stacks && value.stack !== undefined ? value.stack : `${value.name}: ${value.message}`
  }
  if (depth >= MAX_DEPTH) return '[…]'
  if (Array.isArray(value)) return value.map(v => sanitizeValue(v, stacks, depth + 1))
  if (value instanceof Map) {
    return sanitizeValue(Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), v])), stacks, depth)
  }
  if (value instanceof Set) return [...value].map(v => sanitizeValue(v, stacks, depth + 1))
  // Objects with their own string form (peer ids, multiaddrs, CIDs) print as that.
  if (hasOwnToString(value)) return String(value)
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : sanitizeValue(v, stacks, depth + 1)
  return out
}

function hasOwnToString (value: object): boolean {
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const toString = value.toString
  return typeof toString === 'function' && toString !== Object.prototype.toString
}

function textValue (value: unknown): string {
  if (typeof value === 'string') {
    const clean = stripControl(value)
    return clean === '' || /[\s"=]/.test(clean) ? JSON.stringify(clean) : clean
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return stripControl(safeStringify(value))
}

function safeStringify (value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'undefined'
  } catch {
    return '"[unserialisable]"'
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g

function stripControl (text: string): string {
  return text.replace(CONTROL, ' ')
}
