/**
 * Provider descriptors: build (provider), validate and select (storer), open (client).
 *
 * Outer record — all a storer sees. Canonical msgpack:
 *
 *   Outer = [ version: 1, blindedKey: bin(32) (A'_p), replica: uint (0 … R−1),
 *             revision: bin(4) (big-endian seconds), expiry: bin(8) (big-endian Unix seconds),
 *             ciphertext: bin (the inner layer, layer.ts), signature: bin(64) ]
 *   signature = Ed25519_{A'_p}(OUTER_SIGNING_CONTEXT | pack([version, blindedKey, replica, revision, expiry, ciphertext]))
 *
 * Numbers travel fixed-width, and the inner plaintext is padded to 4 KiB, so two
 * descriptors with the same number of introduction points have the same length whoever
 * publishes them. Storage key (Tor's hs_index):
 *
 *   storageKey = SHA3-256("store-at-idx" | A'_p | INT_8(replica) | INT_8(period_length) | INT_8(period_num))
 *   DHT key    = "/veil-desc/" | storageKey
 *
 * The storer's validator needs no address: the key/A'_p binding (for a period within one
 * of its own clock's), the outer signature, expiry ∈ (now, now + 2 periods], and the size.
 * A client's {@link openDescriptor} also checks A'_p = blind(A, p), decrypts the inner
 * layer with the subcredential, checks the ML-DSA key against the address and the ML-DSA
 * signature, and the introduction points' certificates.
 *
 * Not here: where the storers are (placement over the directory), STORE/FETCH over
 * circuits, the introduction protocol.
 */
import {
  DESCRIPTOR_COOKIE_LEN, DESCRIPTOR_NAMESPACE, DESCRIPTOR_REPLICAS, ED25519_PUBLIC_LEN, ED25519_SIGNATURE_LEN,
  EXPIRY_LEN, INNER_LAYER_CONSTANT, INNER_MLDSA_CONTEXT, MAX_DESCRIPTOR, OUTER_SIGNING_CONTEXT, OUTER_VERSION, PRIVATE_LAYER_CONSTANT, PRIVATE_ACCESS_CONSTANT, PRIVATE_ACCESS_TOKEN_LEN,
  REVISION_LEN, SHA3_256_LEN, STORE_AT_INDEX_PREFIX
} from './constants.ts'
import { InvalidDescriptorError, RegistryCallerError } from './errors.ts'
import { bin, fields, fixedUint, pack, readFixedUint, uint, unpackCanonical, type Fail } from './codec.ts'
import { blindExpandedKey, blindPublicKey, blindingFactor, subcredential } from './blinding.ts'
import { parseAddress, type ProviderAddress, type ProviderIdentity } from './identity.ts'
import { decryptLayer, encryptLayer } from './layer.ts'
import {
  decodeInnerBody, decodeInnerPlaintext, decodePrivateContent, encodeInnerBody, encodeInnerPlaintext, encodePrivateContent,
  innerSignedMessage, introCertMessage, type InnerContent, type IntroPoint, type PowParams, type CatalogueRef, type Reach,
  type PrivateContent
} from './inner.ts'
import { buildAuthSection, openAuthSection, type AuthorizedClient, type ClientAuthKey } from './client-auth.ts'
import { DEFAULT_PERIODS, periodAt, periodStartSeconds, recordLifetimeSeconds, revisionAt, type PeriodParams } from './time.ts'
import { bytesOf, concat, constantTimeEqual, ed25519Verify, int8, mldsaVerify, sha3_256, shake256, type Rng, ExpandedEd25519Key } from './primitives.ts'
import { observeSecret } from '../overlay/secret-observer.ts'

const fail: Fail = (reason, message) => { throw new InvalidDescriptorError(reason, message) }
const OUTER_CONTEXT = bytesOf(OUTER_SIGNING_CONTEXT)
const KEY_PREFIX = bytesOf(`/${DESCRIPTOR_NAMESPACE}/`)

