/**
 * The inner descriptor layer's plaintext: what reaching a provider needs, and nothing
 * else (the catalogue itself is fetched over the rendezvous channel and checked against
 * the digest here). Canonical msgpack:
 *
 *   InnerPlaintext = [ body: bin, mldsaPublicKey: bin(1952), mldsaSignature: bin(3309) ]
 *   body = [ version: 1,
 *            reach: [0, [IntroPoint, …]]          -- hidden: 1–10 introduction points
 *                 | [1, relayPeerId: bin]          -- public: the provider's own relay
 *            pow: [seed: bin(32), suggestedEffort: uint ≤ 64] | nil,
 *            catalogue: [digest: bin(32), version: uint],
 *            auth: [hs_X: bin(32), entries: [bin(1144), …], privateLayer: bin] ]
 *   IntroPoint = [ relayPeerId: bin, linkSpecifiers: [bin, …],
 *                  authKey: bin(32), authKeyCert: bin(64),
 *                  encX25519: bin(32), encMlKem: bin(1184) ]
 *   authKeyCert = Ed25519_{A'_p}(INTRO_AUTH_CERT_CONTEXT | authKey | encX25519 | SHA3-256(encMlKem))
 *   mldsaSignature = ML-DSA-65(ctx = INNER_MLDSA_CONTEXT,
 *                              A'_p | INT_8(revision) | INT_8(expiry) | body)
 *
 *   PrivateContent (inside privateLayer, keyed by the descriptor cookie) =
 *          [ catalogueDigest: bin(32), catalogueVersion: uint, [IntroPoint, …] ]
 *
 * The ML-DSA signature binds the layer to this period's blinded key, revision and
 * expiry, so an inner layer cannot be moved under another outer record. Pure codec: no
 * crypto here except what `verify…` names; errors are {@link InvalidDescriptorError}.
 */
import {
  AUTH_ENTRY_LEN, ED25519_PUBLIC_LEN, ED25519_SIGNATURE_LEN, INTRO_AUTH_CERT_CONTEXT, MAX_AUTH_CLIENTS, MAX_INTRO_POINTS,
  MAX_LINK_SPECIFIER_LEN, MAX_LINK_SPECIFIERS, MAX_PEER_ID_LEN, MAX_POW_EFFORT, MLDSA65_PUBLIC_LEN, MLDSA65_SIGNATURE_LEN,
  MLKEM768_EK_LEN, POW_SEED_LEN, SHA3_256_LEN, X25519_LEN, INNER_CONTENT_MAX_LEN, PRIVATE_CONTENT_MAX_LEN, AUTH_ENTRY_BLOCK
} from './constants.ts'
import { InvalidDescriptorError, RegistryCallerError } from './errors.ts'
import { bin, fields, list, pack, uint, unpackCanonical, type Fail } from './codec.ts'
import { bytesOf, concat, int8, sha3_256 } from './primitives.ts'
import type { AuthSection } from './client-auth.ts'

export const INNER_VERSION = 1

export interface IntroPoint {
  /** The introduction point relay's peer id (identity multihash bytes). */
  readonly relay: Uint8Array
  /** Opaque link specifiers (e.g. multiaddr bytes) for reaching the relay. */
  readonly linkSpecifiers: readonly Uint8Array[]
  /** The per-introduction-point Ed25519 auth key the IP knows the provider by. */
  readonly authKey: Uint8Array
  /** Signature by A'_p over the auth key and the encryption keys. */
  readonly authKeyCert: Uint8Array
  readonly encX25519: Uint8Array
  readonly encMlKem: Uint8Array
}

export type Reach =
  | { readonly mode: 'hidden', readonly introPoints: readonly IntroPoint[] }
  | { readonly mode: 'public', readonly relay: Uint8Array }

export interface PowParams { readonly seed: Uint8Array, readonly suggestedEffort: number }
export interface CatalogueRef { readonly digest: Uint8Array, readonly version: number }

