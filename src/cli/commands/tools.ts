import type { Command } from '../command.ts'
import { groupRun } from './group.ts'
import { JSON_FLAG } from './shared.ts'
import { BOOTSTRAP_FLAG, TESTNET_FLAG } from './bridge-flag-specs.ts'

const list: Command = {
  name: 'list',
  summary: 'the providers this data dir\'s bridge serves, and their tools as last fetched',
  dataDir: 'read',
  flags: [JSON_FLAG],
  run: async ctx => (await import('./tools-impl.ts')).runToolsList(ctx.options, ctx)
}

const add: Command = {
  name: 'add',
  summary: 'add a provider to this data dir\'s bridge (config.json key `provider`)',
  dataDir: 'create',
  positionals: [{ name: 'address', description: 'the provider address (as `veil provide` printed it)' }],
  flags: [{ name: 'tag', type: 'string', configurable: false, metavar: 'TAG', description: 'short prefix for its tool names (1–8 of [a-z0-9])' }],
  run: async ctx => (await import('./tools-impl.ts')).runToolsAdd(ctx.options, ctx)
}

const remove: Command = {
  name: 'remove',
  summary: 'remove a provider (by tag or address) from this data dir\'s bridge',
  dataDir: 'read',
  positionals: [{ name: 'tag', description: 'the provider\'s tag or address' }],
  flags: [],
  run: async ctx => (await import('./tools-impl.ts')).runToolsRemove(ctx.options, ctx)
}

const accept: Command = {
  name: 'accept',
  summary: 'accept a held or pending tool (by its exposed name): your consent, out of the model\'s reach',
  dataDir: 'read',
  positionals: [{ name: 'name', description: 'the exposed tool name (e.g. ex_echo) or address/tool' }],
  flags: [],
  run: async ctx => (await import('./tools-impl.ts')).runToolsAccept(ctx.options, ctx)
}

const search: Command = {
  name: 'search',
  summary: 'keyword search in the registry\'s index, through circuits; one tool per line',
  details: 'Looks each word up in the keyword index (listed tools only) and keeps the tools whose\n' +
    'provider\'s signed catalogue lists it. Exit status: 0 found, 3 network, 4 nothing found.',
  dataDir: 'read',
  positionals: [{ name: 'words', description: 'keywords (quote several: "weather forecast")' }],
  flags: [
    JSON_FLAG,
    { name: 'timeout', type: 'number', min: 1, max: 600, default: 50, metavar: 'SECONDS', description: 'give up after this long' },
    BOOTSTRAP_FLAG,
    TESTNET_FLAG
  ],
  run: async ctx => (await import('./tools-impl.ts')).runToolsSearch(ctx.options, ctx)
}

const subcommands = [list, add, remove, accept, search]

export const toolsCommand: Command = {
  name: 'tools',
  summary: 'manage the bridge\'s providers and tools: list, add, remove, accept',
  dataDir: 'none',
  flags: [],
  subcommands,
  run: groupRun(['tools'], subcommands)
}
