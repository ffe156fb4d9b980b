/**
 * Helpers for CLI tests: a temporary VEIL_HOME and a way to run `node bin/veil.js`.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = join(ROOT, 'bin', 'veil.js')

export interface TempDir {
  readonly path: string
  remove (): Promise<void>
}

export async function tempDir (prefix = 'veil-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: async () => { await rm(path, { recursive: true, force: true }) } }
}

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run `veil ARGS` with the bundled Node (process.execPath) and a clean VEIL_* environment. */
export async function runVeil (args: readonly string[], env: Record<string, string>, timeoutMs = 20_000): Promise<RunResult> {
  const base: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('VEIL_')) base[k] = v
  }
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

/** Non-empty lines of a text. */
export function lines (text: string): string[] {
  return text.split('\n').filter(l => l !== '')
}

/** Collects what main writes. */
export function capture (): { out: string[], err: string[], stdout: (t: string) => void, stderr: (t: string) => void } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, stdout: t => { out.push(t) }, stderr: t => { err.push(t) } }
}
