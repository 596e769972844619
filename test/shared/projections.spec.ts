// Projections: store.project(name, { filter, initial, reducer, snapshotEvery }) keeps per-stream
// state current on appends and imports (an import that lands events mid-history recomputes the
// key from the snapshot before the first change), answers get(key, { asOf }) from snapshots,
// hashes its state so replicas compare in one value, persists itself beside the blocks, and
// rebuilds when what it persisted is corrupt or made by another spec.
import { describe, expect, test } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { engineKinds, type EngineFixture, type EngineKind } from '../support/engines.ts'
import { collect, manualClock } from '../support/stores.ts'
import { send, T0, withReplicas, type Replica } from '../support/replicas.ts'
import { CairnStore } from '../../src/store/store.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import type { AsOf, StoredEvent } from '../../src/log/event/interface.ts'
import type { Projection, ProjectionSpec } from '../../src/projections/interface.ts'
import { PERSIST_EVERY, REDUCER_FAILED } from '../../src/projections/projection.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'

const kinds = await engineKinds()
const persistentKinds = kinds.filter((k) => k.persistent)
const memory = kinds.find((k) => k.name === 'memory')!

type Items = string[]

/** An order-sensitive reducer that counts its calls: `type:data` per event. */
function counting(): { calls: { n: number }; reducer: (s: Items, e: StoredEvent) => Items } {
  const calls = { n: 0 }
  return {
    calls,
    reducer: (s: Items, e: StoredEvent): Items => {
      calls.n++
      return [...s, `${e.type}:${String(e.data)}`]
    },
  }
}
const plain = (s: Items, e: StoredEvent): Items => [...s, `${e.type}:${String(e.data)}`]

/** The reference answer: the store's own fold of the stream (as of `asOf`), events of `type` only. */
async function expected(store: CairnStore, key: string, asOf?: AsOf, type?: string): Promise<Items> {
  let s: Items = []
  for await (const e of store.read(key, asOf === undefined ? {} : { asOf })) if (type === undefined || e.type === type) s = plain(s, e)
  return s
}

/** The documented stateHash: CIDv1(raw, sha2-256(dag-cbor([[key, state], …] sorted by key))). */
async function referenceHash(p: Projection<unknown>): Promise<CID> {
  const pairs: [string, unknown][] = []
  for await (const key of p.keys()) pairs.push([key, await p.get(key)])
  return CID.createV1(0x55, await sha256.digest(dagCbor.encode(pairs)))
}

/**
 * A fixture whose engine keeps derived values: the engine's own slots when it has them,
 * else a map that outlives each open (as a persistent engine's slots would). Records the
 * projection values written.
 */
function slotted(fx: EngineFixture): { open(): Promise<StorageEngine>; writes: string[] } {
  const slots = new Map<string, Uint8Array>()
  const writes: string[] = []
  return {
    writes,
    async open() {
      const inner = await fx.open()
      const own = typeof inner.readDerived === 'function' && typeof inner.writeDerived === 'function'
      return {
        kind: inner.kind,
        get: (cid) => inner.get(cid),
        has: (cid) => inner.has(cid),
        blocks: () => inner.blocks(),
        heads: () => inner.heads(),
        commit: (batch) => inner.commit(batch),
        close: () => inner.close(),
        readDerived: async (name) => {
          const bytes = own ? await inner.readDerived!(name) : slots.get(name)
          return bytes === undefined ? undefined : new Uint8Array(bytes)
        },
        writeDerived: async (name, bytes) => {
          if (name.startsWith('p.')) writes.push(name)
          if (own) await inner.writeDerived!(name, bytes)
          else slots.set(name, new Uint8Array(bytes))
        },
      }
    },
  }
}

/** Runs `body` on one store of `kind` whose engine keeps derived values, reopenable with `reopen()`. */
async function withPersistentStore(
  kind: EngineKind,
  body: (ctx: { store: () => CairnStore; reopen(): Promise<CairnStore>; engine(): Promise<StorageEngine>; clock: ReturnType<typeof manualClock>; writes: string[] }) => Promise<void>,
): Promise<void> {
  const fx = await kind.create()
  const slots = slotted(fx)
  const clock = manualClock(T0)
  let store: CairnStore | undefined
  try {
    const reopen = async (): Promise<CairnStore> => {
      await store?.close()
      store = await CairnStore.open(await slots.open(), { clock: clock.now })
      return store
    }
    await reopen()
    await body({ store: () => store!, reopen, engine: () => slots.open(), clock, writes: slots.writes })
  } finally {
    await store?.close().catch(() => {})
    await fx.dispose()
  }
}

