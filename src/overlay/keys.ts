/**
 * A relay's keys on disk.
 *
 * - Identity: an Ed25519 libp2p key in `identity.key` (libp2p protobuf form). It names
 *   the relay (its peer id) and signs its descriptors. Client hosts never persist one:
 *   they take a fresh identity at every start.
 * - Onion keys: X25519 key pairs in `onion/<created>.key`, one file each, never inside
 *   the datastore (an LSM store's compaction would leave stale copies of secrets).
 *   A new key every `rotationMs`; each stays valid `rotationMs + overlapMs` after its
 *   creation, so during the overlap both the previous and the current key work. A
 *   retired key's file is overwritten with zeros, then unlinked.
 *
 * Every key file is written 0600 through a temp file and a rename (fsutil.ts).
 * Not here: what the onion keys are used for (src/onion's handshake).
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairSync, createPublicKey, createPrivateKey } from 'node:crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { writeFileAtomic, wipeFile, ensureDir, isErrno, removeStaleTempFiles } from './fsutil.ts'
import { Secret } from './secret.ts'
import { observeSecret } from './secret-observer.ts'
import { ONION_KEY_ROTATION_MS, ONION_KEY_OVERLAP_MS, X25519_KEY_LEN } from './constants.ts'
import type { Clock } from './clock.ts'
import { OverlayConfigError } from './errors.ts'

export const IDENTITY_FILE = 'identity.key'
export const ONION_DIR = 'onion'

// the test-only secret hook lives in secret-observer.ts (re-exported here for callers of keys.ts)
export { observeSecret, secretsObserved, secretsDumpEnabled, setSecretObserverForTests, SECRETS_DUMP_ENV, type SecretObserver } from './secret-observer.ts'

/** Load the relay identity from `dir/identity.key`, creating it on first start. */
export async function loadOrCreateIdentity (dir: string): Promise<PrivateKey> {
  await ensureDir(dir)
  await removeStaleTempFiles(dir)
  const path = join(dir, IDENTITY_FILE)
  let raw: Uint8Array | undefined
  try {
    raw = await readFile(path)
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err
  }
  if (raw !== undefined) {
    try {
      const key = privateKeyFromProtobuf(raw)
      observeSecret('identity', key.raw)
      return key
    } catch {
      throw new OverlayConfigError(`identity key ${path} is unreadable or corrupt`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  observeSecret('identity', key.raw)
  await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}

/** A fresh, never-persisted identity for a client host (a new peer id per start). */
export async function ephemeralIdentity (): Promise<PrivateKey> {
  const key = await generateKeyPair('Ed25519')
  observeSecret('client-identity', key.raw)
  return key
}

export interface OnionKeyPair {
  /** X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array
  readonly secretKey: Secret
  /** Creation time (ms); the key is valid from here… */
  readonly validFrom: number
  /** …until here (exclusive). */
  readonly validUntil: number
}

/** Generate an X25519 key pair with node:crypto; returns raw 32-byte keys. */
export function generateX25519 (): { publicKey: Uint8Array, secretKey: Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519')
  const pub = publicKey.export({ format: 'jwk' }).x
  const priv = privateKey.export({ format: 'jwk' }).d
  if (typeof pub !== 'string' || typeof priv !== 'string') throw new Error('x25519 export failed')
  return { publicKey: new Uint8Array(Buffer.from(pub, 'base64url')), secretKey: new Uint8Array(Buffer.from(priv, 'base64url')) }
}

/** Derive the X25519 public key of a raw secret key. */
export function x25519PublicOf (secretKey: Uint8Array): Uint8Array {
  const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(secretKey).toString('base64url'), x: '' }, format: 'jwk' })
  const x = createPublicKey(priv).export({ format: 'jwk' }).x
  if (typeof x !== 'string') throw new Error('x25519 export failed')
  return new Uint8Array(Buffer.from(x, 'base64url'))
}

export interface OnionKeyStoreOptions {
  dir: string
  clock: Clock
  rotationMs?: number
  overlapMs?: number
}

/**
 * The onion keys of one relay. `load()` reads them, drops expired ones and creates the
 * first; `rotateIfDue()` adds a new key when the newest is older than the rotation
 * period and retires keys past their window. The relay calls it on a timer.
 */
export class OnionKeyStore {
  readonly #dir: string
  readonly #clock: Clock
  readonly rotationMs: number
  readonly overlapMs: number
  #keys: OnionKeyPair[] = []

