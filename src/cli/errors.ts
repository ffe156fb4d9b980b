/**
 * Errors a command throws to end with a given exit code. `main` prints each as one line,
 * `veil: <message>`, and returns its code; anything else is an internal error (exit 1).
 * Messages are for the user: say what was wrong and, where it helps, what to do.
 */
import { EXIT, type ExitCode } from './exit.ts'

export class CliError extends Error {
  readonly exitCode: ExitCode

  constructor (message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/** The operation ran and failed (exit 1). */
export class OperationError extends CliError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, EXIT.failed, options)
    this.name = 'OperationError'
  }
}

/** Bad input or configuration: the caller's fault (exit 2). */
export class UsageError extends CliError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, EXIT.usage, options)
    this.name = 'UsageError'
  }
}

/** No bootstrap peers, no circuit, a timeout (exit 3). */
export class NetworkError extends CliError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, EXIT.network, options)
    this.name = 'NetworkError'
  }
}

/** The thing asked for does not exist (exit 4). */
export class NotFoundError extends CliError {
  constructor (message: string, options?: ErrorOptions) {
    super(message, EXIT.notFound, options)
    this.name = 'NotFoundError'
  }
}

/** Stopped by SIGINT/SIGTERM (exit 130). */
export class InterruptedError extends CliError {
  constructor (message = 'interrupted', options?: ErrorOptions) {
    super(message, EXIT.interrupted, options)
    this.name = 'InterruptedError'
  }
}

/** Reduce any message to one printable line (no newlines or control characters). */
export function oneLine (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\r\n]+\s*/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '').trim()
}
