/**
 * Wire formats of introduction and rendezvous (rend-spec-v3 §3–4, reshaped for Veil's
 * 2 KB cells and hybrid keys). Pure: no I/O, no clock, no crypto. Every message fits one
 * relay cell (RELAY_DATA_MAX = 2,022 bytes), so none is fragmented. Decoders throw
 * {@link HsProtocolError} (peer fault) for anything but the exact layout.
 *
 *   ESTABLISH_INTRO  authKey(32) | rate u32 | burst u32 | sig(64)
 *                    sig = Ed25519_authKey(ESTABLISH_INTRO_CONTEXT | authKey | rate | burst)
 *   INTRO_ESTABLISHED, INTRODUCE_ACK, RENDEZVOUS_ESTABLISHED   status u8
 *   INTRODUCE1 = INTRODUCE2
 *                    authKey(32) | X(32) | kemCt(1088) | sealed(512 + 16)
 *                    sealed = ChaCha20-Poly1305(k_intro, nonce 0, IntroPlaintext padded to 512,
 *                                               AD = authKey | X | kemCt)
 *   IntroPlaintext   canonical msgpack [ rpRelay: bin(≤64), rpOnionKeyId: bin(32), cookie: bin(20),
 *                                        pow: [nonce: bin(8), effort: uint] | nil, clientAuth: bin | nil ]
 *                    then zero padding to INTRO_PLAINTEXT_PADDED_LEN (length u16 first)
 *   ESTABLISH_RENDEZVOUS  cookie(20)
 *   RENDEZVOUS1      cookie(20) | Y(32) | auth(32)
 *   RENDEZVOUS2      Y(32) | auth(32)
 *   RV_DATA          ChaCha20-Poly1305 ciphertext with tag (≥ 16 bytes)
 *   INTRO_CREDIT, RV_CREDIT, RV_SENDME, RV_CLOSE   empty
 */
import {
  ED25519_PUBLIC_LEN, ED25519_SIGNATURE_LEN, ESTABLISH_INTRO_LEN, INTRO_LIMIT_LEN, INTRO_PLAINTEXT_PADDED_LEN, INTRODUCE_HEAD_LEN,
  INTRODUCE_LEN, MAX_INTRO_CLIENT_AUTH_LEN, MAX_INTRO_RATE, MAX_RELAY_ID_LEN, MLKEM768_CT_LEN, ONION_KEY_ID_LEN, POW_NONCE_LEN,
  REND_AUTH_LEN, REND_COOKIE_LEN, RENDEZVOUS1_LEN, RENDEZVOUS2_LEN, X25519_LEN, AEAD_TAG_LEN
} from './constants.ts'
import { RegistryError, RegistryCallerError } from './errors.ts'
import { bin, fields, pack, uint, unpackCanonical, type Fail } from './codec.ts'
import { bytesOf, concat } from './primitives.ts'
import { ESTABLISH_INTRO_CONTEXT } from './constants.ts'

/** A peer sent a malformed or illegal introduction/rendezvous message. */
export class HsProtocolError extends RegistryError {
  constructor (message: string) { super('peer', message) }
}

const fail: Fail = (_r, message) => { throw new HsProtocolError(message) }

/** Status bytes of INTRO_ESTABLISHED / INTRODUCE_ACK / RENDEZVOUS_ESTABLISHED. */
export const HsStatus = Object.freeze({
  OK: 0,
  /** IP: no introduction point with that auth key. */
  UNKNOWN: 1,
  /** IP: seen this introduction before; RP: cookie in use or used. */
  REPLAY: 2,
  /** IP: rate limit or no reply credit toward the provider. */
  BUSY: 3,
  MALFORMED: 4,
  /** Not the circuit's last hop. */
  NOT_LAST_HOP: 5,
  BAD_SIGNATURE: 6
} as const)

export function hsStatusName (s: number): string {
  return Object.entries(HsStatus).find(([, v]) => v === s)?.[0] ?? `status-${s}`
}

export function encodeStatus (s: number): Uint8Array { return Uint8Array.of(s) }
export function decodeStatus (b: Uint8Array): number {
  if (b.length !== 1) fail('malformed', 'status: expected 1 byte')
  return b[0]
}

