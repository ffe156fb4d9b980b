/**
 * The event queue: a small 4-ary min-heap for the events due before a horizon, buckets
 * for the rest.
 *
 * Records: an event is one 32-byte record (time, sequence number, arg as float64; kind
 * and target as int32) in a buffer read through a Float64 and an Int32 view, so nothing
 * in the queue is an object.
 *
 * Structure. Time is cut into buckets of `bucketMs` (a power of two, so bucket indices are
 * exact). The *horizon* H is the start of the first bucket not yet opened:
 * - the **near heap** holds every event due before H, ordered by (time, sequence);
 * - a **ring** of BUCKETS buckets holds the events due in the next BUCKETS buckets from
 *   H, unsorted, appended in arrival order;
 * - an **overflow heap** holds events due later still.
 * `pop` takes the near heap's root. When the near heap is empty, the bucket at H is opened
 * — its records pushed into the near heap, with the overflow events now due before the new
 * H — and H moves one bucket on (straight to the overflow's earliest bucket when the ring
 * is empty). Every event due before H is in the near heap and every other one is later, so
 * the root is always the earliest event.
 *
 * Why: in a network model most events are near (a cell's next hop, a mixing delay:
 * milliseconds) while most of the queue is far (every client's next cover cell, call and
 * churn step: seconds to hours). The near heap stays small enough to live in cache; a far
 * event costs an append and a sequential read instead of sifting through a heap the size
 * of the whole queue, whose lower levels are never in cache.
 *
 * Order: by time, then by insertion sequence (one counter for everything), so events at
 * equal times run in the order they were scheduled — deterministic whatever the bucket
 * width or the heap shapes (tested against a plain sort).
 *
 * Object heaps measured ~6× slower here (ANCHORS.md, Simulation); bench/sim.ts measures this one.
 */

/** Initial capacity (events) of each heap and bucket; doubles on demand. */
export const INITIAL_QUEUE_CAPACITY = 1024

/** Default bucket width, in the queue's time unit (ms in the simulator): a power of two. */
export const DEFAULT_BUCKET_MS = 256

/** Buckets in the ring (a power of two): with 256 ms, the ring spans 32.8 s. */
const BUCKETS = 128
const BUCKET_MASK = BUCKETS - 1
const BUCKET_CAPACITY = 64

/**
 * A record: 4 float64 words = 8 int32 words. Float64: time, seq, arg at index × 4 + 0, 1,
 * 2; Int32: kind and target at index × 8 + 6 and 7.
 */
const W = 4
const SEQ = 1
const ARG = 2
const KIND32 = 6
const TARGET32 = 7

/** A growable array of records. */
class Records {
  r: Float64Array
  r32: Int32Array
  n = 0

  constructor (capacity: number) {
    this.r = new Float64Array(capacity * W)
    this.r32 = new Int32Array(this.r.buffer)
  }

  grow (): void {
    const r = new Float64Array(this.r.length * 2); r.set(this.r)
    this.r = r
    this.r32 = new Int32Array(r.buffer)
  }

  append (time: number, seq: number, arg: number, kind: number, target: number): void {
    if (this.n * W === this.r.length) this.grow()
    const o = this.n++ * W
    this.r[o] = time; this.r[o + SEQ] = seq; this.r[o + ARG] = arg
    this.r32[2 * o + KIND32] = kind; this.r32[2 * o + TARGET32] = target
  }
}

/** A 4-ary min-heap of records, ordered by time then sequence number; the root is record 0. */
class Heap extends Records {
  push (time: number, seq: number, arg: number, kind: number, target: number): void {
    if (this.n * W === this.r.length) this.grow()
    const r = this.r
    const r32 = this.r32
    let i = this.n++
    // move parents down while they come after the new event, then write it
    while (i > 0) {
      const p = (i - 1) >> 2
      const po = p * W
      const pt = r[po]
      if (pt < time || (pt === time && r[po + SEQ] < seq)) break
      const io = i * W
      r[io] = pt; r[io + SEQ] = r[po + SEQ]; r[io + ARG] = r[po + ARG]
      r32[2 * io + KIND32] = r32[2 * po + KIND32]; r32[2 * io + TARGET32] = r32[2 * po + TARGET32]
      i = p
    }
    const o = i * W
    r[o] = time; r[o + SEQ] = seq; r[o + ARG] = arg
    r32[2 * o + KIND32] = kind; r32[2 * o + TARGET32] = target
  }