export interface OuterDescriptor {
  readonly version: number
  readonly blindedKey: Uint8Array
  readonly replica: number
  /** Seconds since the period before the descriptor's period began (time.ts revisionAt). */
  readonly revision: number
  /** Unix seconds. */
  readonly expiry: number
  readonly ciphertext: Uint8Array
  readonly signature: Uint8Array
}

// ---------------------------------------------------------------------------
// Storage keys
// ---------------------------------------------------------------------------

/** hs_index: SHA3-256("store-at-idx" | A'_p | INT_8(replica) | INT_8(period_length) | INT_8(period_num)). */
export function storageKey (blindedKey: Uint8Array, replica: number, periodNum: number, periodLength: number): Uint8Array {
  return sha3_256(concat(bytesOf(STORE_AT_INDEX_PREFIX), blindedKey, int8(replica), int8(periodLength), int8(periodNum)))
}

/** The kad-dht key "/veil-desc/" | storageKey. */
export function descriptorDhtKey (storage: Uint8Array): Uint8Array {
  return concat(KEY_PREFIX, storage)
}

// ---------------------------------------------------------------------------
// Outer codec
// ---------------------------------------------------------------------------

function outerBody (d: Omit<OuterDescriptor, 'signature'>): Uint8Array {
  return pack([d.version, d.blindedKey, d.replica, fixedUint(d.revision, REVISION_LEN), fixedUint(d.expiry, EXPIRY_LEN), d.ciphertext])
}

function outerSigningInput (d: Omit<OuterDescriptor, 'signature'>): Uint8Array {
  return concat(OUTER_CONTEXT, outerBody(d))
}

export function encodeOuter (d: OuterDescriptor): Uint8Array {
  return pack([d.version, d.blindedKey, d.replica, fixedUint(d.revision, REVISION_LEN), fixedUint(d.expiry, EXPIRY_LEN), d.ciphertext, d.signature])
}

/** Structure only (no signature check). Throws InvalidDescriptorError. */
export function decodeOuter (bytes: Uint8Array): OuterDescriptor {
  const f = fields(unpackCanonical(bytes, MAX_DESCRIPTOR, 'descriptor', fail), 7, 'descriptor', fail)
  if (f[0] !== OUTER_VERSION) fail('malformed', 'descriptor: unsupported version')
  return {
    version: OUTER_VERSION,
    blindedKey: bin(f[1], 'blinded key', fail, ED25519_PUBLIC_LEN),
    replica: uint(f[2], 'replica', fail, DESCRIPTOR_REPLICAS - 1),
    revision: readFixedUint(f[3], REVISION_LEN, 'revision', fail),
    expiry: readFixedUint(f[4], EXPIRY_LEN, 'expiry', fail),
    ciphertext: bin(f[5], 'ciphertext', fail),
    signature: bin(f[6], 'signature', fail, ED25519_SIGNATURE_LEN)
  }
}

// ---------------------------------------------------------------------------
// Storer side: validator and selector
// ---------------------------------------------------------------------------

/** The periods a record may belong to, seen from `nowMs`: previous, current and next. */
function candidatePeriods (nowMs: number, periods: PeriodParams): number[] {
  const p = periodAt(nowMs, periods)
  return p > 0 ? [p, p + 1, p - 1] : [p, p + 1]
}

function checkExpiry (expiry: number, nowMs: number, periods: PeriodParams): void {
  const now = Math.floor(nowMs / 1000)
  if (expiry <= now) fail('expired', 'descriptor expired')
  if (expiry > now + 2 * periods.lengthSeconds) fail('too-far-future', 'descriptor expiry beyond two periods')
}

/**
 * Everything a storer can check. `key` is the full DHT key. Returns the decoded record
 * and the period it belongs to; throws InvalidDescriptorError.
 */
