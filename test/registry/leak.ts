/**
 * assertNoLeak(haystack, secrets): fail if any secret appears in the haystack bytes in a
 * form a test can check — raw bytes, hex (lower and upper case), base32 (RFC 4648, lower
 * and upper case, padded or not), base64 and base64url — at any byte alignment of the
 * encodings that depend on it (a secret embedded inside a longer encoded string shifts
 * its text by its offset mod 3 (base64) or mod 5 (base32)). Strings are checked as their
 * UTF-8 bytes and in the same encodings. Reused by the network tests (issue 5).
 */
import { base32Encode } from '../../src/registry/base32.ts'

export type Secret = Uint8Array | string | { readonly label: string, readonly value: Uint8Array | string }

function bytesOf (s: Uint8Array | string): Uint8Array { return typeof s === 'string' ? new TextEncoder().encode(s) : s }

function indexOf (hay: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return 0
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength))
}

/** Encodings of `b` that would appear in a longer encoded text containing `b` at any offset. */
export function encodingsOf (raw: Uint8Array): Array<{ name: string, bytes: Uint8Array }> {
  const out: Array<{ name: string, bytes: Uint8Array }> = [{ name: 'raw', bytes: raw }]
  const hex = Buffer.from(raw).toString('hex')
  out.push({ name: 'hex', bytes: bytesOf(hex) }, { name: 'HEX', bytes: bytesOf(hex.toUpperCase()) })
  // shifted encodings: prefix k filler bytes, encode, drop the characters the filler touches
  for (let k = 0; k < 3; k++) {
    const shifted = new Uint8Array(k + raw.length); shifted.set(raw, k)
    const skip = Math.ceil(k * 4 / 3)
    const keep = Math.floor((k + raw.length) / 3) * 4
    for (const alphabet of ['base64', 'base64url'] as const) {
      const t = Buffer.from(shifted).toString(alphabet).slice(skip, keep)
      if (t.length >= 8) out.push({ name: `${alphabet}+${k}`, bytes: bytesOf(t) })
    }
  }
  for (let k = 0; k < 5; k++) {
    const shifted = new Uint8Array(k + raw.length); shifted.set(raw, k)
    const skip = Math.ceil(k * 8 / 5)
    const keep = Math.floor((k + raw.length) / 5) * 8
    const t = base32Encode(shifted).slice(skip, keep)
    if (t.length >= 8) out.push({ name: `base32+${k}`, bytes: bytesOf(t) }, { name: `BASE32+${k}`, bytes: bytesOf(t.toUpperCase()) })
  }
  return out
}

/** Throws (with the secret's label and the encoding found) if any secret leaks into `haystack`. */
export function assertNoLeak (haystack: Uint8Array | Uint8Array[], secrets: readonly Secret[]): void {
  const hays = Array.isArray(haystack) ? haystack : [haystack]
  secrets.forEach((s, i) => {
    const label = typeof s === 'object' && !(s instanceof Uint8Array) ? s.label : `secret #${i}`
    const value = typeof s === 'object' && !(s instanceof Uint8Array) ? s.value : s
    const raw = bytesOf(value)
    if (raw.length < 4) throw new Error(`assertNoLeak: ${label} is too short to check meaningfully`)
    const variants = encodingsOf(raw)
    if (typeof value === 'string') {
      variants.push({ name: 'upper', bytes: bytesOf(value.toUpperCase()) }, { name: 'lower', bytes: bytesOf(value.toLowerCase()) })
    }
    for (const [h, hay] of hays.entries()) {
      for (const v of variants) {
        const at = indexOf(hay, v.bytes)
        if (at >= 0) throw new Error(`leak: ${label} found as ${v.name} in haystack #${h} at byte ${at}`)
      }
    }
  })
}
