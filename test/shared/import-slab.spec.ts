// An import copies its small dag-cbor blocks into shared 64 KiB slabs while it reads the CAR. No
// engine may keep or persist those slabs: a one-event import used to leave a memory store holding
// a 64 KiB buffer for a block of ~150 bytes, and hand the blockstore adapter's `put` a view into
// one (which a structured-clone blockstore, IndexedDB's, stores whole).
import { MemoryBlockstore } from 'blockstore-core/memory'
import type { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { openBlockstoreStorage } from '../../src/storage/blockstore.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf } from '../support/stores.ts'

/** Imports a CAR of 200 events, then one adding a single small event, into `storage`; returns that event's CID. */
async function importOneSmallEvent(storage: StorageEngine): Promise<CID> {
  const source = await CairnStore.open(new MemoryStorage())
  for (let i = 0; i < 200; i++) await source.append({ stream: `s${i % 5}`, type: 't', data: { i } })
  const target = await CairnStore.open(storage)
  await target.import(await bytesOf(source.export()))
  const added = await source.append({ stream: 's0', type: 't', data: { last: true } })
  await target.import(await bytesOf(source.export()))
  expect(target.heads.map(String)).toContain(String(added.cid))
  return added.cid
}

describe('imported blocks own their bytes', () => {
  test('the memory engine keeps no slab for a small imported block', async () => {
    const storage = new MemoryStorage()
    const cid = await importOneSmallEvent(storage)
    const bytes = (await storage.get(cid))!
    expect(bytes.length).toBeLessThan(512)
    expect(bytes.buffer.byteLength).toBeLessThanOrEqual(2 * bytes.length)
  })

  test('the blockstore adapter puts a small imported block as bytes of its own', async () => {
    const bs = new MemoryBlockstore()
    const put = bs.put.bind(bs)
    const puts = new Map<string, Uint8Array>()
    bs.put = (key, value, options) => {
      if (value instanceof Uint8Array) puts.set(String(key), value)
      return put(key, value, options)
    }
    const cid = await importOneSmallEvent(await openBlockstoreStorage(bs))
    const bytes = puts.get(String(cid))!
    expect(bytes.length).toBeLessThan(512)
    expect(bytes.buffer.byteLength).toBe(bytes.length)
  })
})
