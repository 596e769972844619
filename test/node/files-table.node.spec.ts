// The files engine's block table (blocks.table): reopen without scanning, the tail after it,
// damaged or stale tables, crashes around table writes, key collisions, many blocks.
import { copyFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, test } from 'vitest'
import { encodeValue, equalBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { openFileStorage, type FileStorage, type FileStorageOptions } from '../../src/storage/files/engine.ts'
import { findRecords } from '../../src/storage/files/format.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'
import { commitAll, committedSize, expectAbsent, expectPresent, killAfterAcks } from '../support/files-engine.node.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TABLE = 'blocks.table'

const freshDir = freshDirs('cairn-table-')

function blocksOf(n: number, tag: string): BlockRecord[] {
  return Array.from({ length: n }, (_, i) => encodeValue({ tag, i, pad: 'x'.repeat(i % 40) }))
}

/** Commits `blocks` in batches of `per`, each batch's last block as the head. */

/** Every block `blocks()` lists, as CID strings, checking each is listed once with its bytes. */
async function listed(s: FileStorage, expected?: ReadonlyMap<string, Uint8Array>): Promise<string[]> {
  const out: string[] = []
  for await (const b of s.blocks()) {
    const key = b.cid.toString()
    if (expected !== undefined) expect(equalBytes(b.bytes, expected.get(key) ?? new Uint8Array(0)), key).toBe(true)
    out.push(key)
  }
  expect(new Set(out).size).toBe(out.length)
  return out.sort()
}

const str = (cids: readonly CID[]): string[] => cids.map(String)
const ids = (blocks: readonly BlockRecord[]): string[] => blocks.map((b) => b.cid.toString()).sort()

/** A store whose table holds `tabled` blocks and whose tail holds `tail` more (not folded on close). */
async function tableAndTail(dir: string, tabled: number, tail: number, options: FileStorageOptions = {}): Promise<{ a: BlockRecord[]; b: BlockRecord[]; heads: CID[] }> {
  const a = blocksOf(tabled, 'table')
  let s = await openFileStorage(dir, { tableOnClose: 1, ...options })
  await commitAll(s, a, 97)
  await s.close()
  const b = blocksOf(tail, 'tail')
  s = await openFileStorage(dir, { tableOnClose: tail + 1, ...options })
  const heads = await commitAll(s, b, 13)
  await s.close()
  return { a, b, heads }
}

describe('files engine: block table', () => {
  test('a small store closes without a table; a bigger one writes it on close and reopens from it', async () => {
    const dir = await freshDir()
    const few = blocksOf(50, 'few')
    let s = await openFileStorage(dir)
    await commitAll(s, few, 10)
    await s.close()
    expect(await readdir(dir)).toEqual(['seg-000001.car']) // below tableOnClose (1024): the next open scans 50 blocks

    const many = blocksOf(3000, 'many')
    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 0, scannedOnOpen: 50 })
    const heads = await commitAll(s, many, 100)
    await s.close()
    expect((await readdir(dir)).sort()).toEqual([TABLE, 'seg-000001.car'])

    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 3050, scannedOnOpen: 0, tableBlocks: 3050, tailBlocks: 0, tableIgnored: undefined })
    expect(s.stats.indexBytes).toBeLessThan(3050 * 2 + 16 * 1024)
    expect(str(await s.heads())).toEqual(str(heads))
    await expectPresent(s, [...few, ...many])
    await expectAbsent(s, blocksOf(20, 'never'))
    expect(await listed(s)).toEqual(ids([...few, ...many]))
    await s.close()
  })

  test("blocks committed after the table are scanned as the tail, and found together with the table's", async () => {
    const dir = await freshDir()
    const { a, b, heads } = await tableAndTail(dir, 2000, 300)
    const s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 2000, scannedOnOpen: 300, tableBlocks: 2000, tailBlocks: 300 })
    expect(str(await s.heads())).toEqual(str(heads))
    await expectPresent(s, [...a, ...b])
    const all = new Map([...a, ...b].map((x) => [x.cid.toString(), x.bytes]))
    expect(await listed(s, all)).toEqual(ids([...a, ...b]))
    // Repeating known blocks (from the table and from the tail) writes nothing new.
    const size = await committedSize(join(dir, 'seg-000001.car'))
    await s.commit({ blocks: [a[5]!, b[7]!], heads })
    const record = (await committedSize(join(dir, 'seg-000001.car'))) - size
    expect(record).toBeLessThan(200)
    await s.close()
  })

  test('the tail is folded into a new table while committing, once it reaches tableEvery', async () => {
    const dir = await freshDir()
    const blocks = blocksOf(1000, 'fold')
    let s = await openFileStorage(dir, { tableEvery: 128, tableOnClose: 100_000 })
    await commitAll(s, blocks, 50)
    // The folds run in the background (a datasync and a table file each), one at a time: the
    // last one may still be writing when the commits return. Wait for it (bounded, for a slow or
    // loaded disk) rather than a fixed 50 ms, which a loaded machine outran.
    for (let waited = 0; (s.stats.tablesWritten < 2 || s.stats.tailBlocks >= 200) && waited < 30_000; waited += 10) await new Promise((r) => setTimeout(r, 10))
    expect(s.stats.tablesWritten).toBeGreaterThanOrEqual(2)
    expect(s.stats.tableBlocks).toBeGreaterThan(0)
    expect(s.stats.tailBlocks).toBeLessThan(200)
    await expectPresent(s, blocks)
    await s.close()
    s = await openFileStorage(dir)
    expect(s.stats.openedFromTable + s.stats.scannedOnOpen).toBe(1000)
    expect(s.stats.scannedOnOpen).toBeLessThan(200)
    await expectPresent(s, blocks)
    await s.close()
  })

  test('a table that covers part of a segment, over many segments, resumes the scan mid-segment', async () => {
    const dir = await freshDir()
    const options = { segmentBytes: 8192 }
    const a = blocksOf(500, 'table')
    let s = await openFileStorage(dir, { ...options, tableOnClose: 1 })
    await commitAll(s, a, 20)
    await s.close()
    const b = blocksOf(120, 'tail')
    s = await openFileStorage(dir, { ...options, tableOnClose: 1000 })
    const heads = await commitAll(s, b, 13)
    await s.close()
    const segments = (await readdir(dir)).filter((n) => n.endsWith('.car')).sort()
    expect(segments.length).toBeGreaterThan(5)
    // The table's header names the covered segment and offset (u32 LE at 16 and 20): inside that segment, not at its end.
    const table = await readFile(join(dir, TABLE))
    const header = new DataView(table.buffer, table.byteOffset, table.byteLength)
    const [covered, end] = [header.getUint32(16, true), header.getUint32(20, true)]
    expect(covered).toBeLessThan(segments.length)
    expect(end).toBeLessThan((await stat(join(dir, segments[covered - 1]!))).size)
    s = await openFileStorage(dir, options)
    expect(s.stats).toMatchObject({ openedFromTable: 500, scannedOnOpen: 120 })
    expect(str(await s.heads())).toEqual(str(heads))
    await expectPresent(s, [...a, ...b])
    expect(await listed(s)).toEqual(ids([...a, ...b]))
    await s.close()
  })

  const damages: [string, (bytes: Uint8Array) => Uint8Array][] = [
    // Damage to the header or the meta section (fence, skip list, key filter) is found on open
    // by their digest; damage to a page only when it is read (files-table-pages.node.spec.ts).
    [
      "a flipped bit in the header's counts",
      (x) => {
        const y = x.slice()
        y[64 + 1]! ^= 0x10
        return y
      },
    ],
    [
      'a flipped bit in the fence',
      (x) => {
        const y = x.slice()
        y[(Math.ceil(new DataView(y.buffer).getUint32(12, true) / 204) + 1) * 4096 + 3]! ^= 0x10
        return y
      },
    ],
    [
      'a flipped bit in the key filter',
      (x) => {
        const y = x.slice()
        y[y.length - 5]! ^= 0x01
        return y
      },
    ],
    [
      'an older format',
      (x) => {
        const y = x.slice()
        y[7] = 0x31
        y[8] = 1
        return y
      },
    ],
    [
      'a flipped bit in the header',
      (x) => {
        const y = x.slice()
        y[20]! ^= 0x01
        return y
      },
    ],
    [
      'a flipped bit in the checksum',
      (x) => {
        const y = x.slice()
        y[80 + 31]! ^= 0x80
        return y
      },
    ],
    ['cut short', (x) => x.slice(0, x.length - 100)],
    ['cut to nothing', () => new Uint8Array(0)],
    ['zeroed', (x) => new Uint8Array(x.length)],
    [
      'wrong magic',
      (x) => {
        const y = x.slice()
        y[0] = 0x41
        return y
      },
    ],
  ]
  for (const [what, damage] of damages) {
    test(`a damaged table (${what}) is ignored and replaced: everything is scanned, results are right`, async () => {
      const dir = await freshDir()
      const { a, b, heads } = await tableAndTail(dir, 1500, 40)
      const file = join(dir, TABLE)
      await writeFile(file, damage(new Uint8Array(await readFile(file))))
      let s = await openFileStorage(dir)
      expect(s.stats.openedFromTable).toBe(0)
      expect(s.stats.scannedOnOpen).toBe(1540)
      expect(s.stats.tableIgnored).toBeTypeOf('string')
      expect(str(await s.heads())).toEqual(str(heads))
      await expectPresent(s, [...a, ...b])
      await s.close()
      // close wrote a fresh table (1540 blocks to index is above tableOnClose)
      s = await openFileStorage(dir)
      expect(s.stats).toMatchObject({ openedFromTable: 1540, scannedOnOpen: 0, tableIgnored: undefined })
      await s.close()
    })
  }

  test('a table naming a position beyond the segments (they lost commits) is ignored', async () => {
    const dir = await freshDir()
    const first = blocksOf(100, 'kept')
    let s = await openFileStorage(dir, { tableOnClose: 1 })
    await commitAll(s, first, 100)
    const keep = await committedSize(join(dir, 'seg-000001.car'))
    const later = blocksOf(1200, 'lost')
    await commitAll(s, later, 100)
    await s.close()
    // Someone restores an older copy of the segment: the table now points past its end.
    await truncate(join(dir, 'seg-000001.car'), keep)
    s = await openFileStorage(dir)
    expect(s.stats.tableIgnored).toMatch(/beyond the segments/)
    expect(str(await s.heads())).toEqual([first.at(-1)!.cid.toString()])
    await expectPresent(s, first)
    await expectAbsent(s, later.slice(0, 50))
    expect(await listed(s)).toEqual(ids(first))
    await s.close()
  })

  test('a table from another store (same shape, other commits) is ignored: its covered record does not match', async () => {
    const mine = await freshDir()
    const theirs = await freshDir()
    const { a, b, heads } = await tableAndTail(mine, 1100, 10)
    await tableAndTail(theirs, 1050, 0)
    await copyFile(join(theirs, TABLE), join(mine, TABLE))
    const s = await openFileStorage(mine)
    expect(s.stats.tableIgnored).toMatch(/commit record/)
    expect(str(await s.heads())).toEqual(str(heads))
    await expectPresent(s, [...a, ...b])
    await s.close()
  })

  test('crash during a table write: a leftover temporary file is removed and changes nothing', async () => {
    const dir = await freshDir()
    const { a, b, heads } = await tableAndTail(dir, 1100, 25)
    const table = new Uint8Array(await readFile(join(dir, TABLE)))
    await writeFile(join(dir, `${TABLE}.k3j9x0a.tmp`), table.subarray(0, 777)) // torn, never renamed
    const s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 1100, scannedOnOpen: 25 })
    expect((await readdir(dir)).sort()).toEqual(['LOCK', TABLE, 'seg-000001.car'])
    expect(str(await s.heads())).toEqual(str(heads))
    await expectPresent(s, [...a, ...b])
    await s.close()
  })

  test('crash after a table write, in a later commit: the torn commit after the table is cut off', async () => {
    const dir = await freshDir()
    const { a, b, heads } = await tableAndTail(dir, 1100, 30)
    const file = join(dir, 'seg-000001.car')
    const bytes = new Uint8Array(await readFile(file))
    // The last commit (of the tail) torn at every 7th byte: reopen at the commit before it.
    const records = findRecords(bytes, 0)
    const lastStart = records.at(-2)!.end
    const lastBatch = b.slice(Math.floor((b.length - 1) / 13) * 13)
    const before = b.slice(0, b.length - lastBatch.length)
    for (let cut = lastStart + 1; cut < bytes.length; cut += 7) {
      await writeFile(file, bytes.subarray(0, cut))
      const s = await openFileStorage(dir, { tableOnClose: 1000 })
      expect(s.stats.openedFromTable).toBe(1100)
      expect(str(await s.heads())).toEqual([before.at(-1)!.cid.toString()])
      await expectAbsent(s, lastBatch)
      await s.close()
      expect((await stat(file)).size).toBe(lastStart)
    }
    await writeFile(file, bytes)
    const s = await openFileStorage(dir)
    expect(str(await s.heads())).toEqual(str(heads))
    await expectPresent(s, [...a, ...b])
    await s.close()
  })

  test('kill -9 while tables are rewritten every few commits: acknowledged commits survive, the table is used', async () => {
    const dir = await freshDir()
    const script = join(dir, 'writer.mts')
    await writeFile(
      script,
      [
        `import { openFileStorage } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/storage/files/engine.ts')).href)}`,
        `import { encodeValue } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/block/codec.ts')).href)}`,
        `const batchOf = ${BATCH_SOURCE}`,
        'const [dir, first] = process.argv.slice(2)',
        `const s = await openFileStorage(dir, ${JSON.stringify(KILL_OPTIONS)})`,
        'for (let round = Number(first); ; round++) {',
        '  const batch = batchOf(encodeValue, round)',
        '  await s.commit({ blocks: batch, heads: [batch.at(-1).cid] })',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of the child script
        '  process.stdout.write(`ack ${round} ${batch.at(-1).cid}\\n`)',
        '}',
      ].join('\n'),
    )
    const store = join(dir, 'store')
    let next = 0
    let fromTable = 0
    for (let run = 0; run < 5; run++) {
      const target = 40 + run * 15
      const { acks: lines, stderr } = await killAfterAcks(script, [store, String(next)], target, 15)
      const acks = lines.map((a) => Number(a.split(' ')[0]))
      expect(acks.length, stderr).toBeGreaterThanOrEqual(target)
      const last = acks.at(-1)!
      const s = await openFileStorage(store, KILL_OPTIONS)
      fromTable += s.stats.openedFromTable
      const heads = str(await s.heads())
      const ahead = batchOf(last + 1)
        .at(-1)!
        .cid.toString()
      expect([[batchOf(last).at(-1)!.cid.toString()], [ahead]]).toContainEqual(heads)
      const upTo = heads[0] === ahead ? last + 1 : last
      const all: BlockRecord[] = []
      for (let round = 0; round <= upTo; round++) all.push(...batchOf(round))
      const unique = new Map(all.map((x) => [x.cid.toString(), x.bytes]))
      expect(await listed(s, unique)).toEqual([...unique.keys()].sort())
      for (let round = Math.max(0, upTo - 5); round <= upTo; round++) await expectPresent(s, batchOf(round))
      await expectAbsent(s, batchOf(upTo + 2))
      await s.close()
      next = upTo + 1
    }
    expect(fromTable).toBeGreaterThan(0)
  })
})

