// The log-structured file engine for Node and Deno: append-only CAR segments, one fsync per
// commit. This file holds the StorageEngine; its parts each have a file of their own:
//   lock.ts        the LOCK file: one process at a time opens a store folder
//   segments.ts    the segment files: listing, creating, reading frames, cutting back
//   recovery.ts    crash recovery on open: adopting the block table, scanning the rest, cutting a torn tail
//   commit.ts      one commit: checking a batch, framing it, one write and one datasync
//   compact.ts     compaction: rewriting segments without their dead blocks, crash-safely
//   locator.ts     the block locator: CID to frame position, folding the tail into a new table
//   tail-index.ts  index entries and the in-memory tail
//   table/         the block table file: format.ts, reader.ts, writer.ts, key-filter.ts
//   format.ts      the segment byte format: block frames, commit records
//   derived.ts     derived-data slots (`derived/`)
//   errors.ts      CAIRN_STORAGE / CAIRN_CLOSED, and the closing flag the parts share
import { Mutex } from '../mutex.ts'
import { mkdir } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import type { BlockRecord } from '../../block/interface.ts'
import { expectNonNegativeInteger, expectObject, expectPositiveInteger, expectString, type KnownKeys } from '../../errors/arguments.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { checkCompactArguments, type CommitBatch, type CompactOptions, type CompactReport, type StorageEngine } from '../interface.ts'
import { expectDerivedBytes, expectDerivedName } from '../derived.ts'
import { writeCommit } from './commit.ts'
import { type CompactHooks, compactSegments } from './compact.ts'
import { readDerivedFile, writeDerivedFile } from './derived.ts'
import { Gate, storageError } from './errors.ts'
import { CAR_HEADER } from './format.ts'
import { BlockLocator } from './locator.ts'
import { acquireLock, type HeldLock } from './lock.ts'
import { recoverOnOpen } from './recovery.ts'
import { MAX_SEGMENT, SegmentFiles } from './segments.ts'
import type { FramePosition } from './tail-index.ts'
import { framePosition } from './table/format.ts'
import { DEFAULT_TABLE_CACHE_BYTES } from './table/reader.ts'

/**
 * Options of {@link openFileStorage}.
 *
 * @example
 * const store = await openStore({ storage: await openFileStorage('./data', { segmentBytes: 16 << 20, tableCacheBytes: 1 << 20 }) })
 */
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

/**
 * What {@link FileStorage.stats} reports about the block index.
 *
 * @example
 * const { tableBlocks, tailBlocks, indexBytes } = storage.stats
 */
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

/** The keys of `FileStorageOptions`: any other is a TypeError, before anything is opened. */
const FILE_KEYS: KnownKeys<FileStorageOptions> = { segmentBytes: 1, tableEvery: 1, tableOnClose: 1, tableCacheBytes: 1 }

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
const DEFAULT_TABLE_EVERY = 65_536
const DEFAULT_TABLE_ON_CLOSE = 1024

/**
 * Opens (creating if needed) a files store in the folder `path`, loads its block table,
 * scans the segment bytes written after it, cuts off a torn tail left by a crash and takes
 * the folder's lock. Throws CAIRN_LOCKED (with `file`: the folder) when another process has
 * it open, CAIRN_CORRUPT when bytes it scans before the last commit are damaged.
 *
 * @example
 * const storage = await openFileStorage('./data/cairn')
 */
export async function openFileStorage(path: string, options?: FileStorageOptions): Promise<FileStorage> {
  return FileStorage.open(path, options)
}

/**
 * Seams for specs, not part of the public API (the entry points do not export them): a spec
 * opens the engine with {@link openFileStorageWith} to follow, or stop at, the steps of a
 * compaction.
 */
export interface FileStorageSeams {
  /** Awaited after each step of a compaction (see compact.ts). */
  readonly onCompactStep?: (step: string) => void | Promise<void>
}

const seamsOf = new WeakMap<FileStorage, FileStorageSeams>()

/** {@link openFileStorage} with seams for specs (not exported by the entry points). */
export async function openFileStorageWith(path: string, options: FileStorageOptions, seams: FileStorageSeams): Promise<FileStorage> {
  const storage = await FileStorage.open(path, options)
  seamsOf.set(storage, seams)
  return storage
}

