// Queries and time travel: read (versions, reverse, asOf a time or an event), query (type,
// prefix, time range, cursors), causedBy/correlated, stats, reduce, replay, stateHash; cursor
// stability across appends and imports of earlier events; laziness by a visit counter.
import { describe, expect, test } from 'vitest'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { engineKinds, wrapEngine } from '../support/engines.ts'
import { collect, manualClock } from '../support/stores.ts'
import { CairnStore } from '../../src/store/store.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import type { EventFilter, StoredEvent } from '../../src/log/event/interface.ts'
import { compareEvents } from '../../src/log/event/order.ts'
import { listsFor, matchesFilter, scan } from '../../src/log/views/query.ts'
import { LogViews, type OrderKey } from '../../src/log/views/views.ts'
import { decodeSnapshot, encodeSnapshot, INDEX_SNAPSHOT } from '../../src/log/views/snapshot.ts'
import { compareBytes } from '../../src/block/codec.ts'

const compareBytesOf = (a: CID, b: CID): number => compareBytes(a.bytes, b.bytes)
import { encodeEvent } from '../../src/log/event/format.ts'
import type { EventBlock } from '../../src/log/event/interface.ts'
import { cids, send, T0, withReplicas } from '../support/replicas.ts'

const kinds = await engineKinds()

const canonical = (events: readonly StoredEvent[]): StoredEvent[] => [...events].sort(compareEvents)

