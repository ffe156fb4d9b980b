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

const clientAuth: Command = {
  name: 'client-auth',
  summary: 'print this data dir\'s client authorisation key (its public half), creating it on first use',
  details: 'Give the printed line to a provider\'s operator: `veil provide --authorized-client LINE`\n' +
    'lets this data dir\'s bridge, `veil call` and connect() see and call that provider\'s\n' +
    'private tools. The private half stays in client-auth.key (0600). Providers that compare\n' +
    'the keys they were given can tell it is the same client: use one data dir per identity.',
  dataDir: 'create',
  flags: [],
  run: async ctx => (await import('./keys-impl.ts')).runKeysClientAuth(ctx.options, ctx)
}

export const keysCommand: Command = {
  name: 'keys',
  summary: 'show public keys; rotate the onion key; the client authorisation key',
  dataDir: 'none',
  flags: [],
  subcommands: [show, rotateOnion, clientAuth],
  run: groupRun(['keys'], [show, rotateOnion, clientAuth])
}
