/**
 * The data directory (`~/.veil`, `--data-dir` or `VEIL_HOME`): created 0700, stamped
 * with `format.json` ({"format": 1}).
 *
 * - A newer format than this Veil knows is refused with one line (exit 2): an old Veil
 *   must not rewrite a layout it does not understand.
 * - An older format is migrated one step at a time through `MIGRATIONS`, after the whole
 *   directory has been copied to `<dir>.backup-<timestamp>`.
 * - A path that is not a directory, or that cannot be read or written, is bad input.
 *
 * Key files are written with `writeFileAtomic` (temp file in the same directory, fsync,
 * rename, fsync of the directory), so a crash leaves the old file or the new one.
 *
 * Not in this module: what lives inside the directory (keys, datastore) — see src/overlay.
 */
import { constants, type Stats } from 'node:fs'
import { access, cp, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { UsageError } from './errors.ts'
import { writeFileAtomic } from '../overlay/fsutil.ts'
import type { Logger } from './log.ts'
import { DATA_DIR_FORMAT } from './versions.ts'

export const FORMAT_FILE_NAME = 'format.json'
export const DATA_DIR_MODE = 0o700

/** A migration rewrites a data dir from format `from` to `from + 1`. */
export type Migration = (dir: string, log: Logger) => Promise<void>

/** Migrations by source format. Empty until format 2 exists. */
export const MIGRATIONS: ReadonlyMap<number, Migration> = new Map()

export interface EnsureDataDirOptions {
  /** Create the directory if it is missing (default true); if false, a missing dir is left alone. */
  readonly create?: boolean
  readonly log?: Logger
  /** The format this Veil writes (tests pass a higher one to exercise migration). */
  readonly currentFormat?: number
  readonly migrations?: ReadonlyMap<number, Migration>
  readonly now?: () => Date
}

export interface DataDirState {
  readonly path: string
  /** False when `create` was false and the directory does not exist. */
  readonly exists: boolean
  readonly format: number
  /** Set when a migration ran: where the backup went. */
  readonly backup?: string
}

/**
 * Make sure the data dir exists (unless `create` is false), has a format this Veil can
 * use, and is migrated to the current one. Throws UsageError with one line otherwise.
 */
export async function ensureDataDir (dir: string, options: EnsureDataDirOptions = {}): Promise<DataDirState> {
  const current = options.currentFormat ?? DATA_DIR_FORMAT
  const migrations = options.migrations ?? MIGRATIONS
  const create = options.create ?? true

  const info = await statOrUndefined(dir)
  if (info === undefined) {
    if (!create) return { path: dir, exists: false, format: current }
    await fsStep(dir, 'cannot create it', () => mkdir(dir, { recursive: true, mode: DATA_DIR_MODE }))
    await writeFormat(dir, current)
    return { path: dir, exists: true, format: current }
  }
  if (!info.isDirectory()) throw new UsageError(`data dir ${dir} is not a directory`)
  await fsStep(dir, 'cannot read and write it', () => access(dir, constants.R_OK | constants.W_OK | constants.X_OK))
  if ((info.mode & 0o077) !== 0) {
    options.log?.warn('data dir is readable by other users; consider chmod 700', { dir, mode: (info.mode & 0o777).toString(8) })
  }

  const format = await readFormat(dir)
  if (format === undefined) {
    await writeFormat(dir, current)
    return { path: dir, exists: true, format: current }
  }
  if (format > current) {
    throw new UsageError(`data dir ${dir} has format ${format}; this Veil understands up to ${current}: upgrade Veil`)
  }
  if (format === current) return { path: dir, exists: true, format }

  for (let f = format; f < current; f++) {
    if (!migrations.has(f)) throw new UsageError(`data dir ${dir} has format ${format}, which this Veil cannot migrate (no step from ${f})`)
  }
  const backup = await backupDataDir(dir, options.now?.() ?? new Date())
  options.log?.info('data dir backed up before migration', { dir, backup, from: format, to: current })
  for (let f = format; f < current; f++) {
    const step = migrations.get(f)
    if (step === undefined) continue
    try {
      await step(dir, options.log ?? quietLogger)
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err)
      throw new UsageError(`data dir ${dir}: migration from format ${f} failed (${detail}); the backup is in ${backup}`)
    }
    await writeFormat(dir, f + 1)
  }
  return { path: dir, exists: true, format: current, backup }
}

/** Copy the whole directory to `<dir>.backup-<timestamp>` (mode kept). Returns the path. */
export async function backupDataDir (dir: string, when: Date): Promise<string> {
  const stamp = when.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  let target = `${dir}.backup-${stamp}`
  if (await statOrUndefined(target) !== undefined) target += `-${randomBytes(3).toString('hex')}`
  await fsStep(dir, `cannot back it up to ${target}`, () => cp(dir, target, { recursive: true, preserveTimestamps: true, errorOnExist: true, force: false }))
  return target
}

async function readFormat (dir: string): Promise<number | undefined> {
  const file = join(dir, FORMAT_FILE_NAME)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw new UsageError(`cannot read ${file}: ${describeFsError(err)}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError(`${file} is not valid JSON; expected {"format": ${DATA_DIR_FORMAT}}`)
  }
  if (typeof parsed === 'object' && parsed !== null && 'format' in parsed) {
    const format = parsed.format
    if (typeof format === 'number' && Number.isInteger(format) && format >= 1) return format
  }
  throw new UsageError(`${file} has no valid "format" number; expected {"format": ${DATA_DIR_FORMAT}}`)
}

async function writeFormat (dir: string, format: number): Promise<void> {
  const file = join(dir, FORMAT_FILE_NAME)
  await fsStep(dir, 'cannot write to it', () => writeFileAtomic(file, JSON.stringify({ format }) + '\n', 0o600))
}

/** Crash-safe writes live in the overlay (keys use them too). */
export { writeFileAtomic }

async function statOrUndefined (path: string): Promise<Stats | undefined> {
  try {
    return await stat(path)
  } catch (err) {
    const code = errnoCode(err)
    if (code === 'ENOENT') return undefined
    if (code === 'ENOTDIR') throw new UsageError(`data dir ${path} is not a directory (a parent is a file)`)
    throw new UsageError(`data dir ${path}: ${describeFsError(err)}`)
  }
}

async function fsStep (dir: string, what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step()
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`data dir ${dir}: ${what} (${describeFsError(err)})`)
  }
}

export function errnoCode (err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}

export function describeFsError (err: unknown): string {
  const code = errnoCode(err)
  const known: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOTDIR: 'a path component is not a directory',
    EISDIR: 'is a directory',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    ENOENT: 'no such file or directory'
  }
  if (code !== undefined && code in known) return known[code]
  return code ?? (err instanceof Error ? err.message : String(err))
}

const noop = (): void => {}
const quietLogger: Logger = { error: noop, warn: noop, info: noop, debug: noop }
