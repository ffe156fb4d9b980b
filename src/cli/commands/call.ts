import type { Command } from '../command.ts'
import { BOOTSTRAP_FLAG, TESTNET_FLAG } from './bridge-flag-specs.ts'

export const callCommand: Command = {
  name: 'call',
  summary: 'call one tool through the overlay; the JSON result on stdout',
  details: 'ADDRESS/TOOL names the provider (by address, or by a tag configured with `veil tools add`)\n' +
    'and the tool. The tool must be in the provider\'s signed catalogue. Prints the result\n' +
    '({content, structuredContent?, isError?}) as one JSON line.\n' +
    'Exit status: 0 ok, 1 the tool returned isError, 2 bad arguments, 3 network, 4 unknown\n' +
    'provider or tool. Works for public and hidden providers.',
  dataDir: 'read',
  positionals: [{ name: 'address/tool', description: 'e.g. kq3…/echo, TAG/echo, or kq3…/echo@^1.0 (a semver range the signed version must satisfy, else exit 4)' }],
  flags: [
    { name: 'args', type: 'string', default: '{}', configurable: false, metavar: 'JSON', description: 'the tool\'s arguments, a JSON object' },
    { name: 'timeout', type: 'number', min: 1, max: 600, default: 50, metavar: 'SECONDS', description: 'give up after this long' },
    { name: 'profile', type: 'string', choices: ['fast', 'balanced', 'paranoid'], default: 'balanced', metavar: 'PROFILE', description: 'privacy profile: fast, balanced or paranoid' },
    BOOTSTRAP_FLAG,
    TESTNET_FLAG
  ],
  run: async ctx => (await import('./call-impl.ts')).runCall(ctx.options, ctx)
}
