/**
 * The catalogue: a provider's tool records, signed by both of its long-term keys.
 *
 *   Body      = [ version: 1, provider: str (address), serial: uint, issuedAt: uint (Unix s),
 *                 tools: [ToolRecord bytes, …] ]       -- sorted by (name, semver), no duplicates
 *   Catalogue = [ body: bin, ed25519Sig: bin(64), mldsaPublicKey: bin(1952), mldsaSig: bin(3309) ]
 *   ed25519Sig = Ed25519_A(CATALOGUE_ED25519_CONTEXT | body)
 *   mldsaSig   = ML-DSA-65(ctx = CATALOGUE_MLDSA_CONTEXT, body)
 *   digest     = SHA3-256(body)     -- what the descriptor carries
 *
 * The digest covers the body, not the (hedged, hence varying) signatures, so a re-signed
 * catalogue keeps its digest. Catalogues are fetched over the rendezvous channel, never
 * stored in the DHT. A client checks: the digest equals the descriptor's, both signatures
 * verify, the ML-DSA key hashes to the address, and every record names this provider.
 * Errors: {@link InvalidCatalogueError} ('catalogue').
 */
import {
  CATALOGUE_ED25519_CONTEXT, CATALOGUE_MLDSA_CONTEXT, CATALOGUE_VERSION, ED25519_SIGNATURE_LEN, MAX_CATALOGUE_SIZE, MAX_CATALOGUE_TOOLS,
  MLDSA65_PUBLIC_LEN, MLDSA65_SIGNATURE_LEN, ADDRESS_TEXT_LEN
} from './constants.ts'
import { InvalidCatalogueError, RegistryCallerError } from './errors.ts'
import { bin, fields, list, pack, str, uint, unpackCanonical, type Fail } from './codec.ts'
import { decodeToolRecord, encodeToolRecord, type ToolRecord } from './tool.ts'
import { compareSemver, parseRange, parseSemver, satisfies } from './semver.ts'
import { parseAddress, type ProviderAddress, type ProviderIdentity } from './identity.ts'
import { bytesOf, concat, constantTimeEqual, ed25519Verify, mldsaVerify, sha3_256, type Rng } from './primitives.ts'

const fail: Fail = (reason, message) => { throw new InvalidCatalogueError('catalogue', reason, message) }

export interface Catalogue {
  readonly provider: string
  /** Increases with every change (the descriptor's catalogue version). */
  readonly serial: number
  readonly issuedAt: number
  readonly tools: readonly ToolRecord[]
}

function order (a: ToolRecord, b: ToolRecord): number {
  if (a.definition.name !== b.definition.name) return a.definition.name < b.definition.name ? -1 : 1
  return compareSemver(parseSemver(a.version), parseSemver(b.version))
}

export function encodeCatalogueBody (c: Catalogue): Uint8Array {
  if (c.tools.length > MAX_CATALOGUE_TOOLS) throw new RegistryCallerError(`at most ${MAX_CATALOGUE_TOOLS} tools`)
  const tools = [...c.tools].sort(order)
  for (let i = 1; i < tools.length; i++) if (order(tools[i - 1], tools[i]) === 0) throw new RegistryCallerError('duplicate tool name and version')
  for (const t of tools) if (t.provider !== c.provider) throw new RegistryCallerError('a catalogue lists only its own provider\'s tools')
  return pack([CATALOGUE_VERSION, c.provider, c.serial, c.issuedAt, tools.map(encodeToolRecord)])
}

export function catalogueDigest (body: Uint8Array): Uint8Array { return sha3_256(body) }

/** Sign a catalogue with both keys. Returns the bytes and the digest for the descriptor. */
export function signCatalogue (id: ProviderIdentity, c: Catalogue, rng: Rng): { bytes: Uint8Array, digest: Uint8Array } {
  if (c.provider !== id.address.text) throw new RegistryCallerError('catalogue provider is not this identity')
  const body = encodeCatalogueBody(c)
  const edSig = id.ed25519.sign(concat(bytesOf(CATALOGUE_ED25519_CONTEXT), body))
  const pqSig = id.mldsa.sign(body, CATALOGUE_MLDSA_CONTEXT, rng)
  const bytes = pack([body, edSig, id.mldsa.publicKey, pqSig])
  if (bytes.length > MAX_CATALOGUE_SIZE) throw new RegistryCallerError('catalogue too large')
  return { bytes, digest: catalogueDigest(body) }
}

/** Verify a catalogue fetched from `address`, optionally against the descriptor's digest. */
export function verifyCatalogue (address: string | ProviderAddress, bytes: Uint8Array, expectedDigest?: Uint8Array): Catalogue {
  const addr = typeof address === 'string' ? parseAddress(address) : address
  const f = fields(unpackCanonical(bytes, MAX_CATALOGUE_SIZE, 'catalogue', fail), 4, 'catalogue', fail)
  const body = bin(f[0], 'catalogue body', fail)
  const edSig = bin(f[1], 'Ed25519 signature', fail, ED25519_SIGNATURE_LEN)
  const pqKey = bin(f[2], 'ML-DSA key', fail, MLDSA65_PUBLIC_LEN)
  const pqSig = bin(f[3], 'ML-DSA signature', fail, MLDSA65_SIGNATURE_LEN)
  if (expectedDigest !== undefined && !constantTimeEqual(catalogueDigest(body), expectedDigest)) fail('digest-mismatch', 'catalogue does not match the descriptor\'s digest')
  if (!constantTimeEqual(sha3_256(pqKey), addr.pqKeyHash)) fail('pq-key-mismatch', 'catalogue ML-DSA key does not hash to the address')
  if (!ed25519Verify(edSig, concat(bytesOf(CATALOGUE_ED25519_CONTEXT), body), addr.identityKey)) fail('bad-signature', 'catalogue Ed25519 signature')
  if (!mldsaVerify(pqSig, body, pqKey, CATALOGUE_MLDSA_CONTEXT)) fail('bad-pq-signature', 'catalogue ML-DSA signature')
  const b = fields(unpackCanonical(body, MAX_CATALOGUE_SIZE, 'catalogue body', fail), 5, 'catalogue body', fail)
  if (b[0] !== CATALOGUE_VERSION) fail('malformed', 'catalogue: unsupported version')
  const provider = str(b[1], 'provider', fail, ADDRESS_TEXT_LEN, ADDRESS_TEXT_LEN)
  if (provider !== addr.text) fail('key-mismatch', 'catalogue names another provider')
  const tools = list(b[4], 'tools', fail, MAX_CATALOGUE_TOOLS).map(t => decodeToolRecord(bin(t, 'tool record', fail)))
  for (let i = 0; i < tools.length; i++) {
    if (tools[i].provider !== provider) fail('key-mismatch', 'a tool record names another provider')
    if (i > 0 && order(tools[i - 1], tools[i]) >= 0) fail('non-canonical', 'tools not sorted or duplicated')
  }
  return { provider, serial: uint(b[2], 'serial', fail), issuedAt: uint(b[3], 'issuedAt', fail), tools }
}

/** Tools named `name` whose version satisfies `range`, highest version first. */
export function findTools (c: Catalogue, name: string, range = '*'): ToolRecord[] {
  const r = parseRange(range)
  return c.tools.filter(t => t.definition.name === name && satisfies(t.version, r)).sort((a, b) => -order(a, b))
}
