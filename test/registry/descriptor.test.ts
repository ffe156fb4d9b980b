/** Descriptors: build → validate (storer) → open (client); forgery, staleness, replay, leaks, unlinkability. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  buildDescriptor, decodeOuter, descriptorDhtKey, descriptorSelector, descriptorValidator, encodeOuter, openDescriptor, storageKey,
  validateStoredDescriptor, type BuildOptions
} from '../../src/registry/descriptor.ts'
import { InvalidDescriptorError, RegistryError, RegistryPeerError } from '../../src/registry/errors.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { DESCRIPTOR_REPLICAS, INNER_LAYER_CONSTANT, INNER_MLDSA_CONTEXT, MAX_DESCRIPTOR, OUTER_SIGNING_CONTEXT, AUTH_ENTRY_BLOCK } from '../../src/registry/constants.ts'
import { periodAt, periodStartSeconds } from '../../src/registry/time.ts'
import { blindExpandedKey, blindingFactor, subcredential } from '../../src/registry/blinding.ts'
import { decryptLayer, encryptLayer } from '../../src/registry/layer.ts'
import { decodeInnerBody, decodeInnerPlaintext, encodeInnerPlaintext, innerSignedMessage } from '../../src/registry/inner.ts'
import { bytesOf, concat, sha3_256, MlDsaKeyPair } from '../../src/registry/primitives.ts'
import { pack } from '../../src/registry/codec.ts'
import { ManualClock } from '../../src/overlay/clock.ts'
import { PERIODS, T0, authClient, introKeys, provider, seededRng, toHex } from './helpers.ts'
import { assertNoLeak } from './leak.ts'

const digest = sha3_256(bytesOf('catalogue'))
function opts (label: string, extra: Partial<BuildOptions> = {}): BuildOptions {
  const rng = seededRng(`desc/${label}`)
  return { nowMs: T0, periods: PERIODS, rng, reach: { mode: 'hidden', introPoints: introKeys(rng, 3) }, pow: { seed: rng(32), suggestedEffort: 4 }, catalogue: { digest, version: 7 }, ...extra }
}

function expectReason (fn: () => unknown, reason: string): void {
  try { fn() } catch (e) {
    expect(e).toBeInstanceOf(RegistryPeerError)
    expect((e as RegistryPeerError).reason).toBe(reason)
    return
  }
  throw new Error(`expected a refusal with reason ${reason}`)
}

describe('descriptor round trip', () => {
  const id = provider('alice')
  const built = buildDescriptor(id, opts('rt'))

  it('one record per replica, each under its own storage key, within MAX_DESCRIPTOR', () => {
    expect(built.records.length).toBe(DESCRIPTOR_REPLICAS)
    const p = periodAt(T0, PERIODS)
    for (const r of built.records) {
      expect(r.dhtKey).toEqual(descriptorDhtKey(storageKey(built.blindedKey, r.replica, p, PERIODS.lengthSeconds)))
      expect(r.bytes.length).toBeLessThanOrEqual(MAX_DESCRIPTOR)
      expect(decodeOuter(r.bytes).revision).toBe(built.revision)
      expect(encodeOuter(decodeOuter(r.bytes))).toEqual(r.bytes)
    }
    expect(toHex(built.records[0].dhtKey)).not.toBe(toHex(built.records[1].dhtKey))
  })

  it('storer validator accepts; client opens every field', async () => {
    const clock = new ManualClock(T0)
    for (const r of built.records) await descriptorValidator(clock, PERIODS)(r.dhtKey, r.bytes)
    const o = openDescriptor(id.address.text, built.records[1].bytes, T0, { periods: PERIODS })
    expect(o.period).toBe(periodAt(T0, PERIODS))
    expect(o.catalogue.version).toBe(7)
    expect(o.catalogue.digest).toEqual(digest)
    expect(o.reach.mode).toBe('hidden')
    if (o.reach.mode === 'hidden') expect(o.reach.introPoints.length).toBe(3)
    expect(o.pow?.suggestedEffort).toBe(4)
    expect(o.mldsaPublicKey).toEqual(id.mldsa.publicKey)
    expect(o.private).toBeUndefined()
  })

  it('public mode carries the provider relay', () => {
    const relay = Uint8Array.of(0, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(9))
    const b = buildDescriptor(id, opts('public', { reach: { mode: 'public', relay }, pow: null }))
    const o = openDescriptor(id.address, b.records[0].bytes, T0, { periods: PERIODS })
    expect(o.reach).toEqual({ mode: 'public', relay })
    expect(o.pow).toBeNull()
  })

  it('next-period descriptor opens near the boundary; revision grows through its life', () => {
    const p = periodAt(T0, PERIODS)
    const next = buildDescriptor(id, opts('next', { period: p + 1 }))
    expect(openDescriptor(id.address.text, next.records[0].bytes, T0, { periods: PERIODS }).period).toBe(p + 1)
    const later = buildDescriptor(id, opts('next2', { period: p + 1, nowMs: T0 + 600_000 }))
    expect(later.revision).toBeGreaterThan(next.revision)
    expect(descriptorSelector(later.records[0].dhtKey, [next.records[0].bytes, later.records[0].bytes, Uint8Array.of(1, 2)])).toBe(1)
    expect(descriptorSelector(later.records[0].dhtKey, [later.records[0].bytes, next.records[0].bytes])).toBe(0)
  })
})

describe('descriptor refusals', () => {
  const id = provider('alice')
  const mallory = provider('mallory')
  const built = buildDescriptor(id, opts('refuse'))
  const rec = built.records[0]

  it('forged outer signature', () => {
    const d = decodeOuter(rec.bytes)
    const sig = d.signature.slice(); sig[5] ^= 1
    const forged = encodeOuter({ ...d, signature: sig })
    expectReason(() => validateStoredDescriptor(rec.dhtKey, forged, T0, PERIODS), 'bad-signature')
    expectReason(() => openDescriptor(id.address.text, forged, T0, { periods: PERIODS }), 'bad-signature')
  })

  it('another provider\'s descriptor under this address (blinding mismatch)', () => {
    const other = buildDescriptor(mallory, opts('mallory'))
    expectReason(() => openDescriptor(id.address.text, other.records[0].bytes, T0, { periods: PERIODS }), 'blinding-mismatch')
  })

  it('replayed under another key, or into another period', () => {
    expectReason(() => validateStoredDescriptor(built.records[1].dhtKey, rec.bytes, T0, PERIODS), 'key-mismatch')
    const farLater = T0 + 5 * PERIODS.lengthSeconds * 1000
    expectReason(() => validateStoredDescriptor(rec.dhtKey, rec.bytes, farLater, PERIODS), 'key-mismatch')
    expectReason(() => openDescriptor(id.address.text, rec.bytes, farLater, { periods: PERIODS }), 'blinding-mismatch')
  })

  it('stale: expired, or older than a revision already seen', () => {
    const expiredAt = (built.expiry + 1) * 1000
    expectReason(() => validateStoredDescriptor(rec.dhtKey, rec.bytes, expiredAt, PERIODS), 'expired')
    expectReason(() => openDescriptor(id.address.text, rec.bytes, expiredAt, { periods: PERIODS }), 'expired')
    expectReason(() => openDescriptor(id.address.text, rec.bytes, T0, { periods: PERIODS, minRevision: built.revision + 1 }), 'stale')
  })

  it('expiry more than two periods ahead', () => {
    const far = buildDescriptor(id, opts('far', { lifetimeSeconds: 3 * PERIODS.lengthSeconds }))
    expectReason(() => validateStoredDescriptor(far.records[0].dhtKey, far.records[0].bytes, T0, PERIODS), 'too-far-future')
  })

  it('a quantum forger (who can sign for A\'_p) cannot make a client accept: wrong ML-DSA key', () => {
    // same Ed25519 key (the forger "broke" it), the forger's own ML-DSA key
    const forger = new ProviderIdentity(id.ed25519, MlDsaKeyPair.fromSeed(new Uint8Array(32).fill(7)))
    const forged = buildDescriptor(forger, opts('forger'))
    // storers cannot tell: availability only
    expect(() => validateStoredDescriptor(forged.records[0].dhtKey, forged.records[0].bytes, T0, PERIODS)).not.toThrow()
    expectReason(() => openDescriptor(id.address.text, forged.records[0].bytes, T0, { periods: PERIODS }), 'pq-key-mismatch')
  })

  it('a quantum forger replaying the real ML-DSA key with a bad ML-DSA signature is refused', () => {
    const d = decodeOuter(rec.bytes)
    const A = id.identityKey
    const subcred = subcredential(A, d.blindedKey)
    const fail = (reason: string): never => { throw new Error(reason) }
    const params = { secretData: d.blindedKey, subcredential: subcred, revision: d.revision, constant: INNER_LAYER_CONSTANT }
    const inner = decodeInnerPlaintext(decryptLayer(params, d.ciphertext, fail))
    // change the body (e.g. swap in attacker intro points); keep the real key and old signature
    const body = decodeInnerBody(inner.body)
    expect(body.reach.mode).toBe('hidden')
    const tamperedBody = inner.body.slice(); tamperedBody[tamperedBody.length - 40] ^= 1
    const ct = encryptLayer(params, encodeInnerPlaintext({ ...inner, body: tamperedBody }), seededRng('forge'))
    const blinded = blindExpandedKey(id.ed25519, blindingFactor(A, periodAt(T0, PERIODS), PERIODS.lengthSeconds))
    const unsigned = { ...d, ciphertext: ct }
    const sig = blinded.sign(concat(bytesOf(OUTER_SIGNING_CONTEXT), outerBodyOf(unsigned)))
    const forged = encodeOuter({ ...unsigned, signature: sig })
    expect(() => validateStoredDescriptor(rec.dhtKey, forged, T0, PERIODS)).not.toThrow()
    expectReason(() => openDescriptor(id.address.text, forged, T0, { periods: PERIODS }), 'bad-pq-signature')
    // and the genuine signature really covers A'_p, revision and expiry
    expect(innerSignedMessage(d.blindedKey, d.revision, d.expiry, inner.body).length).toBe(32 + 16 + inner.body.length)
    expect(INNER_MLDSA_CONTEXT.length).toBeLessThan(255)
  })

  it('tampered ciphertext fails the MAC (re-signed outer)', () => {
    const d = decodeOuter(rec.bytes)
    const ct = d.ciphertext.slice(); ct[100] ^= 0x80
    const blinded = blindExpandedKey(id.ed25519, blindingFactor(id.identityKey, periodAt(T0, PERIODS), PERIODS.lengthSeconds))
    const unsigned = { ...d, ciphertext: ct }
    const forged = encodeOuter({ ...unsigned, signature: blinded.sign(concat(bytesOf(OUTER_SIGNING_CONTEXT), outerBodyOf(unsigned))) })
    expectReason(() => openDescriptor(id.address.text, forged, T0, { periods: PERIODS }), 'decrypt')
  })
})

/** The outer signed body, re-derived here from the documented layout. */
function outerBodyOf (d: { version: number, blindedKey: Uint8Array, replica: number, revision: number, expiry: number, ciphertext: Uint8Array }): Uint8Array {
  const be = (n: number, len: number): Uint8Array => { const o = new Uint8Array(len); let x = BigInt(n); for (let i = len - 1; i >= 0; i--) { o[i] = Number(x & 0xffn); x >>= 8n } return o }
  return pack([d.version, d.blindedKey, d.replica, be(d.revision, 4), be(d.expiry, 8), d.ciphertext])
}

