/**
 * The cryptography of introduction and rendezvous as pure steps (STYLE.md §3): randomness
 * comes in, keys and messages go out; no I/O.
 *
 * Per introduction point the provider holds {@link IntroSecrets}: an Ed25519 auth key
 * (the IP knows the provider only by it), an X25519 key B and an ML-KEM-768 key pair
 * (ek published, certified by A'_p in the descriptor).
 *
 *   client:   x fresh; X = x·G; (ct, ss) = ML-KEM.Encaps(ek); dh1 = X25519(x, B)
 *             T   = authKey | B | SHA3-256(ek) | X | ct
 *             k_i = HKDF-SHA3(salt = INTRO_KDF_CONTEXT, ikm = dh1 | ss, info = "intro" | T)
 *             sealed = ChaCha20-Poly1305(k_i, nonce 0, plaintext, AD = authKey | X | ct)
 *             (k_i is used once: X is fresh for every introduction)
 *   provider: dh1 = X25519(b, X); ss = ML-KEM.Decaps(dk, ct); opens the plaintext;
 *             y fresh; Y = y·G; dh2 = X25519(y, X)
 *             T'  = T | Y | cookie
 *             mac | k_c2p | k_p2c = HKDF-SHA3(salt = REND_KDF_CONTEXT, ikm = dh1 | ss | dh2, info = T', 96)
 *             auth = HMAC-SHA3-256(mac, REND_AUTH_CONTEXT | T')  → RENDEZVOUS1(cookie, Y, auth)
 *   client:   recomputes dh2 = X25519(x, Y), checks auth (constant time), same keys.
 *
 * Hybrid: an attacker must break both X25519 (dh1, dh2) and ML-KEM-768 (ss) to learn the
 * channel keys. Forward secrecy: classical from the fresh y (dh2); post-quantum only as
 * long as the introduction point's ML-KEM key, which is replaced with the introduction
 * point (Tor's hs-ntor has the same shape: the service's intro key is long-lived, Y fresh).
 * Not defended here: a provider's intro key compromised before the introduction.
 *
 * Secrets are reported to the test-only observeSecret hook: introduction-point keys and
 * the introduction handshake as 'introduction', the rendezvous handshake as 'rendezvous',
 * the channel keys as 'e2e'.
 */
import {
  AEAD_KEY_LEN, AEAD_NONCE_LEN, ED25519_SEED_LEN, INTRO_KDF_CONTEXT, INTRO_POW_CONTEXT, POW_NONCE_LEN,
  REND_AUTH_CONTEXT, REND_AUTH_LEN, REND_COOKIE_LEN, REND_KDF_CONTEXT, X25519_LEN
} from './constants.ts'
import { MLKEM768_KEYGEN_SEED_LEN } from '../onion/constants.ts'
import {
  ExpandedEd25519Key, Redacted, aeadOpen, aeadSeal, bytesOf, concat, constantTimeEqual, hkdfExpandSha3, hkdfExtractSha3, hmacSha3_256,
  mlkem768EncapsulateWith, mlkem768KeygenFast, sha3_256, x25519, type MlKemDecapsulationKey, type Rng
} from './primitives.ts'
import { RegistryCallerError } from './errors.ts'
import { HsProtocolError, decodeIntroPlaintext, encodeIntroPlaintext, encodeIntroduce, encodeRendezvous1, type Introduce, type IntroPlaintext, type Rendezvous2 } from './hs-codec.ts'
import { powEffort, solvePow } from './pow.ts'
import type { IntroPointKeys } from './descriptor.ts'
import { observeSecret, secretsObserved } from '../overlay/secret-observer.ts'

const ZERO_NONCE = new Uint8Array(AEAD_NONCE_LEN)

/** A provider's secrets for one introduction point. Prints as [redacted]. */
export class IntroSecrets extends Redacted {
  readonly authKey: ExpandedEd25519Key
  readonly encX25519: Uint8Array
  readonly encMlKem: Uint8Array
  readonly #encSecret: Uint8Array
  readonly #dk: MlKemDecapsulationKey

  private constructor (authKey: ExpandedEd25519Key, encSecret: Uint8Array, ek: Uint8Array, dk: MlKemDecapsulationKey) {
    super()
    this.authKey = authKey
    this.#encSecret = encSecret
    this.encX25519 = x25519.publicKey(encSecret)
    this.encMlKem = ek
    this.#dk = dk
  }

