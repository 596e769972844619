import { test } from 'vitest'
import { IDBBlockstore } from 'blockstore-idb'
import { encodeValue } from '../../src/block/index.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { deleteIndexedDbStorage, openIndexedDbStorage } from '../../src/storage/indexeddb.ts'
import { openBlockstoreStorage } from '../../src/storage/blockstore.ts'

const blocks = (n: number, tag: string) => Array.from({ length: n }, (_, i) => encodeValue({ tag, i, pad: 'x'.repeat(40) }))
let k = 0
async function run(label: string, open: (name: string) => Promise<StorageEngine>, cleanup: (name: string) => Promise<void>) {
  for (const shape of ['1x10000', '1000x10'] as const) {
    const name = `bench-${k++}-${Date.now()}`
    const s = await open(name)
    const [commits, per] = shape === '1x10000' ? [1, 10000] : [1000, 10]
    const batches = Array.from({ length: commits }, (_, c) => blocks(per, `${name}-${c}`))
    const t0 = performance.now()
    for (const b of batches) await s.commit({ blocks: b, heads: [b[0]!.cid] })
    const ms = performance.now() - t0
    let listed = 0
    const t1 = performance.now()
    for await (const _ of s.blocks()) listed++
    const lms = performance.now() - t1
    console.log(`${label} ${shape}: ${ms.toFixed(0)} ms, ${Math.round(commits * per / ms * 1000)} blocks/s, ${Math.round(commits / ms * 1000)} commits/s; blocks() ${listed} in ${lms.toFixed(0)} ms`)
    await s.close()
    await cleanup(name)
  }
}
const idbDelete = (name: string) => new Promise<void>((r) => { const q = indexedDB.deleteDatabase(name); q.onsuccess = q.onerror = () => r() })

test('throughput', async () => {
  for (const durability of ['strict', 'relaxed'] as const) {
    await run(`indexeddb engine (${durability})`, (n) => openIndexedDbStorage(n, { durability }), deleteIndexedDbStorage)
  }
  await run('blockstore-idb adapter', async (n) => { const bs = new IDBBlockstore(n); await bs.open(); return openBlockstoreStorage(bs, { onClose: () => bs.close() }) }, idbDelete)
  await run('blockstore-idb adapter c64', async (n) => { const bs = new IDBBlockstore(n); await bs.open(); return openBlockstoreStorage(bs, { concurrency: 64, onClose: () => bs.close() }) }, idbDelete)
}, 600_000)
