/**
 * Every number of the mix area, each with its reason. Durations in milliseconds,
 * rates in events per second. Checked by test/mix/constants.test.ts.
 *
 * The per-profile defaults (delays, cover rates, buckets) live in profiles.ts next to
 * the profile table; this file holds the limits that bound memory and validation.
 */
import { CELL_SIZE, RELAY_DATA_MAX } from '../onion/constants.ts'

// ---------------------------------------------------------------------------
// Wire
// ---------------------------------------------------------------------------

/** A profile id on the wire (inside one hop's layer): one byte. Only the id travels, never numbers. */
export const PROFILE_ID_LEN = 1
/** Largest value a profile id byte can carry; ids above the known presets are refused by relays. */
export const MAX_PROFILE_ID = 0xff

// ---------------------------------------------------------------------------
// Delay scheduler
// ---------------------------------------------------------------------------

/** The issue asks for at least 10k cells in flight per relay. */
export const MIN_SCHEDULER_CAPACITY = 10_000
/**
 * Default capacity: 2^14 cells. In flight that is 16,384 × CELL_SIZE = 32 MiB of cell
 * buffers held by the onion layer's closures, and 16,384 × 20 bytes of heap arrays here.
 */
export const DEFAULT_SCHEDULER_CAPACITY = 1 << 14
/** Hard ceiling on a configured capacity (2^20 cells = 2 GiB of cells): a typo must not become an OOM. */
export const MAX_SCHEDULER_CAPACITY = 1 << 20
/**
 * Most cells one circuit+direction may hold in a relay's scheduler: 2,048 cells ≈ 4 MiB,
 * a generous window for one burst. With the default capacity at least 8 circuits fit
 * even if every one of them floods, so one circuit cannot starve the relay's others.
 */
export const DEFAULT_LANE_LIMIT = 2048

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/** Bits of a uniform double: a double's 52-bit fraction plus the implicit bit. */
export const UNIFORM_BITS = 53
/** Bytes drawn from Rng.bytes per uniform double: 7 bytes = 56 bits, the top 53 kept. */
export const UNIFORM_BYTES = 7
/**
 * Largest Exp(mean) sample, in means: u ≤ 1 − 2^−53 so −ln(1 − u) ≤ 53·ln 2 ≈ 36.74.
 * A cell is therefore never held longer than ≈ 36.7 × the profile's mean per hop.
 */
export const MAX_EXP_SAMPLE_MEANS = UNIFORM_BITS * Math.LN2

// ---------------------------------------------------------------------------
// Profiles and overrides
// ---------------------------------------------------------------------------

/** Largest per-hop mean delay a relay may configure: beyond a second per hop, interactive MCP calls time out. */
export const MAX_PER_HOP_MEAN_DELAY_MS = 1000
/** Largest cover or send-stream rate a client may configure: 1,000 cells/s ≈ 2 MiB/s of cover. */
export const MAX_COVER_RATE_PER_SEC = 1000

// ---------------------------------------------------------------------------
// Paranoid send stream
// ---------------------------------------------------------------------------

/**
 * Default bound of the send-stream queue: 1,024 cells ≈ 2 MiB of real data waiting for
 * slots (≈ 20 s at 50 cells/s). Beyond it `offer` refuses: the caller must wait.
 */
export const DEFAULT_SEND_QUEUE_LIMIT = 1024

// ---------------------------------------------------------------------------
// Padding
// ---------------------------------------------------------------------------

/** Largest bucket (cells) in a configured list, and largest message padded: 2^16 cells = 128 MiB. */
export const MAX_PADDED_CELLS = 1 << 16

// ---------------------------------------------------------------------------
// Loop-loss attribution
// ---------------------------------------------------------------------------

