/**
 * Build dist/ (JavaScript + .d.ts) from src/ for the published package: Node does not
 * strip types inside node_modules, so what others install must be JavaScript.
 *
 * Runs the project's tsc with a temporary tsconfig that extends tsconfig.json, includes
 * src only and turns emit on (`rewriteRelativeImportExtensions` turns `./x.ts` imports
 * into `./x.js`). `npm pack` runs this as `prepack`. Nothing built is committed.
 *
 *     node scripts/build.ts
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
// In the project root so that `extends`, type roots and node_modules resolve as for tsconfig.json.
const tmpConfig = join(root, `tsconfig.build-${process.pid}.tmp.json`)

async function build (): Promise<number> {
  if (!existsSync(tsc)) {
    process.stderr.write(`build: ${tsc} not found; run 'npm ci' first\n`)
    return 1
  }
  await rm(dist, { recursive: true, force: true })
  const config = {
    extends: './tsconfig.json',
    compilerOptions: {
      noEmit: false,
      outDir: './dist',
      rootDir: './src',
      declaration: true,
      rewriteRelativeImportExtensions: true,
      sourceMap: false
    },
    include: ['src'],
    exclude: []
  }
  await writeFile(tmpConfig, JSON.stringify(config, null, 2) + '\n')
  try {
    const result = spawnSync(process.execPath, [tsc, '-p', tmpConfig], { cwd: root, stdio: 'inherit' })
    if (result.error !== undefined) {
      process.stderr.write(`build: could not run tsc: ${result.error.message}\n`)
      return 1
    }
    if (result.status !== 0) {
      process.stderr.write(`build: tsc failed (exit ${String(result.status ?? result.signal)}); dist/ is incomplete\n`)
      await rm(dist, { recursive: true, force: true })
      return 1
    }
  } finally {
    await rm(tmpConfig, { force: true })
  }
  if (!existsSync(join(dist, 'index.js')) || !existsSync(join(dist, 'cli', 'main.js'))) {
    process.stderr.write('build: dist/index.js or dist/cli/main.js missing after tsc\n')
    return 1
  }
  process.stderr.write(`build: wrote ${dist}\n`)
  return 0
}

process.exitCode = await build()
