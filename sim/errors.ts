/**
 * Typed errors of the simulator.
 * - ScenarioError: the scenario (YAML or object) is wrong; `path` names the field ("dht.k").
 * - SimInputError: other caller misuse (bad options to runScenario/sweepScenario/mergeShards).
 * - SimInternalError: an invariant of the simulator broke (a bug).
 */
export class SimError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

export class ScenarioError extends SimError {
  /** Dotted path of the offending field, e.g. "paths.adversary.fraction"; "" for the whole scenario. */
  readonly path: string
  constructor (path: string, message: string) {
    super('ERR_SCENARIO', path === '' ? message : `${path}: ${message}`)
    this.path = path
  }
}

export class SimInputError extends SimError {
  constructor (message: string) { super('ERR_SIM_INPUT', message) }
}

export class SimInternalError extends SimError {
  constructor (message: string) { super('ERR_SIM_INTERNAL', message) }
}