/**
 * Blocks and heads in append-only CARv1 segment files (`seg-000001.car`, ...). Each commit
 * is one write of its block frames and a commit record, then one fsync. See
 * {@link openFileStorage}.
 *
 * The block index
 * ---------------
 * Finding a block takes its frame's position: segment, offset, length (locator.ts, with the
 * entries in tail-index.ts). The positions are kept in two parts:
 * - the block table file `blocks.table` (table/): every block up to some commit record,
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
 *
 * @example
 * const storage = await openFileStorage('./data')
 * const store = await openStore({ storage })
 */
export class FileStorage implements StorageEngine {
  readonly kind: string = 'files'
  readonly path: string
  readonly #segmentLimit: number
  readonly #gate: Gate
  readonly #segments: SegmentFiles
  readonly #locator: BlockLocator
  #heads: CID[] = []
  #openedFromTable = 0
  #scannedOnOpen = 0
  #tableIgnored: string | undefined
  /** Commits and compactions, one at a time in call order. */
  readonly #writes = new Mutex()
  #closed: Promise<void> | undefined
  /** Set when a failed write could not be undone: appending more would bury garbage mid-file. */
  #broken: unknown = undefined
  /** True once the `derived/` folder is known to exist durably. */
  #derivedReady = false
  /** Derived writes, one at a time in call order (so the last call wins). */
  /** Derived writes, one at a time, beside commits. */
  readonly #derivedWrites = new Mutex()
  /** Derived reads and writes in flight: close() waits for them before it gives up the lock. */
  readonly #derivedPending = new Set<Promise<unknown>>()

  /** The folder's LOCK, held from open to close. */
  readonly #lock: HeldLock

  private constructor(path: string, segmentBytes: number, tableEvery: number, tableOnClose: number, tableCacheBytes: number, lock: HeldLock) {
    this.path = path
    this.#lock = lock
    this.#segmentLimit = Math.min(segmentBytes, MAX_SEGMENT)
    this.#gate = new Gate(path)
    this.#segments = new SegmentFiles(path, this.#gate)
    this.#locator = new BlockLocator(this.#segments, this.#gate, { tableEvery, tableOnClose, tableCacheBytes })
  }

