/**
 * Remote tool definitions, search hits and call results are input from strangers. This
 * module is the only door through which they reach a model, and it is pure (no I/O).
 *
 * Defends against:
 * - oversized fields flooding a model's context or a client's memory (a bound on every
 *   field, on schema size and depth, on tools per provider, on result size);
 * - hidden text in names, titles and descriptions (control characters, bidi overrides,
 *   zero-width characters and Unicode "tag" characters — the ASCII-smuggling trick — are
 *   removed before anything is shown);
 * - invalid or unresolvable JSON Schemas (each is compiled with ajv; a schema that does not
 *   compile, or references anything outside itself, drops that tool);
 * - deanonymising side channels in definitions: remote `icons` (URLs a client would fetch
 *   directly, bypassing the overlay) and remote `_meta` are dropped;
 * - annotations used as a security signal: only the five standard hints (and a title) are
 *   kept, for display; Veil trusts them for nothing but the retry policy, where a lying
 *   provider can only cause its own tool to run twice.
 *
 * Does not defend against: a description that is well-formed but misleading (it is shown
 *   with an "unverified provider" prefix; the model must still judge it), or result content
 *   (passed through unchanged by design; it may contain links a client would fetch).
 *
 * The fingerprint of a tool is SHA-256 over the canonical JSON (sorted keys) of what is
 * shown — name, title, description, schemas, annotations, version — so key order or
 * protocol era never changes it, and any change a user would care about does.
 */
import { createHash } from 'node:crypto'
import { Ajv, type AnySchema } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { isCallToolResult } from '@modelcontextprotocol/server'
import {
  REMOTE_DESCRIPTION_MAX, REMOTE_JSON_MAX_DEPTH, REMOTE_NAME_MAX, REMOTE_SCHEMA_MAX_BYTES,
  REMOTE_TITLE_MAX, REMOTE_VERSION_MAX, REMOTE_VERSION_PATTERN, RESULT_MAX_BYTES
} from './constants.ts'
import { RemoteDefinitionError } from './errors.ts'

export const ANNOTATION_HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const

export interface SafeAnnotations {
  readonly title?: string
  readonly readOnlyHint?: boolean
  readonly destructiveHint?: boolean
  readonly idempotentHint?: boolean
  readonly openWorldHint?: boolean
}

/** A remote tool that passed every check. `name` is the provider's own name, bounded but not renamed. */
export interface SafeTool {
  readonly name: string
  readonly title?: string
  readonly description?: string
  readonly inputSchema: Record<string, unknown>
  readonly outputSchema?: Record<string, unknown>
  readonly annotations?: SafeAnnotations
  readonly version: string
  readonly fingerprint: string
}

export interface SafeSearchHit {
  readonly address: string
  readonly name: string
  readonly version?: string
  readonly title?: string
  readonly description?: string
  readonly verified: boolean
}

/** Search hit descriptions are shorter than catalogue ones: many are shown at once. */
export const SEARCH_DESCRIPTION_MAX = 300
export const ADDRESS_MAX = 256
/** Addresses are printable ASCII without spaces or slashes (the `/` separates address and tool in a reference). */
export const ADDRESS_PATTERN = /^[\x21-\x2e\x30-\x7e]{1,256}$/

// C0/C1 controls except \t \n; bidi embeddings/overrides/isolates and marks; zero-width and BOM; Unicode tag characters.
// eslint-disable-next-line no-control-regex
const HIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g

/** Removes hidden characters, normalises to NFC, bounds the length (by code points, never splitting a pair). */
export function cleanText (value: string, max: number): string {
  const cleaned = value.normalize('NFC').replace(HIDDEN, '')
  const chars = Array.from(cleaned)
  return chars.length <= max ? cleaned : chars.slice(0, max - 1).join('') + '…'
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype

/** Depth of a JSON value; stops counting past `limit`. */
function depthExceeds (value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (d > limit) return true
    if (typeof v === 'object' && v !== null) {
      for (const child of Object.values(v)) stack.push([child, d + 1])
    }
  }
  return false
}

