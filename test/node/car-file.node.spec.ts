// CAR files on disk: exportToFile / importFromFile between files-engine stores, crash leftovers,
// failures that must leave nothing behind, and bad paths.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CarReader } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import { afterEach, describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { openStore } from '../../src/index.node.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { exportToFile, importFromFile } from '../../src/transports/car-file.ts'
import { collect, sameBytes, bytesOf } from '../support/stores.ts'
import { removeDir, tempDir } from '../support/tmp.server.ts'
import { wrapEngine } from '../support/engines.ts'

const dirs: string[] = []
const stores: CairnStore[] = []
async function freshDir(): Promise<string> {
  const dir = await tempDir('cairn-carfile-')
  dirs.push(dir)
  return dir
}
async function filesStore(): Promise<CairnStore> {
  const store = await openStore({ path: join(await freshDir(), 'store') })
  stores.push(store)
  return store
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {})
  for (const d of dirs.splice(0)) await removeDir(d)
})

const fileBytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** A store with two streams, a value object and a three-leaf file. */
async function populated(): Promise<{ store: CairnStore; doc: CID; file: CID; bytes: Uint8Array }> {
  const store = await filesStore()
  await store.append({ stream: 'user-1', type: 'user.created', data: { name: 'Ada' } })
  await store.appendMany(Array.from({ length: 50 }, (_, i) => ({ stream: `cart-${i % 3}`, type: 'item.added', data: { sku: `sku-${i}` } })))
  const bytes = fileBytes(600_000, 7)
  const file = await store.putFile(bytes)
  const doc = await store.put({ title: 'Notes', file }, { type: 'doc' })
  await store.append({ stream: 'user-1', type: 'user.renamed', data: { name: 'Ada L.', doc } })
  return { store, doc, file, bytes }
}

const names = (s: { cid: CID }[]): string[] => s.map((e) => e.cid.toString())

