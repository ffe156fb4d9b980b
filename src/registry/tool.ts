/**
 * Tool records: an MCP tool definition plus what the registry adds.
 *
 *   Definition = [ name: str, title: str | nil, description: str | nil,
 *                  inputSchema: map, outputSchema: map | nil, annotations: map | nil ]
 *   fingerprint = SHA3-256(canonical Definition bytes)
 *   ToolRecord  = [ version: 1, definition: bin, semver: str, tags: [str, …], fingerprint: bin(32), provider: str ]
 *   global id   = "<provider address>/<tool name>@<semver>"
 *
 * JSON values (schemas, annotations) are canonical msgpack maps with sorted keys
 * (codec.ts), so a definition has one encoding and one fingerprint; any change to it
 * changes the fingerprint. The fingerprint is part of a tool's identity: the same name
 * from two providers never collides, and a changed definition always shows.
 * Pure codec; errors are {@link InvalidCatalogueError} ('tool').
 */
import {
  MAX_SCHEMA_DEPTH, MAX_TAG_LEN, MAX_TAGS, MAX_TOOL_DESCRIPTION, MAX_TOOL_NAME, MAX_TOOL_TITLE, SHA3_256_LEN,
  TOOL_RECORD_VERSION, ADDRESS_TEXT_LEN, MAX_VERSION_LEN, MAX_CATALOGUE_SIZE
} from './constants.ts'
import { InvalidCatalogueError, InvalidSemverError, RegistryCallerError } from './errors.ts'
import { bin, canonicalToJson, fields, jsonToCanonical, list, pack, str, unpackCanonical, type Fail, type Json } from './codec.ts'
import { constantTimeEqual, sha3_256 } from './primitives.ts'
import { parseSemver } from './semver.ts'
import { parseAddress } from './identity.ts'

const fail: Fail = (reason, message) => { throw new InvalidCatalogueError('tool', reason, message) }

/** The MCP tool definition fields (MCP `Tool`). */
export interface ToolDefinition {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema: { readonly [k: string]: Json }
  readonly outputSchema?: { readonly [k: string]: Json }
  readonly annotations?: { readonly [k: string]: Json }
}

export interface ToolRecord {
  readonly definition: ToolDefinition
  readonly version: string
  readonly tags: readonly string[]
  readonly fingerprint: Uint8Array
  readonly provider: string
}

const TOOL_NAME_RE = /^[A-Za-z0-9_.-]{1,128}$/

