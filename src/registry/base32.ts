/**
 * RFC 4648 §6 base32, lowercase, without padding — the alphabet of Tor's .onion
 * addresses. Decoding is strict: only lowercase `a–z2–7` (callers lower-case user input
 * first), a length no unpadded encoding can have is refused, and the unused low bits of
 * the last character must be zero, so every byte string has exactly one text form.
 * Pure; throws nothing but {@link InvalidAddressError}.
 */
import { InvalidAddressError } from './errors.ts'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const LOOKUP = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i

export function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(acc >>> bits) & 31]
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31]
  return out
}

/** Lengths mod 8 that an unpadded encoding can have (1, 3 and 6 cannot occur). */
const VALID_TAIL = new Set([0, 2, 4, 5, 7])

export function base32Decode (text: string): Uint8Array {
  if (typeof text !== 'string') throw new InvalidAddressError('malformed', 'base32: not a string')
  if (!VALID_TAIL.has(text.length % 8)) throw new InvalidAddressError('malformed', 'base32: impossible length')
  const out = new Uint8Array(Math.floor(text.length * 5 / 8))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? LOOKUP[c] : -1
    if (v < 0) throw new InvalidAddressError('malformed', 'base32: character outside a-z2-7')
    acc = (acc << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >>> bits) & 0xff
    }
    acc &= (1 << bits) - 1
  }
  if (acc !== 0) throw new InvalidAddressError('non-canonical', 'base32: non-zero trailing bits')
  return out
}
