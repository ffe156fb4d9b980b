import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateX25519, DESCRIPTOR_VERSION, LINK_PROTOCOL, type RelayDescriptor } from '../../src/overlay/index.ts'

export async function relayKey (): Promise<PrivateKey> { return generateKeyPair('Ed25519') }

export function makeDescriptor (key: PrivateKey, now: number, over: Partial<RelayDescriptor> = {}, ip = '127.1.0.1'): RelayDescriptor {
  return {
    version: DESCRIPTOR_VERSION,
    peerId: peerIdFromPrivateKey(key),
    addrs: [multiaddr(`/ip4/${ip}/tcp/4001`)],
    onionKeys: [{ publicKey: generateX25519().publicKey, validFrom: now - 1000, validUntil: now + 86_400_000 }],
    family: [],
    protocols: [LINK_PROTOCOL],
    bandwidth: 1_000_000,
    published: now,
    expires: now + 3_600_000,
    ...over
  }
}

export async function tempHome (prefix = 'veil-test-'): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}
