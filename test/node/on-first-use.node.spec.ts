// Node only: code that is not part of an app's first load and loads on first use — the dag-pb
// decoder (UnixFS files, block/codec.ts loadDagPb) and the index snapshot's codec
// (log/views/snapshot.ts). Every path that needs one must load it itself: each test below runs
// in a fresh copy of Cairn's modules (vi.resetModules), so nothing an earlier path loaded can
// hide a path that forgot to.
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { describe, expect, test, vi } from 'vitest'
import { bytesOf } from '../support/stores.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

type Cairn = typeof import('../../src/index.node.ts')
type Codec = typeof import('../../src/block/codec.ts')

/** A fresh copy of Cairn's modules, with the dag-pb decoder not loaded. */
async function freshCairn(): Promise<{ cairn: Cairn; codec: Codec }> {
  vi.resetModules()
  const cairn = await import('../../src/index.node.ts')
  const codec = await import('../../src/block/codec.ts')
  return { cairn, codec }
}

/** 600 KiB: more than one 256 KiB chunk, so the file's root is a dag-pb node. */
const FILE = new Uint8Array(600 * 1024).map((_, i) => (i * 7 + (i >> 10)) & 255)

const newDir = freshDirs('cairn-lazy-dag-pb-')

/** A block's bytes, read straight from the engine (the store closed). */
async function rawBlock(cairn: Cairn, dir: string, cid: CID): Promise<Uint8Array> {
  const storage = await cairn.openFileStorage(dir)
  try {
    const bytes = await storage.get(cid)
    if (bytes === undefined) throw new Error(`block ${cid} is missing`)
    return bytes
  } finally {
    await storage.close()
  }
}

/** A store on disk holding a multi-block file, a value linking to it, and an event; written by another copy of the modules. */
async function storeWithFile(): Promise<{ dir: string; file: CID }> {
  const dir = await newDir()
  const { cairn } = await freshCairn()
  const store = await cairn.openStore({ path: dir })
  const file = await store.putFile([FILE], { type: 'blob' })
  await store.put({ title: 'notes', file }, { type: 'doc' })
  await store.append({ stream: 'notes', type: 'note.added', data: { file } })
  await store.close()
  return { dir, file }
}