/** Canonical JSON: object keys sorted, no whitespace. */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function sha256Hex (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

const DRAFT_2020 = new Set(['https://json-schema.org/draft/2020-12/schema', 'https://json-schema.org/draft/2020-12/schema#'])
const DRAFT_07 = new Set(['http://json-schema.org/draft-07/schema', 'http://json-schema.org/draft-07/schema#'])
// One instance per dialect; `addUsedSchema: false` keeps remote `$id`s out of the shared registry.
const ajvOptions = { strict: false, logger: false as const, addUsedSchema: false, validateFormats: false, allErrors: false }
const ajv2020 = new Ajv2020(ajvOptions)
const ajv07 = new Ajv(ajvOptions)

/** Throws RemoteDefinitionError unless `schema` is a bounded, compilable JSON Schema object. */
export function checkSchema (schema: unknown, what: string, requireObjectRoot: boolean): Record<string, unknown> {
  if (!isPlainObject(schema)) throw new RemoteDefinitionError(`${what} is not a JSON object`)
  let text: string
  try { text = JSON.stringify(schema) } catch { throw new RemoteDefinitionError(`${what} is not JSON`) }
  if (Buffer.byteLength(text) > REMOTE_SCHEMA_MAX_BYTES) throw new RemoteDefinitionError(`${what} is larger than ${REMOTE_SCHEMA_MAX_BYTES} bytes`)
  if (depthExceeds(schema, REMOTE_JSON_MAX_DEPTH)) throw new RemoteDefinitionError(`${what} is nested deeper than ${REMOTE_JSON_MAX_DEPTH}`)
  if (requireObjectRoot && schema.type !== 'object') throw new RemoteDefinitionError(`${what} must have type "object" at its root`)
  const dialect = schema.$schema
  const engine = dialect === undefined || (typeof dialect === 'string' && DRAFT_2020.has(dialect))
    ? ajv2020
    : typeof dialect === 'string' && DRAFT_07.has(dialect) ? ajv07 : undefined
  if (engine === undefined) throw new RemoteDefinitionError(`${what} uses an unsupported $schema dialect`)
  // Work on a copy: ajv must never see (or keep) the object we go on to serve.
  const copy = JSON.parse(text) as Record<string, unknown>
  try {
    engine.compile(copy as AnySchema)
  } catch (err) {
    throw new RemoteDefinitionError(`${what} does not compile: ${cleanText(err instanceof Error ? err.message : String(err), 200)}`)
  }
  return JSON.parse(text) as Record<string, unknown>
}

function checkAnnotations (value: unknown): SafeAnnotations | undefined {
  if (!isPlainObject(value)) return undefined
  const out: Record<string, unknown> = {}
  if (typeof value.title === 'string') out.title = cleanText(value.title, REMOTE_TITLE_MAX)
  for (const hint of ANNOTATION_HINTS) if (typeof value[hint] === 'boolean') out[hint] = value[hint]
  return Object.keys(out).length === 0 ? undefined : out as SafeAnnotations
}

/**
 * Parses one untrusted tool definition. Throws RemoteDefinitionError if it cannot be
 * shown safely; `fallbackVersion` is used when the provider sent none.
 */
export function parseRemoteTool (raw: unknown, fallbackVersion = '0'): SafeTool {
  if (!isPlainObject(raw)) throw new RemoteDefinitionError('tool definition is not an object')
  const name = raw.name
  if (typeof name !== 'string' || name.length === 0 || name.length > REMOTE_NAME_MAX) throw new RemoteDefinitionError('tool name missing or longer than 128 characters')
  if (cleanText(name, REMOTE_NAME_MAX + 1) !== name) throw new RemoteDefinitionError('tool name contains hidden or control characters')
  const title = typeof raw.title === 'string' ? cleanText(raw.title, REMOTE_TITLE_MAX) : undefined
  const description = typeof raw.description === 'string' ? cleanText(raw.description, REMOTE_DESCRIPTION_MAX) : undefined
  const inputSchema = checkSchema(raw.inputSchema, 'inputSchema', true)
  const outputSchema = raw.outputSchema === undefined ? undefined : checkSchema(raw.outputSchema, 'outputSchema', false)
  const annotations = checkAnnotations(raw.annotations)
  let version = fallbackVersion
  if (raw.version !== undefined) {
    if (typeof raw.version !== 'string' || raw.version.length > REMOTE_VERSION_MAX || !REMOTE_VERSION_PATTERN.test(raw.version)) throw new RemoteDefinitionError('version is not a short version string')
    version = raw.version
  }
  const shown = {
    name,
    ...(title !== undefined && title !== '' && { title }),
    ...(description !== undefined && description !== '' && { description }),
    inputSchema,
    ...(outputSchema !== undefined && { outputSchema }),
    ...(annotations !== undefined && { annotations }),
    version
  }
  return { ...shown, fingerprint: `sha256:${sha256Hex(canonicalJson(shown))}` }
}

export function parseSearchHit (raw: unknown): SafeSearchHit | undefined {
  if (!isPlainObject(raw)) return undefined
  const { address, name } = raw
  if (typeof address !== 'string' || !ADDRESS_PATTERN.test(address)) return undefined
  if (typeof name !== 'string' || name.length === 0 || name.length > REMOTE_NAME_MAX || cleanText(name, REMOTE_NAME_MAX + 1) !== name) return undefined
  const version = typeof raw.version === 'string' && REMOTE_VERSION_PATTERN.test(raw.version) ? raw.version : undefined
  const title = typeof raw.title === 'string' ? cleanText(raw.title, REMOTE_TITLE_MAX) : undefined
  const description = typeof raw.description === 'string' ? cleanText(raw.description, SEARCH_DESCRIPTION_MAX) : undefined
  return {
    address,
    name,
    ...(version !== undefined && { version }),
    ...(title !== undefined && title !== '' && { title }),
    ...(description !== undefined && description !== '' && { description }),
    verified: raw.verified === true
  }
}

export type ParsedResult =
  | { readonly ok: true, readonly result: { content: unknown[], structuredContent?: unknown, isError?: boolean }, readonly bytes: number }
  | { readonly ok: false, readonly reason: string }

/**
 * Checks an untrusted call result: a valid CallToolResult, at most RESULT_MAX_BYTES.
 * `content`, `structuredContent` and `isError` pass through unchanged; the remote `_meta`
 * (which could carry anything, including `io.modelcontextprotocol/*` keys that belong to
 * the bridge's own protocol layer) is dropped.
 */
export function parseRemoteResult (raw: unknown): ParsedResult {
  if (!isPlainObject(raw)) return { ok: false, reason: 'the provider returned something that is not a result object' }
  let bytes: number
  try { bytes = Buffer.byteLength(JSON.stringify(raw)) } catch { return { ok: false, reason: 'the provider returned a result that is not JSON' } }
  if (bytes > RESULT_MAX_BYTES) return { ok: false, reason: `the provider's result is ${bytes} bytes, more than the ${RESULT_MAX_BYTES}-byte limit` }
  if (!isCallToolResult(raw)) return { ok: false, reason: 'the provider returned a malformed tool result' }
  const content = Array.isArray(raw.content) ? raw.content : []
  return {
    ok: true,
    bytes,
    result: {
      content,
      ...('structuredContent' in raw && raw.structuredContent !== undefined && { structuredContent: raw.structuredContent }),
      ...(typeof raw.isError === 'boolean' && { isError: raw.isError })
    }
  }
}
