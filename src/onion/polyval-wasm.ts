/**
 * POLYVAL's hot loop in WebAssembly: the same algorithm as `polyvalBlocks8` in
 * polyval.ts (one 256-entry table per key, Horner in x^-8 with the shared
 * REDUCE8 step), on two 64-bit halves instead of four 32-bit words. Measured
 * here ≈4.3 µs per 2 KB body against ≈8 µs for the JavaScript version.
 *
 * There is no toolchain in this project, so the module is assembled at first
 * use by the small emitter below (≈1.3 KB of bytecode: one exported function
 * and one exported page of memory), from a readable listing. Nothing runs at
 * import time. If WebAssembly is unavailable, or the module fails its self-test
 * against the JavaScript version, callers fall back to JavaScript.
 *
 * A 128-bit SIMD version of the same loop (Z in one v128, Z·x^-8 as a
 * one-byte lane shuffle, table bytes picked with extract_lane) measured slower
 * here (≈7.4 µs against ≈3.8 µs per 2 KB), so only the scalar one is built.
 *
 * Memory (1 + TABLE_PAGES pages of 64 KiB):
 * ```
 *  0       2048    REDUCE8 as i64 (each value in the top 32 bits)
 *  2048    2064    running state S (16 bytes)
 *  2064    65536   input blocks
 *  65536   …       TABLE_SLOTS (64) resident key tables, 4 KiB each, 16 per page
 * ```
 * The function `polyval(dataOffset, nBlocks, tableOffset)` absorbs nBlocks
 * 16-byte blocks into S under the table at tableOffset. The tables of the last
 * TABLE_SLOTS keys loaded stay resident (slots are reused first in, first out),
 * so a process alternating between a few dozen layers copies no table per
 * cell. A key's slot is rewritten when the key changes ({@link WasmPolyval.refresh})
 * and cleared when it is wiped ({@link WasmPolyval.forget}), so no old key's
 * table outlives it there. Callers may also write their input straight into the
 * input area ({@link WasmPolyval.input}) and save a copy.
 *
 * Not constant-time, like the JavaScript version (table lookups by secret bytes).
 */

const R64_OFF = 0
const S_OFF = 2048
const D_OFF = 2064
const PAGE = 65536
const TABLE_BYTES = 4096
/** Resident key tables: 16 per page. */
const TABLES_PER_PAGE = PAGE / TABLE_BYTES
const TABLE_PAGES = 4
const TABLE_SLOTS = TABLE_PAGES * TABLES_PER_PAGE
/** Most blocks one call can take (the rest of the first page). */
const MAX_BLOCKS = Math.floor((PAGE - D_OFF) / 16)

// ---------------------------------------------------------------------------
// A minimal WebAssembly emitter: just what the listing below uses.
// ---------------------------------------------------------------------------

const uleb = (n: number): number[] => { const o: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n !== 0) b |= 0x80; o.push(b) } while (n !== 0); return o }
const sleb = (n: number): number[] => {
  const o: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>= 7
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { o.push(b); return o }
    o.push(b | 0x80)
  }
}
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]
const name = (s: string): number[] => [...uleb(s.length), ...[...s].map(c => c.charCodeAt(0))]

/** Opcodes (WebAssembly core spec §5.4). */
const Op = Object.freeze({
  localGet: 0x20, localSet: 0x21, localTee: 0x22, i32Const: 0x41, i64Const: 0x42, i64Load: 0x29, i64Store: 0x37,
  i32WrapI64: 0xa7, i32And: 0x71, i32Shl: 0x74, i32Add: 0x6a, i32GeU: 0x4f,
  i64Xor: 0x85, i64Or: 0x84, i64Shl: 0x86, i64ShrU: 0x88,
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, emptyType: 0x40
})
const I32 = 0x7f
const I64 = 0x7e
/** log2 of the alignment of 8-byte loads and stores. */
const ALIGN8 = 3

