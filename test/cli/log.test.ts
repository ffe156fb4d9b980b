import { describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { statSync } from 'node:fs'
import { createLogger, isSecretKey, sanitizeFields, type Logger } from '../../src/cli/log.ts'
import type { Log } from '../../src/overlay/log.ts'
import { tempDir } from './helpers.ts'

const fixed = (): Date => new Date('2026-11-22T02:10:00.000Z')

function collect (level: 'error' | 'warn' | 'info' | 'debug', format: 'text' | 'json'): { lines: string[], log: Logger } {
  const lines: string[] = []
  const log = createLogger({ level, format, write: l => { lines.push(l) }, now: fixed })
  return { lines, log }
}

describe('createLogger', { timeout: 10_000 }, () => {
  it('writes text lines with time, padded level, message and fields', () => {
    const { lines, log } = collect('info', 'text')
    log.info('relay started', { peer: '12D3KooWabc', addrs: 2, note: 'two words', ok: true })
    expect(lines).toEqual(['2026-11-22T02:10:00.000Z info  relay started peer=12D3KooWabc addrs=2 note="two words" ok=true\n'])
  })

  it('writes one JSON object per line', () => {
    const { lines, log } = collect('info', 'json')
    log.warn('slow', { ms: 12, msg: 'clash' })
    expect(lines).toHaveLength(1)
    expect(lines[0].endsWith('\n')).toBe(true)
    expect(JSON.parse(lines[0])).toEqual({ time: '2026-11-22T02:10:00.000Z', level: 'warn', msg: 'slow', ms: 12, field_msg: 'clash' })
  })

  it('filters by level', () => {
    const { lines, log } = collect('warn', 'text')
    log.debug('d')
    log.info('i')
    log.warn('w')
    log.error('e')
    expect(lines.map(l => l.split(' ')[1])).toEqual(['warn', 'error'])
    const all = collect('debug', 'text')
    all.log.debug('d')
    expect(all.lines).toHaveLength(1)
  })

  it('never prints secret-looking fields, at any depth, in either format', () => {
    for (const format of ['text', 'json'] as const) {
      const { lines, log } = collect('debug', format)
      log.info('x', {
        privateKey: 'AAAA-secret-1',
        onionKey: 'AAAA-secret-2',
        token: 'AAAA-secret-3',
        seed: 'AAAA-secret-4',
        password: 'AAAA-secret-5',
        nested: { inner: { apiSecret: 'AAAA-secret-6' } },
        list: [{ SEED: 'AAAA-secret-7' }]
      })
      expect(lines.join('')).not.toContain('AAAA-secret')
      expect(lines.join('')).toContain('[redacted]')
    }
  })

  it('prints byte arrays as their length, errors as their message', () => {
    const { lines, log } = collect('debug', 'text')
    log.debug('cell', { payload: new Uint8Array([1, 2, 3]), err: new Error('boom\nsecond line') })
    expect(lines[0]).toContain('payload="[3 bytes]"')
    expect(lines[0]).toContain('err="Error: boom second line"')
    expect(lines[0].split('\n')).toHaveLength(2) // the line and the empty rest after its newline
  })

  it('cannot be made to forge a line', () => {
    const { lines, log } = collect('info', 'text')
    log.info('a\nb', { k2: 'x\n2026-01-01T00:00:00.000Z error  forged' })
    expect(lines).toHaveLength(1)
    expect(lines[0].indexOf('\n')).toBe(lines[0].length - 1)
  })

  it('uses an object\'s own toString (peer ids, multiaddrs)', () => {
    expect(sanitizeFields({ peer: { toString: () => '12D3KooWx' } })).toEqual({ peer: '12D3KooWx' })
  })

  it('appends to a log file created 0600', async () => {
    const dir = await tempDir()
    try {
      const file = join(dir.path, 'veil.log')
      const log = createLogger({ level: 'info', format: 'json', write: () => { throw new Error('not stderr') }, file, now: fixed })
      log.info('one')
      log.info('two')
      log.close()
      log.close()
      const text = await readFile(file, 'utf8')
      expect(text.trim().split('\n').map(l => JSON.parse(l).msg)).toEqual(['one', 'two'])
      expect(statSync(file).mode & 0o777).toBe(0o600)
    } finally {
      await dir.remove()
    }
  })

  it('is structurally a Log for the overlay', () => {
    const { log } = collect('info', 'text')
    const overlay: Log = log
    expect(typeof overlay.info).toBe('function')
  })
})

describe('isSecretKey', { timeout: 10_000 }, () => {
  it('matches secret-looking names only', () => {
    for (const k of ['key', 'privateKey', 'secret', 'authToken', 'seed', 'password', 'PASSPHRASE']) expect(isSecretKey(k)).toBe(true)
    for (const k of ['peer', 'addrs', 'circuitId', 'bytes']) expect(isSecretKey(k)).toBe(false)
  })
})
