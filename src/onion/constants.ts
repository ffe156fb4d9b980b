/**
 * Every size in the onion layer, derived from a handful of parameters.
 *
 * Nothing here is tunable at run time: each value is part of the wire format
 * (docs/protocol.md). A second implementation must use exactly these numbers,
 * and `test/onion/constants.test.ts` checks every derivation, including that
 * both handshake messages fit in one cell. No other module may write a literal
 * size such as `slice(0, 1280)`; it imports the name from here.
 *
 * Defends against: silent drift between encoder and decoder, and between the
 * handshake and the cell layout (a message that no longer fits a cell).
 */

// ---------------------------------------------------------------------------
// Parameters (the only free choices)
// ---------------------------------------------------------------------------

/** Every cell on a link has this size, whatever it carries: sizes leak nothing. 2048 so a hybrid handshake fits in one cell. */
export const CELL_SIZE = 2048
/** Most hops a circuit may have (Tor has no hard cap; Veil caps path length to bound amplification). */
export const MAX_HOPS = 8
/** Clients send their first MAX_EARLY relay cells as EARLY whatever the path length; relays refuse an EXTEND outside an EARLY cell. */
export const MAX_EARLY = 8
/** Default circuit length, as in Tor. */
export const DEFAULT_HOPS = 3

// ---------------------------------------------------------------------------
// Link cell: CIRC_ID | COMMAND | BODY
// ---------------------------------------------------------------------------

/** Link-local circuit id, big-endian; 0 is reserved for link-level cells (PADDING). 4 bytes as in Tor's link protocol v4+. */
export const CIRC_ID_LEN = 4
/** One byte command; RELAY and RELAY_EARLY are distinct commands, which is the EARLY/normal mark. */
export const COMMAND_LEN = 1
/** Link cell header. */
export const CELL_HEADER_LEN = CIRC_ID_LEN + COMMAND_LEN
/** Cell body: what CGO protects for RELAY cells (arti's CELL_DATA_LEN, 509 in Tor). */
export const CELL_BODY_LEN = CELL_SIZE - CELL_HEADER_LEN
/** Largest circuit id (unsigned 32-bit). */
export const MAX_CIRC_ID = 0xffff_ffff

// ---------------------------------------------------------------------------
// Counter Galois Onion (proposal 359)
// ---------------------------------------------------------------------------

/** AES and POLYVAL block size. */
export const BLOCK_LEN = 16
/** CGO tag at the start of each relay cell body (arti CGO_TAG_LEN). */
export const CGO_TAG_LEN = BLOCK_LEN
/** Rest of the body after the tag: the relay cell proper. */
export const CGO_PAYLOAD_LEN = CELL_BODY_LEN - CGO_TAG_LEN
/** POLYVAL key length (RFC 8452). */
export const POLYVAL_KEY_LEN = 16
/** Veil uses AES-256 for CGO (arti's test vectors use AES-128). */
export const CGO_AES_KEY_LEN = 32
/** Tor uses AES-128 in its CGO test vectors: kept to reproduce them. */
export const ARTI_CGO_AES_KEY_LEN = 16
/** Tor's relay cell body (509 = 514 - 4 - 1). */
export const ARTI_CELL_BODY_LEN = 509
/** ET keys KB||KU; PRF keys K||B; UIV keys J||S. */
export const CGO_ET_KEY_LEN = CGO_AES_KEY_LEN + POLYVAL_KEY_LEN
export const CGO_PRF_KEY_LEN = CGO_AES_KEY_LEN + POLYVAL_KEY_LEN
export const CGO_UIV_KEY_LEN = CGO_ET_KEY_LEN + CGO_PRF_KEY_LEN
/** Nonce N of one direction's state. */
export const CGO_NONCE_LEN = BLOCK_LEN
/** Seed of one direction (keys then nonce), as arti's CryptState::seed_len. */
export const CGO_STATE_SEED_LEN = CGO_UIV_KEY_LEN + CGO_NONCE_LEN

// ---------------------------------------------------------------------------
// Relay cell inside the CGO payload: RELAY_CMD | STREAM_ID | LENGTH | DATA | PADDING
// ---------------------------------------------------------------------------

export const RELAY_COMMAND_LEN = 1
/** 16-bit stream ids: 65,535 concurrent streams per circuit are plenty; 0 means "the circuit itself". */
export const STREAM_ID_LEN = 2
/** 16-bit data length: the payload is < 65,536 bytes. */
export const RELAY_LENGTH_LEN = 2
export const RELAY_HEADER_LEN = RELAY_COMMAND_LEN + STREAM_ID_LEN + RELAY_LENGTH_LEN
/** Most data bytes one relay cell carries. */
export const RELAY_DATA_MAX = CGO_PAYLOAD_LEN - RELAY_HEADER_LEN
/** First relay command number later layers may register (directory, registry, introduction, rendezvous). */
export const RELAY_EXTENSION_MIN = 64
/** Last registrable relay command number. */
export const RELAY_EXTENSION_MAX = 255

