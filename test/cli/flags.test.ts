import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FlagError, envName, parseArgs, parseScalar, splitCommandPath, type FlagSpec } from '../../src/cli/flags.ts'
import { GLOBAL_FLAGS } from '../../src/cli/globals.ts'

const specs: FlagSpec[] = [
  { name: 'name', type: 'string', description: 'a string' },
  { name: 'level', type: 'string', choices: ['a', 'b'], default: 'a', description: 'choice' },
  { name: 'count', type: 'number', integer: true, min: 1, max: 10, description: 'a number' },
  { name: 'ratio', type: 'number', description: 'any number' },
  { name: 'json', type: 'boolean', default: false, description: 'a boolean' },
  { name: 'control', type: 'boolean', default: true, description: 'on by default' },
  { name: 'peer', type: 'string[]', description: 'a list', validate: v => v.startsWith('/') ? undefined : 'expected /…' }
]

function errorOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof FlagError) return err.message
    throw err
  }
  throw new Error('expected a FlagError')
}

describe('parseArgs', { timeout: 10_000 }, () => {
  it('takes --flag value and --flag=value', () => {
    const a = parseArgs(['--name', 'x', '--count=3', '--ratio', '-0.5'], specs)
    expect(a.values.get('name')).toBe('x')
    expect(a.values.get('count')).toBe(3)
    expect(a.values.get('ratio')).toBe(-0.5)
    expect(a.help).toBe(false)
  })

  it('keeps an = inside the value', () => {
    expect(parseArgs(['--name=a=b'], specs).values.get('name')).toBe('a=b')
  })

  it('collects repeatable flags in order', () => {
    const a = parseArgs(['--peer', '/a', '--peer=/b', '--peer', '/c'], specs)
    expect(a.values.get('peer')).toEqual(['/a', '/b', '/c'])
  })

  it('handles booleans: bare, negated, explicit', () => {
    expect(parseArgs(['--json'], specs).values.get('json')).toBe(true)
    expect(parseArgs(['--no-control'], specs).values.get('control')).toBe(false)
    expect(parseArgs(['--json=false'], specs).values.get('json')).toBe(false)
    expect(parseArgs(['--control=yes'], specs).values.get('control')).toBe(true)
    expect(errorOf(() => parseArgs(['--no-control=1'], specs))).toBe('--no-control takes no value')
    expect(errorOf(() => parseArgs(['--json=maybe'], specs))).toBe('invalid value "maybe" for --json: expected true or false')
  })

  it('passes everything after -- through untouched', () => {
    const a = parseArgs(['--json', '--', 'cmd', '--foo', '-x', '--'], specs)
    expect(a.values.get('json')).toBe(true)
    expect(a.passthrough).toEqual(['cmd', '--foo', '-x', '--'])
    expect(parseArgs(['--json'], specs).passthrough).toBeUndefined()
  })

  it('collects positionals and help', () => {
    const a = parseArgs(['one', '--json', 'two', '-h'], specs)
    expect(a.positionals).toEqual(['one', 'two'])
    expect(a.help).toBe(true)
    expect(parseArgs(['--help'], specs).help).toBe(true)
  })

  it('rejects unknown flags', () => {
    expect(errorOf(() => parseArgs(['--foo'], specs))).toBe('unknown flag --foo')
    expect(errorOf(() => parseArgs(['--foo=1'], specs))).toBe('unknown flag --foo')
    expect(errorOf(() => parseArgs(['-x'], specs))).toBe('unknown flag -x')
    expect(errorOf(() => parseArgs(['--no-name'], specs))).toBe('unknown flag --no-name')
  })

  it('rejects bad values, naming the flag and the value', () => {
    expect(errorOf(() => parseArgs(['--level', 'c'], specs))).toBe('invalid value "c" for --level: expected one of a, b')
    expect(errorOf(() => parseArgs(['--count', 'ten'], specs))).toBe('invalid value "ten" for --count: expected a number')
    expect(errorOf(() => parseArgs(['--count', '1.5'], specs))).toBe('invalid value "1.5" for --count: expected a whole number')
    expect(errorOf(() => parseArgs(['--count', '0'], specs))).toBe('invalid value "0" for --count: expected at least 1')
    expect(errorOf(() => parseArgs(['--count', '11'], specs))).toBe('invalid value "11" for --count: expected at most 10')
    expect(errorOf(() => parseArgs(['--ratio', 'Infinity'], specs))).toBe('invalid value "Infinity" for --ratio: expected a number')
    expect(errorOf(() => parseArgs(['--ratio', ''], specs))).toBe('invalid value "" for --ratio: expected a number')
    expect(errorOf(() => parseArgs(['--peer', 'x'], specs))).toBe('invalid value "x" for --peer: expected /…')
  })

  it('rejects a missing value and a repeated single flag', () => {
    expect(errorOf(() => parseArgs(['--name'], specs))).toBe('--name needs a value')
    expect(errorOf(() => parseArgs(['--name', '--json'], specs))).toBe('--name needs a value')
    expect(errorOf(() => parseArgs(['--name', 'a', '--name', 'b'], specs))).toBe('--name given more than once')
  })

  it('never throws anything but FlagError (property)', () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom('--', '-h', '--help', '--json', '--no-control', '--count', '--peer', '--name', '--level', '--ratio'),
      fc.string().map(s => '--' + s),
      fc.tuple(fc.constantFrom('--count=', '--peer=', '--json=', '--level='), fc.string()).map(([a, b]) => a + b)
    )
    fc.assert(fc.property(fc.array(token, { maxLength: 12 }), tokens => {
      try {
        const parsed = parseArgs(tokens, specs)
        for (const [name, value] of parsed.values) {
          const spec = specs.find(s => s.name === name)
          expect(spec).toBeDefined()
          if (spec?.type === 'string[]') expect(Array.isArray(value)).toBe(true)
          else expect(typeof value).toBe(spec?.type)
        }
      } catch (err) {
        if (!(err instanceof FlagError)) throw err
      }
    }), { numRuns: 500 })
  })
})

