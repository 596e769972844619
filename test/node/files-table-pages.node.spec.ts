// The files engine's block table on disk: lookups that read pages (and their cache), keys at
// page boundaries and equal keys spanning pages, damaged pages found after open (the engine
// rescans and rewrites instead of failing), lookups during a rewrite, blocks stored twice.
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { encodeValue, equalBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { openFileStorage, type FileStorage, type FileStorageOptions } from '../../src/storage/files/engine.ts'
import { encodeCommit } from '../../src/storage/files/format.ts'
import { TableDamage } from '../../src/storage/files/table/format.ts'
import { openTable } from '../../src/storage/files/table/reader.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'
import { commitAll, expectAbsent, expectPresent } from '../support/files-engine.node.ts'

const TABLE = 'blocks.table'
const PAGE = 4096

const freshDir = freshDirs('cairn-pages-')

function blocksOf(n: number, tag: string): BlockRecord[] {
  return Array.from({ length: n }, (_, i) => encodeValue({ tag, i, pad: 'p'.repeat(i % 30) }))
}

/** A store whose table holds `blocks` (written on close). */
async function tabled(dir: string, blocks: readonly BlockRecord[], options: FileStorageOptions = {}): Promise<void> {
  const s = await openFileStorage(dir, { ...options, tableOnClose: 1 })
  await commitAll(s, blocks, 500)
  await s.close()
}

/** Every block `blocks()` lists, checking none comes twice. */
async function listed(s: FileStorage): Promise<Set<string>> {
  const out: string[] = []
  for await (const b of s.blocks()) out.push(b.cid.toString())
  expect(new Set(out).size).toBe(out.length)
  return new Set(out)
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !what(); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() > end) throw new Error('timed out')
  }
}

/** The lookup key of a CID: its last 8 bytes, as hex. */
const keyOf = (cid: CID): string => Buffer.from(cid.bytes.subarray(cid.bytes.length - 8)).toString('hex')

/** The table file's pages: for each, the keys (hex) of its entries, in order. */
async function tablePages(dir: string): Promise<string[][]> {
  const bytes = await readFile(join(dir, TABLE))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const count = view.getUint32(12, true)
  const perPage = view.getUint32(64, true)
  const pages: string[][] = []
  for (let p = 0; p * perPage < count; p++) {
    const keys: string[] = []
    for (let i = 0; i < Math.min(perPage, count - p * perPage); i++) {
      const at = (p + 1) * PAGE + i * 20
      keys.push(
        view.getUint32(at, true).toString(16).padStart(8, '0') +
          view
            .getUint32(at + 4, true)
            .toString(16)
            .padStart(8, '0'),
      )
    }
    pages.push(keys)
  }
  return pages
}

/** The table file's entries, by page: key (hex) and frame offset. */
async function tableEntries(dir: string): Promise<{ key: string; offset: number }[][]> {
  const bytes = await readFile(join(dir, TABLE))
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return (await tablePages(dir)).map((keys, p) => keys.map((key, i) => ({ key, offset: view.getUint32((p + 1) * PAGE + i * 20 + 12, true) })))
}

/** Flips a bit in an entry of data page `page` (1-based, as in the file). */
async function damagePage(dir: string, page: number, at = 100): Promise<void> {
  const file = join(dir, TABLE)
  const bytes = new Uint8Array(await readFile(file))
  bytes[page * PAGE + at]! ^= 0x04
  await writeFile(file, bytes)
}

