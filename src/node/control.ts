/**
 * The local control endpoint of a running node (as Tor's ControlPort): HTTP over a Unix
 * socket in the node's data dir, created 0600 inside a 0700 directory, so only the
 * node's own user can ask it anything. It answers `GET /status` with the node's status
 * JSON, `POST /rotate-onion` to start a new onion key now, and `POST /stop` to ask the
 * node to stop. It never returns key material.
 */
import { createServer, request, type Server } from 'node:http'
import { unlink, chmod } from 'node:fs/promises'
import { isErrno } from '../overlay/index.ts'

export interface ControlHandlers {
  status: () => unknown
  stop?: () => void
  rotateOnion?: () => Promise<void>
}

export interface ControlServer {
  readonly path: string
  close(): Promise<void>
}

const MAX_CONTROL_RESPONSE = 16 * 1024 * 1024

export async function startControlServer (path: string, handlers: ControlHandlers): Promise<ControlServer> {
  await unlink(path).catch((err: unknown) => { if (!isErrno(err, 'ENOENT')) throw err })
  const server: Server = createServer((req, res) => {
    const send = (code: number, body: unknown): void => {
      const text = JSON.stringify(body)
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
    try {
      if (req.method === 'GET' && req.url === '/status') return send(200, handlers.status())
      if (req.method === 'POST' && req.url === '/rotate-onion' && handlers.rotateOnion !== undefined) {
        handlers.rotateOnion().then(() => { send(200, { rotated: true }) }, (err: unknown) => { send(500, { error: err instanceof Error ? err.message : 'rotation failed' }) })
        return
      }
      if (req.method === 'POST' && req.url === '/stop' && handlers.stop !== undefined) {
        send(200, { stopping: true })
        handlers.stop()
        return
      }
      send(404, { error: 'unknown control request' })
    } catch (err) {
      send(500, { error: err instanceof Error ? err.message : 'internal error' })
    }
  })
  server.headersTimeout = 5_000
  server.requestTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  await chmod(path, 0o600)
  return {
    path,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      await unlink(path).catch(() => {})
    }
  }
}

/** Ask a node's control endpoint. Rejects on timeout, refusal or a non-200 answer. */
export async function controlRequest (path: string, method: 'GET' | 'POST', url: string, timeoutMs = 5_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, method, path: url, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_CONTROL_RESPONSE) { req.destroy(new Error('control response too large')); return }
        chunks.push(c)
      })
      res.on('end', () => {
        try {
          const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          if (res.statusCode !== 200) reject(new Error(`control endpoint answered ${res.statusCode}`))
          else resolve(body)
        } catch { reject(new Error('control endpoint sent invalid JSON')) }
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('control endpoint timed out')))
    req.on('error', reject)
    req.end()
  })
}
