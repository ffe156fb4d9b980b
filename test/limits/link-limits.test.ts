/**
 * Bytes buffered per link: a link whose peer stops reading holds at most maxQueuedCells
 * cells (plus the muxer's LINK_MAX_WRITE_BUFFER); further sends are refused and counted
 * (`stats.dropped`; a relay's `veil status` shows the sum under `sections.links.cellsDropped`).
 */
import { describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { Link } from '../../src/overlay/link.ts'
import { LINK_MAX_WRITE_BUFFER } from '../../src/overlay/constants.ts'

const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

/** A stream whose far end never reads: the first send fills the write buffer, no drain ever comes. */
function stuckStream (): Stream & { bytesSent: number } {
  const t = new EventTarget() as EventTarget & Record<string, unknown>
  t.direction = 'outbound'
  t.maxWriteBufferLength = 0
  t.bytesSent = 0
  t.send = (buf: { byteLength: number }) => { (t.bytesSent as number) += buf.byteLength; return false }
  t.abort = () => {}
  t.close = async () => {}
  return t as unknown as Stream & { bytesSent: number }
}

describe('link buffer limit', () => {
  it('a flood toward a peer that stops reading: queue capped at maxQueuedCells, the rest dropped and counted', async () => {
    const stream = stuckStream()
    const link = new Link(stream, peerIdFromString(PEER), { cellSize: 64, maxQueuedCells: 100, onCell: () => {} })
    let accepted = 0
    for (let i = 0; i < 10_000; i++) if (link.send(new Uint8Array(64))) accepted++
    await new Promise(resolve => setTimeout(resolve, 20))
    for (let i = 0; i < 10_000; i++) if (link.send(new Uint8Array(64))) accepted++
    expect(stream.maxWriteBufferLength).toBe(LINK_MAX_WRITE_BUFFER)
    // what the link holds or handed to the muxer is bounded by the queue cap (one batch went out before the drain wait)
    expect(link.queued).toBeLessThanOrEqual(100)
    expect(accepted).toBeLessThanOrEqual(100 + stream.bytesSent / 64 + 100)
    expect(link.stats.dropped).toBe(20_000 - accepted)
    link.abort(new Error('test over'))
  })
})
