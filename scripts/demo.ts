/**
 * `npm run demo`: Veil's main job on a local testnet it starts by itself, then stops.
 *
 * 1. a loopback testnet of relay processes (onion circuits + registry storers);
 * 2. a provider in public mode: its own relay, wrapping the MCP server in examples/
 *    (a real stdio process), its catalogue signed and its descriptor published;
 * 3. a bridge on an anonymous consumer node (fresh peer id, entry relays only),
 *    configured with nothing but the provider's address;
 * 4. a real MCP client (SDK v2) lists the bridge's catalogue — read from the signed,
 *    digest-checked catalogue — and calls tools: text, image, structured content,
 *    isError, 1 MB, non-ASCII, progress; each result, its latency, the circuit's hops;
 * 5. what each party saw.
 * Finishes within 60 s and leaves nothing running.
 *
 * `npm run demo -- --log-level debug` (or VEIL_LOG_LEVEL=debug): every process logs at that
 * level — the relays to `relay.log` in their data dirs, the demo's provider and bridge to
 * stderr. By default the relays log at info and the provider and bridge say nothing.
 * VEIL_DEMO_HOME=DIR runs the demo in DIR and keeps it afterwards (logs, keys), instead of
 * a temporary directory that is removed at the end.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/client'
import { InMemoryTransport } from '@modelcontextprotocol/server'
import { startTestnet, type Testnet } from '../src/node/testnet.ts'
import { startOverlayBridge, startOverlayProvider, type RunningOverlayBridge, type RunningOverlayProvider } from '../src/bridge/index.ts'
import { createLogger, isLogLevel, type Logger, type LogLevel } from '../src/cli/log.ts'

const NODES = Number(process.env.VEIL_DEMO_NODES ?? 6)
const EXAMPLE = fileURLToPath(new URL('../examples/tools-server.ts', import.meta.url))
const started = Date.now()
const out = (s: string): void => { process.stdout.write(s + '\n') }
const short = (id: string): string => `…${id.slice(-6)}`
/** --log-level LEVEL / --log-level=LEVEL, else VEIL_LOG_LEVEL; undefined: the quiet default. */
function logLevelSetting (): LogLevel | undefined {
  const i = process.argv.indexOf('--log-level')
  const text = i !== -1 ? process.argv[i + 1] : process.argv.find(a => a.startsWith('--log-level='))?.slice('--log-level='.length) ?? process.env.VEIL_LOG_LEVEL
  if (text === undefined || text === '') return undefined
  if (!isLogLevel(text)) { process.stderr.write('demo: --log-level must be error, warn, info or debug\n'); process.exit(2) }
  return text
}
const logLevel = logLevelSetting()
const logOf = (who: string): Logger | undefined => logLevel === undefined
  ? undefined
  : createLogger({ level: logLevel, format: 'text', write: (line) => { process.stderr.write(`  [${who}] ${line}`) } })
const keptHome = process.env.VEIL_DEMO_HOME === undefined || process.env.VEIL_DEMO_HOME === '' ? undefined : resolve(process.env.VEIL_DEMO_HOME)
if (keptHome !== undefined) await mkdir(keptHome, { recursive: true, mode: 0o700 })
const home = keptHome ?? await mkdtemp(join(tmpdir(), 'veil-demo-'))
let net: Testnet | undefined
let provider: RunningOverlayProvider | undefined
let bridge: RunningOverlayBridge | undefined
let mcp: Client | undefined
const abort = new AbortController()
const onSignal = (): void => { abort.abort() }
process.once('SIGINT', onSignal)
process.once('SIGTERM', onSignal)