function u32 (n: number): Uint8Array {
  const out = new Uint8Array(INTRO_LIMIT_LEN)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

// ── ESTABLISH_INTRO ───────────────────────────────────────────────────────────

export interface EstablishIntro { readonly authKey: Uint8Array, readonly rate: number, readonly burst: number, readonly signature: Uint8Array }

/** What the auth key signs. */
export function establishIntroSigned (authKey: Uint8Array, rate: number, burst: number): Uint8Array {
  return concat(bytesOf(ESTABLISH_INTRO_CONTEXT), authKey, u32(rate), u32(burst))
}

function checkLimits (rate: number, burst: number): void {
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_INTRO_RATE || !Number.isInteger(burst) || burst < rate || burst > 2 * MAX_INTRO_RATE) {
    throw new RegistryCallerError(`intro limits: rate 1..${MAX_INTRO_RATE}, burst rate..${2 * MAX_INTRO_RATE}`)
  }
}

export function encodeEstablishIntro (m: EstablishIntro): Uint8Array {
  checkLimits(m.rate, m.burst)
  if (m.authKey.length !== ED25519_PUBLIC_LEN || m.signature.length !== ED25519_SIGNATURE_LEN) throw new RegistryCallerError('establish intro: bad key or signature length')
  return concat(m.authKey, u32(m.rate), u32(m.burst), m.signature)
}

export function decodeEstablishIntro (b: Uint8Array): EstablishIntro {
  if (b.length !== ESTABLISH_INTRO_LEN) fail('malformed', 'ESTABLISH_INTRO: wrong length')
  const v = new DataView(b.buffer, b.byteOffset, b.length)
  const rate = v.getUint32(ED25519_PUBLIC_LEN)
  const burst = v.getUint32(ED25519_PUBLIC_LEN + INTRO_LIMIT_LEN)
  try { checkLimits(rate, burst) } catch { fail('malformed', 'ESTABLISH_INTRO: limits out of range') }
  return { authKey: b.slice(0, ED25519_PUBLIC_LEN), rate, burst, signature: b.slice(ED25519_PUBLIC_LEN + 2 * INTRO_LIMIT_LEN) }
}

// ── INTRODUCE1/2 ──────────────────────────────────────────────────────────────

export interface Introduce { readonly authKey: Uint8Array, readonly clientKey: Uint8Array, readonly kemCiphertext: Uint8Array, readonly sealed: Uint8Array }

export function encodeIntroduce (m: Introduce): Uint8Array {
  const out = concat(m.authKey, m.clientKey, m.kemCiphertext, m.sealed)
  if (out.length !== INTRODUCE_LEN || m.authKey.length !== ED25519_PUBLIC_LEN || m.clientKey.length !== X25519_LEN) throw new RegistryCallerError('introduce: bad field lengths')
  return out
}

export function decodeIntroduce (b: Uint8Array): Introduce {
  if (b.length !== INTRODUCE_LEN) fail('malformed', 'INTRODUCE: wrong length')
  const a = ED25519_PUBLIC_LEN
  const x = a + X25519_LEN
  return { authKey: b.slice(0, a), clientKey: b.slice(a, x), kemCiphertext: b.slice(x, x + MLKEM768_CT_LEN), sealed: b.slice(INTRODUCE_HEAD_LEN) }
}

/** The introduction's auth key without decoding the rest (the IP's lookup). */
export function introduceAuthKey (b: Uint8Array): Uint8Array {
  if (b.length !== INTRODUCE_LEN) fail('malformed', 'INTRODUCE: wrong length')
  return b.slice(0, ED25519_PUBLIC_LEN)
}

export interface IntroPlaintext {
  /** The RP's peer id multihash. */
  readonly rpRelay: Uint8Array
  /** SHA3-256 of the RP's onion key in the client's directory. */
  readonly rpOnionKeyId: Uint8Array
  readonly cookie: Uint8Array
  readonly pow: { readonly nonce: Uint8Array, readonly effort: number } | null
  readonly clientAuth: Uint8Array | null
}

const PLAINTEXT_LENGTH_LEN = 2