/** What a provider publishes, before the auth section and signatures are added. */
export interface InnerContent {
  readonly reach: Reach
  readonly pow: PowParams | null
  readonly catalogue: CatalogueRef
}

/** Parsed inner body. */
export interface InnerBody extends InnerContent {
  readonly auth: AuthSection & { readonly privateLayer: Uint8Array }
}

export interface InnerPlaintext {
  readonly body: Uint8Array
  readonly mldsaPublicKey: Uint8Array
  readonly mldsaSignature: Uint8Array
}

/** For authorised clients only. */
export interface PrivateContent {
  readonly catalogue: CatalogueRef
  readonly introPoints: readonly IntroPoint[]
}

const fail: Fail = (reason, message) => { throw new InvalidDescriptorError(reason, message) }

/** What A'_p signs to certify an introduction point's keys. */
export function introCertMessage (authKey: Uint8Array, encX25519: Uint8Array, encMlKem: Uint8Array): Uint8Array {
  return concat(bytesOf(INTRO_AUTH_CERT_CONTEXT), authKey, encX25519, sha3_256(encMlKem))
}

/** What the ML-DSA key signs. */
export function innerSignedMessage (blindedKey: Uint8Array, revision: number, expiry: number, body: Uint8Array): Uint8Array {
  return concat(blindedKey, int8(revision), int8(expiry), body)
}

function encodeIntro (ip: IntroPoint): unknown[] {
  return [ip.relay, [...ip.linkSpecifiers], ip.authKey, ip.authKeyCert, ip.encX25519, ip.encMlKem]
}

function decodeIntro (v: unknown): IntroPoint {
  const f = fields(v, 6, 'intro point', fail)
  const relay = bin(f[0], 'intro relay', fail, undefined, MAX_PEER_ID_LEN)
  if (relay.length === 0) fail('malformed', 'intro relay: empty')
  const specs = list(f[1], 'link specifiers', fail, MAX_LINK_SPECIFIERS).map(s => bin(s, 'link specifier', fail, undefined, MAX_LINK_SPECIFIER_LEN))
  return {
    relay,
    linkSpecifiers: specs,
    authKey: bin(f[2], 'auth key', fail, ED25519_PUBLIC_LEN),
    authKeyCert: bin(f[3], 'auth key cert', fail, ED25519_SIGNATURE_LEN),
    encX25519: bin(f[4], 'enc X25519 key', fail, X25519_LEN),
    encMlKem: bin(f[5], 'enc ML-KEM key', fail, MLKEM768_EK_LEN)
  }
}

function checkContent (c: InnerContent): void {
  if (c.reach.mode === 'hidden' && (c.reach.introPoints.length === 0 || c.reach.introPoints.length > MAX_INTRO_POINTS)) {
    throw new RegistryCallerError(`a hidden provider needs 1–${MAX_INTRO_POINTS} introduction points`)
  }
  if (c.pow !== null && (c.pow.seed.length !== POW_SEED_LEN || !Number.isInteger(c.pow.suggestedEffort) || c.pow.suggestedEffort < 0 || c.pow.suggestedEffort > MAX_POW_EFFORT)) {
    throw new RegistryCallerError('bad PoW parameters')
  }
  if (c.catalogue.digest.length !== SHA3_256_LEN) throw new RegistryCallerError('catalogue digest must be 32 bytes')
}

export function encodeInnerBody (c: InnerContent, auth: AuthSection, privateLayer: Uint8Array): Uint8Array {
  checkContent(c)
  const reach = c.reach.mode === 'hidden' ? [0, c.reach.introPoints.map(encodeIntro)] : [1, c.reach.relay]
  return pack([
    INNER_VERSION,
    reach,
    c.pow === null ? null : [c.pow.seed, c.pow.suggestedEffort],
    [c.catalogue.digest, c.catalogue.version],
    [auth.ephemeralKey, auth.entries, privateLayer]
  ])
}

