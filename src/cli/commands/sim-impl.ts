/**
 * `veil sim run|sweep|merge`: parse, then call sim/run.ts. A progress bar with ETA goes
 * to stderr; results are files in --out and one summary line on stdout.
 */
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { CommandContext } from '../command.ts'
import type { ResolvedOptions } from '../config.ts'
import { NotFoundError, UsageError } from '../errors.ts'

interface SimModule {
  runScenario: (input: string, o: { seed?: number, outDir: string, onProgress?: (p: { phase: string, fraction: number }) => void }) => Promise<{ files: string[], facts: { events: number, wall_s: number } }>
  sweepScenario: (input: string, o: { param: string, values: Array<number | string | boolean>, runs?: number, seed?: number, shard?: { i: number, n: number }, outDir: string, onProgress?: (p: { phase: string, fraction: number }) => void }) => Promise<{ files: string[] }>
  mergeShards: (dirs: readonly string[], outDir: string) => Promise<{ files: string[] }>
}

async function loadSim (): Promise<SimModule> {
  const url = new URL('../../../sim/run.ts', import.meta.url)
  if (!existsSync(fileURLToPath(url))) throw new UsageError('the simulator runs from a source checkout of Veil (sim/ is not in the published package)')
  const mod: unknown = await import(url.href)
  if (typeof mod !== 'object' || mod === null || typeof Reflect.get(mod, 'runScenario') !== 'function') throw new UsageError('sim/run.ts does not export runScenario')
  return mod as SimModule
}

async function readScenario (opts: ResolvedOptions): Promise<string> {
  const path = opts.positionals[0]
  if (path === undefined) throw new UsageError('give a scenario file, e.g. sim/scenarios/dht-small.yaml')
  if (opts.positionals.length > 1) throw new UsageError(`one scenario file only (got ${opts.positionals.length})`)
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw new NotFoundError(`cannot read scenario ${path}`)
  }
}

/** A one-line progress bar with ETA, redrawn in place on a TTY, every 10% otherwise. */
function progressBar (ctx: CommandContext): { update: (p: { phase: string, fraction: number }) => void, done: () => void } {
  const tty = process.stderr.isTTY === true
  const start = Date.now()
  let lastTenth = -1
  let lastDraw = 0
  return {
    update: ({ phase, fraction }) => {
      const f = Math.max(0, Math.min(1, fraction))
      const elapsed = (Date.now() - start) / 1000
      const eta = f > 0.01 ? elapsed * (1 - f) / f : NaN
      const width = 24
      const bar = '#'.repeat(Math.round(f * width)).padEnd(width, '.')
      const line = `sim [${bar}] ${(f * 100).toFixed(0).padStart(3)}%  ${phase}  elapsed ${elapsed.toFixed(0)}s  ETA ${Number.isNaN(eta) ? '?' : eta.toFixed(0) + 's'}`
      if (tty) {
        if (Date.now() - lastDraw > 100) { ctx.stderr(`\r\x1b[2K${line}`); lastDraw = Date.now() }
      } else if (Math.floor(f * 10) > lastTenth) {
        lastTenth = Math.floor(f * 10)
        ctx.stderr(line + '\n')
      }
    },
    done: () => { if (tty) ctx.stderr('\r\x1b[2K') }
  }
}

function simError (err: unknown): Error {
  if (err instanceof Error && (err.name === 'ScenarioError' || err.name === 'SimInputError')) return new UsageError(err.message)
  return err instanceof Error ? err : new Error(String(err))
}

export async function runSimRun (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const text = await readScenario(opts)
  const sim = await loadSim()
  const bar = progressBar(ctx)
  const out = opts.string('out') ?? 'sim-out'
  try {
    const r = await sim.runScenario(text, { seed: opts.number('seed'), outDir: out, onProgress: bar.update })
    bar.done()
    ctx.stdout(`wrote ${r.files.length} files to ${out} (${r.facts.events} events in ${r.facts.wall_s.toFixed(1)} s)\n`)
  } catch (err) { bar.done(); throw simError(err) }
  return 0
}

export async function runSimSweep (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  const text = await readScenario(opts)
  const spec = opts.string('param')
  if (spec === undefined) throw new UsageError('--param PATH=V1,V2,… is required')
  const eq = spec.indexOf('=')
  if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--param must look like PATH=V1,V2,… (got "${spec}")`)
  const values = spec.slice(eq + 1).split(',').map(v => v.trim()).map(v => v === 'true' ? true : v === 'false' ? false : v !== '' && !Number.isNaN(Number(v)) ? Number(v) : v)
  let shard: { i: number, n: number } | undefined
  const sh = opts.string('shard')
  if (sh !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(sh)
    if (m === null || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) throw new UsageError(`--shard must be I/N with 1 ≤ I ≤ N (got "${sh}")`)
    shard = { i: Number(m[1]), n: Number(m[2]) }
  }
  const sim = await loadSim()
  const bar = progressBar(ctx)
  const out = opts.string('out') ?? 'sim-out'
  try {
    const r = await sim.sweepScenario(text, { param: spec.slice(0, eq), values, runs: opts.number('runs'), seed: opts.number('seed'), shard, outDir: out, onProgress: bar.update })
    bar.done()
    ctx.stdout(`wrote ${r.files.length} files to ${out}\n`)
  } catch (err) { bar.done(); throw simError(err) }
  return 0
}

export async function runSimMerge (opts: ResolvedOptions, ctx: CommandContext): Promise<number> {
  if (opts.positionals.length === 0) throw new UsageError('give the shard directories to merge')
  const sim = await loadSim()
  const out = opts.string('out') ?? 'sim-out'
  try {
    const r = await sim.mergeShards(opts.positionals, out)
    ctx.stdout(`wrote ${r.files.length} files to ${out}\n`)
  } catch (err) { throw simError(err) }
  return 0
}
