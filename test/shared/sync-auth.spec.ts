// Signed sync requests, run against the fetch-API handler directly (no socket), so every runtime
// checks them: the signed string, a signed round trip, and each refusal (unsigned, unknown
// caller, stale, replayed, another body than the one signed, a signature moved to another
// route), with the server's store unchanged after each; canRead/canPush; the nonce cache's
// bound; CORS preflights and headers. Real WebCrypto Ed25519 keys throughout.
import { describe, expect, test } from 'vitest'
import { CairnError } from '../../src/errors/cairn-error.ts'
import { createIdentity } from '../../src/identity/create.ts'
import type { Identity } from '../../src/identity/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { sync } from '../../src/transports/http/client.ts'
import { createSyncHandler, type SyncHandler, type SyncHandlerOptions } from '../../src/transports/http/handler.ts'
import { EMPTY_BODY_DIGEST, bodyDigest, encodePullBody, fromBase64url, readSignatureClaim, signRequest, signingString, statusOf } from '../../src/transports/http/protocol.ts'
import { runtime } from '../support/runtime.ts'
import { bytesOf } from '../support/stores.ts'

const URL_BASE = 'http://sync.test/cairn'
const MINUTE = 60_000

/** A store whose access rules name `admins` (the one place that knows how rules are set up). */
function storeWithAccess(admins: readonly string[]): Promise<CairnStore> {
  return CairnStore.open(new MemoryStorage(), { access: { admins } })
}

function openStore(): Promise<CairnStore> {
  return CairnStore.open(new MemoryStorage())
}

/** A fetch that hands each request to `handler`, recording what was sent and answered. */
function fetchOf(handler: SyncHandler, log: { request: Request; bytes: Uint8Array; status: number }[] = []): typeof fetch {
  return async (input, init) => {
    const request = new Request(input as string, init)
    const bytes = new Uint8Array(await request.clone().arrayBuffer())
    const response = await handler(request)
    log.push({ request, bytes, status: response.status })
    return response
  }
}

async function seeded(store: CairnStore, who: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await store.append({ stream: `notes-${who}`, type: 'note.added', data: { who, i } })
}

const keys = (store: CairnStore): string[] => store.heads.map(String)

async function refusal(p: Promise<unknown>): Promise<CairnError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CairnError)
  return err as CairnError
}

async function answer(response: Response): Promise<[number, string, string]> {
  const body = (await response.json()) as { code: string; message: string }
  return [response.status, body.code, body.message]
}

/** A request signed by `signer` for `path`, with `body` (digest of it unless `digest` says otherwise). */
async function signed(signer: Identity, method: string, path: string, body: Uint8Array | null, extra: { time?: number; nonce?: string; digest?: string } = {}): Promise<Request> {
  const url = `${URL_BASE}${path}`
  const digest = extra.digest ?? (body === null ? EMPTY_BODY_DIGEST : bodyDigest(body))
  const headers = await signRequest(signer, { method, url, digest, ...extra })
  return new Request(url, { method, headers, ...(body === null ? {} : { body: body as Uint8Array<ArrayBuffer> }) })
}

