/**
 * The link protocol (`/veil/link/1.0.0`): one libp2p stream per neighbour pair carrying
 * the fixed-size cells of many circuits.
 *
 * - Framing: the stream is a plain sequence of `cellSize`-byte cells (every cell on a
 *   link has the same size, so there is nothing else to frame). Reads arrive as
 *   arbitrary slices and are re-cut into cells.
 * - Batching: queued cells go out up to LINK_BATCH_CELLS per `send()` (each call costs
 *   ≈50 µs in libp2p 3).
 * - Backpressure: when `send()` returns false the link waits for the stream's `'drain'`
 *   event (not `onDrain()`, which resolves only once per stream in libp2p 3.3). The
 *   muxer's write buffer is bounded (LINK_MAX_WRITE_BUFFER) and so is the link's own
 *   queue (LINK_MAX_QUEUED_CELLS): `send()` returns false when it is full and the caller
 *   decides (the onion layer drops or destroys the circuit).
 * - Its own idle timer (libp2p does not enforce `inactivityTimeout`) and a clean close
 *   that flushes queued cells first.
 *
 * Not here: what is inside a cell (src/onion), which circuits use which link.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream, PeerId, Connection } from '@libp2p/interface'
import { LINK_BATCH_CELLS, LINK_IDLE_TIMEOUT_MS, LINK_MAX_QUEUED_CELLS, LINK_MAX_WRITE_BUFFER } from './constants.ts'
import { PeerMisbehaviourError } from './errors.ts'

export interface LinkOptions {
  cellSize: number
  idleTimeoutMs?: number
  maxQueuedCells?: number
  onCell: (cell: Uint8Array, link: Link) => void
  onClose?: (link: Link, err?: Error) => void
}

export interface LinkStats {
  cellsIn: number
  cellsOut: number
  sends: number
  drains: number
  dropped: number
}

/** js-yamux's stream state numbers (its StreamState): only an established stream's updates are deferred. */
const YAMUX_ESTABLISHED = 3

/**
 * Make a js-yamux stream send a window update only once half its receive window
 * is used, as go-yamux, rust-yamux (PR #109) and py-libp2p do, instead of after
 * every data frame (js-yamux 8). On a link every cell batch is one data frame, so
 * stock behaviour adds a frame, a Noise message and a socket write going back for
 * every one going forward. The peer still always holds at least half a window of
 * credit, so flow control is unchanged in effect. Opening, closing and paused
 * streams keep the stock path (their updates carry flags or state).
 * Returns false, changing nothing, when the stream is not a js-yamux stream of
 * the expected shape (another muxer, or a changed version).
 */
export function halveWindowUpdates (stream: Stream): boolean {
  const s = stream as unknown as { sendWindowUpdate?: unknown, state?: unknown, recvWindow?: unknown, recvWindowCapacity?: unknown }
  const stock = s.sendWindowUpdate
  // js-yamux 8's YamuxStream, by its class name and fields; anything else keeps stock behaviour
  if (s.constructor?.name !== 'YamuxStream' || typeof stock !== 'function' || typeof s.recvWindow !== 'number' || typeof s.recvWindowCapacity !== 'number') return false
  // the fields' types were checked above: the per-frame test is just the state and the half-window comparison
  s.sendWindowUpdate = function (this: { state: unknown, recvWindow: number, recvWindowCapacity: number }): unknown {
    if (this.state === YAMUX_ESTABLISHED && this.recvWindowCapacity > this.recvWindow / 2) return undefined
    return Reflect.apply(stock, this, [])
  }
  return true
}

export class Link {
  readonly peer: PeerId
  readonly direction: 'inbound' | 'outbound'
  readonly stats: LinkStats = { cellsIn: 0, cellsOut: 0, sends: 0, drains: 0, dropped: 0 }
  /** Whether this link's muxer stream sends window updates only at half a window ({@link halveWindowUpdates}). */
  readonly windowUpdatesHalved: boolean
  readonly #stream: Stream
  readonly #cellSize: number
  readonly #idleMs: number
  readonly #maxQueued: number
  readonly #onCell: LinkOptions['onCell']
  readonly #onClose: LinkOptions['onClose']
  readonly #queue: Uint8Array[] = []
  readonly #rx = new Uint8ArrayList()
  #flushing = false
  #closed = false
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  #lastActivity = Date.now()

