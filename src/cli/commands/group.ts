import { displayName, type Command, type CommandContext } from '../command.ts'
import { UsageError } from '../errors.ts'

/** `run` of a command that only groups subcommands: asks for one. */
export function groupRun (path: readonly string[], subcommands: readonly Command[]): (ctx: CommandContext) => Promise<number> {
  return async () => {
    const name = displayName(path)
    throw new UsageError(`'${name}' needs a command: ${subcommands.map(c => c.name).join(', ')} (see '${name} --help')`)
  }
}
