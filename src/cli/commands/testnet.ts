import type { Command } from '../command.ts'

export const testnetCommand: Command = {
  name: 'testnet',
  summary: 'start N relays on loopback and wait until their directories are complete',
  details: 'Relay i listens on 127.<i+1>.0.1 so that /16 rules hold as on a real network; the\n' +
    'relays are listed in $VEIL_HOME/testnet.json while they run. Ctrl-C stops them all.',
  dataDir: 'create',
  flags: [
    { name: 'nodes', type: 'number', default: 5, integer: true, min: 1, max: 200, description: 'number of relays' },
    { name: 'single-address', type: 'boolean', default: false, description: 'put every relay on 127.0.0.1 (switches the /16 rules off)' },
    { name: 'base-port', type: 'number', default: 0, integer: true, min: 0, max: 65535, metavar: 'PORT', description: 'first TCP port; 0 lets the OS choose' }
  ],
  run: async ctx => (await import('./testnet-impl.ts')).runTestnet(ctx.options, ctx)
}
