import type { Command } from '../command.ts'
import { JSON_FLAG } from './shared.ts'

export const statusCommand: Command = {
  name: 'status',
  summary: 'ask a running node for its id, addresses, peers, directory and counters',
  dataDir: 'read',
  flags: [
    { name: 'node', type: 'number', integer: true, min: 0, metavar: 'I', description: 'which relay of the running testnet to ask (from 0)' },
    JSON_FLAG
  ],
  run: async ctx => (await import('./status-impl.ts')).runStatus(ctx.options, ctx)
}
