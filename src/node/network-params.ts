/**
 * Which registry clocks a node uses: production values on a real network, the testnet
 * preset on a local testnet. Every party of one network — storers, providers,
 * consumers — must use the same periods, or blinded keys and storage keys disagree; so
 * the choice is made here, once, from "is this a testnet".
 */
import { PRODUCTION_PARAMS, testnetParams, type RegistryParams } from '../registry/params.ts'

/**
 * Testnet period: ten minutes. Long enough that a demo or a test rarely straddles a
 * boundary (publishers cover p and p+1 anyway), short enough that republishing runs in
 * tens of seconds (testnetParams scales every clock by period / 1 day).
 */
export const TESTNET_PERIOD_SECONDS = 600

/** A fresh loopback testnet has no relay two periods old: storage eligibility starts at once. */
export const TESTNET_PARAMS: RegistryParams = testnetParams(TESTNET_PERIOD_SECONDS, { eligibilityAgeMs: 0 })

export function registryParamsFor (testnet: boolean): RegistryParams {
  return testnet ? TESTNET_PARAMS : PRODUCTION_PARAMS
}
