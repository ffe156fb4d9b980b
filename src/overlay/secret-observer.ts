/**
 * Test-only: every secret a Veil process generates, loads or derives is reported here, so
 * the secret-leak test (test/security/secrets.slow.test.ts) can search all logs, status
 * output and errors for it. In-process tests set an observer; child processes append
 * `kind hex` lines to the file named by VEIL_TEST_ONLY_SECRETS_DUMP — never set it
 * outside a test.
 *
 * Reporters call {@link observeSecret} with bytes they already hold; when neither an
 * observer nor the dump file is set it returns at once, so handshakes (a hot path) pay one
 * call and one branch. Reporters that would have to compute the bytes first (an expanded
 * key's encoding) check {@link secretsObserved} before doing so. The observer must copy
 * what it keeps: callers wipe their buffers right after.
 *
 * Kinds: identity, client-identity, provider-identity, onion (keys on disk or in memory);
 * session (circuit handshakes: ephemeral X25519 and ML-KEM secrets, shared secrets, the
 * derived key material); introduction (introduction-point keys, introduction handshakes);
 * rendezvous (cookies, the rendezvous handshake); e2e (end-to-end channel keys);
 * client-auth (descriptor cookies and client-authorisation keys); blinded (blinded
 * signing keys).
 *
 * Lives apart from keys.ts (which needs libp2p) so the onion and registry layers can
 * report without importing more than this file.
 */
import { appendFileSync } from 'node:fs'

export type SecretObserver = (kind: string, bytes: Uint8Array) => void
export const SECRETS_DUMP_ENV = 'VEIL_TEST_ONLY_SECRETS_DUMP'

const dumpFile = process.env[SECRETS_DUMP_ENV]
const dumping = dumpFile !== undefined && dumpFile !== ''
let observer: SecretObserver | undefined
let observing = dumping

export function setSecretObserverForTests (fn: SecretObserver | undefined): void {
  observer = fn
  observing = dumping || fn !== undefined
}

/** Report one secret (test-only hook; a no-op unless a test asked for secrets). */
export function observeSecret (kind: string, bytes: Uint8Array): void {
  if (!observing) return
  observer?.(kind, bytes)
  if (dumping) appendFileSync(dumpFile, `${kind} ${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}\n`, { mode: 0o600 })
}

/** True when reported secrets go anywhere (reporters that must compute bytes check it first). */
export function secretsObserved (): boolean { return observing }

/** True when this process writes its secrets to a file for a test (it says so in its log). */
export function secretsDumpEnabled (): boolean { return dumping }