  constructor (opts: OnionKeyStoreOptions) {
    this.#dir = join(opts.dir, ONION_DIR)
    this.#clock = opts.clock
    this.rotationMs = opts.rotationMs ?? ONION_KEY_ROTATION_MS
    this.overlapMs = opts.overlapMs ?? ONION_KEY_OVERLAP_MS
    if (!(this.rotationMs > 0) || !(this.overlapMs >= 0)) throw new OverlayConfigError('onion key rotation must be > 0 and overlap ≥ 0')
  }

  async load (): Promise<void> {
    await this.loadReadOnly()
    await this.rotateIfDue()
  }

  /** Read the keys on disk without creating, rotating or deleting any (for `keys show`). */
  async loadReadOnly (): Promise<void> {
    await ensureDir(this.#dir)
    await removeStaleTempFiles(this.#dir)
    const names = (await readdir(this.#dir)).filter(n => /^\d+\.key$/.test(n))
    const keys: OnionKeyPair[] = []
    for (const name of names) {
      const created = Number(name.slice(0, -4))
      const raw = await readFile(join(this.#dir, name))
      if (raw.length !== X25519_KEY_LEN) throw new OverlayConfigError(`onion key ${join(this.#dir, name)} is corrupt`)
      const secret = new Uint8Array(raw)
      observeSecret('onion', secret)
      keys.push({ publicKey: x25519PublicOf(secret), secretKey: new Secret(secret), validFrom: created, validUntil: created + this.rotationMs + this.overlapMs })
    }
    this.#keys = keys.sort((a, b) => a.validFrom - b.validFrom)
  }

  /** Every key loaded, valid or not, oldest first. */
  all (): OnionKeyPair[] { return this.#keys.slice() }

  /** Returns true when a new key was made or an old one retired (republish the descriptor). */
  async rotateIfDue (): Promise<boolean> {
    const now = this.#clock.now()
    let changed = false
    for (const k of this.#keys.filter(k => k.validUntil <= now)) {
      await wipeFile(join(this.#dir, `${k.validFrom}.key`))
      k.secretKey.wipe()
      changed = true
    }
    this.#keys = this.#keys.filter(k => k.validUntil > now)
    const newest = this.#keys.at(-1)
    if (newest === undefined || newest.validFrom + this.rotationMs <= now) {
      let created = now
      // one file per millisecond: never overwrite a key that exists
      while (this.#keys.some(k => k.validFrom === created)) created++
      const { publicKey, secretKey } = generateX25519()
      observeSecret('onion', secretKey)
      await writeFileAtomic(join(this.#dir, `${created}.key`), secretKey, 0o600)
      this.#keys.push({ publicKey, secretKey: new Secret(secretKey), validFrom: created, validUntil: created + this.rotationMs + this.overlapMs })
      changed = true
    }
    return changed
  }

  /** Add a new key now, whatever the age of the newest (an operator's `keys rotate-onion`). */
  async rotateNow (): Promise<void> {
    await this.rotateIfDue()
    const newest = this.#keys.at(-1)
    if (newest !== undefined && newest.validFrom === this.#clock.now()) return
    let created = this.#clock.now()
    while (this.#keys.some(k => k.validFrom === created)) created++
    const { publicKey, secretKey } = generateX25519()
    observeSecret('onion', secretKey)
    await writeFileAtomic(join(this.#dir, `${created}.key`), secretKey, 0o600)
    this.#keys.push({ publicKey, secretKey: new Secret(secretKey), validFrom: created, validUntil: created + this.rotationMs + this.overlapMs })
  }

  /** Keys valid now, oldest first; the last is the current one clients should use. */
  active (): OnionKeyPair[] {
    const now = this.#clock.now()
    return this.#keys.filter(k => k.validFrom <= now && now < k.validUntil)
  }

  current (): OnionKeyPair {
    const k = this.active().at(-1)
    if (k === undefined) throw new Error('no valid onion key: call load()/rotateIfDue() first')
    return k
  }

  /** Find a valid key by its public key (what a CREATE names). */
  find (publicKey: Uint8Array): OnionKeyPair | undefined {
    return this.active().find(k => Buffer.from(k.publicKey).equals(publicKey))
  }

  /** When the next rotation or retirement is due (ms since epoch). */
  nextChangeAt (): number {
    const newest = this.#keys.at(-1)
    const times = this.#keys.map(k => k.validUntil)
    if (newest !== undefined) times.push(newest.validFrom + this.rotationMs)
    return times.length === 0 ? this.#clock.now() : Math.min(...times)
  }
}

/** Start a new onion key now (operator request); the previous keys keep their windows. */
export async function rotateOnionKeyNow (store: OnionKeyStore): Promise<void> {
  await store.rotateNow()
}
