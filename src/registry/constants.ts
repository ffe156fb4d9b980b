/**
 * Every size, limit, namespace and domain string of the registry, derived from a few
 * parameters and named with its reason (STYLE.md §2). `test/registry/constants.test.ts`
 * checks the derivations, including that the largest legal descriptor fits
 * MAX_DESCRIPTOR. Everything here is part of the wire format (docs/registry.md).
 */
import { MLKEM768_CT_LEN, MLKEM768_EK_LEN, X25519_LEN } from '../onion/constants.ts'

// ---------------------------------------------------------------------------
// Primitive sizes
// ---------------------------------------------------------------------------

export const ED25519_PUBLIC_LEN = 32
export const ED25519_SEED_LEN = 32
export const ED25519_SIGNATURE_LEN = 64
/** Expanded Ed25519 secret: scalar (32, little-endian, reduced mod ℓ) || hash prefix (32). */
export const ED25519_EXPANDED_LEN = 64
export const SHA3_256_LEN = 32
/** FIPS 204 ML-DSA-65 sizes. */
export const MLDSA65_PUBLIC_LEN = 1952
export const MLDSA65_SECRET_LEN = 4032
export const MLDSA65_SIGNATURE_LEN = 3309
export const MLDSA65_SEED_LEN = 32
export { X25519_LEN, MLKEM768_CT_LEN, MLKEM768_EK_LEN }

// ---------------------------------------------------------------------------
// Provider address: base32(VERSION | A | SHA3-256(ML-DSA pk) | CHECKSUM)
// ---------------------------------------------------------------------------

export const ADDRESS_VERSION = 1
export const ADDRESS_VERSION_LEN = 1
export const ADDRESS_CHECKSUM_LEN = 2
/** ".veil checksum" plays the role of Tor's ".onion checksum" (rend-spec-v3 §6). */
export const ADDRESS_CHECKSUM_CONTEXT = '.veil checksum'
export const ADDRESS_BINARY_LEN = ADDRESS_VERSION_LEN + ED25519_PUBLIC_LEN + SHA3_256_LEN + ADDRESS_CHECKSUM_LEN
/** 67 bytes = 536 bits → ⌈536 / 5⌉ = 108 base32 characters (no padding). */
export const ADDRESS_TEXT_LEN = Math.ceil(ADDRESS_BINARY_LEN * 8 / 5)

// ---------------------------------------------------------------------------
// Time periods (rend-spec-v3 §2.2.1)
// ---------------------------------------------------------------------------

/** Production period: one day, as Tor's default hsdir_interval. */
export const DEFAULT_PERIOD_SECONDS = 24 * 60 * 60
/** Periods start at 12:00 UTC, as Tor's (rotation offset from the Unix epoch). */
export const DEFAULT_PERIOD_OFFSET_SECONDS = 12 * 60 * 60

// ---------------------------------------------------------------------------
// Key blinding (rend-spec-v3 appendix A.2)
// ---------------------------------------------------------------------------

/** BLIND_STRING = "Derive temporary signing key" | INT_1(0). */
export const BLIND_STRING = 'Derive temporary signing key\0'
/** The ed25519 basepoint as the decimal string rend-spec-v3 A.2 hashes. */
export const ED25519_BASEPOINT_STRING =
  '(15112221349535400772501151409588531511454012693041857206046113283949847762202, ' +
  '46316835694926478169428394003475163141307993866256225615783033603165251855960)'
export const KEY_BLIND_NONCE_PREFIX = 'key-blind'
/** The hash prefix of a blinded expanded key: SHA-512(this | prefix)[0..32] (as arti and C tor). */
export const BLINDED_PREFIX_STRING = 'Derive temporary signing key hash input'
/** The keyword-index blinding nonce prefix: N = "veil-kw-blind" | keyword | INT_8(p) | INT_8(period_length). */
export const KEYWORD_BLIND_NONCE_PREFIX = 'veil-kw-blind'

// ---------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------

