/**
 * Overlay benchmark: a 20-relay loopback testnet (each relay its own process on
 * 127.<i+1>.0.1) from nothing to ready — every directory holding every descriptor.
 * Last line: {"nodes":20,"ready_s":…,"rss_mb_per_node":…}. Target: ready_s ≤ 30.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestnet } from '../src/node/testnet.ts'
import { report, rssMb, round } from './common.ts'

const nodes = Number(process.env.VEIL_BENCH_NODES ?? 20)
const home = await mkdtemp(join(tmpdir(), 'veil-bench-overlay-'))
const net = await startTestnet({ home, nodes, onProgress: (line) => { process.stderr.write(line + '\n') } })
try {
  // let the relays settle after ready, then take RSS of every testnet process
  await new Promise(resolve => setTimeout(resolve, 3_000))
  const rss = net.pids().reduce((a, pid) => a + rssMb(pid), 0) + rssMb(process.pid)
  report('overlay', { nodes, ready_s: round(net.readyMs / 1000), rss_mb_per_node: round(rss / nodes, 1) })
} finally {
  await net.stop()
  await rm(home, { recursive: true, force: true })
}
