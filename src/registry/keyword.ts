/**
 * The keyword index — public by design (docs/registry.md).
 *
 * A listed tool is announced under each of its keywords, per period:
 *
 *   normalise(kw) = NFKC, lower-case, trim, inner whitespace runs → one space; 1–64 code points
 *   indexKey      = SHA3-256("veil-kw" | kw | INT_8(p))      DHT key "/veil-kw/" | indexKey
 *   entryKey      = SHAKE-256("veil-kw-entry-key" | kw | INT_8(p), 32)
 *   publisherKey  = blind(A, h_kw), h_kw per blinding.ts (N = "veil-kw-blind" | kw | p | length)
 *
 * SHA3-256 is fast on purpose: keywords are guessable, so a slow hash would cost every
 * honest search as much as it costs a dictionary attacker. What the index hides: who
 * searches (fetches go over circuits) and which unlisted or private tools a provider has.
 *
 * Entry (canonical msgpack, one fixed length for every entry):
 *
 *   Entry = [ version: 1, publisherKey: bin(32), revision: bin(4), expiry: bin(8),
 *             iv: bin(16), ciphertext: bin(512), nonce: bin(8), signature: bin(64) ]
 *   ciphertext = AES-256-CTR(entryKey, iv, INT_2(len) | Summary | zeros)   (512 bytes)
 *   Summary    = [ toolName, version, fingerprint: bin(32), description, address ]
 *   work       = SHA-256("veil/registry/keyword-pow/v1\0" | indexKey | publisherKey | INT_8(revision)
 *                        | INT_8(expiry) | nonce); effort = leading zero bits
 *                (the content is bound by the signature; at most one entry per publisher key
 *                 is held, so reusing work for another summary gains nothing)
 *   signature  = Ed25519_{publisherKey}(KEYWORD_SIGNING_CONTEXT | indexKey | pack(fields before signature))
 *
 * A storer (who need not know the keyword) checks the signature — which binds the index
 * key the entry is stored under — the expiry window and the work. A client that knows the
 * keyword decrypts the summary and checks publisherKey = blind(A_summary, h_kw): only the
 * address's owner can publish an entry naming that address. The ciphertext is obfuscation,
 * not secrecy: anyone who guesses the keyword reads it.
 *
 * {@link EntrySet} is a storer's set for one index key: ≤ 256 entries, ≤ 1 per publisher
 * key, lowest effort evicted first, paged in a stable order.
 */
import {
  ED25519_PUBLIC_LEN, ED25519_SIGNATURE_LEN, EXPIRY_LEN, KEYWORD_ENC_CONSTANT, KEYWORD_ENTRY_LIFETIME_SECONDS, KEYWORD_ENTRY_VERSION,
  KEYWORD_INDEX_PREFIX, KEYWORD_NAMESPACE, KEYWORD_POW_CONTEXT, KEYWORD_SIGNING_CONTEXT, LAYER_IV_LEN, MAX_ENTRIES_PER_KEY,
  MAX_ENTRY_SIZE, MAX_KEYWORD_LEN, MAX_SUMMARY_DESCRIPTION, MAX_TOOL_NAME, MAX_VERSION_LEN, MIN_KEYWORD_EFFORT, POW_NONCE_LEN,
  REVISION_LEN, SHA3_256_LEN, SUMMARY_PADDED_LEN, ADDRESS_TEXT_LEN
} from './constants.ts'
import { InvalidEntryError, RegistryCallerError } from './errors.ts'
import { bin, fields, fixedUint, pack, readFixedUint, str, unpackCanonical, type Fail } from './codec.ts'
import { blindExpandedKey, blindPublicKey, keywordBlindingFactor } from './blinding.ts'
import { parseAddress, type ProviderIdentity } from './identity.ts'
import { powEffort, solvePow } from './pow.ts'
import { DEFAULT_PERIODS, periodAt, recordLifetimeSeconds, revisionAt, type PeriodParams } from './time.ts'
import { aes256Ctr, bytesOf, concat, constantTimeEqual, ed25519Verify, int8, sha3_256, shake256, type Rng } from './primitives.ts'

const fail: Fail = (reason, message) => { throw new InvalidEntryError(reason, message) }
const KEY_PREFIX = bytesOf(`/${KEYWORD_NAMESPACE}/`)
const SIGN_CONTEXT = bytesOf(KEYWORD_SIGNING_CONTEXT)
const POW_CONTEXT = bytesOf(KEYWORD_POW_CONTEXT)
const SUMMARY_LENGTH_PREFIX = 2

