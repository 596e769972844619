// Rough edges of the public API, each pinned where it runs in every runtime: ALL_STREAMS from
// the entries; replay's filter object (the EventFilter fields, `type` also a list, any other
// key a TypeError that changes nothing); every options and filter object of the store, its
// projections and openStore refusing a key it does not know (a misspelt `tpye` would otherwise
// be ignored: a query for every event, an append without its version check), with a TypeError
// naming it and listing the known ones, nothing read or changed, while the valid forms (and a
// key given as undefined) still work; the message of a bad projection name, naming the rule;
// the signRequest doc example's body (encodeValue of { heads, have }) accepted by a handler.
import { describe, expect, test } from 'vitest'
import * as browserEntry from '../../src/index.ts'
import { createIdentity } from '../../src/identity/create.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { createSyncHandler } from '../../src/transports/http/handler.ts'
import { encodePullBody } from '../../src/transports/http/protocol.ts'
import { importServerOnly, runtime } from '../support/runtime.ts'
import { bytesOf, collect, errorOf } from '../support/stores.ts'

const { ALL_STREAMS, bodyDigest, encodeValue, signRequest } = browserEntry

/** Expects `err` to be the TypeError of the unknown key `path`, listing `known`. */
function unknownKey(err: unknown, path: string, known: string): void {
  expect(err, path).toBeInstanceOf(TypeError)
  expect((err as Error).message).toBe(`"${path}" is an unknown key; the known keys are ${known}`)
}

/** What `f` threw synchronously (fails when it returns). */
function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (err) {
    return err
  }
  expect.fail('expected a throw')
}

/** Runs each write in a transaction after an append, and expects its TypeError for the unknown key `path`, listing `known`. */
async function refusedInTransactions(store: CairnStore, writes: readonly [path: string, write: (tx: browserEntry.Transaction) => unknown, known: string][]): Promise<void> {
  for (const [path, write, known] of writes) {
    unknownKey(
      await errorOf(
        store.transaction(async (tx) => {
          tx.append({ stream: 'cart-7', type: 'before' })
          await write(tx)
        }),
      ),
      path,
      known,
    )
  }
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
      [{ tpye: 'item.added' }, /^"filter\.tpye" is an unknown key; the known keys are stream, type, streamPrefix$/],
      [{ type: 'item.added', since: 0 }, /^"filter\.since" is an unknown key/],
      [{ limit: 2 }, /^"filter\.limit" is an unknown key/],
      [{ stream: 7 }, /^"filter\.stream" expected a non-empty string/],
      [{ streamPrefix: '' }, /^"filter\.streamPrefix" expected a non-empty string/],
      [{ type: [1] }, /^"filter\.type\[0\]" expected a non-empty string/],
      [{ type: 3 }, /^"filter\.type" expected a string or an array of strings/],
      ['item.added', /^"filter" expected an object/],
    ]
    for (const [filter, message] of cases) {
      const err = await errorOf(collect(store.replay(last.cid, { filter: filter as browserEntry.ReplayFilter })))
      expect(err, JSON.stringify(filter)).toBeInstanceOf(TypeError)
      expect(err.message).toMatch(message)
    }
    expect({ heads: store.heads.map(String), stats: await store.stats() }).toEqual(before)
    await store.close()
  })
})

