/**
 * Client authorisation for `private` tools: rend-spec-v3 §2.5.1.2 made hybrid.
 *
 * Per descriptor build the provider picks a fresh X25519 key (hs_y, hs_X) and a fresh
 * 32-byte descriptor cookie. For each authorised client (X25519 key X_c, ML-KEM-768
 * encapsulation key ek_c):
 *
 *   x_ss        = X25519(hs_y, X_c)                      (= X25519(x_c, hs_X))
 *   ct, k_ss    = ML-KEM-768.Encaps(ek_c)
 *   CLIENT-ID   = SHAKE-256("veil-auth-client-id"  | subcredential | hs_X | x_ss, 8)
 *   COOKIE-KEY  = SHAKE-256("veil-auth-cookie-key" | subcredential | hs_X | x_ss | k_ss | ct, 32)
 *   entry       = CLIENT-ID (8) | IV (16) | ct (1088) | AES-256-CTR(COOKIE-KEY, IV, cookie) (32)
 *
 * Entries are padded with random fakes to a multiple of 16 and sorted by bytes, so
 * their order and count reveal nothing beyond a bucket. The client id depends on the
 * subcredential (hence the period) and on hs_X (fresh every build): it never links a
 * client across periods or builds. The cookie needs both the X25519 and the ML-KEM
 * secrets: confidentiality holds if either does (a quantum adversary recording today's
 * descriptor learns nothing later). Who holds the address but no client key learns only
 * the bucket of authorised-client counts. Tor's auth layer is always present — so is
 * Veil's (all fakes when a provider has no private tools).
 *
 * Every secret here (hs_y, x_ss, k_ss, COOKIE-KEY, the descriptor cookie, a client's keys)
 * is reported to the test-only observeSecret hook as 'client-auth'.
 *
 * Not here: how clients obtain their keys (out of band) or the private layer's content.
 */
import {
  AUTH_ENTRY_BLOCK, AUTH_ENTRY_LEN, AUTH_ID_CONSTANT, AUTH_IV_LEN, AUTH_KEY_CONSTANT, CLIENT_ID_LEN, DESCRIPTOR_COOKIE_LEN,
  MAX_AUTH_CLIENTS, MLKEM768_CT_LEN, MLKEM768_EK_LEN, X25519_LEN
} from './constants.ts'
import { RegistryCallerError, expectLen } from './errors.ts'
import { aes256Ctr, bytesOf, concat, constantTimeEqual, mlkem768Decapsulate, mlkem768Encapsulate, mlkem768Keygen, shake256, x25519, Redacted, type Rng } from './primitives.ts'
import { observeSecret } from '../overlay/secret-observer.ts'

/** What the provider knows of an authorised client. */
export interface AuthorizedClient {
  readonly x25519: Uint8Array
  readonly mlkemEncapsulationKey: Uint8Array
}

/** A client's authorisation secrets for one provider. Printing shows "[redacted]". */
export class ClientAuthKey extends Redacted {
  readonly x25519Secret: Uint8Array
  readonly mlkemDecapsulationKey: Uint8Array
  constructor (x25519Secret: Uint8Array, mlkemDecapsulationKey: Uint8Array) {
    super()
    this.x25519Secret = x25519Secret
    this.mlkemDecapsulationKey = mlkemDecapsulationKey
    observeSecret('client-auth', x25519Secret)
    observeSecret('client-auth', mlkemDecapsulationKey)
  }
}

/** The auth section as carried in the inner layer. */
export interface AuthSection {
  /** hs_X: the provider's ephemeral X25519 public key for this build. */
  readonly ephemeralKey: Uint8Array
  readonly entries: Uint8Array[]
}

function clientId (subcred: Uint8Array, hsX: Uint8Array, xss: Uint8Array): Uint8Array {
  return shake256(concat(bytesOf(AUTH_ID_CONSTANT), subcred, hsX, xss), CLIENT_ID_LEN)
}