/** Normalise a keyword: NFKC, lower-case, trim, collapse whitespace; 1–64 code points. */
export function normaliseKeyword (raw: string): string {
  if (typeof raw !== 'string') throw new RegistryCallerError('keyword must be a string')
  const kw = raw.normalize('NFKC').toLowerCase().trim().replace(/\s+/gu, ' ')
  const n = [...kw].length
  if (n === 0 || n > MAX_KEYWORD_LEN) throw new RegistryCallerError(`keyword must be 1–${MAX_KEYWORD_LEN} characters after normalisation`)
  return kw
}

/** indexKey = SHA3-256("veil-kw" | kw | INT_8(p)) for a normalised keyword. */
export function keywordIndexKey (keyword: string, periodNum: number): Uint8Array {
  return sha3_256(concat(bytesOf(KEYWORD_INDEX_PREFIX), bytesOf(normaliseKeyword(keyword)), int8(periodNum)))
}

export function keywordDhtKey (indexKey: Uint8Array): Uint8Array { return concat(KEY_PREFIX, indexKey) }

function entryKey (keyword: string, periodNum: number): Uint8Array {
  return shake256(concat(bytesOf(KEYWORD_ENC_CONSTANT), bytesOf(normaliseKeyword(keyword)), int8(periodNum)), 32)
}

/** What an entry announces (a listed tool's summary). */
export interface ToolSummary {
  readonly toolName: string
  readonly version: string
  readonly fingerprint: Uint8Array
  readonly description: string
  readonly address: string
}

export interface KeywordEntry {
  readonly version: number
  readonly publisherKey: Uint8Array
  readonly revision: number
  readonly expiry: number
  readonly iv: Uint8Array
  readonly ciphertext: Uint8Array
  readonly nonce: Uint8Array
  readonly signature: Uint8Array
}

function encodeSummary (s: ToolSummary): Uint8Array {
  const body = pack([s.toolName, s.version, s.fingerprint, s.description, s.address])
  if (body.length > SUMMARY_PADDED_LEN - SUMMARY_LENGTH_PREFIX) throw new RegistryCallerError('tool summary too long for an index entry')
  const out = new Uint8Array(SUMMARY_PADDED_LEN)
  new DataView(out.buffer).setUint16(0, body.length)
  out.set(body, SUMMARY_LENGTH_PREFIX)
  return out
}

function decodeSummary (padded: Uint8Array): ToolSummary {
  const n = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint16(0)
  if (n > SUMMARY_PADDED_LEN - SUMMARY_LENGTH_PREFIX) fail('malformed', 'summary: bad length')
  for (let i = SUMMARY_LENGTH_PREFIX + n; i < padded.length; i++) if (padded[i] !== 0) fail('padding', 'summary: non-zero padding')
  const f = fields(unpackCanonical(padded.subarray(SUMMARY_LENGTH_PREFIX, SUMMARY_LENGTH_PREFIX + n), SUMMARY_PADDED_LEN, 'summary', fail), 5, 'summary', fail)
  return {
    toolName: str(f[0], 'tool name', fail, MAX_TOOL_NAME, 1),
    version: str(f[1], 'version', fail, MAX_VERSION_LEN, 1),
    fingerprint: bin(f[2], 'fingerprint', fail, SHA3_256_LEN),
    description: str(f[3], 'description', fail, MAX_SUMMARY_DESCRIPTION),
    address: str(f[4], 'address', fail, ADDRESS_TEXT_LEN, ADDRESS_TEXT_LEN)
  }
}

function unsignedFields (e: Omit<KeywordEntry, 'signature'>): unknown[] {
  return [e.version, e.publisherKey, fixedUint(e.revision, REVISION_LEN), fixedUint(e.expiry, EXPIRY_LEN), e.iv, e.ciphertext, e.nonce]
}

function signingInput (indexKey: Uint8Array, e: Omit<KeywordEntry, 'signature'>): Uint8Array {
  return concat(SIGN_CONTEXT, indexKey, pack(unsignedFields(e)))
}

/** Work binds the index key, the publisher and the entry's revision and expiry (the signature binds the rest). */
function powInput (indexKey: Uint8Array, publisherKey: Uint8Array, revision: number, expiry: number): Uint8Array {
  return concat(POW_CONTEXT, indexKey, publisherKey, int8(revision), int8(expiry))
}

export function encodeEntry (e: KeywordEntry): Uint8Array {
  return pack([...unsignedFields(e), e.signature])
}

