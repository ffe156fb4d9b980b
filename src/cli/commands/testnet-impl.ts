/**
 * `veil testnet`: start N relays on loopback, show progress, report ready, keep them
 * running until Ctrl-C, then stop them all and remove testnet.json.
 */
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { startTestnet, readTestnetFile } from '../../node/testnet.ts'
import { UsageError } from '../errors.ts'
import { nodeErrorToCli, waitForStop } from './node-glue.ts'

export async function runTestnet (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const nodes = opts.number('nodes') ?? 5
  const single = opts.boolean('single-address')
  const basePort = opts.number('base-port') ?? 0
  const existing = await readTestnetFile(ctx.dataDir)
  if (existing.info !== undefined) throw new UsageError(`a testnet is already running from ${ctx.dataDir} (pid ${existing.info.pid}); stop it or use another --data-dir`)
  ctx.stderr(`veil: network: new local testnet of ${nodes} relay${nodes === 1 ? '' : 's'} in ${ctx.dataDir}/testnet\n`)
  const tty = process.stderr.isTTY === true
  let net
  try {
    net = await startTestnet({
      home: ctx.dataDir,
      nodes,
      singleAddress: single,
      basePort,
      logLevel: opts.string('log-level'),
      signal: ctx.signal,
      onProgress: (line, final) => {
        if (tty && !final) ctx.stderr(`\r\x1b[2K${line}`)
        else ctx.stderr(`${tty ? '\r\x1b[2K' : ''}${line}\n`)
      }
    })
  } catch (err) {
    if (ctx.signal.aborted) return 130
    throw nodeErrorToCli(err)
  }
  for (const r of net.info.relays) {
    ctx.stdout(`relay ${r.index}  ${r.peerId}  ${r.addrs[0] ?? ''}\n`)
  }
  ctx.stderr('veil: testnet running; Ctrl-C stops it\n')
  await waitForStop([ctx.signal])
  ctx.stderr('veil: stopping testnet\n')
  await net.stop()
  return 0
}