describe('signed requests: the scheme', () => {
  test('the signed string is exactly the six lines; the headers carry what it names', async () => {
    expect(signingString({ method: 'POST', path: '/cairn/pull?x=1', digest: EMPTY_BODY_DIGEST, time: 1_700_000_000_123, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' })).toBe(
      'cairn-sync-v1\nPOST\n/cairn/pull?x=1\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU\n1700000000123\nAAAAAAAAAAAAAAAAAAAAAA',
    )
    const id = await createIdentity()
    const body = encodePullBody({ heads: [], have: [] })
    const headers = await signRequest(id, { method: 'POST', url: `${URL_BASE}/pull?x=1`, digest: bodyDigest(body), time: 42 })
    expect(Object.keys(headers).sort()).toEqual(['x-cairn-did', 'x-cairn-digest', 'x-cairn-nonce', 'x-cairn-signature', 'x-cairn-time'])
    expect(headers['x-cairn-did']).toBe(id.did)
    expect(headers['x-cairn-time']).toBe('42')
    expect(fromBase64url(headers['x-cairn-nonce']!)).toHaveLength(16)
    expect(fromBase64url(headers['x-cairn-signature']!)).toHaveLength(64)
    const claim = readSignatureClaim(new Headers(headers))
    expect(claim).toMatchObject({ did: id.did, time: 42, digest: bodyDigest(body) })
    // Two signatures of the same request differ in their nonce.
    const again = await signRequest(id, { method: 'POST', url: `${URL_BASE}/pull?x=1`, digest: bodyDigest(body), time: 42 })
    expect(again['x-cairn-nonce']).not.toBe(headers['x-cairn-nonce'])

    for (const [change, why] of [
      [{ 'x-cairn-time': '-5' }, 'x-cairn-time'],
      [{ 'x-cairn-time': '1e12' }, 'x-cairn-time'],
      [{ 'x-cairn-nonce': 'AAAA' }, 'x-cairn-nonce'],
      [{ 'x-cairn-nonce': 'AAAAAAAAAAAAAAAAAAAAAA==' }, 'x-cairn-nonce'],
      [{ 'x-cairn-digest': 'abc' }, 'x-cairn-digest'],
      [{ 'x-cairn-signature': 'x'.repeat(86) }, 'x-cairn-signature'],
      [{ 'x-cairn-did': 'alice' }, 'x-cairn-did'],
    ] as const) {
      expect(readSignatureClaim(new Headers({ ...headers, ...change }))).toContain(why)
    }
    const partial = new Headers(headers)
    partial.delete('x-cairn-nonce')
    expect(readSignatureClaim(partial)).toContain('lacks x-cairn-nonce')
    expect(readSignatureClaim(new Headers({ 'content-type': 'x' }))).toBeUndefined()
    expect(statusOf('CAIRN_UNAUTHORIZED')).toBe(403)
  })
})

describe('signed sync through the handler', () => {
  test('a known caller syncs both ways with signed requests; every request carried a signature', async () => {
    const id = await createIdentity()
    const server = await storeWithAccess([id.did])
    const client = await openStore()
    await seeded(server, 'server', 3)
    await seeded(client, 'client', 4)
    const log: { request: Request; bytes: Uint8Array; status: number }[] = []
    for (const gzip of [true, false]) {
      const report = await sync(client, URL_BASE, { signer: id, fetch: fetchOf(createSyncHandler(server), log), gzip })
      expect(keys(client)).toEqual(keys(server))
      if (gzip) expect([report.pulled.events, report.pushed.events]).toEqual([3, 4])
      await seeded(client, `client-${gzip}`, 1)
    }
    expect(log.map((l) => `${new URL(l.request.url).pathname} ${l.status}`)).toEqual(['/cairn/pull 200', '/cairn/push 200', '/cairn/pull 200', '/cairn/push 200'])
    for (const { request, bytes } of log) {
      expect(request.headers.get('x-cairn-did')).toBe(id.did)
      expect(request.headers.get('x-cairn-digest')).toBe(bodyDigest(bytes))
    }
    expect(new Set(log.map((l) => l.request.headers.get('x-cairn-nonce'))).size).toBe(log.length)
  })

  test('unsigned requests and unknown callers are refused before anything is read or stored', async () => {
    const id = await createIdentity()
    const stranger = await createIdentity()
    const server = await storeWithAccess([id.did])
    await seeded(server, 'server', 2)
    const before = keys(server)
    const client = await openStore()
    await seeded(client, 'client', 2)
    const handler = createSyncHandler(server)

    const unsigned = await refusal(sync(client, URL_BASE, { fetch: fetchOf(handler) }))
    expect(unsigned.code).toBe('CAIRN_UNAUTHORIZED')
    expect(unsigned.message).toContain('signed requests only')
    const unknown = await refusal(sync(client, URL_BASE, { fetch: fetchOf(handler), signer: stranger }))
    expect(unknown.code).toBe('CAIRN_UNAUTHORIZED')
    expect(unknown.message).toContain(`${stranger.did} may not read`)
    expect(keys(server)).toEqual(before)

    // Straight to the routes: 401 without a signature, 403 for a stranger, on each route; a push
    // body is never read (its stream stays unlocked).
    const car = await bytesOf(client.export())
    expect(await answer(await handler(new Request(`${URL_BASE}/heads`)))).toEqual([401, 'CAIRN_UNAUTHORIZED', expect.any(String)])
    const pushUnsigned = new Request(`${URL_BASE}/push`, { method: 'POST', body: car as Uint8Array<ArrayBuffer> })
    const res = await handler(pushUnsigned)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('cairn-sync-v1')
    expect(pushUnsigned.bodyUsed).toBe(false)
    const pushStranger = await signed(stranger, 'POST', '/push', car)
    expect((await answer(await handler(pushStranger)))[0]).toBe(403)
    expect(pushStranger.bodyUsed).toBe(false)
    expect((await answer(await handler(await signed(stranger, 'GET', '/heads', null))))[0]).toBe(403)
    expect(keys(server)).toEqual(before)

    // The known caller's push of the same bytes lands.
    const ok = await handler(await signed(id, 'POST', '/push', car))
    expect(ok.status).toBe(200)
    expect(keys(server)).not.toEqual(before)
  })

  test('canRead lets a caller pull and canPush lets one push; without them the rules decide', async () => {
    const reader = await createIdentity()
    const writer = await createIdentity()
    const server = await storeWithAccess([])
    await seeded(server, 'server', 2)
    const handler = createSyncHandler(server, { auth: { canRead: (did) => did === reader.did || did === writer.did, canPush: async (did) => did === writer.did } })

    const readerStore = await openStore()
    const pulled = await sync(readerStore, URL_BASE, { fetch: fetchOf(handler), signer: reader })
    expect(pulled.pulled.events).toBe(2)
    expect(keys(readerStore)).toEqual(keys(server))
    await seeded(readerStore, 'reader', 1)
    const before = keys(server)
    const refused = await refusal(sync(readerStore, URL_BASE, { fetch: fetchOf(handler), signer: reader }))
    expect(refused.message).toContain(`${reader.did} may not push`)
    expect(keys(server)).toEqual(before)

    const writerStore = await openStore()
    await seeded(writerStore, 'writer', 2)
    const report = await sync(writerStore, URL_BASE, { fetch: fetchOf(handler), signer: writer })
    expect(report.pushed.events).toBe(2)
    expect(keys(writerStore)).toEqual(keys(server))
  })

  test('a request signed too long ago or too far ahead is refused (401), within the window it is served', async () => {
    const id = await createIdentity()
    const server = await storeWithAccess([id.did])
    await seeded(server, 'server', 1)
    let clock = Date.now()
    const handler = createSyncHandler(server, { now: () => clock, auth: { maxSkewMs: 2 * MINUTE } })
    const client = await openStore()

    clock = Date.now() + 3 * MINUTE // the client's clock is 3 minutes behind the server's
    const stale = await refusal(sync(client, URL_BASE, { fetch: fetchOf(handler), signer: id }))
    expect(stale.code).toBe('CAIRN_UNAUTHORIZED')
    expect(stale.message).toMatch(/signed 18\d s before the server's time, more than the 120 s allowed/)
    clock = Date.now() - 3 * MINUTE // 3 minutes ahead
    expect((await refusal(sync(client, URL_BASE, { fetch: fetchOf(handler), signer: id }))).message).toContain('after the server')
    expect(client.heads).toEqual([])

    clock = Date.now() + MINUTE // one minute off: inside the window
    await sync(client, URL_BASE, { fetch: fetchOf(handler), signer: id })
    expect(keys(client)).toEqual(keys(server))

    const at = Date.now()
    clock = at
    const edge = (offset: number): Promise<Request> => signed(id, 'GET', '/heads', null, { time: at + offset })
    expect((await handler(await edge(2 * MINUTE))).status).toBe(200)
    expect((await handler(await edge(-2 * MINUTE))).status).toBe(200)
    expect((await handler(await edge(2 * MINUTE + 1))).status).toBe(401)
    expect((await handler(await edge(-2 * MINUTE - 1))).status).toBe(401)
  })

  test('a replayed request is refused the second time, a pull and a push alike, and the push lands once', async () => {
    const id = await createIdentity()
    const server = await storeWithAccess([id.did])
    await seeded(server, 'server', 2)
    const handler = createSyncHandler(server)
    const client = await openStore()
    await seeded(client, 'client', 3)
    const log: { request: Request; bytes: Uint8Array; status: number }[] = []
    await sync(client, URL_BASE, { fetch: fetchOf(handler, log), signer: id })
    expect(log.map((l) => l.status)).toEqual([200, 200])
    const after = keys(server)

    for (const { request, bytes } of log) {
      const copy = new Request(request.url, { method: request.method, headers: request.headers, body: bytes as Uint8Array<ArrayBuffer> })
      const [status, code, message] = await answer(await handler(copy))
      expect([status, code]).toEqual([401, 'CAIRN_UNAUTHORIZED'])
      expect(message).toContain('replayed')
    }
    expect(keys(server)).toEqual(after)

    // Two copies of one request at once: exactly one is served.
    const req = await signed(id, 'GET', '/heads', null)
    const statuses = await Promise.all([0, 1, 2].map(() => handler(new Request(req.url, { headers: req.headers })).then((r) => r.status)))
    expect(statuses.sort()).toEqual([200, 401, 401])
  })

  test('a body other than the one signed is refused (401) and nothing of a push is imported', async () => {
    const id = await createIdentity()
    const server = await storeWithAccess([id.did])
    await seeded(server, 'server', 1)
    const handler = createSyncHandler(server)
    const client = await openStore()
    await sync(client, URL_BASE, { fetch: fetchOf(handler), signer: id })
    await seeded(client, 'client', 2)
    const other = await openStore()
    await other.import(server.export())
    await seeded(other, 'other', 2)
    const before = keys(server)

    // Swap the push body for another valid CAR (one the server would import) after signing.
    const otherCar = await bytesOf(other.export({ since: server.heads }))
    const swapping: typeof fetch = async (input, init) => {
      if (!String(input).endsWith('/push')) return fetchOf(handler)(input, init)
      return handler(new Request(input as string, { ...init, body: otherCar as Uint8Array<ArrayBuffer> }))
    }
    const swapped = await refusal(sync(client, URL_BASE, { fetch: swapping, signer: id, gzip: false }))
    expect(swapped.code).toBe('CAIRN_UNAUTHORIZED')
    expect(swapped.message).toContain('not the one signed')
    expect(keys(server)).toEqual(before)
    // The same CAR, signed, is imported: only the swap was refused.
    expect((await handler(await signed(id, 'POST', '/push', otherCar))).status).toBe(200)
    expect(keys(server)).not.toEqual(before)

    // One byte of a gzipped push changed: refused, nothing imported.
    const now = keys(server)
    const flipping: typeof fetch = async (input, init) => {
      if (!String(input).endsWith('/push')) return fetchOf(handler)(input, init)
      const bytes = new Uint8Array(await new Request(input as string, init).arrayBuffer())
      bytes[bytes.length >> 1]! ^= 0x10
      return handler(new Request(input as string, { ...init, body: bytes }))
    }
    expect((await refusal(sync(client, URL_BASE, { fetch: flipping, signer: id }))).code).toMatch(/^CAIRN_(UNAUTHORIZED|INVALID_CAR)$/)
    expect(keys(server)).toEqual(now)

    // A pull body changed after signing, and a digest that is not the body's.
    const pull = encodePullBody({ heads: [], have: [] })
    const tampered = await signed(id, 'POST', '/pull', pull)
    const changed = new Request(tampered.url, { method: 'POST', headers: tampered.headers, body: encodePullBody({ heads: server.heads, have: [] }) as Uint8Array<ArrayBuffer> })
    expect((await answer(await handler(changed))).slice(0, 2)).toEqual([401, 'CAIRN_UNAUTHORIZED'])
    expect((await handler(await signed(id, 'GET', '/heads', null, { digest: bodyDigest(pull) }))).status).toBe(401)
  })

  test('a signature binds the method and path: moved to another route or query, or re-signed by another key, it fails', async () => {
    const id = await createIdentity()
    const mallory = await createIdentity()
    const server = await storeWithAccess([id.did, mallory.did])
    const handler = createSyncHandler(server)
    const body = encodePullBody({ heads: [], have: [] })
    const good = await signed(id, 'POST', '/pull', body)
    const moved = (url: string, headers: Headers): Request => new Request(url, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> })
    expect((await handler(moved(`${URL_BASE}/push`, good.headers))).status).toBe(401)
    expect((await handler(moved(`${URL_BASE}/pull?again=1`, good.headers))).status).toBe(401)
    const asMallory = new Headers(good.headers)
    asMallory.set('x-cairn-did', mallory.did)
    expect((await answer(await handler(moved(`${URL_BASE}/pull`, asMallory))))[2]).toContain('does not verify')
    // The original, untouched, is still fresh: the failures above did not burn its nonce.
    expect((await handler(moved(`${URL_BASE}/pull`, good.headers))).status).toBe(200)
  })

  test('without access rules unsigned requests are served as before, but bad signature headers are refused; requireSignedRequests turns signatures on', async () => {
    const id = await createIdentity()
    const server = await openStore()
    await seeded(server, 'server', 1)
    const open = createSyncHandler(server)
    const client = await openStore()
    await sync(client, URL_BASE, { fetch: fetchOf(open) })
    expect(keys(client)).toEqual(keys(server))
    await seeded(client, 'client', 1)
    await sync(client, URL_BASE, { fetch: fetchOf(open), signer: id })
    expect(keys(client)).toEqual(keys(server))
    const forged = await signed(id, 'GET', '/heads', null)
    forged.headers.set('x-cairn-time', String(Number(forged.headers.get('x-cairn-time')) + 1))
    expect((await answer(await open(forged))).slice(0, 2)).toEqual([401, 'CAIRN_UNAUTHORIZED'])
    const incomplete = new Request(`${URL_BASE}/heads`, { headers: { 'x-cairn-did': id.did } })
    expect((await answer(await open(incomplete)))[2]).toContain('lacks')

    const strict = createSyncHandler(server, { auth: { requireSignedRequests: true } })
    expect((await strict(new Request(`${URL_BASE}/heads`))).status).toBe(401)
    expect((await strict(await signed(id, 'GET', '/heads', null))).status).toBe(200)
    const picky = createSyncHandler(server, { auth: { requireSignedRequests: true, canRead: () => false } })
    expect((await picky(await signed(id, 'GET', '/heads', null))).status).toBe(403)
  })

  test('the nonce cache keeps at most maxNonces, answers 503 when full, and forgets nonces once their window passed', async () => {
    const id = await createIdentity()
    const server = await storeWithAccess([id.did])
    let clock = Date.now()
    const handler = createSyncHandler(server, { now: () => clock, auth: { maxNonces: 3, maxSkewMs: MINUTE } })
    const at = clock
    const heads = (): Promise<Request> => signed(id, 'GET', '/heads', null, { time: at })
    for (let i = 0; i < 3; i++) expect((await handler(await heads())).status).toBe(200)
    const full = await handler(await heads())
    expect([full.status, full.headers.get('retry-after')]).toEqual([503, '1'])
    clock = at + MINUTE + 1 // every nonce's window passed: requests signed now are taken again
    const later = (): Promise<Request> => signed(id, 'GET', '/heads', null, { time: clock })
    for (let i = 0; i < 3; i++) expect((await handler(await later())).status).toBe(200)
    expect((await handler(await later())).status).toBe(503)
  })

  test('bad auth and cors options are argument errors', async () => {
    const server = await openStore()
    expect(() => createSyncHandler(server, { auth: { maxSkewMs: -1 } })).toThrow(RangeError)
    expect(() => createSyncHandler(server, { auth: { canRead: 'yes' as never } })).toThrow(TypeError)
    expect(() => createSyncHandler(server, { auth: { maxNonces: 0 } })).toThrow(RangeError)
    expect(() => createSyncHandler(server, { cors: { origins: ['not a url'] } })).toThrow(TypeError)
    expect(() => createSyncHandler(server, { cors: { origins: 'any' as never } })).toThrow(TypeError)
    expect(() => createSyncHandler(server, { cors: { origins: '*', headers: ['bad header'] } })).toThrow(TypeError)
    await expect(sync(server, URL_BASE, { signer: { did: 'nope' } as never })).rejects.toThrow(TypeError)
  })
})

// Browsers drop a hand-set Origin header (a forbidden header), so these run in Node and Deno;
// the e2e spec (e2e/signed-sync.spec.ts) has Chromium send real cross-origin requests.
describe('CORS', () => {
  const corsTest = test.skipIf(runtime === 'browser')
  const APP = 'http://app.test:5173'
  const options: SyncHandlerOptions = { cors: { origins: [`${APP}/`], maxAge: 120, headers: ['Authorization'] } }

  corsTest('a preflight from an allowed origin is answered 204 with the methods, the headers and the max age; others are refused', async () => {
    const handler = createSyncHandler(await openStore(), options)
    const preflight = (path: string, origin: string): Request =>
      new Request(`${URL_BASE}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-cairn-signature' } })
    const res = await handler(preflight('/push', APP))
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(APP)
    expect(res.headers.get('access-control-allow-methods')).toBe('POST')
    const allowed = res.headers.get('access-control-allow-headers')!.split(', ')
    for (const h of ['content-type', 'x-cairn-did', 'x-cairn-time', 'x-cairn-nonce', 'x-cairn-digest', 'x-cairn-signature', 'x-cairn-encoding', 'x-cairn-accept-encoding', 'authorization']) {
      expect(allowed).toContain(h)
    }
    expect(res.headers.get('access-control-max-age')).toBe('120')
    expect(res.headers.get('vary')).toContain('origin')
    expect((await handler(preflight('/heads', APP))).headers.get('access-control-allow-methods')).toBe('GET, HEAD')

    const other = await handler(preflight('/push', 'http://evil.test'))
    expect(other.status).toBe(403)
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    expect((await handler(preflight('/nowhere', APP))).status).toBe(404)
    // Without the cors option, OPTIONS is a wrong method as before.
    expect((await createSyncHandler(await openStore())(preflight('/push', APP))).status).toBe(405)
  })

  corsTest('every answer to an allowed origin carries the CORS headers, errors included; a signed cross-origin sync works', async () => {
    const id = await createIdentity()
    const server = await storeWithAccess([id.did])
    await seeded(server, 'server', 2)
    const handler = createSyncHandler(server, options)
    const withOrigin =
      (origin: string): typeof fetch =>
      async (input, init) => {
        const response = await handler(new Request(input as string, { ...init, headers: { ...(init?.headers as Record<string, string>), origin } }))
        expect(response.headers.get('access-control-allow-origin')).toBe(origin === APP ? APP : null)
        if (origin === APP) expect(response.headers.get('access-control-expose-headers')).toBe('x-cairn-heads, x-cairn-encoding')
        return response
      }
    const client = await openStore()
    await seeded(client, 'client', 1)
    await sync(client, URL_BASE, { fetch: withOrigin(APP), signer: id })
    expect(keys(client)).toEqual(keys(server))
    expect((await refusal(sync(client, URL_BASE, { fetch: withOrigin(APP) }))).code).toBe('CAIRN_UNAUTHORIZED')
    await sync(client, URL_BASE, { fetch: withOrigin('http://evil.test'), signer: id }) // served; the browser would hide the answer
    const notFound = await handler(new Request(`${URL_BASE}/nothing`, { headers: { origin: APP } }))
    expect([notFound.status, notFound.headers.get('access-control-allow-origin')]).toEqual([404, APP])
    const pull = encodePullBody({ heads: [], have: [] })
    const pullHeaders = await signRequest(id, { method: 'POST', url: `${URL_BASE}/pull`, digest: bodyDigest(pull) })
    const pullAnswer = await handler(new Request(`${URL_BASE}/pull`, { method: 'POST', headers: { ...pullHeaders, origin: APP }, body: pull as Uint8Array<ArrayBuffer> }))
    expect(pullAnswer.status).toBe(200)
    expect(pullAnswer.headers.get('vary')).toBe('x-cairn-accept-encoding, origin')

    const anyOrigin = createSyncHandler(server, { cors: { origins: '*' } })
    const res = await anyOrigin(new Request(`${URL_BASE}/heads`, { headers: { origin: 'http://whoever.test' } }))
    expect([res.status, res.headers.get('access-control-allow-origin')]).toEqual([401, '*'])
  })
})
