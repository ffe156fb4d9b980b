/**
 * Flag specifications and the command-line parser.
 *
 * Accepted forms: `--name value`, `--name=value`, `--name` / `--no-name` for booleans,
 * repeated `--name` for list flags, `-h` for `--help`, and `--` after which every token
 * is passed through untouched (`veil provide --stdio -- cmd args`). Anything else that
 * starts with `-` is an unknown flag. The parser is pure: it returns values or throws
 * a `FlagError` naming the flag; the caller turns that into one line and exit 2.
 *
 * Not in this module: environment, config file and defaults (see config.ts).
 */

export type FlagType = 'string' | 'number' | 'boolean' | 'string[]'
export type FlagValue = string | number | boolean | readonly string[]

interface FlagSpecBase {
  /** Long name, kebab-case, without the dashes: `log-level`. Also the config.json key. */
  readonly name: string
  readonly description: string
  /** Never printed: `veil config show` and logs show `[redacted]`. */
  readonly secret?: boolean
  /** Environment variable; default `VEIL_` + upper snake case of the name. */
  readonly env?: string
  /** Whether config.json may set it (default true). */
  readonly configurable?: boolean
  /** Placeholder for the value in `--help`. */
  readonly metavar?: string
}

export interface StringFlagSpec extends FlagSpecBase {
  readonly type: 'string'
  readonly default?: string
  readonly choices?: readonly string[]
  /** Returns a description of what is wrong with the value, or undefined if it is fine. */
  readonly validate?: (value: string) => string | undefined
}

export interface NumberFlagSpec extends FlagSpecBase {
  readonly type: 'number'
  readonly default?: number
  readonly integer?: boolean
  readonly min?: number
  readonly max?: number
}

export interface BooleanFlagSpec extends FlagSpecBase {
  readonly type: 'boolean'
  readonly default?: boolean
}

export interface StringListFlagSpec extends FlagSpecBase {
  readonly type: 'string[]'
  readonly default?: readonly string[]
  readonly choices?: readonly string[]
  /** Checked for each element. */
  readonly validate?: (value: string) => string | undefined
}

export type FlagSpec = StringFlagSpec | NumberFlagSpec | BooleanFlagSpec | StringListFlagSpec

/** A flag problem; `describe` says what was wrong, the caller adds where. */
export class FlagError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'FlagError'
  }
}

export function envName (spec: FlagSpec): string {
  return spec.env ?? 'VEIL_' + spec.name.toUpperCase().replace(/-/g, '_')
}

export function isConfigurable (spec: FlagSpec): boolean {
  return spec.configurable ?? true
}

const NUMBER_SYNTAX = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on'])
const FALSE_WORDS = new Set(['false', '0', 'no', 'off'])

/**
 * Check one scalar value against a spec. Returns a problem description ("expected …")
 * or undefined. For list flags, checks one element.
 */
