/**
 * Loop-loss attribution: which relays a client stops using because its loop cover does
 * not come back — without letting an attacker steer it towards the attacker's relays.
 *
 * A loop is a cover cell that travels a circuit to its last hop and back. One that is not
 * back within `timeoutMs` is *lost*, and the loss is attributed to its **path** (the set of
 * relays of that circuit), never to a single relay: any relay on it, or a link between
 * them, could have dropped it.
 *
 * ## The rule (precise)
 * Let G be the client's guards at evaluation time. "P and Q share only r" means
 * (P ∩ Q) \ G = {r}; "P and Q are disjoint" means (P ∩ Q) \ G = ∅.
 *
 * 1. *Confirmed loss.* A lost loop sent at t on path P is evidence only if some loop sent
 *    in [t, t + CONFIRM_WINDOW_MS] on a path disjoint from P came back. Otherwise the
 *    client's own link or guard was failing (an outage loses every path alike) and the
 *    loss is counted but proves nothing about relays.
 * 2. *Evidence.* F = the distinct relay sets of paths with a confirmed loss within
 *    LOSS_EVIDENCE_WINDOW_MS (the MAX_FAILED_PATHS most recent; a path that loses many
 *    loops is still one path).
 * 3. *Avoidance.* A relay r ∉ G is avoided iff there are three distinct paths
 *    P1, P2, P3 ∈ F, each containing r, that pairwise share only r:
 *    ```
 *      r ∈ P1 ∩ P2 ∩ P3   and   (Pi ∩ Pj) \ G = { r }   for all i ≠ j
 *    ```
 *    (pairwise, which is stricter than "the triple intersection is {r}": paths
 *    {r,a,b}, {r,a,c}, {r,b,c} do not convict r — a, b and c explain them as well).
 * 4. *Guards* are left out of the comparison (all of a client's paths start at its few
 *    guards) and are never avoided on loop evidence: guard churn would let an attacker
 *    become a guard. An avoided relay stays avoided for AVOID_DURATION_MS; at most
 *    MAX_AVOIDED_RELAYS at once.
 *
 * ## What it defends against
 * An attacker relay A that drops loops. Every path it makes fail contains A, so any two of
 * them share A: no honest relay h can ever satisfy the rule (its paths would have to share
 * only h), while A itself does once three failed paths through it are otherwise disjoint.
 * Dropping loops cannot push a client off its guard.
 *
 * ## What it does not
 * - An attacker with ≥ 3 non-guard relays, each placed on a failed path with h, can frame
 *   h (and burns its own relays doing so); a malicious *guard* can frame middle and last
 *   hops, since guards are outside the comparison. Both are bounded by MAX_AVOIDED_RELAYS
 *   and AVOID_DURATION_MS: loop evidence can shrink path choice only a little, for a while.
 * - An outage shorter than the confirmation window that starts while loops are in flight
 *   can confirm a few losses; three such on pairwise-disjoint paths through one relay are
 *   needed before anything happens.
 *
 * Pure: the caller reports `sent`/`returned`, calls `expire(now)` from its timer
 * (`nextDeadline()` says when), and consults `isAvoided` in path selection. Counters feed
 * `veil status`.
 */
import type { Clock } from '../overlay/clock.ts'
import {
  AVOID_DURATION_MS, CONFIRM_WINDOW_MS, DEFAULT_LOOP_TIMEOUT_MS, LOSS_EVIDENCE_WINDOW_MS, LOSS_PATHS_TO_AVOID,
  MAX_AVOIDED_RELAYS, MAX_FAILED_PATHS, MAX_PENDING_LOOPS, MAX_RECENT_RETURNS
} from './constants.ts'
import { MixCallerError } from './errors.ts'

export type RelayId = string

export interface LoopStats {
  loopsSent: number
  loopsReturned: number
  loopsLost: number
  /** Lost loops used as evidence (rule 1). */
  lossesConfirmed: number
  /** Returned after being declared lost (the loss stays counted). */
  lateReturns: number
  /** Forgotten without a verdict because too many were pending (neither returned nor lost). */
  untracked: number
  /** Loops currently awaited. */
  pending: number
  /** Distinct failed paths held as evidence. */
  failedPaths: number
  /** Relays currently avoided. */
  relaysAvoided: number
  /** Times the rule fired but MAX_AVOIDED_RELAYS was reached. */
  avoidCapped: number
}

export interface LoopTrackerOptions {
  clock: Clock
  /** Whether a relay is currently one of this client's guards. */
  isGuard: (relay: RelayId) => boolean
  timeoutMs?: number
  confirmWindowMs?: number
  maxPending?: number
  maxFailedPaths?: number
  evidenceWindowMs?: number
  avoidDurationMs?: number
  maxAvoided?: number
}