/** The loop, on 64-bit halves. */
function scalarBody (): number[] {
  // params: 0 dataOffset, 1 nBlocks, 2 tableOffset (i32) | locals: 3 p, 4 end, 5 idx, 6 ridx (i32); 7 s0, 8 s1, 9 a0, 10 a1, 11 z0, 12 z1 (i64)
  const [DATA, NB, TBL, P, END, IDX, RIDX, S0, S1, A0, A1, Z0, Z1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
  const c: number[] = []
  const get = (l: number): void => { c.push(Op.localGet, l) }
  const set = (l: number): void => { c.push(Op.localSet, l) }
  const i32 = (v: number): void => { c.push(Op.i32Const, ...sleb(v)) }
  const i64 = (v: number): void => { c.push(Op.i64Const, ...sleb(v)) }
  const load = (offset: number): void => { c.push(Op.i64Load, ALIGN8, ...uleb(offset)) }
  const op = (...o: number[]): void => { c.push(...o) }

  i32(S_OFF); load(0); set(S0); i32(S_OFF); load(8); set(S1)
  get(DATA); set(P); get(DATA); get(NB); i32(4); op(Op.i32Shl, Op.i32Add); set(END)
  op(Op.block, Op.emptyType, Op.loop, Op.emptyType)
  get(P); get(END); op(Op.i32GeU, Op.brIf, 1) // done
  get(S0); get(P); load(0); op(Op.i64Xor); set(A0)
  get(S1); get(P); load(8); op(Op.i64Xor); set(A1)
  i64(0); set(Z0); i64(0); set(Z1)
  for (let k = 0; k < 16; k++) {
    // Z ^= T[byte k of A]
    get(k < 8 ? A0 : A1)
    const shift = 8 * (k % 8)
    if (shift > 0) { i64(shift); op(Op.i64ShrU) }
    op(Op.i32WrapI64); i32(255); op(Op.i32And); i32(4); op(Op.i32Shl); get(TBL); op(Op.i32Add, Op.localTee, IDX)
    load(0); get(Z0); op(Op.i64Xor); set(Z0)
    get(IDX); load(8); get(Z1); op(Op.i64Xor); set(Z1)
    // Z = Z·x^-8: shift right one byte, fold the dropped byte back in through REDUCE8
    get(Z0); op(Op.i32WrapI64); i32(255); op(Op.i32And); i32(3); op(Op.i32Shl); set(RIDX)
    get(Z0); i64(8); op(Op.i64ShrU); get(Z1); i64(56); op(Op.i64Shl, Op.i64Or); set(Z0)
    get(Z1); i64(8); op(Op.i64ShrU); get(RIDX); load(R64_OFF); op(Op.i64Xor); set(Z1)
  }
  get(Z0); set(S0); get(Z1); set(S1)
  get(P); i32(16); op(Op.i32Add); set(P)
  op(Op.br, 0, Op.end, Op.end)
  i32(S_OFF); get(S0); op(Op.i64Store, ALIGN8, 0); i32(S_OFF); get(S1); op(Op.i64Store, ALIGN8, 8)
  op(Op.end)
  return [...vec([[4, I32], [6, I64]]), ...c]
}

function assemble (): Uint8Array {
  const body = scalarBody()
  const FUNC_TYPE = 0x60
  const EXPORT_FUNC = 0
  const EXPORT_MEMORY = 2
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec([[FUNC_TYPE, ...vec([[I32], [I32], [I32]]), 0]])), // type: (i32, i32, i32) -> ()
    ...section(3, vec([[0]])), // one function of type 0
    ...section(5, vec([[0, ...uleb(1 + TABLE_PAGES)]])), // memory: min 1 + TABLE_PAGES pages, no max
    ...section(7, vec([[...name('polyval'), EXPORT_FUNC, 0], [...name('mem'), EXPORT_MEMORY, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]]))
  ])
}

/** A key as the WebAssembly version sees it: its table (1024 words). Its owner calls
 * {@link WasmPolyval.refresh} after changing the table and {@link WasmPolyval.forget} when wiping it. */
export interface TableKey { readonly t: Uint32Array }

export class WasmPolyval {
  readonly #fn: (dataOffset: number, nBlocks: number, tableOffset: number) => void
  readonly #mem: Uint32Array
  readonly #bytes: Uint8Array
  readonly #input: Uint8Array
  /** Which key each resident slot holds (for eviction), and each resident key's slot. */
  readonly #slotKey: Array<TableKey | undefined> = new Array<TableKey | undefined>(TABLE_SLOTS).fill(undefined)
  readonly #slotOf = new WeakMap<TableKey, number>()
  /** The slot loaded next when a key is not resident (first in, first out). */
  #next = 0

