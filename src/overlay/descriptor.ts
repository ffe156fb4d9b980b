/**
 * Relay descriptors: what a relay says about itself, signed with its identity key.
 *
 * Wire form (msgpack, canonical: arrays only, fixed field order, re-encoding must give
 * the same bytes):
 *
 *   SignedDescriptor = [ body: bin, signature: bin(64) ]
 *   body = [ version: uint (=1),
 *            peerId: bin          -- the relay's libp2p peer id (identity multihash of its Ed25519 key)
 *            addrs: [bin, …]      -- multiaddr bytes, ≤ 8
 *            onionKeys: [[pub: bin(32), validFrom: uint ms, validUntil: uint ms], …]   -- ≤ 4
 *            family: [str, …]     -- declared family (peer ids as strings), ≤ 16
 *            protocols: [str, …]  -- e.g. "/veil/link/1.0.0", "cell/1"
 *            bandwidth: uint      -- self-reported bytes/s (a claim: may only lower a weight)
 *            published: uint ms, expires: uint ms ]
 *   signature = Ed25519(identity key, DESCRIPTOR_SIGNING_CONTEXT || body)
 *
 * DHT key: "/veil-relay/" || peerId multihash bytes. The validator below checks the
 * key/peer-id binding, the signature, the size and the time window; the selector keeps
 * the newest valid descriptor.
 *
 * Pure functions except `signDescriptor`/`verify…`, which only compute. No I/O here.
 * Not here: fetching or storing descriptors (directory.ts, dir-protocol.ts).
 */
