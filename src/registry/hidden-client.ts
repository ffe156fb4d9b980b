/**
 * A client's side of introduction and rendezvous (rend-spec-v3 §3.2–3.3): from an opened
 * `hidden` descriptor to an end-to-end channel with the provider.
 *
 *   1. RP: a relay of our own verified directory (not our guard or layer-2 guard);
 *      circuit G L2 RP; ESTABLISH_RENDEZVOUS with a fresh one-time 20-byte cookie.
 *   2. In parallel: circuit G L2 M IP to an introduction point (random order); INTRODUCE1
 *      with our X25519 key, an ML-KEM encapsulation to the IP's key, and — sealed to the
 *      provider — the RP's id and onion key id, the cookie, a proof of work at the
 *      descriptor's suggested effort, client-auth data. The intro circuit is destroyed
 *      after INTRODUCE_ACK; a refusal moves on to the next IP.
 *   3. RENDEZVOUS2 on the RP circuit: check the provider's MAC, derive the hybrid channel
 *      keys (hs-crypto.ts), start the channel (e2e.ts). No RENDEZVOUS2 within
 *      `rendezvousWaitMs` (the RP or the provider's circuit to it failed, or someone
 *      dropped or delayed us): another RP and cookie, the next IP, until the signal fires.
 *      RPs a provider left unanswered are avoided for it afterwards (bounded, local).
 */
import type { Clock, Rng as PickRng } from '../overlay/clock.ts'
import type { Circuit } from '../onion/client-circuit.ts'
import type { OnionStream } from '../onion/stream.ts'
import {
  REND_COOKIE_LEN, RELAY_ESTABLISH_RENDEZVOUS, RELAY_INTRODUCE_ACK, RELAY_INTRODUCE1, RELAY_RENDEZVOUS_ESTABLISHED, RELAY_RENDEZVOUS2
} from './constants.ts'
import { PrebuiltCircuits } from './prebuilt.ts'
import { RegistryCallerError } from './errors.ts'
import { HsProtocolError, HsStatus, decodeRendezvous2, decodeStatus, hsStatusName } from './hs-codec.ts'
import { clientFinishRendezvous, clientIntroduce, type ClientIntroState } from './hs-crypto.ts'
import { E2eChannel } from './e2e.ts'
import { HsPaths, LayerTwoGuards, type HiddenNetwork } from './hs-paths.ts'
import { HsTimeoutError, awaitCommand } from './hs-wait.ts'
import { sha3_256, systemRng, type Rng } from './primitives.ts'
import type { OpenedDescriptor } from './descriptor.ts'
import type { IntroPoint } from './inner.ts'
import { observeSecret } from '../overlay/secret-observer.ts'

/** Wait for RENDEZVOUS2 this long after an acknowledged introduction before introducing again. */
export const DEFAULT_RENDEZVOUS_WAIT_MS = 4_000
/** Acknowledged introductions left unanswered (no RENDEZVOUS2) with one RP before choosing another. */
export const INTRODUCTIONS_PER_RP = 1
/** Providers (blinded keys) for which unanswered RPs are remembered, and RPs per provider. */
export const MAX_REMEMBERED_PROVIDERS = 256
export const MAX_REMEMBERED_RPS = 32

export interface HiddenClientOptions {
  readonly network: HiddenNetwork
  readonly clock: Clock
  readonly rng: PickRng
  readonly keyRng?: Rng
  readonly layer2?: LayerTwoGuards
  readonly circuitTimeoutMs?: number
  readonly maxMessageLen?: number
  readonly streamIdleMs?: number
  /** Pre-built circuits kept per kind (G L2 for RPs, G L2 M for IPs) once this client has connected (default 1; 0: none). */
  readonly prebuiltCircuits?: number
}

export interface ConnectOptions {
  readonly signal?: AbortSignal
  /** Override the descriptor's suggested effort (tests: 0 = no proof). */
  readonly powEffort?: number
  readonly rendezvousWaitMs?: number
  /** Test hook: each INTRODUCE1 sent, with the IP's relay id. */
  readonly onIntroduce?: (message: Uint8Array, ip: string) => void
  /** Test hook: use this cookie. */
  readonly cookie?: Uint8Array
  /** Test hook: use this relay as the rendezvous point (as a probing client would). */
  readonly rp?: string
  /**
   * Progress of a connect, for a caller that shows or logs it: each step with the ms since
   * connect began (`rp` / `ip` name relays by peer id: never logged above debug level).
   */
  readonly onStep?: (step: ConnectStep) => void
}

