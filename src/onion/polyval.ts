/**
 * POLYVAL (RFC 8452 §3) with per-key multiplication tables kept in layer state.
 *
 * CGO hashes a whole cell body per layer operation, so POLYVAL is the hot
 * spot: node:crypto has none, and @noble/ciphers' keyed instance wipes its
 * tables on digest. Here a key's tables (2 × 16 entries, 512 bytes) are built
 * once per key; hashing a 2 KB body costs ≈8 µs in plain JS.
 *
 * Field: GF(2^128) mod P(x) = x^128 + x^127 + x^126 + x^121 + 1, elements as
 * 128-bit little-endian integers (byte 0 bit 0 is x^0), so a Uint32Array view
 * of the input gives the words directly on little-endian hosts.
 * POLYVAL(H, X_1..X_n): S_0 = 0, S_j = dot(S_{j-1} ⊕ X_j, H), dot(a, b) = a·b·x^-128.
 * dot(A, H) is computed by Horner in x^-8 over A's bytes, low byte first:
 * Z ← (Z ⊕ lo·H ⊕ hi·x^4·H)·x^-8 for the 16 bytes, which yields A·H·x^-128
 * directly. Reducing a multiplication by x^-8 only touches the top word
 * (x^-1 = x^127+x^126+x^125+x^120), via the shared 256-entry REDUCE8 table.
 *
 * Not constant-time: table lookups indexed by secret-dependent nibbles leak
 * through the cache to a co-resident observer (see docs/protocol.md).
 * It is the universal hash inside CGO and defends against nothing on its own.
 */
import { OnionCallerError, OnionInternalError } from './errors.ts'
import { BLOCK_LEN, POLYVAL_KEY_LEN } from './constants.ts'
import { Redacted } from './primitives.ts'
import { WasmPolyval } from './polyval-wasm.ts'

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** x^-k for k = 1..4 as the top 32-bit word (bits 96..127); the other words are zero. */
const X_INV = [0, 0xe100_0000, 0x7080_0000, 0x3840_0000, 0x1c20_0000]
/** x^-k for k = 1..8: x^-4 has no low bits, so x^-(4+j) = x^-4 >> j. */
function xInverse (k: number): number { return k <= 4 ? X_INV[k] : X_INV[4] >>> (k - 4) }
/** REDUCE8[n] = n(x)·x^-8 for a byte n (top word only). */
const REDUCE8 = Uint32Array.from({ length: 256 }, (_, n) => {
  let v = 0
  for (let b = 0; b < 8; b++) if ((n & (1 << b)) !== 0) v ^= xInverse(8 - b)
  return v >>> 0
})

/** In-place multiplication of a 4-word element by x (mod P). */
function mulX (h: Uint32Array, o: number): void {
  const carry = h[o + 3] >>> 31
  h[o + 3] = (h[o + 3] << 1) | (h[o + 2] >>> 31)
  h[o + 2] = (h[o + 2] << 1) | (h[o + 1] >>> 31)
  h[o + 1] = (h[o + 1] << 1) | (h[o] >>> 31)
  h[o] = h[o] << 1
  if (carry !== 0) { h[o + 3] ^= 0xc200_0000; h[o] ^= 1 } // x^128 = x^127 + x^126 + x^121 + 1
}

/** A POLYVAL key with its tables: lo[4n..] = n(x)·H, hi[4n..] = n(x)·x^4·H. */
export class PolyvalKey extends Redacted {
  readonly lo = new Uint32Array(64)
  readonly hi = new Uint32Array(64)
  constructor (key: Uint8Array) {
    super()
    if (!LITTLE_ENDIAN) throw new OnionInternalError('POLYVAL tables assume a little-endian host')
    this.setKey(key)
  }