/** The padded plaintext (always INTRO_PLAINTEXT_PADDED_LEN bytes: every introduction has one length). */
export function encodeIntroPlaintext (p: IntroPlaintext): Uint8Array {
  if (p.cookie.length !== REND_COOKIE_LEN || p.rpOnionKeyId.length !== ONION_KEY_ID_LEN || p.rpRelay.length === 0 || p.rpRelay.length > MAX_RELAY_ID_LEN) {
    throw new RegistryCallerError('intro plaintext: bad field lengths')
  }
  if (p.clientAuth !== null && p.clientAuth.length > MAX_INTRO_CLIENT_AUTH_LEN) throw new RegistryCallerError('intro plaintext: client auth too long')
  const body = pack([p.rpRelay, p.rpOnionKeyId, p.cookie, p.pow === null ? null : [p.pow.nonce, p.pow.effort], p.clientAuth])
  if (body.length + PLAINTEXT_LENGTH_LEN > INTRO_PLAINTEXT_PADDED_LEN) throw new RegistryCallerError('intro plaintext too long')
  const out = new Uint8Array(INTRO_PLAINTEXT_PADDED_LEN)
  new DataView(out.buffer).setUint16(0, body.length)
  out.set(body, PLAINTEXT_LENGTH_LEN)
  return out
}

export function decodeIntroPlaintext (b: Uint8Array): IntroPlaintext {
  if (b.length !== INTRO_PLAINTEXT_PADDED_LEN) fail('malformed', 'intro plaintext: wrong length')
  const n = new DataView(b.buffer, b.byteOffset, b.length).getUint16(0)
  if (n + PLAINTEXT_LENGTH_LEN > b.length) fail('malformed', 'intro plaintext: bad length')
  for (let i = PLAINTEXT_LENGTH_LEN + n; i < b.length; i++) if (b[i] !== 0) fail('malformed', 'intro plaintext: non-zero padding')
  const f = fields(unpackCanonical(b.subarray(PLAINTEXT_LENGTH_LEN, PLAINTEXT_LENGTH_LEN + n), INTRO_PLAINTEXT_PADDED_LEN, 'intro plaintext', fail), 5, 'intro plaintext', fail)
  let pow: IntroPlaintext['pow'] = null
  if (f[3] !== null) {
    const p = fields(f[3], 2, 'intro pow', fail)
    pow = { nonce: bin(p[0], 'pow nonce', fail, POW_NONCE_LEN), effort: uint(p[1], 'pow effort', fail, 255) }
  }
  return {
    rpRelay: bin(f[0], 'rp relay', fail, undefined, MAX_RELAY_ID_LEN),
    rpOnionKeyId: bin(f[1], 'rp onion key id', fail, ONION_KEY_ID_LEN),
    cookie: bin(f[2], 'cookie', fail, REND_COOKIE_LEN),
    pow,
    clientAuth: f[4] === null ? null : bin(f[4], 'client auth', fail, undefined, MAX_INTRO_CLIENT_AUTH_LEN)
  }
}

// ── rendezvous ────────────────────────────────────────────────────────────────

export function decodeCookie (b: Uint8Array): Uint8Array {
  if (b.length !== REND_COOKIE_LEN) fail('malformed', 'ESTABLISH_RENDEZVOUS: wrong length')
  return b.slice()
}

export interface Rendezvous1 { readonly cookie: Uint8Array, readonly serverKey: Uint8Array, readonly auth: Uint8Array }

export function encodeRendezvous1 (m: Rendezvous1): Uint8Array {
  const out = concat(m.cookie, m.serverKey, m.auth)
  if (out.length !== RENDEZVOUS1_LEN) throw new RegistryCallerError('rendezvous1: bad field lengths')
  return out
}

export function decodeRendezvous1 (b: Uint8Array): Rendezvous1 {
  if (b.length !== RENDEZVOUS1_LEN) fail('malformed', 'RENDEZVOUS1: wrong length')
  return { cookie: b.slice(0, REND_COOKIE_LEN), serverKey: b.slice(REND_COOKIE_LEN, REND_COOKIE_LEN + X25519_LEN), auth: b.slice(REND_COOKIE_LEN + X25519_LEN) }
}

export interface Rendezvous2 { readonly serverKey: Uint8Array, readonly auth: Uint8Array }

export function decodeRendezvous2 (b: Uint8Array): Rendezvous2 {
  if (b.length !== RENDEZVOUS2_LEN) fail('malformed', 'RENDEZVOUS2: wrong length')
  return { serverKey: b.slice(0, X25519_LEN), auth: b.slice(X25519_LEN, X25519_LEN + REND_AUTH_LEN) }
}

export function decodeEmpty (b: Uint8Array, what: string): void {
  if (b.length !== 0) fail('malformed', `${what}: expected no data`)
}

export function checkSealedCell (b: Uint8Array): void {
  if (b.length < AEAD_TAG_LEN) fail('malformed', 'RV_DATA: shorter than a tag')
}