describe('client authorisation (private layer)', () => {
  const id = provider('alice')
  const rng = seededRng('auth-clients')
  const clients = [authClient(rng), authClient(rng), authClient(rng)]
  const outsider = authClient(rng)
  const privateContent = { catalogue: { digest: sha3_256(bytesOf('private catalogue')), version: 3 }, introPoints: introKeys(rng, 1) }
  const built = buildDescriptor(id, opts('private', { authorizedClients: clients.map(c => c.listed), privateContent }))

  it('each authorised client opens the private layer; an outsider sees none', () => {
    for (const c of clients) {
      const o = openDescriptor(id.address.text, built.records[0].bytes, T0, { periods: PERIODS, clientAuth: c.key })
      expect(o.private?.catalogue.version).toBe(3)
      expect(o.private?.introPoints.length).toBe(1)
    }
    expect(openDescriptor(id.address.text, built.records[0].bytes, T0, { periods: PERIODS, clientAuth: outsider.key }).private).toBeUndefined()
    expect(openDescriptor(id.address.text, built.records[0].bytes, T0, { periods: PERIODS }).private).toBeUndefined()
  })

  it('entries padded to a multiple of 16; same length with and without private tools; ids unlinkable across periods', () => {
    const plain = buildDescriptor(id, opts('plain'))
    expect(built.records[0].bytes.length).toBe(plain.records[0].bytes.length)
    const p = periodAt(T0, PERIODS)
    const next = buildDescriptor(id, opts('private-next', { period: p + 1, authorizedClients: clients.map(c => c.listed), privateContent }))
    const entriesOf = (bytes: Uint8Array): Uint8Array[] => {
      const d = decodeOuter(bytes)
      const params = { secretData: d.blindedKey, subcredential: subcredential(id.identityKey, d.blindedKey), revision: d.revision, constant: INNER_LAYER_CONSTANT }
      const fail = (r: string): never => { throw new Error(r) }
      return decodeInnerBody(decodeInnerPlaintext(decryptLayer(params, d.ciphertext, fail)).body).auth.entries
    }
    const a = entriesOf(built.records[0].bytes)
    const b = entriesOf(next.records[0].bytes)
    expect(a.length % AUTH_ENTRY_BLOCK).toBe(0)
    expect(a.length).toBe(16)
    const idsA = new Set(a.map(e => toHex(e.subarray(0, 8))))
    for (const e of b) expect(idsA.has(toHex(e.subarray(0, 8)))).toBe(false)
  })
})

