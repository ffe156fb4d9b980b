import { describe, expect, it } from 'vitest'
import type { Command } from '../../src/cli/command.ts'
import { COMMANDS } from '../../src/cli/commands/index.ts'
import { GLOBAL_FLAGS } from '../../src/cli/globals.ts'
import { commandHelp, defaultText, flagLabel, HELP_WIDTH, rootHelp, wrap } from '../../src/cli/help.ts'

function everyCommand (list: readonly Command[], parent: string[] = []): Array<{ path: string[], command: Command }> {
  return list.flatMap(c => [{ path: [...parent, c.name], command: c }, ...everyCommand(c.subcommands ?? [], [...parent, c.name])])
}

/** Column where the description starts on each table row (rows begin with two spaces and a non-space). */
function descriptionColumns (text: string): Set<number> {
  const cols = new Set<number>()
  for (const line of text.split('\n')) {
    const m = /^ {2}\S.*?\S? {3,}(?=\S)/.exec(line)
    if (m !== null) cols.add(m[0].length)
  }
  return cols
}

describe('help text', { timeout: 10_000 }, () => {
  it('lists every flag of every command with its default', () => {
    for (const { path, command } of everyCommand(COMMANDS)) {
      const text = commandHelp(path, command)
      expect(text.startsWith(`Usage: veil ${path.join(' ')} `)).toBe(true)
      for (const spec of [...command.flags, ...GLOBAL_FLAGS]) {
        const row = text.split('\n').findIndex(l => l.startsWith(`  ${flagLabel(spec)} `))
        expect(row, `${path.join(' ')}: ${spec.name}`).toBeGreaterThan(0)
        // the default may have wrapped onto the next line
        const joined = text.split('\n').slice(row, row + 4).map(l => l.trim()).join(' ')
        expect(joined).toContain(`default: ${defaultText(spec)}`)
      }
      expect(text).toMatch(/-h, --help/)
    }
  })

  it('shows the relay defaults the issue names', () => {
    const relay = COMMANDS.find(c => c.name === 'relay')
    if (relay === undefined) throw new Error('no relay command')
    const text = commandHelp(['relay'], relay).replace(/\n +/g, ' ')
    expect(text).toContain('default: /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/tcp/4002/ws')
    expect(text).toContain('--onion-key-rotation-hours HOURS')
    expect(text).toContain('--[no-]control')
  })

  it('is aligned and fits the width', () => {
    const texts = [rootHelp(COMMANDS, '0.0.0'), ...everyCommand(COMMANDS).map(({ path, command }) => commandHelp(path, command))]
    for (const text of texts) {
      expect(descriptionColumns(text).size).toBe(1)
      for (const line of text.split('\n')) {
        if (line.length > HELP_WIDTH) expect(line.trim()).not.toContain(' ') // only an unbreakable word may overflow
        expect(line).toBe(line.trimEnd())
      }
    }
  })

  it('wraps words greedily', () => {
    expect(wrap('a bb ccc dddd', 6)).toEqual(['a bb', 'ccc', 'dddd'])
    expect(wrap('averyveryverylongword x', 5)).toEqual(['averyveryverylongword', 'x'])
    expect(wrap('', 5)).toEqual([])
  })
})
