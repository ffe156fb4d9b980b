/**
 * The hybrid circuit handshake (one round trip per hop), in the shape of Tor
 * proposal 269 ("transitionally secure" hybrid ntor + KEM), as three pure steps:
 *
 * ```
 * clientStart(rng, hop)            → { state, message }      message 1 = ID | KEYID(B) | X | EPK
 * relayRespond(keys, message, rng) → { reply, sessionKeys }  message 2 = Y | C | AUTH
 * clientFinish(state, reply)       → sessionKeys
 * ```
 *
 * B: the hop's X25519 onion key (from its signed descriptor); KEYID(B) = B.
 * X, Y: fresh X25519 keys. EPK: a fresh ML-KEM-768 encapsulation key for this
 * hop only; C encapsulates ss_kem to it.
 *
 * ```
 * T          = ID | B | X | EPK | Y | C                   (the whole transcript)
 * secret     = X25519(x,B) | X25519(x,Y) | ss_kem         (relay: X25519(b,X) | X25519(y,X) | ss_kem)
 * PRK        = HKDF-Extract(SHA3-256, salt = SHA3-256(PROTOID | ":transcript" | T), secret)
 * auth_key   = HKDF-Expand(PRK, PROTOID | ":auth", 32)
 * AUTH       = HMAC-SHA3-256(auth_key, PROTOID | ":mac" | T | "server")
 * keys       = HKDF-Expand(PRK, PROTOID | ":keys", 2·112 + 32)
 *            = forward CGO seed (J|S|N) | backward CGO seed (J|S|N) | circuit binding
 * ```
 *
 * Defends against: a passive attacker, now or later with a quantum computer
 * (keys stay secret if either X25519 or ML-KEM-768 holds); theft of the relay's
 * identity or onion key after the fact (EPK, x, y are ephemeral: forward
 * secrecy); a forged reply (AUTH requires b, so only the holder of the onion
 * key in the descriptor can answer: classical hop authentication); small-order
 * X25519 points (all-zero outputs rejected); replayed CREATEs (each reply uses
 * a fresh Y and C, so the replayer cannot compute the keys: no usable circuit).
 * Does not defend against: a real-time quantum attacker impersonating a hop
 * (authentication is classical, by design — relays publish no ML-KEM key).
 *
 * Every ephemeral secret, shared secret and the derived key material is reported to the
 * test-only observeSecret hook (kind 'session'; a call and a branch when no test listens).
 */
import { HandshakeError, OnionCallerError, expectBytes } from './errors.ts'
import { MlKemDecapsulationKey, Redacted, constantTimeEqual, hkdfExpandSha3, hkdfExtractSha3, hmacSha3_256, mlkem768EncapsulateWith, mlkem768KeygenFast, sha3_256, wipe, type Rng } from './primitives.ts'
import { defaultX25519, type X25519 } from './x25519.ts'
import { observeSecret } from '../overlay/secret-observer.ts'
import {
  CGO_STATE_SEED_LEN, CIRCUIT_BINDING_LEN, CREATED_MESSAGE_LEN, CREATE_MESSAGE_LEN, HASH_LEN, KEYID_LEN, MAC_LEN, MLKEM768_CT_LEN, MLKEM768_EK_LEN,
  MLKEM768_KEYGEN_SEED_LEN, RELAY_ID_LEN, SESSION_KEY_MATERIAL_LEN, X25519_LEN
} from './constants.ts'

/** Protocol identifier: domain-separates every hash, KDF and MAC input. */
export const HANDSHAKE_PROTOID = 'veil-hybrid-ntor-x25519-mlkem768-sha3-256-v1'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const T_TRANSCRIPT = utf8(`${HANDSHAKE_PROTOID}:transcript`)
const T_AUTH = utf8(`${HANDSHAKE_PROTOID}:auth`)
const T_MAC = utf8(`${HANDSHAKE_PROTOID}:mac`)
const T_KEYS = utf8(`${HANDSHAKE_PROTOID}:keys`)
const SERVER = utf8('server')

/** Message 1 field offsets. */
const M1_ID = 0
const M1_KEYID = M1_ID + RELAY_ID_LEN
const M1_X = M1_KEYID + KEYID_LEN
const M1_EPK = M1_X + X25519_LEN
/** Message 2 field offsets. */
const M2_Y = 0
const M2_C = M2_Y + X25519_LEN
const M2_AUTH = M2_C + MLKEM768_CT_LEN

