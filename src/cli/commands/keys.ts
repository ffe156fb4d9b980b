import type { Command } from '../command.ts'
import { groupRun } from './group.ts'
import { JSON_FLAG } from './shared.ts'

const show: Command = {
  name: 'show',
  summary: 'print the public identity and onion keys of this data dir (never private keys)',
  dataDir: 'read',
  flags: [JSON_FLAG],
  run: async ctx => (await import('./keys-impl.ts')).runKeysShow(ctx.options, ctx)
}

const rotateOnion: Command = {
  name: 'rotate-onion',
  summary: 'start a new onion key now; the previous one stays valid for the overlap window',
  dataDir: 'create',
  flags: [],
  run: async ctx => (await import('./keys-impl.ts')).runKeysRotateOnion(ctx.options, ctx)
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'show public keys; rotate the onion key',
  dataDir: 'none',
  flags: [],
  subcommands: [show, rotateOnion],
  run: groupRun(['keys'], [show, rotateOnion])
}