  /**
   * Same as {@link openFileStorage}.
   *
   * @example
   * const storage = await FileStorage.open('./data', { tableEvery: 10_000 })
   */
  static async open(path: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    expectString('path', path)
    expectObject('options', options, FILE_KEYS)
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
      throw storageError(`cannot create ${path}`, cause, path)
    }
    const lock = await acquireLock(path)
    const store = new FileStorage(path, segmentBytes, tableEvery, tableOnClose, tableCacheBytes, lock)
    try {
      const opened = await recoverOnOpen(store.#segments, store.#locator, tableCacheBytes, (undo) => {
        store.#broken = undo
      })
      store.#heads = opened.heads
      store.#derivedReady = opened.derivedReady
      store.#openedFromTable = opened.openedFromTable
      store.#scannedOnOpen = opened.scannedOnOpen
      store.#tableIgnored = opened.tableIgnored
    } catch (err) {
      await store.#closeHandles()
      await lock.release()
      throw err instanceof CairnError ? err : storageError(`cannot open ${path}`, err, path)
    }
    // A table found unusable is replaced at once (from tableOnClose blocks, as on close):
    // the store was big enough to have one, and the next open should not scan again.
    store.#locator.loading = false
    store.#locator.maybeFold(store.#tableIgnored !== undefined || store.#locator.tableDamaged !== undefined)
    return store
  }

  /** A snapshot of the block index's state, for diagnostics and tests. */
  get stats(): FileStorageStats {
    const locator = this.#locator
    return {
      tableBlocks: locator.run.count,
      tailBlocks: locator.unfolded(),
      indexBytes: locator.memoryBytes,
      tablePageReads: locator.run.pageReads,
      tableDamaged: locator.tableDamaged,
      openedFromTable: this.#openedFromTable,
      scannedOnOpen: this.#scannedOnOpen,
      tableIgnored: this.#tableIgnored,
      tablesWritten: locator.tablesWritten,
      tableWriteError: locator.tableWriteError,
    }
  }

  async get(cid: CID): Promise<Uint8Array | undefined> {
    this.#gate.check()
    const bytes = cid.bytes
    // A compaction swapping segments between finding a position and reading it makes the
    // position stale (or its file closed): ask again then.
    for (;;) {
      const generation = this.#segments.generation
      try {
        for (const position of await this.#locator.candidates(bytes)) {
          const data = await this.#segments.readBlock(position, bytes)
          if (data !== undefined) return data
        }
        if (generation === this.#segments.generation) return undefined
      } catch (err) {
        if (generation === this.#segments.generation) throw err
      }
    }
  }

  /**
   * Several blocks at once: their positions sorted by file offset and neighbouring frames read
   * together, so blocks committed together (an export's events, a batch of appends) cost one
   * read instead of one each. The same checks as {@link get}: each frame must hold the CID
   * asked for.
   *
   * @example
   * const [a, b] = await storage.getMany([cidA, cidB])
   */
  async getMany(cids: readonly CID[]): Promise<(Uint8Array | undefined)[]> {
    this.#gate.check()
    const keys = cids.map((cid) => cid.bytes)
    for (;;) {
      const generation = this.#segments.generation
      try {
        const candidates: (readonly FramePosition[])[] = []
        for (const key of keys) candidates.push(await this.#locator.candidates(key))
        const out = await this.#segments.readBlocks(keys, candidates)
        if (generation === this.#segments.generation || !out.includes(undefined)) return out
      } catch (err) {
        if (generation === this.#segments.generation) throw err
      }
    }
  }

  async has(cid: CID): Promise<boolean> {
    this.#gate.check()
    for (;;) {
      const generation = this.#segments.generation
      try {
        if (await this.#locator.contains(cid.bytes)) return true
        if (generation === this.#segments.generation) return false
      } catch (err) {
        if (generation === this.#segments.generation) throw err
      }
    }
  }

  /**
   * Every block, in segment order: the segments' frames parsed in MiB windows (no read per
   * block). Later copies of a block stored twice (the skip list) are left out, so each block
   * comes once; no index lookup per block. Reads the segments as they were when it started:
   * a compaction meanwhile keeps their old files open for it (so dead blocks may be listed).
   *
   * @example
   * for await (const { cid, bytes } of storage.blocks()) console.log(cid.toString(), bytes.length)
   */
  async *blocks(): AsyncIterable<BlockRecord> {
    this.#gate.check()
    const list = [...this.#segments.list]
    const skip = this.#locator.skip.size === 0 ? this.#locator.skip : new Set(this.#locator.skip)
    this.#segments.beginRead()
    try {
      for (let i = 0; i < list.length; i++) {
        const segment = list[i]!
        // Everything below `size` is committed; a commit running meanwhile writes beyond it.
        for await (const { reader, frame } of this.#segments.blockFrames(segment, segment.size)) {
          if (skip.size > 0 && skip.has(framePosition(segment.number, frame.start))) continue
          const cid = CID.decode(reader.peek(frame.cidOffset, frame.cidLength)!.slice())
          const data = reader.peek(frame.dataOffset, frame.dataLength) ?? (await this.#gate.guard(() => reader.view(frame.dataOffset, frame.dataLength), `cannot read ${segment.file}`, segment.file))!
          yield { cid, bytes: data.slice() }
        }
      }
    } finally {
      this.#segments.endRead()
    }
  }

  async heads(): Promise<CID[]> {
    this.#gate.check()
    return [...this.#heads]
  }

  commit(batch: CommitBatch): Promise<void> {
    try {
      this.#gate.check()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#writes.run(() => this.#commit(batch))
  }

  /**
   * Reclaims the space of blocks `live` rejects (see StorageEngine.compact): every segment
   * whose dead bytes (frames of dead blocks, and later copies of blocks stored twice) are at
   * least `minDeadRatio` of its bytes (default 0.5; 0: every segment with any) is rewritten
   * without them and replaced atomically, then a new block table is written. Dead blocks in
   * segments left alone stay readable. Runs in the commit queue; reads go on meanwhile. A
   * SIGKILL at any moment leaves a store that reopens with every live block and the same
   * heads (docs/storage-formats.md, 1.7).
   *
   * @example
   * const { segmentsRewritten } = await storage.compact((cid) => reachable.has(cid.toString()), { minDeadRatio: 0.25 })
   */
  compact(live: (cid: CID) => boolean, options?: CompactOptions): Promise<CompactReport> {
    let minDeadRatio: number
    try {
      minDeadRatio = checkCompactArguments(live, options)
      this.#gate.check()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#writes.run(() => this.#compact(live, minDeadRatio))
  }

  /**
   * The derived value `name` (see StorageEngine.readDerived): the file `derived/d-<name>.bin`,
   * in a buffer of its own; undefined when it was never written.
   *
   * @example
   * const bytes = await storage.readDerived('my-index')
   */
  async readDerived(name: string): Promise<Uint8Array | undefined> {
    this.#gate.check()
    expectDerivedName(name)
    return this.#track(this.#gate.guard(() => readDerivedFile(this.path, name), `cannot read derived value "${name}" of ${this.path}`, this.path))
  }

  /**
   * Replaces the derived value `name`: written to a temporary file, fsynced, renamed over the
   * old one, folder fsynced. The bytes are copied first, so changing them afterwards changes
   * nothing. Writes run one at a time in call order, beside commits, not behind them.
   *
   * @example
   * await storage.writeDerived('my-index', bytes)
   */
  async writeDerived(name: string, bytes: Uint8Array): Promise<void> {
    this.#gate.check()
    expectDerivedName(name)
    const copy = new Uint8Array(expectDerivedBytes(bytes))
    const write = this.#derivedWrites.run(() =>
      this.#gate.guard(
        async () => {
          await writeDerivedFile(this.path, name, copy, this.#derivedReady)
          this.#derivedReady = true
        },
        `cannot write derived value "${name}" of ${this.path}`,
        this.path,
      ),
    )
    return this.#track(write)
  }

  close(): Promise<void> {
    this.#gate.closing = true
    this.#closed ??= (async () => {
      await this.#writes.idle()
      await Promise.allSettled([...this.#derivedPending])
      // Fold a tail worth saving so the next open need not scan it. Failure loses nothing.
      await this.#locator.finish()
      // The last segment ends with its last commit again (without this, the next open cuts the zeros).
      await this.#segments.trim(this.#segments.last).catch(() => {})
      await this.#closeHandles()
      await this.#lock.release()
    })()
    return this.#closed
  }

  /** Open, and no earlier write left the last segment in a state it could not undo. */
  #checkWritable(): void {
    this.#gate.check()
    if (this.#broken !== undefined) {
      throw new CairnError('CAIRN_STORAGE', `files storage ${this.path} failed an earlier write it could not undo; close and reopen it`, { cause: this.#broken, file: this.path })
    }
  }

  async #commit(batch: CommitBatch): Promise<void> {
    this.#checkWritable()
    const { heads, segment, base, encoded } = await writeCommit(batch, this.#segments, this.#locator, this.#segmentLimit, (undo) => {
      this.#broken = undo
    })
    segment.size = base + encoded.buffer.length
    this.#locator.committed(segment, base, encoded)
    this.#heads = heads
    this.#locator.maybeFold()
  }

  async #compact(live: (cid: CID) => boolean, minDeadRatio: number): Promise<CompactReport> {
    this.#checkWritable()
    const hooks: CompactHooks = { onStep: seamsOf.get(this)?.onCompactStep }
    return compactSegments(
      {
        segments: this.#segments,
        locator: this.#locator,
        gate: this.#gate,
        heads: this.#heads,
        hooks,
        onBroken: (cause) => {
          this.#broken = cause
        },
      },
      live,
      minDeadRatio,
    )
  }

  #track<T>(pending: Promise<T>): Promise<T> {
    this.#derivedPending.add(pending)
    const forget = (): void => {
      this.#derivedPending.delete(pending)
    }
    pending.then(forget, forget)
    return pending
  }

  async #closeHandles(): Promise<void> {
    await this.#locator.run.retire()
    await this.#segments.closeAll()
  }
}