describe('what a storer sees', () => {
  const alice = provider('alice')
  const bob = provider('bob')
  const p = periodAt(T0, PERIODS)
  const now = build(alice, p, T0)
  const next = build(alice, p + 1, T0 + 60_000)

  function build (id: ProviderIdentity, period: number, nowMs: number): Uint8Array[] {
    return buildDescriptor(id, opts(`storer/${period}/${nowMs}`, { period, nowMs })).records.map(r => r.bytes)
  }

  it('contains neither A, the ML-DSA key, its hash, the address, nor a tool name (raw, hex, base32, base64)', () => {
    const secrets = [
      { label: 'A', value: alice.identityKey },
      { label: 'ML-DSA key (first 48 bytes)', value: alice.mldsa.publicKey.subarray(0, 48) },
      { label: 'ML-DSA key (middle 48 bytes)', value: alice.mldsa.publicKey.subarray(900, 948) },
      { label: 'ML-DSA key hash', value: alice.address.pqKeyHash },
      { label: 'address', value: alice.address.text },
      { label: 'credential', value: sha3_256(concat(bytesOf('credential'), alice.identityKey)) },
      { label: 'tool name', value: 'weather.forecast' }
    ]
    assertNoLeak([...now, ...next], secrets)
    // and the helper does find a planted secret in each encoding
    for (const enc of ['hex', 'base64', 'base64url'] as const) {
      expect(() => assertNoLeak(bytesOf('xx' + Buffer.from(alice.identityKey).toString(enc) + 'yy'), [alice.identityKey])).toThrow(/leak/)
    }
    expect(() => assertNoLeak(concat(Uint8Array.of(1, 2, 3), alice.identityKey), [alice.identityKey])).toThrow(/raw/)
  })

  it('two consecutive periods share no key, public key, signature or distinguishing length', () => {
    const a = decodeOuter(now[0])
    const b = decodeOuter(next[0])
    expect(toHex(a.blindedKey)).not.toBe(toHex(b.blindedKey))
    expect(toHex(a.signature)).not.toBe(toHex(b.signature))
    expect(now[0].length).toBe(next[0].length)
    // any provider with the same number of intro points produces the same length
    expect(build(bob, p, T0)[0].length).toBe(now[0].length)
    // no 12-byte window of one period's record appears in the next period's records
    const hay = Buffer.concat(next.map(x => Buffer.from(x)))
    for (const rec of now) {
      for (let i = 0; i + 12 <= rec.length; i += 4) {
        expect(hay.indexOf(Buffer.from(rec.subarray(i, i + 12)))).toBe(-1)
      }
    }
    // storage keys differ too
    const k1 = storageKey(a.blindedKey, 0, p, PERIODS.lengthSeconds)
    const k2 = storageKey(b.blindedKey, 0, p + 1, PERIODS.lengthSeconds)
    expect(toHex(k1)).not.toBe(toHex(k2))
    expect(periodStartSeconds(p + 1, PERIODS)).toBeGreaterThan(0)
  })
})

