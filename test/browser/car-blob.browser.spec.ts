// CARs as Blobs and Files in a real browser: exportToBlob → importFromBlob between IndexedDB stores.
import { afterEach, describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { openStore } from '../../src/index.ts'
import { deleteIndexedDbStorage } from '../../src/storage/indexeddb.ts'
import type { CairnStore } from '../../src/store/store.ts'
import { exportToBlob, importFromBlob } from '../../src/transports/blob.ts'
import { collect, sameBytes, bytesOf } from '../support/stores.ts'

const names: string[] = []
const stores: CairnStore[] = []
let n = 0
async function idbStore(): Promise<CairnStore> {
  const name = `cairn-blob-spec-${Date.now().toString(36)}-${n++}`
  names.push(name)
  const store = await openStore({ name })
  stores.push(store)
  return store
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {})
  for (const name of names.splice(0)) await deleteIndexedDbStorage(name)
})

async function populated(): Promise<{ store: CairnStore; bytes: Uint8Array; file: Awaited<ReturnType<CairnStore['putFile']>> }> {
  const store = await idbStore()
  await store.append({ stream: 'note-1', type: 'note.created', data: { text: 'hello' } })
  await store.appendMany(Array.from({ length: 30 }, (_, i) => ({ stream: `note-${i % 4}`, type: 'note.edited', data: { i } })))
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff)
  const file = await store.putFile(bytes)
  await store.put({ title: 'with file', file }, { type: 'doc' })
  return { store, bytes, file }
}

describe('exportToBlob / importFromBlob (IndexedDB)', () => {
  test('round trip through a Blob', async () => {
    const { store, bytes, file } = await populated()
    const blob = await exportToBlob(store)
    expect(blob.type).toBe('application/vnd.ipld.car')
    expect(sameBytes(new Uint8Array(await blob.arrayBuffer()), await bytesOf(store.export()))).toBe(true)

    const copy = await idbStore()
    const report = await importFromBlob(copy, blob)
    expect(report.heads.map(String)).toEqual(store.heads.map(String))
    expect(copy.heads.map(String)).toEqual(store.heads.map(String))
    for (const stream of ['note-0', 'note-1', 'note-2', 'note-3']) {
      expect((await collect(copy.read(stream))).map((e) => e.cid.toString())).toEqual((await collect(store.read(stream))).map((e) => e.cid.toString()))
    }
    expect(sameBytes(await bytesOf(copy.cat(file)), bytes)).toBe(true)
    await copy.verify()
  })

  test('a File made from the blob bytes (as a picked file would be) imports the same; incremental too', async () => {
    const { store } = await populated()
    const copy = await idbStore()
    const blob = await exportToBlob(store)
    const picked = new File([await blob.arrayBuffer()], 'backup.car', { type: '' })
    await importFromBlob(copy, picked)
    expect(copy.heads.map(String)).toEqual(store.heads.map(String))

    const seen = copy.heads
    await store.append({ stream: 'note-9', type: 'note.created', data: { text: 'later' } })
    const delta = await exportToBlob(store, { since: seen })
    expect(delta.size).toBeLessThan(blob.size / 10)
    const report = await importFromBlob(copy, new File([delta], 'delta.car'))
    expect(report.events).toBe(1)
    expect(copy.heads.map(String)).toEqual(store.heads.map(String))
  })

  test('a bad blob rejects with a typed error and writes nothing', async () => {
    const copy = await idbStore()
    const err = await importFromBlob(copy, new Blob(['definitely not a car'])).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_INVALID_CAR')).toBe(true)
    expect(copy.heads).toEqual([])
    await expect(importFromBlob(copy, 'x' as unknown as Blob)).rejects.toThrow(TypeError)
  })
})
