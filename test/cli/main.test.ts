import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { main, type Command, type CommandContext } from '../../src/cli/main.ts'
import { COMMANDS } from '../../src/cli/commands/index.ts'
import { NetworkError, NotFoundError, OperationError } from '../../src/cli/errors.ts'
import { EXIT } from '../../src/cli/exit.ts'
import { LINK_PROTOCOL } from '../../src/cli/versions.ts'
import { capture, lines, tempDir, type TempDir } from './helpers.ts'

let home: TempDir
let env: Record<string, string>
beforeEach(async () => {
  home = await tempDir()
  env = { VEIL_HOME: join(home.path, 'veil') }
})
afterEach(async () => { await home.remove() })

async function veil (argv: string[], extra: { env?: Record<string, string>, commands?: readonly Command[], signal?: AbortSignal } = {}): Promise<{ code: number, out: string, err: string }> {
  const io = capture()
  const code = await main(argv, { stdout: io.stdout, stderr: io.stderr, env: { ...env, ...extra.env }, commands: extra.commands, signal: extra.signal ?? new AbortController().signal })
  return { code, out: io.out.join(''), err: io.err.join('') }
}

describe('veil (in process)', { timeout: 15_000 }, () => {
  it('prints the command map and the exit codes for --help', async () => {
    const r = await veil(['--help'])
    expect(r.code).toBe(0)
    expect(r.err).toBe('')
    for (const name of ['relay', 'testnet', 'status', 'config', 'keys', 'version', 'bridge', 'provide', 'tools', 'call', 'sim']) {
      expect(r.out).toMatch(new RegExp(`^  ${name} +\\S`, 'm'))
    }
    expect(r.out).not.toMatch(/Coming with later releases/)
    for (const code of ['0', '1', '2', '3', '4', '130']) expect(r.out).toMatch(new RegExp(`^  ${code} +\\S`, 'm'))
    expect((await veil(['-h'])).out).toBe(r.out)
  })

  it('exits 2 with one line when no command is given', async () => {
    const r = await veil([])
    expect(r).toEqual({ code: 2, out: '', err: 'veil: no command given (see \'veil --help\')\n' })
  })

  it('prints versions, as text and JSON', async () => {
    const text = await veil(['version'])
    expect(text.code).toBe(0)
    expect(text.out).toMatch(/^veilnet +\d+\.\d+\.\d+/m)
    expect(text.out).toContain(LINK_PROTOCOL)
    const json = await veil(['version', '--json'])
    const parsed: unknown = JSON.parse(json.out)
    expect(parsed).toMatchObject({ linkProtocol: '/veil/link/1.0.0', cellFormat: 1, dataDirFormat: 1 })
    // version does not touch the data dir
    await expect(stat(env.VEIL_HOME)).rejects.toThrow()
  })

  it('shows the effective config with sources', async () => {
    await mkdir(env.VEIL_HOME, { recursive: true, mode: 0o700 })
    await writeFile(join(env.VEIL_HOME, 'config.json'), JSON.stringify({ 'log-level': 'warn', nodes: 3, bootstrap: ['/ip4/10.0.0.1/tcp/4001'] }))
    const r = await veil(['config', 'show', 'relay', '--json', '--log-format', 'json'], { env: { VEIL_BANDWIDTH: '1000' } })
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const shown: unknown = JSON.parse(r.out)
    expect(shown).toMatchObject({
      command: 'veil relay',
      configFile: { path: join(env.VEIL_HOME, 'config.json'), present: true },
      options: {
        'data-dir': { value: env.VEIL_HOME, source: 'env', env: 'VEIL_HOME' },
        'log-level': { value: 'warn', source: 'config' },
        'log-format': { value: 'json', source: 'flag' },
        bootstrap: { value: ['/ip4/10.0.0.1/tcp/4001'], source: 'config' },
        bandwidth: { value: 1000, source: 'env', env: 'VEIL_BANDWIDTH' },
        control: { value: true, source: 'default' }
      }
    })
    const text = await veil(['config', 'show', 'testnet'])
    expect(text.out).toMatch(/^nodes +3 +config$/m)
    expect(text.out).toMatch(/^log-level +warn +config$/m)
  })

  it('shows a subcommand\'s config and refuses an unknown one', async () => {
    expect((await veil(['config', 'show', 'keys', 'show'])).code).toBe(0)
    const r = await veil(['config', 'show', 'nope'])
    expect(r).toMatchObject({ code: 2, err: 'veil: unknown command \'nope\' (see \'veil --help\')\n' })
    expect((await veil(['config', 'show', 'keys'])).code).toBe(2)
  })

  it('prints the config path without creating the data dir', async () => {
    const r = await veil(['config', 'path'])
    expect(r).toEqual({ code: 0, out: join(env.VEIL_HOME, 'config.json') + '\n', err: '' })
    await expect(stat(env.VEIL_HOME)).rejects.toThrow()
  })

  it('asks for a subcommand, and refuses an unknown one', async () => {
    expect(await veil(['keys'])).toMatchObject({ code: 2, err: 'veil: \'veil keys\' needs a command: show, rotate-onion, client-auth (see \'veil keys --help\')\n' })
    expect(await veil(['keys', 'nope'])).toMatchObject({ code: 2, err: 'veil: unknown command \'nope\' for \'veil keys\' (see \'veil keys --help\')\n' })
  })

  it('bridge, provide, tools and call are available: help works, bad input is one line and exit 2', async () => {
    for (const name of ['bridge', 'provide', 'tools', 'call']) expect((await veil([name, '--help'])).code).toBe(0)
    expect(await veil(['bridge'])).toMatchObject({ code: 2, out: '' })
    expect(await veil(['provide', '--stdio'])).toMatchObject({ code: 2, out: '' })
    expect(await veil(['call', 'nope'])).toMatchObject({ code: 2, out: '' })
    expect(await veil(['tools', 'add', 'not-an-address'])).toMatchObject({ code: 2, out: '' })
  })
})