/** Appends `data` values to `stream`, one per ms step from `at`, each its own commit. */
async function appendAt(r: { store: CairnStore; clock: { set(ms: number): void } } | Replica, stream: string, at: number[], type = 'add'): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for (const t of at) {
    r.clock.set(T0 + t)
    out.push(await r.store.append({ stream, type, data: `${stream}@${t}` }))
  }
  return out
}

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = []
  for (let i = from; i <= to; i += step) out.push(i)
  return out
}

for (const kind of kinds) {
  describe(`projections on ${kind.name}`, () => {
    test('get, keys, stateHash and ready; live on appends; filters; $objects only when named', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        const store = a!.store
        const [first] = await appendAt(a!, 'cart-1', [1, 2])
        await appendAt(a!, 'user-1', [3])
        await store.put({ doc: 1 }, { type: 'doc' })
        const carts = await store.project<Items>('carts', { filter: { streamPrefix: 'cart-' }, initial: [], reducer: plain })
        const all = await store.project<Items>('all', { initial: [], reducer: plain })
        const objects = await store.project<number>('objects', { filter: { stream: '$objects' }, initial: 0, reducer: (n) => n + 1 })
        const system = await store.project<number>('system', { filter: { streamPrefix: '$' }, initial: 0, reducer: (n) => n + 1 })
        const notes = await store.project<Items>('notes', { filter: { streamPrefix: 'cart-', type: 'note' }, initial: [], reducer: plain })
        expect(carts.name).toBe('carts')
        expect(await carts.get('cart-1')).toEqual(['add:cart-1@1', 'add:cart-1@2'])
        expect(await carts.get('user-1')).toEqual([]) // outside the filter: initial
        expect(await carts.get('cart-9')).toEqual([])
        expect(await carts.get('cart-1', { asOf: first!.cid })).toEqual(['add:cart-1@1'])
        expect(await carts.get('cart-1', { asOf: first!.ts })).toEqual(['add:cart-1@1'])
        expect(await carts.get('cart-9', { asOf: first!.cid })).toEqual([])
        expect(await collect(carts.keys())).toEqual(['cart-1'])
        expect(await collect(all.keys())).toEqual(['cart-1', 'user-1'])
        expect(await objects.get('$objects')).toBe(1)
        expect(await collect(system.keys())).toEqual(['$objects'])
        expect(await collect(notes.keys())).toEqual([])

        // Live: every committed event is in the next get, without waiting for ready()
        await appendAt(a!, 'cart-2', [4])
        expect(await carts.get('cart-2')).toEqual(['add:cart-2@4'])
        await Promise.all([
          store.append({ stream: 'cart-1', type: 'note', data: 'x' }),
          store.appendMany([
            { stream: 'cart-3', type: 'add', data: 'y' },
            { stream: 'cart-1', type: 'add', data: 'z' },
          ]),
          store.put({ doc: 2 }),
        ])
        expect(await carts.get('cart-1')).toEqual(['add:cart-1@1', 'add:cart-1@2', 'note:x', 'add:z'])
        expect(await notes.get('cart-1')).toEqual(['note:x'])
        expect(await collect(carts.keys())).toEqual(['cart-1', 'cart-2', 'cart-3'])
        expect(await objects.get('$objects')).toBe(2)
        await carts.ready()

        // stateHash: the documented definition; changes with the state; equal for an equal fold
        expect((await carts.stateHash()).toString()).toBe((await referenceHash(carts)).toString())
        expect((await all.stateHash()).toString()).toBe((await referenceHash(all)).toString())
        const empty = await store.project<Items>('empty', { filter: { stream: 'nobody' }, initial: [], reducer: plain })
        expect((await empty.stateHash()).toString()).toBe(CID.createV1(0x55, await sha256.digest(dagCbor.encode([]))).toString())
        const before = await carts.stateHash()
        const again = await store.project<Items>('carts-again', { filter: { streamPrefix: 'cart-' }, initial: [], reducer: plain })
        expect((await again.stateHash()).toString()).toBe(before.toString())
        await store.append({ stream: 'cart-2', type: 'add', data: 'w' })
        expect((await carts.stateHash()).toString()).not.toBe(before.toString())
        expect((await carts.stateHash()).toString()).toBe((await again.stateHash()).toString())
      })
    })

    test('an import landing events mid-history recomputes the key from the snapshot before the first change', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const spec = (reducer: (s: Items, e: StoredEvent) => Items): ProjectionSpec<Items> => ({ filter: { streamPrefix: 'cart-' }, initial: [], reducer, snapshotEvery: 4 })
        const onA = counting()
        const onB = counting()
        const pa = await a!.store.project('carts', spec(onA.reducer))
        const pb = await b!.store.project('carts', spec(onB.reducer))
        const aEvents = await appendAt(a!, 'cart-1', range(10, 120, 10)) // 12 events: snapshots after the 4th, 8th, 12th
        const bEvents = await appendAt(b!, 'cart-1', [55, 95]) // offline on b: they sort mid-history on a
        await appendAt(b!, 'cart-2', [5])
        // as of times and events, before the merge
        const early = aEvents[5]!
        expect(await pa.get('cart-1', { asOf: T0 + 60 })).toEqual(await expected(a!.store, 'cart-1', T0 + 60))
        expect(await pa.get('cart-1', { asOf: early.cid })).toEqual(await expected(a!.store, 'cart-1', early.cid))
        const beforeMerge = await pa.get('cart-1')
        expect(beforeMerge).toHaveLength(12)

        onA.calls.n = 0
        await send(b!.store, a!.store)
        const merged = await pa.get('cart-1')
        expect(merged).toEqual(await expected(a!.store, 'cart-1'))
        expect(merged).toHaveLength(14)
        expect(merged.indexOf('add:cart-1@55')).toBe(5)
        // Recomputed from the snapshot after the 4th event (T0+40), not from genesis: the 8 of
        // a's events after it, b's 2; plus cart-2's one event.
        expect(onA.calls.n).toBe(8 + 2 + 1)
        expect(await pa.get('cart-2')).toEqual(['add:cart-2@5'])

        // b gets a's events: most land before b's own ones
        await send(a!.store, b!.store)
        expect(a!.store.heads.map(String)).toEqual(b!.store.heads.map(String))
        expect(await pb.get('cart-1')).toEqual(merged)
        const hash = (await pa.stateHash()).toString()
        expect((await pb.stateHash()).toString()).toBe(hash)
        // ... equal to fresh projections over the same log
        const fresh = await a!.store.project('carts-fresh', spec(plain))
        expect((await fresh.stateHash()).toString()).toBe(hash)
        expect((await referenceHash(pa)).toString()).toBe(hash)

        // time travel after the merge, by every time and every event, on both replicas
        for (const r of [a!, b!]) {
          const p = r === a ? pa : pb
          const events = await collect(r.store.read('cart-1'))
          for (const e of events) {
            expect(await p.get('cart-1', { asOf: e.cid })).toEqual(await expected(r.store, 'cart-1', e.cid))
            expect(await p.get('cart-1', { asOf: e.ts })).toEqual(await expected(r.store, 'cart-1', e.ts))
            expect(await p.get('cart-1', { asOf: new Date(e.ts - 1) })).toEqual(await expected(r.store, 'cart-1', e.ts - 1))
          }
        }
        // b's own event sees only its past: b's first event
        expect(await pa.get('cart-1', { asOf: bEvents[1]!.cid })).toEqual(['add:cart-1@55', 'add:cart-1@95'])
        // a's event from before the merge still sees what a had then
        expect(await pa.get('cart-1', { asOf: aEvents[11]!.cid })).toEqual(beforeMerge)
        // an append after the merge sees both sides
        const after = (await appendAt(a!, 'cart-1', [200]))[0]!
        expect(await pa.get('cart-1', { asOf: after.cid })).toEqual([...merged, 'add:cart-1@200'])
        expect(await pa.get('cart-1', { asOf: T0 })).toEqual([])
      })
    })

    test('replicas exchanging in different orders end with the same state hash; a type filter and its time travel survive reordering', async () => {
      await withReplicas(kind, 3, async (rs) => {
        const spec: ProjectionSpec<Items> = { filter: { streamPrefix: 'doc-', type: 'add' }, initial: [], reducer: plain, snapshotEvery: 2 }
        const ps = await Promise.all(rs.map((r) => r.store.project('docs', spec)))
        for (const [i, r] of rs.entries()) {
          for (const t of range(1, 9)) {
            r.clock.set(T0 + t * 10 + i)
            await r.store.append({ stream: 'doc-1', type: t % 3 === 0 ? 'note' : 'add', data: `r${i}@${t}` })
            if (t % 4 === i) await r.store.append({ stream: `doc-${i + 2}`, type: 'add', data: t })
          }
        }
        const [a, b, c] = rs as [Replica, Replica, Replica]
        await send(c.store, b.store)
        await send(b.store, a.store)
        await send(a.store, c.store)
        await send(a.store, b.store)
        const hashes = await Promise.all(ps.map(async (p) => (await p.stateHash()).toString()))
        expect(new Set(hashes).size).toBe(1)
        expect(a.store.heads.map(String)).toEqual(c.store.heads.map(String))
        for (const [i, r] of rs.entries()) {
          expect(await ps[i]!.get('doc-1')).toEqual(await expected(r.store, 'doc-1', undefined, 'add'))
          for (const e of await collect(r.store.read('doc-1'))) {
            expect(await ps[i]!.get('doc-1', { asOf: e.cid })).toEqual(await expected(r.store, 'doc-1', e.cid, 'add'))
            expect(await ps[i]!.get('doc-1', { asOf: e.ts })).toEqual(await expected(r.store, 'doc-1', e.ts, 'add'))
          }
        }
      })
    })

    test('reads racing imports and appends: asOf an event is unaffected, and nothing committed is missed', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const pa = await a!.store.project<Items>('carts', { filter: { streamPrefix: 'cart-' }, initial: [], reducer: plain, snapshotEvery: 3 })
        const aEvents = await appendAt(a!, 'cart-1', range(10, 400, 10))
        await appendAt(b!, 'cart-1', range(15, 395, 40))
        // An event's causal past never changes: these answers hold before, during and after the merge.
        const want = await Promise.all(aEvents.map((e) => expected(a!.store, 'cart-1', e.cid)))
        a!.clock.set(T0 + 1000)
        const [, got] = await Promise.all([
          send(b!.store, a!.store),
          Promise.all(aEvents.map((e) => pa.get('cart-1', { asOf: e.cid }))),
          ...range(1, 5).map((i) => a!.store.append({ stream: 'cart-1', type: 'add', data: `late${i}` })),
          pa.get('cart-1'),
        ])
        expect(got).toEqual(want)
        expect(await pa.get('cart-1')).toEqual(await expected(a!.store, 'cart-1'))
        const fresh = await a!.store.project<Items>('fresh', { filter: { streamPrefix: 'cart-' }, initial: [], reducer: plain, snapshotEvery: 3 })
        expect((await pa.stateHash()).toString()).toBe((await fresh.stateHash()).toString())
      })
    })

    test('close stops following; the store closing closes its projections', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        const p = await a!.store.project<Items>('p', { initial: [], reducer: plain })
        const q = await a!.store.project<Items>('q', { initial: [], reducer: plain })
        await appendAt(a!, 's', [1])
        await p.close()
        await p.close()
        await expect(p.get('s')).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(p.ready()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(p.stateHash()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(collect(p.keys())).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await appendAt(a!, 's', [2])
        expect(await q.get('s')).toEqual(['add:s@1', 'add:s@2'])
        const reopened = await a!.store.project<Items>('p', { initial: [], reducer: plain })
        expect(await reopened.get('s')).toEqual(['add:s@1', 'add:s@2'])
        await a!.store.close()
        await expect(q.get('s')).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(reopened.ready()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
      })
    })
  })
}

