/**
 * Hashcash over SHA-256 (the "enough to start"; Tor uses Equi-X, proposal 327).
 *
 *   effort(input, nonce) = number of leading zero bits of SHA-256(input | nonce)
 *
 * Checking costs one SHA-256 over a short input (≈1–3 µs here, under the 10 µs budget);
 * solving costs ≈2^effort hashes on average. `input` always starts with a domain string
 * and binds what the work is for (the index key, the publisher key, the entry's expiry
 * and content digest), so work cannot be moved to another entry.
 */
import { POW_NONCE_LEN } from './constants.ts'
import { RegistryCallerError } from './errors.ts'
import { concat, sha256 } from './primitives.ts'

/** Leading zero bits of `h` (0 … 8·len). */
export function leadingZeroBits (h: Uint8Array): number {
  let n = 0
  for (const b of h) {
    if (b === 0) { n += 8; continue }
    return n + Math.clz32(b) - 24
  }
  return n
}

/** The effort a nonce achieves. */
export function powEffort (input: Uint8Array, nonce: Uint8Array): number {
  return leadingZeroBits(sha256(concat(input, nonce)))
}

/**
 * Find a nonce of at least `effort` bits, counting up from `start` (8 bytes; pass random
 * bytes so two solvers do not collide). Gives up after `maxTries` (caller error).
 */
export function solvePow (input: Uint8Array, effort: number, start: Uint8Array, maxTries = 2 ** 32): Uint8Array {
  if (!Number.isInteger(effort) || effort < 0 || effort > 40) throw new RegistryCallerError('effort must be an integer in [0, 40]')
  if (start.length !== POW_NONCE_LEN) throw new RegistryCallerError('nonce start must be 8 bytes')
  const buf = concat(input, start)
  const view = new DataView(buf.buffer, buf.byteOffset + input.length, POW_NONCE_LEN)
  for (let i = 0; i < maxTries; i++) {
    if (leadingZeroBits(sha256(buf)) >= effort) return buf.slice(input.length)
    // increment the 64-bit big-endian counter
    const lo = view.getUint32(4) + 1
    view.setUint32(4, lo >>> 0)
    if (lo > 0xffff_ffff) view.setUint32(0, (view.getUint32(0) + 1) >>> 0)
  }
  throw new RegistryCallerError('proof of work not found within the try limit')
}
