/**
 * Introduction and rendezvous, pure parts: codecs round-trip and refuse anything else
 * (fast-check: arbitrary bytes decode or throw HsProtocolError); the hybrid handshake
 * agrees on keys, refuses tampering, and binds the proof of work; the end-to-end channel
 * carries streams between two ends through a fake RP and refuses a replayed cell.
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  HsProtocolError, decodeEstablishIntro, decodeIntroduce, decodeIntroPlaintext, decodeRendezvous1, decodeRendezvous2, encodeEstablishIntro,
  encodeIntroPlaintext, establishIntroSigned
} from '../../src/registry/hs-codec.ts'
import { IntroSecrets, clientFinishRendezvous, clientIntroduce, introPowEffort, serviceRendezvous } from '../../src/registry/hs-crypto.ts'
import { E2eChannel } from '../../src/registry/e2e.ts'
import { ESTABLISH_INTRO_LEN, INTRODUCE_LEN, INTRO_PLAINTEXT_PADDED_LEN, RELAY_RV_DATA, RELAY_RV_SENDME } from '../../src/registry/constants.ts'
import { ed25519Verify } from '../../src/registry/primitives.ts'
import { StreamTargetTable, ECHO_TARGET, echoHandler, RELAY_DATA_MAX } from '../../src/onion/index.ts'
import { seededRng } from './helpers.ts'

const rng = seededRng('hs-test')
const secrets = IntroSecrets.generate(rng)
const fields = { rpRelay: new Uint8Array(38).fill(3), rpOnionKeyId: new Uint8Array(32).fill(4), cookie: new Uint8Array(20).fill(5) }
const target = { authKey: secrets.authKey.publicKey, encX25519: secrets.encX25519, encMlKem: secrets.encMlKem }

describe('hs codecs', () => {
  it('sizes: every message fits one relay cell', () => {
    expect(INTRODUCE_LEN).toBeLessThanOrEqual(RELAY_DATA_MAX)
    expect(ESTABLISH_INTRO_LEN).toBe(104)
  })

  it('ESTABLISH_INTRO round-trips and its signature verifies', () => {
    const k = secrets.authKey
    const sig = k.sign(establishIntroSigned(k.publicKey, 100, 200))
    const m = decodeEstablishIntro(encodeEstablishIntro({ authKey: k.publicKey, rate: 100, burst: 200, signature: sig }))
    expect(m.rate).toBe(100)
    expect(ed25519Verify(m.signature, establishIntroSigned(m.authKey, m.rate, m.burst), m.authKey)).toBe(true)
    expect(ed25519Verify(m.signature, establishIntroSigned(m.authKey, m.rate + 1, m.burst), m.authKey)).toBe(false)
  })

  it('the intro plaintext is padded to one length and round-trips; non-zero padding is refused', () => {
    const p = { ...fields, pow: { nonce: new Uint8Array(8).fill(1), effort: 9 }, clientAuth: null }
    const b = encodeIntroPlaintext(p)
    expect(b.length).toBe(INTRO_PLAINTEXT_PADDED_LEN)
    expect(decodeIntroPlaintext(b)).toEqual(p)
    const bad = b.slice(); bad[b.length - 1] = 1
    expect(() => decodeIntroPlaintext(bad)).toThrow(HsProtocolError)
  })

  it('arbitrary bytes decode or throw HsProtocolError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1400 }), (b) => {
      for (const d of [decodeEstablishIntro, decodeIntroduce, decodeIntroPlaintext, decodeRendezvous1, decodeRendezvous2]) {
        try { d(b) } catch (err) { expect(err).toBeInstanceOf(HsProtocolError) }
      }
    }), { numRuns: 300 })
  })
})

describe('hs handshake', () => {
  it('client and provider agree on hybrid keys; the provider learns RP, cookie and PoW', () => {
    const { message, state } = clientIntroduce(rng, target, fields, { seed: new Uint8Array(32).fill(9), effort: 6 })
    const opened = secrets.open(decodeIntroduce(message))
    expect(opened.plaintext.cookie).toEqual(fields.cookie)
    expect(opened.plaintext.rpRelay).toEqual(fields.rpRelay)
    expect(introPowEffort(new Uint8Array(32).fill(9), target.authKey, opened.clientKey, opened.plaintext.pow)).toBeGreaterThanOrEqual(6)
    // the proof does not transfer to another seed
    expect(introPowEffort(new Uint8Array(32).fill(8), target.authKey, opened.clientKey, opened.plaintext.pow)).toBeLessThan(6 + 1)
    const r1 = serviceRendezvous(rng, opened)
    const r = decodeRendezvous1(r1.message)
    const keys = clientFinishRendezvous(state, { serverKey: r.serverKey, auth: r.auth })
    expect(keys.clientToProvider).toEqual(r1.keys.clientToProvider)
    expect(keys.providerToClient).toEqual(r1.keys.providerToClient)
    expect(keys.clientToProvider).not.toEqual(keys.providerToClient)
    expect(String(keys)).not.toMatch(/[0-9a-f]{16}/)
  })

  it('a tampered introduction or a bad MAC is refused', () => {
    const { message, state } = clientIntroduce(rng, target, fields, null)
    for (const i of [40, 200, INTRODUCE_LEN - 3]) {
      const bad = message.slice(); bad[i] ^= 1
      expect(() => secrets.open(decodeIntroduce(bad))).toThrow(HsProtocolError)
    }
    const r = decodeRendezvous1(serviceRendezvous(rng, secrets.open(decodeIntroduce(message))).message)
    const auth = r.auth.slice(); auth[0] ^= 1
    expect(() => clientFinishRendezvous(state, { serverKey: r.serverKey, auth })).toThrow(/MAC/)
  })
})

describe('end-to-end channel', () => {
  it('streams through a fake RP; a replayed cell closes the channel', async () => {
    const { message, state } = clientIntroduce(rng, target, fields, null)
    const opened = secrets.open(decodeIntroduce(message))
    const r1 = serviceRendezvous(rng, opened)
    const r = decodeRendezvous1(r1.message)
    const ck = clientFinishRendezvous(state, { serverKey: r.serverKey, auth: r.auth })
    const targets = new StreamTargetTable()
    targets.register(ECHO_TARGET, echoHandler)
    let client: E2eChannel | undefined
    let provider: E2eChannel | undefined
    const seen: Uint8Array[] = []
    const deliver = (to: () => E2eChannel | undefined) => (command: number, data: Uint8Array): void => {
      if (command === RELAY_RV_DATA || command === RELAY_RV_SENDME) {
        if (command === RELAY_RV_DATA) seen.push(data)
        setImmediate(() => { to()?.onCell({ command, streamId: 0, data }) })
      }
    }
    client = new E2eChannel({ carrier: { send: deliver(() => provider), destroy: () => {} }, keys: ck, role: 'client' })
    provider = new E2eChannel({ carrier: { send: deliver(() => client), destroy: () => {} }, keys: r1.keys, role: 'provider', targets })
    const s = await client.openStream(ECHO_TARGET)
    const big = new Uint8Array(100_000).map((_, i) => i * 7)
    await s.send(big)
    expect(await s.read()).toEqual(big)
    // replay the first client cell to the provider: it does not open, the channel closes
    provider.onCell({ command: RELAY_RV_DATA, streamId: 0, data: seen[0] })
    expect(provider.closed).toBe(true)
    client.close()
  })
})
