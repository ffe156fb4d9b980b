/**
 * Commands that come with later issues. They appear in `veil --help`; running one
 * prints one line and exits 2.
 */
import { displayName, type Command } from '../command.ts'
import { UsageError } from '../errors.ts'

function coming (name: string, summary: string): Command {
  return {
    name,
    summary,
    available: false,
    dataDir: 'none',
    flags: [],
    run: async () => {
      throw new UsageError(`'${displayName([name])}' is not available yet; it comes with a later release`)
    }
  }
}

/** Nothing is waiting right now: bridge, provide, tools and call are available. */
export const comingCommands: readonly Command[] = []

export { coming }
