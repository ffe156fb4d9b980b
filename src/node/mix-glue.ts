/**
 * Wires src/mix into real relays and clients: the one place that knows both the mix
 * logic (scheduler, profiles, cover, padding, loops) and the onion layer's hooks.
 *
 * Relay (one per relay, plugged in by attachOnionRelay):
 * - {@link relayMixer}: one `TimerDriver(MixScheduler)` as the onion layer's forward
 *   scheduler (one timer per relay, never one per cell). Each circuit's profile id comes
 *   from a SET_PROFILE relay command (RELAY_SET_PROFILE, one byte, inside that hop's
 *   layer only); unknown ids and a second SET_PROFILE destroy the circuit; a circuit that
 *   sent none is `fast`. The relay maps the id to its own delay mean (relayMixTable).
 *   Destroyed circuits are cancelled in the scheduler; `stop()` clears the timer.
 *   LOOP (RELAY_LOOP) at the last hop is answered with a DROP carrying the loop id.
 * - {@link LinkPadder}: one timer per relay; on a link with no real cell for
 *   `idleAfterMs` it sends PADDING link cells (circuit id 0, CELL_SIZE bytes, through the
 *   same Noise stream as every other cell) at the policy's rate (nextLinkPaddingAt).
 *
 * Client ({@link ClientMix}, used by attachCircuits):
 * - after a circuit of profile p is built: SET_PROFILE(p.id) to every hop;
 * - balanced/paranoid: loop cover (LOOP to the last hop, back as DROP; outcomes feed one
 *   LoopTracker per client) and drop cover (DROP to the last hop) as Poisson processes;
 * - paranoid: every relay cell the circuit sends to its last hop after the build (stream
 *   cells: BEGIN, DATA, END, SENDME, and padding) waits for a slot of its circuit in a
 *   Poisson SpreadStream at λ over the profile's call and cover circuits (five, built
 *   through `buildCover`); an empty slot carries a drop. The order of the circuit's cells
 *   is kept. At relays, a paranoid circuit's last hop answers through its backward stream.
 * - length hiding: each stream message sent by the client is followed by DROP cells up to
 *   the profile's bucket (paddingCellsAfter); the last hop pads each response the same way
 *   (relayMixer.messageSent).
 *
 * Not here: cover between a last hop and a provider (a provider-side stream); path
 * selection reads LoopTracker.avoided() through the circuit manager's `avoid` option
 * (onion-glue.ts).
 */
import {
  CircuitProtocolError, RelayCommand, encodeCell,
  type Circuit, type ForwardScheduler, type LinkLike, type RelayCommandTable
} from '../onion/index.ts'
import type { Clock, Rng } from '../overlay/clock.ts'
import {
  CoverTraffic, DeadlineTimer, LastHopStreams, LoopTracker, MixInternalError, MixPeerError, MixScheduler, SpreadStream, TimerDriver,
  DEFAULT_LINK_PADDING, LOOP_ID_LEN, PARANOID_QUEUE_LIMIT, PROFILE_IDS, PROFILES, RELAY_LOOP, RELAY_SET_PROFILE, profileName,
  decodeProfileId, encodeProfileId, linkPaddingGapMs, nextLinkPaddingAt, paddingCellsAfter, relayMixTable, resolveClientProfile, validateLinkPadding,
  type ClientOverrides, type CoverStats, type LinkPaddingPolicy, type LoopStats, type MixProfile, type MixSchedulerStats, type ProfileId,
  type LastHopStreamsStats, type ProfileName, type RelayTableOverrides, type SpreadStreamStats, type Timer
} from '../mix/index.ts'

type Direction = 'outbound' | 'inbound'

// ---------------------------------------------------------------------------
// Relay: the forward scheduler and the SET_PROFILE / LOOP commands
// ---------------------------------------------------------------------------

export interface RelayMixOptions {
  clock: Clock
  /** A CSPRNG on real relays: predictable delays do not mix. */
  rng: Rng
  timer: Timer
  table?: RelayTableOverrides
  capacity?: number
  laneLimit?: number
}

export interface RelayMixStats extends MixSchedulerStats {
  wakeups: number
  /** Paranoid's backward streams at this relay (circuits that end here). */
  backward: LastHopStreamsStats
  /** DROP cells this relay sent to pad responses to their profile's bucket. */
  responsePaddingCells: number
  /** Circuits by announced profile (circuits that announced none count as fast). */
  circuitsByProfile: Record<ProfileName, number>
  /** SET_PROFILE refused (unknown id, malformed, repeated). */
  profileRefused: number
  loopsEchoed: number
}