type Content = Array<{ type: string, text?: string, data?: string, mimeType?: string }>
const brief = (r: Record<string, unknown>): string => {
  const content = (r.content ?? []) as Content
  const parts = content.map(c => c.type === 'text'
    ? (c.text ?? '').length > 60 ? `text of ${Buffer.byteLength(c.text ?? '')} bytes` : JSON.stringify(c.text)
    : c.type === 'image' ? `image ${c.mimeType ?? ''} (${Buffer.from(c.data ?? '', 'base64').length} bytes)` : c.type)
  const structured = r.structuredContent === undefined ? '' : ` structured ${JSON.stringify(r.structuredContent)}`
  return `${r.isError === true ? 'isError: ' : ''}${parts.join(', ')}${structured}`
}

try {
  out(`Veil demo — a local testnet in ${home}\n`)
  net = await startTestnet({ home, nodes: NODES, signal: abort.signal, logLevel, onProgress: (line) => { process.stderr.write(`  ${line}\n`) } })
  const boots = net.info.relays.map(r => r.addrs[0])
  const indexOf = (id: string): string => { const i = net?.info.relays.findIndex(r => r.peerId === id) ?? -1; return i >= 0 ? `relay ${i}` : 'provider relay' }
  out(`1. ${NODES} relays, each its own process on its own 127.x address, ready in ${(net.readyMs / 1000).toFixed(1)} s:`)
  for (const r of net.info.relays) out(`   relay ${r.index}  ${short(r.peerId)}  ${r.addrs[0].split('/p2p/')[0]}`)

  const tp = Date.now()
  provider = await startOverlayProvider({
    provider: { server: { kind: 'stdio', command: process.execPath, args: [EXAMPLE] } },
    node: { dataDir: join(home, 'provider'), listen: [`/ip4/127.${NODES + 1}.0.1/tcp/0`], bootstrap: boots, testnet: true, control: false, log: logOf('provider') }
  })
  await provider.node.published
  const pst = provider.node.status()
  const providerRelay = provider.node.relay.peerId.toString()
  out(`\n2. A provider in public mode, wrapping examples/tools-server.ts (a stdio MCP server process), up in ${Date.now() - tp} ms:`)
  out(`   address   ${provider.address.slice(0, 24)}…${provider.address.slice(-8)} (108 base32 characters: Ed25519 + ML-DSA-65 key hash)`)
  out(`   relay     ${short(providerRelay)} (its own; the descriptor names it)`)
  out(`   catalogue ${pst.tools} tools, signed with Ed25519 and ML-DSA-65; descriptor published to ${pst.lastPublish?.acknowledged ?? 0}/${pst.lastPublish?.attempted ?? 0} storers (two periods, two replicas)`)

  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  const tb = Date.now()
  bridge = await startOverlayBridge({
    bootstrap: boots,
    testnet: true,
    profile: 'fast',
    providers: [{ address: provider.address, tag: 'ex' }],
    dataDir: join(home, 'bridge'),
    serve: { kind: 'stdio', transport: serverSide },
    ...(logLevel !== undefined && { consumer: { log: logOf('bridge') } })
  })
  mcp = new Client({ name: 'demo-client', version: '1.0.0' })
  await mcp.connect(clientSide)
  let tools = (await mcp.listTools()).tools
  while (!tools.some(t => t.name === 'ex_echo')) {
    if (Date.now() - tb > 30_000) throw new Error(`the bridge never got the catalogue: ${JSON.stringify(bridge.bridge.status().recentErrors)}`)
    await new Promise(resolve => setTimeout(resolve, 100))
    tools = (await mcp.listTools()).tools
  }
  const consumerId = bridge.consumer.client.peerId.toString()
  out(`\n3. A bridge on an anonymous consumer node (fresh peer id ${short(consumerId)}, no listen address, ${bridge.consumer.client.entries.length} entry relays),`)
  out(`   given only the provider's address: catalogue after ${Date.now() - tb} ms — looked up in the registry, every descriptor signature-checked,`)
  out('   the catalogue checked against the descriptor\'s digest and both signatures. An MCP client (SDK v2) lists:')
  out(`   ${tools.map(t => t.name).join(', ')}`)

  const path = bridge.network.pathOf(provider.address) ?? []
  out(`\n4. Calls through one 3-hop circuit: client → ${path.map(h => `${indexOf(h)} ${short(h)}`).join(' → ')} (MCP on stream 'veil-mcp')`)
  const calls: Array<[string, Record<string, unknown>, string]> = [
    ['ex_echo', { text: 'hello, anonymously' }, 'text'],
    ['ex_image', {}, 'image'],
    ['ex_weather', { city: 'Zürich' }, 'structured'],
    ['ex_fail', { reason: 'on purpose' }, 'isError'],
    ['ex_big', {}, '1 MB'],
    ['ex_unicode', {}, 'non-ASCII'],
    ['ex_slow', { steps: 3, delayMs: 20 }, 'progress']
  ]
  for (const [name, args, what] of calls) {
    const progress: string[] = []
    const t = performance.now()
    const r = await mcp.request({ method: 'tools/call', params: { name, arguments: args } }, what === 'progress' ? { onprogress: (p) => { progress.push(`${p.progress}/${p.total ?? '?'}`) } } : {})
    const ms = performance.now() - t
    const shown = brief(r as Record<string, unknown>)
    out(`   ${name.padEnd(11)} ${ms.toFixed(1).padStart(7)} ms  ${what.padEnd(10)} ${shown.length > 110 ? shown.slice(0, 107) + '…' : shown}${progress.length > 0 ? `  (progress ${progress.join(', ')})` : ''}`)
  }

  out('\n5. What each party saw:')
  for (let i = 0; i < net.info.relays.length; i++) {
    const st = await net.status(i)
    const saw = consumerId in st.peersSeen
    const pos = path.indexOf(st.peerId)
    const reg: unknown = st.sections?.registry
    const stored = typeof reg === 'object' && reg !== null ? Number(Reflect.get(reg, 'storesAccepted') ?? 0) : 0
    const role = pos === 0
      ? 'guard: the client\'s throwaway peer id and the middle relay; never the provider'
      : pos === 1 ? 'middle: only its two neighbour relays; not who, not what'
        : saw ? 'an entry relay (served the directory); not on the call circuit' : 'nothing of this client'
    const c: unknown = st.sections?.circuits
    const cells = typeof c === 'object' && c !== null ? Number(Reflect.get(c, 'forwardedOut') ?? 0) + Number(Reflect.get(c, 'forwardedIn') ?? 0) : 0
    const inDht = st.dhtPeersEver.includes(consumerId)
    out(`   relay ${i} ${short(st.peerId)}: ${role}${cells > 0 ? `; ${cells} fixed-size cells forwarded` : ''}${stored > 0 ? `; stored ${stored} encrypted descriptor record(s) under blinded keys — which provider, it cannot tell` : ''}${inDht ? ' — AND ITS DHT RECORDED THE CLIENT (bug)' : ''}`)
  }
  const prs = provider.node.relay.status()
  const providerSawClient = consumerId in prs.peersSeen
  out(`   provider relay ${short(providerRelay)} (last hop): the middle relay as predecessor and the MCP requests — ${providerSawClient ? 'AND THE CLIENT (bug)' : 'never the client\'s peer id'}`)
  const log = provider.provider.invocations()
  out(`   provider's invocation log: ${log.length} entries like ${JSON.stringify(log.at(-1))} — tool, time, duration, outcome, sizes; nothing about the caller`)
  out(`   bridge: the MCP client's requests; the provider only by its address and relay; its own entry relays: ${bridge.consumer.client.entries.map(e => indexOf(e.peerId.toString())).join(', ')}`)
} catch (err) {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = abort.signal.aborted ? 130 : 1
} finally {
  await mcp?.close().catch(() => {})
  await bridge?.close().catch(() => {})
  await provider?.close().catch(() => {})
  await net?.stop()
  if (keptHome === undefined) await rm(home, { recursive: true, force: true })
  out(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s; everything stopped.${keptHome !== undefined ? ` Logs and keys kept in ${home}.` : ''}`)
}
