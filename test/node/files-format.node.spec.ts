// The files engine's commit writer: the record frame it encodes directly is byte for byte the
// generic dag-cbor construction, and what a commit writes (block frames and record in one
// buffer) stays a CARv1 stream that @ipld/car reads and the engine reopens.
import { open, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CarBlockIterator } from '@ipld/car'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { encodeRaw, encodeValue } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { WRITE_AHEAD } from '../../src/storage/files/commit.ts'
import { openFileStorage } from '../../src/storage/files/engine.ts'
import { CAR_HEADER, encodeCommit, encodeRecordFrame, findRecords, recordFrameLength, writeRecordFrame } from '../../src/storage/files/format.ts'
import { committedSize } from '../support/files-engine.node.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const freshDir = freshDirs('cairn-files-format-')
/** Plain bytes, to compare without minding Buffer against Uint8Array. */
const u8 = (b: Uint8Array | undefined): Uint8Array | undefined => (b === undefined ? b : new Uint8Array(b))

/** The record frame as the format defines it, built with the generic encoder. */
function referenceRecordFrame(heads: readonly CID[], blocks: number, bytes: number): Uint8Array {
  const payload = dagCbor.encode({ heads: [...heads], blocks, bytes })
  const cid = CID.createV1(dagCbor.code, Digest.create(0x00, payload))
  const length = cid.bytes.length + payload.length
  const head = varint.encodingLength(length)
  const out = new Uint8Array(head + length)
  varint.encodeTo(length, out, 0)
  out.set(cid.bytes, head)
  out.set(payload, head + cid.bytes.length)
  return out
}

const headsOf = async (n: number): Promise<CID[]> => {
  const out: CID[] = []
  for (let i = 0; i < n; i++) out.push(i % 3 === 2 ? (await encodeRaw(new Uint8Array([i]))).cid : encodeValue({ head: i }).cid)
  return out
}

describe('commit record frames', () => {
  // CBOR heads change size at 24, 256, 65 536 and 2^32; heads counts at 24 too.
  const counts = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]

  test('the direct encoder writes the bytes of @ipld/dag-cbor and the CID construction, for every size of every field', async () => {
    const v0 = CID.parse('QmQ2r6iMNpky5f1m4cnm3Yqw8VSvjuKpTcK1X7dBR1LkJF')
    for (const n of [0, 1, 2, 23, 24, 30]) {
      const heads = await headsOf(n)
      if (n === 2) heads.push(v0)
      for (const blocks of counts) {
        for (const bytes of [counts[0]!, counts[3]!, counts[8]!, counts[10]!, blocks]) {
          const want = referenceRecordFrame(heads, blocks, bytes)
          expect(recordFrameLength(heads, blocks, bytes)).toBe(want.length)
          expect(encodeRecordFrame(heads, blocks, bytes)).toEqual(want)
          // Written in place at an offset, nothing outside its span touched.
          const out = new Uint8Array(want.length + 5).fill(0xee)
          expect(writeRecordFrame(out, 3, heads, blocks, bytes)).toBe(3 + want.length)
          expect(out.subarray(3, 3 + want.length)).toEqual(want)
          expect([...out.subarray(0, 3), ...out.subarray(3 + want.length)]).toEqual([0xee, 0xee, 0xee, 0xee, 0xee])
        }
      }
    }
  })

  test('a commit buffer is the block frames then the record; findRecords finds it', async () => {
    const blocks: BlockRecord[] = [encodeValue({ a: 1 }), await encodeRaw(new Uint8Array(300).fill(7)), encodeValue({ b: 'x'.repeat(200) })]
    const heads = [blocks[0]!.cid, blocks[2]!.cid]
    const encoded = encodeCommit(blocks, heads)
    expect(encoded.buffer.subarray(encoded.recordOffset)).toEqual(referenceRecordFrame(heads, 3, encoded.recordOffset))
    const found = findRecords(encoded.buffer, 100)
    expect(found).toHaveLength(1)
    expect(found[0]!.start).toBe(100 + encoded.recordOffset)
    expect(found[0]!.end).toBe(100 + encoded.buffer.length)
    expect(found[0]!.record).toEqual({ heads, blocks: 3, bytes: encoded.recordOffset })
  })
})