interface Loop { relays: ReadonlySet<RelayId>, sentAt: number }
interface FailedPath { relays: ReadonlySet<RelayId>, lastLossAt: number, losses: number }

/** Canonical key of a path as a set. */
function pathKey (relays: Iterable<RelayId>): string {
  return JSON.stringify([...new Set(relays)].sort())
}

export class LoopTracker {
  readonly #clock: Clock
  readonly #isGuard: (r: RelayId) => boolean
  readonly #timeoutMs: number
  readonly #confirmMs: number
  readonly #maxPending: number
  readonly #maxFailed: number
  readonly #windowMs: number
  readonly #avoidMs: number
  readonly #maxAvoided: number
  /** Insertion order = send order = expiry order (one timeout for all). */
  readonly #pending = new Map<string, Loop>()
  /** Lost loop ids kept to recognise late returns (bounded like pending). */
  readonly #lost = new Set<string>()
  /** Recently returned loops, in return order (bounded), for confirmation. */
  #returns: Loop[] = []
  /** Insertion order = most recent loss last. */
  readonly #failed = new Map<string, FailedPath>()
  readonly #avoided = new Map<RelayId, number>() // relay → avoided until
  #stats = { loopsSent: 0, loopsReturned: 0, loopsLost: 0, lossesConfirmed: 0, lateReturns: 0, untracked: 0, avoidCapped: 0 }

