// Node only: sync between two stores over real loopback HTTP (node:http + toNodeListener).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as dagCbor from '@ipld/dag-cbor'
import { afterEach, describe, expect, test } from 'vitest'
import { openStore } from '../../src/index.node.ts'
import { createSyncHandler, type SyncHandlerOptions } from '../../src/transports/http/handler.ts'
import { sync, forgetSyncPeer } from '../../src/transports/http/client.ts'
import { toNodeListener } from '../../src/transports/node-http.ts'
import { readCar } from '../../src/car/reader.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import type { CairnStore } from '../../src/store/store.ts'
import { collect, sameBytes, bytesOf } from '../support/stores.ts'
import { removeDir, tempDir } from '../support/tmp.server.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function serve(store: CairnStore, options: SyncHandlerOptions = {}): Promise<{ url: string; origin: string }> {
  const server = createServer(toNodeListener(createSyncHandler(store, options)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `${origin}/cairn`, origin }
}

async function fileStore(): Promise<CairnStore> {
  const dir = await tempDir()
  const store = await openStore({ path: dir })
  cleanups.push(async () => {
    await store.close()
    await removeDir(dir)
  })
  return store
}

async function memoryStore(): Promise<CairnStore> {
  const store = await openStore({ memory: true })
  cleanups.push(() => store.close())
  return store
}

const keys = (store: CairnStore): string[] => store.heads.map(String)

async function readAll(store: CairnStore, stream: string): Promise<unknown[]> {
  return (await collect(store.read(stream))).map((e) => ({ cid: String(e.cid), version: e.version, type: e.type, data: e.data, ts: e.ts }))
}

/** CID → [payload bytes, CAR frame bytes (length prefix + CID + payload)] of every block a full export of `store` carries. */
async function blockSizes(store: CairnStore): Promise<Map<string, [number, number]>> {
  const car = await readCar(store.export(), { maxBlockBytes: 4 << 20, maxBytes: 1 << 30 })
  const out = new Map<string, [number, number]>()
  for await (const b of car.blocks) {
    const frame = b.cid.bytes.length + b.bytes.length
    out.set(b.cid.toString(), [b.bytes.length, frame + (frame < 128 ? 1 : frame < 16384 ? 2 : 3)])
  }
  return out
}

function note(i: number, who: string): { stream: string; type: string; data: unknown } {
  return { stream: `user-${i % 50}`, type: 'note.added', data: { text: `note ${i} from ${who}: buy milk, call Ada, fix the build`, n: i, done: i % 3 === 0 } }
}

async function appendNotes(store: CairnStore, from: number, count: number, who: string, batch = 20): Promise<void> {
  for (let i = from; i < from + count; i += batch) {
    await store.appendMany(Array.from({ length: Math.min(batch, from + count - i) }, (_, k) => note(i + k, who)))
  }
}

