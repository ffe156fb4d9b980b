/**
 * `--help` text: the command map for `veil --help`, and for each command its flags with
 * their defaults. Pure functions of the registry; columns aligned.
 */
import { displayName, type Command } from './command.ts'
import { EXIT_CODE_TABLE } from './exit.ts'
import { envName, type FlagSpec } from './flags.ts'
import { GLOBAL_FLAGS } from './globals.ts'

const INDENT = '  '
const GAP = '   '

/** Help text is wrapped to this many columns. */
export const HELP_WIDTH = 100
const MIN_DESCRIPTION_WIDTH = 30

/** Rows of two columns, the first padded to the widest, the second wrapped and aligned. */
function table (rows: ReadonlyArray<readonly [string, string]>, width?: number): string[] {
  const w = width ?? Math.max(0, ...rows.map(([left]) => left.length))
  const indent = INDENT.length + w + GAP.length
  const room = Math.max(MIN_DESCRIPTION_WIDTH, HELP_WIDTH - indent)
  return rows.flatMap(([left, right]) => {
    const [first, ...more] = wrap(right, room)
    return [
      (INDENT + left.padEnd(w) + GAP + (first ?? '')).trimEnd(),
      ...more.map(line => ' '.repeat(indent) + line)
    ]
  })
}

/** Greedy word wrap; a word longer than the width stays whole on its own line. */
export function wrap (text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(w => w !== '')) {
    if (line === '') line = word
    else if (line.length + 1 + word.length <= width) line += ' ' + word
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== '') lines.push(line)
  return lines
}

function sentence (text: string): string {
  const capital = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(capital) ? capital : capital + '.'
}

export function flagLabel (spec: FlagSpec): string {
  if (spec.type === 'boolean') return spec.default === true ? `--[no-]${spec.name}` : `--${spec.name}`
  const metavar = spec.metavar ?? (spec.type === 'number' ? 'N' : 'VALUE')
  return `--${spec.name} ${metavar}`
}

export function defaultText (spec: FlagSpec): string {
  if (spec.secret === true && spec.default !== undefined) return '[redacted]'
  switch (spec.type) {
    case 'string[]':
      return spec.default === undefined || spec.default.length === 0 ? 'none' : spec.default.join(' and ')
    case 'boolean':
      return spec.default === true ? 'on' : 'off'
    default:
      return spec.default === undefined ? 'none' : String(spec.default)
  }
}

function flagRow (spec: FlagSpec): readonly [string, string] {
  const notes = [
    ...(spec.type === 'string[]' ? ['repeatable'] : []),
    `default: ${defaultText(spec)}`,
    ...(spec.env !== undefined ? [`env ${spec.env}`] : [])
  ]
  return [flagLabel(spec), `${spec.description} (${notes.join('; ')})`]
}

const HELP_ROW: readonly [string, string] = ['-h, --help', 'show this help']

const PRECEDENCE = [
  'Each flag can also be set in $VEIL_HOME/config.json (key = the flag name, kebab-case, e.g.',
  '"log-level") or in the environment (VEIL_ + the name in upper snake case, e.g. VEIL_LOG_LEVEL).',
  'Precedence: flag > environment > config.json > default. See \'veil config show\'.'
]

function usageLine (path: readonly string[], command: Command | undefined): string {
  const parts = [displayName(path)]
  if (command === undefined || (command.subcommands?.length ?? 0) > 0) parts.push('<command>')
  parts.push('[flags]')
  for (const p of command?.positionals ?? []) parts.push(p.optional === true ? `[${p.name.toUpperCase()}]` : p.name.toUpperCase())
  if (command?.passthrough === true) parts.push('[-- ARGS...]')
  return 'Usage: ' + parts.join(' ')
}

/** `veil --help`. */
export function rootHelp (commands: readonly Command[], packageVersion: string): string {
  const available = commands.filter(c => c.available !== false)
  const coming = commands.filter(c => c.available === false)
  const commandRows = commands.map(c => c.name.length)
  const globalRows = [...GLOBAL_FLAGS.map(flagRow), HELP_ROW]
  const width = Math.max(...commandRows, ...globalRows.map(([l]) => l.length))
  const lines = [
    `veil ${packageVersion}: an anonymous onion-routed overlay for MCP tools, on libp2p`,
    '',
    usageLine([], undefined),
    '',
    'Commands:',
    ...table(available.map(c => [c.name, c.summary]), width),
    '',
    ...(coming.length === 0 ? [] : ['Coming with later releases:', ...table(coming.map(c => [c.name, c.summary]), width), '']),
    'Global flags (every command):',
    ...table(globalRows, width),
    '',
    ...PRECEDENCE,
    '',
    'Exit codes:',
    ...table(EXIT_CODE_TABLE.map(({ code, meaning }) => [String(code), meaning]), width),
    '',
    'Run \'veil COMMAND --help\' for the flags of a command.'
  ]
  return lines.join('\n') + '\n'
}

/** `veil CMD [SUB] --help`. */
export function commandHelp (path: readonly string[], command: Command): string {
  const subcommands = command.subcommands ?? []
  const own = command.flags.map(flagRow)
  const globals = [...GLOBAL_FLAGS.map(flagRow), HELP_ROW]
  const positionals = (command.positionals ?? []).map(p => [p.name.toUpperCase(), p.description] as const)
  const width = Math.max(
    ...own.map(([l]) => l.length),
    ...globals.map(([l]) => l.length),
    ...subcommands.map(c => c.name.length),
    ...positionals.map(([l]) => l.length)
  )
  const lines = [usageLine(path, command), '', sentence(command.summary)]
  if (command.details !== undefined) lines.push('', command.details)
  if (command.available === false) lines.push('', 'Not available yet: it comes with a later release.')
  if (subcommands.length > 0) lines.push('', 'Commands:', ...table(subcommands.map(c => [c.name, c.summary]), width))
  if (positionals.length > 0) lines.push('', 'Arguments:', ...table(positionals, width))
  if (own.length > 0) lines.push('', 'Flags:', ...table(own, width))
  lines.push('', 'Global flags:', ...table(globals, width))
  const example = command.flags.find(f => f.env === undefined && f.configurable !== false) ?? GLOBAL_FLAGS[1]
  lines.push('', `Flags can also come from the environment (e.g. ${envName(example)}) or $VEIL_HOME/config.json`,
    `(e.g. "${example.name}"); precedence: flag > environment > config.json > default.`)
  if (subcommands.length > 0) lines.push('', `Run '${displayName(path)} COMMAND --help' for the flags of a command.`)
  return lines.join('\n') + '\n'
}