/** Structure only. Throws InvalidEntryError. */
export function decodeEntry (bytes: Uint8Array): KeywordEntry {
  const f = fields(unpackCanonical(bytes, MAX_ENTRY_SIZE, 'entry', fail), 8, 'entry', fail)
  if (f[0] !== KEYWORD_ENTRY_VERSION) fail('malformed', 'entry: unsupported version')
  return {
    version: KEYWORD_ENTRY_VERSION,
    publisherKey: bin(f[1], 'publisher key', fail, ED25519_PUBLIC_LEN),
    revision: readFixedUint(f[2], REVISION_LEN, 'revision', fail),
    expiry: readFixedUint(f[3], EXPIRY_LEN, 'expiry', fail),
    iv: bin(f[4], 'iv', fail, LAYER_IV_LEN),
    ciphertext: bin(f[5], 'ciphertext', fail, SUMMARY_PADDED_LEN),
    nonce: bin(f[6], 'nonce', fail, POW_NONCE_LEN),
    signature: bin(f[7], 'signature', fail, ED25519_SIGNATURE_LEN)
  }
}

/** The work an entry carries (leading zero bits). Cheap: one SHA-256 of ≈120 bytes. */
export function entryEffort (indexKey: Uint8Array, e: KeywordEntry): number {
  return powEffort(powInput(indexKey, e.publisherKey, e.revision, e.expiry), e.nonce)
}

export interface EntryBuildOptions {
  readonly nowMs: number
  readonly periods?: PeriodParams
  readonly period?: number
  readonly rng: Rng
  /** Leading zero bits to find (≥ MIN_KEYWORD_EFFORT). */
  readonly effort: number
  readonly lifetimeSeconds?: number
}

/** Build, prove and sign an entry announcing `summary` under `keyword`. */
export function buildEntry (id: ProviderIdentity, keyword: string, summary: ToolSummary, o: EntryBuildOptions): Uint8Array {
  const periods = o.periods ?? DEFAULT_PERIODS
  const period = o.period ?? periodAt(o.nowMs, periods)
  if (summary.address !== id.address.text) throw new RegistryCallerError('a provider announces only its own address')
  if (o.effort < MIN_KEYWORD_EFFORT) throw new RegistryCallerError(`effort below the minimum ${MIN_KEYWORD_EFFORT}`)
  const kw = normaliseKeyword(keyword)
  const indexKey = keywordIndexKey(kw, period)
  const publisher = blindExpandedKey(id.ed25519, keywordBlindingFactor(id.identityKey, kw, period, periods.lengthSeconds))
  const iv = o.rng(LAYER_IV_LEN)
  const ciphertext = aes256Ctr(entryKey(kw, period), iv, encodeSummary(summary))
  const revision = revisionAt(o.nowMs, period, periods)
  const expiry = Math.floor(o.nowMs / 1000) + (o.lifetimeSeconds ?? recordLifetimeSeconds(periods, KEYWORD_ENTRY_LIFETIME_SECONDS))
  const nonce = solvePow(powInput(indexKey, publisher.publicKey, revision, expiry), o.effort, o.rng(POW_NONCE_LEN))
  const unsigned = { version: KEYWORD_ENTRY_VERSION, publisherKey: publisher.publicKey, revision, expiry, iv, ciphertext, nonce }
  return encodeEntry({ ...unsigned, signature: publisher.sign(signingInput(indexKey, unsigned)) })
}

/** What a storer checks (it need not know the keyword). Returns the entry and its effort. */
export function validateEntry (indexKey: Uint8Array, bytes: Uint8Array, nowMs: number, periods: PeriodParams = DEFAULT_PERIODS): { entry: KeywordEntry, effort: number } {
  if (!(indexKey instanceof Uint8Array) || indexKey.length !== SHA3_256_LEN) fail('key-mismatch', 'index key must be 32 bytes')
  const e = decodeEntry(bytes)
  const now = Math.floor(nowMs / 1000)
  if (e.expiry <= now) fail('expired', 'entry expired')
  if (e.expiry > now + 2 * periods.lengthSeconds) fail('too-far-future', 'entry expiry beyond two periods')
  const effort = entryEffort(indexKey, e)
  if (effort < MIN_KEYWORD_EFFORT) fail('insufficient-work', `entry effort ${effort} below ${MIN_KEYWORD_EFFORT}`)
  if (!ed25519Verify(e.signature, signingInput(indexKey, e), e.publisherKey)) fail('bad-signature', 'entry signature does not verify (or is for another index key)')
  return { entry: e, effort }
}

export interface OpenedEntry {
  readonly summary: ToolSummary
  readonly effort: number
  readonly expiry: number
  readonly revision: number
}

/**
 * What a client checks, knowing the keyword and period: the storer's checks, then the
 * summary decrypts and parses, and the publisher key is the summary address's key
 * blinded for this keyword and period.
 */