describe('segments written by commits', () => {
  test('stay a CARv1 stream @ipld/car reads (every block hashing to its CID, every record well formed), and the engine reopens them', async () => {
    const dir = await freshDir()
    // Small segments, so commits also start new ones (header and first commit in one write).
    const storage = await openFileStorage(dir, { segmentBytes: 4096 })
    const committed: { blocks: BlockRecord[]; heads: CID[] }[] = []
    for (let c = 0; c < 40; c++) {
      const blocks: BlockRecord[] = []
      for (let i = 0; i <= c % 4; i++) blocks.push(encodeValue({ c, i, pad: 'p'.repeat((c * 37 + i * 101) % 400) }))
      if (c % 5 === 0) blocks.push(await encodeRaw(new Uint8Array(c * 10 + 1).fill(c)))
      // Heads: none, one, or several (a merge), as a log's may be.
      const heads = c % 7 === 0 ? [] : blocks.slice(0, 1 + (c % 3)).map((b) => b.cid)
      await storage.commit({ blocks, heads })
      committed.push({ blocks, heads })
    }
    // A commit of no new block (all held already): a record alone.
    await storage.commit({ blocks: committed[3]!.blocks, heads: committed[3]!.heads })
    await storage.close()

    const segments = (await readdir(dir)).filter((f) => f.endsWith('.car')).sort()
    expect(segments.length).toBeGreaterThan(3)
    const seen = new Map<string, Uint8Array>()
    const records: { heads: CID[]; blocks: number; bytes: number }[] = []
    for (const name of segments) {
      const bytes = new Uint8Array(await readFile(join(dir, name)))
      expect(u8(bytes.subarray(0, CAR_HEADER.length))).toEqual(u8(CAR_HEADER))
      const it = await CarBlockIterator.fromBytes(bytes)
      expect(await it.getRoots()).toEqual([])
      let frames = 0
      let frameBytes = 0
      for await (const { cid, bytes: data } of it) {
        const length = cid.bytes.length + data.length
        if (cid.multihash.code === 0x00) {
          // A commit record: its digest is its payload, a dag-cbor { heads, blocks, bytes } naming the frames since the last one.
          expect(cid.code).toBe(dagCbor.code)
          expect(u8(cid.multihash.digest)).toEqual(u8(data))
          const value = dagCbor.decode(data) as { heads: CID[]; blocks: number; bytes: number }
          expect(Object.keys(value).sort()).toEqual(['blocks', 'bytes', 'heads'])
          expect(u8(dagCbor.encode(value))).toEqual(u8(data))
          expect({ blocks: value.blocks, bytes: value.bytes }).toEqual({ blocks: frames, bytes: frameBytes })
          records.push(value)
          frames = 0
          frameBytes = 0
          continue
        }
        const digest = await sha256Hasher.digest(data)
        expect(u8(cid.multihash.bytes)).toEqual(u8(digest.bytes))
        seen.set(cid.toString(), data)
        frames++
        frameBytes += varint.encodingLength(length) + length
      }
      expect(frames).toBe(0) // every segment ends with a record
    }
    expect(records.map((r) => r.heads.map(String))).toEqual([...committed, committed[3]!].map((c) => c.heads.map(String)))
    for (const { blocks } of committed) for (const b of blocks) expect(u8(seen.get(b.cid.toString()))).toEqual(u8(b.bytes))

    const reopened = await openFileStorage(dir, { segmentBytes: 4096 })
    try {
      expect((await reopened.heads()).map(String)).toEqual(committed[3]!.heads.map(String))
      for (const { blocks } of committed) for (const b of blocks) expect(u8(await reopened.get(b.cid))).toEqual(u8(b.bytes))
      let n = 0
      for await (const _ of reopened.blocks()) n++
      expect(n).toBe(seen.size)
    } finally {
      await reopened.close()
    }
  })

  test('small commits write zeros ahead in the last segment only; close cuts them off; a large commit writes none', async () => {
    const dir = await freshDir()
    const segmentBytes = 3 * WRITE_AHEAD
    const storage = await openFileStorage(dir, { segmentBytes })
    const length = async (name: string): Promise<number> => (await stat(join(dir, name))).size
    const seg1 = 'seg-000001.car'
    await storage.commit({ blocks: [encodeValue({ small: 0 })], heads: [] })
    const first = await committedSize(join(dir, seg1))
    // The file is one write-ahead longer than its commit, and the next small commits leave its length alone.
    expect(await length(seg1)).toBe(first + WRITE_AHEAD)
    for (let i = 1; i < 20; i++) await storage.commit({ blocks: [encodeValue({ small: i, pad: 'x'.repeat(300) })], heads: [] })
    expect(await length(seg1)).toBe(first + WRITE_AHEAD)
    // A commit too large to count as small grows the file by itself only.
    const big = await encodeRaw(new Uint8Array(2 * WRITE_AHEAD).fill(7))
    await storage.commit({ blocks: [big], heads: [] })
    expect(await length(seg1)).toBe(await committedSize(join(dir, seg1)))
    // Rolling to the next segment cuts the zeros off the one before; the zeros are never past the limit.
    await storage.commit({ blocks: [encodeValue({ small: 'after big' })], heads: [] })
    expect(await length(seg1)).toBe(segmentBytes)
    await storage.commit({ blocks: [await encodeRaw(new Uint8Array(WRITE_AHEAD + 2000).fill(8))], heads: [] })
    await storage.commit({ blocks: [encodeValue({ small: 'in segment 2' })], heads: [] })
    expect((await readdir(dir)).filter((f) => f.endsWith('.car')).sort()).toEqual([seg1, 'seg-000002.car'])
    expect(await length(seg1)).toBe(await committedSize(join(dir, seg1)))
    expect(await length('seg-000002.car')).toBe((await committedSize(join(dir, 'seg-000002.car'))) + WRITE_AHEAD)
    await storage.close()
    for (const name of [seg1, 'seg-000002.car']) expect(await length(name)).toBe(await committedSize(join(dir, name)))
    const reopened = await openFileStorage(dir, { segmentBytes })
    expect(u8(await reopened.get(big.cid))).toEqual(u8(big.bytes))
    await reopened.close()
  })

  test('near a full disk, a small commit whose write with zeros ahead fails is written again without them', async () => {
    const dir = await freshDir()
    const storage = await openFileStorage(dir)
    const probe = await open(join(dir, 'probe'), 'w')
    const handle = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> }
    await probe.close()
    const write = handle.write
    // The disk takes a commit but not the zeros after it.
    handle.write = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      if (typeof args[2] === 'number' && args[2] > 64 * 1024) return Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))
      return write.apply(this, args)
    }
    const block = encodeValue({ small: 'near a full disk' })
    try {
      await storage.commit({ blocks: [block], heads: [block.cid] })
    } finally {
      handle.write = write
    }
    const seg1 = join(dir, 'seg-000001.car')
    expect((await stat(seg1)).size).toBe(await committedSize(seg1))
    // With room again, the next small commit writes zeros ahead as usual.
    await storage.commit({ blocks: [encodeValue({ small: 'room again' })], heads: [block.cid] })
    expect((await stat(seg1)).size).toBe((await committedSize(seg1)) + WRITE_AHEAD)
    await storage.close()
    const reopened = await openFileStorage(dir)
    expect((await reopened.heads()).map(String)).toEqual([block.cid.toString()])
    expect(u8(await reopened.get(block.cid))).toEqual(u8(block.bytes))
    await reopened.close()
  })

  test('a reopen after a block table was written from commits of this instance adopts it (the record digest it covers matches)', async () => {
    const dir = await freshDir()
    const storage = await openFileStorage(dir, { tableEvery: 8, tableOnClose: 1 })
    const all: BlockRecord[] = []
    for (let c = 0; c < 30; c++) {
      const block = encodeValue({ c })
      all.push(block)
      await storage.commit({ blocks: [block], heads: [block.cid] })
    }
    expect(storage.stats.tablesWritten).toBeGreaterThan(0)
    await storage.close()
    const reopened = await openFileStorage(dir)
    try {
      expect(reopened.stats.tableIgnored).toBeUndefined()
      expect(reopened.stats.openedFromTable).toBe(all.length)
      expect(reopened.stats.scannedOnOpen).toBe(0)
      for (const b of all) expect(u8(await reopened.get(b.cid))).toEqual(u8(b.bytes))
    } finally {
      await reopened.close()
    }
  })

  test('a roll whose cut of the zeros ahead fails to sync leaves them counted: the next commit cuts them again before it starts the next segment', async () => {
    const dir = await freshDir()
    const segmentBytes = 200_000
    const storage = await openFileStorage(dir, { segmentBytes, tableOnClose: 1e9 })
    const probe = await open(join(dir, 'probe'), 'w')
    const handle = Object.getPrototypeOf(probe) as { datasync: () => Promise<void>; truncate: (size?: number) => Promise<void> }
    await probe.close()
    const { datasync, truncate } = handle
    let failSync = false
    const cuts: number[] = []
    handle.datasync = function (this: unknown): Promise<void> {
      if (!failSync) return datasync.call(this)
      failSync = false
      return Promise.reject(Object.assign(new Error('i/o error'), { code: 'EIO' }))
    }
    handle.truncate = function (this: unknown, size?: number): Promise<void> {
      cuts.push(size ?? 0)
      return truncate.call(this, size)
    }
    const seg1 = join(dir, 'seg-000001.car')
    try {
      for (let i = 0; i < 6; i++) await storage.commit({ blocks: [await encodeRaw(new Uint8Array(30_000).fill(i + 10))], heads: [] })
      expect((await stat(seg1)).size).toBe(segmentBytes) // zeros ahead up to the limit
      const committed = await committedSize(seg1)
      failSync = true // the sync of the cut at the roll fails
      const failed = await storage.commit({ blocks: [await encodeRaw(new Uint8Array(30_000).fill(1))], heads: [] }).catch((e: unknown) => e)
      expect((failed as { code?: string }).code).toBe('CAIRN_STORAGE')
      expect(cuts).toEqual([committed])
      await storage.commit({ blocks: [await encodeRaw(new Uint8Array(30_000).fill(2))], heads: [] })
      expect(cuts).toEqual([committed, committed])
    } finally {
      handle.datasync = datasync
      handle.truncate = truncate
    }
    expect((await readdir(dir)).filter((f) => f.endsWith('.car')).sort()).toEqual(['seg-000001.car', 'seg-000002.car'])
    await storage.close()
  })

  test('on open, zeros alone after the last commit of a segment before the last are cut off; other bytes there are corruption', async () => {
    const dir = await freshDir()
    const segmentBytes = 200_000
    const storage = await openFileStorage(dir, { segmentBytes, tableOnClose: 1e9 })
    const blocks: BlockRecord[] = []
    for (let i = 0; i < 8; i++) {
      const block = await encodeRaw(new Uint8Array(30_000).fill(i + 10))
      blocks.push(block)
      await storage.commit({ blocks: [block], heads: [block.cid] })
    }
    await storage.close()
    const seg1 = join(dir, 'seg-000001.car')
    const committed = await committedSize(seg1)
    expect((await stat(seg1)).size).toBe(committed)
    expect((await readdir(dir)).filter((f) => f.endsWith('.car')).length).toBe(2)
    // A cut of its zeros ahead that never reached the disk: they are back.
    const fh = await open(seg1, 'r+')
    await fh.truncate(segmentBytes)
    await fh.close()
    const reopened = await openFileStorage(dir, { segmentBytes, tableOnClose: 1e9 })
    expect((await stat(seg1)).size).toBe(committed)
    for (const b of blocks) expect(u8(await reopened.get(b.cid))).toEqual(u8(b.bytes))
    expect((await reopened.heads()).map(String)).toEqual([String(blocks.at(-1)!.cid)])
    await reopened.close()
    // One byte that is not zero among them: corruption, and the segment is left as it is.
    const damaged = await open(seg1, 'r+')
    await damaged.truncate(segmentBytes)
    await damaged.write(new Uint8Array([1]), 0, 1, segmentBytes - 10)
    await damaged.close()
    const err = await openFileStorage(dir, { segmentBytes, tableOnClose: 1e9 }).catch((e: unknown) => e)
    expect((err as { code?: string }).code).toBe('CAIRN_CORRUPT')
    expect((await stat(seg1)).size).toBe(segmentBytes)
  })
})
