/**
 * Storer placement for the simulator: the registry's own pure placement
 * (src/registry/placement.ts), re-exported so the simulator and real clients compute the
 * same storers.
 */
export { DEFAULT_REPLICAS, DEFAULT_STORERS_PER_REPLICA, xorCompare, placeStorers, type PlacementEntry } from '../src/registry/placement.ts'