function concat (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** What a client knows about a hop, from its verified descriptor. */
export interface HopPublicKeys {
  /** The relay's identity (raw Ed25519 public key, RELAY_ID_LEN bytes). */
  readonly id: Uint8Array
  /** Its current X25519 onion key B. */
  readonly onionKey: Uint8Array
}

/** One X25519 onion key pair of a relay. */
export interface OnionKeyPair { readonly secretKey: Uint8Array, readonly publicKey: Uint8Array }

/** A relay's handshake keys: identity plus current and previous onion keys (rotation). Prints as [redacted]. */
export class RelayHandshakeKeys extends Redacted {
  readonly id: Uint8Array
  readonly onionKeys: readonly OnionKeyPair[]
  constructor (id: Uint8Array, onionKeys: readonly OnionKeyPair[]) {
    super()
    expectBytes(id, RELAY_ID_LEN, 'relay id')
    if (onionKeys.length === 0) throw new OnionCallerError('a relay needs at least one onion key')
    for (const k of onionKeys) {
      expectBytes(k.secretKey, X25519_LEN, 'onion secret key')
      expectBytes(k.publicKey, X25519_LEN, 'onion public key')
    }
    this.id = id.slice()
    this.onionKeys = onionKeys.map((k) => ({ secretKey: k.secretKey.slice(), publicKey: k.publicKey.slice() }))
  }
}

/** Keys both ends derive for one hop. Prints as [redacted]. */
export class SessionKeys extends Redacted {
  /** CGO seed (keys J|S, nonce N) for cells away from the client. */
  readonly forward: Uint8Array
  /** CGO seed for cells toward the client. */
  readonly backward: Uint8Array
  /** Circuit binding: a secret both ends share, for later layers (never sent). */
  readonly binding: Uint8Array
  constructor (material: Uint8Array) {
    super()
    expectBytes(material, SESSION_KEY_MATERIAL_LEN, 'session key material')
    this.forward = material.slice(0, CGO_STATE_SEED_LEN)
    this.backward = material.slice(CGO_STATE_SEED_LEN, 2 * CGO_STATE_SEED_LEN)
    this.binding = material.slice(2 * CGO_STATE_SEED_LEN, 2 * CGO_STATE_SEED_LEN + CIRCUIT_BINDING_LEN)
    observeSecret('session', this.forward)
    observeSecret('session', this.backward)
    observeSecret('session', this.binding)
  }

  wipe (): void { wipe(this.forward); wipe(this.backward); wipe(this.binding) }
}

/** The client's secret state between clientStart and clientFinish. Prints as [redacted]. */
export class ClientHandshakeState extends Redacted {
  readonly hop: HopPublicKeys
  readonly message: Uint8Array
  readonly x: Uint8Array
  readonly dk: MlKemDecapsulationKey
  readonly x25519: X25519
  #used = false
  constructor (hop: HopPublicKeys, message: Uint8Array, x: Uint8Array, dk: MlKemDecapsulationKey, x25519: X25519) {
    super()
    this.hop = hop
    this.message = message
    this.x = x
    this.dk = dk
    this.x25519 = x25519
  }

  /** Mark used; a state finishes at most once. */
  consume (): void {
    if (this.#used) throw new OnionCallerError('handshake state already used')
    this.#used = true
  }

  wipe (): void { wipe(this.x); this.dk.wipe() }
}

/** Derive AUTH and the session keys from the transcript and the secret input. */
function derive (transcript: Uint8Array, secret: Uint8Array): { auth: Uint8Array, material: Uint8Array } {
  const salt = sha3_256(T_TRANSCRIPT, transcript)
  const prk = hkdfExtractSha3(salt, secret)
  const authKey = hkdfExpandSha3(prk, T_AUTH, HASH_LEN)
  const auth = hmacSha3_256(authKey, T_MAC, transcript, SERVER)
  const material = hkdfExpandSha3(prk, T_KEYS, SESSION_KEY_MATERIAL_LEN)
  observeSecret('session', prk)
  wipe(prk); wipe(authKey)
  return { auth, material }
}

/** Client step 1: fresh X and EPK for `hop`; returns the state to keep and message 1 to send. */
export function clientStart (rng: Rng, hop: HopPublicKeys, x25519: X25519 = defaultX25519): { state: ClientHandshakeState, message: Uint8Array } {
  expectBytes(hop.id, RELAY_ID_LEN, 'hop id')
  expectBytes(hop.onionKey, X25519_LEN, 'hop onion key')
  const x = rng(X25519_LEN)
  expectBytes(x, X25519_LEN, 'rng output')
  observeSecret('session', x)
  const X = x25519.publicKey(x)
  const kemSeed = rng(MLKEM768_KEYGEN_SEED_LEN)
  expectBytes(kemSeed, MLKEM768_KEYGEN_SEED_LEN, 'rng output')
  observeSecret('session', kemSeed)
  const { encapsulationKey, decapsulationKey } = mlkem768KeygenFast(kemSeed)
  wipe(kemSeed)
  const message = concat(hop.id, hop.onionKey, X, encapsulationKey)
  const state = new ClientHandshakeState({ id: hop.id.slice(), onionKey: hop.onionKey.slice() }, message, x, decapsulationKey, x25519)
  return { state, message: message.slice() }
}

/**
 * Relay step: answer message 1. Picks the onion key by KEYID (current or
 * previous during rotation). Throws HandshakeError (peer fault) on any problem.
 */
export function relayRespond (keys: RelayHandshakeKeys, message: Uint8Array, rng: Rng, x25519: X25519 = defaultX25519): { reply: Uint8Array, sessionKeys: SessionKeys } {
  if (!(message instanceof Uint8Array) || message.length !== CREATE_MESSAGE_LEN) {
    throw new HandshakeError('malformed', `handshake message must be ${CREATE_MESSAGE_LEN} bytes`)
  }
  const id = message.subarray(M1_ID, M1_KEYID)
  const keyId = message.subarray(M1_KEYID, M1_X)
  const X = message.subarray(M1_X, M1_EPK)
  const epk = message.subarray(M1_EPK, M1_EPK + MLKEM768_EK_LEN)
  if (!constantTimeEqual(id, keys.id)) throw new HandshakeError('wrong-identity', 'handshake is for another relay')
  let onion: OnionKeyPair | undefined
  for (const k of keys.onionKeys) if (constantTimeEqual(k.publicKey, keyId)) onion = k
  if (onion === undefined) throw new HandshakeError('unknown-onion-key', 'KEYID matches none of this relay\'s onion keys')
  const s1 = x25519.sharedSecret(onion.secretKey, X)
  const y = rng(X25519_LEN)
  expectBytes(y, X25519_LEN, 'rng output')
  observeSecret('session', y)
  const Y = x25519.publicKey(y)
  const s2 = x25519.sharedSecret(y, X)
  wipe(y)
  const enc = mlkem768EncapsulateWith(epk, rng)
  if (enc === undefined) throw new HandshakeError('bad-kem-key', 'EPK fails the ML-KEM-768 encapsulation key check')
  observeSecret('session', s1)
  observeSecret('session', s2)
  observeSecret('session', enc.sharedSecret)
  const transcript = concat(message, Y, enc.ciphertext)
  const secret = concat(s1, s2, enc.sharedSecret)
  const { auth, material } = derive(transcript, secret)
  wipe(s1); wipe(s2); wipe(enc.sharedSecret); wipe(secret)
  const reply = concat(Y, enc.ciphertext, auth)
  const sessionKeys = new SessionKeys(material)
  wipe(material)
  return { reply, sessionKeys }
}

/** Client step 2: check message 2 and derive the session keys. Throws HandshakeError on a bad reply. */
export function clientFinish (state: ClientHandshakeState, reply: Uint8Array): SessionKeys {
  state.consume()
  try {
    if (!(reply instanceof Uint8Array) || reply.length !== CREATED_MESSAGE_LEN) {
      throw new HandshakeError('malformed', `handshake reply must be ${CREATED_MESSAGE_LEN} bytes`)
    }
    const Y = reply.subarray(M2_Y, M2_C)
    const C = reply.subarray(M2_C, M2_AUTH)
    const auth = reply.subarray(M2_AUTH, M2_AUTH + MAC_LEN)
    const s1 = state.x25519.sharedSecret(state.x, state.hop.onionKey)
    const s2 = state.x25519.sharedSecret(state.x, Y)
    const ss = state.dk.decapsulate(C)
    observeSecret('session', s1)
    observeSecret('session', s2)
    observeSecret('session', ss)
    const transcript = concat(state.message, Y, C)
    const secret = concat(s1, s2, ss)
    const derived = derive(transcript, secret)
    wipe(s1); wipe(s2); wipe(ss); wipe(secret)
    if (!constantTimeEqual(derived.auth, auth)) {
      wipe(derived.material)
      throw new HandshakeError('bad-auth', 'AUTH did not verify')
    }
    const keys = new SessionKeys(derived.material)
    wipe(derived.material)
    return keys
  } finally {
    state.wipe()
  }
}

/** A fresh onion key pair for a relay. */
export function generateOnionKey (rng: Rng, x25519: X25519 = defaultX25519): OnionKeyPair {
  const secretKey = rng(X25519_LEN)
  expectBytes(secretKey, X25519_LEN, 'rng output')
  return { secretKey, publicKey: x25519.publicKey(secretKey) }
}