// ---------------------------------------------------------------------------
// Handshake (proposal-269 shape: hybrid ntor + ephemeral ML-KEM-768)
// ---------------------------------------------------------------------------

/** X25519 public keys, secret scalars and shared secrets (RFC 7748). */
export const X25519_LEN = 32
/** ML-KEM-768 sizes (FIPS 203 table 3). */
export const MLKEM768_EK_LEN = 1184
export const MLKEM768_DK_LEN = 2400
export const MLKEM768_CT_LEN = 1088
export const MLKEM768_SS_LEN = 32
/** d || z for ML-KEM.KeyGen_internal. */
export const MLKEM768_KEYGEN_SEED_LEN = 64
/** m for ML-KEM.Encaps_internal. */
export const MLKEM768_ENCAPS_SEED_LEN = 32
/** A relay's identity as seen by the handshake: its raw Ed25519 public key (the libp2p peer id key). */
export const RELAY_ID_LEN = 32
/** KEYID(B) = B, as in ntor: the X25519 onion key itself selects which of the relay's onion keys is meant. */
export const KEYID_LEN = X25519_LEN
/** AUTH: SHA3-256 HMAC output. */
export const MAC_LEN = 32
/** Hash output (SHA3-256) used for the transcript hash, HKDF and the MAC. */
export const HASH_LEN = 32
/** Message 1 (client → hop): ID | KEYID(B) | X | EPK. */
export const CREATE_MESSAGE_LEN = RELAY_ID_LEN + KEYID_LEN + X25519_LEN + MLKEM768_EK_LEN
/** Message 2 (hop → client): Y | C | AUTH. */
export const CREATED_MESSAGE_LEN = X25519_LEN + MLKEM768_CT_LEN + MAC_LEN
/** Circuit binding value (arti CIRC_BINDING_LEN is 20; Veil uses a full hash). Handed to later layers, never sent. */
export const CIRCUIT_BINDING_LEN = 32
/** Session key material: forward CGO state, backward CGO state, binding. */
export const SESSION_KEY_MATERIAL_LEN = 2 * CGO_STATE_SEED_LEN + CIRCUIT_BINDING_LEN

/** CREATE/CREATED/EXTEND bodies: HTYPE (2) | HLEN (2) | HDATA. */
export const HANDSHAKE_TYPE_LEN = 2
export const HANDSHAKE_LENGTH_LEN = 2
export const HANDSHAKE_HEADER_LEN = HANDSHAKE_TYPE_LEN + HANDSHAKE_LENGTH_LEN
/** The only handshake type so far. */
export const HANDSHAKE_TYPE_HYBRID_NTOR_V1 = 0x0001
/** DESTROY body: one reason byte. */
export const DESTROY_REASON_LEN = 1

// ---------------------------------------------------------------------------
// Circuits, streams and flow control (circuit.ts, relay-circuits.ts,
// client-circuit.ts, stream.ts, manager.ts). docs/protocol.md §6–§8.
// ---------------------------------------------------------------------------

/**
 * RELAY_EARLY cells a client sends, and a relay accepts, per circuit: the
 * client's first MAX_RELAY_EARLY relay cells are EARLY whatever the path
 * length; a relay destroys a circuit on one more. An EXTEND must ride in an
 * EARLY cell, so a circuit can be extended at most MAX_HOPS − 1 times: this
 * is what caps the length at MAX_HOPS. (MAX_EARLY = 8 EARLY cells would allow
 * 8 extensions, i.e. 9 hops — see docs/protocol.md §6.)
 */
export const MAX_RELAY_EARLY = MAX_HOPS - 1
/** Circuit ids a side allocates on a link: the side that opened the link sets the top bit, the other clears it, so both can create circuits without colliding (Tor link protocol ≥ 4). */
export const CIRC_ID_HIGH_BIT = 0x8000_0000

/** EXTEND link specifier: u8 length; the next hop's libp2p peer id (multihash bytes, 38 for Ed25519). */
export const LINK_SPECIFIER_LEN_LEN = 1
export const MAX_LINK_SPECIFIER_LEN = 0xff
/** BEGIN names a stream target (a short ASCII name registered at the last hop). */
export const MAX_STREAM_TARGET_LEN = 64
/** END data: one reason byte. */
export const STREAM_END_REASON_LEN = 1
/** Each stream message is framed as LENGTH (u32) | bytes across DATA cells. */
export const MESSAGE_LENGTH_LEN = 4

