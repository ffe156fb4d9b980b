import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const FIXTURE = fileURLToPath(new URL('./fixtures/wait-for-signal.ts', import.meta.url))

async function interrupt (signal: NodeJS.Signals): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [FIXTURE, 'wait'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 25_000 })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  await new Promise<void>(resolve => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => { if (d.includes('ready')) resolve() })
  })
  child.kill(signal)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stderr }
}

describe('interrupts', { timeout: 30_000 }, () => {
  it('SIGINT aborts the command\'s signal and exits 130', async () => {
    expect(await interrupt('SIGINT')).toEqual({ code: 130, stderr: 'stopped cleanly\n' })
  })

  it('SIGTERM does the same', async () => {
    expect(await interrupt('SIGTERM')).toEqual({ code: 130, stderr: 'stopped cleanly\n' })
  })
})