  /** Rebuild the tables for `key`, in place (CGO's per-cell key update reuses the memory). */
  setKey (key: Uint8Array): void {
    if (!(key instanceof Uint8Array) || key.length !== POLYVAL_KEY_LEN) throw new OnionCallerError('POLYVAL key must be 16 bytes')
    const { lo, hi } = this
    const h = new Uint32Array(4)
    for (let w = 0; w < 4; w++) h[w] = (key[4 * w] | (key[4 * w + 1] << 8) | (key[4 * w + 2] << 16) | (key[4 * w + 3] << 24)) >>> 0
    for (let bit = 1; bit < 256; bit <<= 1) { // H·x^0 .. H·x^7
      const table = bit < 16 ? lo : hi
      const n = bit < 16 ? bit : bit >>> 4
      table.set(h, 4 * n)
      mulX(h, 0)
    }
    h.fill(0)
    for (const table of [lo, hi]) {
      for (let n = 3; n < 16; n++) {
        if ((n & (n - 1)) === 0) continue
        const low = n & -n; const rest = n ^ low
        for (let w = 0; w < 4; w++) table[4 * n + w] = table[4 * low + w] ^ table[4 * rest + w]
      }
    }
  }

  /** Overwrite the tables. */
  wipe (): void { this.lo.fill(0); this.hi.fill(0) }
}

/**
 * Absorb `nBlocks` 16-byte blocks of `words` (a Uint32Array view, 4 words per
 * block, from word `start`) into the running state `s` (4 words).
 */
