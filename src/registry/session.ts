/**
 * The provider session: what a client and a provider say once a channel between them
 * exists (a stream to the provider's relay in `public` mode; the rendezvous channel for
 * hidden providers). One request at a time, in order:
 *
 *   Request  = [ kind: uint, body: bin ]      kind 0 = CATALOGUE (empty body), 1 = CALL (opaque body),
 *                                             2 = PRIVATE_CATALOGUE (body = the access token from the
 *                                                 descriptor's private layer)
 *   Response = [ status: uint, body: bin ]    status 0 = OK (catalogue bytes / call result), 1 = ERROR (UTF-8 message)
 *
 * PRIVATE_CATALOGUE answers the catalogue of private tools only to a token of a live
 * descriptor build; any other token gets the same ERROR as a provider without private
 * tools ("no private catalogue"), so a guesser learns nothing.
 *
 * The client checks the catalogue against the descriptor's digest and both signatures
 * (verifyCatalogue) before using it. The channel is anything that sends and reads whole
 * messages (an OnionStream is one).
 */
import { MAX_CATALOGUE_SIZE } from './constants.ts'
import { InvalidCatalogueError, RegistryCallerError, RegistryError } from './errors.ts'
import { bin, fields, pack, uint, unpackCanonical, type Fail } from './codec.ts'
import { verifyCatalogue, type Catalogue } from './catalogue.ts'
import type { ProviderAddress } from './identity.ts'

/** The public-mode stream target at a provider's relay. */
export const PROVIDER_TARGET = 'veil-provider'
/** Largest request or response body (a catalogue is at most 1 MiB). */
export const MAX_SESSION_MESSAGE = MAX_CATALOGUE_SIZE + 64

export const SessionKind = Object.freeze({ CATALOGUE: 0, CALL: 1, PRIVATE_CATALOGUE: 2 } as const)
export const NO_PRIVATE_CATALOGUE = 'no private catalogue'
export const SessionStatus = Object.freeze({ OK: 0, ERROR: 1 } as const)

export interface MessageChannel {
  send(message: Uint8Array, opts?: { signal?: AbortSignal }): Promise<void>
  read(opts?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  close(): Promise<void>
}

export class SessionError extends RegistryError {
  constructor (message: string) { super('peer', message) }
}

const fail: Fail = (_reason, message) => { throw new SessionError(message) }

export function encodeRequest (kind: number, body: Uint8Array): Uint8Array { return pack([kind, body]) }
export function decodeRequest (b: Uint8Array): { kind: number, body: Uint8Array } {
  const f = fields(unpackCanonical(b, MAX_SESSION_MESSAGE, 'request', fail), 2, 'request', fail)
  return { kind: uint(f[0], 'kind', fail, 255), body: bin(f[1], 'body', fail) }
}
export function encodeResponse (status: number, body: Uint8Array): Uint8Array { return pack([status, body]) }
export function decodeResponse (b: Uint8Array): { status: number, body: Uint8Array } {
  const f = fields(unpackCanonical(b, MAX_SESSION_MESSAGE, 'response', fail), 2, 'response', fail)
  return { status: uint(f[0], 'status', fail, 255), body: bin(f[1], 'body', fail) }
}

/** The provider's side of a session. */
export interface ProviderHandler {
  /** The signed catalogue bytes (signCatalogue). */
  catalogue(): Uint8Array
  /** Answer one CALL. Throwing sends an ERROR with a generic message. */
  call(body: Uint8Array): Promise<Uint8Array>
  /** The signed private catalogue for a valid access token; undefined otherwise (or without private tools). */
  privateCatalogue?(token: Uint8Array): Uint8Array | undefined
}

/** Serve one channel until the client closes it. */
export async function serveSession (ch: MessageChannel, h: ProviderHandler, idleMs = 5 * 60_000): Promise<void> {
  for (;;) {
    const m = await ch.read({ signal: AbortSignal.timeout(idleMs) })
    if (m === undefined) break
    let reply: Uint8Array
    try {
      const req = decodeRequest(m)
      if (req.kind === SessionKind.CATALOGUE) reply = encodeResponse(SessionStatus.OK, h.catalogue())
      else if (req.kind === SessionKind.CALL) reply = encodeResponse(SessionStatus.OK, await h.call(req.body))
      else if (req.kind === SessionKind.PRIVATE_CATALOGUE) {
        const cat = h.privateCatalogue?.(req.body)
        reply = cat === undefined ? encodeResponse(SessionStatus.ERROR, new TextEncoder().encode(NO_PRIVATE_CATALOGUE)) : encodeResponse(SessionStatus.OK, cat)
      }
      else reply = encodeResponse(SessionStatus.ERROR, new TextEncoder().encode('unknown request kind'))
    } catch (err) {
      reply = encodeResponse(SessionStatus.ERROR, new TextEncoder().encode(err instanceof SessionError ? err.message : 'request failed'))
    }
    await ch.send(reply)
  }
  await ch.close()
}

/** The client's side of a session with a provider whose descriptor it opened. */
export class ProviderSession {
  readonly #ch: MessageChannel
  readonly #address: ProviderAddress
  readonly #digest: Uint8Array
  #busy = false

  constructor (ch: MessageChannel, address: ProviderAddress, catalogueDigest: Uint8Array) {
    this.#ch = ch
    this.#address = address
    this.#digest = catalogueDigest
  }

  async #roundTrip (kind: number, body: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#busy) throw new RegistryCallerError('one request at a time per session')
    this.#busy = true
    try {
      const s = signal ?? AbortSignal.timeout(30_000)
      await this.#ch.send(encodeRequest(kind, body), { signal: s })
      const m = await this.#ch.read({ signal: s })
      if (m === undefined) throw new SessionError('provider closed the session')
      const r = decodeResponse(m)
      if (r.status !== SessionStatus.OK) throw new SessionError(`provider error: ${new TextDecoder().decode(r.body).slice(0, 200)}`)
      return r.body
    } finally { this.#busy = false }
  }

  /** The catalogue, checked against the descriptor's digest and both signatures. */
  async catalogue (opts: { signal?: AbortSignal } = {}): Promise<Catalogue> {
    const bytes = await this.#roundTrip(SessionKind.CATALOGUE, new Uint8Array(0), opts.signal)
    return verifyCatalogue(this.#address, bytes, this.#digest)
  }

  /**
   * The private catalogue, for a client the descriptor authorised: shown `token`, the
   * provider answers it; checked against the private layer's digest and both signatures.
   */
  async privateCatalogue (token: Uint8Array, digest: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<Catalogue> {
    const bytes = await this.#roundTrip(SessionKind.PRIVATE_CATALOGUE, token, opts.signal)
    return verifyCatalogue(this.#address, bytes, digest)
  }

  async call (body: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return this.#roundTrip(SessionKind.CALL, body, opts.signal)
  }

  async close (): Promise<void> { await this.#ch.close() }
}

export { InvalidCatalogueError }
