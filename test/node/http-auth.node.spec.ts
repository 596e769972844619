// Node only: signed sync over real loopback HTTP (node:http + toNodeListener), against servers
// with real access rules. A signed round trip with a file-engine server; a writer admitted
// through a grant, and a caller's events outside its grant refused (403, `refused` over the
// wire); unsigned, unknown, stale and tampered requests refused with the server unchanged; a
// captured connection replayed byte for byte on a new socket; a request signed for one origin
// forwarded to another server; auth.audience behind a proxy that changes the host; canRead;
// CORS preflight and headers as a browser would send them.
import { createServer } from 'node:http'
import { connect, createServer as createTcpServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { openStore } from '../../src/index.node.ts'
import { createIdentity } from '../../src/identity/create.ts'
import { createSyncHandler, type SyncHandlerOptions } from '../../src/transports/http/handler.ts'
import { sync } from '../../src/transports/http/client.ts'
import { toNodeListener } from '../../src/transports/node-http.ts'
import { isCairnError, type CairnError } from '../../src/errors/cairn-error.ts'
import type { Identity } from '../../src/identity/interface.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import type { CairnStore } from '../../src/store/store.ts'
import { bytesOf, collect, sameBytes } from '../support/stores.ts'
import { removeDir, tempDir } from '../support/tmp.server.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function listen(server: ReturnType<typeof createServer> | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

async function serve(store: CairnStore, options: SyncHandlerOptions = {}): Promise<{ url: string; origin: string; port: number }> {
  const server = createServer(toNodeListener(createSyncHandler(store, options)))
  const port = await listen(server)
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const origin = `http://127.0.0.1:${port}`
  return { url: `${origin}/cairn`, origin, port }
}

/** A TCP proxy in front of `port` that records every byte clients send, connection by connection. */
async function recordingProxy(port: number): Promise<{ url: string; connections: Uint8Array[][] }> {
  const connections: Uint8Array[][] = []
  const sockets = new Set<Socket>()
  const proxy = createTcpServer((client) => {
    const sent: Uint8Array[] = []
    connections.push(sent)
    const upstream = connect(port, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
    }
    client.on('data', (chunk: Uint8Array) => {
      sent.push(new Uint8Array(chunk))
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('end', () => upstream.end())
  })
  const proxyPort = await listen(proxy)
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        proxy.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${proxyPort}/cairn`, connections }
}

/**
 * Sends raw bytes on a new connection and returns what the server answers, once it has
 * answered `requests` times and then said nothing more for 200 ms (or after 5 s).
 */
function sendRaw(port: number, bytes: Uint8Array, requests: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let quiet: ReturnType<typeof setTimeout> | undefined
    const done = (): void => {
      clearTimeout(quiet)
      clearTimeout(limit)
      socket.destroy()
      resolve(Buffer.concat(parts).toString('latin1'))
    }
    const limit = setTimeout(done, 5000)
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    socket.on('data', (chunk: Buffer) => {
      parts.push(chunk)
      clearTimeout(quiet)
      if (
        (
          Buffer.concat(parts)
            .toString('latin1')
            .match(/^HTTP\/1\.1 \d{3}/gm) ?? []
        ).length >= requests
      )
        quiet = setTimeout(done, 200)
    })
    socket.on('error', reject)
    socket.on('close', done)
  })
}

/**
 * An HTTP proxy in front of `port` that forwards each request through fetch, as a proxy that
 * changes the host does: the server sees its own address in `Host`, not the one the client used.
 */
async function hostChangingProxy(port: number): Promise<{ url: string; origin: string; forwardTo: (port: number) => void }> {
  let upstreamPort = port
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v
    const upstream = await fetch(`http://127.0.0.1:${upstreamPort}${req.url}`, { method: req.method!, headers, ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}) })
    res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => !['connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(k))))
    res.end(Buffer.from(await upstream.arrayBuffer()))
  })
  const proxyPort = await listen(proxy)
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections()
        proxy.close(() => resolve())
      }),
  )
  const origin = `http://localhost:${proxyPort}`
  return {
    url: `${origin}/cairn`,
    origin,
    forwardTo: (p) => {
      upstreamPort = p
    },
  }
}

