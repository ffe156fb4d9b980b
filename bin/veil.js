#!/usr/bin/env node
// Entry point of the `veil` command. Plain JavaScript on purpose: an older Node
// must be able to parse this file to print a clear message instead of a syntax error.
const major = Number(process.versions.node.split('.')[0])
if (!(major >= 24)) {
  process.stderr.write(`veil: Node.js 24 or newer is required (this is ${process.versions.node}); run it through 'npx veil' or 'npm run veil' in the project, which use the bundled Node 24\n`)
  process.exit(2)
}
const here = new URL('.', import.meta.url)
// From a source checkout run the TypeScript directly; from an installed package run dist/.
const { existsSync } = await import('node:fs')
const dist = new URL('../dist/cli/main.js', here)
const src = new URL('../src/cli/main.ts', here)
const entry = existsSync(dist) && !existsSync(src) ? dist : (existsSync(src) ? src : dist)
const { main } = await import(entry.href)
const code = await main(process.argv.slice(2))
process.exitCode = code
