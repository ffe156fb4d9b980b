/** The leak detector itself: it must find a secret in every encoding it claims to check. */
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { encodings, findLeaks, findSecret, textNeedles } from './encodings.ts'

const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

describe('findSecret', () => {
  it('finds a secret printed in any encoding, raw, or truncated; and nothing in clean text', () => {
    const secret = random(32)
    for (const e of encodings(secret)) {
      expect(findSecret(secret, new Map([['log', `x=${e} y`]]), new Map())).toMatch(/^log/)
    }
    expect(findSecret(secret, new Map(), new Map([['bin', Buffer.concat([Buffer.from('abc'), Buffer.from(secret), Buffer.from('z')])]]))).toBe('bin (raw)')
    const hex = Buffer.from(secret).toString('hex')
    expect(findSecret(secret, new Map([['log', `key=${hex.slice(0, 40)}…`]]), new Map())).toMatch(/^log/)
    expect(findSecret(secret, new Map([['log', 'nothing to see ' + Buffer.from(random(32)).toString('hex')]]), new Map())).toBe('')
  })

  it('finds a truncated base64 or base32 print (the first 16 bytes\' worth of characters)', () => {
    const secret = random(64)
    const b64 = Buffer.from(secret).toString('base64')
    const b32 = base32.baseEncode(secret).toUpperCase()
    expect(findSecret(secret, new Map([['log', `k=${b64.slice(0, 22)}…`]]), new Map())).toMatch(/^log/)
    expect(findSecret(secret, new Map([['log', `k=${b32.slice(0, 26)}…`]]), new Map())).toMatch(/^log/)
    // the last 16 bytes printed alone
    expect(findSecret(secret, new Map([['log', Buffer.from(secret.subarray(48)).toString('base64url')]]), new Map())).toMatch(/^log/)
  })
})

describe('findLeaks (many secrets at once)', () => {
  it('agrees with findSecret on every secret: found where printed, nowhere else', () => {
    const secrets = Array.from({ length: 300 }, (_, i) => ({ kind: `k${i}`, bytes: random(i % 3 === 0 ? 20 : 32 + (i % 50)) }))
    const parts: string[] = []
    const raws = new Map<string, Buffer>()
    const leaked = new Set<number>()
    for (let i = 0; i < secrets.length; i += 7) {
      const needles = textNeedles(secrets[i].bytes)
      parts.push(`line ${i} value=${needles[i % needles.length]} end`)
      leaked.add(i)
    }
    raws.set('bin', Buffer.concat([Buffer.from(random(5000)), Buffer.from(secrets[299].bytes), Buffer.from(random(100))]))
    leaked.add(299)
    // noise: other random data in every encoding
    for (let i = 0; i < 200; i++) parts.push(encodings(random(32))[i % 7])
    const texts = new Map([['log', parts.join('\n')]])
    const leaks = findLeaks(secrets, texts, raws)
    expect(leaks.map(l => Number(/^k(\d+) in/.exec(l)?.[1]))).toEqual([...leaked].sort((a, b) => a - b))
    for (const [i, s] of secrets.entries()) expect(findSecret(s.bytes, texts, raws) !== '').toBe(leaked.has(i))
    expect(leaks.at(-1)).toBe('k299 in bin (raw)')
  })
})
