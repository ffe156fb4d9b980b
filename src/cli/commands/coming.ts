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

export const comingCommands: readonly Command[] = [
  coming('bridge', 'serve overlay tools to a local MCP client (stdio or HTTP)'),
  coming('provide', 'offer an MCP server\'s tools as a hidden provider'),
  coming('tools', 'list the tools reachable through the overlay'),
  coming('call', 'call one tool through the overlay')
]
