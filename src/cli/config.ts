/**
 * Effective options of a command: flag > `VEIL_*` environment > config.json > default.
 *
 * config.json lives in the data dir (`$VEIL_HOME/config.json`). It is one JSON object
 * whose keys are the long flag names in kebab-case, exactly as on the command line:
 *
 *     { "log-level": "debug", "bootstrap": ["/ip4/203.0.113.7/tcp/4001/p2p/12D3Koo…"] }
 *
 * A key may be any flag of any command (a command ignores keys it does not have), so one
 * file serves `veil relay` and `veil status` alike. Numbers and booleans are JSON numbers
 * and booleans; list flags take an array of strings (or one string). An unknown key, or
 * a value the flag would reject, is an error naming the key (exit 2).
 *
 * Each flag also reads an environment variable, `VEIL_` + its name in upper snake case
 * (`--log-level` → `VEIL_LOG_LEVEL`), except `--data-dir`, which reads `VEIL_HOME`. List
 * flags split the variable on commas.
 *
 * Everything here is pure: the caller reads files and the environment and passes them in.
 */
import { UsageError } from './errors.ts'
import { checkValue, envName, FlagError, isConfigurable, parseScalar, quote, type FlagSpec, type FlagValue } from './flags.ts'

export const CONFIG_FILE_NAME = 'config.json'

export type ValueSource = 'flag' | 'env' | 'config' | 'default'

export interface ResolvedValue {
  readonly value: FlagValue | undefined
  readonly source: ValueSource
  /** The environment variable the value came from, when source is 'env'. */
  readonly env?: string
}

/** Typed read access to a command's effective options. */
export interface ResolvedOptions {
  string (name: string): string | undefined
  number (name: string): number | undefined
  boolean (name: string): boolean
  strings (name: string): readonly string[]
  /** Where a value came from (e.g. to fall back when `bootstrap` is only the default). */
  source (name: string): ValueSource
  /** Every flag of the command with its value and source, in spec order. */
  entries (): ReadonlyArray<{ readonly spec: FlagSpec } & ResolvedValue>
  /** Non-flag arguments after the command path. */
  readonly positionals: readonly string[]
  /** Tokens after `--`, or undefined when there was no `--`. */
  readonly passthrough: readonly string[] | undefined
}

export interface ResolveInput {
  readonly specs: readonly FlagSpec[]
  /** Values from the command line (already parsed and checked). */
  readonly cli: ReadonlyMap<string, FlagValue>
  readonly env: Readonly<Record<string, string | undefined>>
  /** Values from config.json (already parsed and checked by parseConfigFile). */
  readonly file: ReadonlyMap<string, FlagValue>
  readonly positionals?: readonly string[]
  readonly passthrough?: readonly string[] | undefined
}

/** Resolve every flag of a command. Throws UsageError for a bad environment value. */
export function resolveOptions (input: ResolveInput): ResolvedOptions {
  const resolved = new Map<string, { spec: FlagSpec } & ResolvedValue>()
  for (const spec of input.specs) {
    resolved.set(spec.name, { spec, ...resolveOne(spec, input) })
  }
  const get = (name: string, type: FlagSpec['type']): FlagValue | undefined => {
    const entry = resolved.get(name)
    if (entry === undefined) throw new Error(`internal: no flag --${name} on this command`)
    if (entry.spec.type !== type) throw new Error(`internal: flag --${name} is ${entry.spec.type}, not ${type}`)
    return entry.value
  }
  return {
    string: name => {
      const v = get(name, 'string')
      return typeof v === 'string' ? v : undefined
    },
    number: name => {
      const v = get(name, 'number')
      return typeof v === 'number' ? v : undefined
    },
    boolean: name => get(name, 'boolean') === true,
    strings: name => {
      const v = get(name, 'string[]')
      return Array.isArray(v) ? v : []
    },
    source: name => {
      const entry = resolved.get(name)
      if (entry === undefined) throw new Error(`internal: no flag --${name} on this command`)
      return entry.source
    },
    entries: () => [...resolved.values()],
    positionals: input.positionals ?? [],
    passthrough: input.passthrough
  }
}

