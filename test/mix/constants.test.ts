import { describe, expect, it } from 'vitest'
import { CELL_SIZE, RELAY_DATA_MAX } from '../../src/onion/constants.ts'
import {
  CELL_PAYLOAD_BYTES, CONFIRM_WINDOW_MS, DEFAULT_LANE_LIMIT, DEFAULT_LOOP_TIMEOUT_MS, DEFAULT_SCHEDULER_CAPACITY,
  LOSS_PATHS_TO_AVOID, MAX_EXP_SAMPLE_MEANS, MAX_PENDING_LOOPS, MAX_RECENT_RETURNS, MAX_SCHEDULER_CAPACITY,
  MIN_SCHEDULER_CAPACITY, PROFILE_ID_LEN, PROFILES, UNIFORM_BITS, UNIFORM_BYTES, WIRE_CELL_BYTES, profileCosts
} from '../../src/mix/index.ts'

describe('mix constants', () => {
  it('derive from their reasons', () => {
    expect(WIRE_CELL_BYTES).toBe(CELL_SIZE)
    expect(CELL_PAYLOAD_BYTES).toBe(RELAY_DATA_MAX)
    expect(PROFILE_ID_LEN).toBe(1)
    expect(UNIFORM_BITS).toBe(53) // Number.MAX_SAFE_INTEGER = 2^53 − 1
    expect(2 ** UNIFORM_BITS - 1).toBe(Number.MAX_SAFE_INTEGER)
    expect(UNIFORM_BYTES * 8).toBeGreaterThanOrEqual(UNIFORM_BITS)
    expect((UNIFORM_BYTES - 1) * 8).toBeLessThan(UNIFORM_BITS)
    expect(MAX_EXP_SAMPLE_MEANS).toBeCloseTo(36.74, 2)
  })

  it('scheduler bounds hold 10k cells and keep one lane from filling the relay', () => {
    expect(MIN_SCHEDULER_CAPACITY).toBe(10_000)
    expect(DEFAULT_SCHEDULER_CAPACITY).toBeGreaterThanOrEqual(MIN_SCHEDULER_CAPACITY)
    expect(DEFAULT_SCHEDULER_CAPACITY).toBeLessThanOrEqual(MAX_SCHEDULER_CAPACITY)
    expect(DEFAULT_SCHEDULER_CAPACITY / DEFAULT_LANE_LIMIT).toBeGreaterThanOrEqual(8)
  })

  it('loop tracking windows are consistent', () => {
    expect(CONFIRM_WINDOW_MS).toBeLessThan(DEFAULT_LOOP_TIMEOUT_MS)
    expect(MAX_RECENT_RETURNS).toBeGreaterThanOrEqual(MAX_PENDING_LOOPS)
    expect(LOSS_PATHS_TO_AVOID).toBe(3) // loops.ts's incremental search is a pair search
    // paranoid's loops (stream + loop cover) over one timeout fit the pending bound
    const c = PROFILES.paranoid.client
    expect((c.loopRatePerSec + c.sendRatePerSec) * DEFAULT_LOOP_TIMEOUT_MS / 1000).toBeLessThan(MAX_PENDING_LOOPS)
    expect(profileCosts(PROFILES.paranoid).addedLatencyMsRoundTrip * 10).toBeLessThan(DEFAULT_LOOP_TIMEOUT_MS)
  })
})
