/**
 * `veil status`: ask a running node through its control endpoint.
 *  - `--node I`: relay I of the running testnet;
 *  - otherwise the node running on this data dir, if any;
 *  - otherwise a summary of the running testnet.
 */
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { controlRequest } from '../../node/control.ts'
import { CONTROL_SOCKET } from '../../node/relay.ts'
import { readTestnetFile, parseStatus } from '../../node/testnet.ts'
import { NetworkError, NotFoundError } from '../errors.ts'
import type { RelayStatus } from '../../node/relay.ts'

export async function runStatus (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const json = opts.boolean('json')
  const index = opts.number('node')
  const { info, stale } = await readTestnetFile(ctx.dataDir)
  if (stale) ctx.stderr(`veil: ignoring stale ${join(ctx.dataDir, 'testnet.json')} (its testnet is not running)\n`)
  if (index !== undefined) {
    if (info === undefined) throw new NotFoundError(`no testnet is running from ${ctx.dataDir}: start 'veil testnet' first`)
    const relay = info.relays[index]
    if (relay === undefined) throw new NotFoundError(`the testnet has relays 0 to ${info.relays.length - 1}; there is no relay ${index}`)
    ctx.stderr(`veil: network: local testnet (${info.relays.length} relays)\n`)
    const st = await ask(relay.control)
    ctx.stdout(json ? JSON.stringify(st, null, 2) + '\n' : formatRelay(st, index))
    return 0
  }
  const own = join(ctx.dataDir, CONTROL_SOCKET)
  if (existsSync(own)) {
    const st = await ask(own)
    ctx.stderr(`veil: network: ${st.testnet ? 'local testnet' : 'the node running on ' + ctx.dataDir}\n`)
    ctx.stdout(json ? JSON.stringify(st, null, 2) + '\n' : formatRelay(st))
    return 0
  }
  if (info !== undefined) {
    ctx.stderr(`veil: network: local testnet (${info.relays.length} relays, pid ${info.pid})\n`)
    const all = await Promise.all(info.relays.map(async r => { try { return await ask(r.control) } catch { return undefined } }))
    if (json) {
      ctx.stdout(JSON.stringify({ network: 'testnet', pid: info.pid, singleAddress: info.singleAddress, relays: all.map((s, i) => s ?? { index: i, error: 'not answering' }) }, null, 2) + '\n')
    } else {
      const lines = [`testnet: ${info.relays.length} relays${info.singleAddress ? ' on 127.0.0.1 (single address: /16 path rules OFF)' : ' on 127.<i+1>.0.1 (/16 path rules on)'}`]
      all.forEach((s, i) => {
        lines.push(s === undefined
          ? `  relay ${i}  not answering`
          : `  relay ${i}  ${s.peerId}  ${s.addrs[0] ?? '-'}  peers ${s.connectedPeers.length}  directory ${s.directorySize}`)
      })
      ctx.stdout(lines.join('\n') + '\n')
    }
    return 0
  }
  throw new NetworkError(`no running node: nothing answers on ${own} and no testnet is running from ${ctx.dataDir}`)
}

async function ask (control: string): Promise<RelayStatus> {
  try {
    return parseStatus(await controlRequest(control, 'GET', '/status'))
  } catch (err) {
    throw new NetworkError(`the node's control endpoint ${control} did not answer (${err instanceof Error ? err.message : String(err)})`)
  }
}

function formatRelay (s: RelayStatus, index?: number): string {
  const keyAges = s.onionKeys.map(k => `${fmtAge(k.ageS)} old, valid ${fmtAge(k.validForS)} more`).join('; ')
  const c = s.counters
  return [
    `${index !== undefined ? `relay ${index}` : 'relay'}  ${s.peerId}`,
    `  addresses      ${s.addrs.join(' ') || '-'}`,
    `  mode           ${s.testnet ? 'testnet' : 'network'}${s.subnetRules ? '' : ' (single address: /16 path rules OFF)'}`,
    `  uptime         ${fmtAge(s.uptimeS)}`,
    `  peers          ${s.connectedPeers.length} connected, ${Object.keys(s.peersSeen).length} seen since start`,
    `  directory      ${s.directorySize} relays`,
    `  onion keys     ${keyAges}`,
    `  links          ${s.links}`,
    ...circuitsLine(s),
    ...limitsLine(s),
    `  counters       descriptors published ${c.descriptorsPublished}, DHT put errors ${c.dhtPutErrors}, directory fetches ${c.dirFetches} (${c.dirFetchErrors} failed), served ${c.dirServed}, rejected ${c.descriptorsRejected}, capped ${c.directoryCapped}, DHT lookups ${c.dhtLookups}`,
    ''
  ].join('\n')
}

function circuitsLine (s: RelayStatus): string[] {
  const c: unknown = s.sections?.circuits
  if (typeof c !== 'object' || c === null) return []
  const n = (k: string): string => { const v: unknown = Reflect.get(c, k); return typeof v === 'number' ? String(v) : '?' }
  return [`  circuits       created ${n('created')}, extended ${n('extended')}, destroyed ${n('destroyed')}, cells forwarded ${n('forwardedOut')} out / ${n('forwardedIn')} in, unrecognised ${n('unrecognised')}, malformed ${n('malformedCells')}`]
}

const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => typeof v === 'object' && v !== null ? Reflect.get(v, k) : undefined, o)
const n = (v: unknown): string => typeof v === 'number' ? String(v) : '?'

/**
 * The resource limits in force and what each refused (sections.circuits.limitSettings and
 * .limits, sections.links, sections.registry .limits and .intro).
 */
function limitsLine (s: RelayStatus): string[] {
  const lim = get(s.sections, 'circuits', 'limits')
  if (typeof lim !== 'object' || lim === null) return []
  const set = get(s.sections, 'circuits', 'limitSettings')
  const reg = get(s.sections, 'registry')
  const rejected = get(reg, 'storesRejected')
  const stores = typeof rejected === 'object' && rejected !== null ? Object.values(rejected).reduce<number>((a, v) => a + (typeof v === 'number' ? v : 0), 0) : undefined
  return [
    `  limits         circuits per peer ${n(get(set, 'maxCircuitsPerLink'))}, circuits ${n(get(set, 'maxCircuits'))}, CREATEs/s ${n(get(set, 'createsPerSecond'))} (per peer ${n(get(set, 'createsPerSecondPerLink'))}), streams per circuit ${n(get(set, 'maxStreamsPerCircuit'))}, link queue ${n(get(s.sections, 'links', 'limits', 'maxQueuedCells'))} cells, stores/s ${n(get(reg, 'limits', 'maxStoresPerSecond'))}, records per namespace ${n(get(reg, 'limits', 'maxRecordsPerNamespace'))}, introductions/s per provider ${n(get(reg, 'intro', 'limits', 'maxIntroductionsPerSecond'))}`,
    `  limits hit     CREATEs/s per link ${n(get(lim, 'createsPerSecondPerLink'))}, CREATEs/s ${n(get(lim, 'createsPerSecond'))}, circuits per link ${n(get(lim, 'circuitsPerLink'))}, circuits ${n(get(lim, 'circuitsTotal'))}, streams per circuit ${n(get(lim, 'streamsPerCircuit'))}, circuit queue full ${n(get(lim, 'queueFull'))}, link cells dropped ${n(get(s.sections, 'links', 'cellsDropped'))}, stores refused ${n(stores)}, records evicted ${n(get(reg, 'evictions'))}, introductions refused ${n(get(reg, 'intro', 'rateLimited'))}`
  ]
}

function fmtAge (s: number): string {
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  return `${(s / 3600).toFixed(1)}h`
}
