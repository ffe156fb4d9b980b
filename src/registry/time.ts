/**
 * Time periods (rend-spec-v3 §2.2.1) as pure functions of a clock reading.
 *
 * A period is `lengthSeconds` long; period n covers
 * [epoch + offset + n·length, epoch + offset + (n+1)·length), with the offset (12:00 UTC
 * by default, as Tor) measured from the Unix epoch. Every blinded key, storage key,
 * subcredential and keyword key is a function of (period number, period length), so
 * records of different periods share nothing.
 *
 * Veil counts period lengths in seconds (Tor counts minutes): testnets shorten periods
 * to seconds so that tests cross boundaries quickly. The Tor vector test passes Tor's
 * minute count to the blinding function directly.
 */
import { RegistryCallerError } from './errors.ts'
import { DEFAULT_PERIOD_OFFSET_SECONDS, DEFAULT_PERIOD_SECONDS, DESCRIPTOR_LIFETIME_SECONDS } from './constants.ts'

export interface PeriodParams {
  /** Period length in seconds (production: 86,400). */
  readonly lengthSeconds: number
  /** Start of period 0, in seconds after the Unix epoch (production: 43,200). */
  readonly offsetSeconds: number
}

export const DEFAULT_PERIODS: PeriodParams = Object.freeze({ lengthSeconds: DEFAULT_PERIOD_SECONDS, offsetSeconds: DEFAULT_PERIOD_OFFSET_SECONDS })

/** Shortened periods for testnets (offset 0, so boundaries fall on multiples of the length). */
export function testnetPeriods (lengthSeconds: number): PeriodParams {
  return checkParams({ lengthSeconds, offsetSeconds: 0 })
}

export function checkParams (p: PeriodParams): PeriodParams {
  if (!Number.isSafeInteger(p.lengthSeconds) || p.lengthSeconds < 1 || p.lengthSeconds > 0xffff_ffff) throw new RegistryCallerError('period length must be a positive number of seconds')
  if (!Number.isSafeInteger(p.offsetSeconds) || p.offsetSeconds < 0) throw new RegistryCallerError('period offset must be ≥ 0 seconds')
  return p
}

/** The period containing `nowMs` (milliseconds since the Unix epoch). */
export function periodAt (nowMs: number, p: PeriodParams = DEFAULT_PERIODS): number {
  checkParams(p)
  const s = Math.floor(nowMs / 1000) - p.offsetSeconds
  if (s < 0) throw new RegistryCallerError('time before the first period')
  return Math.floor(s / p.lengthSeconds)
}

/** Start of period `n`, in seconds since the Unix epoch. */
export function periodStartSeconds (n: number, p: PeriodParams = DEFAULT_PERIODS): number {
  return p.offsetSeconds + n * p.lengthSeconds
}

/**
 * `revision` of a descriptor for period `n` built at `nowMs`: whole seconds since period
 * n−1 began. A descriptor for period n is published from the start of period n−1 (as
 * "next") through period n (as "current"), so counting from there keeps the revision
 * non-negative and increasing over the descriptor's whole life; it restarts with every
 * period and is never a counter carried across periods (which would link them). Tor
 * uses an order-preserving encryption of time since the shared-random epoch instead.
 */
export function revisionAt (nowMs: number, n: number, p: PeriodParams = DEFAULT_PERIODS): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RegistryCallerError('bad period number')
  const since = Math.floor(nowMs / 1000) - periodStartSeconds(n - 1, p)
  if (since < 0 || since >= 2 * p.lengthSeconds) throw new RegistryCallerError(`period ${n} is neither the current nor the next period`)
  return since
}

/** Seconds until the next period starts. */
export function secondsToNextPeriod (nowMs: number, p: PeriodParams = DEFAULT_PERIODS): number {
  return periodStartSeconds(periodAt(nowMs, p) + 1, p) - Math.floor(nowMs / 1000)
}

/**
 * Descriptor and entry lifetime: Tor's 3 h, but never more than one period, so testnets
 * with short periods shorten lifetimes with them (expiry must stay ≤ now + 2 periods).
 */
export function recordLifetimeSeconds (p: PeriodParams, requested = DESCRIPTOR_LIFETIME_SECONDS): number {
  return Math.min(requested, p.lengthSeconds)
}
