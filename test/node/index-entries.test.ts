/**
 * What a provider announces in the keyword index (buildIndexEntries): one entry per
 * keyword of its LISTED tools, ≤ MAX_PROVIDER_KEYWORDS, each opening (with the keyword) to
 * the listed tool's summary; unlisted tools are never announced; a storer sees neither the
 * address nor any tool name. And where keywords come from (bridge defaultKeywords).
 */
import { describe, it, expect } from 'vitest'
import { buildIndexEntries } from '../../src/node/provider-node.ts'
import { defaultKeywords } from '../../src/bridge/provider.ts'
import { ProviderIdentity } from '../../src/registry/identity.ts'
import { makeToolRecord } from '../../src/registry/tool.ts'
import { decodeEntry, openEntry } from '../../src/registry/keyword.ts'
import { testnetParams } from '../../src/registry/params.ts'
import { periodAt } from '../../src/registry/time.ts'
import { systemRng } from '../../src/registry/primitives.ts'
import { MAX_PROVIDER_KEYWORDS, MIN_KEYWORD_EFFORT } from '../../src/registry/constants.ts'

const params = testnetParams(3600)
const id = ProviderIdentity.generate(systemRng)
const tool = (name: string, tags: string[], description = `${name} does things`) => makeToolRecord({ name, description, inputSchema: { type: 'object' } }, '1.2.3', tags, id.address.text)

describe('keyword index entries of a provider', () => {
  it('one per keyword of listed tools; each opens to its tool; the storer-visible bytes name nothing', () => {
    const nowMs = Date.now()
    const period = periodAt(nowMs, params.periods)
    const listed = [tool('get_weather', ['Weather', 'forecast']), tool('radar', ['weather', 'rain'], 'Rain radar\nsecond line')]
    const entries = buildIndexEntries(id, listed, { period, nowMs, params, effort: MIN_KEYWORD_EFFORT })
    expect(entries).toHaveLength(3) // weather (first tool), forecast, rain
    const opened = ['weather', 'forecast', 'rain'].map((kw, i) => openEntry(kw, period, entries[i].bytes, nowMs, params.periods))
    expect(opened.map(o => o.summary.toolName)).toEqual(['get_weather', 'get_weather', 'radar'])
    expect(opened[2].summary.description).toBe('Rain radar')
    expect(opened.every(o => o.summary.address === id.address.text && o.summary.version === '1.2.3')).toBe(true)
    for (const e of entries) {
      const hay = Buffer.from(e.bytes).toString('latin1')
      for (const needle of [id.address.text, 'get_weather', 'radar', 'Weather']) expect(hay.includes(needle)).toBe(false)
      expect(decodeEntry(e.bytes).ciphertext).toHaveLength(512)
    }
    expect(new Set(entries.map(e => e.bytes.length)).size).toBe(1)
  })

  it(`at most ${MAX_PROVIDER_KEYWORDS} keywords; tags that are not keywords are skipped`, () => {
    const nowMs = Date.now()
    const many = [tool('t', Array.from({ length: 32 }, (_, i) => `kw${i}`)), tool('u', ['more1', 'more2', ' '])]
    const entries = buildIndexEntries(id, many, { period: periodAt(nowMs, params.periods), nowMs, params, effort: MIN_KEYWORD_EFFORT })
    expect(entries).toHaveLength(MAX_PROVIDER_KEYWORDS)
    expect(buildIndexEntries(id, [], { period: 1, nowMs, params })).toEqual([])
  })

  it('default keywords: the name and its words of ≥ 3 letters', () => {
    expect(defaultKeywords('get_weatherForecast')).toEqual(['get_weatherforecast', 'get', 'weather', 'forecast'])
    expect(defaultKeywords('echo')).toEqual(['echo'])
    expect(defaultKeywords('a-b')).toEqual(['a-b'])
  })
})
