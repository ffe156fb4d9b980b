/**
 * `veil testnet` and `veil status` as a user runs them: real processes, a temporary
 * VEIL_HOME, OS-chosen ports; Ctrl-C stops everything and removes testnet.json.
 */
import { describe, it, expect } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const VEIL = fileURLToPath(new URL('../../bin/veil.js', import.meta.url))

function veil (home: string, ...args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [VEIL, ...args], { env: { ...process.env, VEIL_HOME: home }, encoding: 'utf8', timeout: 20_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

async function runTestnet (home: string, args: string[], body: () => Promise<void>): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [VEIL, 'testnet', ...args], { env: { ...process.env, VEIL_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
  const deadline = Date.now() + 60_000
  while (!existsSync(join(home, 'testnet.json'))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`testnet did not become ready: ${stderr}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  try { await body() } finally { child.kill('SIGINT') }
  return { code: await exited, stderr }
}

describe('veil testnet / status', { timeout: 90_000 }, () => {
  it('starts, answers status for the network and each relay, and cleans up on Ctrl-C', async () => {
    const home = await mkdtemp(join(tmpdir(), 'veil-cli-testnet-'))
    try {
      let pids: number[] = []
      const r = await runTestnet(home, ['--nodes', '3'], async () => {
        const all = veil(home, 'status', '--json')
        expect(all.code).toBe(0)
        expect(all.stderr.split('\n')[0]).toMatch(/^veil: network: local testnet \(3 relays/)
        const parsed: unknown = JSON.parse(all.stdout)
        const relays: unknown = Reflect.get(parsed as object, 'relays')
        expect(Array.isArray(relays) && relays.length === 3).toBe(true)
        const one = veil(home, 'status', '--node', '1', '--json')
        expect(one.code).toBe(0)
        const st: unknown = JSON.parse(one.stdout)
        expect(Reflect.get(st as object, 'directorySize')).toBe(3)
        expect(String((Reflect.get(st as object, 'addrs') as string[])[0])).toMatch(/^\/ip4\/127\.2\.0\.1\/tcp\/\d+$/)
        expect(JSON.stringify(st)).not.toMatch(/BEGIN|PRIVATE|"secret/i)
        const text = veil(home, 'status', '--node', '0')
        expect(text.stdout).toMatch(/directory\s+3 relays/)
        const missing = veil(home, 'status', '--node', '9')
        expect(missing.code).toBe(4)
        expect(missing.stderr.trim().split('\n').at(-1)).toMatch(/no relay 9/)
        const info: unknown = JSON.parse(spawnSync('cat', [join(home, 'testnet.json')], { encoding: 'utf8' }).stdout)
        pids = (Reflect.get(info as object, 'relays') as Array<{ pid: number }>).map(x => x.pid)
        // a second testnet on the same home is refused with one line
        const again = veil(home, 'testnet', '--nodes', '2')
        expect(again.code).toBe(2)
      })
      expect(r.code).toBe(130)
      expect(r.stderr.split('\n')[0]).toMatch(/^veil: network: new local testnet of 3 relays/)
      expect(r.stderr).toMatch(/ready in [\d.]+ s/)
      expect(existsSync(join(home, 'testnet.json'))).toBe(false)
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
      const none = veil(home, 'status')
      expect(none.code).toBe(3)
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  })

  it('single-address mode puts every relay on 127.0.0.1 and status says the /16 rules are off', async () => {
    const home = await mkdtemp(join(tmpdir(), 'veil-cli-testnet-'))
    try {
      await runTestnet(home, ['--nodes', '2', '--single-address'], async () => {
        const all = veil(home, 'status')
        expect(all.code).toBe(0)
        expect(all.stdout).toMatch(/single address: \/16 path rules OFF/)
        expect(all.stdout.match(/\/ip4\/127\.0\.0\.1\/tcp\/\d+/g)?.length).toBe(2)
      })
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  })

  it('a stale testnet.json is ignored with one line', async () => {
    const home = await mkdtemp(join(tmpdir(), 'veil-cli-testnet-'))
    try {
      const { writeFile } = await import('node:fs/promises')
      await writeFile(join(home, 'testnet.json'), JSON.stringify({ version: 1, pid: 999_999_999, relays: [] }))
      const st = veil(home, 'status')
      expect(st.code).toBe(3)
      expect(st.stderr).toMatch(/ignoring stale/)
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  })
})