  /** Throws when WebAssembly is unavailable. */
  constructor (reduce8: Uint32Array) {
    // the project's TypeScript libs carry no WebAssembly declarations: reach it through globalThis
    const api: unknown = Reflect.get(globalThis, 'WebAssembly')
    if (typeof api !== 'object' || api === null) throw new Error('no WebAssembly')
    const Module: unknown = Reflect.get(api, 'Module')
    const Instance: unknown = Reflect.get(api, 'Instance')
    if (typeof Module !== 'function' || typeof Instance !== 'function') throw new Error('no WebAssembly')
    const instance: unknown = Reflect.construct(Instance, [Reflect.construct(Module, [assemble()])])
    const exports: unknown = typeof instance === 'object' && instance !== null ? Reflect.get(instance, 'exports') : undefined
    if (typeof exports !== 'object' || exports === null) throw new Error('unexpected WebAssembly exports')
    const mem: unknown = Reflect.get(exports, 'mem')
    const fn: unknown = Reflect.get(exports, 'polyval')
    const buffer: unknown = typeof mem === 'object' && mem !== null ? Reflect.get(mem, 'buffer') : undefined
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < (1 + TABLE_PAGES) * PAGE || typeof fn !== 'function') throw new Error('unexpected WebAssembly exports')
    this.#mem = new Uint32Array(buffer)
    this.#bytes = new Uint8Array(buffer)
    this.#input = this.#bytes.subarray(D_OFF, D_OFF + MAX_BLOCKS * 16)
    this.#fn = (d, n, t) => { Reflect.apply(fn, undefined, [d, n, t]) }
    for (let n = 0; n < 256; n++) this.#mem[(R64_OFF >> 2) + 2 * n + 1] = reduce8[n] // i64 entries: the top 32 bits
  }

  /** Most blocks {@link absorbInput} takes. */
  get maxInputBlocks (): number { return MAX_BLOCKS }

  /** The input area (MAX_BLOCKS × 16 bytes): write blocks here, then call {@link absorbInput}. */
  input (): Uint8Array { return this.#input }

  /** Byte offset of `key`'s resident table, loading it into a slot (the oldest one) if it has none. */
  #table (key: TableKey): number {
    let slot = this.#slotOf.get(key)
    if (slot === undefined) {
      slot = this.#next
      this.#next = (this.#next + 1) % TABLE_SLOTS
      const old = this.#slotKey[slot]
      if (old !== undefined) this.#slotOf.delete(old)
      this.#slotKey[slot] = key
      this.#slotOf.set(key, slot)
      this.#mem.set(key.t, (PAGE + slot * TABLE_BYTES) >> 2)
    }
    return PAGE + slot * TABLE_BYTES
  }

  /** Absorb the first `nBlocks` blocks of the input area into `s` (4 words), under `key`. */
  absorbInput (key: TableKey, s: Uint32Array, nBlocks: number): void {
    if (!Number.isInteger(nBlocks) || nBlocks < 0 || nBlocks > MAX_BLOCKS) throw new RangeError('too many blocks for the input area')
    const mem = this.#mem
    const o = S_OFF >> 2
    mem[o] = s[0]; mem[o + 1] = s[1]; mem[o + 2] = s[2]; mem[o + 3] = s[3]
    this.#fn(D_OFF, nBlocks, this.#table(key))
    s[0] = mem[o]; s[1] = mem[o + 1]; s[2] = mem[o + 2]; s[3] = mem[o + 3]
  }

  /** Absorb `nBlocks` blocks of `words` (from word `start`) into the state `s` (4 words), under `key`: input-area-sized chunks. */
  blocks (key: TableKey, s: Uint32Array, words: Uint32Array, start: number, nBlocks: number): void {
    for (let done = 0; done < nBlocks;) {
      const n = Math.min(MAX_BLOCKS, nBlocks - done)
      const from = start + 4 * done
      this.#mem.set(words.subarray(from, from + 4 * n), D_OFF >> 2)
      this.absorbInput(key, s, n)
      done += n
    }
  }

  /** Copies of every slot's table as the module's memory holds it (tests: old keys must not linger there). */
  residentTables (): Uint32Array[] {
    return Array.from({ length: TABLE_SLOTS }, (_, slot) => {
      const off = (PAGE + slot * TABLE_BYTES) >> 2
      return this.#mem.slice(off, off + TABLE_BYTES / 4)
    })
  }

  /** Rewrite `key`'s resident table, if it has one, after the key changed (the old table must not linger). */
  refresh (key: TableKey): void {
    const slot = this.#slotOf.get(key)
    if (slot === undefined) return
    this.#mem.set(key.t, (PAGE + slot * TABLE_BYTES) >> 2)
  }

  /** Clear `key`'s resident table, if it has one (the key is being wiped). */
  forget (key: TableKey): void {
    const slot = this.#slotOf.get(key)
    if (slot === undefined) return
    const off = PAGE + slot * TABLE_BYTES
    this.#bytes.fill(0, off, off + TABLE_BYTES)
    this.#slotKey[slot] = undefined
    this.#slotOf.delete(key)
  }
}