export function validateStoredDescriptor (key: Uint8Array, value: Uint8Array, nowMs: number, periods: PeriodParams = DEFAULT_PERIODS): { outer: OuterDescriptor, period: number } {
  if (!(value instanceof Uint8Array) || value.length > MAX_DESCRIPTOR) fail('too-large', `descriptor over ${MAX_DESCRIPTOR} bytes`)
  const d = decodeOuter(value)
  let period: number | undefined
  for (const p of candidatePeriods(nowMs, periods)) {
    if (constantTimeEqual(descriptorDhtKey(storageKey(d.blindedKey, d.replica, p, periods.lengthSeconds)), key)) { period = p; break }
  }
  if (period === undefined) fail('key-mismatch', 'descriptor is not stored under its own storage key for a current period')
  if (!ed25519Verify(d.signature, outerSigningInput(d), d.blindedKey)) fail('bad-signature', 'outer signature does not verify under A\'_p')
  checkExpiry(d.expiry, nowMs, periods)
  return { outer: d, period }
}

/** kad-dht validator for the `veil-desc` namespace. */
export function descriptorValidator (clock: { now(): number }, periods: PeriodParams = DEFAULT_PERIODS) {
  return async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    validateStoredDescriptor(key, value, clock.now(), periods)
  }
}

/** kad-dht selector: the highest revision among parseable records wins (ties: the first). */
export function descriptorSelector (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  let bestRev = -1
  records.forEach((r, i) => {
    try {
      const rev = decodeOuter(r).revision
      if (rev > bestRev) { best = i; bestRev = rev }
    } catch { /* unparseable records never win */ }
  })
  return best
}

// ---------------------------------------------------------------------------
// Provider side
// ---------------------------------------------------------------------------

/** An introduction point before certification: the provider's fresh keys for it. */
export interface IntroPointKeys {
  readonly relay: Uint8Array
  readonly linkSpecifiers: readonly Uint8Array[]
  readonly authKey: Uint8Array
  readonly encX25519: Uint8Array
  readonly encMlKem: Uint8Array
}

export type ReachSpec =
  | { readonly mode: 'hidden', readonly introPoints: readonly IntroPointKeys[] }
  | { readonly mode: 'public', readonly relay: Uint8Array }

export interface BuildOptions {
  readonly nowMs: number
  /** Defaults to the current period; the next one is also legal (publish ahead). */
  readonly period?: number
  readonly periods?: PeriodParams
  readonly rng: Rng
  readonly reach: ReachSpec
  readonly pow: PowParams | null
  readonly catalogue: CatalogueRef
  /** Private tools: the clients allowed to read the private layer, and its content. */
  readonly authorizedClients?: readonly AuthorizedClient[]
  readonly privateContent?: { readonly catalogue: CatalogueRef, readonly introPoints: readonly IntroPointKeys[] }
  readonly lifetimeSeconds?: number
}

export interface BuiltRecord {
  readonly replica: number
  readonly storageKey: Uint8Array
  readonly dhtKey: Uint8Array
  readonly bytes: Uint8Array
}

export interface BuiltDescriptor {
  readonly period: number
  readonly blindedKey: Uint8Array
  readonly revision: number
  readonly expiry: number
  readonly records: readonly BuiltRecord[]
  /** The token authorised clients will show for private tools (a secret: the provider keeps it while the descriptor lives). */
  readonly accessToken: Uint8Array
}

function certify (blinded: ExpandedEd25519Key, ip: IntroPointKeys): IntroPoint {
  return { ...ip, authKeyCert: blinded.sign(introCertMessage(ip.authKey, ip.encX25519, ip.encMlKem)) }
}

