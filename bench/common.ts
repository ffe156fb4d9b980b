/**
 * Shared by every benchmark: the facts each JSON line carries, and RSS accounting.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'

export function commit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
  } catch { return 'unknown' }
}

/** Print the final JSON line: the bench's figures plus bench, commit, node, cpus. */
export function report (bench: string, figures: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ bench, ...figures, commit: commit(), node: process.version, cpus: cpus().length }) + '\n')
}

/** Resident set size of a process in MB (Linux /proc), or 0 if it is gone. */
export function rssMb (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) / 1024
  } catch { return 0 }
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[i]
}

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

/** The environment for a spawned veil process: ours without any VEIL_* setting, plus its home. */
export function veilEnv (home: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) out[k] = v
  return { ...out, VEIL_HOME: home }
}

/** The first stdout line of a child (e.g. `veil provide` prints its address), with a time bound. */
export async function firstLine (child: ChildProcess, what: string, ms: number): Promise<string> {
  let out = ''
  let err = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-2000) })
  return await new Promise((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`${what}: no output within ${ms} ms (${err.slice(-300)})`)) }, ms)
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const nl = out.indexOf('\n')
      if (nl !== -1) { clearTimeout(t); resolve(out.slice(0, nl)) }
    })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited (${code}): ${err.slice(-300)}`)) })
  })
}
