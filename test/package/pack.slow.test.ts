/**
 * The published package works elsewhere: `npm pack` (which runs prepack → build), install
 * the tarball into an empty project, import 'veilnet' and run its `veil --help`, all with
 * the bundled Node 24. Dependencies come from the registry (or npm's cache).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { delimiter, dirname, join } from 'node:path'
import { ROOT, tempDir, type TempDir } from '../cli/helpers.ts'

const NODE = process.execPath
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

interface Run { code: number | null, stdout: string, stderr: string }

/** Run a command with the bundled Node first on PATH and no VEIL_* variables. */
async function run (command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 240_000): Promise<Run> {
  const base: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) base[k] = v
  base.PATH = [dirname(NODE), base.PATH ?? ''].join(delimiter)
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

/** The tarball name and file list from `npm pack --json`, checked without casts. */
function packResult (stdout: string): { filename: string, files: string[] } {
  const parsed: unknown = JSON.parse(stdout.slice(stdout.indexOf('[')))
  if (!Array.isArray(parsed)) throw new Error('npm pack --json: expected an array')
  const first: unknown = parsed[0]
  if (typeof first !== 'object' || first === null || !('filename' in first) || typeof first.filename !== 'string' || !('files' in first) || !Array.isArray(first.files)) {
    throw new Error('npm pack --json: unexpected shape')
  }
  const files = first.files.flatMap((f: unknown) => typeof f === 'object' && f !== null && 'path' in f && typeof f.path === 'string' ? [f.path] : [])
  return { filename: first.filename, files }
}

let tmp: TempDir
beforeAll(async () => { tmp = await tempDir('veil-pack-') })
afterAll(async () => { await tmp.remove() })

describe('the packed package', { timeout: 300_000 }, () => {
  it('installs into another project, imports, and runs veil --help', async () => {
    const packDir = join(tmp.path, 'pack')
    const app = join(tmp.path, 'app')
    const home = join(tmp.path, 'home')
    await mkdir(packDir)
    await mkdir(app)

    const pack = await run('npm', ['pack', '--json', '--pack-destination', packDir], ROOT)
    expect(pack.code, pack.stderr).toBe(0)
    const { filename, files } = packResult(pack.stdout)
    for (const f of ['bin/veil.js', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/cli/main.d.ts']) expect(files).toContain(f)
    expect(files.filter(f => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])

    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'veil-consumer', private: true, type: 'module' }))
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(packDir, filename)], app)
    expect(install.code, install.stderr).toBe(0)

    await writeFile(join(app, 'use.mjs'), [
      'import { main, LINK_PROTOCOL, versions } from \'veilnet\'',
      'console.log(JSON.stringify({ main: typeof main, link: LINK_PROTOCOL, version: versions().package }))'
    ].join('\n'))
    const use = await run(NODE, ['use.mjs'], app, { VEIL_HOME: home })
    expect(use.code, use.stderr).toBe(0)
    expect(JSON.parse(use.stdout)).toEqual({ main: 'function', link: '/veil/link/1.0.0', version: '0.1.0' })

    const help = await run(NODE, [join('node_modules', 'veilnet', 'bin', 'veil.js'), '--help'], app, { VEIL_HOME: home })
    expect(help.code, help.stderr).toBe(0)
    expect(help.stderr).toBe('')
    for (const name of ['relay', 'testnet', 'status', 'config', 'keys', 'version', 'bridge', 'provide', 'tools', 'call', 'sim']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'))
    }
    const bad = await run(NODE, [join('node_modules', 'veilnet', 'bin', 'veil.js'), 'relay', '--foo'], app, { VEIL_HOME: home })
    expect(bad).toMatchObject({ code: 2, stderr: 'veil: unknown flag --foo for \'veil relay\' (see \'veil relay --help\')\n' })

    // The declarations type-check in a consumer (no allowImportingTsExtensions there).
    await writeFile(join(app, 'use.ts'), [
      'import { main, LINK_PROTOCOL, type Logger } from \'veilnet\'',
      'const log: Logger = { error () {}, warn () {}, info () {}, debug () {} }',
      'const code: Promise<number> = main([\'version\'])',
      'export { log, code, LINK_PROTOCOL }'
    ].join('\n'))
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, noEmit: true, skipLibCheck: false, typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'] },
      files: ['use.ts']
    }))
    const tsc = await run(NODE, [TSC, '-p', 'tsconfig.json'], app)
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0)
  })
})
