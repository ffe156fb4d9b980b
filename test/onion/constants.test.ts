/** Every derived size in constants.ts, and that both handshake messages fit one cell. */
import { describe, expect, it } from 'vitest'
import * as C from '../../src/onion/constants.ts'
import { cgoLayout, VEIL_CGO_PARAMS } from '../../src/onion/cgo.ts'
import { MAX_HANDSHAKE_DATA_LEN } from '../../src/onion/cell.ts'

describe('onion constants', () => {
  it('link cell layout', () => {
    expect(C.CELL_SIZE).toBe(2048)
    expect(C.CELL_HEADER_LEN).toBe(C.CIRC_ID_LEN + C.COMMAND_LEN)
    expect(C.CELL_BODY_LEN).toBe(C.CELL_SIZE - 5)
    expect(C.MAX_CIRC_ID).toBe(2 ** (8 * C.CIRC_ID_LEN) - 1)
  })
  it('CGO sizes', () => {
    expect(C.CGO_TAG_LEN).toBe(16)
    expect(C.CGO_PAYLOAD_LEN).toBe(C.CELL_BODY_LEN - C.CGO_TAG_LEN)
    expect(C.CGO_STATE_SEED_LEN).toBe(2 * (C.CGO_AES_KEY_LEN + C.POLYVAL_KEY_LEN) + C.CGO_NONCE_LEN)
    const layout = cgoLayout(VEIL_CGO_PARAMS)
    expect(layout.stateSeedLen).toBe(C.CGO_STATE_SEED_LEN)
    expect(layout.payloadLen).toBe(C.CGO_PAYLOAD_LEN)
    expect(layout.n1Block * 16).toBeGreaterThanOrEqual(layout.payloadLen)
  })
  it('relay cell sizes', () => {
    expect(C.RELAY_HEADER_LEN).toBe(5)
    expect(C.RELAY_DATA_MAX).toBe(C.CGO_PAYLOAD_LEN - C.RELAY_HEADER_LEN)
    expect(C.RELAY_EXTENSION_MIN).toBeLessThanOrEqual(C.RELAY_EXTENSION_MAX)
  })
  it('handshake message lengths', () => {
    expect(C.CREATE_MESSAGE_LEN).toBe(C.RELAY_ID_LEN + C.KEYID_LEN + C.X25519_LEN + C.MLKEM768_EK_LEN)
    expect(C.CREATE_MESSAGE_LEN).toBe(1280)
    expect(C.CREATED_MESSAGE_LEN).toBe(C.X25519_LEN + C.MLKEM768_CT_LEN + C.MAC_LEN)
    expect(C.CREATED_MESSAGE_LEN).toBe(1152)
    expect(C.SESSION_KEY_MATERIAL_LEN).toBe(2 * C.CGO_STATE_SEED_LEN + C.CIRCUIT_BINDING_LEN)
    expect(C.SESSION_KEY_MATERIAL_LEN).toBeLessThanOrEqual(255 * C.HASH_LEN) // HKDF-Expand limit
  })
  it('both handshake messages fit in one cell, directly (CREATE) and inside EXTEND with a 255-byte link specifier', () => {
    expect(C.CREATE_MESSAGE_LEN).toBeLessThanOrEqual(MAX_HANDSHAKE_DATA_LEN)
    expect(C.CREATED_MESSAGE_LEN).toBeLessThanOrEqual(MAX_HANDSHAKE_DATA_LEN)
    const extendOverhead = 1 + 255 + C.HANDSHAKE_HEADER_LEN
    expect(extendOverhead + C.CREATE_MESSAGE_LEN).toBeLessThanOrEqual(C.RELAY_DATA_MAX)
    expect(C.HANDSHAKE_HEADER_LEN + C.CREATED_MESSAGE_LEN).toBeLessThanOrEqual(C.RELAY_DATA_MAX)
  })
  it('limits', () => {
    expect(C.MAX_HOPS).toBe(8)
    expect(C.MAX_EARLY).toBe(8)
    expect(C.DEFAULT_HOPS).toBeLessThanOrEqual(C.MAX_HOPS)
    // a relay never drops a circuit a well-behaved client still uses: max age of use plus as much again draining
    expect(C.RELAY_CIRCUIT_IDLE_MS).toBeGreaterThan(2 * C.DEFAULT_CIRCUIT_MAX_AGE_MS)
    expect(C.RELAY_CIRCUIT_IDLE_MS).toBeGreaterThan(C.DEFAULT_STREAM_IDLE_MS)
  })
})
