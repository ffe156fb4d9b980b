/**
 * Calling a Veil tool from code: the anonymous consumer as a library.
 *
 *   veil testnet &                                               # or any network in config.json
 *   veil provide --stdio -- node examples/tools-server.ts &      # prints ADDRESS
 *   node examples/consumer.ts ADDRESS echo '{"text":"hi"}'
 *
 * In your own project the import is `import { connect } from 'veilnet'`; this file imports
 * the source so that it runs (and is type-checked) from a checkout.
 */
import { connect, ToolNetworkError } from '../src/index.ts'

async function run (address: string, tool: string, args: Record<string, unknown>): Promise<number> {
  // Joins the network named by --bootstrap (option `bootstrap`) or the testnet running
  // from $VEIL_HOME (~/.veil): a throwaway peer id, entry relays only.
  const veil = await connect()
  try {
    process.stderr.write(`${veil.network}\n`)
    // The provider's catalogue, signed by its keys and checked against its descriptor.
    const tools = await veil.listTools(address)
    process.stderr.write(`tools: ${tools.map(t => `${t.name}@${t.version}`).join(', ')}\n`)
    // One circuit per provider; calls reuse it. A tool's own failure is `isError: true`.
    const result = await veil.callTool(address, tool, args, {
      onProgress: (p) => { process.stderr.write(`progress ${p.progress}${p.total !== undefined ? `/${p.total}` : ''}\n`) }
    })
    process.stdout.write(JSON.stringify(result) + '\n')
    process.stderr.write(`circuit: ${(veil.pathTo(address) ?? []).map(id => `…${id.slice(-6)}`).join(' → ')}\n`)
    return result.isError === true ? 1 : 0
  } catch (err) {
    // Network failures are ToolNetworkErrors: `code` says which (unreachable, timeout, unknown-tool, …).
    if (err instanceof ToolNetworkError) { process.stderr.write(`veil: ${err.code}: ${err.message}\n`); return 3 }
    throw err
  } finally {
    await veil.close()
  }
}

if (import.meta.main) {
  const [address, tool = 'echo', json = '{"text":"hello from examples/consumer.ts"}'] = process.argv.slice(2)
  if (address === undefined) {
    process.stderr.write('usage: node examples/consumer.ts ADDRESS [TOOL] [ARGS_JSON]\n')
    process.exitCode = 2
  } else {
    process.exitCode = await run(address, tool, JSON.parse(json) as Record<string, unknown>)
  }
}