export function openEntry (keyword: string, periodNum: number, bytes: Uint8Array, nowMs: number, periods: PeriodParams = DEFAULT_PERIODS): OpenedEntry {
  const kw = normaliseKeyword(keyword)
  const indexKey = keywordIndexKey(kw, periodNum)
  const { entry, effort } = validateEntry(indexKey, bytes, nowMs, periods)
  const summary = decodeSummary(aes256Ctr(entryKey(kw, periodNum), entry.iv, entry.ciphertext))
  let A: Uint8Array
  try { A = parseAddress(summary.address).identityKey } catch { return fail('malformed', 'summary: bad provider address') }
  const expected = blindPublicKey(A, keywordBlindingFactor(A, kw, periodNum, periods.lengthSeconds))
  if (expected === undefined || !constantTimeEqual(expected, entry.publisherKey)) fail('blinding-mismatch', 'entry was not published by the address it names')
  return { summary, effort, expiry: entry.expiry, revision: entry.revision }
}

// ---------------------------------------------------------------------------
// A storer's entry set for one index key
// ---------------------------------------------------------------------------

interface Held { bytes: Uint8Array, publisher: string, effort: number, revision: number, expiry: number }

export type OfferResult = 'added' | 'replaced' | 'evicted-other'

/**
 * ≤ MAX_ENTRIES_PER_KEY entries, ≤ 1 per publisher key. A full set admits a newcomer
 * only by evicting its lowest-effort entry (ties: the one expiring first), and only if the
 * newcomer's effort is strictly higher — so no amount of cheap junk displaces dearer work.
 * A publisher's newer revision replaces its older one. Refusals throw InvalidEntryError.
 */
export class EntrySet {
  readonly indexKey: Uint8Array
  readonly #periods: PeriodParams
  readonly #max: number
  readonly #byPublisher = new Map<string, Held>()

  constructor (indexKey: Uint8Array, periods: PeriodParams = DEFAULT_PERIODS, max = MAX_ENTRIES_PER_KEY) {
    this.indexKey = indexKey
    this.#periods = periods
    this.#max = max
  }

  get size (): number { return this.#byPublisher.size }

  /** Drop expired entries. */
  purge (nowMs: number): void {
    const now = Math.floor(nowMs / 1000)
    for (const [k, h] of this.#byPublisher) if (h.expiry <= now) this.#byPublisher.delete(k)
  }

  offer (bytes: Uint8Array, nowMs: number): OfferResult {
    const { entry, effort } = validateEntry(this.indexKey, bytes, nowMs, this.#periods)
    const publisher = Buffer.from(entry.publisherKey).toString('hex')
    const held: Held = { bytes: bytes.slice(), publisher, effort, revision: entry.revision, expiry: entry.expiry }
    const old = this.#byPublisher.get(publisher)
    if (old !== undefined) {
      if (entry.revision < old.revision || (entry.revision === old.revision && effort <= old.effort)) fail('stale', 'not newer than this publisher\'s held entry')
      this.#byPublisher.set(publisher, held)
      return 'replaced'
    }
    this.purge(nowMs)
    if (this.#byPublisher.size < this.#max) {
      this.#byPublisher.set(publisher, held)
      return 'added'
    }
    let weakest: Held | undefined
    for (const h of this.#byPublisher.values()) {
      if (weakest === undefined || h.effort < weakest.effort || (h.effort === weakest.effort && h.expiry < weakest.expiry)) weakest = h
    }
    if (weakest === undefined || effort <= weakest.effort) fail('insufficient-work', 'set full of entries with at least this effort')
    this.#byPublisher.delete(weakest.publisher)
    this.#byPublisher.set(publisher, held)
    return 'evicted-other'
  }

  /** The entry the next eviction would drop (lowest effort, then earliest expiry). */
  weakest (): { readonly publisher: string, readonly effort: number, readonly expiry: number } | undefined {
    let weakest: Held | undefined
    for (const h of this.#byPublisher.values()) {
      if (weakest === undefined || h.effort < weakest.effort || (h.effort === weakest.effort && h.expiry < weakest.expiry)) weakest = h
    }
    return weakest === undefined ? undefined : { publisher: weakest.publisher, effort: weakest.effort, expiry: weakest.expiry }
  }

  /** Whether this publisher key (hex) holds an entry here. */
  has (publisher: string): boolean { return this.#byPublisher.has(publisher) }

  /** Drop one publisher's entry (a storer's global eviction). */
  remove (publisher: string): boolean { return this.#byPublisher.delete(publisher) }

  /** Entries in a stable order (effort descending, then publisher key), from `offset`. */
  page (offset: number, limit: number): { entries: Uint8Array[], next: number | undefined } {
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1) throw new RegistryCallerError('bad page')
    const all = [...this.#byPublisher.values()].sort((a, b) => b.effort - a.effort || (a.publisher < b.publisher ? -1 : a.publisher > b.publisher ? 1 : 0))
    const slice = all.slice(offset, offset + limit)
    return { entries: slice.map(h => h.bytes), next: offset + limit < all.length ? offset + limit : undefined }
  }
}
