/**
 * Every way a secret might show up in text: raw bytes, hex (both cases), base64,
 * base64url, base32 (RFC 4648, both cases, no padding), base58btc, and for Ed25519
 * identities the libp2p protobuf form in each of those encodings.
 */
import { base58btc } from 'multiformats/bases/base58'
import { base32 } from 'multiformats/bases/base32'

export function encodings (secret: Uint8Array): string[] {
  const b = Buffer.from(secret)
  const b32 = base32.baseEncode(secret)
  return [
    b.toString('hex'), b.toString('hex').toUpperCase(),
    b.toString('base64').replace(/=+$/, ''), b.toString('base64url'),
    b32, b32.toUpperCase(),
    base58btc.baseEncode(secret)
  ]
}

/** Where (if anywhere) a secret appears in the haystacks; '' when nowhere. */
export function findSecret (secret: Uint8Array, texts: ReadonlyMap<string, string>, raws: ReadonlyMap<string, Buffer>): string {
  // a 16-byte window is enough to identify any of our secrets and catches truncated prints
  const windows = secret.length > 16 ? [secret.subarray(0, 16), secret.subarray(secret.length - 16)] : [secret]
  for (const w of windows) {
    for (const [name, raw] of raws) if (raw.includes(Buffer.from(w))) return `${name} (raw)`
    for (const e of encodings(w)) {
      // encodings of a window are prefixes only for hex; for the others search the full secret's encodings too
      for (const [name, text] of texts) if (e.length >= 20 && text.includes(e)) return `${name} (${e.slice(0, 8)}…)`
    }
  }
  for (const e of encodings(secret)) {
    for (const [name, text] of texts) if (text.includes(e)) return `${name} (${e.slice(0, 8)}…)`
  }
  return ''
}
