// The block table: the files engine's index, persisted so that opening a store reads a small
// part of one file instead of scanning every segment. Engine-internal, rebuildable from the
// segments. The entries stay on disk: memory holds the first key of every page (the fence),
// a Bloom filter of the keys and a small LRU cache of pages; a lookup is a binary search of
// the fence and one page read (usually), verified by the page's checksum.
//
// Layout, in pages of 4096 bytes (all integers little-endian):
//   page 0, the header:
//     0    8   magic "CAIRNBT2"
//     8    4   format (2)
//     12   4   entry count n
//     16   4   covered segment number
//     20   4   covered end: offset just past the last commit record the table covers
//     24   4   start of that commit record's frame
//     28   4   page size (4096)
//     32   32  sha2-256 of that record frame's bytes
//     64   4   entries per page e (204)
//     68   4   skip count s
//     72   4   filter words w
//     76   4   zero
//     80   32  sha2-256 of header bytes [0, 80) followed by the whole meta section
//     112  ... zero
//   pages 1..m, m = ceil(n / e): the entries sorted by key, e per page (the last page may
//     have fewer), 20 bytes each: key high, key low, segment, frame offset, frame length
//     (block-index.ts); then zeros; the page's last 4 bytes are a checksum of the rest of
//     it (pageSum), so a damaged page is caught when it is read, without reading the whole
//     file on open
//   the meta section, right after the last page:
//     8m   fence: the key (high, low) of each page's first entry
//     8s   skip: (segment, frame offset) of every block frame in the covered bytes that the
//          table does not index (a later copy of a block stored before), ascending
//     4w   key filter (key-filter.ts)
//
// The table indexes exactly the blocks committed up to the covered position; a store opening
// with it scans only the segment bytes after that. Opening reads the header and the meta
// section (about 1.3 bytes per entry) and checks its digest; pages are read on demand.
// Rewriting a table streams the old one's pages into the new file, merged with the sorted
// tail, so neither the old entries nor the new ones are ever all in memory.
import { readSync } from 'node:fs'
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { equalBytes } from '../../block/codec.ts'
import { sha256 } from '../../block/hash.ts'
import { ENTRY_BYTES, type EntryColumns } from './block-index.ts'
import { errCode, replaceFile, writeFully } from '../../fs/durable.ts'
import { fmix, KeyFilter } from './key-filter.ts'
import { readFully } from './format.ts'

/** File name of the block table inside the store folder. */
export const TABLE_FILE = 'blocks.table'

const MAGIC = new TextEncoder().encode('CAIRNBT2')
const FORMAT = 2
/** Bytes of a page, on disk and in the cache. */
export const PAGE_BYTES = 4096
/** Entries per page: as many as fit before the checksum. */
export const PAGE_ENTRIES: number = Math.floor((PAGE_BYTES - 4) / ENTRY_BYTES)
/** Header bytes the meta digest covers (it sits right after them). */
const HEADED = 80
/** Pages read or written at a time when a table is rewritten. */
const CHUNK_PAGES = 64
/** Default bytes of the page cache of a table. */
export const DEFAULT_TABLE_CACHE_BYTES: number = 256 * 1024

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

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

/** A page of the table that cannot be used: it fails its checksum, or cannot be read. */
export class TableDamage extends Error {
  override readonly name = 'TableDamage'
}

/** Frame positions as one number (segment · 2^32 + offset), as the skip list holds them. */
export const framePosition = (segment: number, offset: number): number => segment * 2 ** 32 + offset

