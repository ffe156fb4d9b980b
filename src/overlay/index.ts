/**
 * src/overlay — Veil's ground floor: libp2p hosts in two roles (relay, client), keys on
 * disk, signed relay descriptors, the directory, the directory-exchange protocol and the
 * link protocol that carries fixed-size cells between neighbours.
 *
 * Example:
 *   const key = await loadOrCreateIdentity(dir)
 *   const host = await createRelayHost({ privateKey: key, listen: ['/ip4/127.1.0.1/tcp/0'], clock: systemClock })
 *   await host.start()
 *   const sd = await signDescriptor(descriptor, key)     // publish sd.bytes under descriptorKey(host.peerId)
 *   await new Directory({ clock: systemClock }).add(sd.bytes, 'self')
 *
 * Must never: import from any higher layer (onion, mix, registry, node, bridge, cli);
 * let a client host announce addresses, run the DHT or identify, or keep a peer id
 * across starts; accept a descriptor it has not verified; log payloads or key material;
 * call Date.now()/Math.random() in deciding logic (take a Clock / Rng).
 */
export * from './constants.ts'
export * from './clock.ts'
export * from './log.ts'
export * from './errors.ts'
export * from './secret.ts'
export * from './fsutil.ts'
export * from './keys.ts'
export * from './descriptor.ts'
export * from './directory.ts'
export * from './dir-protocol.ts'
export * from './link.ts'
export * from './host.ts'
