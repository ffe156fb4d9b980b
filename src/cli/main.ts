/**
 * `veil`: finds the command, parses its flags, resolves options (flag > VEIL_* env >
 * config.json > default), prepares the data dir and the logger, runs the command with
 * an AbortSignal wired to SIGINT/SIGTERM, and maps the outcome to an exit code.
 *
 * `main` never throws. Every failure is one line on stderr, `veil: <message>`, with the
 * exit code of exit.ts; a stack trace only with VEIL_DEBUG_STACK=1.
 *
 *     import { main } from './cli/main.ts'
 *     process.exitCode = await main(process.argv.slice(2))
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { displayName, type Command, type CommandContext, type ConfigFileInfo } from './command.ts'
import { COMMANDS } from './commands/index.ts'
import { CONFIG_FILE_NAME, parseConfigFile, resolveOptions } from './config.ts'
import { describeFsError, ensureDataDir, errnoCode } from './datadir.ts'
import { CliError, oneLine, UsageError } from './errors.ts'
import { EXIT } from './exit.ts'
import { FlagError, parseArgs, splitCommandPath, type FlagSpec, type FlagValue } from './flags.ts'
import { DEFAULT_DATA_DIR, expandPath, GLOBAL_FLAGS } from './globals.ts'
import { commandHelp, rootHelp } from './help.ts'
import { createLogger, isLogFormat, isLogLevel, type ClosableLogger } from './log.ts'
import { packageVersion } from './versions.ts'

export type { Command, CommandContext } from './command.ts'
export type { Logger, LogFields } from './log.ts'

/** Where main reads and writes; tests pass their own. */
export interface MainIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  /**
   * If given, commands get this signal and no process signal handlers are installed;
   * otherwise SIGINT/SIGTERM abort the command (a second one exits at once with 130).
   */
  readonly signal?: AbortSignal
  readonly commands?: readonly Command[]
}

export async function main (argv: string[], io: Partial<MainIo> = {}): Promise<number> {
  const stdout = io.stdout ?? writeTo(process.stdout)
  const stderr = io.stderr ?? writeTo(process.stderr)
  const env = io.env ?? process.env
  const debugStack = env.VEIL_DEBUG_STACK === '1'
  const interrupts = io.signal === undefined ? listenForInterrupts() : externalInterrupts(io.signal)
  try {
    const code = await run(argv, { stdout, stderr, env, signal: interrupts.signal, commands: io.commands ?? COMMANDS })
    return interrupts.interrupted() ? EXIT.interrupted : code
  } catch (err) {
    if (interrupts.interrupted()) return EXIT.interrupted
    return report(err, stderr, debugStack)
  } finally {
    interrupts.dispose()
  }
}

interface RunIo {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  readonly signal: AbortSignal
  readonly commands: readonly Command[]
}

async function run (argv: readonly string[], io: RunIo): Promise<number> {
  const children = (path: readonly string[]): readonly Command[] => {
    let list = io.commands
    for (const name of path) {
      const found = list.find(c => c.name === name)
      if (found === undefined) return []
      list = found.subcommands ?? []
    }
    return list
  }
  const { path, rest } = splitCommandPath(argv, GLOBAL_FLAGS, p => children(p).length > 0)
  const wantsHelp = helpRequested(rest)

  // Walk the path to the command.
  let command: Command | undefined
  for (const [i, name] of path.entries()) {
    const found = children(path.slice(0, i)).find(c => c.name === name)
    if (found === undefined) {
      const parent = path.slice(0, i)
      const where = parent.length === 0 ? '' : ` for '${displayName(parent)}'`
      throw new UsageError(`unknown command '${name}'${where} (see '${displayName(parent)} --help')`)
    }
    command = found
  }

  if (command === undefined) {
    if (wantsHelp) {
      io.stdout(rootHelp(io.commands, packageVersion()))
      return EXIT.ok
    }
    parseFlags(rest, GLOBAL_FLAGS, [])
    throw new UsageError('no command given (see \'veil --help\')')
  }
  if (wantsHelp) {
    io.stdout(commandHelp(path, command))
    return EXIT.ok
  }
  if (command.available === false) return await command.run(placeholderContext(path, io))

  const specs = [...GLOBAL_FLAGS, ...command.flags]
  const parsed = parseFlags(rest, specs, path)
  if ((command.subcommands?.length ?? 0) > 0) return await command.run(placeholderContext(path, io))
  checkPositionals(command, path, parsed.positionals, parsed.passthrough)

  // The data dir comes from flag or VEIL_HOME only (config.json lives inside it).
  const early = resolveOptions({ specs: GLOBAL_FLAGS, cli: parsed.values, env: io.env, file: new Map() })
  const dataDir = expandPath(early.string('data-dir') ?? DEFAULT_DATA_DIR)
  const use = command.dataDir ?? 'create'
  const config = use === 'none' ? absentConfig(dataDir) : await readConfig(dataDir, io.commands)

  const options = resolveOptions({
    specs,
    cli: parsed.values,
    env: io.env,
    file: config.values,
    positionals: parsed.positionals,
    passthrough: parsed.passthrough
  })
  const log = openLogger(options.string('log-level'), options.string('log-format'), options.string('log-file'), io)
  try {
    if (use !== 'none') await ensureDataDir(dataDir, { create: use === 'create', log })
    const ctx: CommandContext = {
      commandPath: path,
      options,
      config,
      dataDir,
      log,
      signal: io.signal,
      stdout: io.stdout,
      stderr: io.stderr,
      env: io.env,
      commands: io.commands
    }
    return await command.run(ctx)
  } finally {
    log.close()
  }
}

