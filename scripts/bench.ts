/**
 * `npm run bench -- NAME` runs bench/NAME.ts with this Node; the bench's last stdout
 * line is one JSON object.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const name = process.argv[2]
const available = readdirSync(new URL('../bench/', import.meta.url)).filter(f => f.endsWith('.ts') && f !== 'common.ts').map(f => f.slice(0, -3))
if (name === undefined || !/^[a-z0-9-]+$/.test(name) || !existsSync(`${root}bench/${name}.ts`)) {
  process.stderr.write(`usage: npm run bench -- NAME   (one of: ${available.join(', ')})\n`)
  process.exit(2)
}
const r = spawnSync(process.execPath, [`${root}bench/${name}.ts`, ...process.argv.slice(3)], { stdio: 'inherit', cwd: root })
process.exit(r.status ?? 1)
