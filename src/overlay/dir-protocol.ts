/**
 * `/veil/dir/1.0.0`: fetch descriptors from a peer, page by page.
 *
 *   request  = msgpack [ version: 1, page: uint ]                      (≤ MAX_DIR_REQUEST bytes)
 *   response = msgpack [ descriptors: [bin, …] (≤ DIR_PAGE_SIZE), more: bool ]   (≤ MAX_DIR_RESPONSE)
 *
 * One request and one response per stream, each length-prefixed, each with a size bound
 * and a timeout. The server serves its directory in peer-id order; the client verifies
 * every descriptor (Directory.add) — a server can withhold descriptors but not forge one.
 * Not here: deciding whom to ask (src/node).
 */
import { Packr } from 'msgpackr'
import { lpStream } from '@libp2p/utils'
import type { Stream, PeerId } from '@libp2p/interface'
import { DIR_PAGE_SIZE, DIR_REQUEST_TIMEOUT_MS, MAX_DESCRIPTOR_SIZE, MAX_DIR_REQUEST, MAX_DIR_RESPONSE, MAX_DIRECTORY_SIZE } from './constants.ts'
import type { Directory } from './directory.ts'
import { PeerMisbehaviourError } from './errors.ts'

const packr = new Packr({ useRecords: false, mapsAsObjects: false })
const VERSION = 1

export function encodeDirRequest (page: number): Uint8Array {
  return packr.pack([VERSION, page])
}

export function decodeDirRequest (bytes: Uint8Array): { page: number } {
  let v: unknown
  try { v = packr.unpack(bytes) } catch { throw new PeerMisbehaviourError('directory request: not msgpack') }
  if (!Array.isArray(v) || v.length !== 2 || v[0] !== VERSION || !Number.isSafeInteger(v[1]) || v[1] < 0) {
    throw new PeerMisbehaviourError('directory request: malformed')
  }
  return { page: v[1] }
}

export function encodeDirResponse (descriptors: Uint8Array[], more: boolean): Uint8Array {
  return packr.pack([descriptors, more])
}

export function decodeDirResponse (bytes: Uint8Array): { descriptors: Uint8Array[], more: boolean } {
  let v: unknown
  try { v = packr.unpack(bytes) } catch { throw new PeerMisbehaviourError('directory response: not msgpack') }
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || typeof v[1] !== 'boolean' || v[0].length > DIR_PAGE_SIZE) {
    throw new PeerMisbehaviourError('directory response: malformed')
  }
  const descriptors: Uint8Array[] = []
  for (const d of v[0]) {
    if (!(d instanceof Uint8Array) || d.length > MAX_DESCRIPTOR_SIZE) throw new PeerMisbehaviourError('directory response: bad entry')
    descriptors.push(d)
  }
  return { descriptors, more: v[1] }
}

/** Serve one request on an inbound stream from the given directory. */
export async function serveDirRequest (stream: Stream, directory: Directory, signal?: AbortSignal): Promise<void> {
  const sig = signal ?? AbortSignal.timeout(DIR_REQUEST_TIMEOUT_MS)
  const lp = lpStream(stream, { maxDataLength: MAX_DIR_REQUEST })
  try {
    const req = decodeDirRequest((await lp.read({ signal: sig })).subarray())
    const all = directory.entries()
    const start = req.page * DIR_PAGE_SIZE
    const page = all.slice(start, start + DIR_PAGE_SIZE).map(e => e.bytes)
    await lp.write(encodeDirResponse(page, start + DIR_PAGE_SIZE < all.length), { signal: sig })
    await stream.close({ signal: sig })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

export type DialDir = (peer: PeerId, signal: AbortSignal) => Promise<Stream>

/**
 * Fetch a peer's whole directory page by page (bounded by MAX_DIRECTORY_SIZE), handing
 * each descriptor to `onDescriptor`. Returns how many descriptors were received.
 */
export async function fetchDirectory (dial: DialDir, peer: PeerId, onDescriptor: (bytes: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<number> {
  let received = 0
  const maxPages = Math.ceil(MAX_DIRECTORY_SIZE / DIR_PAGE_SIZE)
  for (let page = 0; page < maxPages; page++) {
    const sig = AbortSignal.any([signal ?? AbortSignal.timeout(DIR_REQUEST_TIMEOUT_MS * maxPages), AbortSignal.timeout(DIR_REQUEST_TIMEOUT_MS)])
    const stream = await dial(peer, sig)
    let res: { descriptors: Uint8Array[], more: boolean }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_DIR_RESPONSE })
      await lp.write(encodeDirRequest(page), { signal: sig })
      res = decodeDirResponse((await lp.read({ signal: sig })).subarray())
      await stream.close({ signal: sig }).catch(() => {})
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
    for (const d of res.descriptors) {
      received++
      await onDescriptor(d)
    }
    if (!res.more) break
  }
  return received
}
