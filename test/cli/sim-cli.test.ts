/** `veil sim` as a user runs it: files written, the same seed gives the same bytes, bad scenarios name the field. */
import { describe, it, expect } from 'vitest'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runVeil, tempDir } from './helpers.ts'

const tiny = fileURLToPath(new URL('fixtures/paths-tiny.yaml', import.meta.url))

describe('veil sim', { timeout: 60_000 }, () => {
  it('run writes summary, tables, plots and run.json; the same seed gives identical summaries', async () => {
    const t = await tempDir()
    try {
      const a = await runVeil(['sim', 'run', tiny, '--out', join(t.path, 'a')], {})
      expect(a.code, a.stderr).toBe(0)
      expect(a.stdout).toMatch(/^wrote \d+ files to /)
      const b = await runVeil(['sim', 'run', tiny, '--out', join(t.path, 'b')], {})
      expect(b.code).toBe(0)
      const sa = await readFile(join(t.path, 'a', 'summary.json'))
      expect(sa.equals(await readFile(join(t.path, 'b', 'summary.json')))).toBe(true)
      const facts: unknown = JSON.parse(await readFile(join(t.path, 'a', 'run.json'), 'utf8'))
      expect(typeof Reflect.get(facts as object, 'events')).toBe('number')
    } finally { await t.remove() }
  })

  it('a bad scenario exits 2 naming the field; a missing file exits 4', async () => {
    const t = await tempDir()
    try {
      const bad = join(t.path, 'bad.yaml')
      await writeFile(bad, 'name: x\nmodes: [paths]\npaths:\n  relays: -3\n')
      const r = await runVeil(['sim', 'run', bad, '--out', join(t.path, 'o')], {})
      expect(r.code).toBe(2)
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/paths\.relays/)
      const m = await runVeil(['sim', 'run', join(t.path, 'missing.yaml')], {})
      expect(m.code).toBe(4)
      const s = await runVeil(['sim', 'sweep', tiny, '--param', 'paths.adversary.fraction=0.1', '--shard', '3/2', '--out', join(t.path, 's')], {})
      expect(s.code).toBe(2)
    } finally { await t.remove() }
  })
})
