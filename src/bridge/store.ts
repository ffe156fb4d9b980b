/**
 * What the bridge keeps in its data dir, under `<dataDir>/bridge/`:
 *
 * - `catalogue.json` — the last catalogue fetched from each provider (raw, re-checked by
 *   untrusted.ts on every load) and the exposed-name table. Lets the bridge answer
 *   `tools/list` within a second of start, before the network is ready.
 * - `pins.json` — consent: per tool reference (`address/toolName`) the pinned fingerprint
 *   and a state: `accepted` (callable while the fingerprint matches), `pending` (added by
 *   the model through `veil_add_tool`; never callable until accepted), `removed`.
 *
 * Only out-of-band actions set `accepted`: {@link acceptTool} (what `veil tools accept`
 * calls) or the user adding a provider (trust on first use for that provider's tools).
 * No MCP tool writes `accepted`. A running bridge watches `pins.json` and reloads it.
 *
 * Files are written atomically (temp file + rename), mode 0600.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { BridgeUsageError } from './errors.ts'
import { parseRemoteTool } from './untrusted.ts'
import { PRIVACY_PROFILES, type PrivacyProfile } from './remote.ts'

export const STORE_FORMAT = 1
export const BRIDGE_SUBDIR = 'bridge'
export const CATALOGUE_FILE = 'catalogue.json'
export const PINS_FILE = 'pins.json'

export type PinState = 'accepted' | 'pending' | 'removed'

export interface Pin {
  readonly fingerprint?: string
  readonly state: PinState
  /** Per-tool privacy profile override. */
  readonly profile?: PrivacyProfile
}

export interface CachedProvider {
  readonly tools: readonly unknown[]
  readonly fetchedAt: string
}

export interface CatalogueCache {
  readonly providers: Readonly<Record<string, CachedProvider>>
  readonly names: Readonly<Record<string, string>>
}

export const bridgeDir = (dataDir: string): string => join(dataDir, BRIDGE_SUBDIR)
export const pinsPath = (dataDir: string): string => join(bridgeDir(dataDir), PINS_FILE)
export const cataloguePath = (dataDir: string): string => join(bridgeDir(dataDir), CATALOGUE_FILE)

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function readJson (path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    if (err instanceof SyntaxError) return undefined // a torn or hand-broken file: start over rather than refuse to serve
    throw err
  }
}

function writeJsonAtomic (path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, path)
}

export function loadPins (dataDir: string): Map<string, Pin> {
  const raw = readJson(pinsPath(dataDir))
  const out = new Map<string, Pin>()
  if (!isRecord(raw) || raw.format !== STORE_FORMAT || !isRecord(raw.tools)) return out
  for (const [ref, p] of Object.entries(raw.tools)) {
    if (!isRecord(p)) continue
    const state = p.state
    if (state !== 'accepted' && state !== 'pending' && state !== 'removed') continue
    out.set(ref, {
      state,
      ...(typeof p.fingerprint === 'string' && { fingerprint: p.fingerprint }),
      ...(typeof p.profile === 'string' && (PRIVACY_PROFILES as readonly string[]).includes(p.profile) && { profile: p.profile as PrivacyProfile })
    })
  }
  return out
}

export function savePins (dataDir: string, pins: ReadonlyMap<string, Pin>): void {
  const tools: Record<string, Pin> = {}
  for (const ref of [...pins.keys()].sort()) tools[ref] = pins.get(ref) as Pin
  writeJsonAtomic(pinsPath(dataDir), { format: STORE_FORMAT, tools })
}

export function loadCatalogue (dataDir: string): CatalogueCache {
  const raw = readJson(cataloguePath(dataDir))
  const providers: Record<string, CachedProvider> = {}
  const names: Record<string, string> = {}
  if (isRecord(raw) && raw.format === STORE_FORMAT) {
    if (isRecord(raw.providers)) {
      for (const [address, p] of Object.entries(raw.providers)) {
        if (isRecord(p) && Array.isArray(p.tools)) providers[address] = { tools: p.tools, fetchedAt: typeof p.fetchedAt === 'string' ? p.fetchedAt : '' }
      }
    }
    if (isRecord(raw.names)) {
      for (const [ref, name] of Object.entries(raw.names)) if (typeof name === 'string') names[ref] = name
    }
  }
  return { providers, names }
}

export function saveCatalogue (dataDir: string, cache: CatalogueCache): void {
  writeJsonAtomic(cataloguePath(dataDir), { format: STORE_FORMAT, ...cache })
}

/**
 * Out-of-band consent (`veil tools accept NAME`): pins the tool's current fingerprint, as
 * last fetched into the catalogue cache, and marks it accepted. `nameOrRef` is the exposed
 * name or the `address/toolName` reference. Returns the reference and fingerprint.
 */
export function acceptTool (dataDir: string, nameOrRef: string): { ref: string, fingerprint: string } {
  const cache = loadCatalogue(dataDir)
  const ref = Object.entries(cache.names).find(([, name]) => name === nameOrRef)?.[0] ?? nameOrRef
  const slash = ref.indexOf('/')
  if (slash <= 0) throw new BridgeUsageError(`no tool named ${JSON.stringify(nameOrRef)} in this data dir's catalogue`)
  const address = ref.slice(0, slash)
  const toolName = ref.slice(slash + 1)
  const raw = cache.providers[address]?.tools.find((t) => isRecord(t) && t.name === toolName)
  if (raw === undefined) throw new BridgeUsageError(`the catalogue has no definition of ${ref} yet (is its provider reachable?)`)
  const fingerprint = parseRemoteTool(raw).fingerprint
  const pins = loadPins(dataDir)
  pins.set(ref, { ...pins.get(ref), state: 'accepted', fingerprint })
  savePins(dataDir, pins)
  return { ref, fingerprint }
}
