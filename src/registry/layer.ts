/**
 * Descriptor layer encryption, as rend-spec-v3 §2.5.3 (arti `desc_enc.rs`):
 *
 *   secret_input = SECRET_DATA | subcredential | INT_8(revision)
 *   keys         = SHAKE-256(secret_input | salt | STRING_CONSTANT, 32 + 16 + 32)
 *   SECRET_KEY | SECRET_IV | MAC_KEY = keys
 *   encrypted    = AES-256-CTR(SECRET_KEY, SECRET_IV, padded plaintext)
 *   MAC          = SHA3-256(INT_8(32) | MAC_KEY | INT_8(16) | salt | encrypted)
 *   layer        = salt (16) | encrypted | MAC (32)
 *
 * SECRET_DATA is A'_p for the inner layer and A'_p | descriptor_cookie for the private
 * layer (Tor's second layer with client authorisation). A fresh 16-byte salt per build
 * makes every build's keys new even at the same revision.
 *
 * Padded plaintext = INT_4(content length) | content | zero bytes, to a multiple of
 * LAYER_PAD_BLOCK (4 KiB), so a layer's length says only which 4 KiB bucket it is in.
 * Decryption checks the MAC (constant-time) before decrypting and refuses non-zero
 * padding; it fails with one uninformative reason, `decrypt` (as arti's DecryptionError).
 */
import { LAYER_IV_LEN, LAYER_KEY_LEN, LAYER_LENGTH_PREFIX_LEN, LAYER_MAC_KEY_LEN, LAYER_MAC_LEN, LAYER_PAD_BLOCK, LAYER_SALT_LEN, padLen } from './constants.ts'
import { RegistryCallerError, type RecordFailure } from './errors.ts'
import { aes256Ctr, bytesOf, concat, constantTimeEqual, int8, sha3_256, shake256, type Rng } from './primitives.ts'

export interface LayerParams {
  /** A'_p, optionally followed by the descriptor cookie. */
  readonly secretData: Uint8Array
  readonly subcredential: Uint8Array
  readonly revision: number
  /** Personalisation string. */
  readonly constant: string
}

interface LayerKeys { key: Uint8Array, iv: Uint8Array, macKey: Uint8Array }

function deriveKeys (p: LayerParams, salt: Uint8Array): LayerKeys {
  const keys = shake256(concat(p.secretData, p.subcredential, int8(p.revision), salt, bytesOf(p.constant)), LAYER_KEY_LEN + LAYER_IV_LEN + LAYER_MAC_KEY_LEN)
  return {
    key: keys.slice(0, LAYER_KEY_LEN),
    iv: keys.slice(LAYER_KEY_LEN, LAYER_KEY_LEN + LAYER_IV_LEN),
    macKey: keys.slice(LAYER_KEY_LEN + LAYER_IV_LEN)
  }
}

function mac (macKey: Uint8Array, salt: Uint8Array, encrypted: Uint8Array): Uint8Array {
  return sha3_256(concat(int8(macKey.length), macKey, int8(salt.length), salt, encrypted))
}

/** INT_4(len) | content | zeros, to a multiple of LAYER_PAD_BLOCK. */
export function pad (content: Uint8Array): Uint8Array {
  if (content.length > 0xffff_ffff) throw new RegistryCallerError('layer content too large')
  const out = new Uint8Array(padLen(content.length))
  new DataView(out.buffer).setUint32(0, content.length)
  out.set(content, LAYER_LENGTH_PREFIX_LEN)
  return out
}

/** Inverse of {@link pad}; undefined when the framing or padding is wrong. */
export function unpad (padded: Uint8Array): Uint8Array | undefined {
  if (padded.length < LAYER_LENGTH_PREFIX_LEN || padded.length % LAYER_PAD_BLOCK !== 0) return undefined
  const n = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(0)
  if (n > padded.length - LAYER_LENGTH_PREFIX_LEN || padLen(n) !== padded.length) return undefined
  let acc = 0
  for (let i = LAYER_LENGTH_PREFIX_LEN + n; i < padded.length; i++) acc |= padded[i]
  if (acc !== 0) return undefined
  return padded.slice(LAYER_LENGTH_PREFIX_LEN, LAYER_LENGTH_PREFIX_LEN + n)
}

/** Encrypt `content` (padded here) with a fresh salt from `rng`. */
export function encryptLayer (p: LayerParams, content: Uint8Array, rng: Rng): Uint8Array {
  const salt = rng(LAYER_SALT_LEN)
  const k = deriveKeys(p, salt)
  const encrypted = aes256Ctr(k.key, k.iv, pad(content))
  return concat(salt, encrypted, mac(k.macKey, salt, encrypted))
}

/** Decrypt and unpad; `fail('decrypt' | 'padding')` on a wrong key, tampering or bad framing. */
export function decryptLayer (p: LayerParams, layer: Uint8Array, fail: (reason: RecordFailure, message: string) => never): Uint8Array {
  if (layer.length < LAYER_SALT_LEN + LAYER_MAC_LEN + LAYER_PAD_BLOCK || (layer.length - LAYER_SALT_LEN - LAYER_MAC_LEN) % LAYER_PAD_BLOCK !== 0) {
    fail('malformed', 'layer: impossible length')
  }
  const salt = layer.subarray(0, LAYER_SALT_LEN)
  const encrypted = layer.subarray(LAYER_SALT_LEN, layer.length - LAYER_MAC_LEN)
  const got = layer.subarray(layer.length - LAYER_MAC_LEN)
  const k = deriveKeys(p, salt)
  if (!constantTimeEqual(mac(k.macKey, salt, encrypted), got)) fail('decrypt', 'layer: MAC mismatch (wrong key or tampered)')
  const content = unpad(aes256Ctr(k.key, k.iv, encrypted))
  if (content === undefined) fail('padding', 'layer: bad padding')
  return content
}