describe('options and filter objects: a key they do not know is a TypeError naming it; nothing is read or changed', () => {
  /** A store with events in two streams (one caused by, and correlated with, another), a value and a file. */
  async function fixture(): Promise<{ store: CairnStore; first: browserEntry.StoredEvent; last: browserEntry.StoredEvent }> {
    const store = await CairnStore.open(new MemoryStorage())
    const first = await store.append({ stream: 'cart-7', type: 'item.added', data: 0, meta: { correlation: 'checkout-1' } })
    let last = first
    for (let i = 1; i < 4; i++) last = await store.append({ stream: 'cart-7', type: i % 2 === 0 ? 'item.added' : 'item.removed', data: i })
    await store.append({ stream: 'order-1', type: 'order.placed', data: 'o', meta: { causation: first.cid.toString(), correlation: 'checkout-1' } })
    await store.put({ note: 'hi' }, { type: 'doc' })
    await store.putFile(new Uint8Array([1, 2, 3]), { type: 'photo' })
    return { store, first, last }
  }

  /** The store's heads, stats and objects, to compare before and after a refused call. */
  async function state(store: CairnStore): Promise<unknown> {
    return { heads: store.heads.map(String), stats: await store.stats(), objects: (await collect(store.objects())).map((o) => `${o.cid}:${o.type}`) }
  }

  const data = (events: browserEntry.StoredEvent[]): unknown[] => events.map((e) => e.data)
  const QUERY = 'stream, type, streamPrefix, since, until, after, limit, reverse'
  const FILTER = 'stream, type, streamPrefix'

  test('query: its options and filter fields; any other key rejects before an event is read', async () => {
    const { store, first } = await fixture()
    const before = await state(store)
    unknownKey(await errorOf(collect(store.query({ tpye: 'item.added' } as browserEntry.QueryOptions))), 'query.tpye', QUERY)
    unknownKey(await errorOf(collect(store.query({ type: 'item.added', filter: { stream: 'cart-7' } } as browserEntry.QueryOptions))), 'query.filter', QUERY)
    unknownKey(await errorOf(collect(store.query({ streamprefix: 'cart-' } as browserEntry.QueryOptions))), 'query.streamprefix', QUERY)
    expect(await state(store)).toEqual(before)
    expect(data(await collect(store.query({ type: 'item.added' })))).toEqual([0, 2])
    expect(data(await collect(store.query({ stream: 'cart-7', streamPrefix: 'cart-', type: 'item.removed', since: 0, until: new Date(8.64e15), after: first.cid, limit: 1 })))).toEqual([1])
    expect(data(await collect(store.query({ type: 'item.added', reverse: true, limit: 1 })))).toEqual([2])
    expect(data(await collect(store.query({ type: 'order.placed', tpye: undefined } as browserEntry.QueryOptions)))).toEqual(['o'])
    expect(await collect(store.query())).toHaveLength(5)
    await store.close()
  })

  test('read and reduce: their options; any other key rejects before an event is read', async () => {
    const { store, last } = await fixture()
    const before = await state(store)
    unknownKey(await errorOf(collect(store.read('cart-7', { fromVerison: 2 } as browserEntry.ReadOptions))), 'options.fromVerison', 'fromVersion, toVersion, limit, reverse, asOf')
    unknownKey(await errorOf(collect(store.read('cart-7', { type: 'item.added' } as browserEntry.ReadOptions))), 'options.type', 'fromVersion, toVersion, limit, reverse, asOf')
    const count = (n: number): number => n + 1
    unknownKey(await errorOf(store.reduce('cart-7', count, 0, { asof: last.cid } as browserEntry.ReduceOptions)), 'options.asof', 'asOf')
    expect(await state(store)).toEqual(before)
    expect(data(await collect(store.read('cart-7', { fromVersion: 2, toVersion: 4, limit: 2, reverse: true, asOf: last.cid })))).toEqual([3, 2])
    expect(data(await collect(store.read('cart-7', { limit: 1, reverse: undefined, typo: undefined } as browserEntry.ReadOptions)))).toEqual([0])
    expect(await store.reduce('cart-7', count, 0, { asOf: last.cid })).toBe(4)
    expect(await store.reduce('cart-7', count, 0)).toBe(4)
    await store.close()
  })

  test('causedBy and correlated: their paging options', async () => {
    const { store, first } = await fixture()
    const PAGE = 'after, limit, reverse'
    unknownKey(await errorOf(collect(store.causedBy(first.cid, { limt: 1 } as browserEntry.PageOptions))), 'options.limt', PAGE)
    unknownKey(await errorOf(collect(store.correlated('checkout-1', { type: 'order.placed' } as browserEntry.PageOptions))), 'options.type', PAGE)
    expect(data(await collect(store.causedBy(first.cid, { limit: 1 })))).toEqual(['o'])
    expect(data(await collect(store.correlated('checkout-1', { after: first.cid, reverse: false, limit: 5 })))).toEqual(['o'])
    await store.close()
  })

  test('replay: its options object as well as its filter', async () => {
    const { store, last } = await fixture()
    // The filter's fields given straight in the options (not under `filter`) would have replayed everything.
    unknownKey(await errorOf(collect(store.replay(last.cid, { type: 'item.added' } as browserEntry.ReplayOptions))), 'options.type', 'filter')
    unknownKey(await errorOf(collect(store.replay(last.cid, { fitler: { type: 'item.added' } } as browserEntry.ReplayOptions))), 'options.fitler', 'filter')
    unknownKey(await errorOf(collect(store.replay(last.cid, { filter: { tpye: 'item.added' } as browserEntry.ReplayFilter }))), 'filter.tpye', FILTER)
    expect(data(await collect(store.replay(last.cid, { filter: { type: 'item.added' } })))).toEqual([0, 2])
    expect(data(await collect(store.replay(last.cid, { filter: (e) => e.type === 'item.removed' })))).toEqual([1, 3])
    expect(data(await collect(store.replay(last.cid)))).toEqual([0, 1, 2, 3])
    await store.close()
  })

  test('subscribe: its filter and options throw at once, and no listener is left behind', async () => {
    const { store } = await fixture()
    const seen: unknown[] = []
    const listener = (e: browserEntry.StoredEvent): void => {
      seen.push(e.data)
    }
    unknownKey(
      thrown(() => store.subscribe({ tpye: 'item.added' } as browserEntry.EventFilter, listener)),
      'filter.tpye',
      FILTER,
    )
    unknownKey(
      thrown(() => store.subscribe({ type: 'item.added' }, listener, { onerror: () => {} } as browserEntry.SubscribeOptions)),
      'options.onerror',
      'onError',
    )
    await store.append({ stream: 'cart-7', type: 'item.added', data: 'a' })
    expect(seen).toEqual([])
    const unsubscribe = store.subscribe({ type: 'item.added', streamPrefix: 'cart-', stream: undefined }, listener, { onError: () => {} })
    await store.append({ stream: 'cart-7', type: 'item.added', data: 'b' })
    await store.append({ stream: 'cart-7', type: 'item.removed', data: 'c' })
    unsubscribe()
    expect(seen).toEqual(['b'])
    await store.close()
  })

  test('changes: its options and its filter; any other key rejects before an event is read', async () => {
    const { store, first } = await fixture()
    const CHANGES = 'after, filter, signal'
    unknownKey(await errorOf(collect(store.changes({ filter: { tpye: 'item.added' } } as browserEntry.ChangesOptions))), 'filter.tpye', FILTER)
    unknownKey(await errorOf(collect(store.changes({ filter: { type: 'item.added' }, bogus: 1 } as browserEntry.ChangesOptions))), 'options.bogus', CHANGES)
    unknownKey(await errorOf(collect(store.changes({ type: 'item.added' } as browserEntry.ChangesOptions))), 'options.type', CHANGES)
    const controller = new AbortController()
    const got: unknown[] = []
    for await (const e of store.changes({ after: first.cid, filter: { type: 'item.added' }, signal: controller.signal })) {
      got.push(e.data)
      if (got.length === 1) controller.abort()
    }
    expect(got).toEqual([2])
    await store.close()
  })

  test("project: its spec and the spec's filter; the name stays free", async () => {
    const { store } = await fixture()
    const reducer = (n: number): number => n + 1
    const SPEC = 'filter, initial, reducer, snapshotEvery'
    unknownKey(await errorOf(store.project('carts', { initial: 0, reducer, snapshotevery: 2 } as browserEntry.ProjectionSpec<number>)), 'spec.snapshotevery', SPEC)
    unknownKey(await errorOf(store.project('carts', { initial: 0, reducer, type: 'item.added' } as browserEntry.ProjectionSpec<number>)), 'spec.type', SPEC)
    unknownKey(await errorOf(store.project('carts', { initial: 0, reducer, filter: { tpye: 'item.added' } } as browserEntry.ProjectionSpec<number>)), 'spec.filter.tpye', FILTER)
    const carts = await store.project('carts', { filter: { streamPrefix: 'cart-', type: 'item.added' }, initial: 0, reducer, snapshotEvery: 2 })
    expect(await carts.get('cart-7')).toBe(2)
    unknownKey(await errorOf(carts.get('cart-7', { asof: 0 } as browserEntry.ProjectionGetOptions)), 'options.asof', 'asOf')
    expect(await carts.get('cart-7', { asOf: 0 })).toBe(0)
    await carts.close()
    await store.close()
  })

  test('objects, put and putFile: their options; nothing is recorded', async () => {
    const { store } = await fixture()
    const before = await state(store)
    unknownKey(await errorOf(collect(store.objects({ tpye: 'photo' } as browserEntry.ObjectsQuery))), 'query.tpye', 'type')
    unknownKey(await errorOf(store.put({ other: 1 }, { tpye: 'doc' } as browserEntry.PutOptions)), 'options.tpye', 'type')
    unknownKey(await errorOf(store.putFile(new Uint8Array([9]), { tpye: 'photo' } as browserEntry.PutFileOptions)), 'options.tpye', 'type, onProgress, signal')
    expect(await state(store)).toEqual(before)
    expect((await collect(store.objects({ type: 'photo' }))).map((o) => o.type)).toEqual(['photo'])
    await store.put({ other: 1 }, { type: 'doc' })
    await store.putFile(new Uint8Array([9]), { type: 'photo', onProgress: () => {}, signal: new AbortController().signal })
    expect(await collect(store.objects({ type: 'photo' }))).toHaveLength(2)
    await store.close()
  })

  test("append and a transaction's writes: their options; nothing is appended or committed", async () => {
    const { store } = await fixture()
    const before = await state(store)
    // A misspelt expectedVersion would have appended without the version check.
    unknownKey(await errorOf(store.append({ stream: 'cart-7', type: 'item.added' }, { expectedVerison: 0 } as browserEntry.AppendOptions)), 'options.expectedVerison', 'expectedVersion')
    const writes: [string, (tx: browserEntry.Transaction) => unknown, string][] = [
      ['options.expectedVerison', (tx) => tx.append({ stream: 'cart-7', type: 'x' }, { expectedVerison: 0 } as browserEntry.AppendOptions), 'expectedVersion'],
      ['options.tpye', (tx) => tx.put({ v: 1 }, { tpye: 'doc' } as browserEntry.PutOptions), 'type'],
      ['options.tpye', (tx) => tx.putFile(new Uint8Array([7]), { tpye: 'photo' } as browserEntry.PutFileOptions), 'type, onProgress, signal'],
    ]
    await refusedInTransactions(store, writes)
    expect(await state(store)).toEqual(before)
    await store.append({ stream: 'cart-7', type: 'item.added' }, { expectedVersion: 4 })
    const { events } = await store.transaction(async (tx) => {
      tx.append({ stream: 'cart-7', type: 'item.added' }, { expectedVersion: 5 })
      tx.put({ v: 2 }, { type: 'doc' })
      await tx.putFile(new Uint8Array([8]), { type: 'photo' })
    })
    expect(events.map((e) => e.version)).toEqual([6])
    await store.close()
  })

  test("append's, appendMany's and a transaction's inputs: their keys; nothing is appended or committed", async () => {
    const { store } = await fixture()
    const before = await state(store)
    const INPUT = 'stream, type, data, meta'
    const BATCH = 'stream, type, data, meta, expectedVersion'
    // A misspelt data would have appended null.
    unknownKey(await errorOf(store.append({ stream: 'cart-7', type: 'item.added', dat: { sku: 'x' } } as browserEntry.AppendInput)), 'input.dat', INPUT)
    // An appendMany input given to append: its expectedVersion would have been skipped (the stream is at 4).
    const batchInput: browserEntry.BatchAppendInput = { stream: 'cart-7', type: 'item.added', expectedVersion: 0 }
    unknownKey(await errorOf(store.append(batchInput)), 'input.expectedVersion', INPUT)
    unknownKey(await errorOf(store.appendMany([{ stream: 'cart-7', type: 'a' }, { stream: 'cart-7', type: 'b', expectedVerison: 5 } as browserEntry.BatchAppendInput])), 'inputs[1].expectedVerison', BATCH)
    const writes: [string, (tx: browserEntry.Transaction) => unknown, string][] = [
      ['input.dat', (tx) => tx.append({ stream: 'cart-7', type: 'x', dat: 1 } as browserEntry.AppendInput), INPUT],
      ['input.expectedVersion', (tx) => tx.append(batchInput), INPUT],
      ['inputs[0].metta', (tx) => tx.appendMany([{ stream: 'cart-7', type: 'x', metta: {} } as browserEntry.BatchAppendInput]), BATCH],
    ]
    await refusedInTransactions(store, writes)
    expect(await state(store)).toEqual(before)
    // A hole in a sparse array is an undefined input, not one to skip: appendMany appended the
    // others (its events no longer lined up with the inputs), a transaction's threw "Cannot read
    // properties of undefined".
    const sparse: browserEntry.BatchAppendInput[] = new Array(2)
    sparse[1] = { stream: 'cart-7', type: 'b' }
    for (const attempt of [() => store.appendMany(sparse), () => store.transaction((tx) => tx.appendMany(sparse))]) {
      const err = await errorOf(attempt())
      expect(err).toBeInstanceOf(TypeError)
      expect(err.message).toBe('"inputs[0]" expected an object, got undefined')
    }
    expect(await errorOf(store.appendMany(new Array(2)))).toBeInstanceOf(TypeError)
    expect(await state(store)).toEqual(before)
    // The valid forms, and keys given as undefined.
    expect((await store.append({ stream: 'cart-7', type: 'item.added', data: 1, meta: { correlation: 'c' }, dat: undefined } as browserEntry.AppendInput, { expectedVersion: 4 })).data).toBe(1)
    await expect(store.appendMany([{ stream: 'cart-7', type: 'item.added', expectedVersion: 4 }])).rejects.toMatchObject({ code: 'CAIRN_VERSION_CONFLICT' })
    const events = await store.appendMany([{ stream: 'cart-7', type: 'item.added', data: 2, expectedVersion: 5 }])
    expect(events.map((e) => e.version)).toEqual([6])
    const { events: committed } = await store.transaction((tx) => {
      tx.append({ stream: 'cart-7', type: 'item.added', data: 3 }, { expectedVersion: 6 })
      tx.appendMany([{ stream: 'cart-7', type: 'item.added', data: 4, meta: {}, expectedVersion: 7 }])
    })
    expect(data(committed)).toEqual([3, 4])
    await store.close()
  })

  test('export, import, verify and compact: their options', async () => {
    const { store } = await fixture()
    const before = await state(store)
    const car = await bytesOf(store.export())
    unknownKey(
      thrown(() => store.export({ sinse: store.heads } as browserEntry.ExportOptions)),
      'options.sinse',
      'since, roots, onProgress, signal',
    )
    const other = await CairnStore.open(new MemoryStorage())
    unknownKey(await errorOf(other.import(car, { maxbytes: 10 } as browserEntry.ImportOptions)), 'options.maxbytes', 'maxBlockBytes, maxBytes, maxStagedBytes, maxClockDrift, foreignType, onProgress, signal')
    expect(other.heads).toEqual([])
    unknownKey(await errorOf(store.verify({ onprogress: () => {} } as browserEntry.VerifyOptions)), 'options.onprogress', 'onProgress, signal')
    unknownKey(await errorOf(store.compact({ minDeadratio: 0 } as browserEntry.CompactOptions)), 'options.minDeadratio', 'minDeadRatio')
    expect(await state(store)).toEqual(before)
    expect((await other.import(car, { maxBytes: car.length, onProgress: () => {} })).events).toBe(7) // 5 events and 2 object.put
    expect(await bytesOf(store.export({ since: store.heads, signal: new AbortController().signal }))).toBeInstanceOf(Uint8Array)
    expect((await store.verify({ signal: new AbortController().signal })).dangling).toEqual([])
    expect(await store.compact({ minDeadRatio: 0 })).toMatchObject({ blocksRemoved: 0 })
    await other.close()
    await store.close()
  })

  test('grant: its options; nothing is granted', async () => {
    const admin = await createIdentity()
    const writer = await createIdentity()
    const store = await CairnStore.open(new MemoryStorage(), { signer: admin, access: { admins: [admin.did] } })
    // A misspelt admin would have granted a plain writer.
    unknownKey(await errorOf(store.grant(writer.did, { streams: 'todo/', admn: true } as browserEntry.GrantOptions)), 'options.admn', 'streams, admin')
    expect(store.can(writer.did)).toBe(false)
    await store.grant(writer.did, { streams: 'todo/', admin: false })
    expect(store.can(writer.did, 'todo/1')).toBe(true)
    await store.close()
  })

  test("openStore and CairnStore.open: the store options (and openStore's locations); no store opens", async () => {
    const OPEN = 'memory, path, name, blockstore, storage, durability, blockedTimeoutMs, pageSize, clock, rebuildIndex, signer, requireSignatures, access, gates'
    // A misspelt requireSignatures would have opened a store that takes unsigned events.
    unknownKey(await errorOf(browserEntry.openStore({ memory: true, requireSignature: true } as browserEntry.OpenStoreOptions<{ memory: true }>)), 'options.requireSignature', OPEN)
    const storage = new MemoryStorage()
    unknownKey(await errorOf(CairnStore.open(storage, { rebuildindex: true } as browserEntry.StoreOptions)), 'options.rebuildindex', 'clock, rebuildIndex, signer, requireSignatures, access, gates')
    // The storage was closed, as for any refused option.
    await expect(storage.heads()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    const store = await browserEntry.openStore({ memory: true, rebuildIndex: true, requireSignatures: false, gates: undefined })
    expect(store.engine).toBe('memory')
    await store.close()
  })
})

describe('sync handler, sync client, engines and identities: a key their options do not know is a TypeError when the options are checked', () => {
  const pull = (): Request => new Request('https://sync.example.org/cairn/pull', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: encodePullBody({ heads: [], have: [] }) as BodyInit })
  const IMPORT = 'maxBlockBytes, maxBytes, maxStagedBytes, maxClockDrift, foreignType, onProgress, signal'

  test('createSyncHandler: its options, auth, cors and import, before a handler is made; the valid forms still serve', async () => {
    const server = await CairnStore.open(new MemoryStorage())
    await server.append({ stream: 'secret', type: 't', data: 'private' })
    const AUTH = 'requireSignedRequests, audience, maxSkewMs, canRead, canPush, maxNonces'
    // A misspelt requireSignedRequests would have served unsigned requests.
    unknownKey(
      thrown(() => createSyncHandler(server, { auth: { requireSignedRequest: true } } as browserEntry.SyncHandlerOptions)),
      'auth.requireSignedRequest',
      AUTH,
    )
    unknownKey(
      thrown(() => createSyncHandler(server, { basepath: '/sync' } as browserEntry.SyncHandlerOptions)),
      'options.basepath',
      'basePath, import, maxRequestBytes, gzip, auth, cors, now, onError',
    )
    unknownKey(
      thrown(() => createSyncHandler(server, { cors: { origins: '*', maxage: 60 } } as browserEntry.SyncHandlerOptions)),
      'cors.maxage',
      'origins, maxAge, headers',
    )
    unknownKey(
      thrown(() => createSyncHandler(server, { import: { maxbytes: 1 } } as browserEntry.SyncHandlerOptions)),
      'import.maxbytes',
      IMPORT,
    )
    expect((thrown(() => createSyncHandler(server, { import: { maxBytes: -1 } })) as Error).message).toBe('"import.maxBytes" expected a non-negative integer, got -1')
    expect(thrown(() => createSyncHandler(server, { import: { signal: 'stop' as never } }))).toBeInstanceOf(TypeError)
    expect(thrown(() => createSyncHandler(server, { onError: 'log' as never }))).toBeInstanceOf(TypeError)

    const strict = createSyncHandler(server, { auth: { requireSignedRequests: true, canRead: undefined }, import: { maxBytes: 1 << 20 }, typo: undefined } as browserEntry.SyncHandlerOptions)
    expect((await strict(pull())).status).toBe(401)
    const open = createSyncHandler(server, { basePath: '/cairn', cors: { origins: '*', maxAge: 60 }, onError: () => {} })
    expect((await open(pull())).status).toBe(200)
    await server.close()
  })

  test('sync: its options and import, before any request is sent', async () => {
    const server = await CairnStore.open(new MemoryStorage())
    const handler = createSyncHandler(server)
    const client = await CairnStore.open(new MemoryStorage())
    await client.append({ stream: 's', type: 't' })
    let requests = 0
    const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      requests++
      return handler(new Request(input, init))
    }
    const url = 'https://sync.example.org/cairn'
    unknownKey(await errorOf(browserEntry.sync(client, url, { fetch, import: { maxbytes: 10 } } as browserEntry.SyncOptions)), 'import.maxbytes', IMPORT)
    unknownKey(await errorOf(browserEntry.sync(client, url, { fetch, gzp: true } as browserEntry.SyncOptions)), 'options.gzp', 'fetch, gzip, signal, headers, import, signer')
    // A misspelt signer would have synced unsigned.
    unknownKey(await errorOf(browserEntry.sync(client, url, { fetch, singer: {} } as browserEntry.SyncOptions)), 'options.singer', 'fetch, gzip, signal, headers, import, signer')
    for (const bad of [{ import: { maxBytes: 'x' } }, { import: { signal: {} } }, { import: { onProgress: 1 } }, { signal: 'stop' }, { fetch: 'https://x' }, { headers: 'x' }] as browserEntry.SyncOptions[]) {
      expect(await errorOf(browserEntry.sync(client, url, { fetch, ...bad })), JSON.stringify(bad)).toBeInstanceOf(TypeError)
    }
    expect(requests).toBe(0)
    expect(server.heads).toEqual([])
    const report = await browserEntry.sync(client, url, { fetch, gzip: true, headers: {}, signal: new AbortController().signal, import: { maxBytes: 1 << 20, signal: undefined }, signer: undefined })
    expect(report.pushed.events).toBe(1)
    await client.close()
    await server.close()
  })

  test('createIdentity, importIdentity and loadIdentity: their options', async () => {
    // A misspelt extractable would have made a key exportIdentity writes out.
    unknownKey(await errorOf(browserEntry.createIdentity({ extractible: false } as browserEntry.IdentityOptions)), 'options.extractible', 'extractable')
    const file = await browserEntry.exportIdentity(await browserEntry.createIdentity())
    unknownKey(await errorOf(browserEntry.importIdentity(file, { extractible: false } as browserEntry.IdentityOptions)), 'options.extractible', 'extractable')
    expect((await browserEntry.importIdentity(file, { extractable: false })).extractable).toBe(false)
    // Checked before IndexedDB is looked for (Node and Deno have none).
    unknownKey(await errorOf(browserEntry.loadIdentity({ name: 'work', extractable: false } as browserEntry.LoadIdentityOptions)), 'options.extractable', 'name')
  })

  test('openFileStorage (Node and Deno): its options, before the folder is made', async () => {
    if (runtime === 'browser') return
    const nodeEntry = await importServerOnly<typeof import('../../src/index.node.ts')>(new URL('../../src/index.node.ts', import.meta.url).href)
    const path = `/nonexistent-${Date.now().toString(36)}/cairn`
    unknownKey(await errorOf(nodeEntry.openFileStorage(path, { segmentbytes: 1 << 20 } as import('../../src/index.node.ts').FileStorageOptions)), 'options.segmentbytes', 'segmentBytes, tableEvery, tableOnClose, tableCacheBytes')
  })
})