/** First path segment of descriptor keys in the DHT: selects validator and selector. */
export const DESCRIPTOR_NAMESPACE = 'veil-desc'
export const OUTER_VERSION = 1
/** Domain separator prefixed to the outer body before the A'_p signature. */
export const OUTER_SIGNING_CONTEXT = 'veil/registry/outer-descriptor/v1\0'
/** hs_index prefix, as Tor's hs_build_hs_index. */
export const STORE_AT_INDEX_PREFIX = 'store-at-idx'
/** Replicas per descriptor (Tor hsdir_n_replicas). */
export const DESCRIPTOR_REPLICAS = 2
/** Storers per replica (Tor hsdir_spread_store). */
export const STORERS_PER_REPLICA = 4
/** Descriptor lifetime, as Tor's (3 h). */
export const DESCRIPTOR_LIFETIME_SECONDS = 3 * 60 * 60
/** The outer revision (seconds since the period began) and expiry travel as fixed-width
 * big-endian byte strings so the record length never depends on their values. */
export const REVISION_LEN = 4
export const EXPIRY_LEN = 8

/** §2.5 layer: salt and MAC as Tor's; keys from SHAKE-256. */
export const LAYER_SALT_LEN = 16
export const LAYER_MAC_LEN = 32
export const LAYER_KEY_LEN = 32
export const LAYER_IV_LEN = 16
export const LAYER_MAC_KEY_LEN = 32
/** Personalisation strings (Tor: "hsdir-superencrypted-data" / "hsdir-encrypted-data"). */
export const INNER_LAYER_CONSTANT = 'veil-desc-inner-data'
export const PRIVATE_LAYER_CONSTANT = 'veil-desc-private-data'
/**
 * accessToken = SHAKE-256(PRIVATE_ACCESS_CONSTANT | A'_p | descriptor cookie, 32): what an
 * authorised client shows the provider (inside its end-to-end session) to see and call
 * private tools. Only clients that opened the auth section know the cookie.
 */
export const PRIVATE_ACCESS_CONSTANT = 'veil-private-access'
export const PRIVATE_ACCESS_TOKEN_LEN = 32
/** Plaintexts are padded to a multiple of this, so a layer's length says little. */
export const LAYER_PAD_BLOCK = 4 * 1024
/** Each padded plaintext starts with the length of the real content. */
export const LAYER_LENGTH_PREFIX_LEN = 4

/** Introduction points: Tor allows 20; Veil's carry an ML-KEM key (1,184 bytes) each. */
export const MAX_INTRO_POINTS = 10
export const MAX_LINK_SPECIFIERS = 8
export const MAX_LINK_SPECIFIER_LEN = 256
/** A relay peer id (identity multihash of an Ed25519 key: 38 bytes) with headroom. */
export const MAX_PEER_ID_LEN = 64
export const POW_SEED_LEN = 32
export const MAX_POW_EFFORT = 64

/** Client authorisation (rend-spec-v3 §2.5.1.2): 8-byte client id, wrapped 32-byte cookie. */
export const CLIENT_ID_LEN = 8
export const DESCRIPTOR_COOKIE_LEN = 32
export const AUTH_IV_LEN = 16
export const AUTH_ENTRY_LEN = CLIENT_ID_LEN + AUTH_IV_LEN + MLKEM768_CT_LEN + DESCRIPTOR_COOKIE_LEN
/** Entries are padded with fakes to a multiple of 16 (as Tor). */
export const AUTH_ENTRY_BLOCK = 16
export const MAX_AUTH_CLIENTS = 64
/** SHAKE-256 output for one auth entry: CLIENT-ID (8) then COOKIE-KEY (32), as Tor's KEYS. */
export const AUTH_KEYS_LEN = CLIENT_ID_LEN + DESCRIPTOR_COOKIE_LEN
export const AUTH_ID_CONSTANT = 'veil-auth-client-id'
export const AUTH_KEY_CONSTANT = 'veil-auth-cookie-key'

