/**
 * Versions a node reports (`veil version`) and records (data dir format).
 */
import { LINK_PROTOCOL } from '../overlay/index.ts'
import { CELL_SIZE } from '../onion/index.ts'

export const LINK_PROTOCOL_VERSION = LINK_PROTOCOL
/** Cell format version: bumps when the cell layout changes (docs/protocol.md). */
export const CELL_FORMAT_VERSION = 1
/** Cell size on links (docs/protocol.md): one hybrid handshake must fit in one cell. */
export const CELL_SIZE_FOR_LINKS = CELL_SIZE
export const DATA_DIR_FORMAT = 1
