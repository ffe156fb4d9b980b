/** The demo is part of the tests: it must run to the end and leave nothing running. */
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

describe('npm run demo', () => {
  it('runs to the end within 60 s and leaves nothing running', () => {
    const root = fileURLToPath(new URL('..', import.meta.url))
    const r = spawnSync(process.execPath, ['scripts/demo.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, VEIL_DEMO_NODES: '5' } })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/every descriptor signature-checked/)
    expect(r.stdout).not.toMatch(/bug\)/)
    expect(r.stdout).toMatch(/everything stopped/)
    const left = spawnSync('pgrep', ['-f', 'veil-demo-.*relay-'], { encoding: 'utf8' })
    expect(left.stdout.trim()).toBe('')
  }, 90_000)
})