for (const kind of kinds) {
  describe(`queries on ${kind.name}`, () => {
    test('read: versions, reverse, limit, asOf a time and asOf an event of another stream', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        const { store, clock } = a!
        const s: StoredEvent[] = []
        for (let i = 0; i < 6; i++) {
          clock.set(T0 + i * 10)
          s.push(await store.append({ stream: 'acct', type: i === 0 ? 'opened' : 'deposited', data: i }))
        }
        clock.set(T0 + 25)
        const other = await store.append({ stream: 'other', type: 'x' }) // stamped T0+50 (HLC), tc 1
        clock.set(T0 + 100)
        const late = await store.append({ stream: 'acct', type: 'closed' })
        const all = await collect(store.read('acct'))
        expect(all.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7])
        expect(cids(all)).toEqual(cids([...s, late]))
        expect((await collect(store.read('acct', { reverse: true }))).map((e) => e.version)).toEqual([7, 6, 5, 4, 3, 2, 1])
        expect((await collect(store.read('acct', { reverse: true, limit: 2 }))).map((e) => e.version)).toEqual([7, 6])
        expect((await collect(store.read('acct', { fromVersion: 3, toVersion: 5 }))).map((e) => e.version)).toEqual([3, 4, 5])
        expect((await collect(store.read('acct', { fromVersion: 3, toVersion: 5, reverse: true }))).map((e) => e.version)).toEqual([5, 4, 3])
        expect((await collect(store.read('acct', { fromVersion: 3, limit: 2, reverse: true }))).map((e) => e.version)).toEqual([7, 6])
        expect(await collect(store.read('acct', { fromVersion: 9 }))).toEqual([])
        expect(await collect(store.read('acct', { toVersion: 0 }))).toEqual([])
        // asOf a time: ts <= asOf, ms or Date
        expect((await collect(store.read('acct', { asOf: T0 + 20 }))).map((e) => e.data)).toEqual([0, 1, 2])
        expect((await collect(store.read('acct', { asOf: new Date(T0 + 29) }))).map((e) => e.data)).toEqual([0, 1, 2])
        expect(await collect(store.read('acct', { asOf: T0 - 1 }))).toEqual([])
        expect((await collect(store.read('acct', { asOf: T0 + 40, reverse: true, limit: 2 }))).map((e) => e.version)).toEqual([5, 4])
        expect((await collect(store.read('acct', { asOf: T0 + 40, fromVersion: 4 }))).map((e) => e.version)).toEqual([4, 5])
        // asOf an event: what the stream held when it was appended, even one of another stream
        expect(cids(await collect(store.read('acct', { asOf: other.cid })))).toEqual(cids(s))
        expect(cids(await collect(store.read('acct', { asOf: s[2]!.cid })))).toEqual(cids(s.slice(0, 3)))
        expect((await collect(store.read('acct', { asOf: s[4]!.cid, reverse: true, limit: 2 }))).map((e) => e.version)).toEqual([5, 4])
        expect((await collect(store.read('acct', { asOf: s[4]!.cid, fromVersion: 2, toVersion: 3 }))).map((e) => e.version)).toEqual([2, 3])
        expect(await collect(store.read('other', { asOf: s[0]!.cid }))).toEqual([])
        expect(await store.reduce('acct', (sum, e) => sum + ((e.data as number) ?? 0), 0, { asOf: s[3]!.cid })).toBe(0 + 1 + 2 + 3)
        expect(await store.reduce('acct', (n) => n + 1, 0, { asOf: T0 + 10 })).toBe(2)
        expect(await store.reduce('acct', (n) => n + 1, 0)).toBe(7)
      })
    })

    test('time travel to before and after a merge, the same on both replicas', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const s1 = await a!.store.append({ stream: 's', type: 't', data: 's1' })
        a!.clock.set(T0 + 10)
        const s2 = await a!.store.append({ stream: 's', type: 't', data: 's2' })
        await send(a!.store, b!.store)
        // offline on both sides
        b!.clock.set(T0 + 50)
        const b3 = await b!.store.append({ stream: 's', type: 't', data: 'b3' })
        a!.clock.set(T0 + 100)
        const a3 = await a!.store.append({ stream: 's', type: 't', data: 'a3' })
        const aOther = await a!.store.append({ stream: 'o', type: 't' })
        b!.clock.set(T0 + 150)
        const b4 = await b!.store.append({ stream: 's', type: 't', data: 'b4' })
        // before the exchange, a knows only its branch
        expect((await collect(a!.store.read('s', { asOf: T0 + 120 }))).map((e) => e.data)).toEqual(['s1', 's2', 'a3'])
        await send(a!.store, b!.store)
        await send(b!.store, a!.store)
        a!.clock.set(T0 + 200)
        const merge = await a!.store.append({ stream: 's', type: 'merged', data: 'm' })
        expect(merge.parents.map(String).sort()).toEqual([aOther.cid, b4.cid].map(String).sort())
        await send(a!.store, b!.store)
        expect(b!.store.heads.map(String)).toEqual(a!.store.heads.map(String))
        for (const { store } of [a!, b!]) {
          const data = async (asOf?: number | CID): Promise<unknown[]> => (await collect(store.read('s', asOf === undefined ? {} : { asOf }))).map((e) => e.data)
          expect(await data()).toEqual(['s1', 's2', 'b3', 'a3', 'b4', 'm'])
          // before the merge, at each branch's tip: only that branch
          expect(await data(a3.cid)).toEqual(['s1', 's2', 'a3'])
          expect(await data(aOther.cid)).toEqual(['s1', 's2', 'a3'])
          expect(await data(b4.cid)).toEqual(['s1', 's2', 'b3', 'b4'])
          expect(await data(b3.cid)).toEqual(['s1', 's2', 'b3'])
          expect((await collect(store.read('s', { asOf: b4.cid }))).map((e) => e.version)).toEqual([1, 2, 3, 4])
          // after the merge: everything
          expect(await data(merge.cid)).toEqual(['s1', 's2', 'b3', 'a3', 'b4', 'm'])
          // by time: whatever was stamped by then, from both branches
          expect(await data(T0 + 120)).toEqual(['s1', 's2', 'b3', 'a3'])
          expect(await data(T0 + 49)).toEqual(['s1', 's2'])
          expect(await data(s2.cid)).toEqual(['s1', 's2'])
          expect(await data(s1.cid)).toEqual(['s1'])
          const joined = (asOf: number | CID): Promise<string> => store.reduce('s', (acc, e) => acc + String(e.data), '', { asOf })
          expect(await joined(a3.cid)).toBe('s1s2a3')
          expect(await joined(merge.cid)).toBe('s1s2b3a3b4m')
        }
        expect((await a!.store.stateHash()).equals(await b!.store.stateHash())).toBe(true)
      })
    })

    test('query: type, stream, streamPrefix, since/until, reverse, limit; $objects only when named', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        const { store, clock } = a!
        const events: StoredEvent[] = []
        for (let i = 0; i < 30; i++) {
          clock.set(T0 + i * 1000)
          events.push(await store.append({ stream: ['user-1', 'user-2', 'user-10', 'order-1'][i % 4]!, type: ['created', 'renamed', 'deleted'][i % 3]!, data: i }))
          if (i % 10 === 5) await store.put({ i }, { type: 'doc' })
        }
        const expectQuery = async (q: Parameters<CairnStore['query']>[0], pick: (e: StoredEvent) => boolean): Promise<void> => {
          const want = canonical(events).filter(pick)
          expect(cids(await collect(store.query(q)))).toEqual(cids(want))
          expect(cids(await collect(store.query({ ...q, reverse: true })))).toEqual(cids(want).reverse())
          expect(cids(await collect(store.query({ ...q, limit: 3 })))).toEqual(cids(want.slice(0, 3)))
          expect(cids(await collect(store.query({ ...q, limit: 3, reverse: true })))).toEqual(cids(want.slice(-3).reverse()))
        }
        await expectQuery({}, () => true)
        await expectQuery({ type: 'renamed' }, (e) => e.type === 'renamed')
        await expectQuery({ stream: 'user-1' }, (e) => e.stream === 'user-1')
        await expectQuery({ streamPrefix: 'user-1' }, (e) => e.stream.startsWith('user-1'))
        await expectQuery({ streamPrefix: 'user-' }, (e) => e.stream.startsWith('user-'))
        await expectQuery({ streamPrefix: 'zzz' }, () => false)
        await expectQuery({ streamPrefix: 'user-', type: 'deleted' }, (e) => e.stream.startsWith('user-') && e.type === 'deleted')
        await expectQuery({ type: 'nope' }, () => false)
        // since inclusive, until exclusive; ms or Date
        await expectQuery({ since: T0 + 5000, until: T0 + 9000 }, (e) => e.ts >= T0 + 5000 && e.ts < T0 + 9000)
        await expectQuery({ since: new Date(T0 + 4500), until: new Date(T0 + 9001) }, (e) => e.ts >= T0 + 4500 && e.ts < T0 + 9001)
        await expectQuery({ since: T0 + 4999.5, until: T0 + 9000.5 }, (e) => e.ts >= T0 + 4999.5 && e.ts < T0 + 9000.5)
        await expectQuery({ type: 'created', since: T0 + 10_000 }, (e) => e.type === 'created' && e.ts >= T0 + 10_000)
        // versions are the stream's
        for (const e of await collect(store.query({ stream: 'user-2' }))) expect(e.version).toBe(((e.data as number) - 1) / 4 + 1)
        // $objects: left out unless the filter names it
        const puts = await collect(store.query({ stream: '$objects' }))
        expect(puts.map((e) => e.type)).toEqual(['object.put', 'object.put', 'object.put'])
        expect(cids(await collect(store.query({ streamPrefix: '$' })))).toEqual(cids(puts))
        expect(await collect(store.query({ type: 'object.put' }))).toEqual([])
        const everything = await collect(store.query({ streamPrefix: '$' }))
        expect(everything).toHaveLength(3)
      })
    })

    test('query cursors page through the log and stay valid across appends and imports of earlier events', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const base = await a!.store.append({ stream: 'x', type: 't', data: 'base' })
        await send(a!.store, b!.store)
        // b writes offline with a clock between a's stamps
        for (const at of [5, 15, 25, 35]) {
          b!.clock.set(T0 + at)
          await b!.store.append({ stream: `b-${at}`, type: 't', data: `b${at}` })
        }
        for (const at of [10, 20, 30, 40]) {
          a!.clock.set(T0 + at)
          await a!.store.append({ stream: `a-${at}`, type: 't', data: `a${at}` })
        }
        const data = (es: StoredEvent[]): unknown[] => es.map((e) => e.data)
        // page 1 on a, then an append, then page 2 from the cursor
        const page1 = await collect(a!.store.query({ type: 't', limit: 3 }))
        expect(data(page1)).toEqual(['base', 'a10', 'a20'])
        a!.clock.set(T0 + 50)
        await a!.store.append({ stream: 'a-50', type: 't', data: 'a50' })
        // b's events land before and after the cursor (a20)
        await send(b!.store, a!.store)
        const page2 = await collect(a!.store.query({ type: 't', after: page1.at(-1)!.cid, limit: 3 }))
        expect(data(page2)).toEqual(['b25', 'a30', 'b35'])
        const page3 = await collect(a!.store.query({ type: 't', after: page2.at(-1)!.cid, limit: 3 }))
        expect(data(page3)).toEqual(['a40', 'a50'])
        expect(await collect(a!.store.query({ type: 't', after: page3.at(-1)!.cid }))).toEqual([])
        // newest first: "after" is the next one in the direction of reading
        const back = await collect(a!.store.query({ type: 't', after: page2[1]!.cid, reverse: true, limit: 4 }))
        expect(data(back)).toEqual(['b25', 'a20', 'b15', 'a10'])
        // the same cursor on the other replica (which holds the same events after the exchange)
        await send(a!.store, b!.store)
        expect(data(await collect(b!.store.query({ type: 't', after: page1.at(-1)!.cid, limit: 3 })))).toEqual(['b25', 'a30', 'b35'])
        expect(base.version).toBe(1)
      })
    })

    test('an iteration in flight sees the log as it started, in order, across appends and mid-order imports', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        await a!.store.append({ stream: 's', type: 't', data: 0 })
        await send(a!.store, b!.store)
        for (let i = 1; i <= 6; i++) {
          b!.clock.set(T0 + i * 10 - 5)
          await b!.store.append({ stream: 's', type: 't', data: `b${i}` })
        }
        for (let i = 1; i <= 6; i++) {
          a!.clock.set(T0 + i * 10)
          await a!.store.append({ stream: 's', type: 't', data: `a${i}` })
        }
        const before = await collect(a!.store.read('s'))
        const q = a!.store.query({ type: 't' })
        const r = a!.store.read('s')
        const rr = a!.store.read('s', { reverse: true })
        const got: StoredEvent[] = []
        const gotRead: StoredEvent[] = []
        const gotReverse: StoredEvent[] = []
        for (let i = 0; i < 3; i++) {
          got.push((await q.next()).value as StoredEvent)
          gotRead.push((await r.next()).value as StoredEvent)
          gotReverse.push((await rr.next()).value as StoredEvent)
        }
        await send(b!.store, a!.store) // inserts b1..b6 between a's events
        a!.clock.set(T0 + 100)
        await a!.store.append({ stream: 's', type: 't', data: 'late' })
        for await (const e of q) got.push(e)
        for await (const e of r) gotRead.push(e)
        for await (const e of rr) gotReverse.push(e)
        expect(cids(got)).toEqual(cids(before))
        expect(cids(gotRead)).toEqual(cids(before))
        expect(gotRead.map((e) => e.version)).toEqual(before.map((e) => e.version)) // versions as of the start
        expect(cids(gotReverse)).toEqual(cids(before).reverse())
        expect(gotReverse.map((e) => e.version)).toEqual(before.map((e) => e.version).reverse())
        // a new iteration sees the merged stream with renumbered versions
        const now = await collect(a!.store.read('s'))
        expect(now.map((e) => e.data)).toEqual([0, 'b1', 'a1', 'b2', 'a2', 'b3', 'a3', 'b4', 'a4', 'b5', 'a5', 'b6', 'a6', 'late'])
        expect(now.map((e) => e.version)).toEqual(now.map((_, i) => i + 1))
        expect((await a!.store.getEvent(now[2]!.cid)).version).toBe(3)
      })
    })

    test('causedBy and correlated, in canonical order with paging', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        const { store, clock } = a!
        const cmd = await store.append({ stream: 'cmd', type: 'place', meta: { correlation: 'flow-1' } })
        const caused: StoredEvent[] = []
        for (let i = 0; i < 4; i++) {
          clock.set(T0 + 10 + i)
          caused.push(await store.append({ stream: `o-${i}`, type: 'placed', meta: { correlation: 'flow-1', causation: cmd.cid.toString() } }))
        }
        await store.append({ stream: 'x', type: 'y', meta: { correlation: 'flow-2', causation: 'not-a-cid' } })
        expect(cids(await collect(store.causedBy(cmd.cid)))).toEqual(cids(caused))
        expect(cids(await collect(store.causedBy(cmd.cid.toString())))).toEqual(cids(caused))
        expect((await collect(store.causedBy('not-a-cid'))).map((e) => e.stream)).toEqual(['x'])
        expect(cids(await collect(store.correlated('flow-1')))).toEqual(cids([cmd, ...caused]))
        expect(cids(await collect(store.correlated('flow-1', { limit: 2, after: caused[0]!.cid })))).toEqual(cids(caused.slice(1, 3)))
        expect(cids(await collect(store.correlated('flow-1', { reverse: true, limit: 2 })))).toEqual(cids(caused.slice(2).reverse()))
        expect(await collect(store.correlated('nobody'))).toEqual([])
        expect(await collect(store.causedBy(caused[0]!.cid))).toEqual([])
      })
    })

    test('stats count events, streams, types, objects and bytes, and survive a reopen', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        expect(await a!.store.stats()).toEqual({ events: 0, streams: 0, types: 0, objects: 0, bytes: 0 })
        const e1 = await a!.store.append({ stream: 's1', type: 'a', data: { hello: 'world' } })
        const e2 = await a!.store.append({ stream: 's2', type: 'b' })
        const doc = await a!.store.put({ title: 'x' }, { type: 'doc' })
        await a!.store.put({ title: 'x' }, { type: 'other' }) // same object, second record
        const file = await a!.store.putFile(new Uint8Array(1000).fill(7))
        const puts = await collect(a!.store.query({ stream: '$objects' }))
        let eventBytes = 0
        for (const e of [e1, e2, ...puts]) {
          const block = dagCbor.encode({ v: 1, stream: e.stream, type: e.type, ts: e.ts, tc: e.tc, prev: e.prev, parents: e.parents, data: e.data, ...(e.meta === undefined ? {} : { meta: e.meta }) })
          eventBytes += block.length
        }
        const docBytes = dagCbor.encode({ title: 'x' }).length
        const stats = await a!.store.stats()
        expect(stats).toEqual({ events: 5, streams: 3, types: 3, objects: 2, bytes: eventBytes + docBytes + 1000 })
        expect(doc).toBeDefined()
        expect(file).toBeDefined()
        if (kind.persistent) {
          await a!.store.close()
          a!.store = await CairnStore.open(await a!.fx.open(), { clock: a!.clock.now })
          expect(await a!.store.stats()).toEqual(stats)
        }
      })
    })

    test('replay walks prev links from storage, verifying each block, oldest first, filtered', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const s: StoredEvent[] = []
        for (let i = 0; i < 5; i++) {
          a!.clock.set(T0 + i)
          s.push(await a!.store.append({ stream: 'acct', type: i % 2 === 0 ? 'even' : 'odd', data: i }))
          await a!.store.append({ stream: 'noise', type: 'even' })
        }
        expect(cids(await collect(a!.store.replay(s[4]!.cid)))).toEqual(cids(s))
        expect(cids(await collect(a!.store.replay(s[2]!.cid)))).toEqual(cids(s.slice(0, 3)))
        expect((await collect(a!.store.replay(s[4]!.cid, { filter: { type: 'odd' } }))).map((e) => e.data)).toEqual([1, 3])
        expect((await collect(a!.store.replay(s[4]!.cid, { filter: { type: ['odd', 'even'] } }))).map((e) => e.data)).toEqual([0, 1, 2, 3, 4])
        expect((await collect(a!.store.replay(s[4]!.cid, { filter: (e) => (e.data as number) > 2 }))).map((e) => e.version)).toEqual([4, 5])
        // a forked stream: the chain is the writer's branch
        await send(a!.store, b!.store)
        b!.clock.set(T0 + 100)
        const bTip = await b!.store.append({ stream: 'acct', type: 'b' })
        a!.clock.set(T0 + 50)
        await a!.store.append({ stream: 'acct', type: 'a' })
        await send(b!.store, a!.store)
        expect((await collect(a!.store.replay(bTip.cid))).map((e) => e.type)).toEqual(['even', 'odd', 'even', 'odd', 'even', 'b'])
        expect((await collect(a!.store.replay(bTip.cid))).map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 7])
      })
    })
  })
}

