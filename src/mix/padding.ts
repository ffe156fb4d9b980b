/**
 * Length hiding and link padding: pure decisions, no I/O.
 *
 * ## Length hiding
 * Every message (request and response alike) is cut into cells; its cell count `n` is
 * padded up to a bucket, so the far end and every link see only the bucket:
 * - `POW2_BUCKETS`: the next power of two (1, 2, 4, 8, …) — at most 2× the cells, on
 *   average 1/ln 2 ≈ 1.44× for sizes spread evenly in log scale;
 * - a configured list, e.g. `[1, 4, 16, 64]`: the smallest bucket ≥ n; beyond the largest,
 *   the next multiple of the largest (which still leaks the size to that granularity);
 * - `NO_PADDING` (profile `fast`): n itself.
 * Padding cells are ordinary DROP relay cells on the same circuit: same size (CELL_SIZE),
 * same encryption, same link stream — indistinguishable on the wire (wiring: src/onion).
 *
 * ## Link padding
 * When a link carried no real cell for `idleAfterMs`, a relay sends padding cells on it
 * at `ratePerSec` until a real cell goes again. {@link nextLinkPaddingAt} says when the
 * next one is due from the last real activity and the last padding; the relay's timer
 * (wired later) calls it. Padding does not count as activity, or an idle link would
 * look busy to itself and stop padding's idle test from ever re-arming.
 *
 * Defends against: message-size fingerprinting (which tool was called, how large the
 * answer) and "link went silent" signals. Does not defend against: the *time* a message
 * takes (cover traffic and delays do that), sizes beyond the largest bucket.
 */
import type { Rng } from '../overlay/clock.ts'
import { CELL_PAYLOAD_BYTES, MAX_PADDED_CELLS } from './constants.ts'
import { MixCallerError } from './errors.ts'
import { sampleExp } from './random.ts'

/** Pad to the next power of two. */
export const POW2_BUCKETS = 'pow2'
/** No length hiding. */
export const NO_PADDING = 'none'
export type PaddingBuckets = typeof POW2_BUCKETS | typeof NO_PADDING | readonly number[]

/** Throw unless `buckets` is a known mode or a non-empty strictly increasing list of integers in [1, MAX_PADDED_CELLS]. */
export function validateBuckets (buckets: unknown): PaddingBuckets {
  if (buckets === POW2_BUCKETS || buckets === NO_PADDING) return buckets
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new MixCallerError(`padding buckets must be "${POW2_BUCKETS}", "${NO_PADDING}" or a non-empty list of cell counts`)
  }
  let prev = 0
  for (const b of buckets as unknown[]) {
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 1 || b > MAX_PADDED_CELLS) {
      throw new MixCallerError(`padding bucket ${String(b)} must be an integer in [1, ${MAX_PADDED_CELLS}]`)
    }
    if (b <= prev) throw new MixCallerError(`padding buckets must be strictly increasing: ${b} after ${prev}`)
    prev = b
  }
  return buckets as readonly number[]
}

/** Cells a message of `bytes` application bytes needs (at least one: an empty message still sends a cell). */
export function messageCellCount (bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 0) throw new MixCallerError(`message length must be a non-negative integer, got ${bytes}`)
  return Math.max(1, Math.ceil(bytes / CELL_PAYLOAD_BYTES))
}

/** The padded cell count of an n-cell message under `buckets` (see the module comment). */
export function paddedCellCount (n: number, buckets: PaddingBuckets): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PADDED_CELLS) {
    throw new MixCallerError(`cell count must be an integer in [1, ${MAX_PADDED_CELLS}], got ${n}`)
  }
  if (buckets === NO_PADDING) return n
  if (buckets === POW2_BUCKETS) {
    let p = 1
    while (p < n) p *= 2
    return p
  }
  for (const b of buckets) if (b >= n) return b
  const largest = buckets[buckets.length - 1]
  return Math.ceil(n / largest) * largest
}

/**
 * DROP cells to send after a message of `cells` cells so its length reaches its bucket
 * (client requests and last-hop responses alike). Messages longer than MAX_PADDED_CELLS
 * are padded as if they had MAX_PADDED_CELLS cells.
 */
export function paddingCellsAfter (cells: number, buckets: PaddingBuckets): number {
  const n = Math.min(cells, MAX_PADDED_CELLS)
  return paddedCellCount(n, buckets) - n
}

// ---------------------------------------------------------------------------
// Link padding
// ---------------------------------------------------------------------------

export interface LinkPaddingPolicy {
  /** Padding cells per second on an idle link; 0 = never pad. */
  readonly ratePerSec: number
  /** A link is idle once no real cell went for this long. */
  readonly idleAfterMs: number
}

/**
 * Default: an idle link (1.5 s without a real cell) gets one padding cell every 5 s on
 * average — close to Tor's netflow padding (a random timeout in 1.5–9.5 s), and costing
 * 0.2 × 2,048 B ≈ 410 B/s per idle link.
 */
export const DEFAULT_LINK_PADDING: LinkPaddingPolicy = Object.freeze({ ratePerSec: 0.2, idleAfterMs: 1500 })

export function validateLinkPadding (p: LinkPaddingPolicy): LinkPaddingPolicy {
  if (!Number.isFinite(p.ratePerSec) || p.ratePerSec < 0) throw new MixCallerError(`link padding ratePerSec must be finite and ≥ 0, got ${p.ratePerSec}`)
  if (!Number.isFinite(p.idleAfterMs) || p.idleAfterMs < 0) throw new MixCallerError(`link padding idleAfterMs must be finite and ≥ 0, got ${p.idleAfterMs}`)
  return p
}

/** The gap to the next padding cell: fixed 1/rate, or Exp(1/rate) when an Rng is given (a less regular pattern). */
export function linkPaddingGapMs (policy: LinkPaddingPolicy, rng?: Rng): number {
  if (policy.ratePerSec === 0) return Infinity
  const mean = 1000 / policy.ratePerSec
  return rng === undefined ? mean : sampleExp(rng, mean)
}

/**
 * When the next padding cell on a link is due (ms, clock time), or Infinity.
 *
 * `lastActivityMs`: the last real cell (either direction) on the link. `lastPaddingMs`:
 * the last padding cell, or -Infinity. `gapMs`: the spacing drawn for this padding cell.
 * The first padding goes at `lastActivity + idleAfter`; later ones `gap` after the previous
 * padding; a real cell pushes everything back.
 */
export function nextLinkPaddingAt (lastActivityMs: number, lastPaddingMs: number, policy: LinkPaddingPolicy, gapMs = linkPaddingGapMs(policy)): number {
  if (policy.ratePerSec === 0) return Infinity
  const idleFrom = lastActivityMs + policy.idleAfterMs
  // padding sent before the last real cell does not count: the idle period restarts
  if (lastPaddingMs < lastActivityMs) return idleFrom
  return Math.max(idleFrom, lastPaddingMs + gapMs)
}

/** Whether a padding cell is due at `nowMs` (the relay sends one and records `lastPaddingMs = nowMs`). */
export function linkPaddingDue (nowMs: number, lastActivityMs: number, lastPaddingMs: number, policy: LinkPaddingPolicy, gapMs?: number): boolean {
  return nowMs >= nextLinkPaddingAt(lastActivityMs, lastPaddingMs, policy, gapMs)
}