import { Packr } from 'msgpackr'
import { peerIdFromMultihash, peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import {
  DESCRIPTOR_NAMESPACE, DESCRIPTOR_SIGNING_CONTEXT, DESCRIPTOR_VERSION, MAX_CLOCK_SKEW_MS, MAX_DESCRIPTOR_ADDRS,
  MAX_DESCRIPTOR_LIFETIME_MS, MAX_DESCRIPTOR_SIZE, MAX_FAMILY, MAX_MULTIADDR_BYTES, MAX_ONION_KEYS, MAX_PROTOCOLS,
  MAX_PROTOCOL_NAME, X25519_KEY_LEN
} from './constants.ts'
import { InvalidDescriptorError } from './errors.ts'

export interface OnionKeyInfo {
  publicKey: Uint8Array
  validFrom: number
  validUntil: number
}

export interface RelayDescriptor {
  version: number
  peerId: PeerId
  addrs: Multiaddr[]
  onionKeys: OnionKeyInfo[]
  family: string[]
  protocols: string[]
  bandwidth: number
  published: number
  expires: number
}

export interface SignedDescriptor {
  descriptor: RelayDescriptor
  /** The exact signed bytes (what is stored and forwarded). */
  bytes: Uint8Array
}

const packr = new Packr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number', variableMapSize: true })
const SIG_LEN = 64
const ED25519_PUB_LEN = 32
const encoder = new TextEncoder()
const contextBytes = encoder.encode(DESCRIPTOR_SIGNING_CONTEXT)

/** Encode the unsigned body (canonical). */
export function encodeDescriptorBody (d: RelayDescriptor): Uint8Array {
  return packr.pack([
    d.version,
    d.peerId.toMultihash().bytes,
    d.addrs.map(a => a.bytes),
    d.onionKeys.map(k => [k.publicKey, k.validFrom, k.validUntil]),
    d.family,
    d.protocols,
    d.bandwidth,
    d.published,
    d.expires
  ])
}

export function signingInput (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(contextBytes.length + body.length)
  out.set(contextBytes, 0)
  out.set(body, contextBytes.length)
  return out
}

/** Sign a descriptor with the relay's identity key. The key must be the one the peer id names. */
export async function signDescriptor (d: RelayDescriptor, key: PrivateKey): Promise<SignedDescriptor> {
  if (!d.peerId.equals(peerIdFromPrivateKey(key))) {
    throw new InvalidDescriptorError('peer-id-mismatch', 'descriptor peer id is not the signing key\'s')
  }
  const body = encodeDescriptorBody(d)
  const sig = await key.sign(signingInput(body))
  const bytes = packr.pack([body, sig])
  if (bytes.length > MAX_DESCRIPTOR_SIZE) throw new InvalidDescriptorError('too-large', `descriptor is ${bytes.length} bytes, over ${MAX_DESCRIPTOR_SIZE}`)
  return { descriptor: d, bytes: new Uint8Array(bytes) }
}

function fail (reason: string, message?: string): never {
  throw new InvalidDescriptorError(reason, message)
}

function isBytes (x: unknown): x is Uint8Array { return x instanceof Uint8Array }
function isUint (x: unknown): x is number { return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 }
function isStr (x: unknown, max: number): x is string { return typeof x === 'string' && x.length > 0 && x.length <= max }

function unpackStrict (bytes: Uint8Array, what: string): unknown {
  let v: unknown
  try { v = packr.unpack(bytes) } catch { fail('malformed', `${what}: not msgpack`) }
  // canonical form only: the same value must encode to the same bytes
  let again: Uint8Array
  try { again = packr.pack(v) } catch { fail('malformed', `${what}: not encodable`) }
  if (!Buffer.from(again).equals(bytes)) fail('non-canonical', `${what}: not in canonical form`)
  return v
}

/**
 * Parse (structure only — no signature check) a signed descriptor. Throws
 * InvalidDescriptorError with a reason code; never any other error.
 */
export function decodeSignedDescriptor (bytes: Uint8Array): { descriptor: RelayDescriptor, body: Uint8Array, signature: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) fail('malformed')
  if (bytes.length > MAX_DESCRIPTOR_SIZE) fail('too-large', `descriptor over ${MAX_DESCRIPTOR_SIZE} bytes`)
  const outer = unpackStrict(bytes, 'descriptor')
  if (!Array.isArray(outer) || outer.length !== 2 || !isBytes(outer[0]) || !isBytes(outer[1])) fail('malformed', 'descriptor: expected [body, signature]')
  const body: Uint8Array = outer[0]
  const signature: Uint8Array = outer[1]
  if (signature.length !== SIG_LEN) fail('malformed', 'descriptor: bad signature length')
  const b = unpackStrict(body, 'descriptor body')
  if (!Array.isArray(b) || b.length !== 9) fail('malformed', 'descriptor body: expected 9 fields')
  const [version, pid, addrs, keys, family, protocols, bandwidth, published, expires]: unknown[] = b
  if (version !== DESCRIPTOR_VERSION) fail('version', `unsupported descriptor version ${String(version)}`)
  if (!isBytes(pid) || pid.length > 64) fail('malformed', 'bad peer id')
  let peerId: PeerId
  try {
    peerId = peerIdFromMultihash(Digest.decode(pid))
  } catch { fail('malformed', 'bad peer id') }
  if (peerId.type !== 'Ed25519') fail('malformed', 'peer id is not an Ed25519 key')
  if (!Array.isArray(addrs) || addrs.length > MAX_DESCRIPTOR_ADDRS) fail('malformed', 'bad address list')
  const maddrs: Multiaddr[] = []
  for (const a of addrs) {
    if (!isBytes(a) || a.length > MAX_MULTIADDR_BYTES) fail('malformed', 'bad address')
    try { maddrs.push(multiaddr(a)) } catch { fail('malformed', 'bad address') }
  }
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_ONION_KEYS) fail('malformed', 'bad onion key list')
  const onionKeys: OnionKeyInfo[] = []
  for (const k of keys) {
    if (!Array.isArray(k) || k.length !== 3) fail('malformed', 'bad onion key')
    const [pub, from, until]: unknown[] = k
    if (!isBytes(pub) || pub.length !== X25519_KEY_LEN || !isUint(from) || !isUint(until) || until <= from) fail('malformed', 'bad onion key')
    onionKeys.push({ publicKey: new Uint8Array(pub), validFrom: from, validUntil: until })
  }
  if (!Array.isArray(family) || family.length > MAX_FAMILY || !family.every(f => isStr(f, 128))) fail('malformed', 'bad family')
  if (!Array.isArray(protocols) || protocols.length > MAX_PROTOCOLS || !protocols.every(p => isStr(p, MAX_PROTOCOL_NAME))) fail('malformed', 'bad protocols')
  if (!isUint(bandwidth) || !isUint(published) || !isUint(expires)) fail('malformed', 'bad numbers')
  return {
    descriptor: { version, peerId, addrs: maddrs, onionKeys, family: family.slice(), protocols: protocols.slice(), bandwidth, published, expires },
    body: new Uint8Array(body),
    signature: new Uint8Array(signature)
  }
}