describe('queries (memory)', () => {
  test('views: a parent neither indexed nor earlier in the batch is CAIRN_CORRUPT and adds nothing; others resolve to their arrival numbers', () => {
    const make = (ts: number, parents: CID[], stream = 's'): { cid: CID; event: EventBlock; size: number } => {
      const event: EventBlock = { v: 1, stream, type: 't', ts, tc: 0, prev: null, parents, data: ts }
      const block = encodeEvent(event)
      return { cid: block.cid, event, size: block.bytes.length }
    }
    const a = make(T0, [])
    const b = make(T0 + 1, [a.cid])
    const early = make(T0 - 1, [b.cid], 'x') // names b but stamps below it: b comes later in the batch
    const views = new LogViews()
    const failure = (fn: () => unknown): string | undefined => {
      try {
        fn()
      } catch (err) {
        return (err as { code?: string }).code
      }
      return undefined
    }
    expect(failure(() => views.addEvents([b]))).toBe('CAIRN_CORRUPT')
    expect(failure(() => views.addEvents([a, b, early]))).toBe('CAIRN_CORRUPT')
    expect(views.size).toBe(0)
    views.addEvents([b, a, a])
    const c = make(T0 + 2, [a.cid, b.cid])
    const d = make(T0 + 3, [c.cid])
    views.addEvents([d, c, b])
    expect(views.size).toBe(4)
    const seq = (e: { cid: CID }): number => views.seqOf(e.cid)
    expect([seq(a), seq(b), seq(c), seq(d)]).toEqual([0, 1, 2, 3])
    expect([[...views.parents(seq(b))], [...views.parents(seq(c))], [...views.parents(seq(d))]]).toEqual([[0], [0, 1], [2]])
  })

  test('views: a batch refused part-way (its first events added to the columns) leaves every view as it was', () => {
    const make = (ts: number, parents: CID[], stream: string, tc = 0): { cid: CID; event: EventBlock; size: number } => {
      const event: EventBlock = { v: 1, stream, type: `t-${stream}`, ts, tc, prev: null, parents, data: ts }
      const block = encodeEvent(event)
      return { cid: block.cid, event, size: block.bytes.length }
    }
    const views = new LogViews()
    const a = make(T0, [], 's')
    views.addEvents([a])
    const before = { size: views.size, bytes: views.bytes(), streams: views.streamCount, types: views.typeCount, hash: views.stateHash().toString() }
    // Enough rows to grow the columns and rehash their CID table before the refusal; merges and a huge tc among them.
    const good: ReturnType<typeof make>[] = [a]
    for (let i = 0; i < 300; i++) good.push(make(T0 + 1 + i, [good.at(-1)!.cid, ...(i % 7 === 0 ? [a.cid] : [])], `new-${i % 5}`, i === 3 ? 2 ** 40 : 0))
    const orphan = make(T0 + 1000, [make(T0 - 5, [], 'elsewhere').cid], 'late')
    let code: string | undefined
    try {
      views.addEvents([...good.slice(1), orphan])
    } catch (err) {
      code = (err as { code?: string }).code
    }
    expect(code).toBe('CAIRN_CORRUPT')
    expect({ size: views.size, bytes: views.bytes(), streams: views.streamCount, types: views.typeCount, hash: views.stateHash().toString() }).toEqual(before)
    expect(views.streamsWithPrefix('new-')).toEqual([])
    expect(views.stream('late')).toBeUndefined()
    expect(views.ofType('t-new-0')).toBeUndefined()
    for (const e of good.slice(1)) expect(views.seqOf(e.cid)).toBe(-1)
    expect(views.seqOf(a.cid)).toBe(0)
    // The same events then go in, and the views match a fresh set built from them.
    views.addEvents(good.slice(1))
    const fresh = new LogViews()
    fresh.addEvents(good)
    expect(views.size).toBe(301)
    expect(views.stateHash().toString()).toBe(fresh.stateHash().toString())
    for (const e of good) expect(views.seqOf(e.cid)).toBe(fresh.seqOf(e.cid))
    expect([...views.parents(views.seqOf(good[8]!.cid))]).toEqual([7, 0])
    expect(views.tc(views.seqOf(good[4]!.cid))).toBe(2 ** 40)
    expect(views.streamsWithPrefix('new-')).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4'])
    expect(views.stream('new-1')?.length).toBe(60)
  })

  test('views: one at a time or in batches, in any arrival order, every list ends in canonical order; a snapshot restores them', async () => {
    const events = Array.from({ length: 300 }, (_, i) => {
      const event: EventBlock = { v: 1, stream: `s${i % 7}`, type: `t${i % 3}`, ts: T0 + (i % 50), tc: i % 4, prev: null, parents: [], data: i, meta: { correlation: `c${i % 5}`, causation: `k${i % 2}` } }
      const block = encodeEvent(event)
      return { cid: block.cid, event, size: block.bytes.length }
    })
    let seed = 42
    const shuffled = [...events].sort(() => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647 - 0.5
    })
    const one = new LogViews()
    for (const e of shuffled) one.addEvents([e])
    const batched = new LogViews()
    for (let i = 0; i < shuffled.length; i += 37) batched.addEvents(shuffled.slice(i, i + 37))
    const snap = await decodeSnapshot(await encodeSnapshot(batched, [events[0]!.cid]))
    expect(snap?.heads.map(String)).toEqual([events[0]!.cid.toString()])
    const restored = snap!.views
    const sorted = [...events].sort((a, b) => compareEvents({ ...a.event, cid: a.cid }, { ...b.event, cid: b.cid }))
    const keys = (v: LogViews, list: { view(): Uint32Array } | undefined): string[] => [...(list?.view() ?? [])].map((s) => v.cid(s).toString())
    const cids = (list: readonly { cid: CID }[]): string[] => list.map((e) => e.cid.toString())
    for (const v of [one, batched, restored]) {
      expect(keys(v, v.order())).toEqual(cids(sorted))
      expect(keys(v, v.stream('s3'))).toEqual(cids(sorted.filter((e) => e.event.stream === 's3')))
      expect([...v.stream('s3')!.view()].map((s) => v.version(s))).toEqual([...v.stream('s3')!.view()].map((_, i) => i + 1))
      expect(keys(v, v.ofType('t1'))).toEqual(cids(sorted.filter((e) => e.event.type === 't1')))
      expect(keys(v, v.correlated('c2'))).toEqual(cids(sorted.filter((e) => e.event.meta?.correlation === 'c2')))
      expect(keys(v, v.causedBy('k1'))).toEqual(cids(sorted.filter((e) => e.event.meta?.causation === 'k1')))
      expect(v.streamsWithPrefix('s')).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6'])
      expect([...scan(v, { lists: [v.order()], reverse: true, limit: 5 })].map((s) => v.cid(s).toString())).toEqual(cids(sorted.slice(-5).reverse()))
      for (const e of events) expect(v.cid(v.seqOf(e.cid)).equals(e.cid)).toBe(true)
      expect(v.stateHash().equals(one.stateHash())).toBe(true)
      expect(v.bytes()).toBe(events.reduce((n, e) => n + e.size, 0))
    }
    expect(one.epoch).toBeGreaterThan(0)
    // A restored snapshot keeps taking events at their canonical places.
    const late = { v: 1 as const, stream: 's3', type: 't1', ts: T0 + 10, tc: 9, prev: null, parents: [], data: 'late' }
    const block = encodeEvent(late)
    for (const v of [one, restored]) v.addEvents([{ cid: block.cid, event: late, size: block.bytes.length }])
    expect(keys(restored, restored.order())).toEqual(keys(one, one.order()))
    expect(keys(restored, restored.stream('s3'))).toEqual(keys(one, one.stream('s3')))
    expect(restored.stateHash().equals(one.stateHash())).toBe(true)
  })

  test('views: arrival-order logs keep no order array; an odd CID (another hash) switches the CID column to variable width; snapshots keep both', async () => {
    const make = (i: number, parents: CID[], odd = false): { cid: CID; event: EventBlock; size: number } => {
      const event: EventBlock = { v: 1, stream: `s${i % 3}`, type: 't', ts: T0 + i, tc: 0, prev: null, parents, data: i }
      const block = encodeEvent(event)
      const cid = odd ? CID.createV1(0x71, Digest.create(0x13, sha512(block.bytes))) : block.cid
      return { cid, event, size: block.bytes.length }
    }
    const linear: ReturnType<typeof make>[] = []
    for (let i = 0; i < 50; i++) linear.push(make(i, i === 0 ? [] : [linear[i - 1]!.cid]))
    const views = new LogViews()
    for (const e of linear) views.addEvents([e])
    expect(views.order().isIdentity).toBe(true)
    const snap1 = (await decodeSnapshot(await encodeSnapshot(views, [linear.at(-1)!.cid])))!.views
    expect(snap1.order().isIdentity).toBe(true)
    // A merge event with two parents, one of them with a sha2-512 CID, then an older event mid-order.
    const odd = make(50, [linear[49]!.cid], true)
    const merge = make(
      51,
      [linear[49]!.cid, odd.cid].sort((a, b) => compareBytesOf(a, b)),
    )
    const older = make(7, [linear[5]!.cid])
    older.event.tc = 5
    const olderBlock = encodeEvent(older.event)
    const older2 = { ...older, cid: olderBlock.cid }
    for (const v of [views, snap1]) v.addEvents([odd, merge, older2])
    expect(views.order().isIdentity).toBe(false)
    const snap2 = (await decodeSnapshot(await encodeSnapshot(views, [merge.cid])))!.views
    for (const v of [views, snap1, snap2]) {
      for (const e of [...linear, odd, merge, older2]) expect(v.cid(v.seqOf(e.cid)).equals(e.cid)).toBe(true)
      expect(v.seqOf(CID.createV1(0x71, Digest.create(0x13, sha512(new Uint8Array([1])))))).toBe(-1)
      expect([...v.parents(v.seqOf(merge.cid))].map((p) => v.cid(p).toString()).sort()).toEqual(merge.event.parents.map(String).sort())
      expect(v.parents(v.seqOf(linear[0]!.cid)).length).toBe(0)
      expect(v.cid(v.order().at(8)).equals(older2.cid)).toBe(true)
      expect(v.stateHash().equals(views.stateHash())).toBe(true)
    }
  })

  test('a damaged snapshot is refused, not half-loaded', async () => {
    const views = new LogViews()
    const event: EventBlock = { v: 1, stream: 's', type: 't', ts: T0, tc: 0, prev: null, parents: [], data: 1 }
    const block = encodeEvent(event)
    views.addEvents([{ cid: block.cid, event, size: block.bytes.length }])
    const bytes = await encodeSnapshot(views, [block.cid])
    for (const at of [0, 20, bytes.length - 40, bytes.length - 1]) {
      const bad = bytes.slice()
      bad[at]! ^= 1
      expect(await decodeSnapshot(bad)).toBeUndefined()
    }
    expect(await decodeSnapshot(bytes.subarray(0, bytes.length - 1))).toBeUndefined()
    expect(await decodeSnapshot(new Uint8Array(0))).toBeUndefined()
  })

  test('replay re-hashes what storage returns: a mangled block fails with CAIRN_INVALID_BLOCK', async () => {
    const inner = new MemoryStorage()
    let mangle: string | undefined
    const engine = wrapEngine(inner, {
      async get(cid) {
        const bytes = await inner.get(cid)
        if (bytes === undefined || cid.toString() !== mangle) return bytes
        const copy = bytes.slice()
        copy[copy.length - 1] = copy[copy.length - 1]! ^ 1
        return copy
      },
    })
    const store = await CairnStore.open(engine)
    const e1 = await store.append({ stream: 's', type: 't' })
    const e2 = await store.append({ stream: 's', type: 't' })
    const e3 = await store.append({ stream: 's', type: 't' })
    mangle = e2.cid.toString()
    await expect(collect(store.replay(e3.cid))).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK', cid: e2.cid })
    expect(cids(await collect(store.replay(e1.cid)))).toEqual(cids([e1]))
    // the in-memory views are untouched: read does not hit storage
    expect(cids(await collect(store.read('s')))).toEqual(cids([e1, e2, e3]))
    await store.close()
  })

  test('stateHash: one CID over the canonical order, equal on replicas whatever the arrival order', async () => {
    const clocks = [manualClock(T0), manualClock(T0), manualClock(T0)]
    const [a, b, c] = await Promise.all(clocks.map((k) => CairnStore.open(new MemoryStorage(), { clock: k.now })))
    const empty = await a!.stateHash()
    expect(empty.toString()).toBe(CID.createV1(0x55, Digest.create(0x12, sha256(new Uint8Array()))).toString())
    for (let i = 0; i < 5; i++) {
      clocks[0]!.set(T0 + i * 2)
      await a!.append({ stream: 'a', type: 't', data: i })
    }
    for (let i = 0; i < 5; i++) {
      clocks[1]!.set(T0 + i * 2 + 1)
      await b!.append({ stream: 'b', type: 't', data: i })
    }
    const h1 = await a!.stateHash()
    expect(h1.equals(empty)).toBe(false)
    expect((await a!.stateHash()).equals(h1)).toBe(true)
    // c gets a then b; b gets a; a gets b
    await send(a!, c!)
    await send(b!, c!)
    await send(a!, b!)
    await send(b!, a!)
    const [ha, hb, hc] = [await a!.stateHash(), await b!.stateHash(), await c!.stateHash()]
    expect(ha.equals(hb) && hb.equals(hc)).toBe(true)
    // by hand: sha2-256 over the CIDs' bytes in canonical order
    const all = canonical([...(await collect(a!.query({}))), ...(await collect(a!.query({ streamPrefix: '$' })))])
    const bytes = new Uint8Array(all.reduce((n, e) => n + e.cid.bytes.length, 0))
    let at = 0
    for (const e of all) {
      bytes.set(e.cid.bytes, at)
      at += e.cid.bytes.length
    }
    expect(ha.toString()).toBe(CID.createV1(0x55, Digest.create(0x12, sha256(bytes))).toString())
    for (const s of [a!, b!, c!]) await s.close()
  })

  test('stateHash stays right past its checkpoints when an import inserts far back', async () => {
    const ka = manualClock(T0)
    const kb = manualClock(T0)
    const a = await CairnStore.open(new MemoryStorage(), { clock: ka.now })
    const b = await CairnStore.open(new MemoryStorage(), { clock: kb.now })
    await a.append({ stream: 'base', type: 't' })
    await send(a, b)
    const batch = Array.from({ length: 5000 }, (_, i) => ({ stream: `s${i % 50}`, type: 't', data: i }))
    ka.set(T0 + 1000)
    await a.appendMany(batch)
    const before = await a.stateHash() // builds checkpoints
    kb.set(T0 + 10)
    await b.append({ stream: 'early', type: 't' })
    await send(b, a)
    await send(a, b)
    const [ha, hb] = [await a.stateHash(), await b.stateHash()]
    expect(ha.equals(before)).toBe(false)
    expect(ha.equals(hb)).toBe(true)
    // a fresh replica that received everything at once agrees
    const c = await CairnStore.open(new MemoryStorage())
    await c.import(a.export())
    expect((await c.stateHash()).equals(ha)).toBe(true)
    for (const s of [a, b, c]) await s.close()
  })

  test('lazy: limit 10 visits about 10 entries of a 6000-event log and reads about 10 blocks, wherever it starts', async () => {
    const clock = manualClock(T0)
    const inner = new MemoryStorage()
    const builder = await CairnStore.open(wrapEngine(inner, { close: async () => {} }), { clock: clock.now })
    for (let batch = 0; batch < 12; batch++) {
      clock.set(T0 + batch * 1000)
      await builder.appendMany(
        Array.from({ length: 500 }, (_, i) => {
          const n = batch * 500 + i
          return { stream: `user-${n % 100}`, type: n % 10 === 0 ? 'rare' : 'common', data: n, meta: { correlation: `c${n % 3}` } }
        }),
      )
    }
    await builder.close()
    // Reopened: only the newest events are cached, the rest are read from storage on demand.
    let gets = 0
    const store = await CairnStore.open(
      wrapEngine(inner, {
        get: (cid) => {
          gets++
          return inner.get(cid)
        },
      }),
      { clock: clock.now },
    )
    const reads = async <T>(it: AsyncIterable<T>): Promise<{ n: number; items: T[]; gets: number }> => {
      const startGets = gets
      const items = await collect(it)
      return { n: items.length, items, gets: gets - startGets }
    }
    // The store opened the snapshot `builder` wrote and indexed nothing more: these views are
    // the ones its queries scan. Each case below runs the store call, counting block reads,
    // and the scan the store runs for it (CairnStore.query/read/#page) over these views,
    // counting the entries it visits through the scan's onVisit seam.
    expect(store.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 0 })
    const views = (await decodeSnapshot((await inner.readDerived(INDEX_SNAPSHOT))!))!.views
    expect(views.size).toBe(6000)
    type Visit = (seq: number) => void
    const afterCursor = (after: CID | undefined, reverse: boolean | undefined): { lower?: { key: OrderKey; inclusive: boolean }; upper?: { key: OrderKey; inclusive: boolean } } => {
      if (after === undefined) return {}
      const key = views.key(views.seqOf(after))
      return reverse === true ? { upper: { key, inclusive: false } } : { lower: { key, inclusive: false } }
    }
    const queryScan =
      (q: EventFilter & { since?: number; until?: number; after?: CID; reverse?: boolean; limit: number }) =>
      (onVisit: Visit): Iterable<number> =>
        scan(views, {
          lists: listsFor(views, q),
          filter: (s) => matchesFilter(views, s, q),
          minTs: q.since,
          maxTs: q.until === undefined ? undefined : q.until - 1,
          ...afterCursor(q.after, q.reverse),
          reverse: q.reverse,
          limit: q.limit,
          onVisit,
        })
    const readScan =
      (stream: string, o: { fromVersion?: number; asOf?: number; reverse?: boolean; limit: number }) =>
      (onVisit: Visit): Iterable<number> => {
        const list = views.stream(stream)!
        const from = o.fromVersion ?? 1
        return scan(views, { lists: [list], maxTs: o.asOf, lower: from > 1 ? { key: views.key(list.at(from - 1)), inclusive: true } : undefined, reverse: o.reverse, limit: o.limit, onVisit })
      }
    const correlatedScan =
      (id: string, o: { after?: CID; limit: number }) =>
      (onVisit: Visit): Iterable<number> =>
        scan(views, { lists: [views.correlated(id)!], ...afterCursor(o.after, false), limit: o.limit, onVisit })
    const mid = (await collect(store.query({ since: T0 + 6000, limit: 1 })))[0]!
    const cases: [string, AsyncIterable<StoredEvent>, (onVisit: Visit) => Iterable<number>][] = [
      ['query all', store.query({ limit: 10 }), queryScan({ limit: 10 })],
      ['query all, newest first', store.query({ limit: 10, reverse: true }), queryScan({ limit: 10, reverse: true })],
      ['query type', store.query({ type: 'rare', limit: 10 }), queryScan({ type: 'rare', limit: 10 })],
      ['query type, newest first', store.query({ type: 'rare', limit: 10, reverse: true }), queryScan({ type: 'rare', limit: 10, reverse: true })],
      ['query since', store.query({ since: T0 + 6000, limit: 10 }), queryScan({ since: T0 + 6000, limit: 10 })],
      ['query until, newest first', store.query({ until: T0 + 6000, limit: 10, reverse: true }), queryScan({ until: T0 + 6000, limit: 10, reverse: true })],
      ['query after a cursor mid-log', store.query({ after: mid.cid, limit: 10 }), queryScan({ after: mid.cid, limit: 10 })],
      ['query type after a cursor', store.query({ type: 'rare', after: mid.cid, limit: 10 }), queryScan({ type: 'rare', after: mid.cid, limit: 10 })],
      ['query one stream', store.query({ stream: 'user-42', since: T0 + 5000, limit: 10 }), queryScan({ stream: 'user-42', since: T0 + 5000, limit: 10 })],
      ['query streamPrefix (merge of 11 streams)', store.query({ streamPrefix: 'user-4', limit: 10 }), queryScan({ streamPrefix: 'user-4', limit: 10 })],
      ['read deep', store.read('user-7', { fromVersion: 30, limit: 10 }), readScan('user-7', { fromVersion: 30, limit: 10 })],
      ['read asOf, newest first', store.read('user-7', { asOf: T0 + 6000, reverse: true, limit: 10 }), readScan('user-7', { asOf: T0 + 6000, reverse: true, limit: 10 })],
      ['correlated', store.correlated('c1', { after: mid.cid, limit: 10 }), correlatedScan('c1', { after: mid.cid, limit: 10 })],
    ]
    for (const [name, it, scanOf] of cases) {
      const { n, gets, items } = await reads(it)
      let visited = 0
      const scanned = [
        ...scanOf(() => {
          visited++
        }),
      ].map((seq) => views.cid(seq).toString())
      expect({ name, n }).toEqual({ name, n: 10 })
      expect({ name, visited: visited <= 12 }).toEqual({ name, visited: true })
      expect({ name, gets: gets <= 12 }).toEqual({ name, gets: true })
      // the scan is the store's: it finds exactly what the store returned
      expect({ name, scanned }).toEqual({ name, scanned: items.map((e) => e.cid.toString()) })
    }
    // and the answers are right
    expect((await reads(store.query({ type: 'rare', after: mid.cid, limit: 3 }))).items.map((e) => e.data)).toEqual([3010, 3020, 3030])
    expect(mid.data).toBe(3000)
    expect((await reads(store.read('user-7', { fromVersion: 30, limit: 2 }))).items.map((e) => e.data)).toEqual([2907, 3007])
    await store.close()
  })

  test('argument mistakes are TypeError/RangeError naming the argument; unknown CIDs are CAIRN_NOT_FOUND', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const e = await store.append({ stream: 's', type: 't' })
    const unknown = CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    const bad: [() => AsyncIterable<unknown>, RegExp, ErrorConstructor][] = [
      [() => store.read('', {}), /"stream"/, TypeError],
      [() => store.read('s', { limit: -1 }), /"limit"/, RangeError],
      [() => store.read('s', { reverse: 'yes' as never }), /"reverse"/, TypeError],
      [() => store.read('s', { asOf: 'yesterday' as never }), /"asOf"/, TypeError],
      [() => store.read('s', { asOf: NaN }), /"asOf"/, RangeError],
      [() => store.read('s', { asOf: new Date('nope') }), /"asOf"/, RangeError],
      [() => store.query(null as never), /"query"/, TypeError],
      [() => store.query({ type: 5 as never }), /"type"/, TypeError],
      [() => store.query({ streamPrefix: '' }), /"streamPrefix"/, TypeError],
      [() => store.query({ since: '2024' as never }), /"since"/, TypeError],
      [() => store.query({ until: Infinity }), /"until"/, RangeError],
      [() => store.query({ after: 'bafy' as never }), /"after"/, TypeError],
      [() => store.query({ limit: 1.5 }), /"limit"/, TypeError],
      [() => store.causedBy(5 as never), /"cause"/, TypeError],
      [() => store.correlated(''), /"id"/, TypeError],
      [() => store.correlated('x', { limit: -2 }), /"limit"/, RangeError],
      [() => store.replay('bafy' as never), /"from"/, TypeError],
      [() => store.replay(e.cid, { filter: { type: 3 } as never }), /"filter.type"/, TypeError],
    ]
    for (const [call, message, kind] of bad) {
      const err = await collect(call()).then(
        () => undefined,
        (x: unknown) => x,
      )
      expect(err).toBeInstanceOf(kind)
      expect((err as Error).message).toMatch(message)
    }
    await expect(store.reduce('s', 5 as never, 0)).rejects.toThrow(/"reducer"/)
    await expect(store.reduce('s', (x) => x, 0, { asOf: {} as never })).rejects.toThrow(/"asOf"/)
    await expect(collect(store.read('s', { asOf: unknown }))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
    await expect(collect(store.query({ after: unknown }))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
    await expect(collect(store.replay(unknown))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
    await expect(collect(store.correlated('x', { after: unknown }))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
    await store.close()
    for (const call of [() => store.read('s'), () => store.query({}), () => store.causedBy(e.cid), () => store.correlated('x'), () => store.replay(e.cid)]) {
      await expect(collect(call())).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    }
    await expect(store.stats()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(store.stateHash()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(store.reduce('s', (x) => x, 0)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
  })
})
