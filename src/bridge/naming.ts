/**
 * Exposed tool names: what an MCP client (and the model) sees instead of a remote tool's
 * own name. Every exposed name matches `^[a-zA-Z0-9_-]{1,40}$` (EXPOSED_NAME_PATTERN).
 *
 * An exposed name is `<tag>_<tool>`: the provider's short tag, then the remote name with
 * every character outside `[A-Za-z0-9_-]` replaced by `_`, cut to 40 characters. Names
 * are assigned through a table (reference → exposed name) and never parsed back: the
 * bridge finds the provider and the real tool name by looking the exposed name up.
 *
 * Collisions (two references sanitising to one name, or a name already taken) are resolved
 * deterministically: references are processed in sorted order; a name kept from the
 * previous table stays (names are stable across restarts and catalogue changes); a new
 * reference whose name is taken gets `_` + 6 hex characters of SHA-256(reference), and if
 * even that is taken, a counter. `veil_*` names are reserved for the meta tools.
 *
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto'
import { COLLISION_HASH_CHARS, EXPOSED_NAME_MAX, EXPOSED_NAME_PATTERN, GENERATED_TAG_HASH_CHARS, META_PREFIX, TAG_PATTERN } from './constants.ts'
import { BridgeUsageError } from './errors.ts'

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** The provider tag: the configured one (validated), else `p` + 5 base32 characters of SHA-256(address). */
export function providerTag (address: string, configured?: string): string {
  if (configured !== undefined) {
    if (!TAG_PATTERN.test(configured) || configured === 'veil') throw new BridgeUsageError(`provider tag ${JSON.stringify(configured)} must be 1–8 of [a-z0-9] and not "veil"`)
    return configured
  }
  const digest = createHash('sha256').update(address).digest()
  let tag = 'p'
  for (let i = 0; i < GENERATED_TAG_HASH_CHARS; i++) tag += BASE32[digest[i] % 32]
  return tag
}

/** Replaces every character outside `[A-Za-z0-9_-]` (by code point) with `_`. */
export function sanitizeNamePart (name: string): string {
  return Array.from(name, (ch) => /^[A-Za-z0-9_-]$/.test(ch) ? ch : '_').join('')
}

export interface NameRequest {
  /** Unique reference, e.g. `address/toolName`. */
  readonly ref: string
  readonly tag: string
  readonly toolName: string
}

const isUsable = (name: string): boolean => EXPOSED_NAME_PATTERN.test(name) && !name.startsWith(META_PREFIX)

/** Assigns an exposed name to each request. `previous` (ref → name) is honoured where still valid and unique. */
export function assignNames (requests: readonly NameRequest[], previous: ReadonlyMap<string, string> = new Map()): Map<string, string> {
  const sorted = [...requests].sort((a, b) => a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0)
  const taken = new Set<string>()
  const out = new Map<string, string>()
  for (const r of sorted) {
    const kept = previous.get(r.ref)
    if (kept !== undefined && isUsable(kept) && !taken.has(kept)) { out.set(r.ref, kept); taken.add(kept) }
  }
  for (const r of sorted) {
    if (out.has(r.ref)) continue
    const base = `${r.tag}_${sanitizeNamePart(r.toolName)}`.slice(0, EXPOSED_NAME_MAX)
    let name = base
    if (!isUsable(name) || taken.has(name)) {
      const hash = createHash('sha256').update(r.ref).digest('hex').slice(0, COLLISION_HASH_CHARS)
      name = `${base.slice(0, EXPOSED_NAME_MAX - COLLISION_HASH_CHARS - 1)}_${hash}`
      for (let i = 2; !isUsable(name) || taken.has(name); i++) {
        const suffix = `_${i}`
        name = `${base.slice(0, EXPOSED_NAME_MAX - COLLISION_HASH_CHARS - 1 - suffix.length)}_${hash}${suffix}`
      }
    }
    out.set(r.ref, name)
    taken.add(name)
  }
  return out
}
