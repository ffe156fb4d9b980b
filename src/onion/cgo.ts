/**
 * Counter Galois Onion (CGO) relay-cell encryption: Tor proposal 359, as
 * implemented in arti's `tor-proto/src/crypto/cell/cgo.rs` and reproduced here
 * bit for bit (test/vectors/arti-cgo), parameterised by body length and AES
 * key size (arti: 509-byte bodies, AES-128; Veil: CELL_BODY_LEN, AES-256).
 *
 * Layers, inside out:
 * - ET: LRW2 tweakable block cipher on the 16-byte tag,
 *   ET((KB,KU), T, M) = h ⊕ AES(KB, M ⊕ h), h = POLYVAL(KU, T zero-padded).
 * - PRF: keystream CTR(K, POLYVAL(B, T) with the low counter bits cleared),
 *   t = 0 from block 0, t = 1 from block ⌈payload/16⌉ (used for key update).
 * - UIV+: ENC(H, X_L||X_R): Y_L = ET(J, H||X_R, X_L); Y_R = X_R ⊕ PRF(S, Y_L, 0).
 *   UPDATE((J,S), N) = PRF(S, N, 1) split as J' | S' | N'.
 * - One direction of one hop: state (K, N, T'). Relays always run UIV
 *   encryption, clients always decryption. A cell is recognised at the hop
 *   where the decrypted tag equals N; keys and N are then replaced (forward
 *   secrecy per cell), and T' chains every cell to the previous one.
 *
 * Defends against: tagging (UIV+ encryption is non-malleable: a cell modified
 * anywhere is unrecognisable at its target, which destroys the circuit, and the
 * modification tells the attacker nothing); cell reordering or replay within a
 * circuit and direction (T' chaining); later key compromise revealing past
 * cells (per-cell key update at the endpoints).
 * Does not defend against: cache-timing observation of the table-driven
 * POLYVAL (see docs/protocol.md; AES is node:crypto's AES-NI), traffic analysis.
 */
import { AesBlockCipher, AesEcbKeystream, Redacted, constantTimeEqual, wipe } from './primitives.ts'
import { PolyvalKey, PolyvalKey8, polyvalBlocks, polyvalTweak8 } from './polyval.ts'
import { OnionCallerError } from './errors.ts'
import { ARTI_CELL_BODY_LEN, ARTI_CGO_AES_KEY_LEN, BLOCK_LEN, CELL_BODY_LEN, CGO_AES_KEY_LEN, CGO_NONCE_LEN, CGO_TAG_LEN, POLYVAL_KEY_LEN } from './constants.ts'

/** The two free parameters of a CGO instance. */
export interface CgoParams {
  /** Relay cell body length: 16-byte tag + payload. */
  readonly bodyLen: number
  /** AES key length: 16 (arti vectors) or 32 (Veil). */
  readonly aesKeyLen: 16 | 32
}

/** Veil's CGO: CELL_BODY_LEN bodies, AES-256. */
export const VEIL_CGO_PARAMS: CgoParams = Object.freeze({ bodyLen: CELL_BODY_LEN, aesKeyLen: CGO_AES_KEY_LEN })
/** arti's test-vector CGO: 509-byte bodies, AES-128. */
export const ARTI_CGO_PARAMS: CgoParams = Object.freeze({ bodyLen: ARTI_CELL_BODY_LEN, aesKeyLen: ARTI_CGO_AES_KEY_LEN })