/** ML-DSA signature contexts (FIPS 204 ctx, ≤ 255 bytes). */
export const INNER_MLDSA_CONTEXT = 'veil/registry/inner-descriptor/v1'
export const CATALOGUE_MLDSA_CONTEXT = 'veil/registry/catalogue/v1'
export const CATALOGUE_ED25519_CONTEXT = 'veil/registry/catalogue/v1\0'
export const INTRO_AUTH_CERT_CONTEXT = 'veil/registry/intro-auth-cert/v1\0'

/** Catalogue digest version field and limits. */
export const CATALOGUE_VERSION = 1
export const MAX_CATALOGUE_TOOLS = 256
export const MAX_CATALOGUE_SIZE = 1024 * 1024

/** Largest inner plaintext: its fixed parts plus every variable part at its maximum. */
export const INTRO_POINT_MAX_LEN =
  MAX_PEER_ID_LEN + MAX_LINK_SPECIFIERS * (MAX_LINK_SPECIFIER_LEN + 3) + ED25519_PUBLIC_LEN +
  ED25519_SIGNATURE_LEN + X25519_LEN + MLKEM768_EK_LEN + 32
export const PRIVATE_CONTENT_MAX_LEN = SHA3_256_LEN + 16 + MAX_INTRO_POINTS * INTRO_POINT_MAX_LEN + 64
export const INNER_CONTENT_MAX_LEN =
  MAX_INTRO_POINTS * INTRO_POINT_MAX_LEN + POW_SEED_LEN + SHA3_256_LEN + 64 +
  MLDSA65_PUBLIC_LEN + MLDSA65_SIGNATURE_LEN + 64 +
  X25519_LEN + MAX_AUTH_CLIENTS * (AUTH_ENTRY_LEN + 3) +
  LAYER_SALT_LEN + padLen(PRIVATE_CONTENT_MAX_LEN) + LAYER_MAC_LEN + 64

/** Padded length of a layer plaintext carrying `n` content bytes. */
export function padLen (n: number): number {
  const total = LAYER_LENGTH_PREFIX_LEN + n
  return Math.ceil(total / LAYER_PAD_BLOCK) * LAYER_PAD_BLOCK
}

/** The outer record holds one inner ciphertext plus ≈ 120 bytes of fields and framing. */
export const OUTER_OVERHEAD = 160
/** Largest record a storer accepts (Tor: 50,000 bytes; Veil's hybrid keys are larger). */
export const MAX_DESCRIPTOR = LAYER_SALT_LEN + padLen(INNER_CONTENT_MAX_LEN) + LAYER_MAC_LEN + OUTER_OVERHEAD

// ---------------------------------------------------------------------------
// Keyword index
// ---------------------------------------------------------------------------

export const KEYWORD_NAMESPACE = 'veil-kw'
export const KEYWORD_INDEX_PREFIX = 'veil-kw'
export const KEYWORD_ENC_CONSTANT = 'veil-kw-entry-key'
export const KEYWORD_ENTRY_VERSION = 1
export const KEYWORD_SIGNING_CONTEXT = 'veil/registry/keyword-entry/v1\0'
export const KEYWORD_POW_CONTEXT = 'veil/registry/keyword-pow/v1\0'
/** A keyword is at most 64 characters after normalisation. */
export const MAX_KEYWORD_LEN = 64
export const MAX_ENTRIES_PER_KEY = 256
/** Summary plaintext is padded to exactly this many bytes: every entry has one length. */
export const SUMMARY_PADDED_LEN = 512
export const MAX_SUMMARY_DESCRIPTION = 160
export const POW_NONCE_LEN = 8
/** Below this effort an entry is refused outright (Tor's PoW has no minimum; a storer
 * cheaply refusing effort-0 floods keeps its eviction work small). */
export const MIN_KEYWORD_EFFORT = 8
export const KEYWORD_ENTRY_LIFETIME_SECONDS = DESCRIPTOR_LIFETIME_SECONDS
export const MAX_ENTRY_SIZE = 1024

// ---------------------------------------------------------------------------
// Tool records
// ---------------------------------------------------------------------------