function helpRequested (tokens: readonly string[]): boolean {
  for (const token of tokens) {
    if (token === '--') return false
    if (token === '--help' || token === '-h') return true
  }
  return false
}

function parseFlags (tokens: readonly string[], specs: readonly FlagSpec[], path: readonly string[]): ReturnType<typeof parseArgs> {
  const name = displayName(path)
  try {
    return parseArgs(tokens, specs)
  } catch (err) {
    if (!(err instanceof FlagError)) throw err
    const where = err.message.startsWith('unknown flag') ? ` for '${name}'` : ''
    throw new UsageError(`${err.message}${where} (see '${name} --help')`)
  }
}

function checkPositionals (command: Command, path: readonly string[], positionals: readonly string[], passthrough: readonly string[] | undefined): void {
  const name = displayName(path)
  const specs = command.positionals ?? []
  // The last positional may name a subcommand path (`veil config show keys show`).
  const max = specs.length === 0 ? 0 : Number.POSITIVE_INFINITY
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument '${positionals[0]}' for '${name}' (see '${name} --help')`)
  }
  const required = specs.filter(p => p.optional !== true).length
  if (positionals.length < required) {
    throw new UsageError(`'${name}' needs ${specs.slice(positionals.length).map(p => p.name.toUpperCase()).join(' ')} (see '${name} --help')`)
  }
  if (passthrough !== undefined && command.passthrough !== true) {
    throw new UsageError(`'${name}' takes no arguments after '--' (see '${name} --help')`)
  }
}

function absentConfig (dataDir: string): ConfigFileInfo {
  return { path: join(dataDir, CONFIG_FILE_NAME), present: false, values: new Map<string, FlagValue>() }
}

async function readConfig (dataDir: string, commands: readonly Command[]): Promise<ConfigFileInfo> {
  const path = join(dataDir, CONFIG_FILE_NAME)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = errnoCode(err)
    // A missing data dir, or one that is a file, is reported by ensureDataDir.
    if (code === 'ENOENT' || code === 'ENOTDIR') return absentConfig(dataDir)
    throw new UsageError(`cannot read ${path}: ${describeFsError(err)}`)
  }
  return { path, present: true, values: parseConfigFile(text, allFlagSpecs(commands), path) }
}

/** Every flag of every command, globals first: the keys config.json may hold. */
export function allFlagSpecs (commands: readonly Command[]): FlagSpec[] {
  const out: FlagSpec[] = [...GLOBAL_FLAGS]
  const visit = (list: readonly Command[]): void => {
    for (const c of list) {
      out.push(...c.flags)
      visit(c.subcommands ?? [])
    }
  }
  visit(commands)
  return out
}

function openLogger (level: string | undefined, format: string | undefined, file: string | undefined, io: RunIo): ClosableLogger {
  const path = file === undefined || file === '' ? undefined : expandPath(file)
  try {
    return createLogger({
      level: isLogLevel(level) ? level : 'info',
      format: isLogFormat(format) ? format : 'text',
      write: io.stderr,
      file: path,
      stacks: io.env.VEIL_DEBUG_STACK === '1'
    })
  } catch (err) {
    throw new UsageError(`cannot open log file ${path ?? ''}: ${describeFsError(err)}`)
  }
}

/** A context for commands that only print a message and exit (placeholders, groups). */
function placeholderContext (path: readonly string[], io: RunIo): CommandContext {
  const options = resolveOptions({ specs: [], cli: new Map(), env: {}, file: new Map() })
  const noop = (): void => {}
  return {
    commandPath: path,
    options,
    config: absentConfig(''),
    dataDir: '',
    log: { error: noop, warn: noop, info: noop, debug: noop },
    signal: io.signal,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    commands: io.commands
  }
}

function report (err: unknown, stderr: (text: string) => void, debugStack: boolean): number {
  let code: number = EXIT.failed
  let message: string
  if (err instanceof CliError) {
    code = err.exitCode
    message = err.message
  } else if (err instanceof Error && err.name === 'TimeoutError') {
    code = EXIT.network
    message = `timed out: ${err.message}`
  } else {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    message = `internal error: ${detail}${debugStack ? '' : ' (VEIL_DEBUG_STACK=1 shows where)'}`
  }
  stderr(`veil: ${oneLine(message)}\n`)
  if (debugStack && err instanceof Error && err.stack !== undefined) stderr(err.stack + '\n')
  return code
}

interface Interrupts {
  readonly signal: AbortSignal
  interrupted (): boolean
  dispose (): void
}

/** SIGINT/SIGTERM abort the signal; a second one exits at once with 130. */
function listenForInterrupts (): Interrupts {
  const controller = new AbortController()
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.exit(EXIT.interrupted)
    }
    controller.abort(new Error(`interrupted by ${name}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    interrupted: () => controller.signal.aborted,
    dispose: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

function externalInterrupts (signal: AbortSignal): Interrupts {
  return { signal, interrupted: () => signal.aborted, dispose: () => {} }
}

/** Write to a stream, ignoring a closed pipe (`veil --help | head`). */
function writeTo (stream: NodeJS.WriteStream): (text: string) => void {
  if (stream.listenerCount('error') === 0) stream.on('error', () => {})
  return text => {
    try {
      stream.write(text)
    } catch { /* the reader went away */ }
  }
}