/** Build and sign one descriptor (one record per replica) for a period. */
export function buildDescriptor (id: ProviderIdentity, o: BuildOptions): BuiltDescriptor {
  const periods = o.periods ?? DEFAULT_PERIODS
  const period = o.period ?? periodAt(o.nowMs, periods)
  const revision = revisionAt(o.nowMs, period, periods)
  const lifetime = o.lifetimeSeconds ?? recordLifetimeSeconds(periods)
  const expiry = Math.min(Math.floor(o.nowMs / 1000) + lifetime, periodStartSeconds(period + 1, periods) + lifetime)
  const h = blindingFactor(id.identityKey, period, periods.lengthSeconds)
  const blinded = blindExpandedKey(id.ed25519, h)
  const A = id.identityKey
  const subcred = subcredential(A, blinded.publicKey)

  const reach: Reach = o.reach.mode === 'hidden'
    ? { mode: 'hidden', introPoints: o.reach.introPoints.map(ip => certify(blinded, ip)) }
    : { mode: 'public', relay: o.reach.relay }
  const content: InnerContent = { reach, pow: o.pow, catalogue: o.catalogue }

  // Auth section and private layer: always present (fakes only without private tools).
  const cookie = o.rng(DESCRIPTOR_COOKIE_LEN)
  const auth = buildAuthSection(o.authorizedClients ?? [], cookie, subcred, o.rng)
  const priv: PrivateContent = o.privateContent === undefined
    ? { catalogue: { digest: new Uint8Array(SHA3_256_LEN), version: 0 }, introPoints: [] }
    : { catalogue: o.privateContent.catalogue, introPoints: o.privateContent.introPoints.map(ip => certify(blinded, ip)) }
  const privateLayer = encryptLayer({ secretData: concat(blinded.publicKey, cookie), subcredential: subcred, revision, constant: PRIVATE_LAYER_CONSTANT }, encodePrivateContent(priv), o.rng)
  const accessToken = privateAccessToken(blinded.publicKey, cookie)
  cookie.fill(0)

  const body = encodeInnerBody(content, auth, privateLayer)
  const mldsaSignature = id.mldsa.sign(innerSignedMessage(blinded.publicKey, revision, expiry, body), INNER_MLDSA_CONTEXT, o.rng)
  const plaintext = encodeInnerPlaintext({ body, mldsaPublicKey: id.mldsa.publicKey, mldsaSignature })
  const ciphertext = encryptLayer({ secretData: blinded.publicKey, subcredential: subcred, revision, constant: INNER_LAYER_CONSTANT }, plaintext, o.rng)

  const records: BuiltRecord[] = []
  for (let replica = 0; replica < DESCRIPTOR_REPLICAS; replica++) {
    const unsigned = { version: OUTER_VERSION, blindedKey: blinded.publicKey, replica, revision, expiry, ciphertext }
    const bytes = encodeOuter({ ...unsigned, signature: blinded.sign(outerSigningInput(unsigned)) })
    if (bytes.length > MAX_DESCRIPTOR) throw new RegistryCallerError(`descriptor is ${bytes.length} bytes, over ${MAX_DESCRIPTOR}`)
    const sk = storageKey(blinded.publicKey, replica, period, periods.lengthSeconds)
    records.push({ replica, storageKey: sk, dhtKey: descriptorDhtKey(sk), bytes })
  }
  return { period, blindedKey: blinded.publicKey, revision, expiry, records, accessToken }
}

/** What an authorised client shows the provider for private tools (constants.ts PRIVATE_ACCESS_CONSTANT). */
export function privateAccessToken (blindedKey: Uint8Array, cookie: Uint8Array): Uint8Array {
  const t = shake256(concat(bytesOf(PRIVATE_ACCESS_CONSTANT), blindedKey, cookie), PRIVATE_ACCESS_TOKEN_LEN)
  observeSecret('private-access', t)
  return t
}

// ---------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------

export interface OpenOptions {
  readonly periods?: PeriodParams
  /** Refuse records older than one already seen for this blinded key (replay of a stale descriptor). */
  readonly minRevision?: number
  /** The client's authorisation key for this provider, if any. */
  readonly clientAuth?: ClientAuthKey
}

export interface OpenedDescriptor {
  readonly period: number
  readonly blindedKey: Uint8Array
  readonly revision: number
  readonly expiry: number
  readonly reach: Reach
  readonly pow: PowParams | null
  readonly catalogue: CatalogueRef
  readonly mldsaPublicKey: Uint8Array
  /** Present when `clientAuth` was given and this client is authorised. */
  readonly private?: PrivateContent
  /** With `private`: the token that shows the provider this client is authorised (a bearer secret: never log it). */
  readonly accessToken?: Uint8Array
}

