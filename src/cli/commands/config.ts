/**
 * `veil config show [COMMAND...]` and `veil config path`.
 */
import { displayName, type Command, type CommandContext } from '../command.ts'
import { displayValue, resolveOptions } from '../config.ts'
import { UsageError } from '../errors.ts'
import type { FlagValue } from '../flags.ts'
import { GLOBAL_FLAGS } from '../globals.ts'
import { groupRun } from './group.ts'
import { JSON_FLAG } from './shared.ts'

function findCommand (commands: readonly Command[], path: readonly string[]): Command {
  let list = commands
  let found: Command | undefined
  for (const [i, name] of path.entries()) {
    found = list.find(c => c.name === name)
    if (found === undefined) {
      const where = i === 0 ? '' : ` of '${displayName(path.slice(0, i))}'`
      throw new UsageError(`unknown command '${name}'${where} (see 'veil --help')`)
    }
    list = found.subcommands ?? []
  }
  if (found === undefined) throw new UsageError('internal: empty command path')
  return found
}

async function show (ctx: CommandContext): Promise<number> {
  const path = ctx.options.positionals
  const target = path.length === 0 ? undefined : findCommand(ctx.commands, path)
  if (target !== undefined && (target.subcommands?.length ?? 0) > 0) {
    const names = target.subcommands?.map(c => c.name).join(', ') ?? ''
    throw new UsageError(`'${displayName(path)}' has subcommands; name one: ${names}`)
  }
  // Global flags given to this invocation count as flags; the rest from env, file, default.
  const cli = new Map<string, FlagValue>()
  for (const entry of ctx.options.entries()) {
    if (entry.source === 'flag' && entry.value !== undefined && GLOBAL_FLAGS.includes(entry.spec)) cli.set(entry.spec.name, entry.value)
  }
  const options = resolveOptions({
    specs: [...GLOBAL_FLAGS, ...(target?.flags ?? [])],
    cli,
    env: ctx.env,
    file: ctx.config.values
  })
  const command = displayName(path)
  const rows = options.entries().map(entry => ({
    name: entry.spec.name,
    text: entry.spec.name === 'data-dir' ? ctx.dataDir : displayValue(entry.spec, entry.value),
    value: entry.spec.name === 'data-dir' ? ctx.dataDir : (entry.spec.secret === true && entry.value !== undefined ? '[redacted]' : entry.value ?? null),
    source: entry.source,
    env: entry.env
  }))
  if (ctx.options.boolean('json')) {
    const out = {
      command,
      configFile: { path: ctx.config.path, present: ctx.config.present },
      options: Object.fromEntries(rows.map(r => [r.name, { value: r.value, source: r.source, ...(r.env === undefined ? {} : { env: r.env }) }]))
    }
    ctx.stdout(JSON.stringify(out, null, 2) + '\n')
    return 0
  }
  const nameWidth = Math.max(...rows.map(r => r.name.length))
  const valueWidth = Math.max(...rows.map(r => r.text.length))
  const lines = [
    `# effective options of '${command}'${path.length === 0 ? ' (global flags; name a command for its own)' : ''}`,
    `# config file: ${ctx.config.path}${ctx.config.present ? '' : ' (not present)'}`,
    ...rows.map(r => `${r.name.padEnd(nameWidth)}   ${r.text.padEnd(valueWidth)}   ${r.env === undefined ? r.source : `env ${r.env}`}`)
  ]
  ctx.stdout(lines.join('\n') + '\n')
  return 0
}

const showCommand: Command = {
  name: 'show',
  summary: 'print the effective options of a command, where each comes from, secrets redacted',
  dataDir: 'read',
  positionals: [{ name: 'command', description: 'the command to show, e.g. relay or keys show (default: global flags)', optional: true }],
  flags: [JSON_FLAG],
  run: show
}

const pathCommand: Command = {
  name: 'path',
  summary: 'print the path of config.json',
  dataDir: 'none',
  flags: [],
  run: async ctx => {
    ctx.stdout(ctx.config.path + '\n')
    return 0
  }
}

export const configCommand: Command = {
  name: 'config',
  summary: 'show the effective configuration or the path of config.json',
  details: 'config.json is one JSON object in the data dir whose keys are long flag names in\n' +
    'kebab-case, e.g. {"log-level": "debug", "bootstrap": ["/ip4/…/tcp/4001/p2p/12D3KooW…"]}.\n' +
    'Any command\'s flag may appear; each command uses its own. An unknown key or a bad value\n' +
    'stops every command that reads the file (exit 2).',
  dataDir: 'none',
  flags: [],
  subcommands: [showCommand, pathCommand],
  run: groupRun(['config'], [showCommand, pathCommand])
}