describe('exportToFile / importFromFile', () => {
  test('a full export to a file imports into a fresh files-engine store with equal heads and reads', async () => {
    const { store, doc, file, bytes } = await populated()
    const path = join(await freshDir(), 'full.car')
    const { bytes: written } = await exportToFile(store, path)
    expect((await stat(path)).size).toBe(written)
    expect(await readdir(join(path, '..'))).toEqual(['full.car']) // no .tmp left

    // The file is a plain CARv1 whose roots are the heads, byte for byte the stream export.
    const onDisk = await readFile(path)
    expect(sameBytes(onDisk, await bytesOf(store.export()))).toBe(true)
    const reader = await CarReader.fromBytes(onDisk)
    expect((await reader.getRoots()).map(String)).toEqual(store.heads.map(String))

    const copy = await filesStore()
    const report = await importFromFile(copy, path)
    expect(report.heads.map(String)).toEqual(store.heads.map(String))
    expect(report.events).toBeGreaterThan(50)
    expect(report.foreign).toEqual([])
    expect(copy.heads.map(String)).toEqual(store.heads.map(String))
    for (const stream of ['user-1', 'cart-0', 'cart-1', 'cart-2']) {
      expect(names(await collect(copy.read(stream)))).toEqual(names(await collect(store.read(stream))))
    }
    expect(await copy.get(doc)).toEqual(await store.get(doc))
    expect(sameBytes(await bytesOf(copy.cat(file)), bytes)).toBe(true)
    await copy.verify()

    // Importing the same file again adds nothing.
    const again = await importFromFile(copy, path)
    expect(again.blocks).toBe(0)
    expect(again.events).toBe(0)
  })

  test('an incremental export carries only what the peer lacks and brings it level', async () => {
    const { store } = await populated()
    const dir = await freshDir()
    const copy = await filesStore()
    await exportToFile(store, join(dir, 'full.car'))
    await importFromFile(copy, join(dir, 'full.car'))
    const seen = copy.heads

    await store.appendMany(Array.from({ length: 20 }, (_, i) => ({ stream: 'cart-9', type: 'item.added', data: { i } })))
    const { bytes: full } = await exportToFile(store, join(dir, 'full2.car'))
    const { bytes: delta } = await exportToFile(store, join(dir, 'delta.car'), { since: seen })
    expect(delta).toBeLessThan(full / 4)
    const report = await importFromFile(copy, join(dir, 'delta.car'))
    expect(report.events).toBe(20)
    expect(copy.heads.map(String)).toEqual(store.heads.map(String))
    expect(copy.version('cart-9')).toBe(20)
  })

  test('a .tmp left by a crashed export shadows nothing and is replaced by the next export', async () => {
    const { store } = await populated()
    const dir = await freshDir()
    const path = join(dir, 'backup.car')

    // Crash before any export finished: only a torn backup.car.tmp exists.
    const torn = (await bytesOf(store.export())).subarray(0, 1000)
    await writeFile(`${path}.tmp`, torn)
    const empty = await filesStore()
    const missing = await importFromFile(empty, path).catch((e: unknown) => e)
    expect(isCairnError(missing, 'CAIRN_STORAGE')).toBe(true)
    expect(empty.heads).toEqual([])

    // A later export overwrites the leftover and leaves only the whole CAR.
    const { bytes } = await exportToFile(store, path)
    expect(await readdir(dir)).toEqual(['backup.car'])
    expect((await stat(path)).size).toBe(bytes)

    // Crash during the next export: the previous whole CAR is still what `path` names.
    await store.append({ stream: 'user-2', type: 'user.created', data: {} })
    await writeFile(`${path}.tmp`, (await bytesOf(store.export())).subarray(0, 2000))
    const copy = await filesStore()
    const report = await importFromFile(copy, path)
    expect(report.heads.length).toBeGreaterThan(0)
    expect(copy.version('user-2')).toBe(0)
    await copy.verify()
  })

  test('an export that fails mid-stream leaves neither a file nor a .tmp, and an older CAR untouched', async () => {
    const inner = new MemoryStorage()
    let failGets = false
    const flaky = wrapEngine(inner, {
      kind: 'flaky',
      get: async (cid) => {
        if (failGets) throw new Error('disk gone')
        return inner.get(cid)
      },
    })
    const store = await CairnStore.open(flaky)
    stores.push(store)
    await store.appendMany(Array.from({ length: 10 }, (_, i) => ({ stream: 's', type: 't', data: { i } })))
    const dir = await freshDir()
    const path = join(dir, 'x.car')
    await exportToFile(store, path)
    const before = await readFile(path)

    await store.append({ stream: 's', type: 't', data: { i: 10 } })
    failGets = true
    const err = await exportToFile(store, path).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(await readdir(dir)).toEqual(['x.car'])
    expect(sameBytes(await readFile(path), before)).toBe(true)
  })

  test('bad paths and bad files reject with typed errors and change nothing', async () => {
    const { store } = await populated()
    const dir = await freshDir()

    const noDir = join(dir, 'no', 'such', 'dir', 'x.car')
    const e1 = await exportToFile(store, noDir).catch((e: unknown) => e)
    expect(isCairnError(e1, 'CAIRN_STORAGE')).toBe(true)
    expect((e1 as Error).message).toContain('x.car.tmp')

    const copy = await filesStore()
    const e2 = await importFromFile(copy, join(dir, 'absent.car')).catch((e: unknown) => e)
    expect(isCairnError(e2, 'CAIRN_STORAGE')).toBe(true)
    expect((e2 as { file?: string }).file).toBe(join(dir, 'absent.car'))

    await mkdir(join(dir, 'a-folder'))
    const e3 = await importFromFile(copy, join(dir, 'a-folder')).catch((e: unknown) => e)
    expect(isCairnError(e3, 'CAIRN_STORAGE')).toBe(true)

    // Exporting onto an existing folder fails at the rename; the .tmp is cleaned up.
    const e4 = await exportToFile(store, join(dir, 'a-folder')).catch((e: unknown) => e)
    expect(isCairnError(e4, 'CAIRN_STORAGE')).toBe(true)
    expect((await readdir(dir)).sort()).toEqual(['a-folder'])

    await writeFile(join(dir, 'junk.car'), new TextEncoder().encode('not a car at all'))
    const e5 = await importFromFile(copy, join(dir, 'junk.car')).catch((e: unknown) => e)
    expect(isCairnError(e5, 'CAIRN_INVALID_CAR')).toBe(true)

    // A truncated CAR is refused whole.
    const whole = await bytesOf(store.export())
    await writeFile(join(dir, 'cut.car'), whole.subarray(0, whole.length - 10))
    const e6 = await importFromFile(copy, join(dir, 'cut.car')).catch((e: unknown) => e)
    expect(isCairnError(e6, 'CAIRN_INVALID_CAR')).toBe(true)
    expect(copy.heads).toEqual([])

    await expect(exportToFile(store, '' as string)).rejects.toThrow(TypeError)
    // Without a store: a TypeError naming it, before any file is made.
    await expect(exportToFile(null as never, join(dir, 'none.car'))).rejects.toThrow(/^"store" expected a CairnStore/)
    await expect(importFromFile(undefined as never, join(dir, 'junk.car'))).rejects.toThrow(/^"store" expected a CairnStore/)
    expect(await readdir(dir)).not.toContain('none.car.tmp')
    await expect(importFromFile(copy, 5 as unknown as string)).rejects.toThrow(TypeError)
  })
})
