/** The leak detector itself: it must find a secret in every encoding it claims to check. */
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { encodings, findSecret } from './encodings.ts'

describe('findSecret', () => {
  it('finds a secret printed in any encoding, raw, or truncated; and nothing in clean text', () => {
    const secret = new Uint8Array(randomBytes(32))
    for (const e of encodings(secret)) {
      expect(findSecret(secret, new Map([['log', `x=${e} y`]]), new Map())).toMatch(/^log/)
    }
    expect(findSecret(secret, new Map(), new Map([['bin', Buffer.concat([Buffer.from('abc'), Buffer.from(secret), Buffer.from('z')])]]))).toBe('bin (raw)')
    const hex = Buffer.from(secret).toString('hex')
    expect(findSecret(secret, new Map([['log', `key=${hex.slice(0, 40)}…`]]), new Map())).toMatch(/^log/)
    expect(findSecret(secret, new Map([['log', 'nothing to see ' + Buffer.from(randomBytes(32)).toString('hex')]]), new Map())).toBe('')
  })
})
