/**
 * What the node commands share: mapping node errors to CLI errors (one line, the right
 * exit code) and waiting for the moment to stop.
 */
import { OverlayConfigError, OverlayNetworkError, isErrno } from '../../overlay/index.ts'
import { NoBootstrapError } from '../../node/bootstrap.ts'
import { TestnetError } from '../../node/testnet.ts'
import { CliError, NetworkError, OperationError, UsageError } from '../errors.ts'

export function nodeErrorToCli (err: unknown): Error {
  if (err instanceof CliError) return err
  if (err instanceof OverlayConfigError) return new UsageError(err.message)
  if (err instanceof NoBootstrapError || err instanceof OverlayNetworkError) return new NetworkError(err.message)
  if (err instanceof TestnetError) return new OperationError(err.message)
  if (isErrno(err, 'EADDRINUSE') || (err instanceof Error && /EADDRINUSE|address already in use/i.test(err.message))) {
    return new UsageError(`cannot listen: address already in use (${listenHint(err)})`)
  }
  if (isErrno(err, 'EADDRNOTAVAIL') || (err instanceof Error && /EADDRNOTAVAIL/.test(err.message))) {
    return new UsageError(`cannot listen: address not available on this host (${listenHint(err)})`)
  }
  if (isErrno(err, 'EACCES') || isErrno(err, 'EPERM')) return new UsageError(`permission denied: ${err instanceof Error ? err.message : String(err)}`)
  if (err instanceof Error && err.name === 'NoValidAddressesError') return new UsageError('cannot listen on any of the --listen addresses (in use or not on this host)')
  return err instanceof Error ? err : new Error(String(err))
}

function listenHint (err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const addr: unknown = Reflect.get(err, 'address')
    const port: unknown = Reflect.get(err, 'port')
    if (typeof addr === 'string') return `${addr}${typeof port === 'number' ? ':' + String(port) : ''}`
  }
  return 'see --listen'
}

/** Resolve when any signal fires, or when the parent process (a testnet) goes away. */
export async function waitForStop (signals: AbortSignal[]): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => { resolve() }
    for (const s of signals) {
      if (s.aborted) { resolve(); return }
      s.addEventListener('abort', done, { once: true })
    }
    if (process.channel !== undefined) {
      process.once('disconnect', done)
      process.channel.unref()
    }
  })
}
