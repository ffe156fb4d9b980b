/**
 * An MCP Transport over any message stream — in Veil, a stream inside an anonymous
 * circuit (STYLE.md §9): the bridge and the provider speak plain MCP to the SDK, and the
 * SDK never learns what is underneath.
 *
 *   const stream = await circuit.openStream('mcp')           // client side
 *   await client.connect(new StreamTransport(stream))
 *   …
 *   streams.register('mcp', s => server.connect(new StreamTransport(s)))   // provider side
 *
 * Framing: one JSON-RPC message per stream message (the stream already carries
 * length-delimited messages of any size), UTF-8 JSON, at most `maxMessageBytes`.
 * Anything that does not parse as a JSON-RPC message is an error reported through
 * `onerror`, never delivered; a peer that keeps sending junk gets the stream closed.
 * Must never: deliver an unparsed message; buffer without bound (the stream's own flow
 * control bounds what is in flight; reads are one message at a time).
 */
import { parseJSONRPCMessage, type JSONRPCMessage, type Transport, type TransportSendOptions } from '@modelcontextprotocol/server'
import { STREAM_MESSAGE_MAX_BYTES } from './constants.ts'

export interface MessageStreamLike {
  send(message: Uint8Array, opts?: { signal?: AbortSignal }): Promise<void>
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array>
  close(): Promise<void>
}

export interface StreamTransportOptions {
  /** Largest JSON-RPC message accepted or sent (default STREAM_MESSAGE_MAX_BYTES). */
  maxMessageBytes?: number
  /** Close the stream after this many consecutive malformed messages (default 3). */
  maxMalformed?: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export class StreamTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void
  readonly #stream: MessageStreamLike
  readonly #max: number
  readonly #maxMalformed: number
  #started = false
  #closed = false

  constructor (stream: MessageStreamLike, opts: StreamTransportOptions = {}) {
    this.#stream = stream
    this.#max = opts.maxMessageBytes ?? STREAM_MESSAGE_MAX_BYTES
    this.#maxMalformed = opts.maxMalformed ?? 3
  }

  async start (): Promise<void> {
    if (this.#started) throw new Error('StreamTransport already started')
    this.#started = true
    void this.#readLoop()
  }

  async #readLoop (): Promise<void> {
    let malformed = 0
    try {
      for await (const bytes of { [Symbol.asyncIterator]: () => this.#stream[Symbol.asyncIterator]() }) {
        if (this.#closed) break
        let message: JSONRPCMessage
        try {
          if (bytes.length > this.#max) throw new Error(`message of ${bytes.length} bytes exceeds ${this.#max}`)
          message = parseJSONRPCMessage(JSON.parse(decoder.decode(bytes)))
        } catch (err) {
          this.onerror?.(new Error(`malformed MCP message on the stream: ${err instanceof Error ? err.message : String(err)}`))
          if (++malformed >= this.#maxMalformed) break
          continue
        }
        malformed = 0
        this.onmessage?.(message)
      }
    } catch (err) {
      if (!this.#closed) this.onerror?.(err instanceof Error ? err : new Error(String(err)))
    }
    await this.close()
  }

  async send (message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.#closed) throw new Error('stream transport is closed')
    const bytes = encoder.encode(JSON.stringify(message))
    if (bytes.length > this.#max) throw new Error(`MCP message of ${bytes.length} bytes exceeds the stream limit of ${this.#max}`)
    await this.#stream.send(bytes)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#stream.close().catch(() => {})
    this.onclose?.()
  }
}