/** A loop not back after this long is lost. A paranoid 3-hop loop averages < 0.5 s; 20 s leaves room for slow links. */
export const DEFAULT_LOOP_TIMEOUT_MS = 20_000
/** Loops tracked at once: 55 loops/s (paranoid) × 20 s = 1,100, so 4,096 is never reached in normal use. */
export const MAX_PENDING_LOOPS = 4096
/** Failed paths kept as evidence (oldest forgotten first). Bounds memory and the attribution search. */
export const MAX_FAILED_PATHS = 256
/** Failed-path evidence older than this is forgotten: a relay is judged on its recent behaviour. */
export const LOSS_EVIDENCE_WINDOW_MS = 6 * 3_600_000
/** The attribution rule needs this many failed paths that share no other (non-guard) relay. */
export const LOSS_PATHS_TO_AVOID = 3
/**
 * A loss counts as evidence only if a loop sent within this long *after* the lost one, on
 * a path sharing no non-guard relay with it, came back: proof that the client's own link
 * (and guard) worked then, so the loss was not an outage. Must be below the loop timeout,
 * so those loops have had time to return when the loss is judged. At balanced's 0.5 loops/s,
 * ≈ 5 loops are sent in the window.
 */
export const CONFIRM_WINDOW_MS = 10_000
/** Returned loops remembered for confirmation: ≥ the pending bound, so a window's returns are all kept. */
export const MAX_RECENT_RETURNS = MAX_PENDING_LOOPS
/** How long a relay stays avoided after it was judged. */
export const AVOID_DURATION_MS = 24 * 3_600_000
/**
 * Most relays avoided at once on loop evidence. Loop losses are weak evidence (links
 * fail too); a cap keeps an attacker who frames relays from shrinking path choice much.
 */
export const MAX_AVOIDED_RELAYS = 8

// ---------------------------------------------------------------------------
// Derived
// ---------------------------------------------------------------------------

/** Bytes one cell puts on a link, whatever it carries (real, loop, drop or padding). */
export const WIRE_CELL_BYTES = CELL_SIZE
/** Application bytes one cell can carry: the unit of the paranoid throughput cap. */
export const CELL_PAYLOAD_BYTES = RELAY_DATA_MAX

// ---------------------------------------------------------------------------
// Relay commands (src/onion extension range RELAY_EXTENSION_MIN..MAX; src/node registers them)
// ---------------------------------------------------------------------------

/**
 * SET_PROFILE: client → one hop, recognised at that hop only (it is encrypted to that
 * hop's layer). Data: the PROFILE_ID_LEN-byte profile id, nothing else. Sent once per hop
 * right after the circuit is built; a second one, or an unknown id, destroys the circuit.
 */
export const RELAY_SET_PROFILE = 64
/**
 * LOOP: client → last hop. Data: a LOOP_ID_LEN-byte random loop id. The last hop answers
 * with an ordinary DROP cell carrying the same id back, so the loop's return leg looks
 * like any cover cell toward the client.
 */
export const RELAY_LOOP = 65
/** A loop id: 64 random bits, so a relay cannot predict or forge another loop's return. */
export const LOOP_ID_LEN = 8
/** A paranoid client's send-stream queue, cells: above one circuit window plus its SENDMEs and padding, which flow control already bounds (mix-glue and sim/ use it). */
export const PARANOID_QUEUE_LIMIT = 4096
/**
 * Paranoid's cover circuits beside each call circuit (ClientProfileParams.coverCircuits):
 * the send stream's slots are spread evenly over 1 + 5 circuits, so an observer who
 * matches the client's stream to the far end by timing finds six last hops whose flows
 * look alike and picks the right one about 1 time in 6. Each circuit then carries
 * λ / 6 ≈ 8.3 cells/s — the real-throughput cap of one call (docs/mixing.md).
 */
export const PARANOID_COVER_CIRCUITS = 5
/**
 * Paranoid's backward stream at a circuit's last hop (RelayProfileParams.lastHopRatePerSec),
 * cells/s per circuit: what comes back on an idle circuit is only its loop replies (≈ 5/6
 * per second: the send stream's empty slots carry drops), so the stream is nearly all
 * capacity for responses — 10 × 2,022 B ≈ 19.7 KiB/s per call, about the forward cap
 * (λ / 6 ≈ 8.3 cells/s) — at 60 cells/s toward an idle client with six circuits.
 */
export const PARANOID_LAST_HOP_RATE = 10
