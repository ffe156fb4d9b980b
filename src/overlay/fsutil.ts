/**
 * Crash-safe file writes for keys and state: write a temp file in the same directory,
 * fsync it, rename over the target, fsync the directory. A process killed at any point
 * leaves either the old file or the new one, never half of one.
 */
import { open, rename, unlink, mkdir, stat, readdir } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'
import { randomBytes } from 'node:crypto'

export async function writeFileAtomic (path: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', mode)
  try {
    await fh.writeFile(data)
    await fh.chmod(mode)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fsyncDir(dir)
}

async function fsyncDir (dir: string): Promise<void> {
  const dh = await open(dir, 'r')
  try { await dh.sync() } catch { /* some filesystems refuse fsync on directories */ } finally { await dh.close() }
}

/** Overwrite a secret file with zeros (same length), sync, then unlink it. */
export async function wipeFile (path: string): Promise<void> {
  try {
    const st = await stat(path)
    const fh = await open(path, 'r+')
    try {
      await fh.write(new Uint8Array(st.size), 0, st.size, 0)
      await fh.sync()
    } finally { await fh.close() }
  } catch (err: unknown) {
    if (isErrno(err, 'ENOENT')) return
    throw err
  }
  await unlink(path).catch((err: unknown) => { if (!isErrno(err, 'ENOENT')) throw err })
}

/**
 * Remove temp files a killed writer left behind in `dir` (`.<name>.<hex>.tmp`). The
 * target files themselves are always whole: the rename is what publishes them.
 */
export async function removeStaleTempFiles (dir: string): Promise<number> {
  let names: string[]
  try { names = await readdir(dir) } catch (err) {
    if (isErrno(err, 'ENOENT')) return 0
    throw err
  }
  let removed = 0
  for (const n of names) {
    if (/^\..+\.[0-9a-f]{12}\.tmp$/.test(n)) {
      await unlink(join(dir, n)).catch(() => {})
      removed++
    }
  }
  return removed
}

export async function ensureDir (path: string, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode })
}

export function isErrno (err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === code
}
