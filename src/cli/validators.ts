/**
 * Value checks for flags: each returns what is wrong, or undefined.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'

/** A multiaddr such as /ip4/203.0.113.7/tcp/4001 or /dns4/relay.example/tcp/443/wss. */
export function checkMultiaddr (value: string): string | undefined {
  const example = 'expected a multiaddr such as /ip4/127.0.0.1/tcp/4001'
  if (value.trim() === '' || value.trim() === '/') return example
  try {
    multiaddr(value)
    return undefined
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    return `${detail}; ${example}`
  }
}

/** A libp2p peer id in its usual string form (12D3KooW…, Qm…). */
export function checkPeerId (value: string): string | undefined {
  try {
    peerIdFromString(value)
    return undefined
  } catch {
    return 'expected a peer id such as 12D3KooW…'
  }
}
