/**
 * `veil relay`'s resource-limit flags reach the relay: given on the command line, in
 * config.json or in a VEIL_* variable, each shows in `veil status --json` (the sections
 * where it is enforced) and in the text status.
 */
import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { controlRequest } from '../../src/node/control.ts'
import { BIN, ROOT, runVeil, tempDir } from './helpers.ts'

describe('veil relay limit flags', { timeout: 60_000 }, () => {
  it('flags, a config key and an environment variable reach the relay and its status', async () => {
    const home = await tempDir('veil-relay-limits-')
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('VEIL_')) env[k] = v
    try {
      await writeFile(join(home.path, 'config.json'), JSON.stringify({ 'max-introductions-per-second': 33, 'max-records-per-namespace': 777 }))
      const child = spawn(process.execPath, [BIN, 'relay', '--listen', '/ip4/127.1.0.1/tcp/0', '--testnet',
        '--max-circuits-per-peer', '7', '--max-circuits', '99', '--creates-per-second', '11', '--creates-per-second-per-peer', '3',
        '--max-streams-per-circuit', '5', '--max-link-queue-cells', '512', '--log-file', join(home.path, 'relay.log')],
      { cwd: ROOT, env: { ...env, VEIL_HOME: home.path, VEIL_MAX_STORES_PER_SECOND: '9' }, stdio: 'ignore' })
      try {
        const deadline = Date.now() + 30_000
        let st: unknown
        while (st === undefined) {
          if (child.exitCode !== null) throw new Error(`relay exited ${child.exitCode}`)
          try { st = await controlRequest(join(home.path, 'control.sock'), 'GET', '/status', 2_000) } catch { /* not yet */ }
          if (Date.now() > deadline) throw new Error('relay did not start')
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        const r = await runVeil(['status', '--json'], { VEIL_HOME: home.path })
        expect(r.code, r.stderr).toBe(0)
        const status: unknown = JSON.parse(r.stdout)
        expect(status).toMatchObject({
          sections: {
            circuits: { limitSettings: { maxCircuitsPerLink: 7, maxCircuits: 99, createsPerSecond: 11, createsPerSecondPerLink: 3, maxStreamsPerCircuit: 5 } },
            links: { limits: { maxQueuedCells: 512 } },
            registry: {
              limits: { maxStoresPerSecond: 9, maxRecordsPerNamespace: 777 },
              intro: { limits: { maxIntroductionsPerSecond: 33, maxIntroductionBurst: 66 }, rateLimited: 0 }
            }
          }
        })
        const text = await runVeil(['status'], { VEIL_HOME: home.path })
        expect(text.stdout).toMatch(/^ {2}limits {9}circuits per peer 7, circuits 99, CREATEs\/s 11 \(per peer 3\), streams per circuit 5, link queue 512 cells, stores\/s 9, records per namespace 777, introductions\/s per provider 33$/m)
        expect(text.stdout).toMatch(/^ {2}limits hit .*introductions refused 0$/m)
        // `veil config show` names where each came from
        const cfg = await runVeil(['config', 'show', 'relay', '--json'], { VEIL_HOME: home.path, VEIL_MAX_STORES_PER_SECOND: '9' })
        expect(cfg.code, cfg.stderr).toBe(0)
        expect(JSON.parse(cfg.stdout)).toMatchObject({
          options: {
            'max-introductions-per-second': { value: 33, source: 'config' },
            'max-stores-per-second': { value: 9, source: 'env' },
            'max-circuits-per-peer': { value: 4096, source: 'default' }
          }
        })
      } finally {
        child.kill('SIGTERM')
        await new Promise(resolve => child.once('exit', resolve))
      }
    } finally { await home.remove() }
  })
})
