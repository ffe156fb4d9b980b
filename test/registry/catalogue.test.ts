/** Tool records, catalogues, semver ranges, replay caches. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeToolRecord, encodeDefinition, encodeToolRecord, globalToolId, makeToolRecord, parseGlobalToolId, toolFingerprint, type ToolDefinition } from '../../src/registry/tool.ts'
import { findTools, signCatalogue, verifyCatalogue, type Catalogue } from '../../src/registry/catalogue.ts'
import { compareSemver, maxSatisfying, parseRange, parseSemver, satisfies } from '../../src/registry/semver.ts'
import { OneTimeCookies, ReplayCache } from '../../src/registry/replay.ts'
import { InvalidCatalogueError, InvalidSemverError, RegistryError, RegistryPeerError } from '../../src/registry/errors.ts'
import { ManualClock } from '../../src/overlay/clock.ts'
import { pack } from '../../src/registry/codec.ts'
import { provider, seededRng, toHex } from './helpers.ts'

const def: ToolDefinition = {
  name: 'weather.forecast',
  title: 'Forecast',
  description: 'Weather forecast for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } }, required: ['city'] },
  outputSchema: { type: 'object' },
  annotations: { readOnlyHint: true }
}

describe('tool records', () => {
  const alice = provider('alice')
  const rec = makeToolRecord(def, '1.2.0', ['weather'], alice.address.text)
  it('canonical: key order does not change the fingerprint; any change does', () => {
    const reordered: ToolDefinition = { ...def, inputSchema: { required: ['city'], properties: { days: { minimum: 1, type: 'integer' }, city: { type: 'string' } }, type: 'object' } }
    expect(toolFingerprint(reordered)).toEqual(toolFingerprint(def))
    expect(toolFingerprint({ ...def, description: 'Weather forecast for a town' })).not.toEqual(toolFingerprint(def))
    expect(encodeToolRecord(decodeToolRecord(encodeToolRecord(rec)))).toEqual(encodeToolRecord(rec))
    expect(decodeToolRecord(encodeToolRecord(rec)).definition).toEqual(def)
  })
  it('global id', () => {
    const gid = globalToolId(rec)
    expect(gid).toBe(`${alice.address.text}/weather.forecast@1.2.0`)
    expect(parseGlobalToolId(gid)).toEqual({ provider: alice.address.text, name: 'weather.forecast', version: '1.2.0' })
    expect(() => parseGlobalToolId('nope/x@1.0.0')).toThrow(InvalidCatalogueError)
  })
  it('exact rejections: fingerprint mismatch, unsorted keys', () => {
    const f = [1, encodeDefinition(def), '1.2.0', [], new Uint8Array(32), alice.address.text]
    expect(() => decodeToolRecord(pack(f))).toThrow(expect.objectContaining({ reason: 'digest-mismatch' }))
    const unsorted = pack(['x', null, null, new Map<string, unknown>([['b', 1], ['a', 2]]), null, null])
    expect(() => decodeToolRecord(pack([1, unsorted, '1.0.0', [], new Uint8Array(32), alice.address.text]))).toThrow(expect.objectContaining({ reason: 'non-canonical' }))
  })
  it('arbitrary bytes decode or throw only typed errors', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), b => {
      try { decodeToolRecord(b) } catch (e) { if (!(e instanceof RegistryError)) throw e }
      try { verifyCatalogue(alice.address.text, b) } catch (e) { if (!(e instanceof RegistryError)) throw e }
    }), { numRuns: 300 })
    fc.assert(fc.property(fc.jsonValue(), j => {
      const bytes = pack([1, pack(['t', null, null, j, null, null]), '1.0.0', [], new Uint8Array(32), alice.address.text])
      try { decodeToolRecord(bytes) } catch (e) { if (!(e instanceof RegistryPeerError)) throw e }
    }), { numRuns: 200 })
  })
})

describe('catalogue', () => {
  const alice = provider('alice')
  const bob = provider('bob')
  const tools = ['1.0.0', '1.2.0', '2.0.0-beta.1', '2.0.0'].map(v => makeToolRecord(def, v, ['weather'], alice.address.text))
  const cat: Catalogue = { provider: alice.address.text, serial: 3, issuedAt: 1_700_000_000, tools }
  const signed = signCatalogue(alice, cat, seededRng('cat'))

  it('verifies against the address and digest; digest stable across re-signing', () => {
    const v = verifyCatalogue(alice.address.text, signed.bytes, signed.digest)
    expect(v.tools.length).toBe(4)
    expect(toHex(signCatalogue(alice, cat, seededRng('cat2')).digest)).toBe(toHex(signed.digest))
    expect(findTools(v, 'weather.forecast', '^1.0.0').map(t => t.version)).toEqual(['1.2.0', '1.0.0'])
    expect(findTools(v, 'weather.forecast', '2.0.0-beta.1').map(t => t.version)).toEqual(['2.0.0-beta.1'])
    expect(findTools(v, 'weather.forecast').map(t => t.version)).toEqual(['2.0.0', '1.2.0', '1.0.0'])
  })
  it('refusals: wrong digest, another provider\'s address, tampering', () => {
    const r = (fn: () => unknown): string => { try { fn(); return 'ok' } catch (e) { return (e as RegistryPeerError).reason } }
    expect(r(() => verifyCatalogue(alice.address.text, signed.bytes, new Uint8Array(32)))).toBe('digest-mismatch')
    expect(r(() => verifyCatalogue(bob.address.text, signed.bytes))).toBe('pq-key-mismatch')
    const m = signed.bytes.slice(); m[40] ^= 1
    expect(['bad-signature', 'bad-pq-signature', 'malformed', 'non-canonical']).toContain(r(() => verifyCatalogue(alice.address.text, m)))
  })
})

describe('semver', () => {
  it('parse, precedence (semver.org §11 example)', () => {
    const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0']
    for (let i = 1; i < order.length; i++) expect(compareSemver(parseSemver(order[i - 1]), parseSemver(order[i]))).toBeLessThan(0)
    expect(compareSemver(parseSemver('1.0.0+build'), parseSemver('1.0.0'))).toBe(0)
    for (const bad of ['1', '01.0.0', '1.0', '1.0.0-', '1.0.0-01', 'v1.0.0', '']) expect(() => parseSemver(bad)).toThrow(InvalidSemverError)
  })
  it('ranges: exact, ^, ~, x', () => {
    const t: Array<[string, string, boolean]> = [
      ['1.2.3', '1.2.3', true], ['1.2.4', '=1.2.3', false],
      ['1.9.0', '^1.2.3', true], ['2.0.0', '^1.2.3', false], ['1.2.2', '^1.2.3', false],
      ['0.2.9', '^0.2.3', true], ['0.3.0', '^0.2.3', false], ['0.0.3', '^0.0.3', true], ['0.0.4', '^0.0.3', false],
      ['1.2.9', '~1.2.3', true], ['1.3.0', '~1.2.3', false],
      ['1.7.1', '1.x', true], ['2.0.0', '1.x', false], ['1.2.7', '1.2.x', true], ['1.3.0', '1.2', false], ['5.0.0', '*', true],
      ['2.0.0-beta.1', '^1.2.3', false], ['1.2.4-rc.1', '^1.2.4-beta', true], ['1.2.5-rc.1', '^1.2.4-beta', false], ['2.0.0-rc.1', '*', false]
    ]
    for (const [v, r, ok] of t) expect(satisfies(v, r), `${v} ${r}`).toBe(ok)
    expect(maxSatisfying(['1.0.0', '1.5.0', '2.0.0'], '^1.0.0')).toBe('1.5.0')
    for (const bad of ['>=1.0.0', '^1', '1.x.3', 'latest']) expect(() => parseRange(bad)).toThrow(InvalidSemverError)
  })
  it('arbitrary strings parse or throw InvalidSemverError', () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), s => {
      try { parseSemver(s) } catch (e) { expect(e).toBeInstanceOf(InvalidSemverError) }
      try { parseRange(s) } catch (e) { expect(e).toBeInstanceOf(InvalidSemverError) }
    }), { numRuns: 500 })
  })
})

describe('replay caches', () => {
  const d = (i: number): Uint8Array => new Uint8Array(32).fill(i)
  it('introductions: new once, replay until the key expires, fail closed when full', () => {
    const clock = new ManualClock(1000)
    const c = new ReplayCache(clock, 3)
    expect(c.check(d(1), 5000)).toBe('new')
    expect(c.check(d(1), 5000)).toBe('replay')
    expect(c.check(d(2), 5000)).toBe('new')
    expect(c.check(d(3), 9000)).toBe('new')
    expect(c.check(d(4), 9000)).toBe('full')
    expect(c.check(d(1), 5000)).toBe('replay')
    clock.set(5000)
    expect(c.check(d(4), 9000)).toBe('new') // d(1), d(2) expired with their key
    expect(c.size).toBe(2)
    expect(c.check(d(5), 4000)).toBe('replay') // belongs to an expired key
  })
  it('rendezvous cookies work once, before expiry, and cannot be re-registered', () => {
    const clock = new ManualClock(0)
    const c = new OneTimeCookies(clock, 1000, 10)
    expect(c.register(d(7))).toBe(true)
    expect(c.register(d(7))).toBe(false)
    expect(c.consume(d(7))).toBe(true)
    expect(c.consume(d(7))).toBe(false)
    expect(c.register(d(7))).toBe(false)
    expect(c.register(d(8))).toBe(true)
    clock.advance(1001)
    expect(c.consume(d(8))).toBe(false)
    expect(c.register(d(7))).toBe(true) // tombstone expired
  })
})
