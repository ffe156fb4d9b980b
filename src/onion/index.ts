/**
 * Onion routing core: fixed-size link cells, the relay cell format, the hybrid
 * post-quantum circuit handshake, and Counter Galois Onion (CGO) relay crypto.
 *
 * A client builds a circuit hop by hop: for each hop it runs the handshake
 * (X25519 + an ephemeral ML-KEM-768 key), derives one CGO layer per direction,
 * and from then on every cell on the circuit carries one layer per hop. Each
 * relay learns only its predecessor and successor; every cell is CELL_SIZE
 * bytes; a cell modified anywhere is not recognised and destroys the circuit.
 *
 * Example (one hop, no networking):
 * ```ts
 * import { clientStart, relayRespond, clientFinish, RelayHandshakeKeys, generateOnionKey,
 *   cgoLayout, VEIL_CGO_PARAMS, clientLayer, relayLayer, clientEncryptOutbound,
 *   encodeRelayCell, decodeRelayCell, RelayCommand, CellCommand, systemRng } from './index.ts'
 * const onion = generateOnionKey(systemRng)
 * const relayKeys = new RelayHandshakeKeys(relayId, [onion])
 * const { state, message } = clientStart(systemRng, { id: relayId, onionKey: onion.publicKey })
 * const { reply, sessionKeys: relaySide } = relayRespond(relayKeys, message, systemRng)
 * const clientSide = clientFinish(state, reply)
 * const layout = cgoLayout(VEIL_CGO_PARAMS)
 * const c = clientLayer(layout, clientSide); const r = relayLayer(layout, relaySide)
 * const body = new Uint8Array(layout.bodyLen)
 * body.set(encodeRelayCell({ command: RelayCommand.DROP, streamId: 0, data: new Uint8Array() }), 16)
 * clientEncryptOutbound([c.outbound], 0, CellCommand.RELAY, body)
 * r.outbound.decryptOutbound(CellCommand.RELAY, body) // true: recognised at this hop
 * decodeRelayCell(body.subarray(16))
 * ```
 *
 * Circuits and streams (relay-circuits.ts, client-circuit.ts, stream.ts,
 * manager.ts) run on top of these pure pieces; they touch the network only
 * through the small interfaces in circuit.ts (LinkLike, LinkProvider,
 * HandshakeKeySource, ForwardScheduler) that src/node fills, and later layers
 * plug in through RelayCommandTable and StreamTargetTable.
 *
 * Not in this module: libp2p, link I/O, directory fetching (src/overlay);
 * what extension commands and stream targets do (later layers). It must
 * never: use Math.random or any non-injected randomness for secrets; log or
 * serialise keys (secret holders print "[redacted]"); decrypt, parse, decide
 * and forward in one handler; reorder cells within a circuit and direction;
 * import from higher layers (they register relay commands in the
 * RELAY_EXTENSION_MIN..MAX range instead).
 */
export * from './constants.ts'
export * from './errors.ts'
export { systemRng, Redacted, REDACTED, type Rng } from './primitives.ts'
export { type X25519, nodeX25519, stablelibX25519, defaultX25519, x25519KeyPair } from './x25519.ts'
export { PolyvalKey, polyval } from './polyval.ts'
export {
  type CgoParams, type CgoLayout, type CgoHopKeys, VEIL_CGO_PARAMS, ARTI_CGO_PARAMS, cgoLayout, CgoState,
  RelayOutbound, RelayInbound, ClientOutbound, ClientInbound, clientEncryptOutbound, clientDecryptInbound, relayLayer, clientLayer
} from './cgo.ts'
export { type Cell, type CellCommandNumber, CellCommand, DestroyReason, MAX_HANDSHAKE_DATA_LEN, encodeCell, decodeCell, commandByte } from './cell.ts'
export { type RelayCell, RelayCommand, encodeRelayCell, decodeRelayCell, isExtensionCommand } from './relay-cell.ts'
export {
  HANDSHAKE_PROTOID, type HopPublicKeys, type OnionKeyPair, RelayHandshakeKeys, SessionKeys, ClientHandshakeState,
  clientStart, relayRespond, clientFinish, generateOnionKey
} from './handshake.ts'
export {
  type LinkLike, type LinkProvider, type HandshakeKeySource, type ForwardScheduler, type CellDirection, type ExtendRequest, type HandshakeBlob, type QueueOwner,
  immediateScheduler, CircuitClosedError, CircuitBuildTimeoutError, CircuitProtocolError, StreamClosedError, OnionTimeoutError,
  encodeExtend, decodeExtend, encodeExtended, decodeExtended, encodeBegin, decodeBegin, encodeEnd, decodeEnd, allocateCircId, circIdBelongsTo, LinkWriter
} from './circuit.ts'
export { RelayCommandTable, type ExtensionContext, type ExtensionHandler } from './commands.ts'
export {
  StreamMux, OnionStream, StreamTargetTable, StreamEndReason, ECHO_TARGET, echoHandler,
  type StreamCarrier, type StreamHandler, type StreamTargets, type StreamMuxOptions
} from './stream.ts'
export { RelayCircuits, type RelayCircuitsOptions, type RelayCircuitCounters, type RelayCircuitView } from './relay-circuits.ts'
export { Circuit, CircuitClient, CircuitBuildError, type HopSpec, type CircuitClientOptions } from './client-circuit.ts'
export { CircuitManager, BuildTimeEstimator, type PathSource, type CircuitManagerOptions, type BuildTimeOptions } from './manager.ts'