async function postRaw(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

describe('HTTP sync, Node ↔ Node over loopback', () => {
  test('diverged stores (files and memory) converge; a second sync moves nothing; then only what is new moves', async () => {
    const server = await fileStore()
    const client = await memoryStore()
    const { url, origin } = await serve(server)

    for (let i = 0; i < 10; i++) await server.append({ stream: 'orders', type: 'order.placed', data: { n: i, by: 'server' } })
    for (let i = 0; i < 7; i++) await client.append({ stream: 'orders', type: 'order.placed', data: { n: i, by: 'client' } })
    await client.appendMany([
      { stream: 'notes', type: 'note.added', data: { text: 'a' } },
      { stream: 'notes', type: 'note.added', data: { text: 'b' } },
    ])
    const fileBytes = new Uint8Array(700_000).map((_, i) => (i * 7919) % 251)
    const file = await client.putFile(fileBytes, { type: 'upload' })
    const doc = await client.put({ title: 'Spec', attachment: file }, { type: 'doc' })

    const first = await sync(client, url)
    expect(first.pulled.events).toBe(10)
    expect(first.pushed.events).toBe(7 + 2 + 2) // two $objects events record the file and the doc
    expect(first.pushed.blocks).toBeGreaterThan(11) // the file's chunks and root too
    expect(first.roundTrips).toBe(2)
    expect(keys(server)).toEqual(keys(client))
    expect(first.heads.map(String)).toEqual(keys(client))
    for (const stream of ['orders', 'notes']) expect(await readAll(server, stream)).toEqual(await readAll(client, stream))
    expect(await readAll(server, 'orders')).toHaveLength(17)
    expect(await server.get(doc)).toEqual({ title: 'Spec', attachment: file })
    expect(sameBytes(await bytesOf(server.cat(file)), fileBytes)).toBe(true)
    const objectsOf = async (s: CairnStore): Promise<string[]> => (await collect(s.objects())).map((o) => `${o.type} ${o.cid}`).sort()
    expect(await objectsOf(server)).toEqual(await objectsOf(client))
    await server.verify()

    const again = await sync(client, url)
    expect(again.pulled.events).toBe(0)
    expect(again.pulled.blocks).toBe(0)
    expect(again.pushed).toEqual({ blocks: 0, events: 0 })
    expect(again.roundTrips).toBe(1)
    console.log(`second sync: ${again.bytesSent} bytes sent, ${again.bytesReceived} received`)

    for (let i = 10; i < 15; i++) await server.append({ stream: 'orders', type: 'order.placed', data: { n: i, by: 'server' } })
    const down = await sync(client, url)
    expect(down.pulled.events).toBe(5)
    expect(down.pushed.events).toBe(0)
    expect(down.roundTrips).toBe(1)

    for (let i = 7; i < 12; i++) await client.append({ stream: 'orders', type: 'order.placed', data: { n: i, by: 'client' } })
    const up = await sync(client, url)
    expect(up.pulled.events).toBe(0)
    expect(up.pushed).toEqual({ blocks: 5, events: 5 })
    expect(keys(server)).toEqual(keys(client))
    expect(await readAll(server, 'orders')).toEqual(await readAll(client, 'orders'))

    const heads = (await (await fetch(`${origin}/cairn/heads`)).json()) as { heads: string[] }
    expect(heads.heads).toEqual(keys(client))
  })

  test('a tampered or incomplete push is refused with a typed error and the server unchanged', async () => {
    const server = await fileStore()
    const client = await memoryStore()
    const { url } = await serve(server)
    await server.append({ stream: 's', type: 't', data: 1 })
    await sync(client, url)
    const [e1] = await client.appendMany([{ stream: 's', type: 't', data: 2 }])
    await client.append({ stream: 's', type: 't', data: 3 })
    const before = keys(server)

    const car = await bytesOf(client.export({ since: server.heads }))
    const tampered = car.slice()
    tampered[tampered.length - 2] = tampered.at(-2)! ^ 0x01
    const bad = await postRaw(`${url}/push`, tampered)
    expect(bad.status).toBe(400)
    expect(bad.json['code']).toBe('CAIRN_INVALID_BLOCK')
    expect(typeof bad.json['cid']).toBe('string')
    expect(keys(server)).toEqual(before)

    // Only the newest event: its parent is neither in the CAR nor on the server.
    const partial = await bytesOf(client.export({ since: [e1!.cid] }))
    const missing = await postRaw(`${url}/push`, partial)
    expect(missing.status).toBe(400)
    expect(missing.json['code']).toBe('CAIRN_MISSING_BLOCK')
    expect(missing.json['cid']).toBe(String(e1!.cid))

    const notGzip = await postRaw(`${url}/push`, car, { 'x-cairn-encoding': 'gzip' })
    expect(notGzip.status).toBe(400)
    expect(notGzip.json['code']).toBe('CAIRN_INVALID_CAR')

    const truncated = await postRaw(`${url}/push`, car.subarray(0, car.length - 10))
    expect(truncated.status).toBe(400)
    expect(truncated.json['code']).toBe('CAIRN_INVALID_CAR')
    expect(keys(server)).toEqual(before)
    expect(await collect(server.read('s'))).toHaveLength(1)

    const ok = await postRaw(`${url}/push`, car)
    expect(ok.status).toBe(200)
    expect(ok.json).toEqual({ blocks: 2, events: 2, heads: keys(client) })
  })

  test('routes, methods and malformed pull bodies answer with status and code', async () => {
    const server = await memoryStore()
    await server.append({ stream: 's', type: 't', data: 1 })
    const { url, origin } = await serve(server, { maxRequestBytes: 64 * 1024 })

    const status = async (res: Response): Promise<[number, unknown]> => [res.status, ((await res.json()) as { code: string }).code]
    expect(await status(await fetch(`${origin}/elsewhere`))).toEqual([404, 'CAIRN_NOT_FOUND'])
    expect(await status(await fetch(`${url}/nothing`))).toEqual([404, 'CAIRN_NOT_FOUND'])
    const wrong = await fetch(`${url}/pull`)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect(await status(wrong)).toEqual([405, 'CAIRN_UNSUPPORTED'])
    expect(await status(await fetch(`${url}/heads`, { method: 'DELETE' }))).toEqual([405, 'CAIRN_UNSUPPORTED'])

    const garbage = await postRaw(`${url}/pull`, new Uint8Array([0xff, 0x00, 0x13]))
    expect([garbage.status, garbage.json['code']]).toEqual([400, 'CAIRN_INVALID_VALUE'])
    const shape = await postRaw(`${url}/pull`, dagCbor.encode({ heads: 'bafy', have: [] }))
    expect([shape.status, shape.json['code']]).toEqual([400, 'CAIRN_INVALID_VALUE'])
    const notCid = await postRaw(`${url}/pull`, dagCbor.encode({ heads: [1], have: [] }))
    expect([notCid.status, notCid.json['code']]).toEqual([400, 'CAIRN_INVALID_VALUE'])
    const huge = await postRaw(`${url}/pull`, dagCbor.encode({ heads: [], have: [], pad: new Uint8Array(100_000) }))
    expect([huge.status, huge.json['code']]).toEqual([413, 'CAIRN_TOO_LARGE'])

    // A well-formed pull from nothing: the whole store, with its heads in the header.
    const pull = await fetch(`${url}/pull`, { method: 'POST', body: dagCbor.encode({ heads: [], have: [] }) as Uint8Array<ArrayBuffer> })
    expect(pull.status).toBe(200)
    expect(pull.headers.get('content-type')).toBe('application/vnd.ipld.car')
    expect(pull.headers.get('x-cairn-encoding')).toBeNull()
    expect(pull.headers.get('x-cairn-heads')).toBe(keys(server).join(','))
    const fresh = await memoryStore()
    const report = await fresh.import(new Uint8Array(await pull.arrayBuffer()))
    expect(report.roots.map(String)).toEqual(keys(server))
    expect(keys(fresh)).toEqual(keys(server))

    // The client turns error answers into CairnErrors with the server's code.
    await expect(sync(fresh, `${origin}/wrong-base`)).rejects.toMatchObject({ name: 'CairnError', code: 'CAIRN_NOT_FOUND' })
    const closed = await serve(await memoryStore())
    const down = `http://127.0.0.1:${new URL(closed.url).port}`
    for (const c of cleanups.splice(-1)) await c() // closes that last server
    await expect(sync(fresh, `${down}/cairn`)).rejects.toMatchObject({ code: 'CAIRN_SYNC' })
  })

  test('one dropped connection per call is retried (pull and push are idempotent)', async () => {
    const server = await memoryStore()
    const client = await memoryStore()
    const { url } = await serve(server)
    await appendNotes(server, 0, 5, 'server')
    await appendNotes(client, 100, 5, 'client')
    const dropped: string[] = []
    const flaky: typeof fetch = async (input, init) => {
      const path = String(input).split('/').pop()!
      if (!dropped.includes(path)) {
        dropped.push(path)
        throw new TypeError('fetch failed')
      }
      return fetch(input, init)
    }
    const report = await sync(client, url, { fetch: flaky })
    expect(dropped).toEqual(['pull', 'push'])
    expect(report.pulled.events).toBe(5)
    expect(report.pushed.events).toBe(5)
    expect(keys(client)).toEqual(keys(server))
  })

  test('a sync that fails midway leaves both sides consistent, and running it again finishes', async () => {
    const server = await fileStore()
    const client = await memoryStore()
    const { url } = await serve(server)
    await appendNotes(server, 0, 30, 'server')
    await appendNotes(client, 100, 20, 'client')
    const serverBefore = keys(server)
    const clientBefore = keys(client)

    // 1. The pull answer breaks halfway: the client imports nothing.
    const cutPull: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      if (!String(input).endsWith('/pull')) return res
      const bytes = new Uint8Array(await res.arrayBuffer())
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytes.subarray(0, bytes.length >> 1))
          c.error(new TypeError('terminated'))
        },
      })
      return new Response(body, { status: res.status, headers: res.headers })
    }
    const e1 = await sync(client, url, { fetch: cutPull }).catch((e: unknown) => e)
    expect(isCairnError(e1, 'CAIRN_SYNC')).toBe(true)
    expect(keys(client)).toEqual(clientBefore)

    // 2. The push never reaches the server (the client retries once, then gives up): the client
    //    holds the pull, the server is unchanged.
    let pushFailures = 2
    const noPush: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/push') && pushFailures > 0) {
        pushFailures--
        throw new TypeError('fetch failed')
      }
      return fetch(input, init)
    }
    const e2 = await sync(client, url, { fetch: noPush }).catch((e: unknown) => e)
    expect(isCairnError(e2, 'CAIRN_SYNC')).toBe(true)
    expect(keys(server)).toEqual(serverBefore)
    expect(client.version('user-0') + client.version('user-1')).toBeGreaterThan(0)
    expect(keys(client)).not.toEqual(clientBefore)

    // 3. The push lands but its answer is lost, on the retry too.
    let answersLost = 2
    const lostAnswer: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      if (String(input).endsWith('/push') && answersLost > 0) {
        answersLost--
        throw new TypeError('socket hang up')
      }
      return res
    }
    await appendNotes(client, 200, 3, 'client')
    await expect(sync(client, url, { fetch: lostAnswer })).rejects.toMatchObject({ code: 'CAIRN_SYNC' })

    // 4. Running it again finishes the job.
    const done = await sync(client, url)
    expect(keys(server)).toEqual(keys(client))
    for (let s = 0; s < 50; s++) expect(await readAll(server, `user-${s}`)).toEqual(await readAll(client, `user-${s}`))
    expect(done.pushed.events).toBe(0) // the lost-answer push had already landed
    await server.verify()
    await client.verify()

    // An aborted sync rejects with the abort reason.
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(sync(client, url, { signal: controller.signal })).rejects.toThrow('stop')
  })

  test('wire bytes against the bytes of the missing blocks (2000 shared events, 200 new on each side)', async () => {
    const rows: string[] = []
    for (const remembered of [true, false]) {
      for (const gzip of [true, false]) {
        const server = await memoryStore()
        const client = await memoryStore()
        const { url } = await serve(server)
        await appendNotes(server, 0, 2000, 'shared', 100)
        if (remembered) await sync(client, url, { gzip })
        else await client.import(server.export())
        expect(keys(client)).toEqual(keys(server))
        await appendNotes(server, 10_000, 200, 'server')
        await appendNotes(client, 20_000, 200, 'client')

        const [a, b] = [await blockSizes(client), await blockSizes(server)]
        let missing = 0
        let framed = 0
        let missingBlocks = 0
        for (const [x, y] of [
          [a, b],
          [b, a],
        ] as const) {
          for (const [cid, [size, frame]] of x)
            if (!y.has(cid)) {
              missing += size
              framed += frame
              missingBlocks++
            }
        }

        const report = await sync(client, url, { gzip })
        expect(keys(client)).toEqual(keys(server))
        expect(report.pulled.events).toBe(200)
        expect(report.pushed.events).toBe(200)
        expect(missingBlocks).toBe(400)
        const wire = report.bytesSent + report.bytesReceived
        rows.push(
          `${remembered ? 'agreed heads' : 'hints only  '} ${gzip ? 'gzip' : 'raw '}: wire ${wire} B (sent ${report.bytesSent}, received ${report.bytesReceived}) ÷ missing blocks ${missing} B = ${(wire / missing).toFixed(3)}; ÷ their CAR frames ${framed} B = ${(wire / framed).toFixed(3)}`,
        )
        if (remembered) expect(wire / missing).toBeLessThan(gzip ? 1.05 : 1.35)
        forgetSyncPeer(client)
      }
    }
    console.log(`sync of 2000 shared + 200 new events per side:\n  ${rows.join('\n  ')}`)
  })
})