export function polyvalBlocks (key: PolyvalKey, s: Uint32Array, words: Uint32Array, start: number, nBlocks: number): void {
  const t = key.lo
  const u = key.hi
  const R = REDUCE8
  let s0 = s[0]; let s1 = s[1]; let s2 = s[2]; let s3 = s[3]
  let p = start
  for (let b = 0; b < nBlocks; b++, p += 4) {
    const a0 = s0 ^ words[p]; const a1 = s1 ^ words[p + 1]; const a2 = s2 ^ words[p + 2]; const a3 = s3 ^ words[p + 3]
    // Sixteen identical byte steps, unrolled (≈12% faster than the loop):
    // Z ^= lo[byte & 15] ^ hi[byte >> 4]; Z = (Z >> 8) ^ REDUCE8[Z & 255].
    let z0 = 0; let z1 = 0; let z2 = 0; let z3 = 0; let i = 0; let j = 0; let r = 0
    // byte 0
    i = (a0 & 15) << 2; j = ((a0 >>> 4) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 1
    i = ((a0 >>> 8) & 15) << 2; j = ((a0 >>> 12) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 2
    i = ((a0 >>> 16) & 15) << 2; j = ((a0 >>> 20) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 3
    i = ((a0 >>> 24) & 15) << 2; j = ((a0 >>> 28) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 4
    i = (a1 & 15) << 2; j = ((a1 >>> 4) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 5
    i = ((a1 >>> 8) & 15) << 2; j = ((a1 >>> 12) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 6
    i = ((a1 >>> 16) & 15) << 2; j = ((a1 >>> 20) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 7
    i = ((a1 >>> 24) & 15) << 2; j = ((a1 >>> 28) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 8
    i = (a2 & 15) << 2; j = ((a2 >>> 4) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 9
    i = ((a2 >>> 8) & 15) << 2; j = ((a2 >>> 12) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 10
    i = ((a2 >>> 16) & 15) << 2; j = ((a2 >>> 20) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 11
    i = ((a2 >>> 24) & 15) << 2; j = ((a2 >>> 28) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 12
    i = (a3 & 15) << 2; j = ((a3 >>> 4) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 13
    i = ((a3 >>> 8) & 15) << 2; j = ((a3 >>> 12) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 14
    i = ((a3 >>> 16) & 15) << 2; j = ((a3 >>> 20) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 15
    i = ((a3 >>> 24) & 15) << 2; j = ((a3 >>> 28) & 15) << 2
    z0 ^= t[i] ^ u[j]; z1 ^= t[i + 1] ^ u[j + 1]; z2 ^= t[i + 2] ^ u[j + 2]; z3 ^= t[i + 3] ^ u[j + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    s0 = z0; s1 = z1; s2 = z2; s3 = z3
  }
  s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3
}

/**
 * A POLYVAL key with one 256-entry table, t[4n..] = n(x)·H for every byte n
 * (4 KiB): one lookup per input byte instead of two. Used where a key hashes a
 * whole cell body (CGO's ET tweak); keys that hash one block keep the 512-byte
 * {@link PolyvalKey}. (The "8-bit" figure in ANCHORS.md — 16 tables, 64 KiB per
 * key — also drops the per-byte reduction but falls out of cache with many
 * circuits; this keeps the shared REDUCE8 step.)
 */
export class PolyvalKey8 extends Redacted {
  readonly t = new Uint32Array(1024)
  constructor (key: Uint8Array) {
    super()
    if (!LITTLE_ENDIAN) throw new OnionInternalError('POLYVAL tables assume a little-endian host')
    this.setKey(key)
  }

  /** Rebuild the table for `key`, in place. */
  setKey (key: Uint8Array): void {
    if (!(key instanceof Uint8Array) || key.length !== POLYVAL_KEY_LEN) throw new OnionCallerError('POLYVAL key must be 16 bytes')
    const t = this.t
    const h = new Uint32Array(4)
    for (let w = 0; w < 4; w++) h[w] = (key[4 * w] | (key[4 * w + 1] << 8) | (key[4 * w + 2] << 16) | (key[4 * w + 3] << 24)) >>> 0
    for (let bit = 1; bit < 256; bit <<= 1) { // H·x^0 .. H·x^7
      t.set(h, 4 * bit)
      mulX(h, 0)
    }
    h.fill(0)
    for (let n = 3; n < 256; n++) {
      if ((n & (n - 1)) === 0) continue
      const low = n & -n; const rest = n ^ low
      const o = 4 * n; const a = 4 * low; const b = 4 * rest
      t[o] = t[a] ^ t[b]; t[o + 1] = t[a + 1] ^ t[b + 1]; t[o + 2] = t[a + 2] ^ t[b + 2]; t[o + 3] = t[a + 3] ^ t[b + 3]
    }
    if (wasm !== undefined && wasm !== null) wasm.refresh(this) // the old key's resident copy must not linger
  }

  /** Overwrite the table (and its WebAssembly copy, if loaded). */
  wipe (): void {
    this.t.fill(0)
    if (wasm !== undefined && wasm !== null) wasm.forget(this)
  }
}

/** The WebAssembly version: undefined until first use, null when unavailable or failing its self-test. */
let wasm: WasmPolyval | null | undefined

function loadWasm (): WasmPolyval | null {
  wasm = null
  try {
    const w = new WasmPolyval(REDUCE8)
    // self-test against the JavaScript version on a fixed key and 130 blocks
    const key = new PolyvalKey8(Uint8Array.from({ length: POLYVAL_KEY_LEN }, (_, i) => (i * 37 + 11) & 255))
    const words = Uint32Array.from({ length: 4 * 130 }, (_, i) => Math.imul(i + 1, 0x9e37_79b9) >>> 0)
    const a = new Uint32Array(4); const b = new Uint32Array(4)
    polyvalBlocks8Js(key, a, words, 0, 130)
    w.blocks(key, b, words, 0, 130)
    w.forget(key)
    if (a.every((v, i) => v === b[i])) wasm = w
  } catch {
    wasm = null
  }
  return wasm
}

/** Copies of every table slot in the WebAssembly module's memory, [] without it (tests: old keys must not linger there). */
export function wasmResidentTables (): Uint32Array[] {
  const w = wasm === undefined ? loadWasm() : wasm
  return w === null ? [] : w.residentTables()
}

/** Which implementation {@link polyvalBlocks8} uses (for benches and tests). */
export function polyvalBackend (): 'wasm' | 'js' {
  return (wasm === undefined ? loadWasm() : wasm) !== null ? 'wasm' : 'js'
}

/** As {@link polyvalBlocks}, with a {@link PolyvalKey8}: WebAssembly when available (polyval-wasm.ts), else {@link polyvalBlocks8Js}. */
export function polyvalBlocks8 (key: PolyvalKey8, s: Uint32Array, words: Uint32Array, start: number, nBlocks: number): void {
  const w = wasm === undefined ? loadWasm() : wasm
  if (w !== null) w.blocks(key, s, words, start, nBlocks)
  else polyvalBlocks8Js(key, s, words, start, nBlocks)
}

/**
 * POLYVAL under `key` of `head` (16 bytes) || `ad` (one byte) || `tail`,
 * zero-padded to `nBlocks` blocks, absorbed into `s`: CGO's ET tweak. With
 * WebAssembly the bytes are written straight into the module's input area
 * (one copy fewer than building them in `scratch` first); otherwise they are
 * built in `scratch` (at least nBlocks × 16 bytes, with its Uint32Array view
 * `scratchWords`) for the JavaScript version.
 */
export function polyvalTweak8 (key: PolyvalKey8, s: Uint32Array, head: Uint8Array, ad: number, tail: Uint8Array, nBlocks: number, scratch: Uint8Array, scratchWords: Uint32Array): void {
  const w = wasm === undefined ? loadWasm() : wasm
  const len = nBlocks * BLOCK_LEN
  const inWasm = w !== null && nBlocks <= w.maxInputBlocks
  const buf = inWasm ? w.input() : scratch
  buf.set(head, 0)
  buf[BLOCK_LEN] = ad
  buf.set(tail, BLOCK_LEN + 1)
  buf.fill(0, BLOCK_LEN + 1 + tail.length, len)
  if (inWasm) w.absorbInput(key, s, nBlocks)
  else polyvalBlocks8Js(key, s, scratchWords, 0, nBlocks)
}

/** The JavaScript version of {@link polyvalBlocks8} (fallback, and reference in tests). */
export function polyvalBlocks8Js (key: PolyvalKey8, s: Uint32Array, words: Uint32Array, start: number, nBlocks: number): void {
  const t = key.t
  const R = REDUCE8
  let s0 = s[0]; let s1 = s[1]; let s2 = s[2]; let s3 = s[3]
  let p = start
  for (let b = 0; b < nBlocks; b++, p += 4) {
    const a0 = s0 ^ words[p]; const a1 = s1 ^ words[p + 1]; const a2 = s2 ^ words[p + 2]; const a3 = s3 ^ words[p + 3]
    // Sixteen identical byte steps, unrolled: Z ^= t[byte]; Z = (Z >> 8) ^ REDUCE8[Z & 255].
    let z0 = 0; let z1 = 0; let z2 = 0; let z3 = 0; let i = 0; let r = 0
    // byte 0
    i = (a0 & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 1
    i = ((a0 >>> 8) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 2
    i = ((a0 >>> 16) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 3
    i = (a0 >>> 24) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 4
    i = (a1 & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 5
    i = ((a1 >>> 8) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 6
    i = ((a1 >>> 16) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 7
    i = (a1 >>> 24) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 8
    i = (a2 & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 9
    i = ((a2 >>> 8) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 10
    i = ((a2 >>> 16) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 11
    i = (a2 >>> 24) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 12
    i = (a3 & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 13
    i = ((a3 >>> 8) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 14
    i = ((a3 >>> 16) & 255) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    // byte 15
    i = (a3 >>> 24) << 2
    z0 ^= t[i]; z1 ^= t[i + 1]; z2 ^= t[i + 2]; z3 ^= t[i + 3]
    r = z0 & 255; z0 = (z0 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z3 << 24); z3 = (z3 >>> 8) ^ R[r]
    s0 = z0; s1 = z1; s2 = z2; s3 = z3
  }
  s[0] = s0; s[1] = s1; s[2] = s2; s[3] = s3
}

/**
 * POLYVAL(key, data) with the last partial block zero-padded (as the polyval
 * crate's update_padded). Convenience form; the CGO hot path calls
 * {@link polyvalBlocks} on a reused, aligned scratch buffer.
 */
export function polyval (key: PolyvalKey, data: Uint8Array): Uint8Array {
  const nBlocks = Math.ceil(data.length / BLOCK_LEN)
  const padded = new Uint8Array(nBlocks * BLOCK_LEN)
  padded.set(data)
  const s = new Uint32Array(4)
  polyvalBlocks(key, s, new Uint32Array(padded.buffer), 0, nBlocks)
  return new Uint8Array(s.buffer)
}
