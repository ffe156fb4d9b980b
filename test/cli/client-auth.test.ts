/**
 * `veil keys client-auth` and `veil provide --authorized-client`: the key is made once
 * (0600, atomic) and printed as one line; the same line every time; the private half never
 * printed; a malformed --authorized-client exits 2 with one line.
 */
import { describe, it, expect } from 'vitest'
import { statSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runVeil, tempDir } from './helpers.ts'
import { AUTHORIZED_CLIENT_PREFIX, parseAuthorizedClient } from '../../src/registry/client-auth.ts'

describe('client authorisation keys', { timeout: 60_000 }, () => {
  it('veil keys client-auth: made once, printed as one public line, 0600 on disk', async () => {
    const home = await tempDir()
    try {
      const first = await runVeil(['keys', 'client-auth'], { VEIL_HOME: home.path })
      expect(first.code, first.stderr).toBe(0)
      const line = first.stdout.trim()
      expect(line.startsWith(AUTHORIZED_CLIENT_PREFIX)).toBe(true)
      expect(first.stdout.split('\n').filter(l => l !== '')).toHaveLength(1)
      expect(() => parseAuthorizedClient(line)).not.toThrow()
      const file = join(home.path, 'client-auth.key')
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const seed = readFileSync(file)
      for (const enc of ['hex', 'base64', 'base64url'] as const) expect(first.stdout.includes(seed.toString(enc))).toBe(false)
      const again = await runVeil(['keys', 'client-auth'], { VEIL_HOME: home.path })
      expect(again.stdout.trim()).toBe(line)
    } finally { await home.remove() }
  })

  it('a malformed --authorized-client exits 2 with one line', async () => {
    const home = await tempDir()
    try {
      for (const bad of ['nope', `${AUTHORIZED_CLIENT_PREFIX}AAAA`, `${AUTHORIZED_CLIENT_PREFIX}!!`]) {
        const r = await runVeil(['provide', '--authorized-client', bad, '--stdio', '--', process.execPath, '-e', '0'], { VEIL_HOME: home.path })
        expect(r.code, r.stderr).toBe(2)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
        expect(r.stderr).toMatch(/^veil: --authorized-client: /)
      }
    } finally { await home.remove() }
  })
})
