/**
 * Overlay constants. Every size and time here is named with its reason; tests check
 * the derived ones (test/overlay/constants.test.ts).
 */

/** Link protocol: one libp2p stream per neighbour pair, carrying many circuits' cells. */
export const LINK_PROTOCOL = '/veil/link/1.0.0'
/** Directory protocol: relays exchange descriptors; clients fetch from their entry relays. */
export const DIR_PROTOCOL = '/veil/dir/1.0.0'
/** Private kad-dht protocol id: Veil relays never join the public IPFS DHT. */
export const DHT_PROTOCOL = '/veil/kad/1.0.0'
/** Agent string a client host reports: constant, so it identifies no version or host. */
export const CLIENT_AGENT = 'veil'

/** First path segment of relay descriptor keys in the DHT: selects the validator and selector. */
export const DESCRIPTOR_NAMESPACE = 'veil-relay'
/** Descriptor wire-format version, first field of the signed body. */
export const DESCRIPTOR_VERSION = 1
/** Domain separator for descriptor signatures, so a descriptor signature can never be
 * replayed as a signature over any other Veil object. */
export const DESCRIPTOR_SIGNING_CONTEXT = 'veil/relay-descriptor/v1\0'

/** A descriptor carries a few addresses, ≤ 4 onion keys, ≤ 16 family members: 8 KiB
 * holds that with room to spare and bounds what a storer or directory must keep. */
export const MAX_DESCRIPTOR_SIZE = 8 * 1024
export const MAX_DESCRIPTOR_ADDRS = 8
export const MAX_MULTIADDR_BYTES = 256
export const MAX_ONION_KEYS = 4
export const MAX_FAMILY = 16
export const MAX_PROTOCOLS = 8
export const MAX_PROTOCOL_NAME = 64
export const X25519_KEY_LEN = 32

/** Relays republish their descriptor well before it expires (Tor: 18 h for a 24 h one). */
export const DESCRIPTOR_LIFETIME_MS = 3 * 60 * 60 * 1000
/** No descriptor may claim to live longer than this: caps what a stolen old one can do. */
export const MAX_DESCRIPTOR_LIFETIME_MS = 24 * 60 * 60 * 1000
/** Clocks differ: accept descriptors published up to this far in the future. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

/** Onion keys: a new X25519 key every day; the previous one keeps working through an
 * overlap longer than any descriptor lifetime, so no client holding a cached descriptor
 * is refused. */
export const ONION_KEY_ROTATION_MS = 24 * 60 * 60 * 1000
export const ONION_KEY_OVERLAP_MS = 2 * DESCRIPTOR_LIFETIME_MS

/** Directory exchange: one page of descriptors per response. 128 × 8 KiB = 1 MiB bounds
 * a response; a directory of any size is paged through. */
export const DIR_PAGE_SIZE = 128
export const MAX_DIR_REQUEST = 256
export const MAX_DIR_RESPONSE = DIR_PAGE_SIZE * (MAX_DESCRIPTOR_SIZE + 16) + 64
/** No directory ever holds more than this many relays (bounds memory under a Sybil flood). */
export const MAX_DIRECTORY_SIZE = 20_000
export const DIR_REQUEST_TIMEOUT_MS = 10_000

/** Injection caps (Sybil / flooding): at most this many descriptors whose first address
 * is in one IPv4 /16 (off in single-address testnets), and at most this many new
 * descriptors first introduced by one source peer. */
export const MAX_RELAYS_PER_SUBNET = 16
export const MAX_NEW_PER_SOURCE = 4096

/** Link: the write buffer of a link stream is bounded (libp2p's is unbounded by default). */
export const LINK_MAX_WRITE_BUFFER = 1024 * 1024
/** Cells are batched per send(): each send costs ≈50 µs, 16 cells per send ≈250 MB/s. */
export const LINK_BATCH_CELLS = 16
/** A link with no cell either way for this long is closed (libp2p does not enforce
 * inactivityTimeout itself). */
export const LINK_IDLE_TIMEOUT_MS = 5 * 60 * 1000
/** How many cells a link may hold queued (not yet handed to the muxer) before it refuses more. */
export const LINK_MAX_QUEUED_CELLS = 4096
