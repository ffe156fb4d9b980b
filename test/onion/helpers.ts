/** Shared helpers for the onion tests: hex, vector loading, a seeded Rng. */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Rng } from '../../src/onion/primitives.ts'

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Parse test/vectors/<path> as JSON. */
export function loadVectors<T> (path: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../vectors/${path}`, import.meta.url)), 'utf8')) as T
}

/** Deterministic test Rng: SHA-256(label || counter) blocks. Never for production. */
export function seededRng (label: string): Rng {
  let counter = 0
  let pool = new Uint8Array(0)
  return (n) => {
    while (pool.length < n) {
      const block = sha256(new TextEncoder().encode(`${label}/${counter++}`))
      const next = new Uint8Array(pool.length + block.length)
      next.set(pool); next.set(block, pool.length)
      pool = next
    }
    const out = pool.slice(0, n)
    pool = pool.slice(n)
    return out
  }
}

/** Write test/vectors/<path> (only when regenerating Veil's own vectors: VEIL_REGEN_VECTORS=1). */
export function writeVectors (path: string, data: unknown): void {
  writeFileSync(fileURLToPath(new URL(`../vectors/${path}`, import.meta.url)), JSON.stringify(data, null, 2) + '\n')
}
export const REGENERATE = process.env.VEIL_REGEN_VECTORS === '1'

/** An Rng that replays recorded values, in order (each call must ask for exactly the recorded length). */
export function tapeRng (tape: string[]): (n: number) => Uint8Array {
  let i = 0
  return (n) => {
    const next = tape[i++]
    if (next === undefined || next.length !== 2 * n) throw new Error(`tape rng: call ${i} wants ${n} bytes`)
    return hex(next)
  }
}