describe('files engine: block table pages', () => {
  test('thousands of blocks over many pages are found through page reads, with the default cache, a one-page cache and none', async () => {
    const dir = await freshDir()
    const blocks = blocksOf(5000, 'pages')
    await tabled(dir, blocks)
    const pages = await tablePages(dir)
    expect(pages.length).toBeGreaterThan(20)
    const absent = blocksOf(300, 'absent').map((b) => b.cid)
    for (const tableCacheBytes of [undefined, PAGE, 0]) {
      const s = await openFileStorage(dir, { tableCacheBytes })
      expect(s.stats).toMatchObject({ openedFromTable: 5000, scannedOnOpen: 0, tableBlocks: 5000, tablePageReads: 0 })
      // In memory: fence and key filter (about 1.3 bytes per block), the empty tail's arrays and at most the cache; no entries.
      const cache = Math.min(tableCacheBytes ?? 256 * 1024, pages.length * PAGE) || PAGE // 0: one scratch page
      expect(s.stats.indexBytes).toBeLessThan(5000 * 2 + 16 * 1024)
      await expectPresent(s, blocks)
      expect(s.stats.indexBytes).toBeLessThan(5000 * 2 + 16 * 1024 + cache + 1)
      expect(s.stats.tablePageReads).toBeGreaterThan(0)
      if (tableCacheBytes === undefined) expect(s.stats.tablePageReads).toBe(pages.length) // 5000 blocks in 25 pages: all fit in the cache (64 pages)
      if (tableCacheBytes === 0) expect(s.stats.tablePageReads).toBeGreaterThanOrEqual(10_000) // every has and get read a page
      const reads = s.stats.tablePageReads
      await expectAbsent(s, absent)
      // Absent blocks almost never get past the key filter: 600 lookups read a few pages at most.
      expect(s.stats.tablePageReads - reads).toBeLessThan(30)
      expect((await listed(s)).size).toBe(5000)
      await s.close()
    }
  })

  test('the first and last entries of every page are found, with a cold cache for each', async () => {
    const dir = await freshDir()
    const blocks = blocksOf(3000, 'edges')
    await tabled(dir, blocks)
    const byKey = new Map(blocks.map((b) => [keyOf(b.cid), b]))
    const pages = await tablePages(dir)
    const edges = pages.flatMap((keys) => [keys[0]!, keys.at(-1)!]).map((k) => byKey.get(k)!)
    expect(edges.length).toBe(pages.length * 2)
    for (const edge of edges) {
      const s = await openFileStorage(dir, { tableCacheBytes: 0 })
      const got = await s.get(edge.cid)
      expect(got !== undefined && equalBytes(got, edge.bytes), `get ${edge.cid}`).toBe(true)
      expect(s.stats.tablePageReads).toBeGreaterThanOrEqual(1)
      expect(s.stats.tablePageReads).toBeLessThanOrEqual(2)
      await s.close()
    }
  })

  test('a table with a damaged page keeps answering from its other pages, through a small cache', async () => {
    const dir = await freshDir()
    await tabled(dir, blocksOf(3000, 'cache'))
    const pages = await tableEntries(dir)
    await damagePage(dir, 3) // pages[2]
    const run = await openTable(dir, 2 * PAGE)
    if (typeof run !== 'object') throw new Error(String(run))
    const find = (key: string): number[] => {
      const out: number[] = []
      run.find(Number.parseInt(key.slice(0, 8), 16), Number.parseInt(key.slice(8), 16), (_, offset) => {
        out.push(offset)
      })
      return out
    }
    for (let round = 0; round < 3; round++) {
      for (const [p, entries] of pages.entries()) {
        for (const entry of [entries[0]!, entries[100]!, entries.at(-1)!]) {
          // A page's first key may also end the page before: its lookup starts there.
          if (p === 2 || (p === 3 && entry === entries[0])) expect(() => find(entry.key)).toThrow(TableDamage)
          else expect(find(entry.key)).toEqual([entry.offset])
        }
      }
    }
    expect(run.memoryBytes).toBeLessThan(3000 * 2 + 2 * PAGE)
    await run.retire()
  })

  test('hundreds of CIDs with one key (one digest, many codecs) span pages and are told apart, in the table and the tail', async () => {
    const dir = await freshDir()
    const shared = encodeValue({ shared: 'digest' })
    const digest = shared.cid.multihash
    // Codecs from 0x300 up: distinct CIDs, all ending in the same digest, so all with one key.
    const same = (i: number): CID => CID.createV1(0x300 + i, digest)
    const twins: BlockRecord[] = Array.from({ length: 450 }, (_, i) => ({ cid: same(i), bytes: shared.bytes }))
    const filler = blocksOf(2000, 'filler')
    const s0 = await openFileStorage(dir, { tableOnClose: 1 })
    await s0.commit({ blocks: [...filler.slice(0, 1000), ...twins, ...filler.slice(1000)], heads: [shared.cid] })
    await s0.close()
    const pages = await tablePages(dir)
    const key = keyOf(shared.cid)
    const holding = pages.map((keys, p) => (keys.includes(key) ? p : -1)).filter((p) => p >= 0)
    expect(holding.length).toBeGreaterThanOrEqual(3) // 450 equal keys, 204 per page
    expect(pages[holding[1]!]!.every((k) => k === key)).toBe(true) // a page of nothing but that key: its first key is the fence
    let s = await openFileStorage(dir, { tableCacheBytes: 0, tableOnClose: 100 })
    expect(s.stats.openedFromTable).toBe(2450)
    // The first, last, and those around each page boundary (by table order, which is file order for equal keys).
    const sample = [0, 1, 203, 204, 205, 300, 407, 408, 409, 448, 449].map((i) => twins[i]!)
    for (const b of sample) expect(await s.get(b.cid), String(b.cid)).toEqual(shared.bytes)
    await expectAbsent(s, [same(450), same(1000)])
    await expectPresent(s, filler.slice(990, 1010))
    // More of them in the tail.
    const more = Array.from({ length: 5 }, (_, i) => ({ cid: same(450 + i), bytes: shared.bytes }))
    await s.commit({ blocks: more, heads: [more[0]!.cid] })
    for (const b of [...more, twins[0]!, twins[449]!]) expect(await s.has(b.cid), String(b.cid)).toBe(true)
    await expectAbsent(s, [same(455)])
    const all = await listed(s)
    expect(all.size).toBe(2455)
    for (const b of [...twins, ...more]) expect(all.has(b.cid.toString())).toBe(true)
    await s.close()
    // Folded on reopen+close: all 455 in the table.
    s = await openFileStorage(dir, { tableOnClose: 1 })
    await s.close()
    s = await openFileStorage(dir, { tableCacheBytes: 0 })
    expect(s.stats).toMatchObject({ openedFromTable: 2455, scannedOnOpen: 0 })
    for (const b of [more[4]!, twins[204]!, twins[0]!]) expect(await s.get(b.cid)).toEqual(shared.bytes)
    await expectAbsent(s, [same(455)])
    await s.close()
  })

  for (const [what, at] of [
    ['an entry', 100],
    ['its checksum', PAGE - 2],
    ['the zeros after the entries', PAGE - 8],
  ] as const) {
    test(`a damaged page (${what}) found by a lookup: the table is dropped, its blocks rescanned, a new one written; nothing fails`, async () => {
      const dir = await freshDir()
      const blocks = blocksOf(3000, 'damage')
      await tabled(dir, blocks)
      const tail = blocksOf(50, 'tail')
      let s = await openFileStorage(dir, { tableOnClose: 1000 })
      await commitAll(s, tail, 10)
      await s.close()
      await damagePage(dir, 3, at)
      s = await openFileStorage(dir)
      // Open does not read pages: the damage is not seen yet.
      expect(s.stats).toMatchObject({ openedFromTable: 3000, scannedOnOpen: 50, tableIgnored: undefined, tableDamaged: undefined })
      await expectPresent(s, [...blocks, ...tail])
      expect(s.stats.tableDamaged).toMatch(/page 3 of the block table fails its checksum/)
      await expectAbsent(
        s,
        blocksOf(50, 'never').map((b) => b.cid),
      )
      expect((await listed(s)).size).toBe(3050)
      await until(() => s.stats.tablesWritten === 1)
      expect(s.stats).toMatchObject({ tableBlocks: 3050, tailBlocks: 0 })
      await expectPresent(s, blocks.slice(0, 300))
      await s.close()
      s = await openFileStorage(dir)
      expect(s.stats).toMatchObject({ openedFromTable: 3050, scannedOnOpen: 0, tableDamaged: undefined })
      await expectPresent(s, [...blocks, ...tail])
      await s.close()
    })
  }

  test('a damaged page found by a table rewrite: same fallback, and commits go on meanwhile', async () => {
    const dir = await freshDir()
    const blocks = blocksOf(3000, 'rewrite')
    await tabled(dir, blocks)
    // New blocks whose keys the table's filter rejects, so that committing them reads no page:
    // the fold is the first to read page 7.
    let s = await openFileStorage(dir, { tableCacheBytes: 0 })
    const more: BlockRecord[] = []
    for (const b of blocksOf(1000, 'more')) {
      const reads = s.stats.tablePageReads
      expect(await s.has(b.cid)).toBe(false)
      if (s.stats.tablePageReads === reads && more.length < 400) more.push(b)
    }
    await s.close()
    expect(more.length).toBe(400)
    await damagePage(dir, 7)
    s = await openFileStorage(dir, { tableEvery: 100, tableCacheBytes: 0 })
    // The first fold (at 375 blocks, an eighth of the table) reads every page of the table and meets the damage.
    await commitAll(s, more, 25)
    await until(() => s.stats.tableDamaged !== undefined && s.stats.tablesWritten >= 1)
    expect(s.stats.tableDamaged).toMatch(/page 7 of the block table fails its checksum/)
    expect(s.stats.tableWriteError).toMatch(/page 7/)
    await expectPresent(s, [...blocks, ...more])
    expect((await listed(s)).size).toBe(3400)
    await s.close()
    s = await openFileStorage(dir)
    // A healthy table again. Whether close folded the last commits in depends on when the
    // background rewrite finished (timing, under load), so the tail may be scanned instead.
    expect(s.stats.tableDamaged).toBeUndefined()
    expect(s.stats.openedFromTable + s.stats.scannedOnOpen).toBe(3400)
    expect(s.stats.openedFromTable).toBeGreaterThanOrEqual(3000)
    await expectPresent(s, [...blocks.slice(0, 500), ...more])
    await s.close()
  })

  test('a damaged page found by the table rewrite of close: the table is removed, the next open scans', async () => {
    const dir = await freshDir()
    const blocks = blocksOf(2000, 'closing')
    await tabled(dir, blocks)
    await damagePage(dir, 5)
    let s = await openFileStorage(dir, { tableOnClose: 1 })
    const one = encodeValue({ one: 'more' })
    await s.commit({ blocks: [one], heads: [one.cid] })
    await s.close() // folds: reads every page
    expect(s.stats.tableWriteError).toMatch(/page 5/)
    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 0, scannedOnOpen: 2001 })
    await expectPresent(s, [...blocks, one])
    await s.close()
  })

  test('lookups and commits during a table rewrite see every block; the new table replaces the old one and the frozen tail at once', async () => {
    const dir = await freshDir()
    const blocks = blocksOf(8000, 'base')
    await tabled(dir, blocks)
    const s = await openFileStorage(dir, { tableEvery: 1000 })
    const first = blocksOf(1000, 'first')
    await s.commit({ blocks: first, heads: [first[0]!.cid] }) // reaches tableEvery: a rewrite starts
    expect(s.stats.tablesWritten).toBe(0)
    const second = blocksOf(300, 'second')
    const sample = [...blocks.filter((_, i) => i % 40 === 0), ...first.filter((_, i) => i % 10 === 0)]
    const [, results] = await Promise.all([s.commit({ blocks: second, heads: [second[0]!.cid] }), Promise.all(sample.map(async (b) => equalBytes((await s.get(b.cid)) ?? new Uint8Array(0), b.bytes)))])
    expect(results.every(Boolean)).toBe(true)
    await expectPresent(s, second.slice(0, 50))
    await until(() => s.stats.tablesWritten === 1)
    expect(s.stats).toMatchObject({ tableBlocks: 9000, tailBlocks: 300 })
    await expectPresent(s, [...sample, ...second])
    expect((await listed(s)).size).toBe(9300)
    await s.close()
  })

  test("a block stored twice is listed once: its later copy is in the table's skip list, also after a rescan", async () => {
    const dir = await freshDir()
    const filler = blocksOf(1100, 'filler')
    const twice = encodeValue({ stored: 'twice' })
    await tabled(dir, [...filler, twice])
    // Another writer (or an older version) appended a commit repeating a stored block.
    const fresh = encodeValue({ stored: 'once' })
    await appendFile(join(dir, 'seg-000001.car'), encodeCommit([twice, fresh], [fresh.cid]).buffer)
    let s = await openFileStorage(dir, { tableOnClose: 1 })
    expect(s.stats).toMatchObject({ openedFromTable: 1101, scannedOnOpen: 1 })
    expect((await listed(s)).size).toBe(1102)
    await s.close() // writes a table with the later copy in its skip list
    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 1102, scannedOnOpen: 0 })
    expect((await listed(s)).size).toBe(1102)
    await expectPresent(s, [twice, fresh])
    await s.close()
    // A damaged page: the rescan finds the copy again.
    await damagePage(dir, 2)
    s = await openFileStorage(dir)
    await expectPresent(s, filler)
    expect(s.stats.tableDamaged).toMatch(/page 2/)
    expect((await listed(s)).size).toBe(1102)
    await until(() => s.stats.tablesWritten === 1)
    await s.close()
    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 1102, scannedOnOpen: 0 })
    expect((await listed(s)).size).toBe(1102)
    await s.close()
  })
})