  constructor (opts: LoopTrackerOptions) {
    this.#clock = opts.clock
    this.#isGuard = opts.isGuard
    this.#timeoutMs = positive('timeoutMs', opts.timeoutMs ?? DEFAULT_LOOP_TIMEOUT_MS)
    this.#confirmMs = positive('confirmWindowMs', opts.confirmWindowMs ?? Math.min(CONFIRM_WINDOW_MS, this.#timeoutMs / 2))
    if (this.#confirmMs >= this.#timeoutMs) throw new MixCallerError(`loop tracker confirmWindowMs (${this.#confirmMs}) must be below timeoutMs (${this.#timeoutMs})`)
    this.#maxPending = positiveInt('maxPending', opts.maxPending ?? MAX_PENDING_LOOPS)
    this.#maxFailed = positiveInt('maxFailedPaths', opts.maxFailedPaths ?? MAX_FAILED_PATHS)
    this.#windowMs = positive('evidenceWindowMs', opts.evidenceWindowMs ?? LOSS_EVIDENCE_WINDOW_MS)
    this.#avoidMs = positive('avoidDurationMs', opts.avoidDurationMs ?? AVOID_DURATION_MS)
    this.#maxAvoided = positiveInt('maxAvoided', opts.maxAvoided ?? MAX_AVOIDED_RELAYS)
  }

  /** A loop left on a circuit through `path` (its relays, guard first). `loopId` must be unique (random). */
  sent (loopId: string, path: readonly RelayId[]): void {
    if (path.length === 0) throw new MixCallerError('loop path must name at least one relay')
    if (this.#pending.has(loopId)) throw new MixCallerError('loop id already pending: ids must be unique (random)')
    if (this.#pending.size >= this.#maxPending) {
      const oldest = this.#pending.keys().next().value as string
      this.#pending.delete(oldest)
      this.#stats.untracked++
    }
    this.#pending.set(loopId, { relays: new Set(path), sentAt: this.#clock.now() })
    this.#stats.loopsSent++
  }

  /** A loop came back. 'unknown' for ids never sent (or forgotten): ignore them. */
  returned (loopId: string): 'returned' | 'late' | 'unknown' {
    const loop = this.#pending.get(loopId)
    if (loop !== undefined) {
      this.#pending.delete(loopId)
      this.#stats.loopsReturned++
      this.#returns.push(loop)
      if (this.#returns.length > 2 * MAX_RECENT_RETURNS) this.#returns = this.#returns.slice(-MAX_RECENT_RETURNS)
      return 'returned'
    }
    if (this.#lost.delete(loopId)) { this.#stats.lateReturns++; return 'late' }
    return 'unknown'
  }

  /** When the oldest pending loop times out (undefined if none). */
  nextDeadline (): number | undefined {
    const first = this.#pending.values().next()
    return first.done === true ? undefined : first.value.sentAt + this.#timeoutMs
  }

  /** Declare loops older than the timeout lost and attribute them. Returns how many were lost now. */
  expire (now: number = this.#clock.now()): number {
    let lost = 0
    for (const [id, loop] of this.#pending) {
      if (loop.sentAt + this.#timeoutMs > now) break
      this.#pending.delete(id)
      this.#rememberLost(id)
      this.#stats.loopsLost++
      lost++
      if (this.#confirmed(loop)) {
        this.#stats.lossesConfirmed++
        this.#recordLoss(loop.relays, now)
      }
    }
    return lost
  }

  /** Whether path selection should skip `relay` now. Never true for a guard. */
  isAvoided (relay: RelayId, now: number = this.#clock.now()): boolean {
    if (this.#isGuard(relay)) return false
    const until = this.#avoided.get(relay)
    if (until === undefined) return false
    if (until <= now) { this.#avoided.delete(relay); return false }
    return true
  }

  /** Relays avoided now (guards excluded), sorted. */
  avoided (now: number = this.#clock.now()): RelayId[] {
    return [...this.#avoided.keys()].filter((r) => this.isAvoided(r, now)).sort()
  }

  stats (now: number = this.#clock.now()): LoopStats {
    this.#forgetOldEvidence(now)
    return { ...this.#stats, pending: this.#pending.size, failedPaths: this.#failed.size, relaysAvoided: this.avoided(now).length }
  }

  #rememberLost (id: string): void {
    if (this.#lost.size >= this.#maxPending) this.#lost.delete(this.#lost.values().next().value as string)
    this.#lost.add(id)
  }

  /** Rule 1: did a loop sent within the confirmation window after this one, on a disjoint path, return? */
  #confirmed (lost: Loop): boolean {
    const from = lost.sentAt
    const to = lost.sentAt + this.#confirmMs
    for (let i = this.#returns.length - 1; i >= 0; i--) {
      const r = this.#returns[i]
      if (r.sentAt >= from && r.sentAt <= to && this.#sharedNonGuard(lost.relays, r.relays, undefined)) return true
    }
    return false
  }

  #forgetOldEvidence (now: number): void {
    for (const [k, f] of this.#failed) {
      if (f.lastLossAt + this.#windowMs > now && this.#failed.size <= this.#maxFailed) break
      this.#failed.delete(k)
    }
  }

  #recordLoss (relays: ReadonlySet<RelayId>, now: number): void {
    const key = pathKey(relays)
    const prev = this.#failed.get(key)
    this.#failed.delete(key) // re-insert as most recent
    const entry: FailedPath = { relays, lastLossAt: now, losses: (prev?.losses ?? 0) + 1 }
    this.#failed.set(key, entry)
    this.#forgetOldEvidence(now)
    if (prev !== undefined) return // the same relay set again: no new evidence for the rule
    for (const r of relays) {
      if (this.#isGuard(r) || this.isAvoided(r, now)) continue
      if (this.#ruleHolds(r, key, entry)) this.#avoid(r, now)
    }
  }

  /**
   * True iff the non-guard relays `a` and `b` have in common are exactly {only}
   * (or none, when `only` is undefined).
   */
  #sharedNonGuard (a: ReadonlySet<RelayId>, b: ReadonlySet<RelayId>, only: RelayId | undefined): boolean {
    for (const x of a) {
      if (x !== only && b.has(x) && !this.#isGuard(x)) return false
    }
    return only === undefined || (a.has(only) && b.has(only))
  }

  /**
   * Rule 3, incrementally: a new triple must include the new path P (older triples were
   * checked when their last path arrived). Candidates are failed paths through r that
   * share only r with P; the rule holds if two candidates share only r with each other.
   */
  #ruleHolds (r: RelayId, key: string, p: FailedPath): boolean {
    const candidates: Array<ReadonlySet<RelayId>> = []
    for (const [k, q] of this.#failed) {
      if (k === key || !q.relays.has(r)) continue
      if (this.#sharedNonGuard(p.relays, q.relays, r)) candidates.push(q.relays)
    }
    if (candidates.length < LOSS_PATHS_TO_AVOID - 1) return false
    for (let i = 0; i < candidates.length; i++) {
      for (let j = i + 1; j < candidates.length; j++) {
        if (this.#sharedNonGuard(candidates[i], candidates[j], r)) return true
      }
    }
    return false
  }

  #avoid (r: RelayId, now: number): void {
    if (this.avoided(now).length >= this.#maxAvoided) { this.#stats.avoidCapped++; return }
    this.#avoided.set(r, now + this.#avoidMs)
  }
}

function positive (name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new MixCallerError(`loop tracker ${name} must be a positive number, got ${v}`)
  return v
}

function positiveInt (name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new MixCallerError(`loop tracker ${name} must be a positive integer, got ${v}`)
  return v
}