describe('files engine: index lookups', () => {
  test('CIDs that share a key (same digest, other codec or version; same digest end) are told apart, in the table and in the tail', async () => {
    const dir = await freshDir()
    const base = encodeValue({ collide: true })
    const mh = base.cid.multihash
    const asRaw = CID.createV1(0x55, mh)
    const asV0 = CID.createV0(mh as never)
    // Another hash function whose digest ends like base's: only the last 8 bytes make the key.
    const digest = mh.digest.slice()
    digest[0]! ^= 0xff
    const lookalike = CID.createV1(0x71, Digest.create(0xb220, digest))
    const shorter = CID.createV1(0x71, Digest.create(0xb220, mh.digest.slice(16)))
    const bytesA = new Uint8Array([1, 2, 3])
    const bytesB = new Uint8Array([4, 5, 6, 7])
    const bytesC = new Uint8Array([8, 9])
    const filler = blocksOf(1100, 'filler')
    let s = await openFileStorage(dir, { tableOnClose: 1 })
    await s.commit({ blocks: [...filler, base, { cid: asRaw, bytes: bytesA }], heads: [base.cid] })
    await s.close()
    s = await openFileStorage(dir, { tableOnClose: 1000 })
    expect(s.stats.openedFromTable).toBe(1102)
    for (const cid of [asV0, lookalike, shorter]) expect(await s.has(cid), String(cid)).toBe(false)
    await s.commit({
      blocks: [
        { cid: asV0, bytes: bytesB },
        { cid: lookalike, bytes: bytesC },
      ],
      heads: [base.cid],
    })
    // Then an honest commit: open re-hashes the last commit's blocks, and these bytes do not match their CIDs.
    const honest = encodeValue({ honest: true })
    await s.commit({ blocks: [honest], heads: [honest.cid] })
    const check = async (): Promise<void> => {
      expect(await s.get(base.cid)).toEqual(base.bytes)
      expect(await s.get(asRaw)).toEqual(bytesA)
      expect(await s.get(asV0)).toEqual(bytesB)
      expect(await s.get(lookalike)).toEqual(bytesC)
      expect(await s.has(shorter)).toBe(false)
      expect(await s.get(shorter)).toBeUndefined()
      const keys = new Set(await listed(s))
      for (const cid of [base.cid, asRaw, asV0, lookalike]) expect(keys.has(cid.toString()), String(cid)).toBe(true)
      expect(keys.size).toBe(1105)
    }
    await check()
    await s.close()
    s = await openFileStorage(dir, { tableOnClose: 1000 })
    expect(s.stats).toMatchObject({ openedFromTable: 1102, scannedOnOpen: 3 })
    await check()
    await s.close()
    s = await openFileStorage(dir, { tableOnClose: 1 })
    await s.close() // fold the tail into the table
    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: 1105, scannedOnOpen: 0 })
    await check()
    await s.close()
  })

  test('a large block (above the one-read size) reads back whole, from the table and the tail', async () => {
    const dir = await freshDir()
    const big = encodeValue({ big: new Uint8Array(300_000).fill(3) })
    const small = blocksOf(1100, 'beside')
    let s = await openFileStorage(dir, { tableOnClose: 1 })
    await s.commit({ blocks: [...small, big], heads: [big.cid] })
    await s.close()
    s = await openFileStorage(dir)
    expect(s.stats.openedFromTable).toBe(1101)
    const got = await s.get(big.cid)
    expect(got !== undefined && equalBytes(got, big.bytes)).toBe(true)
    expect(got!.byteOffset).toBe(0)
    expect(got!.buffer.byteLength).toBe(big.bytes.length)
    await s.close()
  })

  test('200 000 blocks round-trip through tables written while committing', { timeout: 180_000 }, async () => {
    const dir = await freshDir()
    const n = 200_000
    const block = (i: number): BlockRecord => encodeValue({ stream: `s-${i % 100}`, i, note: 'n'.repeat(i % 50) })
    let s = await openFileStorage(dir)
    for (let i = 0; i < n; i += 10_000) {
      const batch = Array.from({ length: 10_000 }, (_, j) => block(i + j))
      await s.commit({ blocks: batch, heads: [batch.at(-1)!.cid] })
    }
    // A table write starts in the background once the tail reaches tableEvery; on a loaded or a
    // fast machine the commits can outrun the first one: wait for it (bounded), before close.
    for (let waited = 0; s.stats.tablesWritten === 0 && waited < 60_000; waited += 50) await new Promise((r) => setTimeout(r, 50))
    expect(s.stats.tablesWritten).toBeGreaterThanOrEqual(1)
    await s.close()
    s = await openFileStorage(dir)
    expect(s.stats).toMatchObject({ openedFromTable: n, scannedOnOpen: 0 })
    // On disk: memory holds the fence and key filter (~1.3 bytes per block) and the empty tail's arrays.
    expect(s.stats.indexBytes).toBeLessThanOrEqual(n * 1.4 + 16 * 1024)
    expect(str(await s.heads())).toEqual([block(n - 1).cid.toString()])
    let count = 0
    for await (const b of s.blocks()) {
      if (count % 997 === 0) expect(b.cid.toString()).toBe(block(count).cid.toString())
      count++
    }
    expect(count).toBe(n)
    for (let k = 0; k < 1000; k++) {
      const b = block((k * 7919) % n)
      const got = await s.get(b.cid)
      expect(got !== undefined && equalBytes(got, b.bytes)).toBe(true)
    }
    for (let k = 0; k < 200; k++) expect(await s.has(block(n + k).cid)).toBe(false)
    expect(s.stats.indexBytes).toBeLessThanOrEqual(n * 1.4 + 16 * 1024 + 256 * 1024) // and the page cache, full
    await s.close()
  })
})

/** Options of the kill -9 writer: tiny segments and a table rewrite every ~3 commits. */
const KILL_OPTIONS: FileStorageOptions = { tableEvery: 40, tableOnClose: 1, segmentBytes: 32 * 1024 }
/** Round `round` of the kill -9 writer; the child runs this same source. */
const BATCH_SOURCE = '(encode, round) => Array.from({ length: 1 + (round % 30) }, (_, i) => encode({ round, i, pad: "k".repeat((round * 7 + i) % 90) }))'
const makeBatch = new Function(`return ${BATCH_SOURCE}`)() as (encode: typeof encodeValue, round: number) => BlockRecord[]
const batchCache = new Map<number, BlockRecord[]>()
function batchOf(round: number): BlockRecord[] {
  let batch = batchCache.get(round)
  if (batch === undefined) {
    batch = makeBatch(encodeValue, round)
    batchCache.set(round, batch)
  }
  return batch
}
