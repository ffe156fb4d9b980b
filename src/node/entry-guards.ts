/**
 * A client's entry relays (its guards) kept across restarts, as Tor's guard-spec keeps
 * its primary guards: a client that picked new entry relays on every start would, over
 * many restarts, show itself to many of them — and one malicious entry relay seen often
 * enough sees everything the client does. So the choice is persisted (`guards.json` in
 * the data dir, 0600, written atomically) and kept for a random 30–60 days each
 * (ENTRY_LIFETIME; minutes in testnet mode), as long as the relay is still in the
 * bootstrap list and answers at start (client.ts probes saved entries and replaces those
 * that do not: a dead guard must not keep a client from starting). Missing entries are
 * drawn at random from the bootstrap list.
 *
 *   const { chosen, state, changed } = selectEntries(await loadEntryState(file, log), bootIds, 3, now, rng, lifetime)
 *   if (changed) await saveEntryState(file, state)
 *
 * The decision is pure (clock and Rng injected); the file I/O is separate and never
 * throws on a bad file: it is reported and replaced.
 *
 * Must never: write anything but relay ids and times (the file says which relays a user
 * trusts: local only, 0600); keep an entry the bootstrap list no longer offers.
 */
import { readFile } from 'node:fs/promises'
import type { Rng } from '../overlay/clock.ts'
import { shuffled } from '../overlay/clock.ts'
import { uniform01 } from '../onion/path/index.ts'
import { isErrno, writeFileAtomic } from '../overlay/fsutil.ts'

export const ENTRY_STATE_VERSION = 1
/** The file's name in a client's data dir. */
export const ENTRY_STATE_FILE = 'guards.json'
/** A bigger file is not ours: ignored (and replaced). */
const MAX_STATE_BYTES = 64 * 1024
const MAX_ENTRIES = 16
const DAY = 86_400_000
/**
 * An entry relay is kept a uniform 30–60 days, then replaced: a rotation period in the
 * range Tor used before guard-spec. Shorter than the circuit guards' GUARD_LIFETIME_MS
 * (src/onion/path, 120 days) because entry relays come from a short, operator-given
 * bootstrap list with no reachability history behind the choice.
 */
export const ENTRY_LIFETIME = { minMs: 30 * DAY, maxMs: 60 * DAY } as const
/** A saved entry relay that does not answer a dial this fast at start is replaced. */
export const ENTRY_PROBE_TIMEOUT_MS = 5_000
/** The same, shortened for testnets (guard rotation must be observable in a test run). */
export const TESTNET_ENTRY_LIFETIME = { minMs: 30 * 60_000, maxMs: 60 * 60_000 } as const

export interface EntryRecord { readonly id: string, readonly addedAt: number, readonly expiresAt: number }
export interface EntryState { readonly version: number, readonly entries: readonly EntryRecord[] }

/** Parse a state; undefined (with the reason) when it is not one. */
export function parseEntryState (json: unknown): { state?: EntryState, error?: string } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { error: 'not an object' }
  const o = json as Record<string, unknown>
  if (o.version !== ENTRY_STATE_VERSION) return { error: `unknown version ${String(o.version)}` }
  if (!Array.isArray(o.entries) || o.entries.length > MAX_ENTRIES) return { error: 'entries must be a list of at most 16' }
  const entries: EntryRecord[] = []
  for (const e of o.entries as unknown[]) {
    if (typeof e !== 'object' || e === null) return { error: 'an entry is not an object' }
    const r = e as Record<string, unknown>
    if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 128) return { error: 'an entry has no valid id' }
    if (typeof r.addedAt !== 'number' || typeof r.expiresAt !== 'number' || !Number.isFinite(r.addedAt) || !Number.isFinite(r.expiresAt)) return { error: 'an entry has no valid times' }
    if (entries.some(x => x.id === r.id)) continue
    entries.push({ id: r.id, addedAt: r.addedAt, expiresAt: r.expiresAt })
  }
  return { state: { version: ENTRY_STATE_VERSION, entries } }
}

/**
 * Which entry relays to use: the persisted ones still offered by the bootstrap list and
 * not expired (in their order), then new ones drawn at random, up to `count`. Returns the
 * chosen ids, the state to persist, and whether it changed.
 */
export function selectEntries (
  previous: EntryState | undefined, offered: readonly string[], count: number, now: number, rng: Rng,
  lifetime: { minMs: number, maxMs: number } = ENTRY_LIFETIME
): { chosen: string[], state: EntryState, changed: boolean, kept: number } {
  const offeredSet = new Set(offered)
  // (an entry "added in the future" means the clock went back: it is kept, not churned)
  const kept = (previous?.entries ?? []).filter(e => offeredSet.has(e.id) && e.expiresAt > now).slice(0, count)
  const entries: EntryRecord[] = [...kept]
  const have = new Set(kept.map(e => e.id))
  for (const id of shuffled(offered.filter(x => !have.has(x)), rng)) {
    if (entries.length >= count) break
    const span = Math.max(0, lifetime.maxMs - lifetime.minMs)
    entries.push({ id, addedAt: now, expiresAt: now + lifetime.minMs + Math.floor(span * uniform01(rng)) })
    have.add(id)
  }
  const changed = previous === undefined || entries.length !== previous.entries.length || entries.some((e, i) => e.id !== previous.entries[i]?.id || e.expiresAt !== previous.entries[i]?.expiresAt)
  return { chosen: entries.map(e => e.id), state: { version: ENTRY_STATE_VERSION, entries }, changed, kept: kept.length }
}

/** Read a state file: undefined when absent; when unreadable or invalid, undefined and `onBad(reason)`. */
export async function loadEntryState (file: string, onBad: (reason: string) => void = () => {}): Promise<EntryState | undefined> {
  let text: string
  try {
    const buf = await readFile(file)
    if (buf.length > MAX_STATE_BYTES) { onBad(`larger than ${MAX_STATE_BYTES} bytes`); return undefined }
    text = buf.toString('utf8')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined
    onBad(err instanceof Error ? err.message : String(err))
    return undefined
  }
  let json: unknown
  try { json = JSON.parse(text) } catch { onBad('not JSON'); return undefined }
  const r = parseEntryState(json)
  if (r.state === undefined) onBad(r.error ?? 'invalid')
  return r.state
}

export async function saveEntryState (file: string, state: EntryState): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n', 0o600)
}