  constructor (stream: Stream, peer: PeerId, opts: LinkOptions) {
    this.#stream = stream
    this.peer = peer
    this.direction = stream.direction
    this.#cellSize = opts.cellSize
    this.#idleMs = opts.idleTimeoutMs ?? LINK_IDLE_TIMEOUT_MS
    this.#maxQueued = opts.maxQueuedCells ?? LINK_MAX_QUEUED_CELLS
    this.#onCell = opts.onCell
    this.#onClose = opts.onClose
    stream.maxWriteBufferLength = LINK_MAX_WRITE_BUFFER
    this.windowUpdatesHalved = halveWindowUpdates(stream)
    stream.addEventListener('message', (evt) => { this.#receive(evt.data) })
    stream.addEventListener('close', (evt) => {
      const err = 'error' in evt && evt.error instanceof Error ? evt.error : undefined
      this.#finish(err)
    })
    this.#armIdle()
  }

  get closed (): boolean { return this.#closed }
  get queued (): number { return this.#queue.length }

  #armIdle (): void {
    if (this.#closed) return
    clearTimeout(this.#idleTimer)
    const wait = Math.max(10, this.#lastActivity + this.#idleMs - Date.now())
    this.#idleTimer = setTimeout(() => {
      if (Date.now() - this.#lastActivity >= this.#idleMs) void this.close()
      else this.#armIdle()
    }, wait)
    this.#idleTimer.unref?.()
  }

  #receive (data: Uint8Array | Uint8ArrayList): void {
    if (this.#closed) return
    this.#lastActivity = Date.now()
    this.#rx.append(data)
    while (this.#rx.byteLength >= this.#cellSize) {
      const cell = this.#rx.subarray(0, this.#cellSize)
      this.#rx.consume(this.#cellSize)
      this.stats.cellsIn++
      try {
        this.#onCell(cell, this)
      } catch (err) {
        this.abort(err instanceof Error ? err : new Error(String(err)))
        return
      }
    }
  }

  /** Queue one cell. Returns false (and counts a drop) when the link is closed or full. */
  send (cell: Uint8Array): boolean {
    if (cell.length !== this.#cellSize) throw new RangeError(`cells on this link are ${this.#cellSize} bytes, got ${cell.length}`)
    if (this.#closed || this.#queue.length >= this.#maxQueued) {
      this.stats.dropped++
      return false
    }
    this.#queue.push(cell)
    this.#lastActivity = Date.now()
    if (!this.#flushing) queueMicrotask(() => { void this.#flush() })
    this.#flushing = true
    return true
  }

  async #flush (): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const batch = this.#queue.splice(0, LINK_BATCH_CELLS)
        const buf = new Uint8ArrayList(...batch)
        this.stats.cellsOut += batch.length
        this.stats.sends++
        if (!this.#stream.send(buf)) {
          this.stats.drains++
          await this.#waitDrain()
        }
      }
    } catch (err) {
      this.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.#flushing = false
    }
  }

  #waitDrain (): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => { cleanup(); resolve() }
      const onClose = (): void => { cleanup(); reject(new Error('link closed while waiting to drain')) }
      const cleanup = (): void => {
        this.#stream.removeEventListener('drain', onDrain)
        this.#stream.removeEventListener('close', onClose)
      }
      this.#stream.addEventListener('drain', onDrain)
      this.#stream.addEventListener('close', onClose)
    })
  }

  /** Flush what is queued, then close our side cleanly. */
  async close (): Promise<void> {
    if (this.#closed) return
    while (this.#flushing || this.#queue.length > 0) {
      if (!this.#flushing) void this.#flush()
      await new Promise(resolve => setTimeout(resolve, 1))
      if (this.#closed) return
    }
    try {
      await this.#stream.close({ signal: AbortSignal.timeout(5_000) })
    } catch (err) {
      this.#stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
    this.#finish()
  }

  abort (err: Error): void {
    if (this.#closed) return
    this.#stream.abort(err)
    this.#finish(err)
  }

  #finish (err?: Error): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#idleTimer)
    this.#queue.length = 0
    if (this.#rx.byteLength > 0 && err === undefined) {
      // a partial cell at close is the peer's fault; nothing to deliver
      err = new PeerMisbehaviourError('link closed mid-cell')
    }
    this.#onClose?.(this, err)
  }
}

export interface LinkHost {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number, runOnLimitedConnection?: boolean }): Promise<void>
  unhandle(protocol: string): Promise<void>
  dialProtocol(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
}

export interface LinkManagerOptions {
  cellSize: number
  protocol: string
  idleTimeoutMs?: number
  /** Cells queued per link before send() refuses (default LINK_MAX_QUEUED_CELLS): bytes buffered per link ≤ this × cellSize + LINK_MAX_WRITE_BUFFER. */
  maxQueuedCells?: number
  /** Every cell received on any link. */
  onCell: (cell: Uint8Array, link: Link) => void
  onLinkClosed?: (link: Link, err?: Error) => void
  /** Refuse inbound links (client hosts accept none). */
  acceptInbound?: boolean
}

/** Keeps at most one open link per neighbour (either direction) and opens them on demand. */
export class LinkManager {
  readonly #host: LinkHost
  readonly #opts: LinkManagerOptions
  readonly #links = new Map<string, Link>()
  readonly #pending = new Map<string, Promise<Link>>()
  #started = false

  constructor (host: LinkHost, opts: LinkManagerOptions) {
    this.#host = host
    this.#opts = opts
  }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    if (this.#opts.acceptInbound !== false) {
      await this.#host.handle(this.#opts.protocol, (stream, connection) => {
        this.#adopt(stream, connection.remotePeer)
      }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    }
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    if (this.#opts.acceptInbound !== false) await this.#host.unhandle(this.#opts.protocol)
    await Promise.all([...this.#links.values()].map(async l => { await l.close() }))
    this.#links.clear()
  }

  #adopt (stream: Stream, peer: PeerId): Link {
    const key = peer.toString()
    const link = new Link(stream, peer, {
      cellSize: this.#opts.cellSize,
      idleTimeoutMs: this.#opts.idleTimeoutMs,
      maxQueuedCells: this.#opts.maxQueuedCells,
      onCell: this.#opts.onCell,
      onClose: (l, err) => {
        this.#droppedClosed += l.stats.dropped
        if (this.#links.get(key) === l) this.#links.delete(key)
        this.#opts.onLinkClosed?.(l, err)
      }
    })
    const existing = this.#links.get(key)
    if (existing === undefined || existing.closed) this.#links.set(key, link)
    return link
  }

  /** The open link to `peer`, dialing one if there is none. */
  async get (peer: PeerId, signal?: AbortSignal): Promise<Link> {
    const key = peer.toString()
    const open = this.#links.get(key)
    if (open !== undefined && !open.closed) return open
    const pending = this.#pending.get(key)
    if (pending !== undefined) return pending
    const p = (async () => {
      const stream = await this.#host.dialProtocol(peer, this.#opts.protocol, { signal: signal ?? AbortSignal.timeout(10_000) })
      return this.#adopt(stream, peer)
    })()
    this.#pending.set(key, p)
    try { return await p } finally { this.#pending.delete(key) }
  }

  links (): Link[] { return [...this.#links.values()] }

  /** Cells refused by full link queues: on open links, plus those on links since closed. */
  get dropped (): number { return this.#droppedClosed + this.links().reduce((n, l) => n + l.stats.dropped, 0) }
  #droppedClosed = 0
  /** The per-link limits in force, for status. */
  get limits (): { maxQueuedCells: number, maxWriteBufferBytes: number, cellSize: number } {
    return { maxQueuedCells: this.#opts.maxQueuedCells ?? LINK_MAX_QUEUED_CELLS, maxWriteBufferBytes: LINK_MAX_WRITE_BUFFER, cellSize: this.#opts.cellSize }
  }
}