export type ConnectStep =
  | { readonly step: 'rendezvous-point', readonly ms: number, readonly rp: string, readonly ok: boolean, readonly error?: string }
  | { readonly step: 'introduced', readonly ms: number, readonly ip: string, readonly status: number | 'failed' }
  | { readonly step: 'rendezvous2', readonly ms: number, readonly ok: boolean }

/** A ConnectStep before its time is stamped. */
type StepEvent = ConnectStep extends infer T ? T extends unknown ? Omit<T, 'ms'> : never : never

export interface HiddenConnection {
  readonly channel: E2eChannel
  /** The rendezvous circuit's relays (G L2 RP). */
  readonly path: readonly string[]
  readonly rp: string
  readonly introductions: number
  readonly circuit: Circuit
  openStream(target: string, opts?: { signal?: AbortSignal }): Promise<OnionStream>
  close(): void
}

export class HiddenClient {
  readonly #o: HiddenClientOptions
  readonly #keyRng: Rng
  readonly #paths: HsPaths
  readonly #rpPrefixes: PrebuiltCircuits
  readonly #introPrefixes: PrebuiltCircuits
  readonly counters = { connects: 0, introductions: 0, refused: 0, rendezvous: 0, failures: 0 }
  /**
   * RPs a provider never answered after an acknowledged introduction (the RP failed, or
   * the provider's circuit to it). Avoided for that provider next time; local memory
   * only, bounded.
   */
  readonly #unanswered = new Map<string, Set<string>>()

  constructor (o: HiddenClientOptions) {
    this.#o = o
    this.#keyRng = o.keyRng ?? systemRng
    this.#paths = new HsPaths(o.network, o.layer2 ?? new LayerTwoGuards({ clock: o.clock, rng: o.rng }), o.rng)
    const paths = this.#paths
    const pool = (prefix: () => string[]): PrebuiltCircuits => PrebuiltCircuits.over(o.network, o.clock, o.prebuiltCircuits ?? 1, prefix, (path) => paths.prefixValid(path))
    this.#rpPrefixes = pool(() => paths.short('').slice(0, 2))
    this.#introPrefixes = pool(() => paths.longPrefix())
  }