for (const kind of persistentKinds) {
  describe(`persisted projections on ${kind.name}`, () => {
    test('snapshots persist across reopen: no replay from genesis, time travel from a snapshot, no write per event', async () => {
      await withPersistentStore(kind, async ({ store, reopen, clock, writes }) => {
        const spec = (reducer: (s: Items, e: StoredEvent) => Items): ProjectionSpec<Items> => ({ initial: [], reducer, snapshotEvery: 10 })
        let counted = counting()
        let p = await store().project('log', spec(counted.reducer))
        const s1 = await appendAt(
          { store: store(), clock },
          's1',
          range(1, 100).map((i) => i * 10),
        )
        await appendAt({ store: store(), clock }, 's2', [1001, 1002, 1003])
        expect(counted.calls.n).toBe(103)
        expect(await p.get('s1')).toHaveLength(100)
        const hash = (await p.stateHash()).toString()
        expect(writes).toEqual([]) // well under PERSIST_EVERY: nothing written per event
        await reopen() // the store's close persists the projection once
        expect(writes).toEqual(['p.log'])

        // Reopened: loads, replays nothing
        counted = counting()
        p = await store().project('log', spec(counted.reducer))
        expect(counted.calls.n).toBe(0)
        expect((await p.stateHash()).toString()).toBe(hash)
        expect(await p.get('s1')).toEqual(await expected(store(), 's1'))
        // As of a late time: from the snapshot after the 90th event, not from genesis
        expect(await p.get('s1', { asOf: T0 + 955 })).toEqual(await expected(store(), 's1', T0 + 955))
        expect(counted.calls.n).toBe(5)
        // As of a late event: a snapshot proven inside its past (a linear stream: all of them)
        counted.calls.n = 0
        expect(await p.get('s1', { asOf: s1[98]!.cid })).toEqual(await expected(store(), 's1', s1[98]!.cid))
        expect(counted.calls.n).toBeLessThanOrEqual(10)
        counted.calls.n = 0
        expect(await p.get('s1', { asOf: s1[3]!.cid })).toEqual(await expected(store(), 's1', s1[3]!.cid))
        expect(counted.calls.n).toBe(4)
        await p.close()
        expect(writes).toEqual(['p.log']) // nothing changed: nothing written

        // Events appended while no projection is open: the next open folds only those
        await appendAt({ store: store(), clock }, 's1', [2000, 2001])
        await reopen()
        counted = counting()
        p = await store().project('log', spec(counted.reducer))
        expect(counted.calls.n).toBe(2)
        expect(await p.get('s1')).toEqual(await expected(store(), 's1'))
        expect(await p.get('s1')).toHaveLength(102)

        // A changed reducer (or snapshotEvery) invalidates what was persisted: rebuilt
        await reopen()
        const other = { n: 0 }
        const p2 = await store().project<Items>('log', {
          initial: [],
          reducer: (s, e) => {
            other.n++
            return [...s, `${e.type}:${String(e.data)}`]
          },
          snapshotEvery: 10,
        })
        expect(other.n).toBe(105)
        expect(await p2.get('s1')).toEqual(await expected(store(), 's1'))
        await reopen()
        counted = counting()
        const p3 = await store().project('log', { ...spec(counted.reducer), snapshotEvery: 7 })
        expect(counted.calls.n).toBe(105)
        expect(await p3.get('s2')).toEqual(await expected(store(), 's2'))
      })
    })

    test('an import into a reopened store recomputes affected keys from their persisted snapshots', async () => {
      await withPersistentStore(kind, async ({ store, reopen, clock }) => {
        const spec = (reducer: (s: Items, e: StoredEvent) => Items): ProjectionSpec<Items> => ({ initial: [], reducer, snapshotEvery: 8 })
        await store().project('log', spec(counting().reducer))
        await appendAt(
          { store: store(), clock },
          's',
          range(1, 40).map((i) => i * 10),
        )
        const other = await CairnStore.open(new MemoryStorage(), { clock: () => T0 + 305 })
        await other.append({ stream: 's', type: 'add', data: 'other@305' })
        await reopen() // persists with 5 snapshots (after events 8, 16, 24, 32, 40)
        await store().import(other.export()) // lands between the 30th and 31st events, no projection open
        await reopen()
        const counted = counting()
        const p = await store().project('log', spec(counted.reducer))
        // from the snapshot after the 24th event: events 25..40 and the import
        expect(counted.calls.n).toBe(16 + 1)
        const all = await expected(store(), 's')
        expect(await p.get('s')).toEqual(all)
        expect(all.indexOf('add:other@305')).toBe(30)
        await other.close()
      })
    })

    test('a corrupt, foreign or garbage persisted value is ignored and rebuilt, never thrown', async () => {
      await withPersistentStore(kind, async ({ store, reopen, engine, clock, writes }) => {
        // The spec itself takes no other key (project refuses an unknown one): the count rides beside it.
        const spec = (): { spec: ProjectionSpec<Items>; calls: { n: number } } => {
          const { calls, reducer } = counting()
          return { spec: { initial: [], reducer, snapshotEvery: 4 }, calls }
        }
        await store().project('log', spec().spec)
        await appendAt({ store: store(), clock }, 's', range(1, 30))
        const want = await expected(store(), 's')
        await reopen()
        expect(writes).toEqual(['p.log'])
        const intact = spec()
        await store().project('log', intact.spec)
        expect(intact.calls.n).toBe(0) // the intact value loads
        await store().close()
        const tamper = async (f: (bytes: Uint8Array) => Uint8Array): Promise<void> => {
          const e = await engine()
          const bytes = (await e.readDerived!('p.log'))!
          await e.writeDerived!('p.log', f(bytes))
          await e.close()
        }
        let good: Uint8Array | undefined
        await tamper((bytes) => {
          good = new Uint8Array(bytes)
          const b = new Uint8Array(bytes)
          b[Math.floor(b.length * 0.7)]! ^= 0x55
          return b
        })
        const cases: [string, Uint8Array][] = [
          ['truncated', good!.subarray(0, good!.length - 9)],
          ['not cbor', new Uint8Array([0xff, 0x00, 0x13, 0x37])],
          ['another value', dagCbor.encode({ cairn: 'projection', v: 1, sum: new Uint8Array(32), body: new Uint8Array(1) })],
        ]
        for (let i = 0; ; i++) {
          await reopen()
          const counted = spec()
          const p = await store().project('log', counted.spec)
          expect(counted.calls.n).toBe(30) // rebuilt from the log
          expect(await p.get('s')).toEqual(want)
          await store().close()
          const next = cases[i]
          if (next === undefined) break
          await tamper(() => next[1])
        }

        // A value persisted by another log (heads this one lacks) is not trusted either
        const fx2 = await kind.create()
        try {
          const slots2 = slotted(fx2)
          const e2 = await slots2.open()
          await e2.writeDerived!('p.log', good!)
          const store2 = await CairnStore.open(e2, { clock: clock.now })
          await store2.append({ stream: 's', type: 'add', data: 'alone' })
          const counted = spec()
          const p2 = await store2.project('log', counted.spec)
          expect(counted.calls.n).toBe(1)
          expect(await p2.get('s')).toEqual(['add:alone'])
          await store2.close()
        } finally {
          await fx2.dispose()
        }
      })
    })
  })
}