export const MAX_TOOL_NAME = 128
export const MAX_TOOL_TITLE = 256
export const MAX_TOOL_DESCRIPTION = 8 * 1024
export const MAX_TAGS = 32
export const MAX_TAG_LEN = 64
export const MAX_SCHEMA_DEPTH = 32
export const MAX_VERSION_LEN = 64
export const TOOL_RECORD_VERSION = 1

// ---------------------------------------------------------------------------
// Replay caches
// ---------------------------------------------------------------------------

/** Bounds a replay cache: when full of unexpired digests, new ones are refused (fail closed). */
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000

// ---------------------------------------------------------------------------
// STORE / FETCH relay commands (store.ts)
// ---------------------------------------------------------------------------

/** Extension relay commands (src/onion RELAY_EXTENSION_MIN..MAX) the registry registers. */
export const RELAY_REGISTRY_STORE = 80
export const RELAY_REGISTRY_STORED = 81
export const RELAY_REGISTRY_FETCH = 82
export const RELAY_REGISTRY_FETCHED = 83
/** Request id carried by every STORE/FETCH cell (u16): several requests may share a circuit's lifetime. */
export const REQUEST_ID_LEN = 2
/** Total length and offset of a chunked transfer (u32 each). */
export const TRANSFER_LENGTH_LEN = 4
export const TRANSFER_OFFSET_LEN = 4
/** STORE chunk header: reqId | total | offset. */
export const STORE_CHUNK_HEADER_LEN = REQUEST_ID_LEN + TRANSFER_LENGTH_LEN + TRANSFER_OFFSET_LEN
/** STORED: reqId | status. */
export const STORED_LEN = REQUEST_ID_LEN + 1
/** FETCHED chunk header: reqId | status | total | offset. */
export const FETCHED_HEADER_LEN = REQUEST_ID_LEN + 1 + TRANSFER_LENGTH_LEN + TRANSFER_OFFSET_LEN
/** A stored key: "/" namespace "/" 32-byte hash — bounded well under a cell. */
export const MAX_STORE_KEY_LEN = 128
/** The STORE message: keyLen (u16) | key | value. */
export const STORE_KEY_LENGTH_LEN = 2
/** Defaults of a storer's limits (all configurable, all counted). */
export const DEFAULT_MAX_STORES_PER_CIRCUIT = 2
export const DEFAULT_MAX_STORES_PER_SECOND = 50
export const DEFAULT_MAX_FETCHES_PER_CIRCUIT = 64
export const DEFAULT_MAX_RECORDS_PER_NAMESPACE = 10_000

// ---------------------------------------------------------------------------
// STORE_ENTRY / FETCH_ENTRIES relay commands: the keyword index (index-store.ts)
// ---------------------------------------------------------------------------

/** client → storer: reqId u16 | indexKey (32) | entry. */
export const RELAY_REGISTRY_STORE_ENTRY = 98
/** storer → client: reqId u16 | status u8 (the STORED layout). */
export const RELAY_REGISTRY_STORED_ENTRY = 99
/** client → storer: reqId u16 | offset u16 | indexKey (32). */
export const RELAY_REGISTRY_FETCH_ENTRIES = 100
/** storer → client: reqId u16 | status u8 | last u8 | total u16 | next u16 | count u8 | count × (len u16 | entry). */
export const RELAY_REGISTRY_ENTRIES = 101
/** ENTRIES header: reqId | status | last | total | next | count. */
export const ENTRIES_HEADER_LEN = REQUEST_ID_LEN + 1 + 1 + 2 + 2 + 1
/** Placement keys per index key (like a descriptor's replicas: different storer sets). */
export const KEYWORD_REPLICAS = 2
/** Index-entry STOREs on one circuit: a provider sends all its entries for one storer on one circuit. */
export const DEFAULT_MAX_ENTRY_STORES_PER_CIRCUIT = 64
/** Index-entry STOREs per second at one relay (token bucket, burst = one second's worth). */
export const DEFAULT_MAX_ENTRY_STORES_PER_SECOND = 200
/** Index keys one storer holds (its "records per namespace" for the keyword index). */
export const DEFAULT_MAX_INDEX_KEYS = 4096
/** Entries one storer holds over all keys (≈ 700 bytes each: ≈ 45 MB). Over it, the weakest entry anywhere is evicted. */
export const DEFAULT_MAX_INDEX_ENTRIES = 65_536
/** Index-entry FETCH pages on one circuit (256 entries are ≤ 6 pages). */
export const DEFAULT_MAX_ENTRY_FETCHES_PER_CIRCUIT = 32
/** A provider's work per index entry (leading zero bits; ≈ 4,096 hashes, a few ms). Junk must beat it to evict it. */
export const DEFAULT_KEYWORD_EFFORT = 12
/** Keywords one provider announces per period (each entry costs proof-of-work). */
export const MAX_PROVIDER_KEYWORDS = 32

