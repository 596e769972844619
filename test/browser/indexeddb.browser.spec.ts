// The IndexedDB engine's browser-only guarantees: one transaction per commit, reopen,
// delete, isolation by name, and stepping aside for another connection.
import { afterEach, describe, expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { deleteIndexedDbStorage, openIndexedDbStorage, openIndexedDbStorageWith, type IndexedDbStorage } from '../../src/storage/indexeddb.ts'

const names: string[] = []
let n = 0
function dbName(): string {
  const name = `cairn-idb-spec-${Date.now().toString(36)}-${n++}`
  names.push(name)
  return name
}

afterEach(async () => {
  for (const name of names.splice(0)) await deleteIndexedDbStorage(name)
})

function blocksOf(count: number, tag: string): BlockRecord[] {
  return Array.from({ length: count }, (_, i) => encodeValue({ tag, i }))
}

async function listed(s: IndexedDbStorage): Promise<string[]> {
  const out: string[] = []
  for await (const b of s.blocks()) out.push(b.cid.toString())
  return out.sort()
}

const ids = (blocks: BlockRecord[]): string[] => blocks.map((b) => b.cid.toString()).sort()

/** A block whose bytes sit in a detached buffer: IndexedDB cannot clone it (DataCloneError). */
function unstorableBlock(): BlockRecord {
  const { cid } = encodeValue({ unstorable: true })
  const buffer = new ArrayBuffer(16)
  const bytes = new Uint8Array(buffer)
  structuredClone(buffer, { transfer: [buffer] })
  return { cid, bytes }
}

describe('indexeddb engine', () => {
  for (const [how, failing] of [
    ['a block that cannot be stored', (s: string) => openIndexedDbStorage(s)],
    ['an abort before complete', (s: string) => openIndexedDbStorageWith(s, {}, { beforeComplete: (tx) => tx.abort() })],
  ] as const) {
    test("the heads record holds each CID's own bytes, not the buffer a CID views (a slab of many CIDs)", async () => {
      const name = dbName()
      const s = await openIndexedDbStorage(name)
      const blocks = blocksOf(3, 'heads')
      // Each CID views a shared slab of CID bytes (sha256Cid): cloning the view would store all of it.
      expect(blocks[0]!.cid.bytes.buffer.byteLength).toBeGreaterThan(1024)
      await s.commit({ blocks, heads: blocks.map((b) => b.cid) })
      await s.close()
      const raw = await new Promise<unknown>((resolve, reject) => {
        const open = indexedDB.open(name)
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const get = db.transaction('meta', 'readonly').objectStore('meta').get('heads')
          get.onsuccess = () => {
            db.close()
            resolve(get.result)
          }
          get.onerror = () => reject(get.error)
        }
      })
      const stored = raw as Uint8Array[]
      expect(stored.map((b) => b.buffer.byteLength)).toEqual(blocks.map((b) => b.cid.bytes.length))
      const again = await openIndexedDbStorage(name)
      expect((await again.heads()).map(String)).toEqual(blocks.map((b) => String(b.cid)))
      await again.close()
    })

    test(`a commit that fails through ${how} leaves no trace, also after reopen`, async () => {
      const name = dbName()
      const good = blocksOf(4, 'good')
      const ok = await openIndexedDbStorage(name)
      await ok.commit({ blocks: good, heads: [good[3]!.cid] })
      await ok.close()

      const s = await failing(name)
      const bad = blocksOf(50, 'bad')
      const batch = how.startsWith('a block') ? [...bad.slice(0, 25), unstorableBlock(), ...bad.slice(25)] : bad
      const err = await s.commit({ blocks: batch, heads: [bad[49]!.cid] }).catch((e: unknown) => e)
      expect(err).toMatchObject({ name: 'CairnError', code: 'CAIRN_STORAGE' })
      expect((err as Error).cause).toBeDefined()
      expect((await s.heads()).map(String)).toEqual([good[3]!.cid.toString()])
      for (const b of bad) expect(await s.has(b.cid)).toBe(false)
      expect(await listed(s)).toEqual(ids(good))
      await s.close()

      const again = await openIndexedDbStorage(name)
      expect((await again.heads()).map(String)).toEqual([good[3]!.cid.toString()])
      expect(await listed(again)).toEqual(ids(good))
      // and the store still takes commits
      await again.commit({ blocks: bad, heads: [bad[0]!.cid] })
      expect(await listed(again)).toEqual(ids([...good, ...bad]))
      await again.close()
    })
  }

  test('a failed commit does not stop the commits queued behind it', async () => {
    const s = await openIndexedDbStorage(dbName())
    const a = blocksOf(3, 'a')
    const b = blocksOf(3, 'b')
    const results = await Promise.allSettled([s.commit({ blocks: a, heads: [a[0]!.cid] }), s.commit({ blocks: [unstorableBlock()], heads: [] }), s.commit({ blocks: b, heads: [b[0]!.cid] })])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((await s.heads()).map(String)).toEqual([b[0]!.cid.toString()])
    await s.close()
  })

  test('a new connection sees the commits, with every durability', async () => {
    for (const durability of ['strict', 'relaxed', 'default'] as const) {
      const name = dbName()
      const s = await openIndexedDbStorage(name, { durability })
      const all: BlockRecord[] = []
      for (let i = 0; i < 5; i++) {
        const batch = blocksOf(10, `${durability}-${i}`)
        all.push(...batch)
        await s.commit({ blocks: batch, heads: [batch[0]!.cid, batch[1]!.cid] })
      }
      // a second connection while the first is still open
      const other = await openIndexedDbStorage(name)
      expect(await other.heads()).toEqual(await s.heads())
      expect(await listed(other)).toEqual(ids(all))
      for (const b of all) expect(await other.get(b.cid)).toEqual(b.bytes)
      await other.close()
      await s.close()
    }
  })

  test('a block that is a view into a bigger buffer is stored as its own bytes', async () => {
    const s = await openIndexedDbStorage(dbName())
    const block = encodeValue({ view: true })
    const big = new Uint8Array(1_000_000)
    big.set(block.bytes, 1234)
    await s.commit({ blocks: [{ cid: block.cid, bytes: big.subarray(1234, 1234 + block.bytes.length) }], heads: [block.cid] })
    const back = await s.get(block.cid)
    expect(back).toEqual(block.bytes)
    expect(back!.buffer.byteLength).toBe(block.bytes.length)
    await s.close()
  })

  test('blocks() reads in pages and holds no transaction across its yields', async () => {
    const s = await openIndexedDbStorage(dbName(), { pageSize: 7 })
    const first = blocksOf(30, 'paged')
    await s.commit({ blocks: first, heads: [first[0]!.cid] })
    const seen: string[] = []
    let i = 0
    for await (const b of s.blocks()) {
      seen.push(b.cid.toString())
      // awaiting other IndexedDB work mid-iteration would break a long-lived transaction
      if (i++ % 5 === 0) await s.commit({ blocks: [], heads: [b.cid] })
    }
    expect(seen.sort()).toEqual(ids(first))
    expect(new Set(seen).size).toBe(30)
    await s.close()
  })

  test('deleteIndexedDbStorage removes everything', async () => {
    const name = dbName()
    const s = await openIndexedDbStorage(name)
    const blocks = blocksOf(5, 'gone')
    await s.commit({ blocks, heads: [blocks[0]!.cid] })
    await s.close()
    await deleteIndexedDbStorage(name)
    const dbs = await indexedDB.databases()
    expect(dbs.map((d) => d.name)).not.toContain(name)
    const fresh = await openIndexedDbStorage(name)
    expect(await fresh.heads()).toEqual([])
    expect(await listed(fresh)).toEqual([])
    expect(await fresh.has(blocks[0]!.cid)).toBe(false)
    await fresh.close()
  })

  test('an open connection steps aside for a delete and then reports CAIRN_CLOSED', async () => {
    const name = dbName()
    const s = await openIndexedDbStorage(name)
    const [a] = blocksOf(1, 'open')
    await s.commit({ blocks: [a!], heads: [a!.cid] })
    await deleteIndexedDbStorage(name) // would hang if the connection stayed open
    await expect(s.get(a!.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.commit({ blocks: [], heads: [] })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await s.close()
  })

  test('two stores with different names do not see each other', async () => {
    const one = await openIndexedDbStorage(dbName())
    const two = await openIndexedDbStorage(dbName())
    const a = blocksOf(3, 'one')
    const b = blocksOf(3, 'two')
    await one.commit({ blocks: a, heads: [a[0]!.cid] })
    await two.commit({ blocks: b, heads: [b[0]!.cid] })
    expect(await listed(one)).toEqual(ids(a))
    expect(await listed(two)).toEqual(ids(b))
    expect(await one.has(b[0]!.cid)).toBe(false)
    expect(await two.get(a[0]!.cid)).toBeUndefined()
    expect((await one.heads()).map(String)).toEqual([a[0]!.cid.toString()])
    expect((await two.heads()).map(String)).toEqual([b[0]!.cid.toString()])
    await one.close()
    await two.close()
  })

  test('close waits for queued commits; afterwards every method is CAIRN_CLOSED', async () => {
    const name = dbName()
    const s = await openIndexedDbStorage(name)
    const a = blocksOf(3, 'q')
    const pending = s.commit({ blocks: a, heads: [a[2]!.cid] })
    await s.close()
    await pending
    await expect(s.get(a[0]!.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.has(a[0]!.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.heads()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.commit({ blocks: [], heads: [] })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(listed(s)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await s.close()
    const again = await openIndexedDbStorage(name)
    expect((await again.heads()).map(String)).toEqual([a[2]!.cid.toString()])
    await again.close()
  })

  test('a database that is not a Cairn store is refused', async () => {
    const name = dbName()
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(name, 1)
      req.onupgradeneeded = () => {
        req.result.createObjectStore('something-else')
      }
      req.onsuccess = () => {
        req.result.close()
        resolve()
      }
      req.onerror = () => reject(req.error)
    })
    await expect(openIndexedDbStorage(name)).rejects.toMatchObject({ code: 'CAIRN_STORAGE' })
    // and it was left as it was: not upgraded, no Cairn stores added
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(name)
      req.onsuccess = () => {
        const db = req.result
        expect(db.version).toBe(1)
        expect([...db.objectStoreNames]).toEqual(['something-else'])
        db.close()
        resolve()
      }
      req.onerror = () => reject(req.error)
    })
  })

  test('a version 1 store (no derived store) upgrades in place: blocks and heads kept, derived slots work', async () => {
    const name = dbName()
    const old = blocksOf(3, 'v1')
    // The schema version 1 engines wrote: `blocks` keyed by CID bytes, `meta` with the heads.
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(name, 1)
      req.onupgradeneeded = () => {
        req.result.createObjectStore('blocks')
        req.result.createObjectStore('meta')
      }
      req.onsuccess = () => {
        const db = req.result
        const tx = db.transaction(['blocks', 'meta'], 'readwrite')
        for (const b of old) tx.objectStore('blocks').put(b.bytes, b.cid.bytes)
        tx.objectStore('meta').put([old[2]!.cid.bytes], 'heads')
        tx.oncomplete = () => {
          db.close()
          resolve()
        }
        tx.onerror = () => reject(tx.error)
      }
      req.onerror = () => reject(req.error)
    })
    const s = await openIndexedDbStorage(name)
    expect((await s.heads()).map(String)).toEqual([old[2]!.cid.toString()])
    expect(await listed(s)).toEqual(ids(old))
    for (const b of old) expect(await s.get(b.cid)).toEqual(b.bytes)
    expect(await s.readDerived('index')).toBeUndefined()
    await s.writeDerived('index', new Uint8Array([1, 2, 3]))
    await s.close()
    const again = await openIndexedDbStorage(name)
    expect(await again.readDerived('index')).toEqual(new Uint8Array([1, 2, 3]))
    expect(await listed(again)).toEqual(ids(old))
    await again.close()
  })

  test('a derived write that fails is CAIRN_STORAGE and leaves the old value', async () => {
    const s = await openIndexedDbStorage(dbName())
    await s.writeDerived('index', new Uint8Array([7, 7]))
    const err = await s.writeDerived('index', unstorableBlock().bytes).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'CairnError', code: 'CAIRN_STORAGE' })
    expect(await s.readDerived('index')).toEqual(new Uint8Array([7, 7]))
    await s.close()
  })

  test('derived values of tens of MB round-trip', async () => {
    const s = await openIndexedDbStorage(dbName())
    const big = new Uint8Array(24 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff
    big[big.length - 1] = 0x5a
    await s.writeDerived('snapshot', big)
    await s.close()
    const again = await openIndexedDbStorage(s.name)
    const read = await again.readDerived('snapshot')
    expect(read?.length).toBe(big.length)
    let same = true
    for (let i = 0; i < big.length; i += 4096) if (read![i] !== big[i]) same = false
    expect(same && read![big.length - 1] === 0x5a).toBe(true)
    await again.close()
  })

  test('without IndexedDB, open is CAIRN_UNSUPPORTED', async () => {
    const own = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')
    Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true, writable: true })
    try {
      await expect(openIndexedDbStorage('never')).rejects.toMatchObject({ code: 'CAIRN_UNSUPPORTED' })
      await expect(deleteIndexedDbStorage('never')).rejects.toMatchObject({ code: 'CAIRN_UNSUPPORTED' })
    } finally {
      if (own) Object.defineProperty(globalThis, 'indexedDB', own)
      else delete (globalThis as { indexedDB?: unknown }).indexedDB
    }
    expect(typeof indexedDB.open).toBe('function')
  })
})
