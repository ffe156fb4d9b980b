/**
 * The rendezvous point: a relay role (rend-spec-v3 §3.3, §4). A client's circuit registers
 * a one-time cookie (ESTABLISH_RENDEZVOUS); a provider's circuit presents it with its
 * handshake reply (RENDEZVOUS1); the RP passes the reply to the client (RENDEZVOUS2, cookie
 * stripped) and from then on relays the two circuits' RV_DATA / RV_SENDME / RV_CLOSE cells
 * to each other. The cells are end-to-end sealed (ChaCha20-Poly1305 under keys the RP never
 * sees): the RP learns two circuits' timing and volume, not who is on either side.
 *
 * Joining is done here, above the onion layer, through the extension-command table: each
 * circuit's cells reach this object with their ExtensionContext, and cells toward a circuit
 * are sent with the reply budgets of that circuit's own earlier cells ({@link ReplyCredit};
 * each end grants credit with RV_CREDIT and RV_SENDME). Flow: each end may have
 * E2E_WINDOW_CELLS cells in flight; the RP queues at most RP_MAX_QUEUED_CELLS toward an
 * end whose credit is spent, and drops the join beyond that.
 *
 * Defends against: cookie reuse (OneTimeCookies: a cookie registers once and is consumed
 * once), a RENDEZVOUS1 for an unknown cookie (the provider's circuit is destroyed),
 * unbounded state (RP_MAX_JOINS; idle joins forgotten after RP_JOIN_IDLE_MS).
 */
import type { Clock } from '../overlay/clock.ts'
import type { ExtensionContext } from '../onion/commands.ts'
import {
  RELAY_RENDEZVOUS_ESTABLISHED, RELAY_RENDEZVOUS2, RELAY_RV_CLOSE, RELAY_RV_SENDME, REND_COOKIE_TTL_MS, RP_JOIN_IDLE_MS, RP_MAX_JOINS, RP_MAX_QUEUED_CELLS
} from './constants.ts'
import { HsProtocolError, HsStatus, checkSealedCell, decodeCookie, decodeRendezvous1, encodeStatus } from './hs-codec.ts'
import { OneTimeCookies } from './replay.ts'
import { ReplyCredit } from './reply-credit.ts'
import { concat } from './primitives.ts'

interface Side {
  readonly key: string
  /** Whose circuit: the client's (ESTABLISH_RENDEZVOUS) or the provider's (RENDEZVOUS1). */
  readonly role: 'client' | 'provider'
  readonly credit: ReplyCredit
  readonly queue: Array<[number, Uint8Array]>
  peer: Side | undefined
  lastActive: number
  readonly cookieHex: string
}

export interface RendezvousPointCounters {
  established: number
  refused: number
  joined: number
  badCookie: number
  relayedCells: number
  overflow: number
  closed: number
}

export class RendezvousPointService {
  readonly #clock: Clock
  readonly #cookies: OneTimeCookies
  readonly #waiting = new Map<string, Side>()
  readonly #sides = new Map<string, Side>()
  readonly counters: RendezvousPointCounters = { established: 0, refused: 0, joined: 0, badCookie: 0, relayedCells: 0, overflow: 0, closed: 0 }

  constructor (o: { clock: Clock }) {
    this.#clock = o.clock
    this.#cookies = new OneTimeCookies(o.clock, REND_COOKIE_TTL_MS, 4 * RP_MAX_JOINS)
  }

