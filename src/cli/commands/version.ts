import type { Command } from '../command.ts'
import { versions } from '../versions.ts'
import { JSON_FLAG } from './shared.ts'

export const versionCommand: Command = {
  name: 'version',
  summary: 'print the package, link-protocol, cell-format and data-dir-format versions',
  dataDir: 'none',
  flags: [JSON_FLAG],
  run: async ctx => {
    const v = versions()
    if (ctx.options.boolean('json')) {
      ctx.stdout(JSON.stringify(v) + '\n')
      return 0
    }
    const rows: Array<[string, string]> = [
      ['veilnet', v.package],
      ['link protocol', v.linkProtocol],
      ['cell format', String(v.cellFormat)],
      ['data-dir format', String(v.dataDirFormat)],
      ['node', v.node]
    ]
    const width = Math.max(...rows.map(([k]) => k.length))
    ctx.stdout(rows.map(([k, value]) => `${k.padEnd(width)}   ${value}`).join('\n') + '\n')
    return 0
  }
}
