/**
 * Every size, limit and time of the bridge and provider, each with its reason.
 * Checked by test/bridge/constants.test.ts.
 */

/** Exposed tool names. Claude Desktop and claude.ai accept `^[a-zA-Z0-9_-]{1,64}$`; Claude Code prefixes `mcp__<server>__` within 64, so Veil keeps 40. */
export const EXPOSED_NAME_MAX = 40
export const EXPOSED_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,40}$/
/** Provider tags: short, so most of the 40 characters are left for the tool name. */
export const TAG_MAX = 8
export const TAG_PATTERN = /^[a-z0-9]{1,8}$/
/** Generated tags: `p` + 5 base32 characters of the address hash (2^25 values: collisions are resolved, not assumed away). */
export const GENERATED_TAG_HASH_CHARS = 5
/** On an exposed-name collision, this many hex characters of the full reference's hash are appended. */
export const COLLISION_HASH_CHARS = 6
/** Meta tools are `veil_*`; no remote tool may be exposed under that prefix. */
export const META_PREFIX = 'veil_'

// ── Untrusted remote tool definitions (see untrusted.ts) ──
/** The spec allows tool names of 1–128 characters. */
export const REMOTE_NAME_MAX = 128
export const REMOTE_TITLE_MAX = 128
/** Long enough for honest documentation, short enough that one provider cannot flood a model's context. */
export const REMOTE_DESCRIPTION_MAX = 2048
/** Serialized size of one inputSchema / outputSchema. Real schemas are a few KB. */
export const REMOTE_SCHEMA_MAX_BYTES = 64 * 1024
/** Nesting depth of any remote JSON value we keep (schemas, annotations). */
export const REMOTE_JSON_MAX_DEPTH = 32
/** Tools accepted from one provider; the rest are dropped (and counted in status). */
export const REMOTE_TOOLS_PER_PROVIDER_MAX = 256
/** Version strings (`1.2.3`, `2024-05-01`, …). */
export const REMOTE_VERSION_MAX = 64
export const REMOTE_VERSION_PATTERN = /^[A-Za-z0-9._+-]{1,64}$/
/** A result larger than this (serialized) is replaced by an error: 8× the 1 MB example, below stdio's 10 MB per-message buffer. */
export const RESULT_MAX_BYTES = 8 * 1024 * 1024
/** Search results shown to the model per query. */
export const SEARCH_RESULTS_MAX = 20
export const SEARCH_WORDS_MAX_CHARS = 200
/** Keywords of one query looked up in the index (each costs circuits to two storers). */
export const SEARCH_MAX_KEYWORDS = 4
/** Providers found by a search whose catalogues are fetched to check the keyword (each costs a circuit). */
export const SEARCH_MAX_PROVIDERS = 8
/** Keywords per provided tool (the registry's tag limit is 32 per record; a provider announces ≤ 32 keywords in all). */
export const MAX_TOOL_KEYWORDS = 8
/** A keyword's length (the registry's MAX_KEYWORD_LEN). */
export const MAX_KEYWORD_CHARS = 64

// ── Calls ──
/** Per-call timeout, below the 60 s every MCP SDK client uses by default (-32001). */
export const CALL_TIMEOUT_MS = 50_000
/** While a call waits on the network, a progress heartbeat every this often (only when the client sent a progress token). */
export const HEARTBEAT_MS = 10_000
/** Attempts of a call to a read-only or idempotent tool after network failures (1 = no retry). */
export const CALL_ATTEMPTS_IDEMPOTENT = 2
/** Per catalogue fetch from one provider. */
export const LIST_TIMEOUT_MS = 20_000
/** The bridge's own start-up answer deadline (tested): the cache is read synchronously, so this is slack. */
export const STARTUP_ANSWER_MS = 1_000

// ── tools/list ──
/** Default page size; clients walk `nextCursor`. */
export const LIST_PAGE_SIZE = 100

// ── Provider ──
/** Calls running at once against the wrapped server. */
export const PROVIDER_MAX_CONCURRENT = 8
/** Calls per minute per caller (per circuit once the overlay is wired). */
export const PROVIDER_CALLS_PER_MINUTE = 120
/** Entries kept in memory in the invocation log. */
export const INVOCATION_LOG_MAX = 1000
/** Restart backoff for a crashed stdio server: first delay, doubling to the cap. */
export const RESTART_BACKOFF_MIN_MS = 250
export const RESTART_BACKOFF_MAX_MS = 30_000
/** A server that stayed up this long resets the backoff. */
export const RESTART_STABLE_MS = 60_000
/** Timeout for the wrapped server's own requests (connect, tools/list). */
export const WRAPPED_REQUEST_TIMEOUT_MS = 30_000

// ── HTTP ──
export const HTTP_DEFAULT_HOST = '127.0.0.1'
/** POST bodies larger than this are refused (413) before parsing. */
export const HTTP_MAX_BODY_BYTES = 4 * 1024 * 1024
/** 2025-era HTTP sessions kept at once (each holds an SSE stream for list_changed). */
export const HTTP_LEGACY_SESSIONS_MAX = 64

/** The reverse-DNS `_meta` key for Veil's facts about a tool or a result. */
export const META_KEY = 'net.veil/tool'
export const STATUS_META_KEY = 'net.veil/status'

/** One JSON-RPC message on a circuit stream: a result may be up to RESULT_MAX_BYTES, plus JSON overhead. */
export const STREAM_MESSAGE_MAX_BYTES = RESULT_MAX_BYTES + 64 * 1024