/** Every size derived from {@link CgoParams}, plus shared scratch buffers (single-threaded use). */
export interface CgoLayout extends CgoParams {
  readonly payloadLen: number
  /** ET and PRF keys: AES key || POLYVAL key. */
  readonly etKeyLen: number
  readonly prfKeyLen: number
  /** UIV keys J || S. */
  readonly uivKeyLen: number
  /** One direction's seed: UIV keys || N. */
  readonly stateSeedLen: number
  /** Keystream blocks for t = 0 (covers the payload). */
  readonly n0Blocks: number
  /** First keystream block for t = 1 (arti: 31). */
  readonly n1Block: number
  /** Bytes of t = 1 keystream consumed by UPDATE (new keys and nonce). */
  readonly n1Len: number
  /** Blocks of t = 0 and t = 1 keystream together: n1Block follows the last t = 0 block, so one call yields both. */
  readonly totalBlocks: number
  /** Mask for the last counter byte: clears enough low bits that the counter never carries out of it. */
  readonly counterMask: number
  /** POLYVAL blocks in the ET tweak T'||AD||X_R, zero-padded. */
  readonly tweakBlocks: number
  readonly scratch: { tweak: Uint8Array, tweakWords: Uint32Array, counters: Uint8Array, block: Uint8Array, blockWords: Uint32Array, hash: Uint32Array, hashBytes: Uint8Array, blockIn: Buffer }
}

const layouts = new Map<string, CgoLayout>()

/** The layout for `params` (cached; validates the parameters). */
export function cgoLayout (params: CgoParams): CgoLayout {
  const id = `${params.bodyLen}/${params.aesKeyLen}`
  const cached = layouts.get(id)
  if (cached !== undefined) return cached
  const { bodyLen, aesKeyLen } = params
  if (aesKeyLen !== 16 && aesKeyLen !== 32) throw new OnionCallerError('CGO AES key length must be 16 or 32')
  if (!Number.isInteger(bodyLen) || bodyLen <= CGO_TAG_LEN + 1) throw new OnionCallerError('CGO body too short')
  const payloadLen = bodyLen - CGO_TAG_LEN
  const etKeyLen = aesKeyLen + POLYVAL_KEY_LEN
  const prfKeyLen = aesKeyLen + POLYVAL_KEY_LEN
  const uivKeyLen = etKeyLen + prfKeyLen
  const n0Blocks = Math.ceil(payloadLen / BLOCK_LEN)
  const n1Block = n0Blocks
  const n1Len = uivKeyLen + CGO_NONCE_LEN
  const totalBlocks = n1Block + Math.ceil(n1Len / BLOCK_LEN)
  const counterBits = Math.ceil(Math.log2(totalBlocks))
  if (counterBits > 8) throw new OnionCallerError('CGO body too long: counter would carry past the last byte')
  const counterMask = (0xff << counterBits) & 0xff
  const tweakBlocks = Math.ceil((CGO_TAG_LEN + 1 + payloadLen) / BLOCK_LEN)
  const tweak = new Uint8Array(tweakBlocks * BLOCK_LEN)
  const block = new Uint8Array(BLOCK_LEN)
  const hash = new Uint32Array(4)
  const layout: CgoLayout = Object.freeze({
    bodyLen, aesKeyLen, payloadLen, etKeyLen, prfKeyLen, uivKeyLen, stateSeedLen: uivKeyLen + CGO_NONCE_LEN,
    n0Blocks, n1Block, n1Len, totalBlocks, counterMask, tweakBlocks,
    scratch: {
      tweak,
      tweakWords: new Uint32Array(tweak.buffer),
      counters: new Uint8Array(totalBlocks * BLOCK_LEN),
      block,
      blockWords: new Uint32Array(block.buffer),
      hash,
      hashBytes: new Uint8Array(hash.buffer),
      blockIn: Buffer.alloc(BLOCK_LEN)
    }
  })
  layouts.set(id, layout)
  return layout
}

function checkBody (layout: CgoLayout, body: Uint8Array): void {
  if (!(body instanceof Uint8Array) || body.length !== layout.bodyLen) {
    throw new OnionCallerError(`CGO cell body must be ${layout.bodyLen} bytes`)
  }
}

function checkAd (ad: number): void {
  if (!Number.isInteger(ad) || ad < 0 || ad > 255) throw new OnionCallerError('CGO AD must be one byte')
}

// ---------------------------------------------------------------------------
// ET: tweakable block cipher
// ---------------------------------------------------------------------------