export interface RelayMixer {
  /** Plug into RelayCircuits' `scheduler` option. */
  readonly scheduler: ForwardScheduler
  /** The profile id a circuit announced (fast when none). */
  profileOf(circuitKey: string): ProfileId
  /** Register SET_PROFILE and LOOP in the relay's command table. */
  register(commands: RelayCommandTable): void
  /**
   * How to send a filler DROP toward the client on a circuit that ends here (the relay's
   * RelayCircuits.originateAtLastHop); false when it cannot. Until bound, no backward
   * stream is opened.
   */
  bindFiller(filler: (circuitKey: string) => boolean): void
  /**
   * A message (response) of `cells` cells left this relay's stream end on a circuit that
   * ends here: pad it with DROPs to the circuit's profile bucket (RelayCircuits' onMessageSent).
   */
  messageSent(circuitKey: string, cells: number): void
  stats(): RelayMixStats
  /** Clear the timer and discard queued cells. */
  stop(): number
}

export function relayMixer (opts: RelayMixOptions): RelayMixer {
  const profiles = new Map<string, ProfileId>()
  const table = relayMixTable(opts.table)
  let profileRefused = 0
  let loopsEchoed = 0
  let filler: ((circuitKey: string) => boolean) | undefined
  let responsePaddingCells = 0
  // paranoid: what a circuit's last hop sends toward the client leaves at a constant rate
  const backward = new LastHopStreams<string>({
    clock: opts.clock,
    rng: opts.rng,
    timer: opts.timer,
    laneLimit: opts.laneLimit,
    filler: (k) => filler?.(k) ?? false
  })
  const profileOf = (k: string): ProfileId => profiles.get(k) ?? PROFILE_IDS.fast
  const driver = new TimerDriver(new MixScheduler<string, Direction>({
    clock: opts.clock,
    rng: opts.rng,
    table,
    capacity: opts.capacity,
    laneLimit: opts.laneLimit,
    profileOf,
    // a dropped cell breaks the circuit's CGO chain: the next hop (or the client) will
    // find the following cell unrecognisable and destroy the circuit; counted here
    onDrop: () => {},
    onSendError: () => {}
  }), opts.clock, opts.timer)
  const scheduler: ForwardScheduler = {
    // every cell toward the client of a circuit with a backward stream goes through it
    // (those it originates and, should the circuit have been extended since, those it
    // forwards): one order for the hop's CGO chain
    schedule: (k, d, send) => {
      if (d === 'inbound' && backward.has(k)) backward.offer(k, send)
      else driver.schedule(k, d, send)
    },
    closed: (k) => { profiles.delete(k); driver.cancelCircuit(k); backward.close(k) }
  }
  return {
    scheduler,
    profileOf,
    register (commands) {
      commands.register(RELAY_SET_PROFILE, (ctx, cell) => {
        if (profiles.has(ctx.circuitKey)) { profileRefused++; throw new CircuitProtocolError('SET_PROFILE sent twice') }
        let id: ProfileId
        try { id = decodeProfileId(cell.data) } catch (err) {
          profileRefused++
          if (err instanceof MixPeerError) throw new CircuitProtocolError(err.message)
          throw err
        }
        profiles.set(ctx.circuitKey, id)
        const rate = table.get(id)?.lastHopRatePerSec ?? 0
        if (ctx.lastHop && rate > 0 && filler !== undefined && !backward.open(ctx.circuitKey, rate)) {
          // as many paranoid circuits end here as this relay shapes: refuse this one (destroyed
          // as a local failure, not counted against the peer: it did nothing wrong)
          throw new Error('too many paranoid circuits end at this relay')
        }
      })
      commands.register(RELAY_LOOP, (ctx, cell) => {
        if (!ctx.lastHop) throw new CircuitProtocolError('LOOP at a hop that is not the last')
        if (cell.data.length !== LOOP_ID_LEN) throw new CircuitProtocolError(`LOOP id must be ${LOOP_ID_LEN} bytes`)
        loopsEchoed++
        ctx.reply(RelayCommand.DROP, 0, cell.data)
      })
    },
    stats () {
      const byProfile: Record<ProfileName, number> = { fast: 0, balanced: 0, paranoid: 0 }
      for (const id of profiles.values()) {
        if (id === PROFILE_IDS.balanced) byProfile.balanced++
        else if (id === PROFILE_IDS.paranoid) byProfile.paranoid++
        else byProfile.fast++
      }
      return { ...driver.scheduler.stats(), wakeups: driver.wakeups, backward: backward.stats(), responsePaddingCells, circuitsByProfile: byProfile, profileRefused, loopsEchoed }
    },
    bindFiller (f) { filler = f },
    messageSent (k, cells) {
      // length hiding for responses, as the client pads requests: the profile's buckets are
      // public and fixed per profile; a circuit with a backward stream needs none (its rate
      // toward the client is constant whatever it carries)
      const id = profiles.get(k)
      if (id === undefined || filler === undefined || backward.has(k)) return
      const buckets = PROFILES[profileName(id)].client.paddingBuckets
      if (buckets === 'none') return
      const pad = paddingCellsAfter(cells, buckets)
      for (let i = 0; i < pad; i++) {
        if (!filler(k)) return
        responsePaddingCells++
      }
    },
    stop: () => { backward.stop(); return driver.stop() }
  }
}

