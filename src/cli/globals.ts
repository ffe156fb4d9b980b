/**
 * Flags every command accepts. `--help` is handled by the parser itself.
 */
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import type { FlagSpec } from './flags.ts'
import { LOG_FORMATS, LOG_LEVELS } from './log.ts'

export const DEFAULT_DATA_DIR = '~/.veil'

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  {
    name: 'data-dir',
    type: 'string',
    default: DEFAULT_DATA_DIR,
    env: 'VEIL_HOME',
    metavar: 'PATH',
    configurable: false,
    validate: value => value.trim() === '' ? 'expected a directory path' : undefined,
    description: 'data directory: keys, datastore, config.json'
  },
  {
    name: 'log-level',
    type: 'string',
    default: 'info',
    choices: LOG_LEVELS,
    metavar: 'LEVEL',
    description: 'error, warn, info or debug'
  },
  {
    name: 'log-format',
    type: 'string',
    default: 'text',
    choices: LOG_FORMATS,
    metavar: 'FORMAT',
    description: 'text or json (one object per line)'
  },
  {
    name: 'log-file',
    type: 'string',
    metavar: 'PATH',
    validate: value => value.trim() === '' ? 'expected a file path' : undefined,
    description: 'append logs to this file instead of stderr'
  }
]

/** Expand a leading `~` and make the path absolute. */
export function expandPath (path: string, home = homedir()): string {
  if (path === '~') return home
  if (path.startsWith('~/')) return join(home, path.slice(2))
  return isAbsolute(path) ? path : resolve(path)
}
