/**
 * The command registry, in the order `veil --help` lists it.
 */
import type { Command } from '../command.ts'
import { comingCommands } from './coming.ts'
import { configCommand } from './config.ts'
import { keysCommand } from './keys.ts'
import { relayCommand } from './relay.ts'
import { statusCommand } from './status.ts'
import { testnetCommand } from './testnet.ts'
import { versionCommand } from './version.ts'
import { simCommand } from './sim.ts'
import { bridgeCommand } from './bridge.ts'
import { provideCommand } from './provide.ts'
import { toolsCommand } from './tools.ts'
import { callCommand } from './call.ts'

export const COMMANDS: readonly Command[] = [
  relayCommand,
  testnetCommand,
  statusCommand,
  configCommand,
  keysCommand,
  versionCommand,
  simCommand,
  bridgeCommand,
  provideCommand,
  toolsCommand,
  callCommand,
  ...comingCommands
]
