// The log-structured file engine for Node and Deno: append-only CAR segments, one fsync per commit.
import { link, mkdir, open, readdir, readFile, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import type { BlockRecord } from '../../block/interface.ts'
import { SHA2_256 } from '../../block/interface.ts'
import { equalBytes } from '../../block/codec.ts'
import { sha256, sha256Sync } from '../../block/hash.ts'
import { expectNonNegativeInteger, expectPositiveInteger, expectString } from '../../errors/arguments.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import type { CommitBatch, StorageEngine } from '../interface.ts'
import { expectDerivedBytes, expectDerivedName } from '../derived.ts'
import { CAR_HEADER, type BlockFrame, encodeCommit, findRecords, IDENTITY, keyOfBytes, MAX_FRAME, parseFrame, parseFrameInWindow, readFully, varintAt, WindowReader } from './format.ts'
import { datasync, errCode, removeTemps, syncDir, tempName, writeFully } from '../../fs/durable.ts'
import { EntryColumns, keyHi, keyLo, TailIndex, type FramePosition } from './block-index.ts'
import { DEFAULT_TABLE_CACHE_BYTES, framePosition, openTable, removeTable, TableDamage, TableRun, TABLE_FILE, writeTable, type TableCover } from './table.ts'
import { cleanDerived, readDerivedFile, writeDerivedFile } from './derived.ts'

/** Options of {@link openFileStorage}. */
export interface FileStorageOptions {
  /**
   * A commit that would grow the current segment past this many bytes starts a new
   * segment instead (a commit never spans segments, so one huge commit may exceed it).
   * Default 64 MiB; segments never grow past 4 GiB whatever this says.
   */
  readonly segmentBytes?: number
  /**
   * The block table (`blocks.table`, the persisted index that spares a reopen from scanning
   * the segments) is rewritten once this many blocks were committed since it was last
   * written, or an eighth of the blocks it holds if that is more. Default 65 536. Lower
   * means less to scan after a crash, more rewriting.
   */
  readonly tableEvery?: number
  /**
   * `close()` rewrites the block table when at least this many blocks were committed since
   * it was last written. Default 1024: fewer are cheaper to scan on the next open than to
   * fold into the table.
   */
  readonly tableOnClose?: number
  /**
   * Bytes of memory for caching pages (4 KiB each) of the block table, whose entries are
   * read from the file as lookups need them. Default 256 KiB; 0 caches nothing (every lookup
   * of a block in the table then reads a page, usually from the OS's file cache: ~1-3 µs).
   */
  readonly tableCacheBytes?: number
}

/** What {@link FileStorage.stats} reports about the block index. */
export interface FileStorageStats {
  /** Blocks in the sorted part of the index (the last block table written or loaded), whose entries stay on disk. */
  readonly tableBlocks: number
  /** Blocks committed or scanned since then (or rescanned after a damaged table page), held in memory. */
  readonly tailBlocks: number
  /**
   * Bytes of memory held by the index: the table's fence, key filter and cached pages
   * (about 1.3 bytes per block, plus the cache), and the in-memory tail (about 28 per block).
   */
  readonly indexBytes: number
  /** Pages of the block table in use read from its file: lookups that missed the page cache, and a rewrite reading it. */
  readonly tablePageReads: number
  /** Why the block table in use was dropped after open (a page failed its checksum or could not be read); its part of the segments was rescanned. */
  readonly tableDamaged: string | undefined
  /** Blocks the last open took from the block table. */
  readonly openedFromTable: number
  /** Blocks the last open indexed by scanning segment bytes after the table's position (all blocks without a table). */
  readonly scannedOnOpen: number
  /** Why open found the block table unusable and scanned everything instead; undefined when it used the table or there was none. */
  readonly tableIgnored: string | undefined
  /** Block tables this instance wrote. */
  readonly tablesWritten: number
  /** The last failure to write a block table, if any (the table is an optimisation: a failure loses nothing). */
  readonly tableWriteError: string | undefined
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
/** Index entries hold frame offsets as u32, so no segment may grow past this. */
const MAX_SEGMENT = 2 ** 32 - 1
const DEFAULT_TABLE_EVERY = 65_536
const DEFAULT_TABLE_ON_CLOSE = 1024
/** Rough heap cost of one entry of the skip set (a Set of numbers). */
const SKIP_ENTRY_BYTES = 32
/** Blocks up to this size are read with their frame header in one read and handed out as a view; larger ones read twice to get a buffer of their own. */
const ONE_READ_LIMIT = 64 * 1024
const SEGMENT_RE = /^seg-(\d{6,})\.car$/
const LOCK = 'LOCK'
const NO_POSITIONS: readonly FramePosition[] = []

const segmentName = (n: number): string => `seg-${String(n).padStart(6, '0')}.car`

function storageError(what: string, cause: unknown): CairnError {
  return new CairnError('CAIRN_STORAGE', `${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
}

interface Segment {
  readonly number: number
  readonly file: string
  readonly fh: FileHandle
  size: number
}

/**
 * The last commit record: the position a block table written now would cover. Its digest is
 * computed when a commit writes it, but after a scan only for the last record found.
 */
interface Cover extends Omit<TableCover, 'recordDigest'> {
  recordDigest: Uint8Array | undefined
}

/**
 * Opens (creating if needed) a files store in the folder `path`, loads its block table,
 * scans the segment bytes written after it, cuts off a torn tail left by a crash and takes
 * the folder's lock. Throws CAIRN_STORAGE when another process has it open, CAIRN_CORRUPT
 * when bytes it scans before the last commit are damaged.
 *
 * @example
 * const storage = await openFileStorage('./data/cairn')
 */
export async function openFileStorage(path: string, options?: FileStorageOptions): Promise<FileStorage> {
  return FileStorage.open(path, options)
}

/**
 * Blocks and heads in append-only CARv1 segment files (`seg-000001.car`, ...). Each commit
 * is one write of its block frames and a commit record, then one fsync. See
 * {@link openFileStorage}.
 *
 * The block index
 * ---------------
 * Finding a block takes its frame's position: segment, offset, length (block-index.ts). The
 * positions are kept in two parts:
 * - the block table file `blocks.table` (table.ts): every block up to some commit record,
 *   sorted by key, in checksummed 4 KiB pages that stay on disk. Memory holds the first key
 *   of each page and a Bloom filter of the keys (about 1.3 bytes per block) plus an LRU cache
 *   of pages (`tableCacheBytes`). A lookup of a block in the table reads one page (usually
 *   from the cache or the OS's), then the frame; a lookup of a block not in it almost
 *   always stops at the filter. Opening a store reads the table's header and that in-memory
 *   part, not its pages;
 * - in memory, hash tables of the blocks committed after that record (the tail), which a
 *   reopen rebuilds by scanning only the segment bytes after it.
 * The tail is folded into a new table when it reaches `tableEvery` blocks (or an eighth of
 * the table) and on close (from `tableOnClose` blocks). A fold freezes the tail and starts a
 * new one, then streams the old table's pages and the sorted frozen tail into a new file in
 * the background, while commits and lookups go on (lookups use the old table, the frozen
 * tail and the new tail until the new table replaces the first two at once). One table
 * write at a time.
 *
 * The table only ever covers commits whose fsync completed, so it stays valid across any
 * crash; a table whose header or in-memory part fails its checksum, or which does not match
 * the commit record at the position it names, is deleted and the segments are scanned in
 * full. A page found damaged later (failed checksum or read) makes the engine drop the table
 * and rescan the part of the segments it covered, then write a new table: lookups wait for
 * the rescan instead of failing, as the table is only derived data. Blocks stored twice are
 * indexed at their first copy; the positions of later copies (the skip list, kept with the
 * table) are what `blocks()` leaves out. A get reads the frame's length and CID along with
 * the block in one read and checks them against the CID asked for, so neither key
 * collisions nor a damaged table can return the wrong block. Damage inside the part of the
 * segments the table covers is not looked for on open (that is the point of the table);
 * reads find it, and the layers above re-hash every block they read.
 */
export class FileStorage implements StorageEngine {
  readonly kind: string = 'files'
  readonly path: string
  readonly #segmentLimit: number
  readonly #tableEvery: number
  readonly #tableOnClose: number
  readonly #tableCacheBytes: number
  readonly #segments: Segment[] = []
  #heads: CID[] = []
  /** The block table in use. */
  #run: TableRun = TableRun.EMPTY
  /**
   * Indexes of blocks the table does not hold yet, oldest first, besides {@link #tail}: tails
   * frozen by a fold in progress (or left by a failed one), the rescan of a damaged table.
   * Replaced, never changed in place, so a lookup can keep the arrays it started with.
   */
  #pending: readonly TailIndex[] = []
  /** Blocks committed (or scanned on open) since the last fold. */
  #tail = new TailIndex()
  /** Positions (framePosition) of block frames left out of the index: later copies of a block stored before. Almost always empty. */
  readonly #skip = new Set<number>()
  /** The newest commit record; undefined in a store nothing was committed to. */
  #cover: Cover | undefined
  /** The block table being written in the background, if any. */
  #tableWrite: Promise<void> | undefined
  #openedFromTable = 0
  #scannedOnOpen = 0
  #tableIgnored: string | undefined
  #tablesWritten = 0
  #tableWriteError: string | undefined
  #tableDamaged: string | undefined
  /** The rescan of a damaged table's blocks, while it runs. */
  #recovery: Promise<void> | undefined
  /** After a failed table write: the number of unfolded blocks below which no fold is tried again (a failure repeated at every commit would reread the table each time). */
  #retryFoldAt = 0
  /** True while open runs: no fold may start before the index and the cover agree. */
  #loading = true
  #queue: Promise<void> = Promise.resolve()
  #closing = false
  #closed: Promise<void> | undefined
  /** Set when a failed write could not be undone: appending more would bury garbage mid-file. */
  #broken: unknown = undefined
  /** True once the `derived/` folder is known to exist durably. */
  #derivedReady = false
  /** Derived writes, one at a time in call order (so the last call wins). */
  #derivedQueue: Promise<void> = Promise.resolve()
  /** Derived reads and writes in flight: close() waits for them before it gives up the lock. */
  readonly #derivedPending = new Set<Promise<unknown>>()

  private constructor(path: string, segmentBytes: number, tableEvery: number, tableOnClose: number, tableCacheBytes: number) {
    this.path = path
    this.#segmentLimit = Math.min(segmentBytes, MAX_SEGMENT)
    this.#tableEvery = tableEvery
    this.#tableOnClose = tableOnClose
    this.#tableCacheBytes = tableCacheBytes
  }

  /** Same as {@link openFileStorage}. */
  static async open(path: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    expectString('path', path)
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= CAR_HEADER.length) {
      throw new RangeError(`"segmentBytes" expected an integer above ${CAR_HEADER.length}, got ${segmentBytes}`)
    }
    const tableEvery = expectPositiveInteger('tableEvery', options.tableEvery ?? DEFAULT_TABLE_EVERY)
    const tableOnClose = expectPositiveInteger('tableOnClose', options.tableOnClose ?? DEFAULT_TABLE_ON_CLOSE)
    const tableCacheBytes = expectNonNegativeInteger('tableCacheBytes', options.tableCacheBytes ?? DEFAULT_TABLE_CACHE_BYTES)
    try {
      await mkdir(path, { recursive: true })
    } catch (cause) {
      throw storageError(`cannot create ${path}`, cause)
    }
    await acquireLock(path)
    const store = new FileStorage(path, segmentBytes, tableEvery, tableOnClose, tableCacheBytes)
    try {
      await store.#load()
    } catch (err) {
      await store.#closeHandles()
      await releaseLock(path)
      throw err instanceof CairnError ? err : storageError(`cannot open ${path}`, err)
    }
    // A table found unusable is replaced at once (from tableOnClose blocks, as on close):
    // the store was big enough to have one, and the next open should not scan again.
    store.#loading = false
    store.#maybeFold(store.#tableIgnored !== undefined || store.#tableDamaged !== undefined)
    return store
  }

  /** A snapshot of the block index's state, for diagnostics and tests. */
  get stats(): FileStorageStats {
    return {
      tableBlocks: this.#run.count,
      tailBlocks: this.#unfolded(),
      indexBytes: this.#run.memoryBytes + this.#pending.reduce((sum, part) => sum + part.byteLength, this.#tail.byteLength) + this.#skip.size * SKIP_ENTRY_BYTES,
      tablePageReads: this.#run.pageReads,
      tableDamaged: this.#tableDamaged,
      openedFromTable: this.#openedFromTable,
      scannedOnOpen: this.#scannedOnOpen,
      tableIgnored: this.#tableIgnored,
      tablesWritten: this.#tablesWritten,
      tableWriteError: this.#tableWriteError,
    }
  }

  async get(cid: CID): Promise<Uint8Array | undefined> {
    this.#check()
    const bytes = cid.bytes
    for (const position of await this.#candidates(bytes)) {
      const data = await this.#readBlock(position, bytes)
      if (data !== undefined) return data
    }
    return undefined
  }

  async has(cid: CID): Promise<boolean> {
    this.#check()
    return this.#contains(cid.bytes)
  }

  /**
   * Every block, in segment order: the segments' frames parsed in MiB windows (no read per
   * block). Later copies of a block stored twice (the skip list) are left out, so each block
   * comes once; no index lookup per block.
   */
  async *blocks(): AsyncIterable<BlockRecord> {
    this.#check()
    for (let i = 0; i < this.#segments.length; i++) {
      const segment = this.#segments[i]!
      // Everything below `size` is committed; a commit running meanwhile writes beyond it.
      for await (const { reader, frame } of this.#blockFrames(segment, segment.size)) {
        if (this.#skip.size > 0 && this.#skip.has(framePosition(segment.number, frame.start))) continue
        const cid = CID.decode(reader.peek(frame.cidOffset, frame.cidLength)!.slice())
        const data = reader.peek(frame.dataOffset, frame.dataLength)
          ?? (await this.#guard(() => reader.view(frame.dataOffset, frame.dataLength), `cannot read ${segment.file}`))!
        yield { cid, bytes: data.slice() }
      }
    }
  }

  async heads(): Promise<CID[]> {
    this.#check()
    return [...this.#heads]
  }

  commit(batch: CommitBatch): Promise<void> {
    try {
      this.#check()
    } catch (err) {
      return Promise.reject(err)
    }
    const run = this.#queue.then(() => this.#commit(batch))
    this.#queue = run.catch(() => {})
    return run
  }

  /**
   * The derived value `name` (see StorageEngine.readDerived): the file `derived/d-<name>.bin`,
   * in a buffer of its own; undefined when it was never written.
   */
  async readDerived(name: string): Promise<Uint8Array | undefined> {
    this.#check()
    expectDerivedName(name)
    return this.#track(this.#guard(() => readDerivedFile(this.path, name), `cannot read derived value "${name}" of ${this.path}`))
  }

  /**
   * Replaces the derived value `name`: written to a temporary file, fsynced, renamed over the
   * old one, folder fsynced. The bytes are copied first, so changing them afterwards changes
   * nothing. Writes run one at a time in call order, beside commits, not behind them.
   */
  async writeDerived(name: string, bytes: Uint8Array): Promise<void> {
    this.#check()
    expectDerivedName(name)
    const copy = new Uint8Array(expectDerivedBytes(bytes))
    const write = this.#derivedQueue.then(() => this.#guard(async () => {
      await writeDerivedFile(this.path, name, copy, this.#derivedReady)
      this.#derivedReady = true
    }, `cannot write derived value "${name}" of ${this.path}`))
    this.#derivedQueue = write.catch(() => {})
    return this.#track(write)
  }

  close(): Promise<void> {
    this.#closing = true
    this.#closed ??= (async () => {
      await this.#queue
      await Promise.allSettled([...this.#derivedPending])
      while (this.#recovery !== undefined || this.#tableWrite !== undefined) {
        await this.#recovery?.catch(() => {})
        await this.#tableWrite
      }
      // Fold a tail worth saving so the next open need not scan it. Failure loses nothing.
      const unfolded = this.#unfolded()
      if (unfolded > 0 && unfolded >= this.#tableOnClose) {
        await this.#fold()?.catch(() => {})
        await this.#tableWrite
      }
      await this.#closeHandles()
      await releaseLock(this.path)
    })()
    return this.#closed
  }

  #check(): void {
    if (this.#closing) throw new CairnError('CAIRN_CLOSED', `files storage ${this.path} is closed`)
  }

  async #guard<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await fn()
    } catch (cause) {
      this.#check()
      throw cause instanceof CairnError ? cause : storageError(what, cause)
    }
  }

  #track<T>(pending: Promise<T>): Promise<T> {
    this.#derivedPending.add(pending)
    const forget = (): void => { this.#derivedPending.delete(pending) }
    pending.then(forget, forget)
    return pending
  }

  async #closeHandles(): Promise<void> {
    await this.#run.retire()
    for (const s of this.#segments) await s.fh.close().catch(() => {})
  }

  // ---- index ----

  /**
   * Positions whose key matches the CID bytes: usually none or one; a read confirms which, if
   * any, holds it. The table is asked only when its filter lets the key through, so a block
   * it does not hold almost never costs a page read. A damaged table page is not an error
   * here: the table is dropped, its blocks rescanned, and the question asked again.
   */
  async #candidates(cid: Uint8Array): Promise<readonly FramePosition[]> {
    const hi = keyHi(cid, 0, cid.length)
    const lo = keyLo(cid, 0, cid.length)
    // The index as it is now: a fold installing its table meanwhile replaces these, not changes them.
    const run = this.#run
    const pending = this.#pending
    const tail = this.#tail
    let out: FramePosition[] | undefined
    if (run.mayHave(hi, lo)) {
      try {
        run.find(hi, lo, (segment, offset, length) => { (out ??= []).push({ segment, offset, length }) })
      } catch (err) {
        if (!(err instanceof TableDamage)) throw err
        this.#check()
        await this.#recover(run, err.message)
        return this.#candidates(cid)
      }
    }
    for (const part of pending) out = part.collect(hi, lo, out)
    return tail.collect(hi, lo, out) ?? NO_POSITIONS
  }

  /** Exact membership: a key match alone could be another CID with the same digest end. */
  async #contains(cid: Uint8Array, candidates?: readonly FramePosition[]): Promise<boolean> {
    for (const position of candidates ?? (await this.#candidates(cid))) {
      if (await this.#holds(position, cid)) return true
    }
    return false
  }

  /** False when no entry can have this key; true when one may (the table's filter) or does. No I/O. */
  #mayHaveKey(hi: number, lo: number): boolean {
    if (this.#run.mayHave(hi, lo) || this.#tail.hasKey(hi, lo)) return true
    for (const part of this.#pending) if (part.hasKey(hi, lo)) return true
    return false
  }

  /** Blocks indexed in memory, not in the table yet. */
  #unfolded(): number {
    return this.#pending.reduce((sum, part) => sum + part.count, this.#tail.count)
  }

  /**
   * Reads the frame at `position` and returns its block bytes if it holds `cid`. The frame
   * must say exactly `length(cid) + block length` and start with `cid`'s bytes; CIDs encode
   * their own length, so that identifies the block without a doubt. A block up to
   * ONE_READ_LIMIT comes in one read of the whole frame, as a view of that buffer (the frame's
   * length and CID before it cost a few dozen bytes; copying the block out cost more); a
   * larger one is read in a buffer of its own after a small read that checks the frame.
   */
  async #readBlock(position: FramePosition, cid: Uint8Array): Promise<Uint8Array | undefined> {
    const dataLength = position.length - cid.length
    if (dataLength < 0) return undefined
    if (dataLength > ONE_READ_LIMIT) {
      if (!(await this.#holds(position, cid))) return undefined
      const segment = this.#segments[position.segment - 1]!
      const data = new Uint8Array(dataLength)
      const at = position.offset + varint.encodingLength(position.length) + cid.length
      await this.#guard(() => readFully(segment.fh, data, at), `cannot read ${segment.file}`)
      return data
    }
    const frame = await this.#readFrame(position, cid, position.length)
    return frame?.subarray(frame.length - dataLength)
  }

  async #holds(position: FramePosition, cid: Uint8Array): Promise<boolean> {
    return (await this.#readFrame(position, cid, cid.length)) !== undefined
  }

  /** The first `content` bytes of the frame at `position` after its varint, with the varint, if the frame holds `cid`. */
  async #readFrame(position: FramePosition, cid: Uint8Array, content: number): Promise<Uint8Array | undefined> {
    const segment = this.#segments[position.segment - 1]
    const head = varint.encodingLength(position.length)
    const n = head + content
    if (segment === undefined || position.offset + n > segment.size) return undefined
    const buf = new Uint8Array(n)
    await this.#guard(() => readFully(segment.fh, buf, position.offset), `cannot read ${segment.file}`)
    // Read no further than `head` bytes: the shortest encoding of the length is the only one that fits.
    if (varintAt(buf, 0, head) !== position.length) return undefined
    for (let i = 0; i < cid.length; i++) if (buf[head + i] !== cid[i]) return undefined
    return buf
  }

  /**
   * Starts writing a new block table holding the current one's blocks and every unfolded
   * block, covering the last commit. Returns the write, or undefined when nothing is written.
   * The snapshot is taken synchronously: no commit can land between the tails frozen and the
   * cover written with them; the write that follows reads only the old table and the frozen
   * tails, both immutable. The new table replaces the old one and the frozen tails at once.
   */
  #fold(): Promise<void> | undefined {
    const cover = this.#cover
    if (cover?.recordDigest === undefined || this.#tableWrite !== undefined || this.#recovery !== undefined) return undefined
    const base = this.#run
    const parts = [...this.#pending, this.#tail]
    this.#pending = parts
    this.#tail = new TailIndex()
    const tableCover: TableCover = { ...cover, recordDigest: cover.recordDigest }
    const end = framePosition(cover.segment, cover.end)
    const skip = [...this.#skip].filter((p) => p < end).sort((a, b) => a - b)
    // The table must cover only durable commits. Those committed by this instance are; the last
    // one an open scanned after a crash may not be yet (its bytes can still be in the OS's
    // cache, not on disk): one datasync of the last segment, which usually has nothing to do.
    // Earlier segments are durable: a segment is only started by a commit after the fsync of
    // every commit before it.
    const last = cover.segment === this.#segments.length ? this.#segments[cover.segment - 1] : undefined
    const write = (async () => {
      if (last !== undefined) await datasync(last.fh)
      const run = await writeTable(this.path, base, EntryColumns.concat(parts), tableCover, skip, this.#tableCacheBytes)
      this.#run = run
      this.#pending = this.#pending.filter((part) => !parts.includes(part))
      this.#tablesWritten++
      this.#retryFoldAt = 0
      void base.retire()
    })()
    this.#tableWrite = write
      .catch((err: unknown) => {
        this.#tableWriteError = String((err as Error)?.message ?? err)
        this.#retryFoldAt = this.#unfolded() + this.#foldThreshold()
        // The frozen tails stay in #pending, still found by lookups and folded next time.
        if (!(err instanceof TableDamage)) return
        if (!this.#closing) void this.#recover(base, err.message).catch(() => {})
        // Closing: no time to rescan; leave no damaged table for the next open to trust.
        else if (base === this.#run) return removeTable(this.path).catch(() => {})
      })
      .finally(() => {
        this.#tableWrite = undefined
        this.#maybeFold() // blocks committed during the write may be due already
      })
    return write
  }

  #foldThreshold(): number {
    return Math.max(this.#tableEvery, Math.floor(this.#run.count / 8))
  }

  /**
   * Starts a fold when the unfolded blocks have grown past the threshold and no table write
   * or rescan is running. The threshold grows with the table (an eighth of it) so that
   * rewriting the table costs a bounded share of the bytes committed (about 20 bytes per
   * indexed block every n/8 blocks) however big the store gets; `eager` uses the close
   * threshold instead.
   */
  #maybeFold(eager = false): void {
    if (this.#tableWrite !== undefined || this.#recovery !== undefined || this.#loading || this.#closing) return
    const unfolded = this.#unfolded()
    const threshold = eager ? this.#tableOnClose : Math.max(this.#foldThreshold(), this.#retryFoldAt)
    if (unfolded === 0 || unfolded < threshold) return
    void this.#fold()?.catch(() => {})
  }

  /**
   * The table `run` has a damaged page: rescans the segment bytes it covers into an in-memory
   * index, then drops the table (file included) for it and schedules a new table. Lookups
   * that found the damage wait for this and ask again. Commits may go on meanwhile: they
   * only append after the covered bytes, and their blocks go to the tail.
   */
  #recover(run: TableRun, reason: string): Promise<void> {
    if (run !== this.#run) return Promise.resolve() // already replaced
    this.#recovery ??= (async () => {
      this.#tableDamaged = reason
      const rebuilt = new TailIndex()
      const skip: number[] = []
      await this.#indexCovered(run.cover!, rebuilt, skip)
      await this.#tableWrite // a fold running meanwhile fails on the same page (or replaces the table)
      if (this.#run !== run) return
      this.#run = TableRun.EMPTY
      this.#pending = [rebuilt, ...this.#pending]
      for (const position of skip) this.#skip.add(position)
      void run.retire()
      await removeTable(this.path).catch(() => {})
    })().finally(() => {
      this.#recovery = undefined
      this.#maybeFold(true)
    })
    return this.#recovery
  }

  /** The block frames of `segment` below `end`, in file order, parsed in MiB windows; a bad frame is CAIRN_CORRUPT. */
  async *#blockFrames(segment: Segment, end: number): AsyncGenerator<{ reader: WindowReader; frame: BlockFrame }> {
    const reader = new WindowReader(segment.fh, end)
    let pos = CAR_HEADER.length
    while (pos < reader.size) {
      this.#check()
      const at = pos
      const frame = parseFrameInWindow(reader, at) ?? (await this.#guard(() => parseFrame(reader, at), `cannot read ${segment.file}`))
      if (frame.kind === 'bad') throw corrupt(segment, at, frame.reason)
      pos = frame.end
      if (frame.kind === 'block') yield { reader, frame }
    }
  }

  /** Indexes every block frame up to `cover` into `into` (later copies of a block go to `skip`): the part of the segments a table covers. */
  async #indexCovered(cover: TableCover, into: TailIndex, skip: number[]): Promise<void> {
    for (let n = 1; n <= cover.segment; n++) {
      const segment = this.#segments[n - 1]!
      for await (const { reader, frame } of this.#blockFrames(segment, n === cover.segment ? cover.end : segment.size)) {
        // Keys straight from the window; the CID is copied only for the rare key already seen.
        const w = reader.window
        const o = reader.locate(frame.cidOffset, frame.cidLength)
        const hi = keyHi(w, o, o + frame.cidLength)
        const lo = keyLo(w, o, o + frame.cidLength)
        if (into.hasKey(hi, lo)) {
          const cid = w.slice(o, o + frame.cidLength)
          if (await this.#contains(cid, into.collect(hi, lo, []))) {
            skip.push(framePosition(n, frame.start))
            continue
          }
        }
        into.add(hi, lo, n, frame.start, frame.cidLength + frame.dataLength)
      }
    }
  }

  // ---- commit ----

  async #commit(batch: CommitBatch): Promise<void> {
    this.#check()
    if (this.#broken !== undefined) {
      throw new CairnError('CAIRN_STORAGE', `files storage ${this.path} failed an earlier write it could not undo; close and reopen it`, { cause: this.#broken })
    }
    const heads = batch.heads.map((h, i) => {
      const cid = CID.asCID(h)
      if (cid === null) throw new TypeError(`"heads[${i}]" expected a CID`)
      return cid
    })
    const fresh: BlockRecord[] = []
    const seen = new Set<string>()
    for (const [i, block] of batch.blocks.entries()) {
      const cid = CID.asCID(block.cid)
      if (cid === null) throw new TypeError(`"blocks[${i}].cid" expected a CID`)
      if (!(block.bytes instanceof Uint8Array)) throw new TypeError(`"blocks[${i}].bytes" expected a Uint8Array`)
      if (cid.multihash.code === IDENTITY) {
        throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} has an identity hash; the files engine does not store those`, { cid })
      }
      if (cid.bytes.length + block.bytes.length > MAX_FRAME) {
        throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} is ${block.bytes.length} bytes; the files engine stores blocks up to ${MAX_FRAME - 64}`, { cid })
      }
      const key = keyOfBytes(cid.bytes)
      if (seen.has(key)) continue
      seen.add(key)
      // Only a key match costs a read (to tell a stored block from another CID with the same key).
      const candidates = await this.#candidates(cid.bytes)
      if (candidates.length > 0 && (await this.#contains(cid.bytes, candidates))) continue
      fresh.push({ cid, bytes: block.bytes })
    }

    let segment = this.#segments[this.#segments.length - 1]!
    const encoded = encodeCommit(fresh, heads)
    if (CAR_HEADER.length + encoded.buffer.length > MAX_SEGMENT) {
      throw new CairnError('CAIRN_TOO_LARGE', `a commit of ${encoded.buffer.length} bytes does not fit in one segment (at most 4 GiB); commit fewer blocks at a time`)
    }
    const roll = segment.size > CAR_HEADER.length && segment.size + encoded.buffer.length > this.#segmentLimit
    const base = roll ? CAR_HEADER.length : segment.size
    if (roll) {
      // Header and first commit in one write: a torn creation leaves one torn tail, nothing else.
      const bytes = new Uint8Array(CAR_HEADER.length + encoded.buffer.length)
      bytes.set(CAR_HEADER, 0)
      bytes.set(encoded.buffer, CAR_HEADER.length)
      segment = await this.#createSegment(segment.number + 1, bytes)
    } else {
      try {
        await writeFully(segment.fh, encoded.buffer, base)
        await datasync(segment.fh)
      } catch (cause) {
        // Cut the partial write off so the next commit does not append after garbage.
        try {
          await segment.fh.truncate(segment.size)
          await datasync(segment.fh)
        } catch (undo) {
          this.#broken = undo
        }
        throw storageError(`cannot write ${segment.file}`, cause)
      }
    }
    segment.size = base + encoded.buffer.length
    for (const b of encoded.blocks) {
      const c = b.cid.bytes
      this.#tail.add(keyHi(c, 0, c.length), keyLo(c, 0, c.length), segment.number, base + b.start, b.frameLength)
    }
    this.#heads = heads
    const record = encoded.buffer.subarray(encoded.recordOffset)
    this.#cover = { segment: segment.number, recordStart: base + encoded.recordOffset, end: segment.size, recordDigest: sha256Sync(record).digest }
    this.#maybeFold()
  }

  /** Creates segment `number` holding `bytes`, durably (file and directory entry), and adopts it. */
  async #createSegment(number: number, bytes: Uint8Array): Promise<Segment> {
    const file = join(this.path, segmentName(number))
    let fh: FileHandle
    try {
      fh = await open(file, 'wx+')
    } catch (cause) {
      throw storageError(`cannot create ${file}`, cause)
    }
    try {
      await writeFully(fh, bytes, 0)
      await datasync(fh)
      await syncDir(this.path)
    } catch (cause) {
      await fh.close().catch(() => {})
      // A new last segment holding garbage would be cut back on reopen, but not if we append after it.
      try {
        await unlink(file)
      } catch (undo) {
        this.#broken = undo
      }
      throw storageError(`cannot write ${file}`, cause)
    }
    const segment: Segment = { number, file, fh, size: 0 }
    this.#segments.push(segment)
    return segment
  }

  // ---- open ----

  async #load(): Promise<void> {
    const numbers: number[] = []
    for (const name of await readdir(this.path)) {
      const m = SEGMENT_RE.exec(name)
      if (m !== null) numbers.push(Number(m[1]))
    }
    await removeTemps(this.path, TABLE_FILE) // table writes a crash cut short
    this.#derivedReady = await cleanDerived(this.path)
    numbers.sort((a, b) => a - b)
    if (numbers.length === 0) {
      await removeTable(this.path)
      const segment = await this.#createSegment(1, CAR_HEADER)
      segment.size = CAR_HEADER.length
      return
    }
    for (const [i, n] of numbers.entries()) {
      if (n !== i + 1) {
        throw new CairnError('CAIRN_CORRUPT', `${join(this.path, segmentName(i + 1))} is missing (found ${segmentName(n)})`)
      }
    }
    for (const n of numbers) {
      const file = join(this.path, segmentName(n))
      const fh = await open(file, n === numbers.length ? 'r+' : 'r')
      this.#segments.push({ number: n, file, fh, size: (await fh.stat()).size })
    }
    const start = await this.#loadTable()
    for (let n = start?.segment ?? 1; n <= numbers.length; n++) {
      const from = n === start?.segment ? start.end : 0
      await this.#scan(this.#segments[n - 1]!, n === numbers.length, from)
    }
    this.#scannedOnOpen = this.#tail.count
    const cover = this.#cover
    if (cover !== undefined && cover.recordDigest === undefined) {
      const record = new Uint8Array(cover.end - cover.recordStart)
      await readFully(this.#segments[cover.segment - 1]!.fh, record, cover.recordStart)
      cover.recordDigest = sha256Sync(record).digest
    }
  }

  /**
   * Adopts the block table if it matches the segments: its covered record must lie within
   * them and hash as the table says. Returns where scanning resumes, or undefined to scan
   * everything (no table, or an unusable one, which is deleted).
   */
  async #loadTable(): Promise<Cover | undefined> {
    let table: Awaited<ReturnType<typeof openTable>>
    try {
      table = await openTable(this.path, this.#tableCacheBytes)
    } catch (err) {
      table = `unreadable: ${(err as Error)?.message ?? String(err)}`
    }
    if (table === undefined) return undefined
    let reason: string | undefined = typeof table === 'string' ? table : undefined
    if (typeof table !== 'string') {
      const cover = table.cover!
      const segment = this.#segments[cover.segment - 1]
      if (segment === undefined || cover.end > segment.size || cover.recordStart < CAR_HEADER.length || cover.recordStart >= cover.end) {
        reason = `it covers ${segmentName(cover.segment)} up to offset ${cover.end}, beyond the segments`
      } else {
        const reader = new WindowReader(segment.fh, segment.size)
        const frame = await parseFrame(reader, cover.recordStart)
        const bytes = await reader.view(cover.recordStart, cover.end - cover.recordStart)
        if (frame.kind !== 'record' || frame.end !== cover.end || bytes === undefined || !equalBytes(sha256Sync(bytes).digest, cover.recordDigest)) {
          reason = `the commit record it covers is not in ${segmentName(cover.segment)} at offset ${cover.recordStart}`
        } else {
          this.#run = table
          for (const position of table.skip) this.#skip.add(position)
          this.#heads = frame.record.heads
          this.#openedFromTable = table.count
          this.#cover = { ...cover }
          return cover
        }
      }
      await table.retire()
    }
    this.#tableIgnored = reason
    await removeTable(this.path)
    return undefined
  }

  /**
   * Indexes one segment from offset `from` (0: from its header). Blocks count only once the
   * record after them is found and agrees with them. In the last segment, a torn tail is cut
   * off; elsewhere, or when a valid commit follows the damage, bad bytes are corruption.
   */
  async #scan(segment: Segment, last: boolean, from: number): Promise<void> {
    if (segment.size > MAX_SEGMENT) {
      throw new CairnError('CAIRN_UNSUPPORTED', `${segment.file} is larger than 4 GiB, which this version of the files engine cannot index`)
    }
    const reader = new WindowReader(segment.fh, segment.size)
    let pos = from
    if (from === 0) {
      const header = await reader.view(0, CAR_HEADER.length)
      if (header === undefined || !equalBytes(header, CAR_HEADER)) {
        if (!last) throw corrupt(segment, 0, 'not a Cairn CAR header')
        // Only the creation of this segment can have been torn: header and first commit went in one write.
        await this.#cutTail(segment, reader, 0, 0, CAR_HEADER.length, 'not a Cairn CAR header')
        return
      }
      pos = CAR_HEADER.length
    }
    let committedEnd = pos
    // Blocks since the last record, as parallel arrays (one object per block made scans GC-bound).
    const pendingHi: number[] = []
    const pendingLo: number[] = []
    const pendingOffsets: number[] = []
    const pendingLengths: number[] = []
    const pendingCidLengths: number[] = []
    // CID bytes of the pending blocks the table's key filter lets through (~1%), copied while
    // the window holds them: the check at the record needs them, and by then the window may
    // have moved on.
    const pendingCids = new Map<number, Uint8Array>()
    let pendingBytes = 0
    let lastCommit: { start: number; firstEntry: number; headsBefore: CID[]; coverBefore: Cover | undefined } | undefined
    let failure: { at: number; reason: string } | undefined
    while (pos < segment.size) {
      const frame = parseFrameInWindow(reader, pos) ?? (await parseFrame(reader, pos))
      if (frame.kind === 'bad') {
        failure = { at: pos, reason: frame.reason }
        break
      }
      if (frame.kind === 'block') {
        const c = reader.window
        const o = reader.locate(frame.cidOffset, frame.cidLength)
        const hi = keyHi(c, o, o + frame.cidLength)
        const lo = keyLo(c, o, o + frame.cidLength)
        if (this.#run.mayHave(hi, lo)) pendingCids.set(pendingHi.length, c.slice(o, o + frame.cidLength))
        pendingHi.push(hi)
        pendingLo.push(lo)
        pendingOffsets.push(frame.start)
        pendingLengths.push(frame.cidLength + frame.dataLength)
        pendingCidLengths.push(frame.cidLength)
        pendingBytes += frame.end - frame.start
        pos = frame.end
        continue
      }
      const { record } = frame
      if (record.blocks !== pendingHi.length || record.bytes !== pendingBytes) {
        failure = { at: pos, reason: `commit record for ${record.blocks} blocks / ${record.bytes} bytes follows ${pendingHi.length} blocks / ${pendingBytes} bytes` }
        break
      }
      lastCommit = { start: committedEnd, firstEntry: this.#tail.count, headsBefore: this.#heads, coverBefore: this.#cover }
      for (let i = 0; i < pendingHi.length; i++) {
        const hi = pendingHi[i]!, lo = pendingLo[i]!
        // A key already indexed is almost always a coincidence of digest ends; read to be sure.
        if (this.#mayHaveKey(hi, lo) && (await this.#scannedBefore(segment, pendingCids.get(i), pendingOffsets[i]!, pendingLengths[i]!, pendingCidLengths[i]!))) {
          this.#skip.add(framePosition(segment.number, pendingOffsets[i]!))
          continue
        }
        this.#tail.add(hi, lo, segment.number, pendingOffsets[i]!, pendingLengths[i]!)
      }
      this.#heads = record.heads
      this.#cover = { segment: segment.number, recordStart: frame.start, end: frame.end, recordDigest: undefined }
      pendingHi.length = pendingLo.length = pendingOffsets.length = pendingLengths.length = pendingCidLengths.length = 0
      pendingCids.clear()
      pendingBytes = 0
      committedEnd = frame.end
      pos = frame.end
    }
    if (failure === undefined && pendingHi.length > 0) failure = { at: committedEnd, reason: 'blocks without a commit record' }
    if (failure !== undefined) {
      if (!last) throw corrupt(segment, failure.at, failure.reason)
      await this.#cutTail(segment, reader, failure.at, committedEnd, committedEnd, failure.reason)
      return
    }
    if (!last || lastCommit === undefined) return
    // The last commit is the only one whose fsync may not have finished: its record can be
    // on disk while some block bytes are not. Re-hash its blocks (in file order, through the
    // window). Commits a block table covers are never re-hashed: the table was written after
    // their fsync completed.
    for (let at = lastCommit.start; at < committedEnd;) {
      const frame = parseFrameInWindow(reader, at) ?? (await parseFrame(reader, at))
      if (frame.kind !== 'block') break // the record
      at = frame.end
      if (frame.hashCode !== SHA2_256) continue // not a hash Cairn writes; nothing to check it with
      const content = reader.peek(frame.cidOffset, frame.end - frame.cidOffset) ?? (await reader.view(frame.cidOffset, frame.end - frame.cidOffset))!
      const digest = content.subarray(frame.cidLength - frame.digestLength, frame.cidLength)
      const bytes = content.subarray(frame.cidLength)
      const actual = await sha256(bytes) // synchronous for small blocks, WebCrypto for large ones
      if (!equalBytes(actual.digest, digest)) {
        this.#tail.truncate(lastCommit.firstEntry)
        this.#heads = lastCommit.headsBefore
        this.#cover = lastCommit.coverBefore
        await this.#truncate(segment, lastCommit.start)
        return
      }
    }
  }

  /**
   * True when the block framed at `offset` of `segment` is indexed already (a block stored
   * twice: only the first counts). Takes the block's CID bytes if the scan kept them, else
   * reads them (one small read).
   */
  async #scannedBefore(segment: Segment, kept: Uint8Array | undefined, offset: number, length: number, cidLength: number): Promise<boolean> {
    let cid = kept
    if (cid === undefined) {
      const cidOffset = offset + varint.encodingLength(length)
      cid = new Uint8Array(cidLength)
      await readFully(segment.fh, cid, cidOffset)
    }
    return this.#contains(cid)
  }

  /**
   * Bad bytes at `at` in the last segment. If no commit record follows `keep` except, at most,
   * the record of the very commit that starts at `anchor` (written by the same torn write),
   * they are a torn tail: cut the file back to `keep`. Otherwise a later commit completed
   * after the damage, which is corruption.
   */
  async #cutTail(segment: Segment, reader: WindowReader, at: number, keep: number, anchor: number, reason: string): Promise<void> {
    // Search from the last good record, not from `at`: a misaligned walk may have stepped over a record.
    const rest = (await reader.view(keep, segment.size - keep))!
    const records = findRecords(rest, keep)
    const torn = records.length === 0 || (records.length === 1 && records[0]!.start - records[0]!.record.bytes === anchor)
    if (!torn) throw corrupt(segment, at, `${reason}, yet a commit record follows at offset ${records.find((r) => r.start - r.record.bytes !== anchor)?.start ?? records[1]!.start}`)
    await this.#truncate(segment, keep)
  }

  async #truncate(segment: Segment, size: number): Promise<void> {
    // Skipped copies in the bytes cut off are gone; new frames will be written at their offsets.
    for (const position of this.#skip) if (position >= framePosition(segment.number, size) && position < framePosition(segment.number + 1, 0)) this.#skip.delete(position)
    await segment.fh.truncate(size)
    if (size === 0) {
      await writeFully(segment.fh, CAR_HEADER, 0)
      size = CAR_HEADER.length
    }
    await datasync(segment.fh)
    segment.size = size
  }
}

function corrupt(segment: Segment, at: number, reason: string): CairnError {
  return new CairnError('CAIRN_CORRUPT', `${segment.file} is damaged at offset ${at} (${reason}); data before that offset is intact`)
}

// ---- lock ----

interface ProcessLike {
  pid?: number
  kill?: (pid: number, signal: number) => unknown
}

function ownPid(): number {
  const g = globalThis as { process?: ProcessLike; Deno?: { pid?: number } }
  return g.process?.pid ?? g.Deno?.pid ?? 0
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (pid === ownPid()) return true
  const proc = (globalThis as { process?: ProcessLike }).process
  if (typeof proc?.kill !== 'function') return false
  try {
    proc.kill(pid, 0)
    return true
  } catch (err) {
    return errCode(err) === 'EPERM'
  }
}

/**
 * Takes `LOCK` in the folder: a file holding our pid, created atomically (written under a
 * temporary name, then hard-linked, so no one ever reads a half-written lock). A lock whose
 * process is gone is replaced.
 */
async function acquireLock(dir: string): Promise<void> {
  const lockPath = join(dir, LOCK)
  const pid = ownPid()
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (await tryCreateLock(dir, lockPath, pid)) return
    } catch (cause) {
      throw storageError(`cannot lock ${dir}`, cause)
    }
    let holder = NaN
    try {
      holder = Number.parseInt(await readFile(lockPath, 'utf8'), 10)
    } catch (err) {
      if (errCode(err) === 'ENOENT') continue
      throw storageError(`cannot read ${lockPath}`, err)
    }
    if (alive(holder)) {
      throw new CairnError('CAIRN_STORAGE', `store ${dir} is open in another process (pid ${holder}${holder === pid ? ', this one' : ''})`)
    }
    try {
      await unlink(lockPath)
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw storageError(`cannot remove stale ${lockPath}`, err)
    }
  }
  throw new CairnError('CAIRN_STORAGE', `cannot lock ${dir}: the lock keeps changing hands`)
}

/** True when we now hold the lock, false when someone else's lock file is there. */
async function tryCreateLock(dir: string, lockPath: string, pid: number): Promise<boolean> {
  const tmp = tempName(join(dir, `${LOCK}.${pid}`))
  await writeFile(tmp, String(pid), { flag: 'wx' })
  try {
    await link(tmp, lockPath)
    return true
  } catch (err) {
    const code = errCode(err)
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err
    // No hard links on this file system: fall back to an exclusive create.
    try {
      await writeFile(lockPath, String(pid), { flag: 'wx' })
      return true
    } catch (err2) {
      if (errCode(err2) === 'EEXIST') return false
      throw err2
    }
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

async function releaseLock(dir: string): Promise<void> {
  await unlink(join(dir, LOCK)).catch(() => {})
}