export function decodeInnerBody (bytes: Uint8Array): InnerBody {
  const f = fields(unpackCanonical(bytes, INNER_CONTENT_MAX_LEN, 'inner body', fail), 5, 'inner body', fail)
  if (f[0] !== INNER_VERSION) fail('malformed', 'inner body: unsupported version')
  const r = fields(f[1], 2, 'reach', fail)
  let reach: Reach
  if (r[0] === 0) {
    const ips = list(r[1], 'intro points', fail, MAX_INTRO_POINTS)
    if (ips.length === 0) fail('malformed', 'no introduction points')
    reach = { mode: 'hidden', introPoints: ips.map(decodeIntro) }
  } else if (r[0] === 1) {
    const relay = bin(r[1], 'public relay', fail, undefined, MAX_PEER_ID_LEN)
    if (relay.length === 0) fail('malformed', 'public relay: empty')
    reach = { mode: 'public', relay }
  } else {
    return fail('malformed', 'reach: unknown mode')
  }
  let pow: PowParams | null = null
  if (f[2] !== null) {
    const p = fields(f[2], 2, 'pow', fail)
    pow = { seed: bin(p[0], 'pow seed', fail, POW_SEED_LEN), suggestedEffort: uint(p[1], 'pow effort', fail, MAX_POW_EFFORT) }
  }
  const cat = fields(f[3], 2, 'catalogue ref', fail)
  const a = fields(f[4], 3, 'auth section', fail)
  const entries = list(a[1], 'auth entries', fail, Math.ceil(MAX_AUTH_CLIENTS / AUTH_ENTRY_BLOCK) * AUTH_ENTRY_BLOCK).map(e => bin(e, 'auth entry', fail, AUTH_ENTRY_LEN))
  if (entries.length === 0 || entries.length % AUTH_ENTRY_BLOCK !== 0) fail('malformed', 'auth entries: not a positive multiple of 16')
  return {
    reach,
    pow,
    catalogue: { digest: bin(cat[0], 'catalogue digest', fail, SHA3_256_LEN), version: uint(cat[1], 'catalogue version', fail) },
    auth: { ephemeralKey: bin(a[0], 'auth ephemeral key', fail, X25519_LEN), entries, privateLayer: bin(a[2], 'private layer', fail) }
  }
}

export function encodeInnerPlaintext (p: InnerPlaintext): Uint8Array {
  return pack([p.body, p.mldsaPublicKey, p.mldsaSignature])
}

export function decodeInnerPlaintext (bytes: Uint8Array): InnerPlaintext {
  const f = fields(unpackCanonical(bytes, INNER_CONTENT_MAX_LEN, 'inner layer', fail), 3, 'inner layer', fail)
  return {
    body: bin(f[0], 'inner body', fail),
    mldsaPublicKey: bin(f[1], 'ML-DSA public key', fail, MLDSA65_PUBLIC_LEN),
    mldsaSignature: bin(f[2], 'ML-DSA signature', fail, MLDSA65_SIGNATURE_LEN)
  }
}

export function encodePrivateContent (p: PrivateContent): Uint8Array {
  if (p.introPoints.length > MAX_INTRO_POINTS) throw new RegistryCallerError('too many private introduction points')
  return pack([p.catalogue.digest, p.catalogue.version, p.introPoints.map(encodeIntro)])
}

export function decodePrivateContent (bytes: Uint8Array): PrivateContent {
  const f = fields(unpackCanonical(bytes, PRIVATE_CONTENT_MAX_LEN, 'private content', fail), 3, 'private content', fail)
  return {
    catalogue: { digest: bin(f[0], 'private catalogue digest', fail, SHA3_256_LEN), version: uint(f[1], 'private catalogue version', fail) },
    introPoints: list(f[2], 'private intro points', fail, MAX_INTRO_POINTS).map(decodeIntro)
  }
}