/** The DHT key of a relay's descriptor. */
export function descriptorKey (peerId: PeerId): Uint8Array {
  const prefix = encoder.encode(`/${DESCRIPTOR_NAMESPACE}/`)
  const mh = peerId.toMultihash().bytes
  const out = new Uint8Array(prefix.length + mh.length)
  out.set(prefix, 0)
  out.set(mh, prefix.length)
  return out
}

export interface VerifyOptions {
  now: number
  /** If given, the descriptor must be stored under exactly this DHT key. */
  key?: Uint8Array
}

/**
 * Fully verify a signed descriptor: structure, peer-id binding (signature by the key the
 * peer id names, and the DHT key if given), size, time window. Returns the descriptor or
 * throws InvalidDescriptorError.
 */
export async function verifySignedDescriptor (bytes: Uint8Array, opts: VerifyOptions): Promise<SignedDescriptor> {
  const { descriptor: d, body, signature } = decodeSignedDescriptor(bytes)
  if (opts.key !== undefined && !Buffer.from(descriptorKey(d.peerId)).equals(opts.key)) fail('key-mismatch', 'descriptor is stored under another relay\'s key')
  const pub = d.peerId.publicKey
  if (pub === undefined || pub.raw.length !== ED25519_PUB_LEN) fail('malformed', 'peer id carries no Ed25519 key')
  let ok = false
  try { ok = await pub.verify(signingInput(body), signature) } catch { ok = false }
  if (!ok) fail('bad-signature', 'descriptor signature does not verify')
  checkWindow(d, opts.now)
  return { descriptor: d, bytes }
}

export function checkWindow (d: RelayDescriptor, now: number): void {
  if (d.published > now + MAX_CLOCK_SKEW_MS) fail('from-future', 'descriptor published in the future')
  if (d.expires <= now) fail('expired', 'descriptor expired')
  if (d.expires <= d.published || d.expires - d.published > MAX_DESCRIPTOR_LIFETIME_MS) fail('bad-window', 'descriptor lifetime out of bounds')
  if (!d.onionKeys.some(k => k.validFrom <= now + MAX_CLOCK_SKEW_MS && now < k.validUntil)) fail('no-valid-onion-key', 'no onion key valid now')
}

/** kad-dht validator for the `veil-relay` namespace. */
export function descriptorValidator (clock: { now(): number }) {
  return async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    await verifySignedDescriptor(value, { now: clock.now(), key })
  }
}

/** kad-dht selector: the newest (highest `published`) parseable descriptor wins. */
export function descriptorSelector (_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0
  let bestTime = -1
  records.forEach((r, i) => {
    try {
      const t = decodeSignedDescriptor(r).descriptor.published
      if (t > bestTime) { best = i; bestTime = t }
    } catch { /* unparseable records never win */ }
  })
  return best
}

/** Parse a peer id given as a string, or throw a caller error. */
export function parsePeerId (s: string): PeerId {
  return peerIdFromString(s)
}

/** The peer id a multiaddr names in its /p2p component, if any. */
export function peerIdOfAddr (addr: Multiaddr): string | undefined {
  for (const c of addr.getComponents()) {
    if (c.name === 'p2p' && c.value !== undefined) return c.value
  }
  return undefined
}
