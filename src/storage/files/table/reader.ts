// Reading the block table (format.ts has its layout): opening a table file and checking its
// header and meta section, lookups through the fence, the key filter and a page cache, and the
// sequential cursor a rewrite (writer.ts) reads the old table's entries with.
import { readSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { equalBytes } from '../../../block/codec.ts'
import { sha256 } from '../../../block/hash.ts'
import { errCode, readFully } from '../../../fs/durable.ts'
import { ENTRY_BYTES } from '../tail-index.ts'
import { KeyFilter } from './key-filter.ts'
import { CHUNK_PAGES, FORMAT, framePosition, HEADED, HEADER, less, MAGIC, PAGE_BYTES, PAGE_ENTRIES, pageSeed, pageSum, TABLE_FILE, TableDamage, type TableCover } from './format.ts'

/** Default bytes of the page cache of a table. */
export const DEFAULT_TABLE_CACHE_BYTES: number = 256 * 1024

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

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
    this.#closed ??= new Promise<void>((resolve) => {
      this.#whenClosed = resolve
    })
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
      for (let done = 0; done < PAGE_BYTES; ) {
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
    return new TableCursor(
      this.count,
      this.#perPage,
      async (buf, first, pages) => {
        try {
          await readFully(this.#fh!, buf.subarray(0, pages * PAGE_BYTES), (first + 1) * PAGE_BYTES)
        } catch (err) {
          throw new TableDamage(`cannot read page ${first + 1} of the block table: ${(err as Error)?.message ?? String(err)}`)
        }
        this.#pageReads += pages
        this.#check(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0, first, pages)
      },
      () => {
        if (--this.#users === 0 && this.#retired) this.#close()
      },
    )
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
  if (!equalBytes(header.subarray(HEADER.magic, HEADER.magic + 5), MAGIC.subarray(0, 5))) return 'not a block table'
  const view = new DataView(header.buffer)
  const format = view.getUint32(HEADER.format, true)
  if (!equalBytes(header.subarray(HEADER.magic, HEADER.magic + MAGIC.length), MAGIC) || format !== FORMAT) return `unknown format ${format}`
  const count = view.getUint32(HEADER.count, true)
  const perPage = view.getUint32(HEADER.perPage, true)
  const skipCount = view.getUint32(HEADER.skipCount, true)
  const filterWords = view.getUint32(HEADER.filterWords, true)
  if (view.getUint32(HEADER.pageBytes, true) !== PAGE_BYTES || perPage < 1 || perPage > PAGE_ENTRIES) return `pages of ${view.getUint32(HEADER.pageBytes, true)} bytes, ${perPage} entries each, are not this version's`
  if (filterWords % 8 !== 0 || filterWords === 0) return `a key filter of ${filterWords} words`
  const pages = Math.ceil(count / perPage)
  const metaBytes = pages * 8 + skipCount * 8 + filterWords * 4
  if (size !== (pages + 1) * PAGE_BYTES + metaBytes) return `length ${size} does not fit ${count} entries`
  // One buffer holding the header's first bytes and the meta section: the digest covers both.
  const digested = new Uint8Array(HEADED + metaBytes)
  digested.set(header.subarray(0, HEADED))
  await readFully(fh, digested.subarray(HEADED), (pages + 1) * PAGE_BYTES)
  const digest = await sha256(digested)
  if (!equalBytes(digest.digest, header.subarray(HEADER.metaDigest, HEADER.metaDigest + 32))) return 'checksum mismatch'
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
    segment: view.getUint32(HEADER.coverSegment, true),
    end: view.getUint32(HEADER.coverEnd, true),
    recordStart: view.getUint32(HEADER.coverRecordStart, true),
    recordDigest: header.slice(HEADER.recordDigest, HEADER.recordDigest + 32),
  }
  return TableRun.opened(fh, count, perPage, cover, skip, fence, new KeyFilter(words), cacheBytes)
}
