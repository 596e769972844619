// Derived values on the files engine: where they live, leftovers of crashed writes, failures, close.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { encodeValue, equalBytes } from '../../src/block/codec.ts'
import { openFileStorage } from '../../src/storage/files/engine.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const freshDir = freshDirs('cairn-derived-')

const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

describe('files engine: derived values', () => {
  test('one file per name under derived/, no temporary files left, segments untouched', async () => {
    const dir = await freshDir()
    const s = await openFileStorage(dir)
    const block = encodeValue({ derived: true })
    await s.commit({ blocks: [block], heads: [block.cid] })
    const segment = await readFile(join(dir, 'seg-000001.car'))
    await s.writeDerived('index', bytesOf(100, 1))
    await s.writeDerived('index', bytesOf(50, 2))
    await s.writeDerived('..', bytesOf(3, 3))
    await s.writeDerived('con', bytesOf(4, 4))
    expect((await readdir(join(dir, 'derived'))).sort()).toEqual(['d-...bin', 'd-con.bin', 'd-index.bin'])
    expect(equalBytes(new Uint8Array(await readFile(join(dir, 'derived', 'd-index.bin'))), bytesOf(50, 2))).toBe(true)
    expect(equalBytes(await readFile(join(dir, 'seg-000001.car')), segment)).toBe(true)
    await s.close()
    expect((await readdir(dir)).sort()).toEqual(['derived', 'seg-000001.car'])
  })

  test('a temporary file left by a crashed write is removed on open; the old value stays', async () => {
    const dir = await freshDir()
    let s = await openFileStorage(dir)
    await s.writeDerived('index', bytesOf(10, 5))
    await s.close()
    await writeFile(join(dir, 'derived', 'd-index.bin.x7q2m9.tmp'), bytesOf(3, 6)) // torn, never renamed
    s = await openFileStorage(dir)
    expect(await readdir(join(dir, 'derived'))).toEqual(['d-index.bin'])
    expect(equalBytes((await s.readDerived('index'))!, bytesOf(10, 5))).toBe(true)
    await s.close()
  })

  test('a medium that refuses is CAIRN_STORAGE; the engine keeps working', async () => {
    const dir = await freshDir()
    const s = await openFileStorage(dir)
    await writeFile(join(dir, 'derived'), 'not a folder')
    await expect(s.writeDerived('index', bytesOf(10, 7))).rejects.toMatchObject({ name: 'CairnError', code: 'CAIRN_STORAGE' })
    await expect(s.readDerived('index')).rejects.toMatchObject({ name: 'CairnError', code: 'CAIRN_STORAGE' })
    await rm(join(dir, 'derived'))
    await mkdir(join(dir, 'derived'))
    await s.writeDerived('index', bytesOf(10, 8))
    expect(equalBytes((await s.readDerived('index'))!, bytesOf(10, 8))).toBe(true)
    const block = encodeValue({ still: 'works' })
    await s.commit({ blocks: [block], heads: [block.cid] })
    await s.close()
  })

  test('close waits for writes in flight before it gives up the lock', async () => {
    const dir = await freshDir()
    const s = await openFileStorage(dir)
    const big = bytesOf(16 * 1024 * 1024, 9)
    const write = s.writeDerived('snapshot', big)
    await s.close()
    await write
    const again = await openFileStorage(dir)
    expect(equalBytes((await again.readDerived('snapshot'))!, big)).toBe(true)
    await again.close()
  })
})
