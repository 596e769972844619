// Writing the block table (format.ts has its layout): a rewrite merges the old table's pages
// with the sorted new entries into a new file that replaces the old one atomically; and the
// removal of a table found unusable.
import { unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { sha256 } from '../../../block/hash.ts'
import { errCode, replaceFile, writeFully } from '../../../fs/durable.ts'
import { ENTRY_BYTES, type EntryColumns } from '../tail-index.ts'
import { KeyFilter } from './key-filter.ts'
import { CHUNK_PAGES, FORMAT, HEADED, HEADER, less, MAGIC, PAGE_BYTES, PAGE_ENTRIES, pageSeed, pageSum, TABLE_FILE, type TableCover } from './format.ts'
import { TableRun, type TableCursor } from './reader.ts'

/**
 * Writes a new table holding `base`'s entries and `tail`'s, merged, up to `cover`, and makes it
 * the folder's table, atomically (replaceFile: a temporary file, fsync, rename over the old
 * table, fsync of the folder). A crash leaves the old table or the new one (and maybe a temporary file), never
 * a torn table under the real name. `base`'s pages are read in chunks and merged with the
 * sorted tail into chunks of new pages: memory stays at a few hundred KiB plus the new
 * fence and filter. Returns the new table, open for lookups. Throws {@link TableDamage} when
 * a page of `base` is damaged.
 */
export async function writeTable(dir: string, base: TableRun, tail: EntryColumns, cover: TableCover, skip: readonly number[], cacheBytes: number): Promise<TableRun> {
  const cursor = base.cursor()
  try {
    let written: { fence: Uint32Array; filter: KeyFilter; count: number } | undefined
    const fh = await replaceFile(
      join(dir, TABLE_FILE),
      async (fh) => {
        written = await writeEntries(fh, cursor, tail)
        await writeMeta(fh, written, cover, skip)
      },
      { keepOpen: true },
    )
    const { fence, filter, count } = written!
    return TableRun.written(fh, count, cover, skip, fence, filter, cacheBytes)
  } catch (err) {
    cursor.close()
    throw err
  }
}

/** Writes the meta section after the pages, then the header (page 0) with the digest of both. */
async function writeMeta(fh: FileHandle, entries: { fence: Uint32Array; filter: KeyFilter; count: number }, cover: TableCover, skip: readonly number[]): Promise<void> {
  const { fence, filter, count } = entries
  const pages = fence.length / 2
  const metaBytes = pages * 8 + skip.length * 8 + filter.words.length * 4
  const digested = new Uint8Array(HEADED + metaBytes)
  const view = new DataView(digested.buffer)
  digested.set(MAGIC, HEADER.magic)
  view.setUint32(HEADER.format, FORMAT, true)
  view.setUint32(HEADER.count, count, true)
  view.setUint32(HEADER.coverSegment, cover.segment, true)
  view.setUint32(HEADER.coverEnd, cover.end, true)
  view.setUint32(HEADER.coverRecordStart, cover.recordStart, true)
  view.setUint32(HEADER.pageBytes, PAGE_BYTES, true)
  digested.set(cover.recordDigest, HEADER.recordDigest)
  view.setUint32(HEADER.perPage, PAGE_ENTRIES, true)
  view.setUint32(HEADER.skipCount, skip.length, true)
  view.setUint32(HEADER.filterWords, filter.words.length, true)
  let at = HEADED
  for (let i = 0; i < fence.length; i++, at += 4) view.setUint32(at, fence[i]!, true)
  for (const position of skip) {
    view.setUint32(at, Math.floor(position / 2 ** 32), true)
    view.setUint32(at + 4, position % 2 ** 32, true)
    at += 8
  }
  for (let i = 0; i < filter.words.length; i++, at += 4) view.setUint32(at, filter.words[i]!, true)
  await writeFully(fh, digested.subarray(HEADED), (pages + 1) * PAGE_BYTES)
  const header = new Uint8Array(PAGE_BYTES)
  header.set(digested.subarray(0, HEADED))
  header.set((await sha256(digested)).digest, HEADER.metaDigest)
  await writeFully(fh, header, 0)
}

/** Writes the merged entries as pages 1.. of `fh`; returns the fence and filter of what it wrote. */
async function writeEntries(fh: FileHandle, base: TableCursor, tail: EntryColumns): Promise<{ fence: Uint32Array; filter: KeyFilter; count: number }> {
  const merge = new Merge(base, tail)
  for (;;) {
    const next = merge.run()
    if (next === NEED_ENTRIES) await base.fill()
    else {
      if (merge.pages > 0) await writeFully(fh, merge.chunk.subarray(0, merge.pages * PAGE_BYTES), (merge.firstPage + 1) * PAGE_BYTES)
      if (next === DONE) return { fence: merge.fence, filter: merge.filter, count: merge.count }
      merge.flushed()
    }
  }
}

const NEED_ENTRIES = 0
const CHUNK_FULL = 1
const DONE = 2

/**
 * The merge of a table rewrite, as a synchronous step (the hot loop stays out of the async
 * function, whose locals live in its context): fills `chunk` with sealed pages until it is
 * full, the old table's cursor needs its next chunk, or all entries are written.
 */
class Merge {
  readonly count: number
  readonly fence: Uint32Array
  readonly filter: KeyFilter
  readonly chunk = new Uint8Array(CHUNK_PAGES * PAGE_BYTES)
  /** Page number (0-based) of the chunk's first page, and pages sealed in the chunk. */
  firstPage = 0
  pages = 0
  readonly #out = new DataView(this.chunk.buffer)
  readonly #base: TableCursor
  readonly #tail: EntryColumns
  readonly #order: Uint32Array
  #j = 0
  #k = 0
  #slot = 0

  constructor(base: TableCursor, tail: EntryColumns) {
    this.#base = base
    this.#tail = tail
    this.#order = tail.sortedOrder()
    this.count = base.left + this.#order.length
    this.fence = new Uint32Array(Math.ceil(this.count / PAGE_ENTRIES) * 2)
    this.filter = KeyFilter.sized(this.count)
  }

  /** The chunk was written: start a new one. */
  flushed(): void {
    this.firstPage += this.pages
    this.pages = 0
  }

  run(): number {
    const base = this.#base
    const tail = this.#tail
    const order = this.#order
    const out = this.#out
    const filter = this.filter
    const fence = this.fence
    const count = this.count
    let j = this.#j
    let k = this.#k
    let slot = this.#slot
    let result = DONE
    while (k < count) {
      if (base.left > 0 && !base.ready) {
        result = NEED_ENTRIES
        break
      }
      let hi: number, lo: number, segment: number, offset: number, length: number
      const e = j < order.length ? order[j]! : -1
      // Equal keys: the table's entries first, as in file order.
      if (base.left > 0 && (e < 0 || !less(tail.hi(e), tail.lo(e), base.hi, base.lo))) {
        hi = base.hi
        lo = base.lo
        segment = base.segment
        offset = base.offset
        length = base.length
        base.next()
      } else {
        hi = tail.hi(e)
        lo = tail.lo(e)
        segment = tail.segment(e)
        offset = tail.offset(e)
        length = tail.length(e)
        j++
      }
      const page = this.firstPage + this.pages
      const pageAt = this.pages * PAGE_BYTES
      const at = pageAt + slot * ENTRY_BYTES
      out.setUint32(at, hi, true)
      out.setUint32(at + 4, lo, true)
      out.setUint32(at + 8, segment, true)
      out.setUint32(at + 12, offset, true)
      out.setUint32(at + 16, length, true)
      filter.add(hi, lo)
      if (slot === 0) {
        fence[2 * page] = hi
        fence[2 * page + 1] = lo
      }
      k++
      if (++slot < PAGE_ENTRIES && k < count) continue
      // Seal the page: zeros after its entries, then its checksum.
      this.chunk.fill(0, at + ENTRY_BYTES, pageAt + PAGE_BYTES - 4)
      out.setUint32(pageAt + PAGE_BYTES - 4, pageSum(out, pageAt, pageSeed(page + 1, count)), true)
      this.pages++
      slot = 0
      if (this.pages === CHUNK_PAGES && k < count) {
        result = CHUNK_FULL
        break
      }
    }
    this.#j = j
    this.#k = k
    this.#slot = slot
    return result
  }
}

/** Removes the table file (one the engine found unusable), so a stale table cannot come back to life. */
export async function removeTable(dir: string): Promise<void> {
  try {
    await unlink(join(dir, TABLE_FILE))
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err
  }
}
