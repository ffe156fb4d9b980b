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
    expect(r.stdout).toMatch(/A provider in public mode/)
    // the real MCP client listed the bridge's catalogue and every kind of result came back
    expect(r.stdout).toMatch(/ex_echo, ex_fail, ex_image, ex_slow, ex_unicode, ex_weather/)
    expect(r.stdout).toMatch(/ex_echo .* ms {2}text {7}"hello, anonymously"/)
    expect(r.stdout).toMatch(/ex_image .* image image\/png/)
    expect(r.stdout).toMatch(/ex_weather .* structured \{"city":"Zürich"/)
    expect(r.stdout).toMatch(/ex_fail .* isError: "failed on purpose/)
    expect(r.stdout).toMatch(/ex_big .* text of 1048576 bytes/)
    expect(r.stdout).toMatch(/ex_slow .*\(progress 1\/3/)
    expect(r.stdout).toMatch(/client → relay \d …\w+ → relay \d …\w+ → provider relay/)
    expect(r.stdout).toMatch(/never the client's peer id/)
    expect(r.stdout).not.toMatch(/bug\)/)
    expect(r.stdout).toMatch(/everything stopped/)
    const left = spawnSync('pgrep', ['-f', 'veil-demo-.*relay-'], { encoding: 'utf8' })
    expect(left.stdout.trim()).toBe('')
  }, 90_000)
})
