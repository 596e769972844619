// The block table: the files engine's index, persisted so that opening a store reads one
// file instead of scanning every segment. Engine-internal, rebuildable from the segments.
//
//   offset  size
//   0       8     magic "CAIRNBT1"
//   8       4     format (1)
//   12      4     entry count n
//   16      4     covered segment number
//   20      4     covered end: offset just past the last commit record the table covers
//   24      4     start of that commit record's frame
//   28      4     zero
//   32      32    sha2-256 of that record frame's bytes
//   64      20n   five u32 columns of n entries each (key high, key low, segment, frame
//                 offset, frame length), entries sorted by key (block-index.ts)
//   64+20n  32    sha2-256 of every byte before
//
// All integers little-endian. The table indexes exactly the blocks committed up to the
// covered position; a store opening with it scans only the segment bytes after that.
// Its columns are used in place as the in-memory sorted run (one read, no parse), so a
// big-endian host, whose typed arrays would read them backwards, never uses a table.
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { equalBytes } from '../../block/codec.ts'
import { sha256 } from '../../block/hash.ts'
import { ENTRY_BYTES, SortedRun, type TailIndex } from './block-index.ts'
import { syncDir } from './durable.ts'
import { readFully } from './format.ts'

/** File name of the block table inside the store folder. */
export const TABLE_FILE = 'blocks.table'
/** Temporary files of a table being written: `blocks.table.<random>.tmp`, removed on open if a crash left one. */
export const TABLE_TEMP_RE: RegExp = /^blocks\.table\.[a-z0-9]*\.tmp$/

const MAGIC = new TextEncoder().encode('CAIRNBT1')
const FORMAT = 1
const HEADER = 64
const DIGEST = 32

/** True where typed arrays are little-endian, the only hosts that read or write tables. */
export const TABLE_HOST: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The commit a table covers: it indexes every block up to the end of this record. */
export interface TableCover {
  readonly segment: number
  /** Start of the record's frame. */
  readonly recordStart: number
  /** Offset just past the record's frame. */
  readonly end: number
  /** sha2-256 of the record frame's bytes: ties the table to these segments, not to others of the same length. */
  readonly recordDigest: Uint8Array
}

/** A table image: the file's bytes, whose columns the run views in place. */
export interface TableImage {
  readonly bytes: Uint8Array
  readonly run: SortedRun
  readonly cover: TableCover
}

/** Builds the image of a table holding `base` and `tail` (merged) up to `cover`. Its digest is filled in by {@link writeTable}. */
export function buildTable(base: SortedRun, tail: TailIndex, cover: TableCover): TableImage {
  const count = base.count + tail.count
  const bytes = new Uint8Array(HEADER + count * ENTRY_BYTES + DIGEST)
  const view = new DataView(bytes.buffer)
  bytes.set(MAGIC, 0)
  view.setUint32(8, FORMAT, true)
  view.setUint32(12, count, true)
  view.setUint32(16, cover.segment, true)
  view.setUint32(20, cover.end, true)
  view.setUint32(24, cover.recordStart, true)
  bytes.set(cover.recordDigest, 32)
  const run = tail.mergeInto(base, bytes.buffer, HEADER)
  return { bytes, run, cover }
}

/** Parses a table file's bytes; a string says why they are not a usable table. */
export async function parseTable(bytes: Uint8Array): Promise<TableImage | string> {
  if (!TABLE_HOST) return 'big-endian host'
  if (bytes.length < HEADER + DIGEST || !equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) return 'not a block table'
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(8, true) !== FORMAT) return `unknown format ${view.getUint32(8, true)}`
  const count = view.getUint32(12, true)
  if (bytes.length !== HEADER + count * ENTRY_BYTES + DIGEST) return `length ${bytes.length} does not fit ${count} entries`
  const digest = await sha256(bytes.subarray(0, bytes.length - DIGEST))
  if (!equalBytes(digest.digest, bytes.subarray(bytes.length - DIGEST))) return 'checksum mismatch'
  const cover: TableCover = {
    segment: view.getUint32(16, true),
    end: view.getUint32(20, true),
    recordStart: view.getUint32(24, true),
    recordDigest: bytes.slice(32, 64),
  }
  return { bytes, run: SortedRun.over(bytes.buffer as ArrayBuffer, bytes.byteOffset + HEADER, count), cover }
}

/** Reads the table file in `dir`: undefined when there is none, a string when it is unusable. */
export async function readTable(dir: string): Promise<TableImage | string | undefined> {
  let fh: FileHandle
  try {
    fh = await open(join(dir, TABLE_FILE), 'r')
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const { size } = await fh.stat()
    const bytes = new Uint8Array(size)
    await readFully(fh, bytes, 0)
    return await parseTable(bytes)
  } finally {
    await fh.close().catch(() => {})
  }
}

/**
 * Fills in the image's digest and makes it the folder's table, atomically: a temporary file,
 * fsync, rename over the old table, fsync of the folder. A crash leaves the old table or the
 * new one (and maybe a temporary file), never a torn table under the real name.
 */
export async function writeTable(dir: string, image: TableImage): Promise<void> {
  const { bytes } = image
  const digest = await sha256(bytes.subarray(0, bytes.length - DIGEST))
  bytes.set(digest.digest, bytes.length - DIGEST)
  const tmp = join(dir, `${TABLE_FILE}.${Math.random().toString(36).slice(2, 10)}.tmp`)
  try {
    const fh = await open(tmp, 'wx')
    try {
      let done = 0
      while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done, done)).bytesWritten
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, join(dir, TABLE_FILE))
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await syncDir(dir)
}

/** Removes the table file (one the engine found unusable), so a stale table cannot come back to life. */
export async function removeTable(dir: string): Promise<void> {
  try {
    await unlink(join(dir, TABLE_FILE))
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err
  }
}
