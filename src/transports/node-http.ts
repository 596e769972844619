// Node/Deno only: serves a fetch-API handler (such as createSyncHandler's) from node:http.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { expectFunction } from '../errors/arguments.ts'

/**
 * A node:http request listener.
 *
 * @example
 * const listener: NodeListener = toNodeListener(createSyncHandler(store))
 * http.createServer(listener).listen(8787, '127.0.0.1')
 */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void

/** Bytes of request body buffered before the socket is paused. */
const REQUEST_HIGH_WATER = 64 * 1024

/**
 * Adapts a fetch-API handler to node:http. The request body streams into the `Request`
 * (`duplex: 'half'`) and pauses the socket while the handler is not reading; the response
 * body streams out and waits for 'drain', so a slow client holds back the producer. When the
 * client goes away, the request's `signal` aborts and the response stream is cancelled.
 *
 * @example
 * http.createServer(toNodeListener(createSyncHandler(store))).listen(8787)
 */
export function toNodeListener(handler: (request: Request) => Promise<Response>): NodeListener {
  expectFunction('handler', handler)
  return (req, res) => {
    void serve(handler, req, res)
  }
}

async function serve(handler: (request: Request) => Promise<Response>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const aborter = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) aborter.abort(new Error('the client closed the connection'))
  })
  let request: Request
  try {
    request = toRequest(req, aborter.signal)
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request')
    return
  }
  let response: Response
  try {
    response = await handler(request)
  } catch {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error')
    else res.destroy()
    return
  }
  res.statusCode = response.status
  if (response.statusText !== '') res.statusMessage = response.statusText
  for (const [key, value] of response.headers) if (key !== 'set-cookie') res.setHeader(key, value)
  const cookies = response.headers.getSetCookie?.() ?? []
  if (cookies.length > 0) res.setHeader('set-cookie', cookies)
  if (response.body === null || req.method === 'HEAD') {
    await response.body?.cancel().catch(() => {})
    res.end()
    return
  }
  const reader = response.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) {
        await reader.cancel().catch(() => {})
        return
      }
      if (!res.write(value)) await drained(res)
    }
    res.end()
  } catch (err) {
    // The body failed after the status was sent: cut the connection so the client sees a broken body.
    await reader.cancel(err).catch(() => {})
    res.destroy(err instanceof Error ? err : new Error(String(err)))
  }
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true
  const url = new URL(req.url ?? '/', `${encrypted ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`)
  const headers = new Headers()
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined || key.startsWith(':')) continue
    if (Array.isArray(value)) for (const v of value) headers.append(key, v)
    else headers.set(key, value)
  }
  const method = req.method ?? 'GET'
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal }
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = bodyStream(req)
    init.duplex = 'half'
  }
  return new Request(url, init)
}

/** The request body as a byte stream that pauses the socket while its queue is full. */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let closed = false
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on('data', (chunk: Uint8Array) => {
          if (closed) return
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
          if ((controller.desiredSize ?? 0) <= 0) req.pause()
        })
        req.once('end', () => {
          if (closed) return
          closed = true
          controller.close()
        })
        req.once('error', (err) => {
          if (closed) return
          closed = true
          controller.error(err)
        })
        req.once('close', () => {
          if (closed) return
          closed = true
          controller.error(new Error('the request body ended early: the client closed the connection'))
        })
      },
      pull() {
        req.resume()
      },
      cancel() {
        closed = true
        req.resume() // drain what is left, so the response can still be sent on this connection
      },
    },
    { highWaterMark: REQUEST_HIGH_WATER, size: (chunk) => chunk.byteLength },
  )
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