function isObject (v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Canonical bytes of a definition. Throws RegistryCallerError on an invalid one. */
export function encodeDefinition (d: ToolDefinition): Uint8Array {
  if (typeof d.name !== 'string' || !TOOL_NAME_RE.test(d.name)) throw new RegistryCallerError('tool name must be 1–128 of A–Z a–z 0–9 _ . -')
  if (d.title !== undefined && (typeof d.title !== 'string' || d.title.length > MAX_TOOL_TITLE)) throw new RegistryCallerError('tool title too long')
  if (d.description !== undefined && (typeof d.description !== 'string' || d.description.length > MAX_TOOL_DESCRIPTION)) throw new RegistryCallerError('tool description too long')
  if (!isObject(d.inputSchema)) throw new RegistryCallerError('inputSchema must be an object')
  if (d.outputSchema !== undefined && !isObject(d.outputSchema)) throw new RegistryCallerError('outputSchema must be an object')
  if (d.annotations !== undefined && !isObject(d.annotations)) throw new RegistryCallerError('annotations must be an object')
  const j = (v: Json | undefined): unknown => v === undefined ? null : jsonToCanonical(v, 0, MAX_SCHEMA_DEPTH)
  return pack([d.name, d.title ?? null, d.description ?? null, j(d.inputSchema), j(d.outputSchema), j(d.annotations)])
}

export function decodeDefinition (bytes: Uint8Array): ToolDefinition {
  const f = fields(unpackCanonical(bytes, MAX_CATALOGUE_SIZE, 'tool definition', fail), 6, 'tool definition', fail)
  const name = str(f[0], 'tool name', fail, MAX_TOOL_NAME, 1)
  if (!TOOL_NAME_RE.test(name)) fail('malformed', 'tool name: bad characters')
  const obj = (v: unknown, what: string): { [k: string]: Json } => {
    const j = canonicalToJson(v, 0, MAX_SCHEMA_DEPTH, what, fail)
    if (!isObject(j)) fail('malformed', `${what}: expected an object`)
    return j
  }
  return {
    name,
    ...(f[1] !== null ? { title: str(f[1], 'title', fail, MAX_TOOL_TITLE) } : {}),
    ...(f[2] !== null ? { description: str(f[2], 'description', fail, MAX_TOOL_DESCRIPTION) } : {}),
    inputSchema: obj(f[3], 'inputSchema'),
    ...(f[4] !== null ? { outputSchema: obj(f[4], 'outputSchema') } : {}),
    ...(f[5] !== null ? { annotations: obj(f[5], 'annotations') } : {})
  }
}

/** SHA3-256 of the canonical definition. */
export function toolFingerprint (d: ToolDefinition): Uint8Array { return sha3_256(encodeDefinition(d)) }

/** Make a record (computes the fingerprint). */
export function makeToolRecord (definition: ToolDefinition, version: string, tags: readonly string[], provider: string): ToolRecord {
  try { parseSemver(version) } catch (e) { throw new RegistryCallerError(e instanceof Error ? e.message : 'bad version') }
  if (tags.length > MAX_TAGS || tags.some(t => typeof t !== 'string' || t.length === 0 || t.length > MAX_TAG_LEN)) throw new RegistryCallerError(`≤ ${MAX_TAGS} tags of 1–${MAX_TAG_LEN} characters`)
  return { definition, version, tags: [...tags], fingerprint: toolFingerprint(definition), provider }
}

export function encodeToolRecord (r: ToolRecord): Uint8Array {
  return pack([TOOL_RECORD_VERSION, encodeDefinition(r.definition), r.version, [...r.tags], r.fingerprint, r.provider])
}

export function decodeToolRecord (bytes: Uint8Array): ToolRecord {
  const f = fields(unpackCanonical(bytes, MAX_CATALOGUE_SIZE, 'tool record', fail), 6, 'tool record', fail)
  if (f[0] !== TOOL_RECORD_VERSION) fail('malformed', 'tool record: unsupported version')
  const defBytes = bin(f[1], 'definition', fail)
  const definition = decodeDefinition(defBytes)
  const version = str(f[2], 'version', fail, MAX_VERSION_LEN, 1)
  try { parseSemver(version) } catch (e) { if (e instanceof InvalidSemverError) fail('malformed', 'tool record: bad version'); throw e }
  const tags = list(f[3], 'tags', fail, MAX_TAGS).map(t => str(t, 'tag', fail, MAX_TAG_LEN, 1))
  const fingerprint = bin(f[4], 'fingerprint', fail, SHA3_256_LEN)
  if (!constantTimeEqual(fingerprint, sha3_256(defBytes))) fail('digest-mismatch', 'tool record: fingerprint is not the definition\'s hash')
  const provider = str(f[5], 'provider', fail, ADDRESS_TEXT_LEN, ADDRESS_TEXT_LEN)
  try { parseAddress(provider) } catch { fail('malformed', 'tool record: bad provider address') }
  return { definition, version, tags, fingerprint, provider }
}

/** "address/toolName@version". */
export function globalToolId (r: Pick<ToolRecord, 'provider' | 'version'> & { readonly definition: Pick<ToolDefinition, 'name'> }): string {
  return `${r.provider}/${r.definition.name}@${r.version}`
}

/** Split a global id (checks the address and the version). */
export function parseGlobalToolId (id: string): { provider: string, name: string, version: string } {
  const m = typeof id === 'string' ? /^([a-z2-7]+)\/([A-Za-z0-9_.-]{1,128})@(.+)$/.exec(id) : null
  if (m === null) return fail('malformed', 'global tool id: expected address/name@version')
  try { parseAddress(m[1]) } catch { fail('malformed', 'global tool id: bad address') }
  try { parseSemver(m[3]) } catch { fail('malformed', 'global tool id: bad version') }
  return { provider: m[1], name: m[2], version: m[3] }
}