  /** Remove the root (n > 0; read it first). */
  removeRoot (): void {
    const r = this.r
    const r32 = this.r32
    const n = --this.n
    if (n === 0) return
    // sift the last record down from the root
    const lo = n * W
    const t = r[lo]
    const s = r[lo + SEQ]
    let i = 0
    for (;;) {
      const first = 4 * i + 1
      if (first >= n) break
      // the smallest of up to four children
      let c = first
      let ct = r[first * W]
      const last = first + 4 < n ? first + 4 : n
      for (let j = first + 1; j < last; j++) {
        const jt = r[j * W]
        if (jt < ct || (jt === ct && r[j * W + SEQ] < r[c * W + SEQ])) { c = j; ct = jt }
      }
      const co = c * W
      if (t < ct || (t === ct && s < r[co + SEQ])) break
      const io = i * W
      r[io] = ct; r[io + SEQ] = r[co + SEQ]; r[io + ARG] = r[co + ARG]
      r32[2 * io + KIND32] = r32[2 * co + KIND32]; r32[2 * io + TARGET32] = r32[2 * co + TARGET32]
      i = c
    }
    const io = i * W
    r[io] = t; r[io + SEQ] = s; r[io + ARG] = r[lo + ARG]
    r32[2 * io + KIND32] = r32[2 * lo + KIND32]; r32[2 * io + TARGET32] = r32[2 * lo + TARGET32]
  }
}

export class EventQueue {
  readonly #near: Heap
  readonly #over: Heap
  readonly #ring: Records[] = []
  /** Events in the ring. */
  #inRing = 0
  readonly #bucketMs: number
  /** Index of the first bucket not yet opened (H = #hb × bucketMs), and its ring slot. */
  #hb = 0
  #hbSlot = 0
  #horizon = 0
  #nextSeq = 0

  /** Fields of the event most recently popped. */
  time = 0
  kind = 0
  target = 0
  arg = 0

  constructor (capacity = INITIAL_QUEUE_CAPACITY, bucketMs = DEFAULT_BUCKET_MS) {
    if (!(bucketMs > 0) || 2 ** Math.round(Math.log2(bucketMs)) !== bucketMs) throw new RangeError(`bucketMs must be a power of two, got ${bucketMs}`)
    this.#near = new Heap(capacity)
    this.#over = new Heap(capacity)
    for (let b = 0; b < BUCKETS; b++) this.#ring.push(new Records(BUCKET_CAPACITY))
    this.#bucketMs = bucketMs
  }

  get size (): number { return this.#near.n + this.#inRing + this.#over.n }

  /** Time of the earliest event (Infinity when empty). */
  peekTime (): number {
    if (this.#near.n === 0 && !this.#open()) return Infinity
    return this.#near.r[0]
  }

  push (time: number, kind: number, target: number, arg = 0): void {
    const seq = this.#nextSeq++
    if (time < this.#horizon) { this.#near.push(time, seq, arg, kind, target); return }
    // exact: bucketMs is a power of two
    const rel = Math.floor(time / this.#bucketMs) - this.#hb
    if (rel < BUCKETS) {
      this.#ring[(this.#hbSlot + rel) & BUCKET_MASK].append(time, seq, arg, kind, target)
      this.#inRing++
    } else this.#over.push(time, seq, arg, kind, target)
  }

  /** Remove the earliest event into (time, kind, target, arg). Returns false when empty. */
  pop (): boolean {
    const near = this.#near
    if (near.n === 0 && !this.#open()) return false
    const r = near.r
    const r32 = near.r32
    this.time = r[0]
    this.arg = r[ARG]
    this.kind = r32[KIND32]
    this.target = r32[TARGET32]
    near.removeRoot()
    return true
  }

  /** Open buckets until the near heap holds an event; false when the queue is empty. */
  #open (): boolean {
    const near = this.#near
    const over = this.#over
    while (near.n === 0) {
      if (this.#inRing === 0) {
        if (over.n === 0) return false
        // nothing in the ring (so no slot mapping to keep): jump to the overflow's earliest bucket
        this.#hb = Math.max(this.#hb, Math.floor(over.r[0] / this.#bucketMs))
      }
      const bucket = this.#ring[this.#hbSlot]
      const r = bucket.r
      const r32 = bucket.r32
      for (let o = 0; o < bucket.n * W; o += W) near.push(r[o], r[o + SEQ], r[o + ARG], r32[2 * o + KIND32], r32[2 * o + TARGET32])
      this.#inRing -= bucket.n
      bucket.n = 0
      this.#hb++
      this.#hbSlot = (this.#hbSlot + 1) & BUCKET_MASK
      this.#horizon = this.#hb * this.#bucketMs
      const o = over.r
      const o32 = over.r32
      while (over.n > 0 && o[0] < this.#horizon) {
        near.push(o[0], o[SEQ], o[ARG], o32[KIND32], o32[TARGET32])
        over.removeRoot()
      }
    }
    return true
  }
}