describe('the dag-pb decoder loads on first use', () => {
  test('a fresh copy of the modules has not loaded it: decoding a dag-pb block synchronously says so', async () => {
    const { dir, file } = await storeWithFile()
    const { cairn, codec } = await freshCairn()
    const bytes = await rawBlock(cairn, dir, file)
    expect(() => codec.decodeTrusted(file, bytes)).toThrow(/dag-pb decoder is not loaded/)
    expect(() => codec.blockLinks(file, bytes)).toThrow(/dag-pb decoder is not loaded/)
    await codec.loadDagPb()
    expect(codec.blockLinks(file, bytes).length).toBe(3)
  })

  test('get, verify and cat of a stored file', async () => {
    const { dir, file } = await storeWithFile()
    const { cairn } = await freshCairn()
    const store = await cairn.openStore({ path: dir })
    try {
      const node = await store.get<{ Links: { Hash: CID }[] }>(file)
      expect(node.Links.length).toBe(3)
      const report = await store.verify()
      expect(report.blocks).toBeGreaterThan(4)
      expect(report.dangling).toEqual([])
      const back = await bytesOf(store.cat(file))
      expect(back.length).toBe(FILE.length)
    } finally {
      await store.close()
    }
  })

  test('verify alone', async () => {
    const { dir } = await storeWithFile()
    const { cairn } = await freshCairn()
    const store = await cairn.openStore({ path: dir })
    try {
      const report = await store.verify()
      // The events, the value, and the file's root and three leaves.
      expect(report.blocks).toBeGreaterThanOrEqual(6)
      expect(report.dangling).toEqual([])
    } finally {
      await store.close()
    }
  })

  test('a value linking to a stored file (the completeness walk reads the file from storage)', async () => {
    const { dir, file } = await storeWithFile()
    const { cairn } = await freshCairn()
    const store = await cairn.openStore({ path: dir })
    try {
      const cid = await store.put({ title: 'again', file, n: 2 }, { type: 'doc' })
      expect(await store.get(cid)).toMatchObject({ n: 2 })
      const tx = await store.transaction((t) => t.put({ title: 'in a transaction', file }, { type: 'doc' }))
      expect(await store.get(tx.value)).toMatchObject({ title: 'in a transaction' })
    } finally {
      await store.close()
    }
  })

  test('export, then import into a fresh store', async () => {
    const { dir, file } = await storeWithFile()
    let car: Uint8Array
    {
      const { cairn } = await freshCairn()
      const store = await cairn.openStore({ path: dir })
      try {
        car = await bytesOf(store.export())
      } finally {
        await store.close()
      }
    }
    const { cairn } = await freshCairn()
    const other = await cairn.openStore({ path: await newDir() })
    try {
      const report = await other.import(car)
      expect(report.events).toBeGreaterThan(0)
      expect((await bytesOf(other.cat(file))).length).toBe(FILE.length)
    } finally {
      await other.close()
    }
  })

  test('importing a CAR of the file alone (a foreign DAG)', async () => {
    const { dir, file } = await storeWithFile()
    const { cairn, codec } = await freshCairn()
    await codec.loadDagPb()
    const blocks: { cid: CID; bytes: Uint8Array }[] = []
    const stack = [file]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const bytes = await rawBlock(cairn, dir, cid)
      blocks.push({ cid, bytes })
      stack.push(...codec.blockLinks(cid, bytes))
    }
    const { writeCar } = await import('../../src/car/writer.ts')
    const car = await bytesOf(
      writeCar(
        [file],
        (async function* () {
          yield* blocks
        })(),
      ),
    )
    const fresh = await freshCairn()
    const other = await fresh.cairn.openStore({ path: await newDir() })
    try {
      const report = await other.import(car)
      expect(report.foreign.map(String)).toEqual([String(file)])
      expect((await bytesOf(other.cat(file))).length).toBe(FILE.length)
    } finally {
      await other.close()
    }
  })

  test('reopening with the index rebuilt from the blocks (indexing walks the file)', async () => {
    const { dir, file } = await storeWithFile()
    const { cairn } = await freshCairn()
    const store = await cairn.openStore({ path: dir, rebuildIndex: true })
    try {
      expect(store.indexStatus().fromSnapshot).toBe(false)
      // Compaction keeps what the rebuilt containment index says a recorded object reaches.
      await store.compact()
      expect((await bytesOf(store.cat(file))).length).toBe(FILE.length)
    } finally {
      await store.close()
    }
  })

  test('a value linking to a file that another writer put into a shared blockstore (not a recorded object)', async () => {
    const blockstore = new MemoryBlockstore()
    let file: CID | undefined
    for await (const entry of importer([{ content: [FILE] }], blockstore, { cidVersion: 1, rawLeaves: true })) file = entry.cid
    const { cairn } = await freshCairn()
    const store = await cairn.openStore({ blockstore })
    try {
      const cid = await store.put({ title: 'found in the blockstore', file }, { type: 'doc' })
      expect(await store.get(cid)).toMatchObject({ title: 'found in the blockstore' })
    } finally {
      await store.close()
    }
  })
})

describe("the index snapshot's codec loads on first use", () => {
  test('a fresh copy writes the snapshot on close, and another reopens from it', async () => {
    const dir = await newDir()
    {
      const { cairn } = await freshCairn()
      const store = await cairn.openStore({ path: dir })
      for (let i = 0; i < 5; i++) await store.append({ stream: 'notes', type: 'note.added', data: { i } })
      expect(store.indexStatus().snapshotEvents).toBe(0)
      await store.close()
    }
    const { cairn } = await freshCairn()
    const store = await cairn.openStore({ path: dir })
    try {
      expect(store.indexStatus()).toEqual({ fromSnapshot: true, indexedOnOpen: 0, snapshotEvents: 5 })
      const read: number[] = []
      for await (const e of store.read<{ i: number }>('notes')) read.push(e.data.i)
      expect(read).toEqual([0, 1, 2, 3, 4])
    } finally {
      await store.close()
    }
  })

  test('the snapshot due before the codec has loaded is written by the next commit', async () => {
    const { cairn } = await freshCairn()
    const { SNAPSHOT_MIN } = await import('../../src/log/snapshots.ts')
    const store = await cairn.openStore({ storage: new cairn.MemoryStorage() })
    try {
      await store.appendMany(Array.from({ length: SNAPSHOT_MIN }, (_, i) => ({ stream: `s${i % 16}`, type: 't', data: i })))
      // Due now, but the codec was not loaded: skipped, and the codec starts loading.
      expect(store.indexStatus().snapshotEvents).toBe(0)
      await new Promise((resolve) => setTimeout(resolve, 50))
      await store.append({ stream: 's0', type: 't', data: 'next' })
      const deadline = Date.now() + 5000
      while (store.indexStatus().snapshotEvents === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(store.indexStatus().snapshotEvents).toBe(SNAPSHOT_MIN + 1)
    } finally {
      await store.close()
    }
  })
})
