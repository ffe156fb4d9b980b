/**
 * Property tests for the parsers that had none: every one of them, given arbitrary input,
 * returns a value or throws its own typed error — never another exception, never hangs
 * (each call is timed), never allocates without bound (inputs up to 64 KiB; the heap after
 * thousands of runs is checked against a generous ceiling).
 *
 * Parsers covered elsewhere (see docs/security.md, "Parsers"): cells and relay cells
 * (test/onion/cell.test.ts), EXTEND/EXTENDED/BEGIN/END (test/onion/circuit.test.ts), relay
 * descriptors (test/overlay/descriptor.test.ts), registry descriptors, catalogues, tool
 * records, index entries, addresses, semver, hidden-service cells (test/registry/*.test.ts),
 * flags and config files (test/cli/flags.test.ts, config.test.ts), profile ids
 * (test/mix/profiles.test.ts).
 *
 * Here: directory requests/responses (src/overlay/dir-protocol.ts), registry session
 * requests/responses (src/registry/session.ts), STORE/FETCH codecs (src/registry/store.ts),
 * the descriptor's inner layers (src/registry/inner.ts), persisted guard state
 * (src/onion/path/guards.ts), a relay's control status answer (src/node/testnet.ts
 * parseStatus), what a remote provider sends the bridge — tool definitions, search hits,
 * call results (src/bridge/untrusted.ts) — and MCP messages arriving on a circuit stream
 * (src/bridge/stream-transport.ts).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { pack } from 'msgpackr'
import { decodeDirRequest, decodeDirResponse } from '../../src/overlay/dir-protocol.ts'
import { PeerMisbehaviourError } from '../../src/overlay/errors.ts'
import { decodeRequest, decodeResponse } from '../../src/registry/session.ts'
import { decodeStoreChunk, decodeStoreTransfer, decodeStored, decodeFetch, decodeFetched } from '../../src/registry/store.ts'
import { decodeInnerBody, decodeInnerPlaintext, decodePrivateContent } from '../../src/registry/inner.ts'
import { RegistryError } from '../../src/registry/errors.ts'
import { parseGuardState } from '../../src/onion/path/guards.ts'
import { PathOptionsError } from '../../src/onion/path/errors.ts'
import { parseStatus, TestnetError } from '../../src/node/testnet.ts'
import { parseRemoteResult, parseRemoteTool, parseSearchHit } from '../../src/bridge/untrusted.ts'
import { RemoteDefinitionError } from '../../src/bridge/errors.ts'
import { StreamTransport, type MessageStreamLike } from '../../src/bridge/stream-transport.ts'

const SLOW_MS = 250
type Ctor = abstract new (...args: never[]) => Error

/** Runs `f`; a throw must be one of `allowed`; the call must be quick. */
function total (f: () => unknown, allowed: Ctor[], what: string): void {
  const t0 = performance.now()
  try { f() } catch (err) {
    if (!allowed.some(c => err instanceof c)) throw new Error(`${what}: threw ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`)
  }
  const ms = performance.now() - t0
  if (ms > SLOW_MS) throw new Error(`${what}: took ${ms.toFixed(0)} ms`)
}

/** Arbitrary bytes, and msgpack encodings of arbitrary values (so structure-checking code is reached). */
const bytesOrPacked = fc.oneof(
  fc.uint8Array({ maxLength: 65_536 }),
  fc.uint8Array({ maxLength: 64 }),
  fc.anything({ maxDepth: 4, withTypedArray: true, withBigInt: false }).map(v => { try { return new Uint8Array(pack(v)) } catch { return new Uint8Array(0) } }),
  fc.array(fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.string(), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 40 })), { maxLength: 8 })
    .map(a => new Uint8Array(pack(a)))
)
const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 5 }), fc.anything({ maxDepth: 4 }))