function checkIntroCerts (ips: readonly IntroPoint[], blindedKey: Uint8Array): void {
  for (const ip of ips) {
    if (!ed25519Verify(ip.authKeyCert, introCertMessage(ip.authKey, ip.encX25519, ip.encMlKem), blindedKey)) {
      fail('bad-signature', 'introduction point certificate does not verify under A\'_p')
    }
  }
}

/**
 * Everything a client checks before trusting a descriptor fetched for `address`:
 * A'_p = blind(A, p) for p ∈ {current, next, previous}, the outer signature, the
 * expiry window, the inner MAC, ML-DSA key hash = the address's, the ML-DSA signature,
 * and every introduction point certificate. Returns the inner contents or throws
 * InvalidDescriptorError (or InvalidAddressError for a bad address) with a reason.
 */
export function openDescriptor (address: string | ProviderAddress, bytes: Uint8Array, nowMs: number, o: OpenOptions = {}): OpenedDescriptor {
  const periods = o.periods ?? DEFAULT_PERIODS
  const addr = typeof address === 'string' ? parseAddress(address) : address
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_DESCRIPTOR) fail('too-large', 'descriptor too large')
  const d = decodeOuter(bytes)
  const A = addr.identityKey
  let period: number | undefined
  for (const p of candidatePeriods(nowMs, periods)) {
    const expected = blindPublicKey(A, blindingFactor(A, p, periods.lengthSeconds))
    if (expected !== undefined && constantTimeEqual(expected, d.blindedKey)) { period = p; break }
  }
  if (period === undefined) fail('blinding-mismatch', 'A\'_p is not this address\'s blinded key for a current period')
  if (!ed25519Verify(d.signature, outerSigningInput(d), d.blindedKey)) fail('bad-signature', 'outer signature does not verify')
  checkExpiry(d.expiry, nowMs, periods)
  if (o.minRevision !== undefined && d.revision < o.minRevision) fail('stale', 'older than a descriptor already seen')

  const subcred = subcredential(A, d.blindedKey)
  const plaintext = decryptLayer({ secretData: d.blindedKey, subcredential: subcred, revision: d.revision, constant: INNER_LAYER_CONSTANT }, d.ciphertext, fail)
  const inner = decodeInnerPlaintext(plaintext)
  if (!constantTimeEqual(sha3_256(inner.mldsaPublicKey), addr.pqKeyHash)) fail('pq-key-mismatch', 'ML-DSA key does not hash to the address')
  if (!mldsaVerify(inner.mldsaSignature, innerSignedMessage(d.blindedKey, d.revision, d.expiry, inner.body), inner.mldsaPublicKey, INNER_MLDSA_CONTEXT)) {
    fail('bad-pq-signature', 'ML-DSA signature over the inner layer does not verify')
  }
  const body = decodeInnerBody(inner.body)
  if (body.reach.mode === 'hidden') checkIntroCerts(body.reach.introPoints, d.blindedKey)

  let priv: PrivateContent | undefined
  let accessToken: Uint8Array | undefined
  if (o.clientAuth !== undefined) {
    for (const cookie of openAuthSection(body.auth, o.clientAuth, subcred)) {
      try {
        const content = decryptLayer({ secretData: concat(d.blindedKey, cookie), subcredential: subcred, revision: d.revision, constant: PRIVATE_LAYER_CONSTANT }, body.auth.privateLayer, fail)
        priv = decodePrivateContent(content)
        checkIntroCerts(priv.introPoints, d.blindedKey)
        accessToken = privateAccessToken(d.blindedKey, cookie)
        break
      } catch (err) {
        if (!(err instanceof InvalidDescriptorError) || err.reason !== 'decrypt') throw err
      }
    }
  }
  return {
    period,
    blindedKey: d.blindedKey,
    revision: d.revision,
    expiry: d.expiry,
    reach: body.reach,
    pow: body.pow,
    catalogue: body.catalogue,
    mldsaPublicKey: inner.mldsaPublicKey,
    ...(priv !== undefined ? { private: priv, accessToken } : {})
  }
}
