/**
 * What a `veil` command is: a name, a one-line summary, its flags, optional subcommands
 * and a `run` that returns an exit code (or throws a CliError, see errors.ts).
 * Each command lives in src/cli/commands/<name>.ts; the registry is commands/index.ts.
 */
import type { ResolvedOptions } from './config.ts'
import type { FlagSpec, FlagValue } from './flags.ts'
import type { Logger } from './log.ts'

/** How a command uses the data dir. */
export type DataDirUse =
  /** Create it if missing, check and migrate its format, read config.json. */
  | 'create'
  /** Check and migrate it if it exists, read config.json if present; never create it. */
  | 'read'
  /** Do not touch it (config.json is not read either). */
  | 'none'

export interface PositionalSpec {
  readonly name: string
  readonly description: string
  readonly optional?: boolean
}

export interface Command {
  readonly name: string
  readonly summary: string
  /** Longer text for `--help`, after the summary. */
  readonly details?: string
  /** The command's own flags; the global flags are added to every command. */
  readonly flags: readonly FlagSpec[]
  readonly positionals?: readonly PositionalSpec[]
  /** Whether tokens after `--` are accepted (e.g. `veil provide --stdio -- cmd args`). */
  readonly passthrough?: boolean
  readonly subcommands?: readonly Command[]
  /** Default 'create'. */
  readonly dataDir?: DataDirUse
  /** False for commands that come with later issues: listed, but running one exits 2. */
  readonly available?: boolean
  run (ctx: CommandContext): Promise<number>
}

export interface ConfigFileInfo {
  readonly path: string
  readonly present: boolean
  /** The checked values in the file, by key (all commands' keys). */
  readonly values: ReadonlyMap<string, FlagValue>
}

export interface CommandContext {
  /** e.g. ['keys', 'show'] */
  readonly commandPath: readonly string[]
  /** The effective options (flag > env > config.json > default). */
  readonly options: ResolvedOptions
  /** The config file as read; `options` already applied it. */
  readonly config: ConfigFileInfo
  readonly dataDir: string
  readonly log: Logger
  /** Fires on SIGINT or SIGTERM; stop cleanly and return. */
  readonly signal: AbortSignal
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  /** The registry, for commands that describe other commands (`veil config show relay`). */
  readonly commands: readonly Command[]
}

/** `veil relay` from ['relay']. */
export function displayName (path: readonly string[]): string {
  return ['veil', ...path].join(' ')
}