describe('main with test commands', { timeout: 15_000 }, () => {
  let seen: CommandContext | undefined
  const probe = (run: (ctx: CommandContext) => Promise<number>, extra: Partial<Command> = {}): Command[] => [{
    name: 'probe',
    summary: 'test',
    flags: [{ name: 'n', type: 'number', default: 1, description: 'n' }],
    run: async ctx => { seen = ctx; return await run(ctx) },
    ...extra
  }]

  it('maps errors to exit codes with one line', async () => {
    const cases: Array<[unknown, number, string]> = [
      [new OperationError('tool failed'), EXIT.failed, 'veil: tool failed'],
      [new NetworkError('no bootstrap peers: start \'veil testnet\' or set bootstrap in config'), EXIT.network, 'veil: no bootstrap peers: start \'veil testnet\' or set bootstrap in config'],
      [new NotFoundError('no tool "x"'), EXIT.notFound, 'veil: no tool "x"'],
      [new DOMException('the operation timed out', 'TimeoutError'), EXIT.network, 'veil: timed out: the operation timed out'],
      [new TypeError('x is not a function\n    at foo'), EXIT.failed, 'veil: internal error: TypeError: x is not a function at foo (VEIL_DEBUG_STACK=1 shows where)'],
      ['a string', EXIT.failed, 'veil: internal error: a string (VEIL_DEBUG_STACK=1 shows where)']
    ]
    for (const [thrown, code, line] of cases) {
      const r = await veil(['probe'], { commands: probe(async () => { throw thrown }) })
      expect(r.code).toBe(code)
      expect(r.err).toBe(line + '\n')
    }
  })

  it('prints the stack only with VEIL_DEBUG_STACK=1', async () => {
    const r = await veil(['probe'], { env: { VEIL_DEBUG_STACK: '1' }, commands: probe(async () => { throw new Error('bug') }) })
    expect(r.code).toBe(1)
    expect(lines(r.err)[0]).toBe('veil: internal error: Error: bug')
    expect(r.err).toMatch(/\n\s+at /)
  })

  it('returns the command\'s code and gives it a prepared context', async () => {
    const r = await veil(['--log-level', 'debug', 'probe', '--n', '5'], { commands: probe(async ctx => { ctx.log.debug('hello', { secretKey: 'x' }); ctx.stdout('out\n'); return 7 }) })
    expect(r.code).toBe(7)
    expect(r.out).toBe('out\n')
    expect(r.err).toMatch(/^\S+ debug hello secretKey="?\[redacted\]"?\n$/)
    expect(seen?.options.number('n')).toBe(5)
    expect(seen?.commandPath).toEqual(['probe'])
    expect(seen?.dataDir).toBe(env.VEIL_HOME)
    expect((await stat(env.VEIL_HOME)).isDirectory()).toBe(true)
    expect(JSON.parse(await readFile(join(env.VEIL_HOME, 'format.json'), 'utf8'))).toEqual({ format: 1 })
  })

  it('writes logs to --log-file in JSON', async () => {
    const file = join(home.path, 'veil.log')
    const r = await veil(['probe', '--log-file', file, '--log-format=json'], { commands: probe(async ctx => { ctx.log.info('to file'); return 0 }) })
    expect(r).toEqual({ code: 0, out: '', err: '' })
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ level: 'info', msg: 'to file' })
    // a missing directory is created (a relay logs into the data dir it creates) …
    const nested = join(home.path, 'new', 'dir', 'x.log')
    expect((await veil(['probe', '--log-file', nested], { commands: probe(async ctx => { ctx.log.info('x'); return 0 }) })).code).toBe(0)
    expect(await readFile(nested, 'utf8')).toMatch(/x/)
    // … but a path under a regular file cannot be: one line, exit 2
    const bad = await veil(['probe', '--log-file', join(file, 'x.log')], { commands: probe(async () => 0) })
    expect(bad.code).toBe(2)
    expect(lines(bad.err)).toHaveLength(1)
    expect(lines(bad.err)[0]).toMatch(/^veil: cannot open log file .*x\.log: /)
  })

  it('accepts -- only for commands that take it', async () => {
    const ok = await veil(['probe', '--', 'cmd', '--x'], { commands: probe(async ctx => ctx.options.passthrough?.length ?? -1, { passthrough: true }) })
    expect(ok.code).toBe(2)
    expect(seen?.options.passthrough).toEqual(['cmd', '--x'])
    const refused = await veil(['probe', '--', 'cmd'], { commands: probe(async () => 0) })
    expect(refused).toMatchObject({ code: 2, err: 'veil: \'veil probe\' takes no arguments after \'--\' (see \'veil probe --help\')\n' })
  })

  it('returns 130 when interrupted, whatever the command returns or throws', async () => {
    const controller = new AbortController()
    const waiting = veil(['probe'], {
      signal: controller.signal,
      commands: probe(async ctx => await new Promise((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => { reject(new Error('aborted')) }, { once: true })
        setTimeout(() => { resolve(0) }, 10_000)
      }))
    })
    setTimeout(() => { controller.abort() }, 50)
    const r = await waiting
    expect(r.code).toBe(130)
    expect(r.err).toBe('')
  })

  it('reads config.json and the environment for the command', async () => {
    await mkdir(env.VEIL_HOME, { recursive: true, mode: 0o700 })
    await writeFile(join(env.VEIL_HOME, 'config.json'), '{"n": 3}')
    await veil(['probe'], { commands: probe(async () => 0) })
    expect(seen?.options.number('n')).toBe(3)
    expect(seen?.config.present).toBe(true)
    await veil(['probe'], { env: { VEIL_N: '4' }, commands: probe(async () => 0) })
    expect(seen?.options.number('n')).toBe(4)
  })
})

describe('the registry', { timeout: 10_000 }, () => {
  it('has kebab-case, unique flag names and defaults its own checks accept', async () => {
    const { checkValue } = await import('../../src/cli/flags.ts')
    const { GLOBAL_FLAGS } = await import('../../src/cli/globals.ts')
    const visit = (list: readonly Command[]): void => {
      for (const c of list) {
        const names = [...GLOBAL_FLAGS, ...c.flags].map(f => f.name)
        expect(new Set(names).size).toBe(names.length)
        for (const f of c.flags) {
          expect(f.name).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/)
          const d = f.default
          if (d === undefined) continue
          for (const v of Array.isArray(d) ? d : [d]) expect(checkValue(f, v)).toBeUndefined()
        }
        visit(c.subcommands ?? [])
      }
    }
    visit(COMMANDS)
  })
})