  get paths (): HsPaths { return this.#paths }

  /** Pre-built prefixes: G L2 (to extend to an RP) and G L2 M (to an IP), filled once this client has connected. */
  get prebuilt (): { rendezvous: PrebuiltCircuits['counters'], introduction: PrebuiltCircuits['counters'] } {
    return { rendezvous: this.#rpPrefixes.counters, introduction: this.#introPrefixes.counters }
  }

  stop (): void { this.#rpPrefixes.stop(); this.#introPrefixes.stop() }

  /** Build G L2 RP and register `cookie` there. */
  async establishRendezvous (rp: string, cookie: Uint8Array, signal: AbortSignal): Promise<Circuit> {
    const circuit = await (await this.#rpPrefixes.circuitTo(rp, () => this.#paths.short(rp), signal)).circuit
    try {
      const last = circuit.hops - 1
      const waiting = awaitCommand(circuit, last, RELAY_RENDEZVOUS_ESTABLISHED, signal, 'RENDEZVOUS_ESTABLISHED')
      waiting.catch(() => {}) // a circuit already closed rejects it at once, and sendRelay throws before the await
      circuit.sendRelay(last, RELAY_ESTABLISH_RENDEZVOUS, 0, cookie)
      const status = decodeStatus((await waiting).data)
      if (status !== HsStatus.OK) throw new HsProtocolError(`rendezvous point refused the cookie: ${hsStatusName(status)}`)
      return circuit
    } catch (err) {
      circuit.destroy()
      throw err
    }
  }

  /** Send one INTRODUCE1 (already built) to `ip` over a fresh G L2 M IP circuit; the ACK status. */
  async sendIntroduction (ip: string, message: Uint8Array, signal: AbortSignal, prebuilt?: Promise<Circuit>): Promise<number> {
    const circuit = await (prebuilt ?? this.#introPrefixes.circuitTo(ip, () => this.#paths.long(ip), signal).then(r => r.circuit))
    try {
      const last = circuit.hops - 1
      const waiting = awaitCommand(circuit, last, RELAY_INTRODUCE_ACK, signal, 'INTRODUCE_ACK')
      waiting.catch(() => {}) // a circuit already closed rejects it at once, and sendRelay throws before the await
      circuit.sendRelay(last, RELAY_INTRODUCE1, 0, message)
      return decodeStatus((await waiting).data)
    } finally { circuit.destroy() }
  }

  async connect (opened: OpenedDescriptor, o: ConnectOptions = {}): Promise<HiddenConnection> {
    if (opened.reach.mode !== 'hidden') throw new RegistryCallerError('provider is not in hidden mode')
    this.counters.connects++
    const signal = o.signal ?? AbortSignal.timeout(30_000)
    const net = this.#o.network
    const known = opened.reach.introPoints
      .map(ip => ({ ip, id: safeId(net, ip.relay) }))
      .filter((x): x is { ip: IntroPoint, id: string } => x.id !== undefined && net.onionKey(x.id) !== undefined)
    if (known.length === 0) throw new HsProtocolError('none of the provider\'s introduction points is in this client\'s directory')
    const order = shuffle(known, this.#o.rng)
    const effort = o.powEffort ?? opened.pow?.suggestedEffort ?? 0
    const pow = opened.pow !== null && effort > 0 ? { seed: opened.pow.seed, effort } : null
    const providerKey = Buffer.from(opened.blindedKey).toString('hex')
    const avoid = this.#unanswered.get(providerKey) ?? new Set<string>()
    const triedRps: string[] = []
    let introductions = 0
    let lastError = 'no introduction acknowledged'
    const began = performance.now()
    const step = (e: StepEvent): void => { try { o.onStep?.({ ...e, ms: performance.now() - began }) } catch { /* a caller's fault */ } }
    let attempt = 0
    // an RP that does not answer (down, or dropping): after INTRODUCTIONS_PER_RP unanswered
    // introductions, another RP
    while (!signal.aborted) {
      let rpChoices = o.rp !== undefined ? [o.rp] : this.#paths.endpoints([...triedRps, ...avoid])
      if (rpChoices.length === 0) rpChoices = this.#paths.endpoints(triedRps)
      if (rpChoices.length === 0) { triedRps.length = 0; rpChoices = this.#paths.endpoints() }
      if (rpChoices.length === 0) throw new HsProtocolError('no relay available as a rendezvous point')
      const rp = rpChoices[this.#o.rng.int(rpChoices.length)]
      triedRps.push(rp)
      const rpKey = net.onionKey(rp) as Uint8Array
      const cookie = o.cookie ?? this.#keyRng(REND_COOKIE_LEN)
      observeSecret('rendezvous', cookie)
      // the first intro circuit is built while the rendezvous point is set up
      const firstIp = order[attempt % order.length].id
      let introBuild: Promise<Circuit> | undefined = this.#introPrefixes.circuitTo(firstIp, () => this.#paths.long(firstIp), signal).then(r => r.circuit)
      introBuild.catch(() => {})
      let rendCircuit: Circuit
      try { rendCircuit = await this.establishRendezvous(rp, cookie, signal) } catch (err) {
        step({ step: 'rendezvous-point', rp, ok: false, error: err instanceof Error ? err.message : String(err) })
        introBuild.then(c => { c.destroy() }, () => {})
        if (signal.aborted || o.cookie !== undefined) { this.counters.failures++; throw err }
        lastError = err instanceof Error ? err.message : String(err)
        continue
      }
      step({ step: 'rendezvous-point', rp, ok: true })
      const last = rendCircuit.hops - 1
      try {
        // only an acknowledged introduction that brings no RENDEZVOUS2 counts against this RP;
        // one the IP refused (BUSY under a flood) or could not carry goes to the next IP on
        // the same rendezvous circuit, which is costly to build again
        let unanswered = 0
        for (let tries = 0; unanswered < INTRODUCTIONS_PER_RP && tries < order.length + INTRODUCTIONS_PER_RP && !signal.aborted && rendCircuit.state === 'open'; tries++, attempt++) {
          const { ip, id } = order[attempt % order.length]
          const { message, state } = clientIntroduce(this.#keyRng, ip, { rpRelay: net.relayBytes(rp), rpOnionKeyId: sha3_256(rpKey), cookie }, pow)
          // listen for RENDEZVOUS2 before introducing (the provider may be fast); the wait's
          // clock starts at the IP's ACK, so a slow introduction circuit does not eat it
          const rvWait = new AbortController()
          let rvTimer: ReturnType<typeof setTimeout> | undefined
          const rendezvous = awaitCommand(rendCircuit, last, RELAY_RENDEZVOUS2, AbortSignal.any([signal, rvWait.signal]), 'RENDEZVOUS2')
          rendezvous.catch(() => {})
          void rendezvous.finally(() => { clearTimeout(rvTimer) }).catch(() => {})
          o.onIntroduce?.(message, id)
          introductions++
          this.counters.introductions++
          let status: number
          try {
            const pre = introBuild
            introBuild = undefined
            status = await this.sendIntroduction(id, message, signal, pre)
          } catch (err) {
            rvWait.abort()
            lastError = err instanceof Error ? err.message : String(err)
            step({ step: 'introduced', ip: id, status: 'failed' })
            continue
          }
          step({ step: 'introduced', ip: id, status })
          if (status !== HsStatus.OK) { rvWait.abort(); this.counters.refused++; lastError = `introduction point refused: ${hsStatusName(status)}`; continue }
          rvTimer = setTimeout(() => { rvWait.abort() }, o.rendezvousWaitMs ?? DEFAULT_RENDEZVOUS_WAIT_MS)
          let cell
          try { cell = await rendezvous } catch (err) {
            step({ step: 'rendezvous2', ok: false })
            if (err instanceof HsTimeoutError && !signal.aborted) { unanswered++; lastError = 'no RENDEZVOUS2 in time'; this.#remember(providerKey, avoid, rp); continue }
            // the rendezvous circuit went down under us (one of its relays stopped; awaitCommand
            // fails only when the circuit closes or misbehaves): another RP and cookie
            if (!signal.aborted && o.cookie === undefined) { lastError = err instanceof Error ? err.message : String(err); continue }
            throw err
          }
          step({ step: 'rendezvous2', ok: true })
          return this.#finish(rendCircuit, state, decodeRendezvous2(cell.data), rp, introductions)
        }
      } catch (err) {
        rendCircuit.destroy()
        introBuild?.then(c => { c.destroy() }, () => {})
        this.counters.failures++
        throw err
      }
      introBuild?.then(c => { c.destroy() }, () => {})
      rendCircuit.destroy()
    }
    this.counters.failures++
    throw new HsTimeoutError(`hidden provider not reached: ${lastError}`)
  }

  #remember (providerKey: string, avoid: Set<string>, rp: string): void {
    if (avoid.size >= MAX_REMEMBERED_RPS) return
    avoid.add(rp)
    if (!this.#unanswered.has(providerKey)) {
      if (this.#unanswered.size >= MAX_REMEMBERED_PROVIDERS) this.#unanswered.delete(this.#unanswered.keys().next().value as string)
      this.#unanswered.set(providerKey, avoid)
    }
  }

  #finish (circuit: Circuit, state: ClientIntroState, r2: ReturnType<typeof decodeRendezvous2>, rp: string, introductions: number): HiddenConnection {
    const keys = clientFinishRendezvous(state, r2)
    state.secret.fill(0)
    const last = circuit.hops - 1
    const channel = new E2eChannel({
      carrier: { send: (cmd, d) => { circuit.sendRelay(last, cmd, 0, d) }, destroy: () => { circuit.destroy() } },
      keys, role: 'client', maxMessageLen: this.#o.maxMessageLen, streamIdleMs: this.#o.streamIdleMs
    })
    keys.wipe()
    circuit.onCommand = (hop, cell) => { if (hop === last) channel.onCell(cell); else circuit.destroy() }
    circuit.onClose((err) => { channel.circuitClosed(err) })
    channel.start()
    this.counters.rendezvous++
    return {
      channel,
      path: circuit.path.map(h => h.peer),
      rp,
      introductions,
      circuit,
      openStream: async (target, so = {}) => channel.openStream(target, { signal: so.signal ?? AbortSignal.timeout(30_000) }),
      close: () => { channel.close() }
    }
  }
}

function safeId (net: HiddenNetwork, bytes: Uint8Array): string | undefined {
  try { return net.relayId(bytes) } catch { return undefined }
}

function shuffle<T> (xs: readonly T[], rng: PickRng): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) { const j = rng.int(i + 1); [a[i], a[j]] = [a[j], a[i]] }
  return a
}
