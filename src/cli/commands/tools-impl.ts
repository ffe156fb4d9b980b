/**
 * `veil tools list | add | remove | accept | search`: the bridge's providers live in
 * config.json (`provider`: ["ADDRESS" or "ADDRESS=TAG", …]); consent in bridge/pins.json.
 * Only these commands — typed by the user in a shell — accept a tool; no MCP tool can.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { CONFIG_FILE_NAME } from '../config.ts'
import { NotFoundError, UsageError } from '../errors.ts'
import { writeFileAtomic } from '../../overlay/index.ts'
import { acceptTool, loadCatalogue, loadPins, BridgeUsageError } from '../../bridge/index.ts'
import { providerTag } from '../../bridge/naming.ts'
import { connect, type VeilClient } from '../../bridge/index.ts'
import { NetworkError } from '../errors.ts'
import { announceNetwork, chooseNetwork, checkProviderRef, overlayErrorToCli, parseProviderRef } from './bridge-flags.ts'

async function readConfigObject (path: string): Promise<Record<string, unknown>> {
  let text: string
  try { text = await readFile(path, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  const parsed: unknown = JSON.parse(text) // main already checked it parses
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? { ...parsed } : {}
}

function configuredProviders (cfg: Record<string, unknown>): string[] {
  const p = cfg.provider
  return typeof p === 'string' ? [p] : Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : []
}

export async function runToolsList (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const cfg = await readConfigObject(join(ctx.dataDir, CONFIG_FILE_NAME))
  const providers = configuredProviders(cfg).map(parseProviderRef)
  const cache = loadCatalogue(ctx.dataDir)
  const pins = loadPins(ctx.dataDir)
  const nameOf = new Map(Object.entries(cache.names))
  const rows = providers.map(p => {
    const tag = providerTag(p.address, p.tag)
    const cached = cache.providers[p.address]
    const tools = (cached?.tools ?? []).flatMap((t): Array<{ name: string, exposed?: string, state: string }> => {
      if (typeof t !== 'object' || t === null) return []
      const name: unknown = Reflect.get(t, 'name')
      if (typeof name !== 'string') return []
      const ref = `${p.address}/${name}`
      return [{ name, exposed: nameOf.get(ref), state: pins.get(ref)?.state ?? 'new' }]
    })
    return { address: p.address, tag, fetchedAt: cached?.fetchedAt, tools }
  })
  if (opts.boolean('json')) {
    ctx.stdout(JSON.stringify({ providers: rows }, null, 2) + '\n')
    return 0
  }
  if (rows.length === 0) {
    ctx.stdout('no providers: add one with \'veil tools add ADDRESS\'\n')
    return 0
  }
  const lines: string[] = []
  for (const r of rows) {
    lines.push(`${r.tag}  ${r.address}${r.fetchedAt === undefined || r.fetchedAt === '' ? '  (catalogue not fetched yet: run the bridge)' : `  (catalogue of ${r.fetchedAt})`}`)
    for (const t of r.tools) lines.push(`  ${(t.exposed ?? '-').padEnd(32)} ${t.name}  ${t.state}`)
  }
  ctx.stdout(lines.join('\n') + '\n')
  return 0
}

export async function runToolsAdd (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const address = opts.positionals[0]
  const tag = opts.string('tag')
  const ref = tag === undefined ? address : `${address}=${tag}`
  const problem = checkProviderRef(ref)
  if (problem !== undefined) throw new UsageError(`veil tools add: ${problem}`)
  const parsed = parseProviderRef(ref)
  const path = join(ctx.dataDir, CONFIG_FILE_NAME)
  const cfg = await readConfigObject(path)
  const existing = configuredProviders(cfg).filter(p => parseProviderRef(p).address !== parsed.address)
  const effectiveTag = providerTag(parsed.address, parsed.tag)
  if (existing.some(p => { const q = parseProviderRef(p); return providerTag(q.address, q.tag) === effectiveTag })) {
    throw new UsageError(`the tag ${effectiveTag} is already used by another provider; choose one with --tag`)
  }
  cfg.provider = [...existing, tag === undefined ? parsed.address : `${parsed.address}=${tag}`]
  await writeFileAtomic(path, JSON.stringify(cfg, null, 2) + '\n', 0o600)
  ctx.stdout(`added provider ${effectiveTag} (${parsed.address}); a running bridge picks it up when restarted\n`)
  return 0
}

export async function runToolsRemove (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const which = opts.positionals[0]
  const path = join(ctx.dataDir, CONFIG_FILE_NAME)
  const cfg = await readConfigObject(path)
  const all = configuredProviders(cfg)
  const keep = all.filter(p => {
    const q = parseProviderRef(p)
    return q.address !== which.toLowerCase() && providerTag(q.address, q.tag) !== which
  })
  if (keep.length === all.length) throw new NotFoundError(`no provider with tag or address ${JSON.stringify(which.slice(0, 120))} in ${path}`)
  cfg.provider = keep
  await writeFileAtomic(path, JSON.stringify(cfg, null, 2) + '\n', 0o600)
  ctx.stdout(`removed ${all.length - keep.length} provider${all.length - keep.length === 1 ? '' : 's'}\n`)
  return 0
}

export async function runToolsAccept (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const name = opts.positionals[0]
  try {
    const { ref, fingerprint } = acceptTool(ctx.dataDir, name)
    ctx.stdout(`accepted ${ref} (fingerprint ${fingerprint}); a running bridge makes it callable within a second\n`)
    return 0
  } catch (err) {
    if (err instanceof BridgeUsageError) throw new NotFoundError(err.message)
    throw err
  }
}

/**
 * `veil tools search WORDS…`: keyword search in the registry's index, through circuits.
 * stdout: one line per tool (address/tool@version and its one-line description), or with
 * --json one JSON array; exit 4 when nothing is found.
 */
export async function runToolsSearch (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const words = opts.positionals.join(' ').trim()
  if (words === '') throw new UsageError('give at least one keyword, e.g. veil tools search weather')
  const choice = await chooseNetwork(opts, ctx)
  announceNetwork(ctx, choice)
  const seconds = opts.number('timeout') ?? 50
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(seconds * 1000)])
  let veil: VeilClient | undefined
  try {
    veil = await connect({ bootstrap: choice.peers, testnet: choice.isTestnet, home: ctx.dataDir })
    const hits = await veil.searchTools(words, { signal })
    if (opts.boolean('json')) ctx.stdout(JSON.stringify(hits) + '\n')
    else for (const h of hits) ctx.stdout(`${h.address}/${h.name}${h.version !== undefined ? `@${h.version}` : ''}${h.description !== undefined ? `  ${h.description.split('\n')[0].slice(0, 100)}` : ''}\n`)
    if (hits.length === 0) throw new NotFoundError(`no listed tool found for ${JSON.stringify(words.slice(0, 120))}`)
    ctx.stderr(`${hits.length} tool${hits.length === 1 ? '' : 's'} found; add a provider with 'veil tools add ADDRESS'\n`)
    return 0
  } catch (err) {
    if (err instanceof NotFoundError) throw err
    if (signal.aborted && !ctx.signal.aborted) throw new NetworkError(`no answer within ${seconds} s`)
    throw overlayErrorToCli(err, ctx.signal)
  } finally {
    await veil?.close()
  }
}
