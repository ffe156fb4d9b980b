/**
 * The registry's clocks in one place: period length, descriptor lifetime, republish
 * interval, change delay and storage-eligibility age — production values from Tor, and
 * a testnet preset that shortens all of them together (as testnets shorten guard clocks),
 * so tests cross period boundaries and republish in seconds.
 */
import { DESCRIPTOR_LIFETIME_SECONDS } from './constants.ts'
import { RegistryCallerError } from './errors.ts'
import { DEFAULT_PERIODS, testnetPeriods, type PeriodParams } from './time.ts'
import { defaultEligibilityAgeMs } from './placement.ts'
import type { NamespaceRules } from './store.ts'
import { decodeOuter, descriptorSelector, descriptorValidator } from './descriptor.ts'
import { DESCRIPTOR_NAMESPACE } from './constants.ts'
import type { Clock } from '../overlay/clock.ts'

/** Republish every 60–120 min (Tor), and within 5 min of a change. */
export const REPUBLISH_MIN_MS = 60 * 60 * 1000
export const REPUBLISH_MAX_MS = 120 * 60 * 1000
export const CHANGE_REPUBLISH_MAX_MS = 5 * 60 * 1000

export interface RegistryParams {
  readonly periods: PeriodParams
  readonly lifetimeSeconds: number
  readonly republishMinMs: number
  readonly republishMaxMs: number
  /** A change is published at a random delay in [0, this]. */
  readonly changeDelayMaxMs: number
  /** Storage eligibility: this long in the client's directory. */
  readonly eligibilityAgeMs: number
}

export const PRODUCTION_PARAMS: RegistryParams = Object.freeze({
  periods: DEFAULT_PERIODS,
  lifetimeSeconds: DESCRIPTOR_LIFETIME_SECONDS,
  republishMinMs: REPUBLISH_MIN_MS,
  republishMaxMs: REPUBLISH_MAX_MS,
  changeDelayMaxMs: CHANGE_REPUBLISH_MAX_MS,
  eligibilityAgeMs: defaultEligibilityAgeMs(DEFAULT_PERIODS)
})

/**
 * Testnet preset: every clock scaled by periodSeconds / 86,400 (lifetime at most one
 * period, republish at least every 100 ms); `eligibilityAgeMs` may be overridden (a fresh
 * loopback testnet has no relay two periods old).
 */
export function testnetParams (periodSeconds: number, over: Partial<RegistryParams> = {}): RegistryParams {
  if (!Number.isInteger(periodSeconds) || periodSeconds < 2) throw new RegistryCallerError('testnet period must be ≥ 2 s')
  const periods = testnetPeriods(periodSeconds)
  const scale = periodSeconds / DEFAULT_PERIODS.lengthSeconds
  return Object.freeze({
    periods,
    lifetimeSeconds: Math.max(1, Math.min(periodSeconds, Math.round(DESCRIPTOR_LIFETIME_SECONDS * scale))),
    republishMinMs: Math.max(100, Math.round(REPUBLISH_MIN_MS * scale)),
    republishMaxMs: Math.max(200, Math.round(REPUBLISH_MAX_MS * scale)),
    changeDelayMaxMs: Math.max(10, Math.round(CHANGE_REPUBLISH_MAX_MS * scale)),
    eligibilityAgeMs: defaultEligibilityAgeMs(periods),
    ...over
  })
}

/** The registry's kad-dht namespaces at a storer: validator, selector, expiry. */
export function registryNamespaces (clock: Clock, periods: PeriodParams = DEFAULT_PERIODS): Record<string, NamespaceRules> {
  return {
    [DESCRIPTOR_NAMESPACE]: {
      validate: descriptorValidator(clock, periods),
      select: descriptorSelector,
      expiry: (value) => decodeOuter(value).expiry
    }
  }
}
