/**
 * `veil keys show` prints public keys only (peer id, onion public keys with windows);
 * `veil keys rotate-onion` starts a new onion key — through the running relay's control
 * endpoint when one runs on this data dir, otherwise on disk.
 */
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadClientAuth } from '../../node/consumer-node.ts'
import { formatAuthorizedClient } from '../../registry/client-auth.ts'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { IDENTITY_FILE, loadOrCreateIdentity, OnionKeyStore, systemClock } from '../../overlay/index.ts'
import { controlRequest } from '../../node/control.ts'
import { CONTROL_SOCKET } from '../../node/relay.ts'
import { NotFoundError, UsageError } from '../errors.ts'
import { nodeErrorToCli } from './node-glue.ts'

export async function runKeysShow (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  if (!existsSync(join(ctx.dataDir, IDENTITY_FILE))) throw new NotFoundError(`no relay identity in ${ctx.dataDir} (it is created by 'veil relay')`)
  let out
  try {
    const key = await loadOrCreateIdentity(ctx.dataDir)
    const store = new OnionKeyStore({ dir: ctx.dataDir, clock: systemClock })
    await store.loadReadOnly()
    out = {
      peerId: peerIdFromPrivateKey(key).toString(),
      onionKeys: store.all().map(k => ({ publicKey: Buffer.from(k.publicKey).toString('base64url'), validFrom: new Date(k.validFrom).toISOString(), validUntil: new Date(k.validUntil).toISOString() }))
    }
  } catch (err) { throw nodeErrorToCli(err) }
  if (opts.boolean('json')) ctx.stdout(JSON.stringify(out, null, 2) + '\n')
  else {
    ctx.stdout(`peer id     ${out.peerId}\n`)
    for (const k of out.onionKeys) ctx.stdout(`onion key   ${k.publicKey}  valid ${k.validFrom} → ${k.validUntil}\n`)
  }
  return 0
}

export async function runKeysRotateOnion (_opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const control = join(ctx.dataDir, CONTROL_SOCKET)
  if (existsSync(control)) {
    try {
      await controlRequest(control, 'POST', '/rotate-onion')
    } catch (err) {
      throw new UsageError(`the relay running on ${ctx.dataDir} did not rotate its onion key (${err instanceof Error ? err.message : String(err)})`)
    }
    ctx.stdout('rotated: the running relay has a new onion key and republished its descriptor\n')
    return 0
  }
  if (!existsSync(join(ctx.dataDir, IDENTITY_FILE))) throw new NotFoundError(`no relay identity in ${ctx.dataDir} (it is created by 'veil relay')`)
  try {
    const store = new OnionKeyStore({ dir: ctx.dataDir, clock: systemClock })
    await store.load()
    await store.rotateNow()
  } catch (err) { throw nodeErrorToCli(err) }
  ctx.stdout('rotated: a new onion key is on disk; the relay publishes it when it next starts\n')
  return 0
}

export async function runKeysClientAuth (_opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const auth = await loadClientAuth(ctx.dataDir, { create: true })
  if (auth === undefined) throw new Error('client auth key not created')
  ctx.stdout(formatAuthorizedClient(auth.authorized) + '\n')
  return 0
}
