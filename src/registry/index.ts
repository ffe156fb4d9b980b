/**
 * src/registry — the pure core of Veil's encrypted tool registry (issue 5), modelled on
 * Tor v3 onion services (rend-spec-v3): provider identities and addresses, time
 * periods, key blinding, two-layer descriptors with hybrid client authorisation, the
 * public keyword index with proof of work, tool records, signed catalogues, semver
 * ranges and replay caches. Every function is I/O-free and takes its clock reading and
 * randomness from the caller.
 *
 * Example (provider, then storer, then client):
 *   const id = ProviderIdentity.generate(systemRng)
 *   const { digest } = signCatalogue(id, { provider: id.address.text, serial: 1, issuedAt, tools }, systemRng)
 *   const d = buildDescriptor(id, { nowMs, rng: systemRng, reach: { mode: 'public', relay }, pow: null, catalogue: { digest, version: 1 } })
 *   await descriptorValidator(clock)(d.records[0].dhtKey, d.records[0].bytes)   // a storer's check
 *   const opened = openDescriptor(id.address.text, d.records[0].bytes, nowMs)   // a client's check
 *
 * Must never: do I/O, start timers, or read Date.now()/Math.random(); import from
 * src/node, src/bridge or src/cli (only src/overlay and src/onion lie below); put a
 * provider's A, ML-DSA key or its hash, address, or a tool name into anything a storer
 * sees; carry a counter or key across periods; accept a descriptor, entry or catalogue
 * before every check in its open/validate function has passed.
 *
 * Also exported: placement (pure: which relays store a key) and the registry's clocks
 * (params.ts). The networked parts live beside it and are imported directly: store.ts
 * (STORE/FETCH relay commands, the storer), client.ts (publish/fetch over circuits),
 * publisher.ts (republish timers), session.ts (the provider session), and hidden providers:
 * hs-codec.ts / hs-crypto.ts (pure messages and keys), hs-paths.ts (vanguards-lite paths),
 * intro-point.ts / rendezvous-point.ts (relay roles), e2e.ts (the joined channel),
 * hidden-service.ts / hidden-client.ts (the two ends); src/node/registry-glue.ts binds them
 * to nodes. See docs/registry.md.
 */
export * from './constants.ts'
export * from './errors.ts'
export { base32Encode, base32Decode } from './base32.ts'
export * from './time.ts'
export * from './identity.ts'
export * from './blinding.ts'
export { pad, unpad, encryptLayer, decryptLayer, type LayerParams } from './layer.ts'
export * from './client-auth.ts'
export * from './inner.ts'
export * from './descriptor.ts'
export * from './pow.ts'
export * from './keyword.ts'
export * from './tool.ts'
export * from './catalogue.ts'
export * from './semver.ts'
export * from './replay.ts'
export * from './placement.ts'
export * from './params.ts'
export { ExpandedEd25519Key, MlDsaKeyPair, ed25519Verify, mldsaVerify } from './primitives.ts'
