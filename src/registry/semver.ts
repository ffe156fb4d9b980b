/**
 * A small semantic-versioning subset (semver 2.0.0 precedence) — no new package.
 *
 * Versions: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], numbers without leading zeros.
 * Ranges: exact `1.2.3` (or `=1.2.3`), caret `^1.2.3`, tilde `~1.2.3`, x-ranges
 * `1.x`, `1.2.x`, `1`, `1.2`, `*`/`x`. As npm, a prerelease version satisfies a range only
 * when the range names a prerelease of the same MAJOR.MINOR.PATCH. Caret on 0.x follows
 * npm: `^0.2.3` is `>=0.2.3 <0.3.0`, `^0.0.3` is `>=0.0.3 <0.0.4`.
 * Errors: {@link InvalidSemverError}.
 */
import { InvalidSemverError } from './errors.ts'
import { MAX_VERSION_LEN } from './constants.ts'

export interface SemVer {
  readonly major: number
  readonly minor: number
  readonly patch: number
  readonly prerelease: readonly (string | number)[]
  readonly build: readonly string[]
}

const NUM = '(0|[1-9]\\d*)'
const IDENT = '(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)'
const VERSION_RE = new RegExp(`^${NUM}\\.${NUM}\\.${NUM}(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$`)

function num (s: string): number {
  const n = Number(s)
  if (!Number.isSafeInteger(n)) throw new InvalidSemverError('version number too large')
  return n
}

export function parseSemver (text: string): SemVer {
  if (typeof text !== 'string' || text.length > MAX_VERSION_LEN) throw new InvalidSemverError('version: not a string of ≤ 64 characters')
  const m = VERSION_RE.exec(text)
  if (m === null) throw new InvalidSemverError(`not a semantic version: ${JSON.stringify(text)}`)
  return {
    major: num(m[1]),
    minor: num(m[2]),
    patch: num(m[3]),
    prerelease: m[4] === undefined ? [] : m[4].split('.').map(p => /^\d+$/.test(p) ? num(p) : p),
    build: m[5] === undefined ? [] : m[5].split('.')
  }
}

export function formatSemver (v: SemVer): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease.length > 0 ? '-' + v.prerelease.join('.') : ''}${v.build.length > 0 ? '+' + v.build.join('.') : ''}`
}

/** Precedence (build metadata ignored): negative, zero or positive. */
export function compareSemver (a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major
  if (a.minor !== b.minor) return a.minor - b.minor
  if (a.patch !== b.patch) return a.patch - b.patch
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return b.prerelease.length - a.prerelease.length
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i]
    const y = b.prerelease[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x === y) continue
    if (typeof x === 'number' && typeof y === 'number') return x - y
    if (typeof x === 'number') return -1
    if (typeof y === 'number') return 1
    return x < y ? -1 : 1
  }
  return 0
}

type Bound = { v: SemVer, inclusive: boolean }
export interface SemverRange { readonly min?: Bound, readonly max?: Bound, readonly exact?: SemVer, readonly text: string }

const v3 = (major: number, minor: number, patch: number, prerelease: readonly (string | number)[] = []): SemVer => ({ major, minor, patch, prerelease, build: [] })
const PARTIAL_RE = /^(?:(\*|x|X)|(0|[1-9]\d*)(?:\.(x|X|\*|0|[1-9]\d*)(?:\.(x|X|\*))?)?)$/

/** Parse a range (one comparator: exact, ^, ~, or an x-range). */
export function parseRange (text: string): SemverRange {
  if (typeof text !== 'string' || text.length > MAX_VERSION_LEN) throw new InvalidSemverError('range: not a string of ≤ 64 characters')
  const t = text.trim()
  if (t.startsWith('^') || t.startsWith('~')) {
    const v = parseSemver(t.slice(1))
    const min = { v, inclusive: true }
    let max: SemVer
    if (t[0] === '~') max = v3(v.major, v.minor + 1, 0, [0])
    else if (v.major > 0) max = v3(v.major + 1, 0, 0, [0])
    else if (v.minor > 0) max = v3(0, v.minor + 1, 0, [0])
    else max = v3(0, 0, v.patch + 1, [0])
    return { min, max: { v: max, inclusive: false }, text: t }
  }
  const exactText = t.startsWith('=') ? t.slice(1) : t
  if (VERSION_RE.test(exactText)) return { exact: parseSemver(exactText), text: t }
  const m = PARTIAL_RE.exec(t)
  if (m === null) throw new InvalidSemverError(`not a supported range: ${JSON.stringify(text)}`)
  if (m[1] !== undefined) return { text: t }
  const major = num(m[2])
  const isX = (s: string | undefined): boolean => s === undefined || s === 'x' || s === 'X' || s === '*'
  if (isX(m[3])) return { min: { v: v3(major, 0, 0), inclusive: true }, max: { v: v3(major + 1, 0, 0, [0]), inclusive: false }, text: t }
  const minor = num(m[3])
  return { min: { v: v3(major, minor, 0), inclusive: true }, max: { v: v3(major, minor + 1, 0, [0]), inclusive: false }, text: t }
}

/** Does `version` satisfy `range`? */
export function satisfies (version: SemVer | string, range: SemverRange | string): boolean {
  const v = typeof version === 'string' ? parseSemver(version) : version
  const r = typeof range === 'string' ? parseRange(range) : range
  if (r.exact !== undefined) return compareSemver(v, r.exact) === 0
  if (v.prerelease.length > 0) {
    const base = r.min?.v
    if (base === undefined || base.prerelease.length === 0 || base.major !== v.major || base.minor !== v.minor || base.patch !== v.patch) return false
  }
  if (r.min !== undefined) {
    const c = compareSemver(v, r.min.v)
    if (c < 0 || (c === 0 && !r.min.inclusive)) return false
  }
  if (r.max !== undefined) {
    const c = compareSemver(v, r.max.v)
    if (c > 0 || (c === 0 && !r.max.inclusive)) return false
  }
  return true
}

/** The highest of `versions` satisfying `range`, if any. */
export function maxSatisfying (versions: readonly string[], range: string): string | undefined {
  const r = parseRange(range)
  let best: SemVer | undefined
  let bestText: string | undefined
  for (const t of versions) {
    const v = parseSemver(t)
    if (satisfies(v, r) && (best === undefined || compareSemver(v, best) > 0)) { best = v; bestText = t }
  }
  return bestText
}