/** ET with keys KB (AES) || KU (POLYVAL). */
export class EtCipher extends Redacted {
  readonly #layout: CgoLayout
  readonly #dirs: 'encrypt' | 'decrypt' | 'both'
  /** KB as node:crypto contexts (undefined once wiped: OpenSSL's copy is freed when they are collected). */
  #kb: AesBlockCipher | undefined
  /** KU hashes a whole body per operation: the one-lookup-per-byte table. */
  readonly #ku: PolyvalKey8
  constructor (layout: CgoLayout, keys: Uint8Array, dirs: 'encrypt' | 'decrypt' | 'both') {
    super()
    if (!(keys instanceof Uint8Array) || keys.length !== layout.etKeyLen) throw new OnionCallerError(`ET keys must be ${layout.etKeyLen} bytes`)
    this.#layout = layout
    this.#dirs = dirs
    this.#kb = new AesBlockCipher(keys.subarray(0, layout.aesKeyLen), dirs)
    this.#ku = new PolyvalKey8(keys.subarray(layout.aesKeyLen))
  }

  /** Replace the keys (the POLYVAL table is rebuilt in place). */
  rekey (keys: Uint8Array): void {
    if (!(keys instanceof Uint8Array) || keys.length !== this.#layout.etKeyLen) throw new OnionCallerError(`ET keys must be ${this.#layout.etKeyLen} bytes`)
    this.#kb = new AesBlockCipher(keys.subarray(0, this.#layout.aesKeyLen), this.#dirs)
    this.#ku.setKey(keys.subarray(this.#layout.aesKeyLen))
  }

  /** h = POLYVAL(KU, tag || ad || right, zero-padded), left in scratch.hash (and its byte view scratch.hashBytes). */
  #hash (tag: Uint8Array, ad: number, right: Uint8Array): void {
    const { tweak, tweakWords, hash } = this.#layout.scratch
    hash.fill(0)
    polyvalTweak8(this.#ku, hash, tag, ad, right, this.#layout.tweakBlocks, tweak, tweakWords)
  }

  /** Encrypt (or decrypt) the 16-byte `block` in place, with tweak tag || ad || right. */
  crypt (encrypt: boolean, tag: Uint8Array, ad: number, right: Uint8Array, block: Uint8Array): void {
    const kb = this.#kb
    if (kb === undefined) throw new OnionCallerError('ET keys were wiped')
    if (this.#dirs !== 'both' && (this.#dirs === 'encrypt') !== encrypt) throw new OnionCallerError(`this ET was set up to ${this.#dirs} only`)
    this.#hash(tag, ad, right)
    const { blockIn, hashBytes: hb } = this.#layout.scratch
    for (let i = 0; i < BLOCK_LEN; i++) blockIn[i] = block[i] ^ hb[i]
    const out = kb.block(encrypt, blockIn)
    for (let i = 0; i < BLOCK_LEN; i++) block[i] = out[i] ^ hb[i]
    out.fill(0)
    blockIn.fill(0)
    hb.fill(0)
  }

  wipe (): void { this.#kb = undefined; this.#ku.wipe() }
}

/** data ^= ks (ks at least as long as data). */
function xorInto (data: Uint8Array, ks: Uint8Array): void {
  let i = 0
  if (((data.byteOffset | ks.byteOffset) & 7) === 0) {
    // aligned: XOR 64 bits at a time (V8 compiles BigUint64Array XOR to plain 64-bit
    // operations; measured faster than fresh Uint32Array views)
    const n = data.length >>> 3
    const dw = new BigUint64Array(data.buffer, data.byteOffset, n)
    const kw = new BigUint64Array(ks.buffer, ks.byteOffset, n)
    for (let j = 0; j < n; j++) dw[j] ^= kw[j]
    i = n << 3
  }
  for (; i < data.length; i++) data[i] ^= ks[i]
}

// ---------------------------------------------------------------------------
// PRF: tweakable keystream
// ---------------------------------------------------------------------------

/** PRF with keys K (AES-CTR) || B (POLYVAL). One kept AES context per key. */
export class Prf extends Redacted {
  readonly #layout: CgoLayout
  /** K as a node:crypto context (undefined once wiped: OpenSSL's copy is freed when it is collected). */
  #k: AesEcbKeystream | undefined
  /** B hashes one block per operation: the small 4-bit tables. */
  readonly #b: PolyvalKey
  constructor (layout: CgoLayout, keys: Uint8Array) {
    super()
    if (!(keys instanceof Uint8Array) || keys.length !== layout.prfKeyLen) throw new OnionCallerError(`PRF keys must be ${layout.prfKeyLen} bytes`)
    this.#layout = layout
    this.#k = new AesEcbKeystream(keys.subarray(0, layout.aesKeyLen))
    this.#b = new PolyvalKey(keys.subarray(layout.aesKeyLen))
  }

  /** Replace the keys: a new AES context (node:crypto cannot rekey one), the POLYVAL tables rebuilt in place. */
  rekey (keys: Uint8Array): void {
    if (!(keys instanceof Uint8Array) || keys.length !== this.#layout.prfKeyLen) throw new OnionCallerError(`PRF keys must be ${this.#layout.prfKeyLen} bytes`)
    this.#k = new AesEcbKeystream(keys.subarray(0, this.#layout.aesKeyLen))
    this.#b.setKey(keys.subarray(this.#layout.aesKeyLen))
  }

  /** Keystream blocks `first` .. `first + nBlocks - 1` for `tweak` (16 bytes), in one AES call. */
  #blocks (tweak: Uint8Array, first: number, nBlocks: number): Uint8Array {
    const k = this.#k
    if (k === undefined) throw new OnionCallerError('PRF keys were wiped')
    const layout = this.#layout
    const { counters, block, blockWords, hash, hashBytes: c } = layout.scratch
    block.set(tweak.subarray(0, BLOCK_LEN))
    hash.fill(0)
    polyvalBlocks(this.#b, hash, blockWords, 0, 1)
    const base = c[BLOCK_LEN - 1] & layout.counterMask
    const len = nBlocks * BLOCK_LEN
    // All counter blocks share the first 15 bytes: write one, double it, then set each last byte.
    counters.set(c, 0)
    for (let filled = BLOCK_LEN; filled < len; filled *= 2) counters.copyWithin(filled, 0, Math.min(filled, len - filled))
    for (let i = 0; i < nBlocks; i++) counters[i * BLOCK_LEN + BLOCK_LEN - 1] = base | (first + i)
    const out = k.encryptBlocks(counters.subarray(0, len))
    counters.fill(0, 0, len)
    block.fill(0)
    hash.fill(0)
    return out
  }

  /** `len` bytes of keystream for `tweak` (16 bytes), starting at block 0 (t = 0) or n1Block (t = 1). Known-answer tests and {@link Uiv.update} only: cells take theirs from {@link xorN0} / {@link xorN0WithSeed}. */
  keystream (tweak: Uint8Array, t: 0 | 1, len: number): Uint8Array {
    const out = this.#blocks(tweak, t === 0 ? 0 : this.#layout.n1Block, Math.ceil(len / BLOCK_LEN))
    // A plain Uint8Array view: Buffer#slice would alias instead of copying.
    return new Uint8Array(out.buffer, out.byteOffset, len)
  }

  /** data ^= PRF(tweak, t = 0). */
  xorN0 (tweak: Uint8Array, data: Uint8Array): void {
    const ks = this.#blocks(tweak, 0, Math.ceil(data.length / BLOCK_LEN))
    xorInto(data, ks)
    ks.fill(0)
  }

  /**
   * data ^= PRF(tweak, t = 0), and return PRF(tweak, t = 1)'s first n1Len bytes
   * (UPDATE's seed for the same tweak) from the same AES call: the t = 1 blocks
   * follow the t = 0 ones. `data` is the whole payload.
   */
  xorN0WithSeed (tweak: Uint8Array, data: Uint8Array): Uint8Array {
    const layout = this.#layout
    const ks = this.#blocks(tweak, 0, layout.totalBlocks)
    xorInto(data, ks.subarray(0, data.length))
    const from = layout.n1Block * BLOCK_LEN
    const seed = new Uint8Array(ks.subarray(from, from + layout.n1Len))
    ks.fill(0)
    return seed
  }

  wipe (): void { this.#k = undefined; this.#b.wipe() }
}

// ---------------------------------------------------------------------------
// UIV+: wide-block tweakable cipher
// ---------------------------------------------------------------------------

/** Which ET direction a UIV instance needs: relays encrypt, clients decrypt. */
export type UivRole = 'relay' | 'client' | 'both'

/** UIV+ with keys J (ET) || S (PRF). */
export class Uiv extends Redacted {
  readonly #layout: CgoLayout
  readonly #role: UivRole
  readonly #j: EtCipher
  readonly #s: Prf
  /** Copy of the current key material J || S (tests compare it with arti's vectors). */
  readonly #keys: Uint8Array
  constructor (layout: CgoLayout, keys: Uint8Array, role: UivRole) {
    super()
    if (!(keys instanceof Uint8Array) || keys.length !== layout.uivKeyLen) throw new OnionCallerError(`UIV keys must be ${layout.uivKeyLen} bytes`)
    this.#layout = layout
    this.#role = role
    this.#keys = keys.slice()
    this.#j = new EtCipher(layout, keys.subarray(0, layout.etKeyLen), role === 'relay' ? 'encrypt' : role === 'client' ? 'decrypt' : 'both')
    this.#s = new Prf(layout, keys.subarray(layout.etKeyLen))
  }

  /** The current keys J || S (a copy). Secret: for known-answer tests only. */
  exportKeys (): Uint8Array { return this.#keys.slice() }

  /** ENC_UIV(H = tag || ad, body) in place. Relay direction. */
  encrypt (tag: Uint8Array, ad: number, body: Uint8Array): void {
    checkBody(this.#layout, body)
    const left = body.subarray(0, CGO_TAG_LEN)
    const right = body.subarray(CGO_TAG_LEN)
    this.#j.crypt(true, tag, ad, right, left)
    this.#s.xorN0(left, right)
  }

  /** DEC_UIV(H = tag || ad, body) in place. Client direction. */
  decrypt (tag: Uint8Array, ad: number, body: Uint8Array): void {
    checkBody(this.#layout, body)
    if (this.#role === 'relay') throw new OnionCallerError('relay-side UIV cannot decrypt')
    const left = body.subarray(0, CGO_TAG_LEN)
    const right = body.subarray(CGO_TAG_LEN)
    this.#s.xorN0(left, right)
    this.#j.crypt(false, tag, ad, right, left)
  }

  /** UPDATE_UIV on its own: replace (J, S) and `nonce` (in place) with PRF(S, nonce, 1). Known-answer tests only: the state classes update through {@link encryptUpdating} / {@link decryptUpdating}, from the cell's own AES call. */
  update (nonce: Uint8Array): void {
    const seed = this.#s.keystream(nonce, 1, this.#layout.n1Len)
    this.#applySeed(seed, nonce)
  }

  /**
   * ENC_UIV in place, then UPDATE_UIV with N = the new left part Y_L when
   * `nonce` is undefined (originating) or when Y_L equals `nonce` (recognising);
   * the update's PRF(S, Y_L, 1) comes from the same AES call as PRF(S, Y_L, 0).
   * On update `out` receives the new nonce. Returns whether it updated.
   */
  encryptUpdating (tag: Uint8Array, ad: number, body: Uint8Array, nonce: Uint8Array | undefined, out: Uint8Array): boolean {
    checkBody(this.#layout, body)
    const left = body.subarray(0, CGO_TAG_LEN)
    const right = body.subarray(CGO_TAG_LEN)
    this.#j.crypt(true, tag, ad, right, left)
    if (nonce !== undefined && !constantTimeEqual(left, nonce)) {
      this.#s.xorN0(left, right)
      return false
    }
    const seed = this.#s.xorN0WithSeed(left, right)
    this.#applySeed(seed, out)
    return true
  }

  /**
   * DEC_UIV in place, then UPDATE_UIV with N = the incoming left part Y_L when
   * `nonce` is undefined (originating) or when the decrypted left part equals
   * `nonce` (recognising), from the same AES call as the t = 0 keystream. On
   * update `out` receives the new nonce. Returns whether it updated.
   */
  decryptUpdating (tag: Uint8Array, ad: number, body: Uint8Array, nonce: Uint8Array | undefined, out: Uint8Array): boolean {
    checkBody(this.#layout, body)
    if (this.#role === 'relay') throw new OnionCallerError('relay-side UIV cannot decrypt')
    const left = body.subarray(0, CGO_TAG_LEN)
    const right = body.subarray(CGO_TAG_LEN)
    const seed = this.#s.xorN0WithSeed(left, right) // tweak: Y_L, before ET replaces it
    this.#j.crypt(false, tag, ad, right, left)
    const update = nonce === undefined || constantTimeEqual(left, nonce)
    if (update) this.#applySeed(seed, out)
    else seed.fill(0)
    return update
  }

  /** Install UPDATE's output: J' | S' as the keys, N' into `nonce`. */
  #applySeed (seed: Uint8Array, nonce: Uint8Array): void {
    const layout = this.#layout
    this.#keys.set(seed.subarray(0, layout.uivKeyLen))
    this.#j.rekey(this.#keys.subarray(0, layout.etKeyLen))
    this.#s.rekey(this.#keys.subarray(layout.etKeyLen))
    nonce.set(seed.subarray(layout.uivKeyLen, layout.n1Len))
    seed.fill(0)
  }

  wipe (): void { this.#j.wipe(); this.#s.wipe(); wipe(this.#keys) }
}

// ---------------------------------------------------------------------------
// One direction of one hop
// ---------------------------------------------------------------------------

/** CGO state of one direction of one hop: keys K, nonce N, previous tag T'. */
export class CgoState extends Redacted {
  readonly layout: CgoLayout
  readonly uiv: Uiv
  /** N: the tag value that marks a cell as recognised here. */
  readonly nonce: Uint8Array
  /** T': the tag of the previous cell in this direction (zero at start). */
  readonly tag: Uint8Array
  constructor (layout: CgoLayout, seed: Uint8Array, role: UivRole) {
    super()
    if (!(seed instanceof Uint8Array) || seed.length !== layout.stateSeedLen) throw new OnionCallerError(`CGO state seed must be ${layout.stateSeedLen} bytes`)
    this.layout = layout
    this.uiv = new Uiv(layout, seed.subarray(0, layout.uivKeyLen), role)
    this.nonce = seed.slice(layout.uivKeyLen)
    this.tag = new Uint8Array(CGO_TAG_LEN)
  }

  wipe (): void { this.uiv.wipe(); wipe(this.nonce); wipe(this.tag) }
}

/** Relay, away from the client: decrypt one layer; true when the cell is for this hop. */
export class RelayOutbound extends Redacted {
  readonly state: CgoState
  constructor (state: CgoState) { super(); this.state = state }

  /** Process a cell travelling away from the client. Returns true if recognised here (then the keys update). */
  decryptOutbound (ad: number, body: Uint8Array): boolean {
    checkAd(ad)
    const s = this.state
    const recognised = s.uiv.encryptUpdating(s.tag, ad, body, s.nonce, s.nonce)
    s.tag.set(body.subarray(0, CGO_TAG_LEN))
    return recognised
  }
}

/** Relay, toward the client: add this hop's layer, or originate a cell. */
export class RelayInbound extends Redacted {
  readonly state: CgoState
  constructor (state: CgoState) { super(); this.state = state }

  /** Add this hop's layer to a cell travelling toward the client. */
  encryptInbound (ad: number, body: Uint8Array): void {
    checkAd(ad)
    const s = this.state
    s.uiv.encrypt(s.tag, ad, body)
    s.tag.set(body.subarray(0, CGO_TAG_LEN))
  }

  /** Originate a cell toward the client: body = N || payload, then encrypt and update keys. Returns the new tag. */
  originate (ad: number, body: Uint8Array): Uint8Array {
    checkAd(ad)
    const s = this.state
    checkBody(s.layout, body)
    body.set(s.nonce, 0)
    s.uiv.encryptUpdating(s.tag, ad, body, undefined, s.nonce)
    s.tag.set(body.subarray(0, CGO_TAG_LEN))
    return s.tag.slice()
  }
}

/** Client, away from the client: one layer per hop. */
export class ClientOutbound extends Redacted {
  readonly state: CgoState
  constructor (state: CgoState) { super(); this.state = state }

  /** Make this hop the cell's target: body = N || payload, then decrypt and update keys. Returns the new tag. */
  originateFor (ad: number, body: Uint8Array): Uint8Array {
    checkAd(ad)
    const s = this.state
    checkBody(s.layout, body)
    body.set(s.nonce, 0)
    const newTag = body.slice(0, CGO_TAG_LEN)
    s.uiv.decryptUpdating(s.tag, ad, body, undefined, s.nonce)
    s.tag.set(newTag)
    return s.tag.slice()
  }

  /** Add this hop's layer (client side uses UIV decryption). */
  encryptOutbound (ad: number, body: Uint8Array): void {
    checkAd(ad)
    const s = this.state
    const newTag = body.slice(0, CGO_TAG_LEN)
    s.uiv.decrypt(s.tag, ad, body)
    s.tag.set(newTag)
  }
}

/** Client, toward the client: remove one hop's layer. */
export class ClientInbound extends Redacted {
  readonly state: CgoState
  constructor (state: CgoState) { super(); this.state = state }

  /** Remove this hop's layer; true when the cell originated at this hop (then the keys update). */
  decryptInbound (ad: number, body: Uint8Array): boolean {
    checkAd(ad)
    const s = this.state
    const original = body.slice(0, CGO_TAG_LEN)
    const recognised = s.uiv.decryptUpdating(s.tag, ad, body, s.nonce, s.nonce)
    s.tag.set(original)
    return recognised
  }
}

// ---------------------------------------------------------------------------
// Whole circuits, client side
// ---------------------------------------------------------------------------

/** Client: encrypt `body` (payload in bytes 16..) for hop `target` (0-based) through `layers` (hop 0 first). */
export function clientEncryptOutbound (layers: readonly ClientOutbound[], target: number, ad: number, body: Uint8Array): void {
  if (!Number.isInteger(target) || target < 0 || target >= layers.length) throw new OnionCallerError('no such hop')
  layers[target].originateFor(ad, body)
  for (let i = target - 1; i >= 0; i--) layers[i].encryptOutbound(ad, body)
}

/**
 * Client: peel layers from hop 0 outward until one recognises the cell.
 * Returns the 0-based hop that sent it, or -1 if no hop does: the cell was
 * modified (or reordered) and the circuit must be destroyed.
 */
export function clientDecryptInbound (layers: readonly ClientInbound[], ad: number, body: Uint8Array): number {
  for (let i = 0; i < layers.length; i++) {
    if (layers[i].decryptInbound(ad, body)) return i
  }
  return -1
}

/** Both directions of one hop, as built from the handshake's session keys. */
export interface CgoHopKeys { readonly forward: Uint8Array, readonly backward: Uint8Array }

/** The relay's two layers for one circuit. */
export function relayLayer (layout: CgoLayout, keys: CgoHopKeys): { outbound: RelayOutbound, inbound: RelayInbound } {
  return {
    outbound: new RelayOutbound(new CgoState(layout, keys.forward, 'relay')),
    inbound: new RelayInbound(new CgoState(layout, keys.backward, 'relay'))
  }
}

/** The client's two layers for one hop. */
export function clientLayer (layout: CgoLayout, keys: CgoHopKeys): { outbound: ClientOutbound, inbound: ClientInbound } {
  return {
    outbound: new ClientOutbound(new CgoState(layout, keys.forward, 'client')),
    inbound: new ClientInbound(new CgoState(layout, keys.backward, 'client'))
  }
}
