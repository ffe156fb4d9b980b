/**
 * Version numbers Veil reports in `veil version` and checks on the wire and on disk.
 * The protocol constants themselves live in src/node/versions.ts.
 */
import { readFileSync } from 'node:fs'
import { LINK_PROTOCOL_VERSION as LINK_PROTOCOL, CELL_FORMAT_VERSION, DATA_DIR_FORMAT } from '../node/versions.ts'

export { LINK_PROTOCOL, CELL_FORMAT_VERSION, DATA_DIR_FORMAT }

export interface Versions {
  readonly package: string
  readonly linkProtocol: string
  readonly cellFormat: number
  readonly dataDirFormat: number
  readonly node: string
}

/**
 * The package version from package.json (two levels up from both src/cli and dist/cli).
 * Returns 'unknown' rather than failing: a version query must always answer.
 */
export function packageVersion (): string {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    if (typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string') {
      return parsed.version
    }
  } catch { /* fall through */ }
  return 'unknown'
}

export function versions (): Versions {
  return {
    package: packageVersion(),
    linkProtocol: LINK_PROTOCOL,
    cellFormat: CELL_FORMAT_VERSION,
    dataDirFormat: DATA_DIR_FORMAT,
    node: process.versions.node
  }
}