function resolveOne (spec: FlagSpec, input: ResolveInput): ResolvedValue {
  const cli = input.cli.get(spec.name)
  if (cli !== undefined) return { value: cli, source: 'flag' }
  const variable = envName(spec)
  const raw = input.env[variable]
  if (raw !== undefined && raw !== '') return { value: parseEnvValue(spec, variable, raw), source: 'env', env: variable }
  const fromFile = isConfigurable(spec) ? input.file.get(spec.name) : undefined
  if (fromFile !== undefined) return { value: fromFile, source: 'config' }
  return { value: spec.default, source: 'default' }
}

/** Convert an environment variable for a spec; lists split on commas. */
export function parseEnvValue (spec: FlagSpec, variable: string, raw: string): FlagValue {
  try {
    if (spec.type === 'string[]') {
      return raw.split(',').map(s => s.trim()).filter(s => s !== '').map(s => String(parseScalar(spec, s)))
    }
    return parseScalar(spec, raw)
  } catch (err) {
    if (err instanceof FlagError) throw new UsageError(`invalid value ${quote(raw)} in environment variable ${variable}: ${err.message}`)
    throw err
  }
}

/**
 * Parse and check config.json text against every flag of every command. `where` names
 * the file in messages. Throws UsageError (one line) for malformed JSON, a non-object,
 * an unknown key, a key that cannot be set in the file, or a bad value.
 */
export function parseConfigFile (text: string, allSpecs: readonly FlagSpec[], where: string): Map<string, FlagValue> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    throw new UsageError(`${where}: malformed JSON (${detail})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${where}: expected a JSON object of flag names and values`)
  }
  const specsByName = new Map<string, FlagSpec[]>()
  for (const spec of allSpecs) {
    const list = specsByName.get(spec.name) ?? []
    list.push(spec)
    specsByName.set(spec.name, list)
  }
  const values = new Map<string, FlagValue>()
  for (const [key, raw] of Object.entries(parsed)) {
    const specs = specsByName.get(key)
    if (specs === undefined) {
      const kebab = key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())
      const hint = kebab !== key && specsByName.has(kebab) ? ` (keys are kebab-case: "${kebab}")` : ''
      throw new UsageError(`${where}: unknown key ${JSON.stringify(key)}${hint}`)
    }
    if (!specs.every(isConfigurable)) {
      throw new UsageError(`${where}: key ${JSON.stringify(key)} cannot be set in the config file`)
    }
    let value: FlagValue | undefined
    for (const spec of specs) {
      const problem = checkFileValue(spec, raw)
      if (problem !== undefined) throw new UsageError(`${where}: invalid value ${quote(raw)} for key ${JSON.stringify(key)}: ${problem}`)
      value ??= fileValue(spec, raw)
    }
    if (value !== undefined) values.set(key, value)
  }
  return values
}

function checkFileValue (spec: FlagSpec, raw: unknown): string | undefined {
  if (spec.type === 'string[]') {
    const list = typeof raw === 'string' ? [raw] : raw
    if (!Array.isArray(list)) return 'expected an array of strings'
    for (const item of list) {
      if (typeof item !== 'string') return 'expected an array of strings'
      const problem = checkValue(spec, item)
      if (problem !== undefined) return list.length > 1 ? `${quote(item)}: ${problem}` : problem
    }
    return undefined
  }
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
    return spec.type === 'boolean' ? 'expected true or false' : `expected a ${spec.type}`
  }
  return checkValue(spec, raw)
}

function fileValue (spec: FlagSpec, raw: unknown): FlagValue | undefined {
  if (spec.type === 'string[]') {
    if (typeof raw === 'string') return [raw]
    return Array.isArray(raw) ? raw.filter(item => typeof item === 'string') : undefined
  }
  return typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? raw : undefined
}

/** Text for a value in `veil config show`; secrets redacted. */
export function displayValue (spec: FlagSpec, value: FlagValue | undefined): string {
  if (value === undefined) return '(unset)'
  if (spec.secret === true) return '[redacted]'
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(', ')
  return String(value)
}