// ---------------------------------------------------------------------------
// Hidden providers: introduction and rendezvous (rend-spec-v3 §3–4; hs-codec.ts)
// ---------------------------------------------------------------------------

/** Provider → IP: establish an introduction point (auth key, limits, signature). */
export const RELAY_ESTABLISH_INTRO = 84
/** IP → provider: status of ESTABLISH_INTRO. */
export const RELAY_INTRO_ESTABLISHED = 85
/** Client → IP: an introduction for the provider behind an auth key. */
export const RELAY_INTRODUCE1 = 86
/** IP → client: what became of INTRODUCE1 (one status byte). */
export const RELAY_INTRODUCE_ACK = 87
/** IP → provider: the introduction, unchanged. */
export const RELAY_INTRODUCE2 = 88
/**
 * Provider → IP: keep-alive and reply credit. The onion layer lets a relay answer at most
 * MAX_EXTENSION_REPLY_CELLS cells per received cell, so the IP can only send INTRODUCE2
 * cells the provider has granted by sending these.
 */
export const RELAY_INTRO_CREDIT = 89
/** Client → RP: register a one-time rendezvous cookie. */
export const RELAY_ESTABLISH_RENDEZVOUS = 90
/** RP → client: status of ESTABLISH_RENDEZVOUS. */
export const RELAY_RENDEZVOUS_ESTABLISHED = 91
/** Provider → RP: cookie and the provider's handshake reply. */
export const RELAY_RENDEZVOUS1 = 92
/** RP → client: the provider's handshake reply (the cookie stripped). */
export const RELAY_RENDEZVOUS2 = 93
/** Either end → RP → the other end: one end-to-end sealed cell. */
export const RELAY_RV_DATA = 94
/** Either end → RP: reply credit toward the sender (not forwarded). */
export const RELAY_RV_CREDIT = 95
/** Either end → RP → the other end: end-to-end window update (also reply credit). */
export const RELAY_RV_SENDME = 96
/** Either end → RP → the other end: the channel is closed; the RP forgets the join. */
export const RELAY_RV_CLOSE = 97

/** One-time rendezvous cookie (Tor: 20 bytes). */
export const REND_COOKIE_LEN = 20
/** RP onion key id: SHA3-256 of the RP's onion public key as the client's directory has it. */
export const ONION_KEY_ID_LEN = SHA3_256_LEN
/** Rendezvous handshake MAC (HMAC-SHA3-256). */
export const REND_AUTH_LEN = SHA3_256_LEN
/** Relay ids in introductions: a peer id multihash. */
export const MAX_RELAY_ID_LEN = 64
/** Client-auth data in an introduction (opaque to everyone but the provider). */
export const MAX_INTRO_CLIENT_AUTH_LEN = 256
/** ESTABLISH_INTRO rate limits: introductions per second and burst the IP allows. */
export const DEFAULT_INTRO_RATE = 200
export const DEFAULT_INTRO_BURST = 400
export const MAX_INTRO_RATE = 100_000
/**
 * An introduction point's own cap on introductions per second per provider (auth key),
 * whatever the provider signed: well above DEFAULT_INTRO_RATE, since forwarding costs the
 * IP a hash and a cell while the provider pays far more; it bounds what one provider's
 * flood costs the relay. `veil relay --max-introductions-per-second`.
 */