describe('projections: catch-up persistence, errors and arguments', () => {
  test(`after ${PERSIST_EVERY} events the projection persists once it has caught up, not per event`, async () => {
    const fx = await memory.create()
    const slots = slotted(fx)
    const store = await CairnStore.open(await slots.open())
    try {
      const p = await store.project<number>('count', { initial: 0, reducer: (n) => n + 1 })
      const batch = 700
      let appended = 0
      while (appended < PERSIST_EVERY + batch) {
        await store.appendMany(Array.from({ length: batch }, (_, j) => ({ stream: `s${j % 3}`, type: 't', data: appended + j })))
        appended += batch
        await p.ready()
        expect(slots.writes).toEqual(appended >= PERSIST_EVERY ? ['p.count'] : [])
      }
      expect((await p.get('s0')) + (await p.get('s1')) + (await p.get('s2'))).toBe(appended)
    } finally {
      await store.close()
    }
  })

  test('bad names and specs are refused before anything is registered', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const ok = { initial: 0, reducer: (n: number) => n + 1 }
    const bad = (spec: unknown): Promise<unknown> => store.project('p', spec as ProjectionSpec<number>)
    await expect(bad({ initial: 0, reducer: 'no' })).rejects.toThrow(TypeError)
    await expect(bad({ initial: 0 })).rejects.toThrow(/reducer/)
    await expect(bad({ ...ok, snapshotEvery: 0 })).rejects.toThrow(RangeError)
    await expect(bad({ ...ok, snapshotEvery: -3 })).rejects.toThrow(RangeError)
    await expect(bad({ ...ok, snapshotEvery: 1.5 })).rejects.toThrow(TypeError)
    await expect(bad({ ...ok, snapshotEvery: '8' })).rejects.toThrow(/snapshotEvery/)
    await expect(bad({ ...ok, filter: 'cart-' })).rejects.toThrow(TypeError)
    await expect(bad({ ...ok, filter: { type: 5 } })).rejects.toThrow(/filter\.type/)
    await expect(bad({ ...ok, filter: { streamPrefix: '' } })).rejects.toThrow(TypeError)
    await expect(bad({ ...ok, filter: { stream: null } })).rejects.toThrow(/filter\.stream/)
    await expect(bad({ ...ok, initial: undefined })).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE' })
    await expect(bad({ ...ok, initial: { when: new Map() } })).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE', path: 'spec.initial.when' })
    await expect(bad(null)).rejects.toThrow(TypeError)
    await expect(store.project('Bad Name', ok)).rejects.toThrow(RangeError)
    await expect(store.project('', ok)).rejects.toThrow(TypeError)
    await expect(store.project(7 as unknown as string, ok)).rejects.toThrow(TypeError)
    // none of those claimed the name
    const p = await store.project('p', ok)
    await store.append({ stream: 's', type: 't' })
    expect(await p.get('s')).toBe(1)
    // get's arguments
    await expect(p.get(5 as unknown as string)).rejects.toThrow(TypeError)
    await expect(p.get('')).rejects.toThrow(TypeError)
    await expect(p.get('s', null as unknown as object)).rejects.toThrow(TypeError)
    await expect(p.get('s', { asOf: 'yesterday' as unknown as number })).rejects.toThrow(TypeError)
    await expect(p.get('s', { asOf: new Date(NaN) })).rejects.toThrow(RangeError)
    const unknown = CID.createV1(0x71, await sha256.digest(new Uint8Array([1])))
    await expect(p.get('s', { asOf: unknown })).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
    await store.close()
  })

  test('one name, one open projection per store; free again after close', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const other = await CairnStore.open(new MemoryStorage())
    const spec = { initial: 0, reducer: (n: number) => n + 1 }
    const p = await store.project('p', spec)
    await expect(store.project('p', spec)).rejects.toMatchObject({ code: 'CAIRN_DUPLICATE_ID' })
    await other.project('p', spec) // another store: fine
    await store.project('q', spec)
    await p.close()
    const again = await store.project('p', spec)
    await store.append({ stream: 's', type: 't' })
    expect(await again.get('s')).toBe(1)
    await store.close()
    await other.close()
  })

  test('a reducer that throws stops the projection with a CairnError; the store carries on', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const boom = new Error('boom')
    const reducer = (n: number, e: StoredEvent): number => {
      if (e.type === 'boom') throw boom
      return n + 1
    }
    const bad = await store.append({ stream: 's', type: 'boom' })
    // during catch-up: project() rejects, and the name stays free
    const err = await store.project('p', { initial: 0, reducer }).catch((e: unknown) => e)
    expect(isCairnError(err, REDUCER_FAILED)).toBe(true)
    expect(err).toMatchObject({ cid: bad.cid, stream: 's', cause: boom })
    const p = await store.project('p', { filter: { stream: 't' }, initial: 0, reducer })
    await store.append({ stream: 't', type: 'ok' })
    expect(await p.get('t')).toBe(1)
    // live: the append succeeds, the projection stops
    const later = await store.append({ stream: 't', type: 'boom' })
    await expect(p.get('t')).rejects.toMatchObject({ code: REDUCER_FAILED, cid: later.cid, cause: boom })
    await expect(p.ready()).rejects.toMatchObject({ code: REDUCER_FAILED })
    await expect(p.stateHash()).rejects.toMatchObject({ code: REDUCER_FAILED })
    await expect(collect(p.keys())).rejects.toMatchObject({ code: REDUCER_FAILED })
    await store.append({ stream: 't', type: 'ok' })
    expect(store.version('t')).toBe(3)
    await p.close()
    const fixed = await store.project<number>('p', { filter: { stream: 't' }, initial: 0, reducer: (n) => n + 1 })
    expect(await fixed.get('t')).toBe(3)
    // a state that is not an IPLD value
    const undef = await store.project<Record<string, unknown>>('u', { filter: { stream: 't' }, initial: {}, reducer: () => ({ a: undefined }) }).catch((e: unknown) => e)
    expect(undef).toMatchObject({ code: 'CAIRN_INVALID_VALUE', path: 'state.a', stream: 't' })
    await store.close()
  })
})

