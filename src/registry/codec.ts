/**
 * Canonical msgpack for registry records (STYLE.md §1): arrays with a fixed field
 * order, byte strings as `bin`, JSON values as maps with sorted string keys. A decoder
 * re-encodes what it read and refuses anything that does not give back the same bytes,
 * so every record has exactly one encoding (signatures and digests are over bytes that
 * cannot be re-shaped). Numbers whose width would otherwise vary with their value travel
 * as fixed-width big-endian `bin` ({@link fixedUint}), so lengths leak nothing.
 *
 * Pure, no crypto. Every failure throws the error made by the caller's `fail` function.
 */
import { Packr } from 'msgpackr'
import { RegistryCallerError, type RecordFailure } from './errors.ts'

const packr = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number', variableMapSize: true })

/** Throws a typed error; each record kind passes its own. */
export type Fail = (reason: RecordFailure, message: string) => never

export function pack (value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value))
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Unpack exactly one canonical msgpack value from `bytes`, at most `max` bytes long. */
export function unpackCanonical (bytes: Uint8Array, max: number, what: string, fail: Fail): unknown {
  if (!(bytes instanceof Uint8Array)) fail('malformed', `${what}: not bytes`)
  if (bytes.length > max) fail('too-large', `${what}: ${bytes.length} bytes, over ${max}`)
  let v: unknown
  // unpack a copy: msgpackr caches a DataView on the array it reads, which would mutate the caller's bytes
  try { v = packr.unpack(bytes.slice()) } catch { fail('malformed', `${what}: not msgpack`) }
  let again: Uint8Array
  try { again = pack(v) } catch { fail('malformed', `${what}: not re-encodable`) }
  if (!sameBytes(again, bytes)) fail('non-canonical', `${what}: not in canonical form`)
  return v
}

/** Expect an array of exactly `n` fields. */
export function fields (v: unknown, n: number, what: string, fail: Fail): unknown[] {
  if (!Array.isArray(v) || v.length !== n) fail('malformed', `${what}: expected ${n} fields`)
  return v
}

export function bin (v: unknown, what: string, fail: Fail, len?: number, max?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail('malformed', `${what}: expected bytes`)
  if (len !== undefined && v.length !== len) fail('malformed', `${what}: expected ${len} bytes`)
  if (max !== undefined && v.length > max) fail('malformed', `${what}: over ${max} bytes`)
  return new Uint8Array(v)
}

export function uint (v: unknown, what: string, fail: Fail, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) fail('malformed', `${what}: expected an integer in [0, ${max}]`)
  return v
}

export function str (v: unknown, what: string, fail: Fail, max: number, min = 0): string {
  if (typeof v !== 'string' || v.length > max || v.length < min) fail('malformed', `${what}: expected a string of ${min}–${max} characters`)
  return v
}

export function list (v: unknown, what: string, fail: Fail, max: number): unknown[] {
  if (!Array.isArray(v) || v.length > max) fail('malformed', `${what}: expected a list of ≤ ${max}`)
  return v
}

/** An unsigned integer as exactly `len` big-endian bytes (len ≤ 8). */
export function fixedUint (n: number, len: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || (len < 7 && n >= 2 ** (8 * len))) throw new RegistryCallerError(`integer ${n} does not fit ${len} bytes`)
  const out = new Uint8Array(len)
  let x = BigInt(n)
  for (let i = len - 1; i >= 0; i--) { out[i] = Number(x & 0xffn); x >>= 8n }
  return out
}

export function readFixedUint (v: unknown, len: number, what: string, fail: Fail): number {
  const b = bin(v, what, fail, len)
  let x = 0n
  for (const byte of b) x = (x << 8n) | BigInt(byte)
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) fail('malformed', `${what}: out of range`)
  return Number(x)
}

// ---------------------------------------------------------------------------
// JSON values (MCP schemas, annotations) as canonical msgpack
// ---------------------------------------------------------------------------

/** A JSON value as MCP carries it. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

/**
 * Convert a JSON value to its canonical msgpack form: objects become Maps with keys in
 * UTF-16 code-unit order (JavaScript's default sort), so equal values encode equally.
 */
export function jsonToCanonical (v: Json, depth: number, maxDepth: number): unknown {
  if (depth > maxDepth) throw new RegistryCallerError('JSON value nested too deeply')
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RegistryCallerError('JSON numbers must be finite')
    return Object.is(v, -0) ? 0 : v
  }
  if (Array.isArray(v)) return v.map(x => jsonToCanonical(x, depth + 1, maxDepth))
  if (typeof v === 'object') {
    const m = new Map<string, unknown>()
    for (const k of Object.keys(v).sort()) {
      const x = v[k]
      if (x === undefined) continue
      m.set(k, jsonToCanonical(x, depth + 1, maxDepth))
    }
    return m
  }
  throw new RegistryCallerError('not a JSON value')
}

/** The inverse of {@link jsonToCanonical} on decoded msgpack, refusing non-JSON and unsorted keys. */
export function canonicalToJson (v: unknown, depth: number, maxDepth: number, what: string, fail: Fail): Json {
  if (depth > maxDepth) fail('malformed', `${what}: nested too deeply`)
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail('malformed', `${what}: non-finite number`)
    return v
  }
  if (Array.isArray(v)) return v.map(x => canonicalToJson(x, depth + 1, maxDepth, what, fail))
  if (v instanceof Map) {
    const out: { [k: string]: Json } = {}
    let prev: string | undefined
    for (const [k, x] of v) {
      if (typeof k !== 'string') fail('malformed', `${what}: non-string key`)
      if (prev !== undefined && !(prev < k)) fail('non-canonical', `${what}: keys not sorted`)
      prev = k
      Object.defineProperty(out, k, { value: canonicalToJson(x, depth + 1, maxDepth, what, fail), enumerable: true, writable: true, configurable: true })
    }
    return out
  }
  return fail('malformed', `${what}: not a JSON value`)
}
