// Signed sync requests, run against the fetch-API handler directly (no socket), so every runtime
// checks them: the signed string, a signed round trip, and each refusal (unsigned, unknown
// caller, stale, replayed, another body than the one signed, a signature moved to another
// route or made for another origin), with the server's store unchanged after each; the real
// access rules deciding who is admitted and which pushed events are kept (a writer admitted
// through a grant, a reader writing outside its grant, a revoked writer), their `refused` and a
// gate's `reasons` reaching the client; canRead/canPush; auth.audience; the nonce cache's
// bound; CORS preflights and headers. Real WebCrypto Ed25519 keys throughout.
import { describe, expect, test } from 'vitest'
import { CairnError } from '../../src/errors/cairn-error.ts'
import { createIdentity } from '../../src/identity/create.ts'
import type { Identity } from '../../src/identity/interface.ts'
import { verifySignature } from '../../src/identity/verify.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import { CairnStore } from '../../src/store/store.ts'
import { sync } from '../../src/transports/http/client.ts'
import { createSyncHandler, type SyncHandler, type SyncHandlerOptions } from '../../src/transports/http/handler.ts'
import { EMPTY_BODY_DIGEST, bodyDigest, encodePullBody, errorAnswer, errorOfAnswer, fromBase64url, readSignatureClaim, signRequest, signingString, statusOf } from '../../src/transports/http/protocol.ts'
import { runtime } from '../support/runtime.ts'
import { bytesOf, collect } from '../support/stores.ts'

const URL_BASE = 'http://sync.test/cairn'
const MINUTE = 60_000

/** A server store with access rules whose root admin is `admin`; it signs its own events as `admin`. */
function ruledServer(admin: Identity, options: StoreOptions = {}): Promise<CairnStore> {
  return CairnStore.open(new MemoryStorage(), { signer: admin, access: { admins: [admin.did] }, ...options })
}