function cookieKey (subcred: Uint8Array, hsX: Uint8Array, xss: Uint8Array, kss: Uint8Array, ct: Uint8Array): Uint8Array {
  const key = shake256(concat(bytesOf(AUTH_KEY_CONSTANT), subcred, hsX, xss, kss, ct), DESCRIPTOR_COOKIE_LEN)
  observeSecret('client-auth', xss)
  observeSecret('client-auth', kss)
  observeSecret('client-auth', key)
  return key
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

/** Number of entries a section with `n` real clients carries: a positive multiple of 16. */
export function authEntryCount (n: number): number {
  return Math.max(1, Math.ceil(n / AUTH_ENTRY_BLOCK)) * AUTH_ENTRY_BLOCK
}

/** Build the auth section wrapping `cookie` for each client; randomness from `rng`. */
export function buildAuthSection (clients: readonly AuthorizedClient[], cookie: Uint8Array, subcred: Uint8Array, rng: Rng): AuthSection {
  expectLen(cookie, DESCRIPTOR_COOKIE_LEN, 'descriptor cookie')
  if (clients.length > MAX_AUTH_CLIENTS) throw new RegistryCallerError(`at most ${MAX_AUTH_CLIENTS} authorised clients`)
  const hsY = rng(X25519_LEN)
  observeSecret('client-auth', hsY)
  observeSecret('client-auth', cookie)
  const hsX = x25519.publicKey(hsY)
  const entries: Uint8Array[] = []
  for (const c of clients) {
    expectLen(c.x25519, X25519_LEN, 'client X25519 key')
    expectLen(c.mlkemEncapsulationKey, MLKEM768_EK_LEN, 'client ML-KEM key')
    let xss: Uint8Array
    try { xss = x25519.sharedSecret(hsY, c.x25519) } catch { throw new RegistryCallerError('client X25519 key is of small order') }
    const enc = mlkem768Encapsulate(c.mlkemEncapsulationKey, rng(32))
    if (enc === undefined) throw new RegistryCallerError('client ML-KEM key fails the FIPS 203 check')
    const iv = rng(AUTH_IV_LEN)
    const wrapped = aes256Ctr(cookieKey(subcred, hsX, xss, enc.sharedSecret, enc.ciphertext), iv, cookie)
    entries.push(concat(clientId(subcred, hsX, xss), iv, enc.ciphertext, wrapped))
  }
  const total = authEntryCount(clients.length)
  while (entries.length < total) entries.push(rng(AUTH_ENTRY_LEN))
  hsY.fill(0)
  entries.sort(compareBytes)
  return { ephemeralKey: hsX, entries }
}

/**
 * The descriptor cookie candidates for this client: usually zero or one (a random
 * fake entry collides with a real client id with probability 2^-64 per entry; each
 * candidate is then checked by the private layer's MAC).
 */
export function openAuthSection (section: AuthSection, key: ClientAuthKey, subcred: Uint8Array): Uint8Array[] {
  if (section.ephemeralKey.length !== X25519_LEN) return []
  let xss: Uint8Array
  try { xss = x25519.sharedSecret(key.x25519Secret, section.ephemeralKey) } catch { return [] }
  const id = clientId(subcred, section.ephemeralKey, xss)
  const out: Uint8Array[] = []
  for (const e of section.entries) {
    if (e.length !== AUTH_ENTRY_LEN || !constantTimeEqual(e.subarray(0, CLIENT_ID_LEN), id)) continue
    const iv = e.subarray(CLIENT_ID_LEN, CLIENT_ID_LEN + AUTH_IV_LEN)
    const ct = e.subarray(CLIENT_ID_LEN + AUTH_IV_LEN, CLIENT_ID_LEN + AUTH_IV_LEN + MLKEM768_CT_LEN)
    const wrapped = e.subarray(CLIENT_ID_LEN + AUTH_IV_LEN + MLKEM768_CT_LEN)
    const kss = mlkem768Decapsulate(ct, key.mlkemDecapsulationKey)
    out.push(aes256Ctr(cookieKey(subcred, section.ephemeralKey, xss, kss, ct), iv, wrapped))
  }
  return out
}

// ---------------------------------------------------------------------------
// A client's key pair from a seed, and its public half as text (given to providers)
// ---------------------------------------------------------------------------

/** X25519 secret (32) | ML-KEM-768 keygen seed (64): what a client's key file holds. */
export const CLIENT_AUTH_SEED_LEN = X25519_LEN + 64
/** The text form of an AuthorizedClient: this prefix, then base64url(X25519 public | ML-KEM-768 encapsulation key). */
export const AUTHORIZED_CLIENT_PREFIX = 'veil-auth-v1:'

/** The client's key and its public half, from a 96-byte seed (deterministic: the seed is the key file). */
export function clientAuthFromSeed (seed: Uint8Array): { key: ClientAuthKey, authorized: AuthorizedClient } {
  expectLen(seed, CLIENT_AUTH_SEED_LEN, 'client auth seed')
  const xs = seed.slice(0, X25519_LEN)
  const kem = mlkem768Keygen(seed.slice(X25519_LEN))
  return { key: new ClientAuthKey(xs, kem.decapsulationKey), authorized: { x25519: x25519.publicKey(xs), mlkemEncapsulationKey: kem.encapsulationKey } }
}

export function formatAuthorizedClient (c: AuthorizedClient): string {
  return AUTHORIZED_CLIENT_PREFIX + Buffer.from(concat(c.x25519, c.mlkemEncapsulationKey)).toString('base64url')
}

/** Parse the text a client gave its provider; throws RegistryCallerError with one line. */
export function parseAuthorizedClient (text: string): AuthorizedClient {
  if (typeof text !== 'string' || !text.startsWith(AUTHORIZED_CLIENT_PREFIX)) throw new RegistryCallerError(`an authorised client key starts with ${AUTHORIZED_CLIENT_PREFIX}`)
  const body = text.slice(AUTHORIZED_CLIENT_PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new RegistryCallerError('an authorised client key is base64url after its prefix')
  const raw = Buffer.from(body, 'base64url')
  if (raw.length !== X25519_LEN + MLKEM768_EK_LEN) throw new RegistryCallerError(`an authorised client key is ${X25519_LEN + MLKEM768_EK_LEN} bytes, got ${raw.length}`)
  return { x25519: new Uint8Array(raw.subarray(0, X25519_LEN)), mlkemEncapsulationKey: new Uint8Array(raw.subarray(X25519_LEN)) }
}