  /** Circuits currently waiting or joined here. */
  get size (): number { return this.#sides.size }

  /**
   * Testnet status: whether `circuitKey` is a circuit waiting or joined here, whose it is,
   * and the circuit key of the one it is joined to (so a test can tell which relays a
   * client–provider channel runs over).
   */
  sideOf (circuitKey: string): { readonly role: 'client' | 'provider', readonly peer?: string } | undefined {
    const side = this.#sides.get(circuitKey)
    return side === undefined ? undefined : { role: side.role, ...(side.peer !== undefined && { peer: side.peer.key }) }
  }

  onEstablish (ctx: ExtensionContext, data: Uint8Array): void {
    const answer = (s: number): void => { try { ctx.reply(RELAY_RENDEZVOUS_ESTABLISHED, 0, encodeStatus(s)) } catch { /* gone */ } }
    if (!ctx.lastHop) { this.counters.refused++; answer(HsStatus.NOT_LAST_HOP); return }
    let cookie: Uint8Array
    try { cookie = decodeCookie(data) } catch { this.counters.refused++; answer(HsStatus.MALFORMED); return }
    if (this.#sides.has(ctx.circuitKey)) { this.counters.refused++; answer(HsStatus.REPLAY); return }
    if (this.#sides.size >= RP_MAX_JOINS) this.#sweep()
    if (this.#sides.size >= RP_MAX_JOINS) { this.counters.refused++; answer(HsStatus.BUSY); return }
    if (!this.#cookies.register(cookie)) { this.counters.refused++; answer(HsStatus.REPLAY); return }
    const cookieHex = Buffer.from(cookie).toString('hex')
    const side: Side = { key: ctx.circuitKey, role: 'client', credit: new ReplyCredit(), queue: [], peer: undefined, lastActive: this.#clock.now(), cookieHex }
    this.#waiting.set(cookieHex, side)
    this.#sides.set(ctx.circuitKey, side)
    this.counters.established++
    answer(HsStatus.OK)
    side.credit.add(ctx, 1)
  }

  /** The provider's circuit. Throws HsProtocolError (its circuit is destroyed) for a bad or used cookie. */
  onRendezvous1 (ctx: ExtensionContext, data: Uint8Array): void {
    if (!ctx.lastHop) throw new HsProtocolError('RENDEZVOUS1 at a hop that is not the last')
    if (this.#sides.has(ctx.circuitKey)) throw new HsProtocolError('RENDEZVOUS1 on a circuit already at this RP')
    const m = decodeRendezvous1(data)
    const hex = Buffer.from(m.cookie).toString('hex')
    const client = this.#waiting.get(hex)
    if (client === undefined || !this.#cookies.consume(m.cookie)) { this.counters.badCookie++; throw new HsProtocolError('unknown or used rendezvous cookie') }
    this.#waiting.delete(hex)
    const now = this.#clock.now()
    const provider: Side = { key: ctx.circuitKey, role: 'provider', credit: new ReplyCredit(), queue: [], peer: client, lastActive: now, cookieHex: hex }
    provider.credit.add(ctx)
    client.peer = provider
    client.lastActive = now
    this.#sides.set(ctx.circuitKey, provider)
    this.counters.joined++
    this.#sendTo(client, RELAY_RENDEZVOUS2, concat(m.serverKey, m.auth))
  }

  /** RV_DATA: forward to the joined peer. */
  onData (ctx: ExtensionContext, command: number, data: Uint8Array): void {
    const side = this.#joined(ctx)
    checkSealedCell(data)
    this.#sendTo(side.peer as Side, command, data)
    this.counters.relayedCells++
  }

  /** RV_CREDIT: credit toward the sender, not forwarded. */
  onCredit (ctx: ExtensionContext): void {
    const side = this.#sides.get(ctx.circuitKey)
    if (side === undefined) throw new HsProtocolError('RV_CREDIT on a circuit not at this RP')
    side.credit.add(ctx)
    side.lastActive = this.#clock.now()
    this.#flush(side)
  }

  /** RV_SENDME: credit toward the sender, and a window update for the peer. */
  onSendme (ctx: ExtensionContext): void {
    const side = this.#joined(ctx)
    this.#sendTo(side.peer as Side, RELAY_RV_SENDME, new Uint8Array(0))
  }

  /** RV_CLOSE: tell the peer, forget both. */
  onClose (ctx: ExtensionContext): void {
    const side = this.#sides.get(ctx.circuitKey)
    if (side === undefined) return
    if (side.peer !== undefined && !side.peer.credit.closed) side.peer.credit.send(RELAY_RV_CLOSE, new Uint8Array(0))
    this.#drop(side)
  }

  /**
   * A circuit waiting or joined here was destroyed (its link closed, a neighbour sent
   * DESTROY, it timed out): the peer gets RV_CLOSE now, not when it next sends, so its end
   * learns at once that the channel is gone.
   */
  onCircuitClosed (circuitKey: string): void {
    const side = this.#sides.get(circuitKey)
    if (side === undefined) return
    side.credit.close()
    this.#closeBoth(side)
  }

  #joined (ctx: ExtensionContext): Side {
    const side = this.#sides.get(ctx.circuitKey)
    if (side?.peer === undefined) throw new HsProtocolError('cell for a circuit not joined at this RP')
    side.credit.add(ctx)
    side.lastActive = this.#clock.now()
    this.#flush(side)
    return side
  }

  #sendTo (side: Side, command: number, data: Uint8Array): void {
    if (side.queue.length === 0 && side.credit.send(command, data)) return
    if (side.credit.closed) { this.#closeBoth(side); return }
    side.queue.push([command, data])
    if (side.queue.length > RP_MAX_QUEUED_CELLS) { this.counters.overflow++; this.#closeBoth(side) }
  }

  #flush (side: Side): void {
    while (side.queue.length > 0) {
      const [command, data] = side.queue[0]
      if (!side.credit.send(command, data)) break
      side.queue.shift()
    }
    if (side.credit.closed) this.#closeBoth(side)
  }

  #closeBoth (side: Side): void {
    const peer = side.peer
    if (peer !== undefined && !peer.credit.closed) peer.credit.send(RELAY_RV_CLOSE, new Uint8Array(0))
    this.#drop(side)
  }

  #drop (side: Side): void {
    if (this.#sides.get(side.key) === side) { this.#sides.delete(side.key); this.counters.closed++ }
    if (this.#waiting.get(side.cookieHex) === side) this.#waiting.delete(side.cookieHex)
    const peer = side.peer
    side.peer = undefined
    side.queue.length = 0
    side.credit.close()
    if (peer !== undefined && peer.peer === side) this.#drop(peer)
  }

  #sweep (): void {
    const now = this.#clock.now()
    for (const side of [...this.#sides.values()]) {
      const limit = side.peer === undefined ? REND_COOKIE_TTL_MS : RP_JOIN_IDLE_MS
      if (now - side.lastActive > limit || side.credit.closed) this.#drop(side)
    }
  }
}
