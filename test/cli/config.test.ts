import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { displayValue, parseConfigFile, parseEnvValue, resolveOptions } from '../../src/cli/config.ts'
import { UsageError } from '../../src/cli/errors.ts'
import type { FlagSpec, FlagValue } from '../../src/cli/flags.ts'
import { GLOBAL_FLAGS } from '../../src/cli/globals.ts'
import { COMMANDS } from '../../src/cli/commands/index.ts'
import { allFlagSpecs } from '../../src/cli/main.ts'

const specs: FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: 'bootstrap', type: 'string[]', description: 'list' },
  { name: 'nodes', type: 'number', integer: true, min: 1, default: 5, description: 'n' },
  { name: 'control', type: 'boolean', default: true, description: 'b' },
  { name: 'token', type: 'string', secret: true, description: 'secret' },
  { name: 'json', type: 'boolean', default: false, configurable: false, description: 'j' }
]
const WHERE = '/home/x/.veil/config.json'

function usageMessage (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof UsageError) return err.message
    throw err
  }
  throw new Error('expected a UsageError')
}

function resolve (cli: Record<string, FlagValue>, env: Record<string, string>, file: Record<string, FlagValue>): ReturnType<typeof resolveOptions> {
  return resolveOptions({ specs, cli: new Map(Object.entries(cli)), env, file: new Map(Object.entries(file)) })
}

describe('resolveOptions precedence: flag > env > config.json > default', { timeout: 10_000 }, () => {
  it('uses the default when nothing else is set', () => {
    const o = resolve({}, {}, {})
    expect(o.string('log-level')).toBe('info')
    expect(o.source('log-level')).toBe('default')
    expect(o.number('nodes')).toBe(5)
    expect(o.boolean('control')).toBe(true)
    expect(o.strings('bootstrap')).toEqual([])
    expect(o.string('log-file')).toBeUndefined()
  })

  it('config.json beats the default', () => {
    const o = resolve({}, {}, { 'log-level': 'warn', nodes: 7, control: false })
    expect(o.string('log-level')).toBe('warn')
    expect(o.source('log-level')).toBe('config')
    expect(o.number('nodes')).toBe(7)
    expect(o.boolean('control')).toBe(false)
  })

  it('the environment beats config.json', () => {
    const o = resolve({}, { VEIL_LOG_LEVEL: 'error', VEIL_NODES: '9', VEIL_BOOTSTRAP: '/a, /b,' }, { 'log-level': 'warn', nodes: 7, bootstrap: ['/c'] })
    expect(o.string('log-level')).toBe('error')
    expect(o.source('log-level')).toBe('env')
    expect(o.entries().find(e => e.spec.name === 'log-level')?.env).toBe('VEIL_LOG_LEVEL')
    expect(o.number('nodes')).toBe(9)
    expect(o.strings('bootstrap')).toEqual(['/a', '/b'])
  })

  it('a flag beats everything', () => {
    const o = resolve({ 'log-level': 'debug', bootstrap: ['/f'] }, { VEIL_LOG_LEVEL: 'error', VEIL_BOOTSTRAP: '/e' }, { 'log-level': 'warn', bootstrap: ['/c'] })
    expect(o.string('log-level')).toBe('debug')
    expect(o.source('log-level')).toBe('flag')
    expect(o.strings('bootstrap')).toEqual(['/f'])
  })

  it('data-dir reads VEIL_HOME, and an empty variable counts as unset', () => {
    expect(resolve({}, { VEIL_HOME: '/srv/veil' }, {}).string('data-dir')).toBe('/srv/veil')
    expect(resolve({}, { VEIL_LOG_LEVEL: '' }, { 'log-level': 'warn' }).string('log-level')).toBe('warn')
  })

  it('ignores file values of flags that are not configurable', () => {
    expect(resolve({}, {}, { json: true }).boolean('json')).toBe(false)
  })

  it('rejects a bad environment value, naming the variable', () => {
    expect(usageMessage(() => resolve({}, { VEIL_LOG_LEVEL: 'loud' }, {})))
      .toBe('invalid value "loud" in environment variable VEIL_LOG_LEVEL: expected one of error, warn, info, debug')
    expect(usageMessage(() => resolve({}, { VEIL_NODES: '0' }, {})))
      .toBe('invalid value "0" in environment variable VEIL_NODES: expected at least 1')
    expect(usageMessage(() => resolve({}, { VEIL_CONTROL: 'maybe' }, {})))
      .toBe('invalid value "maybe" in environment variable VEIL_CONTROL: expected true or false')
  })

  it('refuses typed reads of the wrong type or an unknown flag (programming errors)', () => {
    const o = resolve({}, {}, {})
    expect(() => o.number('log-level')).toThrow(/internal/)
    expect(() => o.string('nope')).toThrow(/internal/)
  })

  it('parses boolean words in the environment', () => {
    expect(parseEnvValue(specs[6], 'VEIL_CONTROL', 'off')).toBe(false)
    expect(parseEnvValue(specs[6], 'VEIL_CONTROL', 'YES')).toBe(true)
  })
})

