// `export({ roots })` (issue 12, item 4): one file's DAG as a CAR rooted at it, which
// ipfs-car's `unpack` takes as is (no `--root`), written through exportToFile like a user would.
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, test } from 'vitest'
import { readCar } from '../../src/car/reader.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { exportToFile, importFromFile } from '../../src/transports/car-file.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'
import { bytesOf, collect, pattern, sameBytes } from '../support/stores.ts'

const run = promisify(execFile)
const IPFS_CAR = new URL('../../node_modules/ipfs-car/bin.js', import.meta.url).pathname
const dirs = freshDirs('cairn-roots-')

describe('export({ roots }) and ipfs-car', () => {
  test('a file put with putFile, exported by its CID, unpacks with `ipfs-car unpack` (no --root) to the same bytes', async () => {
    const dir = await dirs()
    const store = await CairnStore.open(new MemoryStorage())
    await store.append({ stream: 'notes', type: 'note', data: { text: 'not in the file CAR' } })
    // Several leaves and a dag-pb root: the walk must follow UnixFS links.
    const bytes = pattern(3 * 1024 * 1024 + 12345, 3)
    const file = await store.putFile(bytes)
    const car = join(dir, 'file.car')
    const reports: number[] = []
    const { bytes: written } = await exportToFile(store, car, { roots: [file], onProgress: (p) => reports.push(p.bytes) })
    expect(reports.at(-1)).toBe(written)

    const read = await readCar([await readFile(car)], { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })
    expect(read.roots.map(String)).toEqual([String(file)])
    const blocks = await collect(read.blocks)
    // Just the file: 13 leaves of 256 KiB and the root; no event.
    expect(blocks.length).toBe(Math.ceil(bytes.length / 262144) + 1)
    expect(blocks.every((b) => b.cid.code === 0x55 || b.cid.code === 0x70)).toBe(true)

    const out = join(dir, 'out.bin')
    await run(process.execPath, [IPFS_CAR, 'unpack', car, '--output', out])
    expect(sameBytes(new Uint8Array(await readFile(out)), bytes)).toBe(true)

    // The same CAR imported into another store: a foreign object of type 'car' (no events), readable back.
    const other = await CairnStore.open(new MemoryStorage())
    const report = await importFromFile(other, car)
    expect(report).toMatchObject({ events: 0, foreign: [file] })
    expect((await collect(other.objects())).map((o) => [String(o.cid), o.type])).toEqual([[String(file), 'car']])
    expect(sameBytes(await bytesOf(other.cat(file)), bytes)).toBe(true)
    await store.close()
    await other.close()
  }, 60_000)

  test('a full export has the heads as roots; its file is reached only with --root, which export({ roots }) makes unneeded', async () => {
    const dir = await dirs()
    const store = await CairnStore.open(new MemoryStorage())
    const bytes = pattern(1000, 9)
    const file = await store.putFile(bytes)
    await store.append({ stream: 'notes', type: 'note', data: { file } })
    const car = join(dir, 'all.car')
    await exportToFile(store, car)
    const read = await readCar([await readFile(car)], { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })
    expect(read.roots.map(String)).toEqual(store.heads.map(String))
    // Unpacking the full export without --root starts at an event (dag-cbor), not the file.
    const out = join(dir, 'out.bin')
    await expect(run(process.execPath, [IPFS_CAR, 'unpack', car, '--output', out])).rejects.toThrow()
    await run(process.execPath, [IPFS_CAR, 'unpack', car, '--root', String(file), '--output', out])
    expect(sameBytes(new Uint8Array(await readFile(out)), bytes)).toBe(true)
    await store.close()
  }, 60_000)
})

describe('exportToFile and importFromFile with progress and abort', () => {
  test('an aborted exportToFile rejects with the reason (not CAIRN_STORAGE) and leaves the older file; importFromFile reports the file size', async () => {
    const dir = await dirs()
    const store = await CairnStore.open(new MemoryStorage())
    await store.putFile(pattern(2 * 1024 * 1024, 4))
    const car = join(dir, 'store.car')
    const { bytes } = await exportToFile(store, car)
    const controller = new AbortController()
    const reason = new Error('cancelled')
    const err = await exportToFile(store, car, {
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    }).catch((e: unknown) => e)
    expect(err).toBe(reason)
    expect((await readFile(car)).length).toBe(bytes)
    expect(await readdir(dir)).toEqual(['store.car'])
    const other = await CairnStore.open(new MemoryStorage())
    const totals: (number | undefined)[] = []
    await importFromFile(other, car, { onProgress: (p) => totals.push(p.totalBytes) })
    expect(new Set(totals)).toEqual(new Set([bytes]))
    await store.close()
    await other.close()
  })
})