/** Options of a server store whose root admin is `admin`, signing its own events as `admin`. */
const ruledBy = (admin: Identity): StoreOptions => ({ signer: admin, access: { admins: [admin.did] } })

async function fileStore(options: StoreOptions = {}): Promise<CairnStore> {
  const dir = await tempDir()
  const store = await openStore({ path: dir, ...options })
  cleanups.push(async () => {
    await store.close()
    await removeDir(dir)
  })
  return store
}

async function memoryStore(options: StoreOptions = {}): Promise<CairnStore> {
  const store = await openStore({ memory: true, ...options })
  cleanups.push(() => store.close())
  return store
}

const keys = (store: CairnStore): string[] => store.heads.map(String)

async function notes(store: CairnStore, who: string, n: number): Promise<void> {
  await store.appendMany(Array.from({ length: n }, (_, i) => ({ stream: `notes-${who}`, type: 'note.added', data: { who, i, text: `note ${i} from ${who}` } })))
}

async function refused(p: Promise<unknown>): Promise<CairnError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isCairnError(err, 'CAIRN_UNAUTHORIZED')).toBe(true)
  return err as CairnError
}

describe('signed HTTP sync, Node ↔ Node over loopback', () => {
  test('a signed sync round trip with a file-engine server, a file included; unsigned and unknown callers refused with the server unchanged', async () => {
    const me = await createIdentity()
    const stranger = await createIdentity()
    const server = await fileStore(ruledBy(me))
    const { url } = await serve(server)
    await notes(server, 'server', 20)
    const client = await memoryStore({ signer: me }) // the admin's other replica
    await notes(client, 'client', 30)
    const fileBytes = new Uint8Array(600_000).map((_, i) => (i * 7919) % 251)
    const file = await client.putFile(fileBytes, { type: 'upload' })
    const before = keys(server)

    const unsigned = await refused(sync(client, url))
    expect(unsigned.message).toContain('signed requests only')
    const unknown = await refused(sync(client, url, { signer: stranger }))
    expect(unknown.message).toContain('may not read')
    expect(keys(server)).toEqual(before)

    const report = await sync(client, url, { signer: me })
    expect(report.pulled.events).toBe(20)
    expect(report.pushed.events).toBe(31) // the file's $objects record too
    expect(keys(server)).toEqual(keys(client))
    expect(sameBytes(await bytesOf(server.cat(file)), fileBytes)).toBe(true)
    await server.verify()
    const again = await sync(client, url, { signer: me, gzip: false })
    expect([again.pulled.events, again.pushed.events, again.roundTrips]).toEqual([0, 0, 1])
  })

  test('a writer granted by the admin pulls its grant, then pushes over HTTP; a caller writing outside its grant gets 403 with the refused events', async () => {
    const admin = await createIdentity()
    const writer = await createIdentity()
    const server = await fileStore(ruledBy(admin))
    await notes(server, 'server', 3)
    await server.grant(writer.did, { streams: 'notes-writer' })
    const { url } = await serve(server)

    const laptop = await memoryStore({ signer: writer })
    expect((await sync(laptop, url, { signer: writer })).pulled.events).toBe(4) // the grant came with the notes
    await notes(laptop, 'writer', 10)
    expect((await sync(laptop, url, { signer: writer })).pushed.events).toBe(10)
    expect(keys(server)).toEqual(keys(laptop))
    expect((await collect(server.read('notes-writer'))).every((e) => e.author === writer.did)).toBe(true)

    const outside = await laptop.appendMany([
      { stream: 'elsewhere/1', type: 'note.added' },
      { stream: 'elsewhere/2', type: 'note.added' },
    ]) // streams its grant does not cover
    const before = keys(server)
    const err = await refused(sync(laptop, url, { signer: writer }))
    expect(err.message).toContain(`${writer.did} holds no grant for stream "elsewhere/1"`)
    expect(err.refused?.map(String).sort()).toEqual(outside.map((e) => String(e.cid)).sort())
    expect(keys(server)).toEqual(before)
    await server.verify()
  })

  test('a request signed for one server and forwarded by it to another is refused (401); auth.audience admits requests through a proxy that changes the host', async () => {
    const me = await createIdentity()
    const server = await memoryStore(ruledBy(me))
    await notes(server, 'server', 3)
    const plain = await serve(server)
    // The client addresses the proxy (http://localhost:<proxy port>), which forwards to the
    // server: the server sees Host 127.0.0.1:<its port>, an origin the client did not sign for.
    const proxy = await hostChangingProxy(plain.port)
    const client = await memoryStore({ signer: me })
    const forwarded = await refused(sync(client, proxy.url, { signer: me }))
    expect(forwarded.message).toContain(`for http://127.0.0.1:${plain.port}, over POST /cairn/pull): signed for another origin`)
    expect(client.heads).toEqual([])

    // The server told the origin clients address: served through the proxy, both ways.
    const named = await serve(server, { auth: { audience: proxy.origin } })
    proxy.forwardTo(named.port)
    await notes(client, 'client', 2)
    const report = await sync(client, proxy.url, { signer: me })
    expect([report.pulled.events, report.pushed.events]).toEqual([3, 2])
    expect(keys(server)).toEqual(keys(client))
    // Addressed directly, its own origin is not one that handler takes.
    expect((await refused(sync(client, named.url, { signer: me }))).message).toContain('signed for another origin')
  })

  test("a client whose clock is off by more than the window is refused; the server's window is its option", async () => {
    const me = await createIdentity()
    const server = await memoryStore(ruledBy(me))
    await notes(server, 'server', 3)
    const skew = 10 * 60_000 // the server's clock runs 10 minutes ahead of the client's
    const strict = await serve(server, { now: () => Date.now() + skew })
    const client = await memoryStore()
    expect((await refused(sync(client, strict.url, { signer: me }))).message).toMatch(/before the server's time, more than the 300 s allowed/)
    expect(client.heads).toEqual([])
    const lenient = await serve(server, { now: () => Date.now() + skew, auth: { maxSkewMs: 15 * 60_000 } })
    await sync(client, lenient.url, { signer: me })
    expect(keys(client)).toEqual(keys(server))
  })

  test('a captured connection replayed byte for byte on a new socket is refused, and the push it carried lands once', async () => {
    const me = await createIdentity()
    const server = await memoryStore(ruledBy(me))
    await notes(server, 'server', 5)
    const { port } = await serve(server)
    const proxy = await recordingProxy(port)
    const client = await memoryStore({ signer: me })
    await notes(client, 'client', 5)
    const report = await sync(client, proxy.url, { signer: me })
    expect(report.pushed.events).toBe(5)
    const after = keys(server)
    const events = await collect(server.read('notes-client'))
    expect(events).toHaveLength(5)

    const captured = proxy.connections.flat()
    const raw = new Uint8Array(captured.reduce((n, c) => n + c.length, 0))
    let o = 0
    for (const c of captured) {
      raw.set(c, o)
      o += c.length
    }
    const text = new TextDecoder('latin1').decode(raw)
    expect(text).toContain('POST /cairn/pull HTTP/1.1')
    expect(text).toContain('POST /cairn/push HTTP/1.1')
    expect(text).toContain(`x-cairn-did: ${me.did}`)
    let replayed = 0
    for (const bytes of proxy.connections.map((parts) => Buffer.concat(parts))) {
      const requests = (bytes.toString('latin1').match(/POST \/cairn\/(pull|push) HTTP\/1\.1\r\n/g) ?? []).length
      const answer = await sendRaw(port, bytes, requests)
      const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1])
      expect(statuses).toEqual(Array(requests).fill('401'))
      expect(answer.match(/replayed request/g)).toHaveLength(requests)
      replayed += requests
    }
    expect(replayed).toBe(2)
    expect(keys(server)).toEqual(after)
    expect(await collect(server.read('notes-client'))).toHaveLength(5)
  })

  test('a push whose bytes were changed after signing is refused and the server keeps nothing of it', async () => {
    const me = await createIdentity()
    const server = await fileStore(ruledBy(me))
    await notes(server, 'server', 2)
    const { url } = await serve(server)
    const client = await memoryStore({ signer: me })
    await sync(client, url, { signer: me })
    await notes(client, 'client', 40)
    const before = keys(server)
    for (const gzip of [true, false]) {
      // The last byte of a plain CAR is payload of its last block; in a gzip body, part of the trailer.
      const altering: typeof fetch = async (input, init) => {
        if (!String(input).endsWith('/push')) return fetch(input, init)
        const bytes = new Uint8Array(await new Response(init!.body).arrayBuffer())
        bytes[bytes.length - 1] = bytes.at(-1)! ^ 0x01
        return fetch(input, { ...init, body: bytes })
      }
      const err = await sync(client, url, { signer: me, fetch: altering, gzip }).then(
        () => undefined,
        (e: unknown) => e as CairnError,
      )
      expect(err?.code).toMatch(/^CAIRN_(UNAUTHORIZED|INVALID_BLOCK|INVALID_CAR)$/)
      expect(keys(server)).toEqual(before)
    }
    // A valid CAR of other events in place of the signed one: only the digest can catch it.
    const other = await memoryStore({ signer: me })
    await other.import(server.export())
    await notes(other, 'other', 3)
    const otherCar = await bytesOf(other.export({ since: server.heads }))
    const swapping: typeof fetch = async (input, init) => (String(input).endsWith('/push') ? fetch(input, { ...init, body: otherCar as Uint8Array<ArrayBuffer> }) : fetch(input, init))
    const swapped = await refused(sync(client, url, { signer: me, fetch: swapping, gzip: false }))
    expect(swapped.message).toContain('not the one signed')
    expect(keys(server)).toEqual(before)
    await sync(client, url, { signer: me })
    expect(keys(server)).toEqual(keys(client))
  })

  test('canRead lets a caller the rules do not know pull, not push', async () => {
    const admin = await createIdentity()
    const reader = await createIdentity()
    const server = await memoryStore(ruledBy(admin))
    await notes(server, 'server', 4)
    const { url } = await serve(server, { auth: { canRead: (did) => did === reader.did } })
    const client = await memoryStore({ signer: reader })
    const report = await sync(client, url, { signer: reader })
    expect(report.pulled.events).toBe(4)
    await notes(client, 'reader', 1)
    expect((await refused(sync(client, url, { signer: reader }))).message).toContain('may not push')
    expect(await collect(server.read('notes-reader'))).toEqual([])
  })

  test('CORS over HTTP: a preflight is answered with the headers a browser checks, and a cross-origin answer carries Access-Control-Allow-Origin', async () => {
    const me = await createIdentity()
    const server = await memoryStore(ruledBy(me))
    await notes(server, 'server', 2)
    const app = 'http://localhost:5173'
    const { url } = await serve(server, { cors: { origins: [app], maxAge: 300 } })

    const pre = await fetch(`${url}/pull`, {
      method: 'OPTIONS',
      headers: { origin: app, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-cairn-accept-encoding,x-cairn-did,x-cairn-digest,x-cairn-nonce,x-cairn-signature,x-cairn-time' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe(app)
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST')
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type, x-cairn-accept-encoding, x-cairn-encoding, x-cairn-did, x-cairn-time, x-cairn-nonce, x-cairn-digest, x-cairn-signature')
    expect(pre.headers.get('access-control-max-age')).toBe('300')
    expect((await fetch(`${url}/pull`, { method: 'OPTIONS', headers: { origin: 'http://elsewhere.test' } })).status).toBe(403)

    const withOrigin: typeof fetch = async (input, init) => {
      const res = await fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), origin: app } })
      expect(res.headers.get('access-control-allow-origin')).toBe(app)
      expect(res.headers.get('access-control-expose-headers')).toBe('x-cairn-heads, x-cairn-encoding')
      return res
    }
    const client = await memoryStore({ signer: me })
    await sync(client, url, { signer: me, fetch: withOrigin })
    expect(keys(client)).toEqual(keys(server))
    await refused(sync(client, url, { fetch: withOrigin })) // the 401 carries the CORS headers too
  })
})
