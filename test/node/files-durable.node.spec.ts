// The files engine's durable-replace helper and the cleanup of the temporary files it makes.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { removeTemps, replaceFile, tempName, writeFully } from '../../src/fs/durable.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const freshDir = freshDirs('cairn-durable-')
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b)

describe('replaceFile', () => {
  test('replaces the file; a failing write leaves the old file and no temporary file', async () => {
    const dir = await freshDir()
    const file = join(dir, 'f.bin')
    await replaceFile(file, (fh) => writeFully(fh, bytes(1, 2, 3), 0))
    expect([...(await readFile(file))]).toEqual([1, 2, 3])
    const failed = await replaceFile(file, async (fh) => {
      await writeFully(fh, bytes(9), 0)
      throw new Error('boom')
    }).catch((e: unknown) => e)
    expect((failed as Error).message).toBe('boom')
    expect(await readdir(dir)).toEqual(['f.bin'])
    expect([...(await readFile(file))]).toEqual([1, 2, 3])
  })

  test('keepOpen returns the handle, readable, after the rename; steps come in order', async () => {
    const dir = await freshDir()
    const file = join(dir, 'g.bin')
    const steps: string[] = []
    const fh = await replaceFile(file, (h) => writeFully(h, bytes(4, 5), 0), { keepOpen: true, onStep: (s) => steps.push(s) })
    try {
      const back = new Uint8Array(2)
      await fh.read(back, 0, 2, 0)
      expect([...back]).toEqual([4, 5])
    } finally {
      await fh.close()
    }
    expect(steps).toEqual(['creating', 'writing', 'syncing', 'renaming', 'syncing the folder'])
    expect(await readdir(dir)).toEqual(['g.bin'])
  })

  test('a given temporary name is overwritten', async () => {
    const dir = await freshDir()
    const file = join(dir, 'h.car')
    await writeFile(`${file}.tmp`, bytes(7, 7, 7, 7))
    await replaceFile(file, (fh) => writeFully(fh, bytes(8), 0), { temp: `${file}.tmp` })
    expect(await readdir(dir)).toEqual(['h.car'])
    expect([...(await readFile(file))]).toEqual([8])
  })
})

describe('removeTemps', () => {
  test('removes the temporary names of one file, or every .tmp; false without the folder', async () => {
    const dir = await freshDir()
    const names = ['blocks.table', 'blocks.table.k3j9x0a.tmp', 'other.abc.tmp', 'blocks.tableX.abc.tmp', 'seg-000001.car']
    const own = tempName(join(dir, 'blocks.table'))
    for (const n of names) await writeFile(join(dir, n), bytes(0))
    await writeFile(own, bytes(0))
    expect(await removeTemps(dir, 'blocks.table')).toBe(true)
    expect((await readdir(dir)).sort()).toEqual(['blocks.table', 'blocks.tableX.abc.tmp', 'other.abc.tmp', 'seg-000001.car'])
    expect(await removeTemps(dir)).toBe(true)
    expect((await readdir(dir)).sort()).toEqual(['blocks.table', 'seg-000001.car'])
    expect(await removeTemps(join(dir, 'absent'))).toBe(false)
  })
})