/** Tor's circuit window: DATA cells a side may send on a circuit before a circuit SENDME (stream id 0) comes back. Bounds each relay's queue per circuit and direction to ≈ 1000 × 2 KB = 2 MB. */
export const CIRCUIT_WINDOW_START = 1000
/** A circuit SENDME acknowledges this many DATA cells (Tor: 100). */
export const CIRCUIT_WINDOW_INCREMENT = 100
/** Tor's stream window: DATA cells per stream before a stream SENDME. Bounds what a slow reader buffers: ≈ 500 × 2022 B ≈ 1 MB. */
export const STREAM_WINDOW_START = 500
/** A stream SENDME acknowledges this many DATA cells (Tor: 50). */
export const STREAM_WINDOW_INCREMENT = 50
/** Complete, unread messages a stream may hold before it stops sending SENDMEs (≈ one stream window of data). */
export const STREAM_READY_BYTES_MAX = STREAM_WINDOW_START * RELAY_DATA_MAX
/** Default largest message a stream accepts (the receiver's choice; 64 MiB). Bounds one partial message in memory. */
export const DEFAULT_MAX_MESSAGE_LEN = 64 * 1024 * 1024
/** Streams open at once on one circuit: bounds the buffers of one circuit at ≈ 32 × 1 MB. */
export const MAX_STREAMS_PER_CIRCUIT = 32
/** A DATA-less stream or a read waits at most this long by default (links use the same idle bound). */
export const DEFAULT_STREAM_IDLE_MS = 5 * 60 * 1000
/** BEGIN → CONNECTED wait by default. */
export const DEFAULT_STREAM_OPEN_TIMEOUT_MS = 30_000

/** Cells a relay (or client) may hold for one circuit and direction while its link is full: one circuit window plus control cells; more means the peer ignores flow control. */
export const MAX_QUEUED_CELLS_PER_CIRCUIT = CIRCUIT_WINDOW_START + 2 * CIRCUIT_WINDOW_INCREMENT
/** Cells a handler of an extension command may send back per request cell (bulk data belongs in a stream, which is flow-controlled). */
export const MAX_EXTENSION_REPLY_CELLS = 16
/** A relay waits this long for the next hop's link and CREATED when extending. */
export const EXTEND_TIMEOUT_MS = 10_000
/** Circuits per link a relay accepts (bounds memory per neighbour). */
export const MAX_CIRCUITS_PER_LINK = 4096
/** Circuits a relay carries in all. */
export const MAX_RELAY_CIRCUITS = 32_768
/**
 * Relay-wide CREATE budget: a hybrid handshake costs ≈1.1 ms of CPU, so 200/s caps handshake
 * work near a fifth of one core; a client builds a handful of circuits a minute.
 */
export const RELAY_CREATES_PER_SECOND = 200
/** One link (one peer) may use a quarter of the relay's CREATE budget. */
export const RELAY_CREATES_PER_SECOND_PER_LINK = 50
/** The relay-wide bucket holds this many seconds of CREATEs (a burst after a quiet spell). */
export const RELAY_CREATE_BURST_S = 2
/** A link's bucket holds this many seconds of its rate: a client opening its circuit pool at once is not refused. */
export const RELAY_CREATE_BURST_S_PER_LINK = 4
/**
 * A relay destroys a circuit that carried no cell for this long (libp2p enforces
 * no inactivity timeout, and a client that vanished without DESTROY would leave
 * its circuits behind). Longer than any circuit a well-behaved client keeps:
 * DEFAULT_CIRCUIT_MAX_AGE_MS of use plus as much again draining its streams.
 */
export const RELAY_CIRCUIT_IDLE_MS = 30 * 60 * 1000
/** The idle sweep runs this many times per idle period (a circuit lives at most idle × (1 + 1/n)). */
export const RELAY_IDLE_SWEEPS_PER_PERIOD = 4

/** Circuit build timeout before enough builds were observed (Tor: 60 s). */
export const DEFAULT_BUILD_TIMEOUT_MS = 60_000
/** Builds observed before the timeout follows them (Tor's CBT_MIN_CIRCUITS_TO_OBSERVE: 100). */
export const BUILD_TIMES_MIN_SAMPLES = 100
/** Recent build times kept (Tor: 1000). */
export const BUILD_TIMES_MAX_SAMPLES = 1000
/** The timeout is this quantile of recent build times (Tor: 80th percentile). */
export const BUILD_TIMEOUT_QUANTILE = 0.8
/** Never time out sooner than this: below it one TCP retransmission (≥ 200 ms RTO) or a GC pause would make builds fail spuriously. */
export const BUILD_TIMEOUT_FLOOR_MS = 1_000
/** Pre-built circuits a client keeps ready. */
export const DEFAULT_CIRCUIT_POOL_SIZE = 2
/** A circuit takes no new work after this age (Tor's MaxCircuitDirtiness: 10 min). */
export const DEFAULT_CIRCUIT_MAX_AGE_MS = 10 * 60 * 1000
/** Paths tried per requested circuit before giving up. */
export const DEFAULT_BUILD_ATTEMPTS = 3