/** Checksum of a page's first PAGE_BYTES - 4 bytes: murmur3-style over its words, seeded with its place in the table. */
export function pageSum(view: DataView, at: number, seed: number): number {
  let h = seed | 0
  for (let i = at; i < at + PAGE_BYTES - 4; i += 4) {
    let k = Math.imul(view.getUint32(i, true), 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  return fmix(h ^ PAGE_BYTES)
}

/** The seed of page `page` (1-based, as in the file) of a table of `count` entries: a page read from the wrong place fails. */
const pageSeed = (page: number, count: number): number => Math.imul(page, 0x9e3779b1) ^ count

const less = (aHi: number, aLo: number, bHi: number, bLo: number): boolean => aHi < bHi || (aHi === bHi && aLo < bLo)

/**
 * A block table in use: the sorted entries in the file, found through the fence and the key
 * filter held in memory. Immutable; its file stays open until {@link retire} and a rewrite
 * reading it are done, so lookups keep working while a new table replaces it.
 *
 * Pages are read synchronously (one `pread` of 4 KiB, into a slot of the page cache). Through
 * the event loop a read costs ~25-40 µs of round trip, a synchronous one ~1 µs from the OS's
 * file cache; a lookup of a block in the table would otherwise take two round trips instead
 * of one (page, then frame). The cost is a blocked event loop while the disk serves a page
 * the OS does not cache (~0.1 ms on an SSD). Synchronous lookups also mean no page is ever
 * being read into while someone else uses it, so cache slots are reused without copies.
 */
export class TableRun {
  readonly count: number
  /** The commit the table covers; undefined for {@link TableRun.EMPTY}. */
  readonly cover: TableCover | undefined
  /** Positions (see {@link framePosition}) of covered block frames the table does not index. */
  readonly skip: readonly number[]
  readonly #fh: FileHandle | undefined
  readonly #perPage: number
  readonly #pages: number
  /** Key (high, low) of each page's first entry. */
  readonly #fence: Uint32Array
  readonly #filter: KeyFilter
  /** Pages the cache holds; 0: one scratch page, nothing kept. */
  readonly #cacheSlots: number
  /** The cache's pages, allocated on the first read. */
  #slab: Uint8Array | undefined
  #slabView: DataView | undefined
  /** Slot of each cached page (0-based page numbers), least recently used first. */
  readonly #slots = new Map<number, number>()
  /** Slots handed out so far, and slots given back (a page that failed its read). */
  #usedSlots = 0
  readonly #freeSlots: number[] = []
  #users = 0
  #retired = false
  #closed: Promise<void> | undefined
  #whenClosed: (() => void) | undefined
  /** Set once the file is being closed. */
  #shut = false
  #pageReads = 0

  static readonly EMPTY: TableRun = new TableRun(undefined, 0, PAGE_ENTRIES, undefined, [], new Uint32Array(0), new KeyFilter(new Uint32Array(0)), 0)

  private constructor(fh: FileHandle | undefined, count: number, perPage: number, cover: TableCover | undefined, skip: readonly number[], fence: Uint32Array, filter: KeyFilter, cacheBytes: number) {
    this.#fh = fh
    this.count = count
    this.#perPage = perPage
    this.#pages = Math.ceil(count / perPage)
    this.cover = cover
    this.skip = skip
    this.#fence = fence
    this.#filter = filter
    this.#cacheSlots = Math.min(this.#pages, Math.floor(cacheBytes / PAGE_BYTES))
  }

  /** Bytes of memory the table holds: fence, filter, skip list and page cache. */
  get memoryBytes(): number {
    return this.#fence.byteLength + this.#filter.words.byteLength + this.skip.length * 8 + (this.#slab?.byteLength ?? 0)
  }

  /** Pages read from the file so far (cache misses, and pages read by a rewrite). */
  get pageReads(): number {
    return this.#pageReads
  }

  /** False when the table certainly has no entry with key (hi, lo). No I/O. */
  mayHave(hi: number, lo: number): boolean {
    return this.count > 0 && this.#filter.has(hi, lo)
  }

  /**
   * Calls `visit` with the position of every entry whose key is (hi, lo), in order; stops
   * early when it returns true. Reads one page (two when the key's entries start at a page's
   * first entry or span pages), from the cache or the file. Throws {@link TableDamage} for a
   * page it cannot use.
   */
  find(hi: number, lo: number, visit: (segment: number, offset: number, length: number) => boolean | void): void {
    if (!this.mayHave(hi, lo)) return
    const fence = this.#fence
    // q: the first page whose first key is not below the key. Its entries may start in page q - 1.
    let a = 0
    let b = this.#pages
    while (a < b) {
      const m = (a + b) >>> 1
      if (less(fence[2 * m]!, fence[2 * m + 1]!, hi, lo)) a = m + 1
      else b = m
    }
    if (a === 0 && (fence[0] !== hi || fence[1] !== lo)) return // below every key
    for (let page = a === 0 ? 0 : a - 1; page < this.#pages; page++) {
      const base = this.#page(page)
      const view = this.#slabView!
      const n = Math.min(this.#perPage, this.count - page * this.#perPage)
      let i = 0
      let j = n
      while (i < j) {
        const m = (i + j) >>> 1
        const at = base + m * ENTRY_BYTES
        if (less(view.getUint32(at, true), view.getUint32(at + 4, true), hi, lo)) i = m + 1
        else j = m
      }
      for (; i < n; i++) {
        const at = base + i * ENTRY_BYTES
        if (view.getUint32(at, true) !== hi || view.getUint32(at + 4, true) !== lo) return
        if (visit(view.getUint32(at + 8, true), view.getUint32(at + 12, true), view.getUint32(at + 16, true)) === true) return
      }
      // Ran off the page's end: the key's entries go on only if the next page starts with it.
      if (page + 1 >= this.#pages || fence[2 * page + 2] !== hi || fence[2 * page + 3] !== lo) return
    }
  }

  /**
   * Stops using the table: its file is closed now, or once a rewrite reading it is done.
   * Resolves when the file is closed.
   */
  retire(): Promise<void> {
    if (this.#fh === undefined) return Promise.resolve() // EMPTY
    this.#retired = true
    this.#closed ??= new Promise<void>((resolve) => { this.#whenClosed = resolve })
    if (this.#users === 0) this.#close()
    return this.#closed
  }

  #close(): void {
    const resolve = this.#whenClosed
    if (resolve === undefined) return
    this.#whenClosed = undefined
    this.#shut = true
    this.#slots.clear()
    this.#freeSlots.length = this.#usedSlots = 0
    this.#slab = this.#slabView = undefined
    void (this.#fh?.close() ?? Promise.resolve()).catch(() => {}).then(resolve)
  }

  /** Offset in the slab of page `page` (0-based), read into it if it is not cached. */
  #page(page: number): number {
    const slot = this.#slots.get(page)
    if (slot !== undefined) {
      this.#slots.delete(page)
      this.#slots.set(page, slot)
      return slot * PAGE_BYTES
    }
    if (this.#shut) throw new TableDamage('the block table was closed')
    this.#slab ??= new Uint8Array(Math.max(1, this.#cacheSlots) * PAGE_BYTES)
    this.#slabView ??= new DataView(this.#slab.buffer)
    // A slot never used, one a failed read gave back, or the least recently used page's.
    let free = 0
    if (this.#cacheSlots > 0) {
      if (this.#freeSlots.length > 0) free = this.#freeSlots.pop()!
      else if (this.#usedSlots < this.#cacheSlots) free = this.#usedSlots++
      else {
        const [oldest, reused] = this.#slots.entries().next().value!
        this.#slots.delete(oldest)
        free = reused
      }
    }
    const at = free * PAGE_BYTES
    try {
      const fd = this.#fh!.fd
      for (let done = 0; done < PAGE_BYTES;) {
        const n = readSync(fd, this.#slab, at + done, PAGE_BYTES - done, (page + 1) * PAGE_BYTES + done)
        if (n === 0) throw new Error(`unexpected end of file at ${(page + 1) * PAGE_BYTES + done}`)
        done += n
      }
      this.#pageReads++
      this.#check(this.#slabView, at, page, 1)
    } catch (err) {
      if (this.#cacheSlots > 0) this.#freeSlots.push(free)
      throw err instanceof TableDamage ? err : new TableDamage(`cannot read page ${page + 1} of the block table: ${(err as Error)?.message ?? String(err)}`)
    }
    if (this.#cacheSlots > 0) this.#slots.set(page, free)
    return at
  }

  #check(view: DataView, at: number, first: number, pages: number): void {
    for (let p = 0; p < pages; p++, at += PAGE_BYTES) {
      if (pageSum(view, at, pageSeed(first + p + 1, this.count)) !== view.getUint32(at + PAGE_BYTES - 4, true)) {
        throw new TableDamage(`page ${first + p + 1} of the block table fails its checksum`)
      }
    }
  }

  /** Reads the entries in order, a chunk of pages at a time (asynchronously, not through the cache), for a rewrite. */
  cursor(): TableCursor {
    this.#users++
    return new TableCursor(this.count, this.#perPage, async (buf, first, pages) => {
      try {
        await readFully(this.#fh!, buf.subarray(0, pages * PAGE_BYTES), (first + 1) * PAGE_BYTES)
      } catch (err) {
        throw new TableDamage(`cannot read page ${first + 1} of the block table: ${(err as Error)?.message ?? String(err)}`)
      }
      this.#pageReads += pages
      this.#check(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0, first, pages)
    }, () => {
      if (--this.#users === 0 && this.#retired) this.#close()
    })
  }

  /** Makes a run of a table just written: its entries are in `fh`, its fence and filter in memory. */
  static written(fh: FileHandle, count: number, cover: TableCover, skip: readonly number[], fence: Uint32Array, filter: KeyFilter, cacheBytes: number): TableRun {
    return new TableRun(fh, count, PAGE_ENTRIES, cover, skip, fence, filter, cacheBytes)
  }

  /** Makes a run of a table file opened and checked by {@link openTable}. */
  static opened(fh: FileHandle, count: number, perPage: number, cover: TableCover, skip: readonly number[], fence: Uint32Array, filter: KeyFilter, cacheBytes: number): TableRun {
    return new TableRun(fh, count, perPage, cover, skip, fence, filter, cacheBytes)
  }
}

/**
 * Sequential reader of a table's entries: `hi`..`length` describe the current entry while
 * `left > 0`; {@link next} moves on and says when {@link fill} must be awaited first.
 */
export class TableCursor {
  hi = 0
  lo = 0
  segment = 0
  offset = 0
  length = 0
  /** Entries not consumed yet, the current one included. */
  left: number
  readonly #perPage: number
  readonly #pages: number
  readonly #readPages: (buf: Uint8Array, first: number, pages: number) => Promise<void>
  readonly #done: () => void
  /** Two chunk buffers: one being consumed, one being read ahead into. */
  readonly #bufs = [new Uint8Array(CHUNK_PAGES * PAGE_BYTES), new Uint8Array(CHUNK_PAGES * PAGE_BYTES)] as const
  readonly #views = [new DataView(this.#bufs[0].buffer), new DataView(this.#bufs[1].buffer)] as const
  #view: DataView = this.#views[0]
  #current = 0
  /** The read of the next chunk, started as soon as the current one was loaded. */
  #ahead: { readonly done: Promise<void>; readonly first: number; readonly pages: number } | undefined
  /** Byte offset of the current entry in the chunk, and entries left in its page and chunk. */
  #at = 0
  #inPage = 0
  #inChunk = 0
  #finished = false

  constructor(count: number, perPage: number, readPages: (buf: Uint8Array, first: number, pages: number) => Promise<void>, done: () => void) {
    this.left = count
    this.#perPage = perPage
    this.#pages = Math.ceil(count / perPage)
    this.#readPages = readPages
    this.#done = done
    if (count === 0) this.close()
  }

  /** True when the current entry is loaded (else await {@link fill}). */
  get ready(): boolean {
    return this.#inChunk > 0
  }

  /** Loads the next chunk of pages and starts reading the one after. Chunks hold whole pages. */
  async fill(): Promise<void> {
    const ahead = this.#ahead ?? this.#readAhead(0)
    this.#ahead = undefined
    await ahead.done
    this.#current ^= 1
    this.#view = this.#current === 0 ? this.#views[0] : this.#views[1]
    this.#inChunk = Math.min(this.left, ahead.pages * this.#perPage)
    this.#at = 0
    this.#inPage = Math.min(this.#perPage, this.left)
    this.#decode()
    const next = ahead.first + ahead.pages
    if (next < this.#pages) this.#ahead = this.#readAhead(next)
  }

  /** Starts reading the chunk from page `first` into the buffer not being consumed. */
  #readAhead(first: number): { done: Promise<void>; first: number; pages: number } {
    const pages = Math.min(CHUNK_PAGES, this.#pages - first)
    const done = this.#readPages(this.#current === 0 ? this.#bufs[1] : this.#bufs[0], first, pages)
    done.catch(() => {}) // awaited by the next fill, if there is one
    return { done, first, pages }
  }

  /** Moves to the next entry. */
  next(): void {
    this.left--
    this.#inChunk--
    if (this.left === 0) {
      this.close()
      return
    }
    if (this.#inChunk === 0) return
    if (--this.#inPage === 0) {
      this.#at = (Math.floor(this.#at / PAGE_BYTES) + 1) * PAGE_BYTES
      this.#inPage = Math.min(this.#perPage, this.#inChunk)
    } else {
      this.#at += ENTRY_BYTES
    }
    this.#decode()
  }

  /** Stops reading (also when the last entry was consumed). The table's file is released once a read ahead is done. */
  close(): void {
    if (this.#finished) return
    this.#finished = true
    const ahead = this.#ahead?.done
    this.#ahead = undefined
    if (ahead === undefined) this.#done()
    else void ahead.catch(() => {}).then(this.#done)
  }

  #decode(): void {
    const v = this.#view
    const at = this.#at
    this.hi = v.getUint32(at, true)
    this.lo = v.getUint32(at + 4, true)
    this.segment = v.getUint32(at + 8, true)
    this.offset = v.getUint32(at + 12, true)
    this.length = v.getUint32(at + 16, true)
  }
}

/**
 * Opens the table file in `dir`: undefined when there is none, a string when it is unusable
 * (wrong format, size or digest). Reads the header and the meta section, not the pages.
 */
export async function openTable(dir: string, cacheBytes: number): Promise<TableRun | string | undefined> {
  let fh: FileHandle
  try {
    fh = await open(join(dir, TABLE_FILE), 'r')
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined
    throw err
  }
  let run: TableRun | string | undefined
  try {
    run = await parseTable(fh, cacheBytes)
    return run
  } finally {
    if (typeof run !== 'object') await fh.close().catch(() => {})
  }
}

async function parseTable(fh: FileHandle, cacheBytes: number): Promise<TableRun | string> {
  const { size } = await fh.stat()
  if (size < PAGE_BYTES) return 'not a block table'
  const header = new Uint8Array(PAGE_BYTES)
  await readFully(fh, header, 0)
  if (!equalBytes(header.subarray(0, 5), MAGIC.subarray(0, 5))) return 'not a block table'
  const view = new DataView(header.buffer)
  const format = view.getUint32(8, true)
  if (!equalBytes(header.subarray(0, MAGIC.length), MAGIC) || format !== FORMAT) return `unknown format ${format}`
  const count = view.getUint32(12, true)
  const perPage = view.getUint32(64, true)
  const skipCount = view.getUint32(68, true)
  const filterWords = view.getUint32(72, true)
  if (view.getUint32(28, true) !== PAGE_BYTES || perPage < 1 || perPage > PAGE_ENTRIES) return `pages of ${view.getUint32(28, true)} bytes, ${perPage} entries each, are not this version's`
  if (filterWords % 8 !== 0 || filterWords === 0) return `a key filter of ${filterWords} words`
  const pages = Math.ceil(count / perPage)
  const metaBytes = pages * 8 + skipCount * 8 + filterWords * 4
  if (size !== (pages + 1) * PAGE_BYTES + metaBytes) return `length ${size} does not fit ${count} entries`
  // One buffer holding the header's first bytes and the meta section: the digest covers both.
  const digested = new Uint8Array(HEADED + metaBytes)
  digested.set(header.subarray(0, HEADED))
  await readFully(fh, digested.subarray(HEADED), (pages + 1) * PAGE_BYTES)
  const digest = await sha256(digested)
  if (!equalBytes(digest.digest, header.subarray(HEADED, HEADED + 32))) return 'checksum mismatch'
  const meta = new DataView(digested.buffer, HEADED)
  const fence = new Uint32Array(pages * 2)
  for (let i = 0; i < fence.length; i++) fence[i] = meta.getUint32(i * 4, true)
  const skip: number[] = []
  for (let i = 0; i < skipCount; i++) skip.push(framePosition(meta.getUint32(pages * 8 + i * 8, true), meta.getUint32(pages * 8 + i * 8 + 4, true)))
  const filterAt = HEADED + pages * 8 + skipCount * 8
  let words: Uint32Array
  if (LITTLE_ENDIAN_HOST) {
    words = new Uint32Array(digested.buffer.slice(filterAt, filterAt + filterWords * 4))
  } else {
    words = new Uint32Array(filterWords)
    const all = new DataView(digested.buffer)
    for (let i = 0; i < filterWords; i++) words[i] = all.getUint32(filterAt + i * 4, true)
  }
  const cover: TableCover = {
    segment: view.getUint32(16, true),
    end: view.getUint32(20, true),
    recordStart: view.getUint32(24, true),
    recordDigest: header.slice(32, 64),
  }
  return TableRun.opened(fh, count, perPage, cover, skip, fence, new KeyFilter(words), cacheBytes)
}

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
    const fh = await replaceFile(join(dir, TABLE_FILE), async (fh) => {
      written = await writeEntries(fh, cursor, tail)
      await writeMeta(fh, written, cover, skip)
    }, { keepOpen: true })
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
  digested.set(MAGIC, 0)
  view.setUint32(8, FORMAT, true)
  view.setUint32(12, count, true)
  view.setUint32(16, cover.segment, true)
  view.setUint32(20, cover.end, true)
  view.setUint32(24, cover.recordStart, true)
  view.setUint32(28, PAGE_BYTES, true)
  digested.set(cover.recordDigest, 32)
  view.setUint32(64, PAGE_ENTRIES, true)
  view.setUint32(68, skip.length, true)
  view.setUint32(72, filter.words.length, true)
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
  header.set((await sha256(digested)).digest, HEADED)
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
        hi = base.hi; lo = base.lo; segment = base.segment; offset = base.offset; length = base.length
        base.next()
      } else {
        hi = tail.hi(e); lo = tail.lo(e); segment = tail.segment(e); offset = tail.offset(e); length = tail.length(e)
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
