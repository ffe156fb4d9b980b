/**
 * Flags and helpers shared by several commands.
 */
import type { FlagSpec } from '../flags.ts'

export const JSON_FLAG: FlagSpec = {
  name: 'json',
  type: 'boolean',
  default: false,
  configurable: false,
  description: 'print JSON instead of text'
}
