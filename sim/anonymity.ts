/**
 * Sender anonymity of individual messages, as in the Loopix evaluation: every cell in
 * flight carries a probability vector over the endpoints that could have sent it; a mix
 * that releases a cell gives it the average of the vectors of the cells it held at that
 * instant; entropy, degree and effective anonymity set are read off a target's vector
 * where it is delivered.
 *
 * Representation: a point mass is not stored (the cell's origin is); a mixture is a
 * SparseVec (endpoint ids and probabilities in two plain arrays: V8 allocates small
 * arrays by bumping a pointer, while a typed array over 64 bytes needs an off-heap backing
 * store, which cost more than the mixing itself). A relay that holds one cell passes its
 * vector on untouched, so most cells never allocate one.
 *
 * `VectorMixer` accumulates a weighted sum of vectors in a dense scratch array plus a list
 * of touched ids (in first-touch order, so results are deterministic), then emits it as a
 * SparseVec and clears only what it touched.
 */

export interface SparseVec {
  readonly ids: readonly number[]
  readonly p: readonly number[]
}

export class VectorMixer {
  readonly #acc: Float64Array
  readonly #touched: Int32Array
  #n = 0

  constructor (endpoints: number) {
    this.#acc = new Float64Array(endpoints)
    this.#touched = new Int32Array(endpoints)
  }

  /** Add w × (vec, or the point mass on `origin` when vec is null). */
  add (vec: SparseVec | null, origin: number, w: number): void {
    const acc = this.#acc
    if (vec === null) {
      if (acc[origin] === 0) this.#touched[this.#n++] = origin
      acc[origin] += w
      return
    }
    const ids = vec.ids
    const p = vec.p
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]
      if (acc[id] === 0) this.#touched[this.#n++] = id
      acc[id] += w * p[k]
    }
  }

  /** The accumulated vector; resets the mixer. */
  take (): SparseVec {
    const n = this.#n
    const ids: number[] = []
    const p: number[] = []
    for (let k = 0; k < n; k++) {
      const id = this.#touched[k]
      ids.push(id)
      p.push(this.#acc[id])
      this.#acc[id] = 0
    }
    this.#n = 0
    return { ids, p }
  }
}

export interface SenderEstimate {
  /** Shannon entropy (bits) of the sender distribution. */
  entropy: number
  /** Probability the distribution gives the true sender. */
  pTrue: number
  /** Endpoints with non-zero probability. */
  support: number
}

/**
 * Entropy of a delivered cell's sender distribution, conditioned on the sender being a
 * client (ids < clients): mass on other endpoints (providers, whose response cells the
 * cell was confused with) is dropped and the rest renormalised — a provider receives only
 * requests, so the observer knows the delivered cell left a client.
 */
export function senderEstimate (vec: SparseVec | null, origin: number, trueSender: number, clients: number): SenderEstimate {
  if (vec === null) return { entropy: 0, pTrue: origin === trueSender ? 1 : 0, support: 1 }
  let total = 0
  for (let k = 0; k < vec.ids.length; k++) if (vec.ids[k] < clients) total += vec.p[k]
  let h = 0
  let pTrue = 0
  let support = 0
  for (let k = 0; k < vec.ids.length; k++) {
    if (vec.ids[k] >= clients) continue
    const q = vec.p[k] / total
    if (q <= 0) continue
    support++
    h -= q * Math.log2(q)
    if (vec.ids[k] === trueSender) pTrue = q
  }
  return { entropy: Math.max(0, h), pTrue, support }
}
