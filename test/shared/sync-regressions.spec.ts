// Regressions found in review: each was a way to lose or break sync after ordinary calls.
import { describe, expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import { writeCar } from '../../src/car/writer.ts'
import { encodeEvent } from '../../src/log/event/format.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf } from '../support/stores.ts'

const open = (): Promise<CairnStore> => CairnStore.open(new MemoryStorage())

describe('sync regressions', () => {
  test('an event linking a block before it exists does not hide that block from a later incremental export', async () => {
    const a = await open()
    const b = await open()
    const x = encodeValue({ later: 'here' })
    await a.append({ stream: 's', type: 't', data: { ref: x.cid } }) // dangling for now
    await b.import(await bytesOf(a.export()))
    expect((await a.put(x.value, { type: 'doc' })).equals(x.cid)).toBe(true)
    const report = await b.import(await bytesOf(a.export({ since: b.heads })))
    expect(report.events).toBe(1)
    expect(await b.get(x.cid)).toEqual(x.value)
    expect(await b.verify()).toMatchObject({ dangling: [] })
  })

  test("a block linked only from an event's meta travels with it: export sends it, import keeps it, verify walks it", async () => {
    const a = await open()
    const b = await open()
    const x = encodeValue({ in: 'meta' })
    const missing = encodeValue({ never: 'stored' })
    await a.append({ stream: 's', type: 't', meta: { attachment: missing.cid } })
    expect((await a.verify()).dangling.map(String)).toEqual([missing.cid.toString()])
    // x arrives in a CAR beside an event that links it from meta only.
    const inner = new MemoryStorage()
    const c = await CairnStore.open(inner)
    const ev = await c.append({ stream: 's', type: 't', meta: { attachment: x.cid } })
    await a.import(
      writeCar(
        [ev.cid],
        (async function* () {
          yield { cid: ev.cid, bytes: (await inner.get(ev.cid))! }
          yield x
        })(),
      ),
    )
    expect(await a.get(x.cid)).toEqual(x.value)
    await b.import(await bytesOf(a.export()))
    expect(await b.get(x.cid)).toEqual(x.value)
    expect((await b.verify()).dangling.map(String)).toEqual([missing.cid.toString()])
    for (const s of [a, b, c]) await s.close()
  })

  test('an import that fails part-way cancels the stream it was reading (no download left running)', async () => {
    const store = await open()
    let cancelled = false
    let pulls = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++
        controller.enqueue(new Uint8Array([0xff, 0xff, 0xff, 0xff]))
      },
      cancel() {
        cancelled = true
      },
    })
    await expect(store.import(stream)).rejects.toMatchObject({ code: 'CAIRN_INVALID_CAR' })
    expect(cancelled).toBe(true)
    expect(pulls).toBeLessThan(100)
    await store.close()
  })

  test('put refuses a value whose linked block is stored but incomplete, and writes nothing', async () => {
    const engine = new MemoryStorage()
    const leaf = encodeValue({ leaf: 1 })
    const middle = encodeValue({ child: leaf.cid })
    // Someone sharing the storage left `middle` without its child.
    await engine.commit({ blocks: [middle], heads: [] })
    const store = await CairnStore.open(engine)
    await expect(store.put({ ref: middle.cid })).rejects.toMatchObject({ code: 'CAIRN_MISSING_BLOCK', cid: leaf.cid })
    expect(store.heads).toEqual([])
    await store.put(leaf.value)
    await store.put({ ref: middle.cid })
    expect(await store.verify()).toMatchObject({ dangling: [] })
  })

  test('an import whose object misses a block is refused even when an app link reached part of it first', async () => {
    const leaf = encodeValue({ leaf: 1 }) // left out of the CAR
    const middle = encodeValue({ child: leaf.cid })
    const doc = encodeValue({ a: middle.cid })
    const t = Date.now()
    const link = encodeEvent({ v: 1, stream: 's', type: 't', ts: t, tc: 0, prev: null, parents: [], data: { ref: middle.cid } })
    const put = encodeEvent({ v: 1, stream: '$objects', type: 'object.put', ts: t + 1, tc: 0, prev: null, parents: [link.cid], data: { cid: doc.cid, type: 'doc', size: doc.bytes.length } })
    const car = await bytesOf(
      writeCar(
        [put.cid],
        (async function* () {
          yield* [put, link, doc, middle]
        })(),
      ),
    )
    const store = await open()
    await expect(store.import(car)).rejects.toMatchObject({ code: 'CAIRN_MISSING_BLOCK', cid: leaf.cid })
    expect(store.heads).toEqual([])
  })

  test('the heads never name an event the views lack, even between a commit and its indexing', async () => {
    const a = await open()
    const b = await open()
    await b.import(await bytesOf(a.export()))
    let done = false
    const writing = a.appendMany(Array.from({ length: 50 }, (_, i) => ({ stream: 's', type: 't', data: i }))).then(() => {
      done = true
    })
    let windows = 0
    while (!done) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0))
      for (const h of a.heads)
        await a.getEvent(h).catch(() => {
          windows++
        })
      await b.import(await bytesOf(a.export({ since: b.heads })))
    }
    await writing
    expect(windows).toBe(0)
    await b.import(await bytesOf(a.export({ since: b.heads })))
    expect(b.heads.map(String)).toEqual(a.heads.map(String))
  })

  test('stats().bytes agrees on replicas that recorded the same object with different sizes', async () => {
    const a = await open()
    const b = await open()
    const value = { same: 'object' }
    await a.put(value, { type: 'doc' })
    const cid = encodeValue(value).cid
    // B records the same CID with another size, in an event stamped later than A's.
    const t = Date.now() + 1000
    const other = encodeEvent({ v: 1, stream: '$objects', type: 'object.put', ts: t, tc: 0, prev: null, parents: [], data: { cid, type: 'doc', size: 999 } })
    await b.import(
      await bytesOf(
        writeCar(
          [other.cid],
          (async function* () {
            yield* [other, encodeValue(value)]
          })(),
        ),
      ),
    )
    await b.import(await bytesOf(a.export()))
    await a.import(await bytesOf(b.export({ since: a.heads })))
    expect(a.heads.map(String).sort()).toEqual(b.heads.map(String).sort())
    expect(await a.stats()).toEqual(await b.stats())
  })
})
