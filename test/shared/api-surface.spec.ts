// Rough edges of the public API, each pinned where it runs in every runtime: ALL_STREAMS from
// the entries; replay's filter object (the EventFilter fields, `type` also a list, any other
// key a TypeError that changes nothing); the message of a bad projection name, naming the rule;
// the signRequest doc example's body (encodeValue of { heads, have }) accepted by a handler.
import { describe, expect, test } from 'vitest'
import * as browserEntry from '../../src/index.ts'
import { createIdentity } from '../../src/identity/create.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { createSyncHandler } from '../../src/transports/http/handler.ts'
import { encodePullBody } from '../../src/transports/http/protocol.ts'
import { importServerOnly, runtime } from '../support/runtime.ts'
import { collect } from '../support/stores.ts'

const { ALL_STREAMS, bodyDigest, encodeValue, signRequest } = browserEntry

/** What `p` rejected with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a rejection').toBeInstanceOf(Error)
  return err as Error
}

describe('ALL_STREAMS', () => {
  test('both entries export it; a grant with it lets the grantee write every stream', async () => {
    expect(ALL_STREAMS).toBe('*')
    if (runtime !== 'browser') {
      const nodeEntry = await importServerOnly<typeof import('../../src/index.node.ts')>(new URL('../../src/index.node.ts', import.meta.url).href)
      expect(nodeEntry.ALL_STREAMS).toBe(ALL_STREAMS)
    }
    const admin = await createIdentity()
    const writer = await createIdentity()
    const store = await CairnStore.open(new MemoryStorage(), { signer: admin, access: { admins: [admin.did] } })
    expect(store.can(writer.did, 'todo/1')).toBe(false)
    const { data } = await store.grant(writer.did, { streams: ALL_STREAMS })
    expect(data).toEqual({ did: writer.did, streams: '*', admin: false })
    for (const stream of ['todo/1', 'cart-7', 'anything']) expect(store.can(writer.did, stream)).toBe(true)
    await store.close()
  })
})

describe("replay's filter", () => {
  async function chain(): Promise<{ store: CairnStore; last: browserEntry.StoredEvent }> {
    const store = await CairnStore.open(new MemoryStorage())
    let last: browserEntry.StoredEvent | undefined
    for (let i = 0; i < 6; i++) last = await store.append({ stream: 'cart-7', type: i % 2 === 0 ? 'item.added' : 'item.removed', data: i })
    await store.append({ stream: 'other', type: 'item.added', data: 'x' })
    return { store, last: last! }
  }
  const data = (events: browserEntry.StoredEvent[]): unknown[] => events.map((e) => e.data)

  test('takes the EventFilter fields: stream, streamPrefix and type (one or a list), all matching', async () => {
    const { store, last } = await chain()
    const replay = (filter: browserEntry.ReplayFilter): Promise<unknown[]> => collect(store.replay(last.cid, { filter })).then(data)
    expect(await replay({})).toEqual([0, 1, 2, 3, 4, 5])
    expect(await replay({ stream: 'cart-7' })).toEqual([0, 1, 2, 3, 4, 5])
    expect(await replay({ stream: 'other' })).toEqual([])
    expect(await replay({ streamPrefix: 'cart-' })).toEqual([0, 1, 2, 3, 4, 5])
    expect(await replay({ streamPrefix: 'order-' })).toEqual([])
    expect(await replay({ type: 'item.added' })).toEqual([0, 2, 4])
    expect(await replay({ type: ['item.removed'] })).toEqual([1, 3, 5])
    expect(await replay({ stream: 'cart-7', streamPrefix: 'cart', type: 'item.removed' })).toEqual([1, 3, 5])
    expect(await replay({ stream: 'other', type: 'item.removed' })).toEqual([])
    // A key given as undefined is as good as absent (an options object built by spreading).
    expect(await replay({ type: 'item.added', extra: undefined } as browserEntry.ReplayFilter)).toEqual([0, 2, 4])
    await store.close()
  })

  test('a key it does not have is a TypeError naming it, before anything is read; a bad field value too', async () => {
    const { store, last } = await chain()
    const before = { heads: store.heads.map(String), stats: await store.stats() }
    const cases: [unknown, RegExp][] = [
      [{ tpye: 'item.added' }, /^"filter\.tpye" is not a filter field: replay's filter takes stream, type \(one type or a list\) and streamPrefix, or is a predicate$/],
      [{ type: 'item.added', since: 0 }, /^"filter\.since" is not a filter field/],
      [{ limit: 2 }, /^"filter\.limit" is not a filter field/],
      [{ stream: 7 }, /^"filter\.stream" expected a non-empty string/],
      [{ streamPrefix: '' }, /^"filter\.streamPrefix" expected a non-empty string/],
      [{ type: [1] }, /^"filter\.type\[0\]" expected a non-empty string/],
      [{ type: 3 }, /^"filter\.type" expected a string or an array of strings/],
      ['item.added', /^"filter" expected an object/],
    ]
    for (const [filter, message] of cases) {
      const err = await rejection(collect(store.replay(last.cid, { filter: filter as browserEntry.ReplayFilter })))
      expect(err, JSON.stringify(filter)).toBeInstanceOf(TypeError)
      expect(err.message).toMatch(message)
    }
    expect({ heads: store.heads.map(String), stats: await store.stats() }).toEqual(before)
    await store.close()
  })
})

describe('project: a bad name', () => {
  test('the RangeError says what a valid name is; the longest valid name (62 characters) opens', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const spec = { initial: 0, reducer: (n: number) => n + 1 }
    for (const name of ['Bad Name', 'a'.repeat(63), 'carts/v2']) {
      const err = await rejection(store.project(name, spec))
      expect(err, name).toBeInstanceOf(RangeError)
      expect(err.message).toBe(`"name" expected 1 to 62 characters, each a-z, 0-9, ".", "_" or "-" (e.g. "carts.v2"), got ${JSON.stringify(name)}`)
    }
    const long = await rejection(store.project('X'.repeat(200), spec))
    expect(long.message).toMatch(/got "X{80}…"$/)
    const projection = await store.project('a'.repeat(62), spec)
    await store.append({ stream: 's', type: 't' })
    expect(await projection.get('s')).toBe(1)
    await store.close()
  })
})

describe('signRequest: the doc example', () => {
  test('a pull body made with encodeValue({ heads, have }) is the body sync sends, and a handler answers the signed request', async () => {
    const me = await createIdentity()
    const server = await CairnStore.open(new MemoryStorage(), { signer: me, access: { admins: [me.did] } })
    await server.append({ stream: 'notes', type: 'note.added', data: 'hi' })
    const store = await CairnStore.open(new MemoryStorage())
    await store.append({ stream: 'mine', type: 'x' })
    const url = 'https://example.org/cairn/pull'
    const { bytes: body } = encodeValue({ heads: store.heads, have: [] })
    expect(body).toEqual(encodePullBody({ heads: store.heads, have: [] }))
    const headers = await signRequest(me, { method: 'POST', url, digest: bodyDigest(body) })
    const handler = createSyncHandler(server, { auth: { requireSignedRequests: true } })
    const response = await handler(new Request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/cbor' }, body: body as Uint8Array<ArrayBuffer> }))
    expect(response.status).toBe(200)
    await store.import(new Uint8Array(await response.arrayBuffer()))
    expect(await collect(store.read('notes'))).toHaveLength(1)
    await store.close()
    await server.close()
  })
})