/** A store without access rules; its events are signed by `signer` when given. */
function openStore(signer?: Identity, options: StoreOptions = {}): Promise<CairnStore> {
  return CairnStore.open(new MemoryStorage(), { ...(signer === undefined ? {} : { signer }), ...options })
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

/** A request signed by `signer` for `path` under `base` (default URL_BASE), with `body` (digest of it unless `digest` says otherwise). */
async function signed(signer: Identity, method: string, path: string, body: Uint8Array | null, { base = URL_BASE, ...extra }: { base?: string; time?: number; nonce?: string; digest?: string } = {}): Promise<Request> {
  const url = `${base}${path}`
  const digest = extra.digest ?? (body === null ? EMPTY_BODY_DIGEST : bodyDigest(body))
  const headers = await signRequest(signer, { method, url, digest, ...extra })
  return new Request(url, { method, headers, ...(body === null ? {} : { body: body as Uint8Array<ArrayBuffer> }) })
}

describe('signed requests: the scheme', () => {
  test('the signed string is exactly the seven lines, the origin second; the headers carry what it names', async () => {
    expect(signingString({ audience: 'https://sync.example.org', method: 'POST', path: '/cairn/pull?x=1', digest: EMPTY_BODY_DIGEST, time: 1_700_000_000_123, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' })).toBe(
      'cairn-sync-v1\nhttps://sync.example.org\nPOST\n/cairn/pull?x=1\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU\n1700000000123\nAAAAAAAAAAAAAAAAAAAAAA',
    )
    // The example of docs/format-v1.md, section 12.6.
    expect(signingString({ audience: 'https://sync.example.org', method: 'GET', path: '/cairn/heads', digest: EMPTY_BODY_DIGEST, time: 1_700_000_000_123, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' }).split('\n')).toEqual([
      'cairn-sync-v1',
      'https://sync.example.org',
      'GET',
      '/cairn/heads',
      '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU',
      '1700000000123',
      'AAAAAAAAAAAAAAAAAAAAAA',
    ])
    const id = await createIdentity()
    const body = encodePullBody({ heads: [], have: [] })
    const headers = await signRequest(id, { method: 'POST', url: `${URL_BASE}/pull?x=1`, digest: bodyDigest(body), time: 42 })
    // The audience is the URL's origin as URL.origin spells it: scheme and host lower case, no default port.
    const spelled = await signRequest(id, { method: 'GET', url: 'HTTPS://Sync.Example.ORG:443/cairn/heads', digest: EMPTY_BODY_DIGEST, time: 7 })
    const fields = { method: 'GET', path: '/cairn/heads', digest: EMPTY_BODY_DIGEST, time: 7, nonce: spelled['x-cairn-nonce']! }
    const sig = fromBase64url(spelled['x-cairn-signature']!)!
    const over = (audience: string): Uint8Array => new TextEncoder().encode(signingString({ audience, ...fields }))
    expect(await verifySignature(id.did, over('https://sync.example.org'), sig)).toBe(true)
    expect(await verifySignature(id.did, over('https://sync.example.org:443'), sig)).toBe(false)
    await expect(signRequest(id, { method: 'GET', url: 'ftp://sync.example.org/cairn/heads', digest: EMPTY_BODY_DIGEST })).rejects.toThrow(TypeError)
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

  test('an error answer carries cid, refused and reasons, and the client gets them back; malformed ones are left out', async () => {
    const store = await openStore()
    const [a, b] = await store.appendMany([
      { stream: 's', type: 't', data: 1 },
      { stream: 's', type: 't', data: 2 },
    ])
    const sent = errorAnswer('CAIRN_REFUSED', 'no', { cid: a!.cid, refused: [a!.cid, b!.cid], reasons: ['one', 'two'] })
    expect(sent).toEqual({ code: 'CAIRN_REFUSED', message: 'no', cid: String(a!.cid), refused: [String(a!.cid), String(b!.cid)], reasons: ['one', 'two'] })
    expect(errorAnswer('CAIRN_SYNC', 'x')).toEqual({ code: 'CAIRN_SYNC', message: 'x' })
    const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
    const back = errorOfAnswer(403, 'Forbidden', bytes(sent), 'http://x/cairn/push')
    expect([back.code, back.message, String(back.cid)]).toEqual(['CAIRN_REFUSED', 'http://x/cairn/push refused: no', String(a!.cid)])
    expect(back.refused?.map(String)).toEqual([String(a!.cid), String(b!.cid)])
    expect(back.reasons).toEqual(['one', 'two'])
    const bad = errorOfAnswer(403, 'Forbidden', bytes({ ...sent, cid: 'nope', refused: [String(a!.cid), 'nope'], reasons: ['one', 2] }), 'http://x/cairn/push')
    expect([bad.code, bad.cid, bad.refused, bad.reasons]).toEqual(['CAIRN_REFUSED', undefined, undefined, undefined])
  })
})

describe('signed sync through the handler', () => {
  test("the admin's other replica syncs both ways with signed requests; every request carried a signature", async () => {
    const id = await createIdentity()
    const server = await ruledServer(id)
    const client = await openStore(id)
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
    const server = await ruledServer(id)
    await seeded(server, 'server', 2)
    const before = keys(server)
    const client = await openStore(id) // its events are the admin's: only the requests are at fault
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

  test('a writer the admin granted is admitted once the grant is on the server; what it writes after pulling the grant lands, what it wrote before is refused', async () => {
    const admin = await createIdentity()
    const writer = await createIdentity()
    const server = await ruledServer(admin)
    await seeded(server, 'server', 2)
    const handler = createSyncHandler(server)
    const early = await openStore(writer)
    const before = await early.append({ stream: 'todo/1', type: 'added', data: { early: true } })

    // Not yet granted: refused at the door, nothing read.
    expect((await refusal(sync(early, URL_BASE, { fetch: fetchOf(handler), signer: writer }))).message).toContain(`${writer.did} may not read`)
    const grant = await server.grant(writer.did, { streams: 'todo/' })
    const atGrant = keys(server)

    // Granted: the pull is served (the grant comes with it), but the event written before the
    // writer held the grant has no grant in its past: the import rules refuse the push (403),
    // naming it, and the server keeps nothing of it.
    const err = await refusal(sync(early, URL_BASE, { fetch: fetchOf(handler), signer: writer }))
    expect(err.code).toBe('CAIRN_UNAUTHORIZED')
    expect(err.message).toContain(`${writer.did} holds no grant for stream "todo/1"`)
    expect(String(err.cid)).toBe(String(before.cid))
    expect(err.refused?.map(String)).toEqual([String(before.cid)])
    expect(keys(server)).toEqual(atGrant)
    expect((await early.getEvent(grant.cid)).type).toBe('access.grant')

    // A replica of the writer that pulls first: its events have the grant in their past.
    const laptop = await openStore(writer)
    expect((await sync(laptop, URL_BASE, { fetch: fetchOf(handler), signer: writer })).pulled.events).toBe(3)
    await laptop.append({ stream: 'todo/1', type: 'added', data: { title: 'milk' } })
    await laptop.append({ stream: 'todo/2', type: 'added', data: { title: 'eggs' } })
    const report = await sync(laptop, URL_BASE, { fetch: fetchOf(handler), signer: writer })
    expect(report.pushed.events).toBe(2)
    expect(keys(server)).toEqual(keys(laptop))
    expect((await collect(server.read('todo/1'))).map((e) => e.author)).toEqual([writer.did])
  })

  test('a known caller pushing events the import rules refuse — outside its grant, or after its revocation — gets 403 listing them; the server is unchanged', async () => {
    const admin = await createIdentity()
    const reader = await createIdentity()
    const writer = await createIdentity()
    const server = await ruledServer(admin)
    await server.grant(reader.did, { streams: 'a/' })
    await server.grant(writer.did, { streams: 'w/' })
    const handler = createSyncHandler(server)

    // A caller granted 'a/' writes 'a/1' and 'b/x': the handler admits it (the rules know it),
    // the import refuses the CAR for the 'b/x' event, and keeps the 'a/1' event neither.
    const readerStore = await openStore(reader)
    await sync(readerStore, URL_BASE, { fetch: fetchOf(handler), signer: reader })
    await readerStore.append({ stream: 'a/1', type: 'noted' })
    const outside = await readerStore.append({ stream: 'b/x', type: 'noted' })
    const before = keys(server)
    const err = await refusal(sync(readerStore, URL_BASE, { fetch: fetchOf(handler), signer: reader }))
    expect(err.code).toBe('CAIRN_UNAUTHORIZED')
    expect(err.message).toContain(`${reader.did} holds no grant for stream "b/x"`)
    expect(err.refused?.map(String)).toEqual([String(outside.cid)])
    expect(err.reasons).toBeUndefined()
    expect(keys(server)).toEqual(before)
    expect(await collect(server.read('a/1'))).toEqual([])
    // On the wire: 403 with the refused CIDs as strings.
    const car = await bytesOf(readerStore.export({ since: server.heads }))
    const res = await handler(await signed(reader, 'POST', '/push', car))
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({ code: 'CAIRN_UNAUTHORIZED', message: expect.stringContaining('"b/x"'), cid: String(outside.cid), refused: [String(outside.cid)] })
    expect(keys(server)).toEqual(before)
    // The control: a replica of the reader that writes inside its grant lands.
    const inGrant = await openStore(reader)
    await sync(inGrant, URL_BASE, { fetch: fetchOf(handler), signer: reader })
    await inGrant.append({ stream: 'a/2', type: 'noted' })
    expect((await sync(inGrant, URL_BASE, { fetch: fetchOf(handler), signer: reader })).pushed.events).toBe(1)
    expect(keys(server)).toEqual(keys(inGrant))

    // A writer, revoked: the rules no longer know it, so the handler refuses it at the door.
    const writerStore = await openStore(writer)
    await sync(writerStore, URL_BASE, { fetch: fetchOf(handler), signer: writer })
    await writerStore.append({ stream: 'w/1', type: 'noted' })
    expect((await sync(writerStore, URL_BASE, { fetch: fetchOf(handler), signer: writer })).pushed.events).toBe(1)
    await server.revoke(writer.did)
    const concurrent = await writerStore.append({ stream: 'w/2', type: 'noted' }) // not seen the revocation
    const atRevoke = keys(server)
    expect((await refusal(sync(writerStore, URL_BASE, { fetch: fetchOf(handler), signer: writer }))).message).toContain(`${writer.did} may not read`)
    expect(keys(server)).toEqual(atRevoke)
    // A server that lets every signed caller in leaves it to the import rules: the event written
    // concurrently with the revocation stays (as on every replica), one written after the writer
    // pulled the revocation is refused, named in `refused`.
    const open = createSyncHandler(server, { auth: { canRead: () => true, canPush: () => true } })
    expect((await sync(writerStore, URL_BASE, { fetch: fetchOf(open), signer: writer })).pushed.events).toBe(1)
    expect((await server.getEvent(concurrent.cid)).author).toBe(writer.did)
    const late = await writerStore.append({ stream: 'w/3', type: 'noted' })
    const afterConcurrent = keys(server)
    const revoked = await refusal(sync(writerStore, URL_BASE, { fetch: fetchOf(open), signer: writer }))
    expect(revoked.code).toBe('CAIRN_UNAUTHORIZED')
    expect(revoked.refused?.map(String)).toEqual([String(late.cid)])
    expect(keys(server)).toEqual(afterConcurrent)
  })

  test("a policy gate's refusal of pushed events reaches the client as CAIRN_REFUSED (403) with its reasons", async () => {
    const positive = (e: { type: string; data: unknown }): string | undefined => (e.type === 'paid' && !((e.data as { amount: number }).amount > 0) ? 'a payment needs a positive amount' : undefined)
    const server = await openStore(undefined, { gates: [positive] })
    const handler = createSyncHandler(server)
    const client = await openStore()
    await client.append({ stream: 'acct', type: 'paid', data: { amount: 5 } })
    const bad = await client.append({ stream: 'acct', type: 'paid', data: { amount: -5 } })
    const err = await refusal(sync(client, URL_BASE, { fetch: fetchOf(handler) }))
    expect(err.code).toBe('CAIRN_REFUSED')
    expect(err.refused?.map(String)).toEqual([String(bad.cid)])
    expect(err.reasons).toEqual([`${bad.cid}: a payment needs a positive amount`])
    expect(server.heads).toEqual([])
    const res = await handler(new Request(`${URL_BASE}/push`, { method: 'POST', body: (await bytesOf(client.export())) as Uint8Array<ArrayBuffer> }))
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ code: 'CAIRN_REFUSED', refused: [String(bad.cid)], reasons: [`${bad.cid}: a payment needs a positive amount`] })
  })

  test('canRead and canPush admit callers the rules do not know; their pushed events still pass the import rules', async () => {
    const admin = await createIdentity()
    const reader = await createIdentity()
    const relay = await createIdentity()
    const server = await ruledServer(admin)
    await seeded(server, 'server', 2)
    const handler = createSyncHandler(server, { auth: { canRead: (did) => did === reader.did || did === relay.did, canPush: async (did) => did === relay.did } })

    const readerStore = await openStore(reader)
    const pulled = await sync(readerStore, URL_BASE, { fetch: fetchOf(handler), signer: reader })
    expect(pulled.pulled.events).toBe(2)
    expect(keys(readerStore)).toEqual(keys(server))
    await seeded(readerStore, 'reader', 1)
    const before = keys(server)
    const refused = await refusal(sync(readerStore, URL_BASE, { fetch: fetchOf(handler), signer: reader }))
    expect(refused.message).toContain(`${reader.did} may not push`)
    expect(keys(server)).toEqual(before)

    // A relay carries events the admin signed on another replica: canPush lets it push them, and
    // the import rules admit them (their author is the admin).
    const adminReplica = await openStore(admin)
    await adminReplica.import(server.export())
    await seeded(adminReplica, 'admin', 2)
    const carrier = await openStore()
    await carrier.import(adminReplica.export())
    const report = await sync(carrier, URL_BASE, { fetch: fetchOf(handler), signer: relay })
    expect(report.pushed.events).toBe(2)
    expect(keys(carrier)).toEqual(keys(server))
    // Its own unsigned events: let in by canPush, refused by the import rules.
    const own = await carrier.append({ stream: 'notes-relay', type: 'note.added' })
    const err = await refusal(sync(carrier, URL_BASE, { fetch: fetchOf(handler), signer: relay }))
    expect(err.message).toContain('an unsigned event holds no grant')
    expect(err.refused?.map(String)).toEqual([String(own.cid)])
    expect(keys(server)).toEqual(keys(adminReplica))
  })

  test('a request signed too long ago or too far ahead is refused (401), within the window it is served', async () => {
    const id = await createIdentity()
    const server = await ruledServer(id)
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
    const server = await ruledServer(id)
    await seeded(server, 'server', 2)
    const handler = createSyncHandler(server)
    const client = await openStore(id)
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
    const server = await ruledServer(id)
    await seeded(server, 'server', 1)
    const handler = createSyncHandler(server)
    const client = await openStore(id)
    await sync(client, URL_BASE, { fetch: fetchOf(handler), signer: id })
    await seeded(client, 'client', 2)
    const other = await openStore(id)
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
    const server = await ruledServer(id)
    await server.grant(mallory.did, { streams: '*' }) // admitted too: only the signature is at fault below
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

  test('a signature names the origin it was made for: a handler at another origin refuses it (401); auth.audience names the origins clients address', async () => {
    const id = await createIdentity()
    const server = await ruledServer(id)
    await seeded(server, 'server', 1)
    const handler = createSyncHandler(server) // its origin: that of each request's URL
    const A = 'http://a.test'
    const deliverAt = (origin: string, req: Request): Request => new Request(req.url.replace(/^https?:\/\/[^/]+/, origin), { method: req.method, headers: req.headers })

    // Signed for origin A, delivered to the handler at origin B (another host, scheme or port): 401.
    for (const B of ['http://b.test', 'https://a.test', 'http://a.test:8080']) {
      const [status, code, message] = await answer(await handler(deliverAt(B, await signed(id, 'GET', '/heads', null, { base: `${A}/cairn` }))))
      expect([status, code]).toEqual([401, 'CAIRN_UNAUTHORIZED'])
      expect(message).toContain(`for ${B}, over GET /cairn/heads): signed for another origin`)
    }
    expect((await handler(deliverAt(A, await signed(id, 'GET', '/heads', null, { base: `${A}/cairn` })))).status).toBe(200)
    // A whole sync addressed to A that another server forwards to B: refused, nothing pulled.
    const client = await openStore(id)
    const forwarding: typeof fetch = (input, init) => fetchOf(handler)(String(input).replace(A, 'http://b.test'), init)
    expect((await refusal(sync(client, `${A}/cairn`, { fetch: forwarding, signer: id }))).message).toContain('signed for another origin')
    expect(client.heads).toEqual([])

    // Behind a proxy: the handler sees http://10.0.0.5:8787, clients address the public names.
    const inside = 'http://10.0.0.5:8787'
    const proxied = createSyncHandler(server, { auth: { audience: ['https://sync.example.org/', 'HTTPS://Sync.Example.NET:443'] } })
    for (const publicOrigin of ['https://sync.example.org', 'https://sync.example.net']) {
      expect((await proxied(deliverAt(inside, await signed(id, 'GET', '/heads', null, { base: `${publicOrigin}/cairn` })))).status).toBe(200)
    }
    // With audience set, only it counts: not the URL's own origin, nor any other.
    for (const other of [inside, 'https://evil.example', 'http://sync.example.org']) {
      expect((await proxied(deliverAt(inside, await signed(id, 'GET', '/heads', null, { base: `${other}/cairn` })))).status).toBe(401)
    }
    const viaProxy: typeof fetch = (input, init) => fetchOf(proxied)(String(input).replace('https://sync.example.org', inside), init)
    await sync(client, 'https://sync.example.org/cairn', { fetch: viaProxy, signer: id })
    expect(keys(client)).toEqual(keys(server))

    for (const bad of ['not a url', 'ftp://sync.example.org', [], ['https://ok.example', 42]]) {
      expect(() => createSyncHandler(server, { auth: { audience: bad as never } })).toThrow(TypeError)
    }
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
    const server = await ruledServer(id)
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

  test('a `now` that reads NaN, undefined or a negative time fails the signed request (500, onError) instead of turning the time window and nonce check off', async () => {
    const id = await createIdentity()
    const server = await ruledServer(id)
    const stale = await signed(id, 'GET', '/heads', null, { time: Date.now() - 60 * MINUTE })
    for (const reading of [Number.NaN, undefined, -1]) {
      const errors: unknown[] = []
      const handler = createSyncHandler(server, { now: () => reading as number, onError: (e) => errors.push(e) })
      // Before, a stale request (and its replay) was served: NaN compares false with the window.
      for (let i = 0; i < 2; i++) expect((await handler(new Request(stale.url, { headers: stale.headers }))).status).toBe(500)
      expect(errors.length).toBe(2)
      expect(String(errors[0])).toMatch(/"now" returned/)
    }
    // A fractional reading, or a Date, is a time as before.
    for (const now of [() => Date.now() + 0.5, () => new Date() as unknown as number]) {
      const handler = createSyncHandler(server, { now })
      expect((await handler(await signed(id, 'GET', '/heads', null))).status).toBe(200)
      expect((await handler(new Request(stale.url, { headers: stale.headers }))).status).toBe(401)
    }
  })

  test('bad auth and cors options are argument errors', async () => {
    const server = await openStore()
    expect(() => createSyncHandler(server, { auth: { maxSkewMs: -1 } })).toThrow(RangeError)
    expect(() => createSyncHandler(server, { auth: { canRead: 'yes' as never } })).toThrow(TypeError)
    expect(() => createSyncHandler(server, { auth: { maxNonces: 0 } })).toThrow(RangeError)
    expect(() => createSyncHandler(server, { cors: { origins: ['not a url'] } })).toThrow(TypeError)
    expect(() => createSyncHandler(server, { cors: { origins: 'any' as never } })).toThrow(TypeError)
    expect(() => createSyncHandler(server, { cors: { origins: '*', headers: ['bad header'] } })).toThrow(TypeError)
    // A foreign CAR pushed with this type would have written object.put events no peer can import.
    expect(() => createSyncHandler(server, { import: { foreignType: '\ufeffcar' } })).toThrow(/^"import\.foreignType" must not start with U\+FEFF/)
    await expect(sync(server, URL_BASE, { signer: { did: 'nope' } as never })).rejects.toThrow(TypeError)
    // A handler made for no store answered every request 500; sync threw an untyped TypeError.
    expect(() => createSyncHandler(undefined as never)).toThrow(/^"store" expected a CairnStore/)
    // gzip: 'no' turned gzip on; a Headers object was sent as no headers, an undefined value as "undefined".
    expect(() => createSyncHandler(server, { gzip: 'no' as never })).toThrow(/^"gzip" expected a boolean, got string/)
    const never = (async () => {
      throw new Error('no request may be sent')
    }) as typeof fetch
    for (const [options, message] of [
      [{ gzip: 'false' }, /^"gzip" expected a boolean, got string/],
      [{ headers: new Headers({ authorization: 'Bearer t' }) }, /^"headers" expected a plain object of strings, got a Headers object/],
      [{ headers: { authorization: undefined } }, /^"headers\.authorization" expected a string, got undefined/],
      [{ headers: { 'x-n': 5 } }, /^"headers\.x-n" expected a string, got number/],
    ] as [object, RegExp][]) {
      await expect(sync(server, URL_BASE, { fetch: never, ...options })).rejects.toThrow(message)
    }
    // signRequest: a misspelt key would have signed the present time; no request at all threw untyped.
    const me = await createIdentity()
    const request = { method: 'GET', url: `${URL_BASE}/heads`, digest: EMPTY_BODY_DIGEST }
    await expect(signRequest(me, { ...request, tiem: 5 } as never)).rejects.toThrow(/^"request\.tiem" is an unknown key/)
    await expect(signRequest(me, undefined as never)).rejects.toThrow(/^"request" expected an object, got undefined/)
    await expect(signRequest(me, { ...request, time: Number.NaN })).rejects.toThrow(/^"request\.time" expected a non-negative integer/)
    await expect(signRequest(me, { ...request, method: undefined } as never)).rejects.toThrow(/^"request\.method" expected a non-empty string/)
    await expect(signRequest({ did: me.did } as never, request)).rejects.toThrow(/^"signer\.sign" expected a function/)
    expect(Object.keys(await signRequest(me, { ...request, time: 1, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' }))).toHaveLength(5)
    await expect(sync(null as never, URL_BASE, { fetch: fetchOf(createSyncHandler(server)) })).rejects.toThrow(/^"store" expected a CairnStore/)
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
    const server = await ruledServer(id)
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
    const client = await openStore(id)
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