describe('project: a bad name', () => {
  test('the RangeError says what a valid name is; the longest valid name (62 characters) opens', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const spec = { initial: 0, reducer: (n: number) => n + 1 }
    for (const name of ['Bad Name', 'a'.repeat(63), 'carts/v2']) {
      const err = await errorOf(store.project(name, spec))
      expect(err, name).toBeInstanceOf(RangeError)
      expect(err.message).toBe(`"name" expected 1 to 62 characters of a-z 0-9 . _ -, got ${JSON.stringify(name)}`)
    }
    const long = await errorOf(store.project('X'.repeat(200), spec))
    expect(long.message).toMatch(/got "X{80}"$/)
    const projection = await store.project('a'.repeat(62), spec)
    await store.append({ stream: 's', type: 't' })
    expect(await projection.get('s')).toBe(1)
    await store.close()
  })
})

describe('project: the name is checked before the projection machinery loads', () => {
  test('a bad name rejects with its RangeError even when the store starts closing in the same tick', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const spec = { initial: 0, reducer: (n: number) => n + 1 }
    const bad = store.project('Bad Name', spec)
    const notString = store.project(7 as unknown as string, spec)
    const closed = store.close()
    expect(await errorOf(bad)).toBeInstanceOf(RangeError)
    expect((await errorOf(notString)).message).toBe('"name" expected a non-empty string, got 7')
    await closed
  })

  test('a good name on a store that starts closing in the same tick rejects with CAIRN_CLOSED', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const p = store.project('carts', { initial: 0, reducer: (n: number) => n + 1 })
    const closed = store.close()
    expect(await errorOf(p)).toMatchObject({ code: 'CAIRN_CLOSED' })
    await closed
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
