// The blockstore adapter over blockstore-idb: a torn heads slot falls back to the previous
// commit, across real IndexedDB connections.
import { afterEach, describe, expect, test } from 'vitest'
import { IDBBlockstore } from 'blockstore-idb'
import { encodeValue } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { BLOCKSTORE_HEADS_SLOTS, openBlockstoreStorage, type BlockstoreStorage } from '../../src/storage/blockstore.ts'

const names: string[] = []
let n = 0

afterEach(async () => {
  for (const name of names.splice(0)) {
    await new Promise<void>((resolve) => {
      const req = indexedDB.deleteDatabase(name)
      req.onsuccess = req.onerror = req.onblocked = () => resolve()
    })
  }
})

async function openIdb(name: string): Promise<{ bs: IDBBlockstore; storage: BlockstoreStorage }> {
  const bs = new IDBBlockstore(name)
  await bs.open()
  return { bs, storage: await openBlockstoreStorage(bs, { onClose: () => bs.close() }) }
}

function blocksOf(count: number, tag: string): BlockRecord[] {
  return Array.from({ length: count }, (_, i) => encodeValue({ tag, i }))
}

async function listed(s: BlockstoreStorage): Promise<string[]> {
  const out: string[] = []
  for await (const b of s.blocks()) out.push(b.cid.toString())
  return out.sort()
}

describe('blockstore adapter on blockstore-idb', () => {
  test('a torn newest heads slot falls back to the previous heads', async () => {
    const name = `cairn-bsidb-spec-${Date.now().toString(36)}-${n++}`
    names.push(name)
    const first = blocksOf(5, 'one')
    const second = blocksOf(5, 'two')
    let { bs, storage } = await openIdb(name)
    await storage.commit({ blocks: first, heads: [first[4]!.cid] })
    await storage.commit({ blocks: second, heads: [second[4]!.cid] })
    await storage.close()

    // Commit 2 is in slot B. Tear it: keep the first half of its bytes.
    ;({ bs, storage } = await openIdb(name))
    expect((await storage.heads()).map(String)).toEqual([second[4]!.cid.toString()])
    const chunks: Uint8Array[] = []
    for await (const c of bs.get(BLOCKSTORE_HEADS_SLOTS[1])) chunks.push(c)
    const record = chunks[0]!
    await bs.put(BLOCKSTORE_HEADS_SLOTS[1], record.slice(0, record.length >> 1))
    await storage.close()

    ;({ bs, storage } = await openIdb(name))
    expect((await storage.heads()).map(String)).toEqual([first[4]!.cid.toString()])
    expect(await listed(storage)).toEqual(first.map((b) => b.cid.toString()).sort())

    // Plain garbage in both slots is corruption, not an empty store.
    await bs.put(BLOCKSTORE_HEADS_SLOTS[0], new TextEncoder().encode('garbage'))
    await storage.close()
    const again = new IDBBlockstore(name)
    await again.open()
    await expect(openBlockstoreStorage(again)).rejects.toMatchObject({ code: 'CAIRN_CORRUPT' })
    await again.close()
  })
})
