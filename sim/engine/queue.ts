/**
 * The event queue: a flat binary min-heap over numeric event slots.
 *
 * Layout: the heap holds (time, slot) pairs in two parallel typed arrays, so sifting
 * moves two numbers and never touches an object; the slot's payload (kind, target, arg,
 * sequence number) lives in separate typed arrays and never moves. Slots are recycled
 * through a free list; every array doubles when full.
 *
 * Order: by time, then by insertion sequence, so events at equal times run in the order
 * they were scheduled — the queue is deterministic whatever the heap shape.
 *
 * Object heaps measured ~6× slower here (ANCHORS.md, Simulation); bench/sim.ts measures this one.
 */

/** Initial capacity (events); doubles on demand. */
export const INITIAL_QUEUE_CAPACITY = 1024

export class EventQueue {
  #time: Float64Array
  #heapSlot: Int32Array
  #size = 0
  // per-slot payload
  #kind: Int32Array
  #target: Int32Array
  #arg: Float64Array
  #seq: Float64Array
  #free: Int32Array
  #freeTop = 0
  #slots = 0
  #nextSeq = 0

  /** Fields of the event most recently popped. */
  time = 0
  kind = 0
  target = 0
  arg = 0

  constructor (capacity = INITIAL_QUEUE_CAPACITY) {
    this.#time = new Float64Array(capacity)
    this.#heapSlot = new Int32Array(capacity)
    this.#kind = new Int32Array(capacity)
    this.#target = new Int32Array(capacity)
    this.#arg = new Float64Array(capacity)
    this.#seq = new Float64Array(capacity)
    this.#free = new Int32Array(capacity)
  }

  get size (): number { return this.#size }

  /** Time of the earliest event (Infinity when empty). */
  peekTime (): number { return this.#size === 0 ? Infinity : this.#time[0] }

  push (time: number, kind: number, target: number, arg = 0): void {
    let slot: number
    if (this.#freeTop > 0) slot = this.#free[--this.#freeTop]
    else {
      if (this.#slots === this.#kind.length) this.#growSlots()
      slot = this.#slots++
    }
    this.#kind[slot] = kind
    this.#target[slot] = target
    this.#arg[slot] = arg
    this.#seq[slot] = this.#nextSeq++
    if (this.#size === this.#time.length) this.#growHeap()
    // sift up
    const times = this.#time
    const slots = this.#heapSlot
    const seq = this.#seq
    let i = this.#size++
    const s = seq[slot]
    while (i > 0) {
      const p = (i - 1) >> 1
      const pt = times[p]
      if (pt < time || (pt === time && seq[slots[p]] < s)) break
      times[i] = pt
      slots[i] = slots[p]
      i = p
    }
    times[i] = time
    slots[i] = slot
  }

  /** Remove the earliest event into (time, kind, target, arg). Returns false when empty. */
  pop (): boolean {
    if (this.#size === 0) return false
    const times = this.#time
    const slots = this.#heapSlot
    const seq = this.#seq
    const top = slots[0]
    this.time = times[0]
    this.kind = this.#kind[top]
    this.target = this.#target[top]
    this.arg = this.#arg[top]
    this.#free[this.#freeTop++] = top
    const n = --this.#size
    if (n > 0) {
      const t = times[n]
      const sl = slots[n]
      const s = seq[sl]
      let i = 0
      const half = n >> 1
      while (i < half) {
        let c = 2 * i + 1
        let ct = times[c]
        let cs = slots[c]
        const r = c + 1
        if (r < n) {
          const rt = times[r]
          if (rt < ct || (rt === ct && seq[slots[r]] < seq[cs])) { c = r; ct = rt; cs = slots[r] }
        }
        if (t < ct || (t === ct && s < seq[cs])) break
        times[i] = ct
        slots[i] = cs
        i = c
      }
      times[i] = t
      slots[i] = sl
    }
    return true
  }

  #growHeap (): void {
    const cap = this.#time.length * 2
    const t = new Float64Array(cap); t.set(this.#time); this.#time = t
    const s = new Int32Array(cap); s.set(this.#heapSlot); this.#heapSlot = s
  }

  #growSlots (): void {
    const cap = this.#kind.length * 2
    const k = new Int32Array(cap); k.set(this.#kind); this.#kind = k
    const g = new Int32Array(cap); g.set(this.#target); this.#target = g
    const a = new Float64Array(cap); a.set(this.#arg); this.#arg = a
    const q = new Float64Array(cap); q.set(this.#seq); this.#seq = q
    const f = new Int32Array(cap); f.set(this.#free); this.#free = f
  }
}