  static generate (rng: Rng): IntroSecrets {
    const kemSeed = rng(MLKEM768_KEYGEN_SEED_LEN)
    const authSeed = rng(ED25519_SEED_LEN)
    const encSecret = rng(X25519_LEN)
    observeSecret('introduction', kemSeed)
    observeSecret('introduction', authSeed)
    observeSecret('introduction', encSecret)
    const kem = mlkem768KeygenFast(kemSeed)
    const authKey = ExpandedEd25519Key.fromSeed(authSeed)
    if (secretsObserved()) observeSecret('introduction', authKey.toBytes())
    return new IntroSecrets(authKey, encSecret, kem.encapsulationKey, kem.decapsulationKey)
  }

  /** What the descriptor lists (certified by buildDescriptor). */
  keys (relay: Uint8Array, linkSpecifiers: readonly Uint8Array[] = []): IntroPointKeys {
    return { relay, linkSpecifiers, authKey: this.authKey.publicKey, encX25519: this.encX25519, encMlKem: this.encMlKem }
  }

  /** Decrypt and check an introduction addressed to this point. Throws HsProtocolError. */
  open (m: Introduce): OpenedIntroduction {
    if (!constantTimeEqual(m.authKey, this.authKey.publicKey)) throw new HsProtocolError('introduction for another auth key')
    const dh1 = x25519.sharedSecret(this.#encSecret, m.clientKey)
    const ss = this.#dk.decapsulate(m.kemCiphertext)
    observeSecret('introduction', dh1)
    observeSecret('introduction', ss)
    const transcript = introTranscript(this.authKey.publicKey, this.encX25519, this.encMlKem, m.clientKey, m.kemCiphertext)
    const k = introKey(dh1, ss, transcript)
    const plain = aeadOpen(k, ZERO_NONCE, m.sealed, concat(m.authKey, m.clientKey, m.kemCiphertext))
    k.fill(0)
    if (plain === undefined) throw new HsProtocolError('introduction does not decrypt')
    return { plaintext: decodeIntroPlaintext(plain), clientKey: m.clientKey, ikm: concat(dh1, ss), transcript }
  }

  wipe (): void { this.#encSecret.fill(0); this.#dk.wipe() }
}

export interface OpenedIntroduction {
  readonly plaintext: IntroPlaintext
  readonly clientKey: Uint8Array
  /** dh1 | ss (secret). */
  readonly ikm: Uint8Array
  readonly transcript: Uint8Array
}

/** The channel keys of one rendezvous. Prints as [redacted]. */
export class ChannelKeys extends Redacted {
  readonly clientToProvider: Uint8Array
  readonly providerToClient: Uint8Array
  constructor (c2p: Uint8Array, p2c: Uint8Array) { super(); this.clientToProvider = c2p; this.providerToClient = p2c }
  wipe (): void { this.clientToProvider.fill(0); this.providerToClient.fill(0) }
}

function introTranscript (authKey: Uint8Array, encX: Uint8Array, encMlKem: Uint8Array, X: Uint8Array, ct: Uint8Array): Uint8Array {
  return concat(authKey, encX, sha3_256(encMlKem), X, ct)
}

function introKey (dh1: Uint8Array, ss: Uint8Array, transcript: Uint8Array): Uint8Array {
  const k = hkdfExpandSha3(hkdfExtractSha3(bytesOf(INTRO_KDF_CONTEXT), concat(dh1, ss)), concat(bytesOf('intro'), transcript), AEAD_KEY_LEN)
  observeSecret('introduction', k)
  return k
}

function rendKeys (ikm: Uint8Array, transcript: Uint8Array): { mac: Uint8Array, keys: ChannelKeys } {
  const okm = hkdfExpandSha3(hkdfExtractSha3(bytesOf(REND_KDF_CONTEXT), ikm), transcript, REND_AUTH_LEN + 2 * AEAD_KEY_LEN)
  const keys = new ChannelKeys(okm.slice(REND_AUTH_LEN, REND_AUTH_LEN + AEAD_KEY_LEN), okm.slice(REND_AUTH_LEN + AEAD_KEY_LEN))
  const mac = okm.slice(0, REND_AUTH_LEN)
  okm.fill(0)
  observeSecret('rendezvous', mac)
  observeSecret('e2e', keys.clientToProvider)
  observeSecret('e2e', keys.providerToClient)
  return { mac, keys }
}

/** What the proof of work binds: the descriptor's seed, the intro point, the client's key. */
export function introPowInput (seed: Uint8Array, authKey: Uint8Array, clientKey: Uint8Array): Uint8Array {
  return concat(bytesOf(INTRO_POW_CONTEXT), seed, authKey, clientKey)
}

/** The effort an introduction's proof achieves (0 without one). */
export function introPowEffort (seed: Uint8Array, authKey: Uint8Array, clientKey: Uint8Array, pow: IntroPlaintext['pow']): number {
  if (pow === null) return 0
  return Math.min(pow.effort, powEffort(introPowInput(seed, authKey, clientKey), pow.nonce))
}

export interface ClientIntroState {
  readonly cookie: Uint8Array
  readonly transcript: Uint8Array
  readonly clientKey: Uint8Array
  readonly ikmIntro: Uint8Array
  readonly secret: Uint8Array
}

export interface IntroTarget { readonly authKey: Uint8Array, readonly encX25519: Uint8Array, readonly encMlKem: Uint8Array }

/** Client: build INTRODUCE1 for `ip` (solving the puzzle when `pow` is given). */
export function clientIntroduce (
  rng: Rng, ip: IntroTarget,
  fields: { rpRelay: Uint8Array, rpOnionKeyId: Uint8Array, cookie: Uint8Array, clientAuth?: Uint8Array | null },
  pow: { seed: Uint8Array, effort: number } | null
): { message: Uint8Array, state: ClientIntroState } {
  if (fields.cookie.length !== REND_COOKIE_LEN) throw new RegistryCallerError('cookie must be 20 bytes')
  const x = rng(X25519_LEN)
  observeSecret('introduction', x)
  const X = x25519.publicKey(x)
  const kem = mlkem768EncapsulateWith(ip.encMlKem, rng)
  if (kem === undefined) throw new HsProtocolError('introduction point ML-KEM key fails the FIPS 203 check')
  const dh1 = x25519.sharedSecret(x, ip.encX25519)
  observeSecret('introduction', kem.sharedSecret)
  observeSecret('introduction', dh1)
  const transcript = introTranscript(ip.authKey, ip.encX25519, ip.encMlKem, X, kem.ciphertext)
  const proof = pow === null || pow.effort === 0
    ? null
    : { nonce: solvePow(introPowInput(pow.seed, ip.authKey, X), pow.effort, rng(POW_NONCE_LEN)), effort: pow.effort }
  const plain = encodeIntroPlaintext({ rpRelay: fields.rpRelay, rpOnionKeyId: fields.rpOnionKeyId, cookie: fields.cookie, pow: proof, clientAuth: fields.clientAuth ?? null })
  const k = introKey(dh1, kem.sharedSecret, transcript)
  const sealed = aeadSeal(k, ZERO_NONCE, plain, concat(ip.authKey, X, kem.ciphertext))
  k.fill(0)
  return {
    message: encodeIntroduce({ authKey: ip.authKey, clientKey: X, kemCiphertext: kem.ciphertext, sealed }),
    state: { cookie: fields.cookie, transcript, clientKey: X, ikmIntro: concat(dh1, kem.sharedSecret), secret: x }
  }
}

/** Provider: answer an opened introduction with RENDEZVOUS1 and the channel keys. */
export function serviceRendezvous (rng: Rng, intro: OpenedIntroduction): { message: Uint8Array, keys: ChannelKeys } {
  const y = rng(X25519_LEN)
  const Y = x25519.publicKey(y)
  const dh2 = x25519.sharedSecret(y, intro.clientKey)
  observeSecret('rendezvous', y)
  observeSecret('rendezvous', dh2)
  y.fill(0)
  const t = concat(intro.transcript, Y, intro.plaintext.cookie)
  const { mac, keys } = rendKeys(concat(intro.ikm, dh2), t)
  const auth = hmacSha3_256(mac, bytesOf(REND_AUTH_CONTEXT), t)
  mac.fill(0)
  return { message: encodeRendezvous1({ cookie: intro.plaintext.cookie, serverKey: Y, auth }), keys }
}

/** Client: check RENDEZVOUS2 and derive the channel keys. Throws HsProtocolError on a bad MAC. */
export function clientFinishRendezvous (state: ClientIntroState, r: Rendezvous2): ChannelKeys {
  const dh2 = x25519.sharedSecret(state.secret, r.serverKey)
  observeSecret('rendezvous', dh2)
  const t = concat(state.transcript, r.serverKey, state.cookie)
  const { mac, keys } = rendKeys(concat(state.ikmIntro, dh2), t)
  const ok = constantTimeEqual(hmacSha3_256(mac, bytesOf(REND_AUTH_CONTEXT), t), r.auth)
  mac.fill(0)
  if (!ok) { keys.wipe(); throw new HsProtocolError('rendezvous handshake MAC does not verify') }
  return keys
}