// ---------------------------------------------------------------------------
// Relay: link padding
// ---------------------------------------------------------------------------

interface PadState { lastActivity: number, lastPadding: number, gap: number }

export interface LinkPadderStats { links: number, paddingSent: number }

/**
 * Idle-link padding for one relay: one timer for all links. `activity(link)` on every
 * real cell sent or received; `forget(link)` when it closes.
 */
export class LinkPadder {
  readonly #policy: LinkPaddingPolicy
  readonly #clock: Clock
  readonly #timer: DeadlineTimer
  readonly #rng: Rng
  readonly #links = new Map<LinkLike, PadState>()
  readonly #cell = encodeCell({ command: 'padding', circId: 0 })
  #stopped = false
  paddingSent = 0

  constructor (opts: { policy?: LinkPaddingPolicy, clock: Clock, timer: Timer, rng: Rng }) {
    this.#policy = validateLinkPadding(opts.policy ?? DEFAULT_LINK_PADDING)
    this.#clock = opts.clock
    this.#timer = new DeadlineTimer(opts.clock, opts.timer, () => { this.#fire() })
    this.#rng = opts.rng
  }

  activity (link: LinkLike): void {
    if (this.#stopped || this.#policy.ratePerSec === 0) return
    const now = this.#clock.now()
    const s = this.#links.get(link)
    if (s === undefined) this.#links.set(link, { lastActivity: now, lastPadding: -Infinity, gap: linkPaddingGapMs(this.#policy, this.#rng) })
    else s.lastActivity = now
    if (this.#timer.armedAt === Infinity) this.#arm()
  }

  forget (link: LinkLike): void { this.#links.delete(link) }

  stats (): LinkPadderStats { return { links: this.#links.size, paddingSent: this.paddingSent } }

  stop (): void {
    this.#stopped = true
    this.#timer.cancel()
    this.#links.clear()
  }

  #due (s: PadState): number { return nextLinkPaddingAt(s.lastActivity, s.lastPadding, this.#policy, s.gap) }

  #arm (): void {
    let next = Infinity
    for (const s of this.#links.values()) next = Math.min(next, this.#due(s))
    if (!this.#stopped) this.#timer.armAt(next)
  }

  #fire (): void {
    const now = this.#clock.now()
    for (const [link, s] of this.#links) {
      if (link.closed) { this.#links.delete(link); continue }
      if (now >= this.#due(s)) {
        link.send(this.#cell)
        this.paddingSent++
        s.lastPadding = now
        s.gap = linkPaddingGapMs(this.#policy, this.#rng)
      }
    }
    this.#arm()
  }

  /** When the timer is armed for (Infinity when not). */
  get armedAt (): number { return this.#timer.armedAt }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

export interface ClientMixOptions {
  clock: Clock
  /** Cover schedules and loop ids; a CSPRNG in production (cover an observer can predict is no cover). */
  rng: Rng
  timer: Timer
  /** Local overrides of the client half (cover rates only). */
  overrides?: ClientOverrides
  /** Whether a relay is one of this client's guards (loop attribution never blames guards). */
  isGuard: (relay: string) => boolean
  /**
   * Build a circuit on a fresh path (through the client's guard, as for calls) to serve as
   * one of a profile's cover circuits; it must not be handed to calls. Absent: no cover
   * circuits are kept (the stream's slots go on the call circuits only).
   */
  buildCover?: (signal: AbortSignal) => Promise<Circuit>
}

/** Cover circuits rotate as the circuit manager's circuits do, so age does not tell them apart. */
export const DEFAULT_COVER_MAX_AGE_MS = 10 * 60_000
/** After a failed cover-circuit build (or one that closed within COVER_MIN_LIFE_MS), wait this long before the next. */
const COVER_RETRY_MS = 5_000
/** A cover circuit that closes sooner than this after its build counts as a failed build (no rebuild loop). */
const COVER_MIN_LIFE_MS = 10_000
const COVER_BUILD_TIMEOUT_MS = 30_000

export interface ClientMixStats {
  circuits: Record<ProfileName, number>
  /** Open cover circuits per profile, and builds of them (done, failed). */
  coverCircuits: Record<ProfileName, number>
  coverBuilds: { built: number, failed: number }
  cover: CoverStats
  stream: SpreadStreamStats
  /** DROP cells sent to pad messages up to their bucket. */
  paddingCells: number
  /** Real relay cells sent through mix-managed circuits after their build. */
  realCells: number
  loops: LoopStats
}

type RelayCellArgs = [hop: number, command: number, streamId: number, data: Uint8Array]

const STREAM_CELL_COMMANDS: ReadonlySet<number> = new Set([RelayCommand.BEGIN, RelayCommand.DATA, RelayCommand.END, RelayCommand.SENDME])
const EMPTY = new Uint8Array(0)

function hex (b: Uint8Array): string { return Buffer.from(b).toString('hex') }

/**
 * One profile's cover for one client, with one timer: Poisson loop and drop cover and, in
 * paranoid, the send stream spread over the profile's circuits — call circuits and the
 * cover circuits it keeps itself.
 */
class ProfileCover {
  readonly profile: MixProfile
  readonly circuits: CircuitMix[] = []
  readonly cover: CoverTraffic | undefined
  readonly stream: SpreadStream<CircuitMix, RelayCellArgs> | undefined
  readonly coverBuilds = { built: 0, failed: 0 }
  readonly #o: ClientMixOptions
  readonly #loops: LoopTracker
  /** Announce a freshly built cover circuit and start using it. */
  readonly #prepare: (circuit: Circuit) => void
  readonly #timer: DeadlineTimer
  #stopped = false
  /** A cover circuit is being built (one at a time). */
  #building = false
  #retryAt = -Infinity
  readonly #abort = new AbortController()
  /** Cover due while no circuit of this profile was open (not sent). */
  idleSkipped = 0

  constructor (profile: MixProfile, o: ClientMixOptions, loops: LoopTracker, prepare: (circuit: Circuit) => void) {
    this.profile = profile
    this.#o = o
    this.#loops = loops
    this.#prepare = prepare
    this.#timer = new DeadlineTimer(o.clock, o.timer, () => { this.#fire() })
    const now = o.clock.now()
    const cp = profile.client
    if (cp.loopRatePerSec > 0 || cp.dropRatePerSec > 0) {
      this.cover = new CoverTraffic({ loopRatePerSec: cp.loopRatePerSec, dropRatePerSec: cp.dropRatePerSec, rng: o.rng, startMs: now })
    }
    if (cp.sendRatePerSec > 0) {
      this.stream = new SpreadStream({ ratePerSec: cp.sendRatePerSec, rng: o.rng, startMs: now, queueLimit: PARANOID_QUEUE_LIMIT })
    }
  }

  get coverOpen (): number { return this.circuits.filter(c => c.cover && c.open).length }
  /** Open cover circuits not waiting for their replacement. */
  get #coverKept (): number { return this.circuits.filter(c => c.cover && c.open && !c.retiring).length }

  /** Queue a real cell for one of its circuit's slots; false when that circuit's queue is full. */
  offer (q: Queued): boolean {
    if (this.stream === undefined) throw new MixInternalError('offer on a profile without a send stream')
    const ok = this.stream.offerAll(q.cm, [q.cell]).ok
    this.arm()
    return ok
  }

  /** A circuit left: its queued cells can no longer go anywhere and are discarded (the sender sees the circuit closed). */
  removed (cm: CircuitMix): void {
    const i = this.circuits.indexOf(cm)
    if (i >= 0) this.circuits.splice(i, 1)
    this.stream?.dropLane(cm)
    if (!cm.cover) return
    // a cover circuit that died young is a failed build: no rebuild loop at build speed
    if (!cm.retiring && this.#o.clock.now() - cm.createdAt < COVER_MIN_LIFE_MS) {
      this.coverBuilds.failed++
      this.#retryAt = this.#o.clock.now() + COVER_RETRY_MS
    }
    this.ensureCover()
  }

  /** A new cover circuit is ready: one that waited for its replacement may go now. */
  coverAdded (): void {
    const old = this.circuits.find(c => c.cover && c.open && c.retiring)
    old?.retire()
  }

  /** Keep `coverCircuits` cover circuits open (paranoid), building one at a time. */
  ensureCover (): void {
    const want = this.stream === undefined ? 0 : this.profile.client.coverCircuits
    const build = this.#o.buildCover
    if (this.#stopped || build === undefined || want === 0) return
    if (this.#building || this.#coverKept >= want) return
    if (this.#o.clock.now() < this.#retryAt) return // the timer comes back for it
    this.#building = true
    void (async () => {
      try {
        const circuit = await build(AbortSignal.any([this.#abort.signal, AbortSignal.timeout(COVER_BUILD_TIMEOUT_MS)]))
        if (this.#stopped) { circuit.destroy(); return }
        this.coverBuilds.built++
        this.#prepare(circuit)
      } catch {
        this.coverBuilds.failed++
        this.#retryAt = this.#o.clock.now() + COVER_RETRY_MS
      } finally {
        this.#building = false
      }
      this.ensureCover()
      this.arm()
    })()
  }

  /** A live circuit of this profile for a cover cell, chosen uniformly. */
  #pick (): CircuitMix | undefined {
    const live = this.circuits.filter(c => c.open)
    if (live.length === 0) return undefined
    return live[live.length === 1 ? 0 : this.#o.rng.int(live.length)]
  }

  arm (): void {
    if (this.#stopped) return
    let next = Math.min(this.cover?.nextDeadline() ?? Infinity, this.stream?.nextDeadline() ?? Infinity, this.#loops.nextDeadline() ?? Infinity)
    if (this.#retryAt > this.#o.clock.now()) next = Math.min(next, this.#retryAt)
    this.#timer.armAt(next)
  }

  #fire (): void {
    if (this.#stopped) return
    try { this.#run() } finally { this.arm() }
  }

  #run (): void {
    const now = this.#o.clock.now()
    this.#loops.expire(now)
    // cover circuits rotate by age, as call circuits do: each at its own (jittered) age, one
    // at a time, and only once its replacement is open — the slots stay spread over six
    if (!this.circuits.some(c => c.cover && c.retiring)) {
      const old = this.circuits.find(c => c.cover && c.open && now - c.createdAt >= c.maxAgeMs)
      if (old !== undefined) old.retiring = true
    }
    for (const e of this.cover?.takeDue(now) ?? []) {
      const c = this.#pick()
      if (c === undefined) { this.idleSkipped++; continue }
      if (e.kind === 'loop') c.loop()
      else c.drop()
    }
    if (this.stream !== undefined) {
      const live = this.circuits.filter(c => c.open)
      for (const e of this.stream.takeDue(now, live)) {
        if (e.kind === 'real') e.lane.sendNow(e.cell)
        else e.lane.drop() // loss is measured by the loop process; the way back has its own stream
      }
    }
    this.ensureCover()
  }

  stop (): void {
    this.#stopped = true
    this.#timer.cancel()
    this.#abort.abort()
    this.stream?.drain()
    // (retiring a circuit removes it from this.circuits: iterate over a copy)
    for (const c of [...this.circuits]) if (c.cover) c.retire()
  }
}

/** A real relay cell waiting for a stream slot, and the circuit it belongs to. */
interface Queued { readonly cm: CircuitMix, readonly cell: RelayCellArgs }

/**
 * Per-client mix state: SET_PROFILE, cover and padding for every circuit handed to
 * `prepare`. Cover is per client and profile, not per circuit: one Poisson loop/drop
 * process and (paranoid) one send stream at λ spread evenly over the profile's live
 * circuits — the call circuits and the profile's own cover circuits (built through
 * `buildCover`, announced like any other, carrying only cover).
 */
export class ClientMix {
  readonly loops: LoopTracker
  readonly #o: ClientMixOptions
  readonly #covers = new Map<ProfileName, ProfileCover>()
  readonly #profiles = new Map<ProfileName, MixProfile>()
  readonly #totals = { paddingCells: 0, realCells: 0 }
  #stopped = false

  constructor (o: ClientMixOptions) {
    this.#o = o
    this.loops = new LoopTracker({ clock: o.clock, isGuard: o.isGuard })
  }

  profile (name: ProfileName): MixProfile {
    let p = this.#profiles.get(name)
    if (p === undefined) {
      // a stream-rate override applies only where a profile has a stream
      const ov = { ...this.#o.overrides }
      if (name !== 'paranoid') delete ov.sendRatePerSec
      p = resolveClientProfile(name, ov)
      this.#profiles.set(name, p)
    }
    return p
  }

  /** Announce `profile` to every hop of a freshly built call circuit and give it the profile's cover. */
  prepare (circuit: Circuit, name: ProfileName): void {
    if (this.#stopped) return
    this.#add(circuit, name, false)
  }

  #coverOf (name: ProfileName): ProfileCover {
    let pc = this.#covers.get(name)
    if (pc === undefined) {
      pc = new ProfileCover(this.profile(name), this.#o, this.loops, (circuit) => { this.#add(circuit, name, true) })
      this.#covers.set(name, pc)
    }
    return pc
  }

  #add (circuit: Circuit, name: ProfileName, isCover: boolean): void {
    if (this.#stopped) { if (isCover) circuit.destroy(); return }
    const pc = this.#coverOf(name)
    const body = encodeProfileId(pc.profile)
    for (let hop = 0; hop < circuit.hops; hop++) circuit.sendRelay(hop, RELAY_SET_PROFILE, 0, body)
    const cm = new CircuitMix(circuit, pc.profile, this.#o, this.loops, this.#totals, pc, isCover)
    pc.circuits.push(cm)
    circuit.onClose(() => { pc.removed(cm) })
    if (isCover) pc.coverAdded()
    else pc.ensureCover() // a call circuit of this profile: its cover circuits go up alongside
    pc.arm()
  }

  stats (): ClientMixStats {
    const circuits: Record<ProfileName, number> = { fast: 0, balanced: 0, paranoid: 0 }
    const coverCircuits: Record<ProfileName, number> = { fast: 0, balanced: 0, paranoid: 0 }
    const coverBuilds = { built: 0, failed: 0 }
    const cover = { loops: 0, drops: 0, skipped: 0 }
    const stream = { slots: 0, real: 0, cover: 0, skippedSlots: 0, refused: 0, queued: 0, noLane: 0 }
    for (const [name, pc] of this.#covers) {
      circuits[name] = pc.circuits.filter(c => c.open && !c.cover).length
      coverCircuits[name] = pc.coverOpen
      coverBuilds.built += pc.coverBuilds.built
      coverBuilds.failed += pc.coverBuilds.failed
      const c = pc.cover?.stats()
      if (c !== undefined) { cover.loops += c.loops; cover.drops += c.drops; cover.skipped += c.skipped + pc.idleSkipped }
      const s = pc.stream?.stats()
      if (s !== undefined) {
        stream.slots += s.slots; stream.real += s.real; stream.cover += s.cover; stream.noLane += s.noLane
        stream.skippedSlots += s.skippedSlots; stream.refused += s.refused; stream.queued += s.queued
      }
    }
    return { circuits, coverCircuits, coverBuilds, cover, stream, paddingCells: this.#totals.paddingCells, realCells: this.#totals.realCells, loops: this.loops.stats() }
  }

  stop (): void {
    this.#stopped = true
    for (const pc of this.#covers.values()) pc.stop()
  }
}

interface Totals { paddingCells: number, realCells: number }

/** One circuit's side of the mix: its stream cells padded per message and, in paranoid, queued for stream slots. */
class CircuitMix {
  readonly profile: MixProfile
  /** A cover circuit: carries only cover, never calls. */
  readonly cover: boolean
  /** Cover circuits: their age limit, jittered in [½, 1] × DEFAULT_COVER_MAX_AGE_MS so they do not all rotate at once (Infinity for call circuits: the manager rotates those). */
  readonly maxAgeMs: number
  /** A cover circuit past its age, waiting for its replacement to open. */
  retiring = false
  readonly #c: Circuit
  readonly #o: ClientMixOptions
  readonly #loops: LoopTracker
  readonly #totals: Totals
  readonly #cover: ProfileCover
  readonly #send: (hop: number, command: number, streamId: number, data: Uint8Array) => void
  readonly #path: string[]

  constructor (c: Circuit, profile: MixProfile, o: ClientMixOptions, loops: LoopTracker, totals: Totals, cover: ProfileCover, isCover: boolean) {
    this.#c = c
    this.profile = profile
    this.cover = isCover
    const maxAge = DEFAULT_COVER_MAX_AGE_MS
    this.maxAgeMs = isCover ? maxAge / 2 + o.rng.int(Math.max(1, Math.floor(maxAge / 2))) : Infinity
    this.#o = o
    this.#loops = loops
    this.#totals = totals
    this.#cover = cover
    this.#path = c.path.map(h => h.peer)
    const orig = c.sendRelay.bind(c)
    this.#send = (hop, command, streamId, data) => { orig(hop, command, streamId, data) }
    const last = c.hops - 1
    c.onDrop = (hop, data) => {
      if (hop === last && data.length === LOOP_ID_LEN) this.#loops.returned(hex(data))
    }
    if (cover.stream !== undefined || profile.client.paddingBuckets !== 'none') {
      // stream cells (and their padding) from now on go through this circuit's mix
      c.sendRelay = (hop, command, streamId, data, opts) => {
        if (hop !== last || !STREAM_CELL_COMMANDS.has(command) || opts?.early === true) { orig(hop, command, streamId, data, opts); return }
        this.#outgoing(hop, command, streamId, data)
      }
      // a message's last DATA cell went out (through the wrapper above): pad it to its bucket
      c.onMessageSent = (cells) => { this.#pad(last, cells) }
    }
  }

  get open (): boolean { return this.#c.state === 'open' }
  get createdAt (): number { return this.#c.createdAt }

  /** Close a cover circuit (rotation, client stopping). */
  retire (): void { this.#c.destroy() }

  /** A stream cell toward the last hop: padded per message, and through the stream in paranoid. */
  #outgoing (hop: number, command: number, streamId: number, data: Uint8Array): void {
    this.#totals.realCells++
    this.#emit([hop, command, streamId, data])
  }

  /** DROP cells after a message of `cells` DATA cells, up to the profile's bucket (none when the circuit closed). */
  #pad (hop: number, cells: number): void {
    if (this.profile.client.paddingBuckets === 'none') return
    const pad = paddingCellsAfter(cells, this.profile.client.paddingBuckets)
    for (let i = 0; i < pad; i++) {
      if (!this.#emit([hop, RelayCommand.DROP, 0, EMPTY])) return
      this.#totals.paddingCells++
    }
  }

  /** Returns false when the circuit is (now) closed: the caller sends nothing more on it. */
  #emit (cell: RelayCellArgs): boolean {
    if (!this.open) return false
    if (this.#cover.stream === undefined) { this.#send(...cell); return true }
    // flow control bounds what a circuit can queue well below the limit; past it the circuit is misused
    if (!this.#cover.offer({ cm: this, cell })) { this.#c.destroy(); return false }
    return true
  }

  /** Send a queued cell now (its stream slot came); dropped if the circuit closed meanwhile. */
  sendNow (cell: RelayCellArgs): void {
    if (!this.open) return
    try { this.#send(...cell) } catch { /* closed under us */ }
  }

  loop (): void {
    if (!this.open) return
    // with a backward stream at the last hop (paranoid), a loop reply waits behind any
    // response being sent: a loop on a circuit carrying streams could time out and be
    // blamed on honest relays — it goes as a drop instead (same cell on the wire)
    if (this.#c.streamCount > 0 && this.#cover.stream !== undefined) { this.drop(); return }
    const id = this.#o.rng.bytes(LOOP_ID_LEN)
    try {
      this.#send(this.#c.hops - 1, RELAY_LOOP, 0, id)
      this.#loops.sent(hex(id), this.#path)
    } catch { /* closed under us */ }
  }

  drop (): void {
    if (!this.open) return
    try { this.#send(this.#c.hops - 1, RelayCommand.DROP, 0, EMPTY) } catch { /* closed under us */ }
  }
}
