import { startTestnet } from './src/node/testnet.ts'
import { readFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const home = mkdtempSync(join(tmpdir(), 'idle-'))
const net = await startTestnet({ home, nodes: 20 })
const cpu = (pid: number): number => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
await new Promise(r => setTimeout(r, 15000))
const pids = net.pids()
const a = pids.map(cpu); const t = Date.now()
await new Promise(r => setTimeout(r, 20000))
const b = pids.map(cpu)
const secs = (Date.now() - t) / 1000
console.log('idle testnet CPU (cores):', ((b.reduce((x, y) => x + y) - a.reduce((x, y) => x + y)) / secs).toFixed(3), 'processes', pids.length)
await net.stop()