describe('parseConfigFile', { timeout: 10_000 }, () => {
  it('reads kebab-case keys with JSON types', () => {
    const v = parseConfigFile('{"log-level":"debug","nodes":3,"control":false,"bootstrap":["/a","/b"]}', specs, WHERE)
    expect(Object.fromEntries(v)).toEqual({ 'log-level': 'debug', nodes: 3, control: false, bootstrap: ['/a', '/b'] })
  })

  it('accepts one string for a list flag', () => {
    expect(parseConfigFile('{"bootstrap":"/a"}', specs, WHERE).get('bootstrap')).toEqual(['/a'])
  })

  it('names an unknown key, with a hint for camelCase', () => {
    expect(usageMessage(() => parseConfigFile('{"foo":1}', specs, WHERE))).toBe(`${WHERE}: unknown key "foo"`)
    expect(usageMessage(() => parseConfigFile('{"logLevel":"info"}', specs, WHERE)))
      .toBe(`${WHERE}: unknown key "logLevel" (keys are kebab-case: "log-level")`)
  })

  it('names a key with a bad value', () => {
    expect(usageMessage(() => parseConfigFile('{"log-level":"loud"}', specs, WHERE)))
      .toBe(`${WHERE}: invalid value "loud" for key "log-level": expected one of error, warn, info, debug`)
    expect(usageMessage(() => parseConfigFile('{"nodes":"3"}', specs, WHERE)))
      .toBe(`${WHERE}: invalid value "3" for key "nodes": expected a number`)
    expect(usageMessage(() => parseConfigFile('{"control":"yes"}', specs, WHERE)))
      .toBe(`${WHERE}: invalid value "yes" for key "control": expected true or false`)
    expect(usageMessage(() => parseConfigFile('{"bootstrap":[1]}', specs, WHERE)))
      .toBe(`${WHERE}: invalid value [1] for key "bootstrap": expected an array of strings`)
    expect(usageMessage(() => parseConfigFile('{"nodes":null}', specs, WHERE)))
      .toBe(`${WHERE}: invalid value null for key "nodes": expected a number`)
  })

  it('refuses keys that cannot live in the file', () => {
    expect(usageMessage(() => parseConfigFile('{"data-dir":"/x"}', specs, WHERE)))
      .toBe(`${WHERE}: key "data-dir" cannot be set in the config file`)
  })

  it('reports malformed JSON and non-objects in one line', () => {
    const m = usageMessage(() => parseConfigFile('{"log-level": }', specs, WHERE))
    expect(m).toMatch(new RegExp(`^${WHERE.replace(/[.]/g, '\\.')}: malformed JSON \\(`))
    expect(m).not.toContain('\n')
    expect(usageMessage(() => parseConfigFile('[]', specs, WHERE))).toBe(`${WHERE}: expected a JSON object of flag names and values`)
    expect(usageMessage(() => parseConfigFile('"x"', specs, WHERE))).toBe(`${WHERE}: expected a JSON object of flag names and values`)
  })

  it('either parses or throws a one-line UsageError for any JSON (property)', () => {
    const keys = fc.constantFrom(...allFlagSpecs(COMMANDS).map(s => s.name), 'foo', 'logLevel')
    const object = fc.dictionary(keys, fc.jsonValue(), { maxKeys: 5 })
    fc.assert(fc.property(fc.oneof(object.map(o => JSON.stringify(o)), fc.json(), fc.string()), text => {
      try {
        parseConfigFile(text, allFlagSpecs(COMMANDS), WHERE)
      } catch (err) {
        if (!(err instanceof UsageError)) throw err
        expect(err.message).not.toContain('\n')
      }
    }), { numRuns: 500 })
  })

  it('agrees between commands that share a flag name', () => {
    // One key may serve several commands; their specs must agree on the type.
    const byName = new Map<string, string>()
    for (const spec of allFlagSpecs(COMMANDS)) {
      const seen = byName.get(spec.name)
      if (seen !== undefined) expect(`${spec.name}: ${spec.type}`).toBe(`${spec.name}: ${seen}`)
      byName.set(spec.name, spec.type)
    }
  })
})

describe('displayValue', { timeout: 10_000 }, () => {
  it('redacts secrets and formats lists', () => {
    expect(displayValue(specs[7], 'hunter2')).toBe('[redacted]')
    expect(displayValue(specs[4], ['/a', '/b'])).toBe('/a, /b')
    expect(displayValue(specs[4], [])).toBe('(none)')
    expect(displayValue(specs[4], undefined)).toBe('(unset)')
  })
})
