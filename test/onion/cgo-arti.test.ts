/**
 * arti's Counter Galois Onion vectors (test/vectors/arti-cgo, from
 * crates/tor-proto/testdata/cgo_*.rs): every vector of ET, PRF, UIV (with
 * update), relay (with originate) and client, at 509-byte bodies with AES-128.
 */
import { describe, expect, it } from 'vitest'
import { ARTI_CGO_PARAMS, CgoState, ClientOutbound, EtCipher, Prf, RelayInbound, RelayOutbound, Uiv, cgoLayout, clientEncryptOutbound } from '../../src/onion/cgo.ts'
import { hex, loadVectors, toHex } from './helpers.ts'

const layout = cgoLayout(ARTI_CGO_PARAMS)

interface EtVec { label: string, encrypt: boolean, keys: string, tweak: string, message: string, output: string }
interface PrfVec { label: string, keys: string, t: 0 | 1, tweak: string, output: string }
interface UivVec { label: string, encrypt: boolean, keys: string, h: string, x_l: string, x_r: string, y_l: string, y_r: string }
interface UivUpdVec { label: string | null, keys: string, n: string, out_keys: string, out_n: string }
interface RelayVec { label: string, inbound: boolean, r_k: string, r_n: string, r_tprime: string, ad: string, t: string, c: string, out_k: string, out_n: string, out_tprime: string, out_t: string, out_c: string }
interface OrigVec { label: string, r_k: string, r_n: string, r_tprime: string, ad: string, m: string, out_k: string, out_n: string, out_tprime: string, out_t: string, out_c: string }
interface LayerVec { k: string, n: string, tprime: string }
interface ClientVec { label: string, layers: LayerVec[], d: number, ad: string, m: string, out_layers: LayerVec[], out_t: string, out_c: string }

const et = loadVectors<{ vectors: EtVec[] }>('arti-cgo/et.json')
const prf = loadVectors<{ vectors: PrfVec[] }>('arti-cgo/prf.json')
const uiv = loadVectors<{ vectors: UivVec[], update: { vectors: UivUpdVec[] } }>('arti-cgo/uiv.json')
const relay = loadVectors<{ vectors: RelayVec[], originate: { vectors: OrigVec[] } }>('arti-cgo/relay.json')
const client = loadVectors<{ vectors: ClientVec[] }>('arti-cgo/client.json')

function state (k: string, n: string, tprime: string, role: 'relay' | 'client'): CgoState {
  const s = new CgoState(layout, hex(k + n), role)
  s.tag.set(hex(tprime))
  return s
}

describe('arti CGO vectors (509-byte bodies, AES-128)', () => {
  it(`ET: all ${et.vectors.length} vectors`, () => {
    expect(et.vectors.length).toBe(20)
    for (const v of et.vectors) {
      const tweak = hex(v.tweak)
      const block = hex(v.message)
      new EtCipher(layout, hex(v.keys), 'both').crypt(v.encrypt, tweak.subarray(0, 16), tweak[16], tweak.subarray(17), block)
      expect(toHex(block), v.label).toBe(v.output)
    }
  })

  it(`PRF: all ${prf.vectors.length} vectors (t = 0 and t = 1)`, () => {
    expect(prf.vectors.length).toBe(20)
    for (const v of prf.vectors) {
      const out = new Prf(layout, hex(v.keys)).keystream(hex(v.tweak), v.t, v.output.length / 2)
      expect(toHex(out), v.label).toBe(v.output)
    }
  })

  it(`UIV+: all ${uiv.vectors.length} encrypt/decrypt vectors`, () => {
    expect(uiv.vectors.length).toBe(12)
    for (const v of uiv.vectors) {
      const h = hex(v.h)
      const body = hex(v.x_l + v.x_r)
      const u = new Uiv(layout, hex(v.keys), 'both')
      if (v.encrypt) u.encrypt(h.subarray(0, 16), h[16], body)
      else u.decrypt(h.subarray(0, 16), h[16], body)
      expect(toHex(body), v.label).toBe(v.y_l + v.y_r)
    }
  })

  it(`UIV+ update: all ${uiv.update.vectors.length} vectors`, () => {
    expect(uiv.update.vectors.length).toBe(10)
    for (const v of uiv.update.vectors) {
      const u = new Uiv(layout, hex(v.keys), 'both')
      const nonce = hex(v.n)
      u.update(nonce)
      expect(toHex(nonce), v.label ?? 'zeros').toBe(v.out_n)
      expect(toHex(u.exportKeys()), v.label ?? 'zeros').toBe(v.out_keys)
    }
  })

  it(`relay layer: all ${relay.vectors.length} vectors`, () => {
    expect(relay.vectors.length).toBe(12)
    for (const v of relay.vectors) {
      const s = state(v.r_k, v.r_n, v.r_tprime, 'relay')
      const body = hex(v.t + v.c)
      if (v.inbound) new RelayInbound(s).encryptInbound(hex(v.ad)[0], body)
      else new RelayOutbound(s).decryptOutbound(hex(v.ad)[0], body)
      expect(toHex(body), v.label).toBe(v.out_t + v.out_c)
      expect(toHex(s.uiv.exportKeys()), v.label).toBe(v.out_k)
      expect(toHex(s.nonce), v.label).toBe(v.out_n)
      expect(toHex(s.tag), v.label).toBe(v.out_tprime)
    }
  })

  it(`relay originate: all ${relay.originate.vectors.length} vectors`, () => {
    expect(relay.originate.vectors.length).toBe(6)
    for (const v of relay.originate.vectors) {
      const s = state(v.r_k, v.r_n, v.r_tprime, 'relay')
      const body = new Uint8Array(layout.bodyLen)
      body.set(hex(v.m), 16)
      new RelayInbound(s).originate(hex(v.ad)[0], body)
      expect(toHex(body), v.label).toBe(v.out_t + v.out_c)
      expect(toHex(s.uiv.exportKeys()), v.label).toBe(v.out_k)
      expect(toHex(s.nonce), v.label).toBe(v.out_n)
      expect(toHex(s.tag), v.label).toBe(v.out_tprime)
    }
  })

  it(`client originate: all ${client.vectors.length} vectors`, () => {
    expect(client.vectors.length).toBe(14)
    for (const v of client.vectors) {
      const states = v.layers.map((l) => state(l.k, l.n, l.tprime, 'client'))
      const body = new Uint8Array(layout.bodyLen)
      body.set(hex(v.m), 16)
      clientEncryptOutbound(states.map((s) => new ClientOutbound(s)), v.d - 1, hex(v.ad)[0], body)
      expect(toHex(body), v.label).toBe(v.out_t + v.out_c)
      v.out_layers.forEach((l, i) => {
        expect(toHex(states[i].uiv.exportKeys()), `${v.label} layer ${i}`).toBe(l.k)
        expect(toHex(states[i].nonce), `${v.label} layer ${i}`).toBe(l.n)
        expect(toHex(states[i].tag), `${v.label} layer ${i}`).toBe(l.tprime)
      })
    }
  })
})
