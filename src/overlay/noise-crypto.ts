/**
 * The Noise transport's crypto (`@chainsafe/libp2p-noise`'s default) with one
 * change: for messages of ≥ 1200 bytes the default calls node:crypto's
 * `createCipheriv('chacha20-poly1305', key, …)` with the raw session key, and
 * node spends ≈14 µs per call checking that raw key — more than the cipher
 * itself on a 2 KB Veil cell (every link message is one). Here the session key
 * becomes a node:crypto KeyObject once per session (cached by the key array,
 * used only while it holds the same bytes), which brings a call to ≈3 µs.
 * Same algorithm, same bytes on the wire; smaller messages keep the default's
 * WebAssembly path.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

/** The default's own threshold: below it its WebAssembly ChaCha20-Poly1305 is faster. */
const NATIVE_MIN_BYTES = 1200
const TAG_LEN = 16
const ALGORITHM = 'chacha20-poly1305'

const keys = new WeakMap<Uint8Array, { bytes: Uint8Array, key: KeyObject }>()

function keyObject (k: Uint8Array): KeyObject {
  const hit = keys.get(k)
  if (hit !== undefined && hit.bytes.length === k.length && hit.bytes.every((b, i) => b === k[i])) return hit.key
  const key = createSecretKey(k)
  keys.set(k, { bytes: k.slice(), key })
  return key
}

export const veilNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_LEN })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const updated = cipher.update(plaintext.subarray()) // (a list is joined: one copy)
    const final = cipher.final()
    const tag = cipher.getAuthTag()
    return Buffer.concat([updated, final, tag], updated.byteLength + final.byteLength + tag.byteLength)
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const decipher = createDecipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_LEN })
    const whole = ciphertext.subarray()
    const text = whole.subarray(0, whole.length - TAG_LEN)
    decipher.setAAD(ad, { plaintextLength: text.byteLength })
    decipher.setAuthTag(whole.subarray(whole.length - TAG_LEN))
    const output = decipher.update(text)
    const final = decipher.final()
    return final.byteLength > 0 ? Buffer.concat([output, final], output.byteLength + final.byteLength) : output
  }
}