describe('parser properties: arbitrary input → a value or a typed error', () => {
  it('directory requests and responses', () => {
    fc.assert(fc.property(bytesOrPacked, (b) => {
      total(() => decodeDirRequest(b), [PeerMisbehaviourError], 'decodeDirRequest')
      total(() => decodeDirResponse(b), [PeerMisbehaviourError], 'decodeDirResponse')
    }), { numRuns: 500 })
  })

  it('registry session requests and responses', () => {
    fc.assert(fc.property(bytesOrPacked, (b) => {
      total(() => decodeRequest(b), [RegistryError], 'decodeRequest')
      total(() => decodeResponse(b), [RegistryError], 'decodeResponse')
    }), { numRuns: 500 })
  })

  it('STORE / FETCH codecs (storer and client side)', () => {
    fc.assert(fc.property(bytesOrPacked, (b) => {
      for (const [name, f] of [['decodeStoreChunk', decodeStoreChunk], ['decodeStoreTransfer', decodeStoreTransfer], ['decodeStored', decodeStored], ['decodeFetch', decodeFetch], ['decodeFetched', decodeFetched]] as const) {
        total(() => f(b), [RegistryError], name)
      }
    }), { numRuns: 500 })
  })

  it('the registry descriptor\'s inner layers (after decryption: attacker-chosen plaintext)', () => {
    fc.assert(fc.property(bytesOrPacked, (b) => {
      total(() => decodeInnerBody(b), [RegistryError], 'decodeInnerBody')
      total(() => decodeInnerPlaintext(b), [RegistryError], 'decodeInnerPlaintext')
      total(() => decodePrivateContent(b), [RegistryError], 'decodePrivateContent')
    }), { numRuns: 500 })
  })

  it('persisted guard state (a file a user or a crash may have mangled)', () => {
    const entry = fc.record({ id: fc.string(), addedAt: fc.oneof(fc.integer(), fc.double()), lastSeen: fc.anything(), confirmedAt: fc.anything(), unreachableSince: fc.anything() }, { requiredKeys: [] })
    const state = fc.record({ version: fc.oneof(fc.constant(1), fc.integer()), primary: fc.oneof(fc.array(entry, { maxLength: 30 }), jsonish), layer2: fc.oneof(fc.array(entry, { maxLength: 30 }), jsonish) }, { requiredKeys: [] })
    fc.assert(fc.property(fc.oneof(state, jsonish), (v) => {
      total(() => parseGuardState(v), [PathOptionsError], 'parseGuardState')
    }), { numRuns: 1000 })
  })

  it('control status answers', () => {
    fc.assert(fc.property(fc.oneof(jsonish, fc.record({ peerId: fc.anything(), addrs: fc.anything(), directorySize: fc.anything() })), (v) => {
      total(() => parseStatus(v), [TestnetError], 'parseStatus')
    }), { numRuns: 1000 })
  })

  it('what a remote provider sends the bridge: tool definitions, search hits, call results', () => {
    const toolish = fc.record({
      name: fc.oneof(fc.string({ maxLength: 200 }), fc.anything()),
      description: fc.oneof(fc.string({ maxLength: 5000 }), fc.anything()),
      inputSchema: fc.oneof(fc.constant({ type: 'object' }), fc.jsonValue({ maxDepth: 6 }), fc.anything()),
      outputSchema: fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.anything()),
      annotations: fc.anything(),
      version: fc.anything()
    }, { requiredKeys: [] })
    const resultish = fc.record({
      content: fc.oneof(fc.array(fc.record({ type: fc.constantFrom('text', 'image', 'audio', 'resource', 'resource_link', 'x'), text: fc.anything(), data: fc.anything(), mimeType: fc.anything() }, { requiredKeys: [] }), { maxLength: 10 }), fc.anything()),
      isError: fc.anything(),
      structuredContent: fc.anything(),
      _meta: fc.anything()
    }, { requiredKeys: [] })
    fc.assert(fc.property(fc.oneof(toolish, resultish, jsonish), (v) => {
      total(() => parseRemoteTool(v), [RemoteDefinitionError], 'parseRemoteTool')
      total(() => parseSearchHit(v), [], 'parseSearchHit')
      total(() => parseRemoteResult(v), [], 'parseRemoteResult')
    }), { numRuns: 1000 })
  })

  it('MCP messages on a circuit stream: parsed or reported through onerror; the read loop ends; nothing unparsed is delivered', async () => {
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 4096 }),
      fc.jsonValue({ maxDepth: 4 }).map(v => new TextEncoder().encode(JSON.stringify(v))),
      fc.record({ jsonrpc: fc.constantFrom('2.0', '1.0'), id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)), method: fc.string(), params: fc.anything(), result: fc.anything(), error: fc.anything() }, { requiredKeys: [] })
        .map(v => new TextEncoder().encode(JSON.stringify(v)))
    )
    await fc.assert(fc.asyncProperty(fc.array(message, { maxLength: 12 }), async (msgs) => {
      let closed = 0
      const stream: MessageStreamLike = {
        send: async () => {},
        close: async () => { closed++ },
        [Symbol.asyncIterator]: () => {
          let i = 0
          return { next: async () => i < msgs.length ? { value: msgs[i++], done: false } : { value: undefined, done: true } }
        }
      }
      const t = new StreamTransport(stream, { maxMessageBytes: 2048 })
      const delivered: unknown[] = []
      let errors = 0
      const ended = new Promise<void>(resolve => { t.onclose = resolve })
      t.onmessage = (m) => { delivered.push(m) }
      t.onerror = (e) => { expect(e).toBeInstanceOf(Error); errors++ }
      await t.start()
      await Promise.race([ended, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('read loop did not end')) }, 2_000))])
      expect(closed).toBe(1)
      expect(delivered.length + errors).toBeLessThanOrEqual(msgs.length)
      for (const m of delivered) expect((m as { jsonrpc?: string }).jsonrpc).toBe('2.0')
    }), { numRuns: 300 })
  })

  it('bounded allocation: thousands of hostile inputs leave the heap where it was', () => {
    const before = process.memoryUsage().heapUsed
    fc.assert(fc.property(bytesOrPacked, (b) => {
      for (const f of [decodeDirResponse, decodeRequest, decodeStoreChunk, decodeFetched, decodeInnerBody]) { try { f(b) } catch { /* typed, checked above */ } }
    }), { numRuns: 2000 })
    globalThis.gc?.()
    const grown = (process.memoryUsage().heapUsed - before) / 2 ** 20
    // no input may make a parser keep memory: a generous ceiling, as gc may not have run
    expect(grown).toBeLessThan(256)
  })
})