export const IP_DEFAULT_MAX_INTRODUCTIONS_PER_SECOND = 1_000
/** The cap's bucket holds this many seconds of it (as the providers' default burst). */
export const IP_INTRODUCTION_BURST_S = 2
/** u32 fields of ESTABLISH_INTRO. */
export const INTRO_LIMIT_LEN = 4
export const ESTABLISH_INTRO_LEN = ED25519_PUBLIC_LEN + 2 * INTRO_LIMIT_LEN + ED25519_SIGNATURE_LEN
/** The fixed head of INTRODUCE1/2: auth key | client X25519 | ML-KEM ciphertext. */
export const INTRODUCE_HEAD_LEN = ED25519_PUBLIC_LEN + X25519_LEN + MLKEM768_CT_LEN
/** Largest sealed section of an introduction (its plaintext is padded to one length). */
export const INTRO_PLAINTEXT_PADDED_LEN = 512
export const AEAD_KEY_LEN = 32
export const AEAD_NONCE_LEN = 12
export const AEAD_TAG_LEN = 16
export const INTRODUCE_LEN = INTRODUCE_HEAD_LEN + INTRO_PLAINTEXT_PADDED_LEN + AEAD_TAG_LEN
export const RENDEZVOUS1_LEN = REND_COOKIE_LEN + X25519_LEN + REND_AUTH_LEN
export const RENDEZVOUS2_LEN = X25519_LEN + REND_AUTH_LEN

export const INTRO_DEFAULT_COUNT = 3
export const ESTABLISH_INTRO_CONTEXT = 'veil/registry/establish-intro/v1\0'
export const INTRO_KDF_CONTEXT = 'veil/registry/intro-kdf/v1\0'
export const REND_KDF_CONTEXT = 'veil/registry/rend-kdf/v1\0'
export const REND_AUTH_CONTEXT = 'veil/registry/rend-auth/v1\0'
export const INTRO_POW_CONTEXT = 'veil/registry/intro-pow/v1\0'

/** IP replay cache window: an introduction digest is remembered this long (≥ an auth key's useful life). */
export const IP_REPLAY_WINDOW_MS = 3 * 60 * 60 * 1000
/** A registered cookie waits this long for RENDEZVOUS1. */
export const REND_COOKIE_TTL_MS = 2 * 60 * 1000
/** A joined pair the RP has seen no cell on for this long is forgotten. */
export const RP_JOIN_IDLE_MS = 10 * 60 * 1000
/** Joins and pending cookies one RP keeps. */
export const RP_MAX_JOINS = 4096
/** Introduction points one relay serves. */
export const IP_MAX_INTROS = 1024
/** End-to-end window: sealed cells one end may have in flight to the other. */
export const E2E_WINDOW_CELLS = 64
/** A receiver acknowledges every this many cells (one RV_SENDME = one reply budget at the RP). */
export const E2E_SENDME_EVERY = 16
/** Cells the RP may queue toward one end when that end's reply credit is spent. */
export const RP_MAX_QUEUED_CELLS = 4 * E2E_WINDOW_CELLS
/** Introductions waiting at a provider (highest effort first; the lowest dropped when full). */
export const DEFAULT_MAX_PENDING_INTRODUCTIONS = 64
/** Rendezvous circuits a provider builds per minute, and at once. */
export const DEFAULT_RENDEZVOUS_PER_MINUTE = 600
/** Pre-built G L2 M circuits a hidden provider keeps to extend to an RP (Tor keeps pre-built circuits for onion services too). */
export const PREBUILT_RENDEZVOUS_CIRCUITS = 2
/** Pre-built guard–middle circuits a registry client keeps to extend to a storer, once it has looked something up. */
export const PREBUILT_LOOKUP_CIRCUITS = 1
/** A pre-built circuit older than this is replaced rather than used (relays drop idle circuits after 30 min). */
export const PREBUILT_MAX_AGE_MS = 10 * 60_000
export const DEFAULT_RENDEZVOUS_CONCURRENCY = 4
/** Provider → IP keep-alive (also tops up reply credit). */
export const INTRO_KEEPALIVE_MS = 60_000
