import { describe, expect, it } from 'vitest'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDataDir, writeFileAtomic, type Migration } from '../../src/cli/datadir.ts'
import { UsageError } from '../../src/cli/errors.ts'
import { tempDir } from './helpers.ts'

async function usageMessage (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (err instanceof UsageError) return err.message
    throw err
  }
  throw new Error('expected a UsageError')
}

describe('ensureDataDir', { timeout: 10_000 }, () => {
  it('creates the dir 0700 with format.json', async () => {
    const t = await tempDir()
    try {
      const dir = join(t.path, 'a', 'veil')
      const state = await ensureDataDir(dir)
      expect(state).toEqual({ path: dir, exists: true, format: 1 })
      expect((await stat(dir)).mode & 0o777).toBe(0o700)
      expect(JSON.parse(await readFile(join(dir, 'format.json'), 'utf8'))).toEqual({ format: 1 })
      expect((await stat(join(dir, 'format.json'))).mode & 0o777).toBe(0o600)
      expect(await ensureDataDir(dir)).toEqual({ path: dir, exists: true, format: 1 })
    } finally {
      await t.remove()
    }
  })

  it('leaves a missing dir alone when asked not to create it', async () => {
    const t = await tempDir()
    try {
      const dir = join(t.path, 'missing')
      expect((await ensureDataDir(dir, { create: false })).exists).toBe(false)
      await expect(stat(dir)).rejects.toThrow()
    } finally {
      await t.remove()
    }
  })

  it('stamps an existing dir without format.json', async () => {
    const t = await tempDir()
    try {
      await ensureDataDir(t.path)
      expect(JSON.parse(await readFile(join(t.path, 'format.json'), 'utf8'))).toEqual({ format: 1 })
    } finally {
      await t.remove()
    }
  })

  it('refuses a newer format in one line', async () => {
    const t = await tempDir()
    try {
      await writeFile(join(t.path, 'format.json'), '{"format": 2}')
      expect(await usageMessage(ensureDataDir(t.path)))
        .toBe(`data dir ${t.path} has format 2; this Veil understands up to 1: upgrade Veil`)
    } finally {
      await t.remove()
    }
  })

  it('refuses a broken format.json and a path that is a file', async () => {
    const t = await tempDir()
    try {
      await writeFile(join(t.path, 'format.json'), '{"format": "one"}')
      expect(await usageMessage(ensureDataDir(t.path))).toMatch(/format\.json has no valid "format" number/)
      const file = join(t.path, 'file')
      await writeFile(file, 'x')
      expect(await usageMessage(ensureDataDir(file))).toBe(`data dir ${file} is not a directory`)
      expect(await usageMessage(ensureDataDir(join(file, 'sub')))).toMatch(/is not a directory/)
    } finally {
      await t.remove()
    }
  })

  it('migrates an older format after a backup, one step at a time', async () => {
    const t = await tempDir()
    try {
      const dir = join(t.path, 'veil')
      await mkdir(dir, { mode: 0o700 })
      await writeFile(join(dir, 'format.json'), '{"format": 1}')
      await writeFile(join(dir, 'keep.txt'), 'v1 data')
      const steps: number[] = []
      const migrations = new Map<number, Migration>([
        [1, async d => { steps.push(1); await writeFile(join(d, 'keep.txt'), 'v2 data') }],
        [2, async () => { steps.push(2) }]
      ])
      const state = await ensureDataDir(dir, { currentFormat: 3, migrations, now: () => new Date('2026-11-22T02:10:00.123Z') })
      expect(steps).toEqual([1, 2])
      expect(state.format).toBe(3)
      expect(state.backup).toBe(`${dir}.backup-20261122T021000Z`)
      expect(await readFile(join(dir, 'keep.txt'), 'utf8')).toBe('v2 data')
      expect(JSON.parse(await readFile(join(dir, 'format.json'), 'utf8'))).toEqual({ format: 3 })
      expect(await readFile(join(`${dir}.backup-20261122T021000Z`, 'keep.txt'), 'utf8')).toBe('v1 data')
      expect(JSON.parse(await readFile(join(`${dir}.backup-20261122T021000Z`, 'format.json'), 'utf8'))).toEqual({ format: 1 })
    } finally {
      await t.remove()
    }
  })

  it('reports a failed migration with the backup path, keeping the old format', async () => {
    const t = await tempDir()
    try {
      const dir = join(t.path, 'veil')
      await mkdir(dir)
      await writeFile(join(dir, 'format.json'), '{"format": 1}')
      const migrations = new Map<number, Migration>([[1, async () => { throw new Error('disk on fire') }]])
      const message = await usageMessage(ensureDataDir(dir, { currentFormat: 2, migrations }))
      expect(message).toMatch(/migration from format 1 failed \(disk on fire\); the backup is in .*\.backup-/)
      expect(JSON.parse(await readFile(join(dir, 'format.json'), 'utf8'))).toEqual({ format: 1 })
    } finally {
      await t.remove()
    }
  })
})

describe('writeFileAtomic', { timeout: 10_000 }, () => {
  it('writes 0600 by default, replaces atomically and leaves no temp file', async () => {
    const t = await tempDir()
    try {
      const file = join(t.path, 'identity.key')
      await writeFileAtomic(file, new Uint8Array([1, 2, 3]))
      expect(new Uint8Array(await readFile(file))).toEqual(new Uint8Array([1, 2, 3]))
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      await writeFileAtomic(file, 'new', 0o644)
      expect(await readFile(file, 'utf8')).toBe('new')
      expect((await stat(file)).mode & 0o777).toBe(0o644)
      expect(await readdir(t.path)).toEqual(['identity.key'])
    } finally {
      await t.remove()
    }
  })

  it('fails cleanly when the directory is missing', async () => {
    const t = await tempDir()
    try {
      await expect(writeFileAtomic(join(t.path, 'no', 'x'), 'x')).rejects.toThrow(/ENOENT/)
    } finally {
      await t.remove()
    }
  })
})