export function checkValue (spec: FlagSpec, value: string | number | boolean): string | undefined {
  switch (spec.type) {
    case 'string':
    case 'string[]': {
      if (typeof value !== 'string') return 'expected a string'
      if (spec.choices !== undefined && !spec.choices.includes(value)) {
        return `expected one of ${spec.choices.join(', ')}`
      }
      return spec.validate?.(value)
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'expected a number'
      if (spec.integer === true && !Number.isInteger(value)) return 'expected a whole number'
      if (spec.min !== undefined && value < spec.min) return `expected at least ${spec.min}`
      if (spec.max !== undefined && value > spec.max) return `expected at most ${spec.max}`
      return undefined
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'expected true or false'
  }
}

/**
 * Convert the text form of a value (command line, environment) for a spec. Throws a
 * FlagError whose message says what is wrong, without the value (callers add it).
 * List flags convert one element here; environment lists are split by the caller.
 */
export function parseScalar (spec: FlagSpec, text: string): string | number | boolean {
  let value: string | number | boolean
  switch (spec.type) {
    case 'number':
      if (!NUMBER_SYNTAX.test(text.trim())) throw new FlagError('expected a number')
      value = Number(text)
      break
    case 'boolean': {
      const word = text.trim().toLowerCase()
      if (TRUE_WORDS.has(word)) value = true
      else if (FALSE_WORDS.has(word)) value = false
      else throw new FlagError('expected true or false')
      break
    }
    default:
      value = text
  }
  const problem = checkValue(spec, value)
  if (problem !== undefined) throw new FlagError(problem)
  return value
}

/** A value as shown in messages: JSON-quoted, cut to a readable length. */
export function quote (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? text.slice(0, 76) + '…"' : text
}

export interface ParsedArgs {
  /** Values given on the command line, by flag name (help excluded). */
  readonly values: ReadonlyMap<string, FlagValue>
  readonly positionals: readonly string[]
  /** Tokens after `--`, or undefined if there was no `--`. */
  readonly passthrough: readonly string[] | undefined
  readonly help: boolean
}

/**
 * Parse tokens against the flag specs. Throws FlagError with a message such as
 * `unknown flag --foo` or `invalid value for --log-level: expected one of …`.
 */
export function parseArgs (tokens: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map(s => [s.name, s]))
  const values = new Map<string, FlagValue>()
  const positionals: string[] = []
  let passthrough: string[] | undefined
  let help = false

  const set = (spec: FlagSpec, value: string | number | boolean): void => {
    if (spec.type === 'string[]') {
      const previous = values.get(spec.name)
      const list = Array.isArray(previous) ? previous : []
      values.set(spec.name, [...list, String(value)])
      return
    }
    if (values.has(spec.name)) throw new FlagError(`--${spec.name} given more than once`)
    values.set(spec.name, value)
  }
  const convert = (spec: FlagSpec, text: string): string | number | boolean => {
    try {
      return parseScalar(spec, text)
    } catch (err) {
      if (err instanceof FlagError) throw new FlagError(`invalid value ${quote(text)} for --${spec.name}: ${err.message}`)
      throw err
    }
  }

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    if (token === '--') {
      passthrough = tokens.slice(i + 1)
      break
    }
    if (token === '-h' || token === '--help') {
      help = true
      continue
    }
    if (!token.startsWith('-') || token === '-') {
      positionals.push(token)
      continue
    }
    if (!token.startsWith('--')) throw new FlagError(`unknown flag ${token}`)

    const eq = token.indexOf('=')
    const name = token.slice(2, eq === -1 ? undefined : eq)
    const inline = eq === -1 ? undefined : token.slice(eq + 1)
    const spec = byName.get(name)

    if (spec === undefined) {
      const negated = name.startsWith('no-') ? byName.get(name.slice(3)) : undefined
      if (negated?.type === 'boolean') {
        if (inline !== undefined) throw new FlagError(`--${name} takes no value`)
        set(negated, false)
        continue
      }
      throw new FlagError(`unknown flag --${name}`)
    }
    if (spec.type === 'boolean') {
      set(spec, inline === undefined ? true : convert(spec, inline))
      continue
    }
    let text = inline
    if (text === undefined) {
      const next = tokens[i + 1]
      if (next === undefined || next.startsWith('--')) throw new FlagError(`--${name} needs a value`)
      text = next
      i++
    }
    set(spec, convert(spec, text))
  }
  return { values, positionals, passthrough, help }
}

/**
 * Scan tokens for the command path (`keys show`) without knowing the leaf command's
 * flags: only the given (global) flags may come before the path. Returns the path and
 * the remaining tokens in order, path tokens removed. Stops at `--`.
 */
export function splitCommandPath (
  tokens: readonly string[],
  globals: readonly FlagSpec[],
  hasChild: (path: readonly string[]) => boolean
): { path: string[], rest: string[] } {
  const byName = new Map(globals.map(s => [s.name, s]))
  const path: string[] = []
  const rest: string[] = []
  let i = 0
  for (; i < tokens.length; i++) {
    const token = tokens[i]
    if (token === '--') break
    if (token.startsWith('-') && token !== '-') {
      if (token === '-h' || token === '--help') {
        rest.push(token)
        continue
      }
      const name = token.startsWith('--') ? token.slice(2).split('=')[0] : ''
      const spec = byName.get(name)
      // An unknown flag ends the path here, so the error names the command typed so far.
      if (spec === undefined) break
      rest.push(token)
      if (!token.includes('=') && spec.type !== 'boolean' && i + 1 < tokens.length) rest.push(tokens[++i])
      continue
    }
    if (!hasChild(path)) break
    path.push(token)
  }
  rest.push(...tokens.slice(i))
  return { path, rest }
}