describe('projections: property', () => {
  // Replicas append (two streams, two types) on wandering clocks, exchange CARs in any order
  // and reopen (persisted projections reload and catch up); every key's state, as of every
  // event and every event's time, equals a fresh fold of the log, and the state hash equals
  // the documented one over those folds.
  const kind = kinds.find((k) => k.name === 'blockstore-core memory')!
  type Op =
    | { op: 'append'; r: number; stream: number; add: boolean; n: number }
    | { op: 'many'; r: number; items: { stream: number; add: boolean }[] }
    | { op: 'clock'; r: number; delta: number }
    | { op: 'sync'; from: number; to: number }
    | { op: 'reopen'; r: number }
  const r = fc.nat(2)
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('append' as const), r, stream: fc.nat(1), add: fc.boolean(), n: fc.nat(9) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('many' as const), r, items: fc.array(fc.record({ stream: fc.nat(1), add: fc.boolean() }), { minLength: 1, maxLength: 4 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('clock' as const), r, delta: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -60, max: 60 })) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('sync' as const), from: r, to: r }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const), r }) },
  )
  const STREAMS = ['k-0', 'k-1']

  test('any appends, syncs and reopens: states, asOf and stateHash equal fresh folds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 3 }), async (ops, every) => {
        const specs: [string, ProjectionSpec<Items>, string | undefined][] = [
          ['all', { filter: { streamPrefix: 'k-' }, initial: [], reducer: plain, snapshotEvery: every }, undefined],
          ['adds', { filter: { streamPrefix: 'k-', type: 'add' }, initial: [], reducer: plain, snapshotEvery: 2 }, 'add'],
        ]
        const rs: { fx: EngineFixture; open(): Promise<StorageEngine>; clock: ReturnType<typeof manualClock>; store: CairnStore; ps: Projection<Items>[] }[] = []
        const project = (store: CairnStore): Promise<Projection<Items>[]> => Promise.all(specs.map(([name, spec]) => store.project(name, spec)))
        try {
          for (let i = 0; i < 3; i++) {
            const fx = await kind.create()
            const slots = slotted(fx)
            const clock = manualClock(T0)
            const store = await CairnStore.open(await slots.open(), { clock: clock.now })
            rs.push({ fx, open: () => slots.open(), clock, store, ps: await project(store) })
          }
          let seq = 0
          for (const step of ops) {
            if (step.op === 'append') {
              await rs[step.r]!.store.append({ stream: STREAMS[step.stream]!, type: step.add ? 'add' : 'note', data: `${step.n}.${seq++}` })
            } else if (step.op === 'many') {
              await rs[step.r]!.store.appendMany(step.items.map((it) => ({ stream: STREAMS[it.stream]!, type: it.add ? 'add' : 'note', data: `${seq++}` })))
            } else if (step.op === 'clock') {
              rs[step.r]!.clock.set(rs[step.r]!.clock.now() + step.delta)
            } else if (step.op === 'sync') {
              if (step.from === step.to) continue
              await send(rs[step.from]!.store, rs[step.to]!.store)
              const to = rs[step.to]!
              for (const [i, [, , type]] of specs.entries()) {
                for (const key of STREAMS) expect(await to.ps[i]!.get(key)).toEqual(await expected(to.store, key, undefined, type))
              }
            } else {
              const x = rs[step.r]!
              await x.store.close()
              x.store = await CairnStore.open(await x.open(), { clock: x.clock.now })
              x.ps = await project(x.store)
            }
          }
          for (const x of rs) {
            for (const [i, [, , type]] of specs.entries()) {
              const p = x.ps[i]!
              const pairs: [string, Items][] = []
              for (const key of STREAMS) {
                const want = await expected(x.store, key, undefined, type)
                expect(await p.get(key)).toEqual(want)
                if (want.length > 0) pairs.push([key, want])
                for (const e of await collect(x.store.read(key))) {
                  expect(await p.get(key, { asOf: e.cid })).toEqual(await expected(x.store, key, e.cid, type))
                  expect(await p.get(key, { asOf: e.ts })).toEqual(await expected(x.store, key, e.ts, type))
                }
              }
              expect((await p.stateHash()).toString()).toBe(CID.createV1(0x55, await sha256.digest(dagCbor.encode(pairs))).toString())
            }
          }
        } finally {
          for (const x of rs) {
            await x.store.close().catch(() => {})
            await x.fx.dispose()
          }
        }
      }),
      { numRuns: 60 },
    )
  })
})
