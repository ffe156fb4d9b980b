/**
 * Each bad-input case, run as a real process (`node bin/veil.js …` with the bundled
 * Node): exit 2, exactly one line on stderr, no stack trace, nothing on stdout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lines, runVeil, tempDir, type TempDir } from './helpers.ts'

let root: TempDir
beforeAll(async () => { root = await tempDir() })
afterAll(async () => { await root.remove() })

let n = 0
/** A fresh VEIL_HOME, optionally with a config.json. */
async function home (config?: string): Promise<string> {
  const dir = join(root.path, `home-${n++}`)
  await mkdir(dir, { mode: 0o700 })
  if (config !== undefined) await writeFile(join(dir, 'config.json'), config)
  return dir
}

async function expectBadInput (args: string[], env: Record<string, string>, message: RegExp): Promise<void> {
  const r = await runVeil(args, env)
  expect(r.code, r.stderr).toBe(2)
  expect(r.stdout).toBe('')
  expect(r.stderr.endsWith('\n')).toBe(true)
  const errLines = lines(r.stderr)
  expect(errLines).toHaveLength(1)
  expect(errLines[0]).toMatch(/^veil: /)
  expect(errLines[0]).toMatch(message)
  expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+/) // no stack frames
}

describe('bad input exits 2 with one line', { timeout: 30_000 }, () => {
  it('unknown flag', async () => {
    await expectBadInput(['relay', '--foo'], { VEIL_HOME: await home() },
      /^veil: unknown flag --foo for 'veil relay' \(see 'veil relay --help'\)$/)
  })

  it('bad --log-level value', async () => {
    await expectBadInput(['relay', '--log-level', 'loud'], { VEIL_HOME: await home() },
      /^veil: invalid value "loud" for --log-level: expected one of error, warn, info, debug/)
  })

  it('bad number', async () => {
    await expectBadInput(['testnet', '--nodes=many'], { VEIL_HOME: await home() }, /invalid value "many" for --nodes: expected a number/)
  })

  it('bad VEIL_* environment value', async () => {
    await expectBadInput(['relay'], { VEIL_HOME: await home(), VEIL_LOG_FORMAT: 'xml' },
      /invalid value "xml" in environment variable VEIL_LOG_FORMAT: expected one of text, json/)
  })

  it('unknown config key', async () => {
    await expectBadInput(['relay'], { VEIL_HOME: await home('{"foo": 1}') }, /config\.json: unknown key "foo"$/)
  })

  it('invalid config value', async () => {
    await expectBadInput(['relay'], { VEIL_HOME: await home('{"log-level": 3}') }, /config\.json: invalid value 3 for key "log-level"/)
  })

  it('malformed config JSON', async () => {
    await expectBadInput(['relay'], { VEIL_HOME: await home('{"log-level": "info",') }, /config\.json: malformed JSON/)
  })

  it('data dir that is a regular file', async () => {
    const file = join(root.path, 'not-a-dir')
    await writeFile(file, 'x')
    await expectBadInput(['relay'], { VEIL_HOME: file }, /^veil: data dir .*not-a-dir is not a directory$/)
  })

  it('data dir under a regular file (cannot be created)', async () => {
    const file = join(root.path, 'file-parent')
    await writeFile(file, 'x')
    await expectBadInput(['relay', '--data-dir', join(file, 'veil')], {}, /^veil: data dir .*file-parent\/veil is not a directory/)
  })

  it('data dir of a newer format', async () => {
    const dir = await home()
    await writeFile(join(dir, 'format.json'), '{"format": 2}')
    await expectBadInput(['relay'], { VEIL_HOME: dir }, /has format 2; this Veil understands up to 1: upgrade Veil$/)
  })

  it('malformed multiaddr for --bootstrap', async () => {
    await expectBadInput(['relay', '--bootstrap', '/ip4/1.2.3/tcp/4001'], { VEIL_HOME: await home() },
      /^veil: invalid value "\/ip4\/1\.2\.3\/tcp\/4001" for --bootstrap: .*expected a multiaddr/)
    await expectBadInput(['relay', '--bootstrap=not-an-address'], { VEIL_HOME: await home() }, /for --bootstrap: .*expected a multiaddr/)
  })

  it('a resource limit out of range or not a whole number (flag, environment, config.json)', async () => {
    await expectBadInput(['relay', '--max-circuits-per-peer', '0'], { VEIL_HOME: await home() },
      /^veil: invalid value "0" for --max-circuits-per-peer: expected at least 1/)
    await expectBadInput(['relay', '--max-introductions-per-second', '2.5'], { VEIL_HOME: await home() },
      /^veil: invalid value "2\.5" for --max-introductions-per-second: expected a whole number/)
    await expectBadInput(['relay', '--creates-per-second', 'lots'], { VEIL_HOME: await home() }, /for --creates-per-second: expected a number/)
    await expectBadInput(['relay'], { VEIL_HOME: await home(), VEIL_MAX_LINK_QUEUE_CELLS: '-5' }, /VEIL_MAX_LINK_QUEUE_CELLS.*expected at least 1/)
    await expectBadInput(['relay'], { VEIL_HOME: await home('{"max-stores-per-second": 0}') }, /config\.json: invalid value 0 for key "max-stores-per-second"/)
    await expectBadInput(['relay', '--max-streams-per-circuit', '70000'], { VEIL_HOME: await home() }, /for --max-streams-per-circuit: expected at most 65535/)
  })

  it('malformed multiaddr in config.json', async () => {
    await expectBadInput(['relay'], { VEIL_HOME: await home('{"listen": ["/ip4/0.0.0.0/tcp/99999"]}') },
      /config\.json: invalid value \["\/ip4\/0\.0\.0\.0\/tcp\/99999"\] for key "listen"/)
  })

  it('port in use', async () => {
    const { createServer } = await import('node:net')
    const server = createServer()
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    try {
      await expectBadInput(['relay', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--no-control'], { VEIL_HOME: await home() },
        /^veil: cannot listen: address already in use/)
    } finally {
      await new Promise(resolve => server.close(resolve))
    }
  })

  it('listen address not on this host', async () => {
    await expectBadInput(['relay', '--listen', '/ip4/192.0.2.1/tcp/0', '--no-control'], { VEIL_HOME: await home() },
      /^veil: cannot listen/)
  })

  it('unknown command and missing command', async () => {
    await expectBadInput(['relya'], { VEIL_HOME: await home() }, /^veil: unknown command 'relya' \(see 'veil --help'\)$/)
    await expectBadInput([], { VEIL_HOME: await home() }, /^veil: no command given/)
  })

  it('provide without a server, and with no network', async () => {
    await expectBadInput(['provide', '--stdio'], { VEIL_HOME: await home() }, /^veil: --stdio needs the server command after --/)
  })
})

describe('the binary', { timeout: 30_000 }, () => {
  it('prints help and versions with exit 0', async () => {
    const help = await runVeil(['--help'], { VEIL_HOME: await home() })
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Commands:\n {2}relay/m)
    const version = await runVeil(['version', '--json'], { VEIL_HOME: await home() })
    expect(version.code).toBe(0)
    expect(JSON.parse(version.stdout)).toMatchObject({ linkProtocol: '/veil/link/1.0.0' })
  })

  it('survives a closed stdout', async () => {
    // `veil --help | head -1` must not print an EPIPE stack.
    const { spawn } = await import('node:child_process')
    const { BIN } = await import('./helpers.ts')
    const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VEIL_HOME: await home() } })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    expect(code).toBe(0)
    expect(stderr).toBe('')
  })
})