describe('parseScalar', { timeout: 10_000 }, () => {
  it('accepts number syntax only', () => {
    const spec: FlagSpec = { name: 'n', type: 'number', description: '' }
    expect(parseScalar(spec, '1e3')).toBe(1000)
    expect(parseScalar(spec, '.5')).toBe(0.5)
    for (const bad of ['0x10', '1_000', 'NaN', '1e', '--1', ' ']) expect(() => parseScalar(spec, bad)).toThrow(FlagError)
  })
})

describe('envName', { timeout: 10_000 }, () => {
  it('derives VEIL_ names and honours overrides', () => {
    expect(envName({ name: 'onion-key-rotation-hours', type: 'number', description: '' })).toBe('VEIL_ONION_KEY_ROTATION_HOURS')
    expect(envName({ name: 'data-dir', type: 'string', env: 'VEIL_HOME', description: '' })).toBe('VEIL_HOME')
  })
})

describe('splitCommandPath', { timeout: 10_000 }, () => {
  const tree: Record<string, string[]> = { '': ['relay', 'keys'], keys: ['show'] }
  const hasChild = (path: readonly string[]): boolean => (tree[path.join(' ')]?.length ?? 0) > 0

  it('finds the path with global flags before, between and after', () => {
    expect(splitCommandPath(['--log-level', 'debug', 'keys', '--data-dir=/x', 'show', '--json'], GLOBAL_FLAGS, hasChild))
      .toEqual({ path: ['keys', 'show'], rest: ['--log-level', 'debug', '--data-dir=/x', '--json'] })
  })

  it('stops at a leaf, at -- and at an unknown flag', () => {
    expect(splitCommandPath(['relay', 'extra'], GLOBAL_FLAGS, hasChild)).toEqual({ path: ['relay'], rest: ['extra'] })
    expect(splitCommandPath(['--', 'relay'], GLOBAL_FLAGS, hasChild)).toEqual({ path: [], rest: ['--', 'relay'] })
    expect(splitCommandPath(['--foo', 'bar', 'relay'], GLOBAL_FLAGS, hasChild)).toEqual({ path: [], rest: ['--foo', 'bar', 'relay'] })
  })
})
