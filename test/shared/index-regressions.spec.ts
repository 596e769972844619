// Regressions found in review of the compact, persisted indexes: each could corrupt the
// indexes, make a store unopenable, or lose a committed event for subscribers.
import { describe, expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import { writeCar } from '../../src/car/writer.ts'
import { decodeSnapshot, encodeSnapshot } from '../../src/log/views/snapshot.ts'
import { LogViews, type ViewColumns } from '../../src/log/views/views.ts'
import { encodeEvent } from '../../src/log/event/format.ts'
import type { EventBlock, StoredEvent } from '../../src/log/event/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { wrapEngine } from '../support/engines.ts'
import { collect } from '../support/stores.ts'
import { T0 } from '../support/replicas.ts'

async function* one<T>(x: T): AsyncGenerator<T> {
  yield x
}

describe('index regressions', () => {
  test('an imported event with a counter beyond 32 bits keeps its order: appends stamp above it, peers and rebuilds agree', async () => {
    const big: EventBlock = { v: 1, stream: 's', type: 't', ts: T0, tc: 2 ** 40, prev: null, parents: [], data: null }
    const block = encodeEvent(big)
    const engine = new MemoryStorage()
    const a = await CairnStore.open(wrapEngine(engine, { close: async () => {} }), { clock: () => T0 })
    await a.import(writeCar([block.cid], one(block)))
    const next = await a.append({ stream: 's', type: 't' })
    expect(next.ts * 2 ** 53 + next.tc).toBeGreaterThan(T0 * 2 ** 53 + 2 ** 40)
    expect((await collect(a.read('s'))).map((e) => e.tc)).toEqual([2 ** 40, next.tc])
    const b = await CairnStore.open(new MemoryStorage(), { clock: () => T0 })
    await b.import(a.export())
    expect(b.heads.map(String)).toEqual(a.heads.map(String))
    await a.close()
    const again = await CairnStore.open(engine, { rebuildIndex: true })
    expect((await collect(again.read('s'))).map((e) => e.tc)).toEqual([2 ** 40, next.tc])
    await again.close()
    const restored = (await decodeSnapshot(await encodeSnapshot(viewsOf([big]), [block.cid])))!.views
    expect(restored.tc(restored.seqOf(block.cid))).toBe(2 ** 40)
    await b.close()
  })

  test('a block read failing while indexing a committed event does not fail the append; subscribers see it; indexing is retried', async () => {
    const inner = new MemoryStorage()
    const missing = encodeValue({ not: 'stored' }).cid
    let fail = true
    const engine = wrapEngine(inner, {
      get: async (cid) => {
        if (fail && cid.equals(missing)) {
          fail = false
          throw new Error('EIO')
        }
        return inner.get(cid)
      },
    })
    const store = await CairnStore.open(engine)
    const seen: string[] = []
    store.subscribe({ stream: 's' }, (e: StoredEvent) => seen.push(e.type))
    const count = await store.project('count', { filter: { stream: 's' }, initial: 0, reducer: (n: number) => n + 1 })
    await store.append({ stream: 's', type: 'one' })
    const linked = await store.append({ stream: 's', type: 'two', data: { ref: missing } })
    expect(linked.version).toBe(2)
    await store.append({ stream: 's', type: 'three' })
    expect(seen).toEqual(['one', 'two', 'three'])
    expect(await count.get('s')).toBe(3)
    // Retried on the next commit: the dangling link is indexed as a referrer.
    expect((await collect(store.referrers(missing))).map((r) => r.cid.toString())).toEqual([linked.cid.toString()])
    await store.close()
  })

  test('a snapshot that passes its checksum but is inconsistent is refused (never a hang, never phantom events)', async () => {
    const events: EventBlock[] = []
    const views = viewsOf(
      Array.from({ length: 20 }, (_, i) => {
        const e: EventBlock = { v: 1, stream: `s${i % 3}`, type: 't', ts: T0 + i, tc: 0, prev: null, parents: [], data: i }
        events.push(e)
        return e
      }),
    )
    const head = encodeEvent(events.at(-1)!).cid
    const good = views.columns()
    expect(await decodeSnapshot(await encodeSnapshot(views, [head]))).toBeDefined()
    const variants: [string, Partial<ViewColumns>][] = [
      ['an empty CID table', { table: new Int32Array(0) }],
      ['a full CID table', { table: new Int32Array(16).fill(1) }],
      ['more events than columns', { count: good.count + 5 }],
      ['short stream list offsets', { streamListOffsets: good.streamListOffsets.subarray(0, 2) }],
      ['a parent beyond the log', { parent: Uint32Array.from(good.parent, (p, i) => (i === 3 ? 999 : p)) }],
      ['a stream id beyond the names', { stream: Uint32Array.from(good.stream, (s, i) => (i === 0 ? 77 : s)) }],
      ['an order that is not a permutation size', { order: new Uint32Array(3), orderIsArrival: false }],
    ]
    for (const [name, change] of variants) {
      const fake = { columns: () => ({ ...views.columns(), ...change }) } as unknown as LogViews
      expect({ name, decoded: await decodeSnapshot(await encodeSnapshot(fake, [head])) }).toEqual({ name, decoded: undefined })
    }
    expect(await decodeSnapshot(await encodeSnapshot(views, []))).toBeUndefined()
  })

  test('close twice closes storage once; project() after close began is refused', async () => {
    const inner = new MemoryStorage()
    let closes = 0
    const store = await CairnStore.open(
      wrapEngine(inner, {
        close: async () => {
          closes++
          await inner.close()
        },
      }),
    )
    await store.append({ stream: 's', type: 't' })
    const first = store.close()
    await expect(store.project('late', { initial: 0, reducer: (n: number) => n })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await Promise.all([first, store.close()])
    expect(closes).toBe(1)
  })
})

function viewsOf(events: readonly EventBlock[]): LogViews {
  const views = new LogViews()
  views.addEvents(
    events.map((event) => {
      const block = encodeEvent(event)
      return { cid: block.cid, event, size: block.bytes.length }
    }),
  )
  return views
}
