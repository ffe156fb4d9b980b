/**
 * Every way a secret might show up in text: raw bytes, hex (both cases), base64,
 * base64url, base32 (RFC 4648, both cases, no padding), base58btc, and for Ed25519
 * identities the libp2p protobuf form in each of those encodings (the caller adds it).
 *
 * A secret is searched whole and by its first and last 16-byte windows (a truncated
 * print, `key=3fa1…`): a window's hex is a prefix of the whole hex; for base64 and base32
 * only the characters a window fully determines are used (its last character also
 * depends on the next byte). `findLeaks` searches thousands of secrets at once through a
 * prefix index, scanning text only inside runs of encoding characters.
 */
import { base58btc } from 'multiformats/bases/base58'
import { base32 } from 'multiformats/bases/base32'

/** Bytes per window; also the shortest raw needle. */
const WINDOW = 16
/** Text needles shorter than this are not searched (a 20-character run matches by chance too easily). */
const MIN_TEXT_NEEDLE = 20
/** Index key length: no needle is shorter. */
const PREFIX = 16

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

/** Encodings of a leading window: only the characters the window's bytes fully determine. */
function windowEncodings (w: Uint8Array): string[] {
  const b = Buffer.from(w)
  const b64 = Math.floor(w.length * 8 / 6)
  const b32n = Math.floor(w.length * 8 / 5)
  const b32 = base32.baseEncode(w).slice(0, b32n)
  return [
    b.toString('hex'), b.toString('hex').toUpperCase(),
    b.toString('base64').slice(0, b64), b.toString('base64url').slice(0, b64),
    b32, b32.toUpperCase()
  ]
}

/** The strings whose presence in a text shows the secret. */
export function textNeedles (secret: Uint8Array): string[] {
  const out = new Set(encodings(secret))
  if (secret.length > WINDOW) {
    for (const e of windowEncodings(secret.subarray(0, WINDOW))) out.add(e)
    // the last window: its hex is a suffix of the whole hex, and it may be printed alone
    for (const e of encodings(secret.subarray(secret.length - WINDOW))) out.add(e)
  }
  return [...out].filter(n => n.length >= MIN_TEXT_NEEDLE)
}

/** The byte strings (latin1) whose presence in raw bytes shows the secret. */
function rawNeedles (secret: Uint8Array): string[] {
  const windows = secret.length > WINDOW ? [secret.subarray(0, WINDOW), secret.subarray(secret.length - WINDOW)] : [secret]
  return windows.filter(w => w.length >= PREFIX).map(w => Buffer.from(w).toString('latin1'))
}

/** Where (if anywhere) one secret appears in the haystacks; '' when nowhere. */
export function findSecret (secret: Uint8Array, texts: ReadonlyMap<string, string>, raws: ReadonlyMap<string, Buffer>): string {
  for (const n of rawNeedles(secret)) {
    for (const [name, raw] of raws) if (raw.includes(Buffer.from(n, 'latin1'))) return `${name} (raw)`
  }
  for (const n of textNeedles(secret)) {
    for (const [name, text] of texts) if (text.includes(n)) return `${name} (${n.slice(0, 8)}…)`
  }
  return ''
}

export interface NamedSecret { readonly kind: string, readonly bytes: Uint8Array }

class NeedleIndex {
  readonly #byPrefix = new Map<string, Array<{ needle: string, owner: number }>>()
  add (needle: string, owner: number): void {
    const k = needle.slice(0, PREFIX)
    let list = this.#byPrefix.get(k)
    if (list === undefined) { list = []; this.#byPrefix.set(k, list) }
    list.push({ needle, owner })
  }

  /** Owners of needles found at positions [from, to) of `s`. */
  scan (s: string, from: number, to: number, hit: (owner: number, at: number, needle: string) => void): void {
    for (let i = from; i + PREFIX <= to; i++) {
      const list = this.#byPrefix.get(s.slice(i, i + PREFIX))
      if (list === undefined) continue
      for (const c of list) if (s.startsWith(c.needle, i)) hit(c.owner, i, c.needle)
    }
  }
}

/** Characters of every text encoding searched (hex, base64, base64url, base32, base58). */
const ENCODED_RUN = /[A-Za-z0-9+/_-]{20,}/g

/**
 * Every secret found anywhere, as `kind in where` lines (empty when none leaked). Equivalent
 * to findSecret for each secret, in one pass over each haystack.
 */
export function findLeaks (secrets: readonly NamedSecret[], texts: ReadonlyMap<string, string>, raws: ReadonlyMap<string, Buffer>): string[] {
  const text = new NeedleIndex()
  const raw = new NeedleIndex()
  // first three bytes of raw needles: most positions of a raw haystack are skipped on this
  const rawStart = new Uint8Array(1 << 24)
  secrets.forEach((s, i) => {
    for (const n of textNeedles(s.bytes)) text.add(n, i)
    for (const n of rawNeedles(s.bytes)) {
      raw.add(n, i)
      rawStart[(n.charCodeAt(0) << 16) | (n.charCodeAt(1) << 8) | n.charCodeAt(2)] = 1
    }
  })
  const found = new Map<number, string>()
  const record = (owner: number, where: string): void => { if (!found.has(owner)) found.set(owner, where) }
  for (const [name, buf] of raws) {
    const s = buf.toString('latin1')
    for (let i = 0; i + PREFIX <= buf.length; i++) {
      if (rawStart[(buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]] === 0) continue
      raw.scan(s, i, i + PREFIX, (owner) => { record(owner, `${name} (raw)`) })
    }
  }
  for (const [name, s] of texts) {
    for (const m of s.matchAll(ENCODED_RUN)) {
      text.scan(s, m.index, m.index + m[0].length, (owner, _at, needle) => { record(owner, `${name} (${needle.slice(0, 8)}…)`) })
    }
  }
  return [...found].sort((a, b) => a[0] - b[0]).map(([i, where]) => `${secrets[i].kind} in ${where}`)
}
