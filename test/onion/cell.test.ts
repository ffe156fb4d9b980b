/** Link cell and relay cell codecs: round trips, exact rejections, and fast-check properties. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CellCommand, decodeCell, encodeCell, MAX_HANDSHAKE_DATA_LEN, type Cell } from '../../src/onion/cell.ts'
import { RelayCommand, decodeRelayCell, encodeRelayCell, type RelayCell } from '../../src/onion/relay-cell.ts'
import { CELL_BODY_LEN, CELL_SIZE, CGO_PAYLOAD_LEN, RELAY_DATA_MAX } from '../../src/onion/constants.ts'
import { MalformedCellError, MalformedRelayCellError, OnionCallerError, OnionError } from '../../src/onion/errors.ts'

const circId = fc.integer({ min: 1, max: 0xffff_ffff })
const arbCell: fc.Arbitrary<Cell> = fc.oneof(
  fc.constant<Cell>({ command: 'padding', circId: 0 }),
  fc.record({ command: fc.constant('create' as const), circId, handshakeType: fc.integer({ min: 0, max: 0xffff }), handshake: fc.uint8Array({ maxLength: MAX_HANDSHAKE_DATA_LEN }) }),
  fc.record({ command: fc.constant('created' as const), circId, handshakeType: fc.integer({ min: 0, max: 0xffff }), handshake: fc.uint8Array({ maxLength: MAX_HANDSHAKE_DATA_LEN }) }),
  fc.record({ command: fc.constant('relay' as const), circId, early: fc.boolean(), body: fc.uint8Array({ minLength: CELL_BODY_LEN, maxLength: CELL_BODY_LEN }) }),
  fc.record({ command: fc.constant('destroy' as const), circId, reason: fc.integer({ min: 0, max: 255 }) })
)

const circuitCommands = [RelayCommand.EXTEND, RelayCommand.EXTENDED, RelayCommand.DROP]
const streamCommands = [RelayCommand.BEGIN, RelayCommand.DATA, RelayCommand.END, RelayCommand.CONNECTED]
const arbRelay: fc.Arbitrary<RelayCell> = fc.oneof(
  fc.record({ command: fc.constantFrom(...circuitCommands), streamId: fc.constant(0), data: fc.uint8Array({ maxLength: RELAY_DATA_MAX }) }),
  fc.record({ command: fc.constantFrom(...streamCommands), streamId: fc.integer({ min: 1, max: 0xffff }), data: fc.uint8Array({ maxLength: RELAY_DATA_MAX }) }),
  fc.record({ command: fc.oneof(fc.constant(RelayCommand.SENDME), fc.integer({ min: 64, max: 255 })), streamId: fc.integer({ min: 0, max: 0xffff }), data: fc.uint8Array({ maxLength: RELAY_DATA_MAX }) })
)

describe('link cell codec', () => {
  it('decode(encode(x)) == x, always CELL_SIZE bytes', () => {
    fc.assert(fc.property(arbCell, (cell) => {
      const bytes = encodeCell(cell)
      expect(bytes.length).toBe(CELL_SIZE)
      expect(decodeCell(bytes)).toEqual(cell)
    }), { numRuns: 300 })
  })

  it('arbitrary bytes decode or throw MalformedCellError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: CELL_SIZE + 8 }), (bytes) => {
      try { decodeCell(bytes) } catch (e) { expect(e).toBeInstanceOf(MalformedCellError) }
    }), { numRuns: 300 })
    // near-valid cells: a valid header with random bodies
    fc.assert(fc.property(circId, fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: CELL_BODY_LEN, maxLength: CELL_BODY_LEN }), (id, cmd, body) => {
      const bytes = new Uint8Array(CELL_SIZE); new DataView(bytes.buffer).setUint32(0, id); bytes[4] = cmd; bytes.set(body, 5)
      try { decodeCell(bytes) } catch (e) { expect(e).toBeInstanceOf(MalformedCellError) }
    }), { numRuns: 300 })
  })

  it('exact rejections', () => {
    const create = encodeCell({ command: 'create', circId: 7, handshakeType: 1, handshake: new Uint8Array([1, 2, 3]) })
    const bad = (mutate: (b: Uint8Array) => void): void => {
      const b = create.slice(); mutate(b)
      expect(() => decodeCell(b)).toThrow(MalformedCellError)
    }
    bad((b) => { b[100] = 1 })                         // non-zero padding
    bad((b) => { b[4] = 99 })                          // unknown command
    bad((b) => { b.fill(0, 0, 4) })                    // circuit id 0
    bad((b) => { b[7] = 0xff; b[8] = 0xff })           // HLEN beyond the cell
    expect(() => decodeCell(create.subarray(1))).toThrow(MalformedCellError)
    const pad = encodeCell({ command: 'padding', circId: 0 }); pad[3] = 1
    expect(() => decodeCell(pad)).toThrow(MalformedCellError)
  })

  it('EARLY mark is the command byte', () => {
    const body = new Uint8Array(CELL_BODY_LEN)
    expect(encodeCell({ command: 'relay', circId: 1, early: true, body })[4]).toBe(CellCommand.RELAY_EARLY)
    expect(encodeCell({ command: 'relay', circId: 1, early: false, body })[4]).toBe(CellCommand.RELAY)
  })

  it('caller misuse is OnionCallerError', () => {
    expect(() => encodeCell({ command: 'relay', circId: 0, early: false, body: new Uint8Array(CELL_BODY_LEN) })).toThrow(OnionCallerError)
    expect(() => encodeCell({ command: 'relay', circId: 1, early: false, body: new Uint8Array(10) })).toThrow(OnionCallerError)
    expect(() => encodeCell({ command: 'create', circId: 1, handshakeType: 1, handshake: new Uint8Array(MAX_HANDSHAKE_DATA_LEN + 1) })).toThrow(OnionCallerError)
  })
})

describe('relay cell codec', () => {
  it('decode(encode(x)) == x, always CGO_PAYLOAD_LEN bytes', () => {
    fc.assert(fc.property(arbRelay, (cell) => {
      const bytes = encodeRelayCell(cell)
      expect(bytes.length).toBe(CGO_PAYLOAD_LEN)
      expect(decodeRelayCell(bytes)).toEqual(cell)
    }), { numRuns: 300 })
  })

  it('arbitrary bytes decode or throw MalformedRelayCellError, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: CGO_PAYLOAD_LEN, maxLength: CGO_PAYLOAD_LEN }), fc.integer({ min: 0, max: CGO_PAYLOAD_LEN }), (bytes, cut) => {
      bytes.fill(0, Math.max(5, cut)) // vary how much is non-zero so some decode
      try { decodeRelayCell(bytes) } catch (e) { expect(e).toBeInstanceOf(MalformedRelayCellError); expect(e).toBeInstanceOf(OnionError) }
    }), { numRuns: 500 })
    expect(() => decodeRelayCell(new Uint8Array(5))).toThrow(MalformedRelayCellError)
  })

  it('exact rejections', () => {
    const ok = encodeRelayCell({ command: RelayCommand.DATA, streamId: 3, data: new Uint8Array([9, 9]) })
    const bad = (mutate: (b: Uint8Array) => void): void => { const b = ok.slice(); mutate(b); expect(() => decodeRelayCell(b)).toThrow(MalformedRelayCellError) }
    bad((b) => { b[0] = 0 })              // command 0
    bad((b) => { b[0] = 40 })             // unassigned core number
    bad((b) => { b[1] = 0; b[2] = 0 })    // DATA on stream 0
    bad((b) => { b[0] = RelayCommand.EXTEND }) // EXTEND on a stream
    bad((b) => { b[3] = 0xff })           // length beyond payload
    bad((b) => { b[100] = 1 })            // non-zero padding
    expect(decodeRelayCell(ok)).toEqual({ command: RelayCommand.DATA, streamId: 3, data: new Uint8Array([9, 9]) })
    expect(() => encodeRelayCell({ command: RelayCommand.DATA, streamId: 1, data: new Uint8Array(RELAY_DATA_MAX + 1) })).toThrow(OnionCallerError)
    expect(() => encodeRelayCell({ command: RelayCommand.BEGIN, streamId: 0, data: new Uint8Array() })).toThrow(OnionCallerError)
  })
})

describe('decoders copy their output', () => {
  it('a cell decoded from a Buffer does not alias the input (Buffer#slice is a view)', async () => {
    const { encodeCell, decodeCell, CellCommand } = await import('../../src/onion/index.ts')
    const { CELL_BODY_LEN } = await import('../../src/onion/constants.ts')
    const body = new Uint8Array(CELL_BODY_LEN).fill(5)
    const bytes = Buffer.from(encodeCell({ command: 'relay', circId: 9, early: false, body }))
    const cell = decodeCell(bytes)
    if (cell.command !== 'relay') throw new Error('expected a relay cell')
    bytes.fill(0)
    expect(cell.body[0]).toBe(5)
    expect(CellCommand.RELAY).toBeDefined()
  })
})