describe('parsers: arbitrary bytes throw only typed errors', () => {
  const id = provider('alice')
  const rec = buildDescriptor(id, opts('fuzz')).records[0]
  const onlyTyped = (fn: () => unknown): void => {
    try { fn() } catch (e) { if (!(e instanceof RegistryError)) throw e }
  }
  it('decodeOuter / validateStoredDescriptor / openDescriptor on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      onlyTyped(() => decodeOuter(b))
      onlyTyped(() => validateStoredDescriptor(rec.dhtKey, b, T0, PERIODS))
      onlyTyped(() => openDescriptor(id.address.text, b, T0, { periods: PERIODS }))
    }), { numRuns: 300 })
  })
  it('random msgpack-shaped values', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 40 }), fc.string(), fc.constant(null)), { maxLength: 9 }), (arr) => {
      onlyTyped(() => decodeOuter(pack(arr)))
    }), { numRuns: 300 })
  })
  it('single-byte mutations of a genuine record are refused (storer and client)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: rec.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const m = rec.bytes.slice(); m[i] ^= x
      let refused = 0
      try { validateStoredDescriptor(rec.dhtKey, m, T0, PERIODS) } catch (e) { expect(e).toBeInstanceOf(InvalidDescriptorError); refused++ }
      try { openDescriptor(id.address.text, m, T0, { periods: PERIODS }) } catch (e) { expect(e).toBeInstanceOf(RegistryPeerError); refused++ }
      expect(refused).toBe(2)
    }), { numRuns: 60 })
  })
})

describe('performance (informational)', () => {
  it('build and open cost', () => {
    const id = provider('alice')
    const n = 5
    const all = Array.from({ length: n }, (_, i) => opts(`perf${i}`))
    let t = performance.now()
    let built = buildDescriptor(id, all[0])
    for (let i = 1; i < n; i++) built = buildDescriptor(id, all[i])
    const buildMs = (performance.now() - t) / n
    t = performance.now()
    for (let i = 0; i < n; i++) openDescriptor(id.address.text, built.records[0].bytes, T0, { periods: PERIODS })
    const openMs = (performance.now() - t) / n
    t = performance.now()
    for (let i = 0; i < 50; i++) validateStoredDescriptor(built.records[0].dhtKey, built.records[0].bytes, T0, PERIODS)
    const validateMs = (performance.now() - t) / 50
    console.log(`descriptor: build ${buildMs.toFixed(1)} ms, client open ${openMs.toFixed(1)} ms, storer validate ${validateMs.toFixed(2)} ms, ${built.records[0].bytes.length} bytes`)
    expect(openMs).toBeLessThan(500)
  })
})
