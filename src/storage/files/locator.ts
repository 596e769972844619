// The block locator of the files engine: from a CID to the position of its frame (segment,
// offset, length), through the block table on disk (table/) and the in-memory tails
// (tail-index.ts). It also keeps the table current: it folds the tail into a new table in the
// background, and when a page of the table turns out damaged it drops the table and rescans
// the part of the segments it covered (lookups wait for that instead of failing).
import { sha256Sync } from '../../block/hash.ts'
import { datasync } from '../../fs/durable.ts'
import type { Gate } from './errors.ts'
import type { EncodedCommit } from './format.ts'
import type { Segment, SegmentFiles } from './segments.ts'
import { EntryColumns, keyHi, keyLo, TailIndex, type FramePosition } from './tail-index.ts'
import { framePosition, TableDamage, type TableCover } from './table/format.ts'
import { TableRun } from './table/reader.ts'
import { removeTable, writeTable } from './table/writer.ts'

/** Rough heap cost of one entry of the skip set (a Set of numbers). */
const SKIP_ENTRY_BYTES = 32
const NO_POSITIONS: readonly FramePosition[] = []

/**
 * The last commit record: the position a block table written now would cover. Its digest is
 * computed when a table is written (from `record`, the bytes a commit wrote, kept for that),
 * after a scan only for the last record found.
 */
export interface Cover extends Omit<TableCover, 'recordDigest'> {
  recordDigest: Uint8Array | undefined
  /** The record frame's bytes, when its digest is still to be computed. */
  record?: Uint8Array | undefined
}

/** When the locator writes a new block table (see FileStorageOptions). */
export interface FoldOptions {
  readonly tableEvery: number
  readonly tableOnClose: number
  readonly tableCacheBytes: number
}

/**
 * The block index of one open store. Lookups take the index as it is when they start: a fold
 * or rebuild replaces `run`, `pending` and `tail` with new objects, never changes them in place
 * (the tail excepted, which only grows).
 */
export class BlockLocator {
  /** The block table in use. */
  run: TableRun = TableRun.EMPTY
  /**
   * Indexes of blocks the table does not hold yet, oldest first, besides {@link tail}: tails
   * frozen by a fold in progress (or left by a failed one), the rescan of a damaged table.
   * Replaced, never changed in place, so a lookup can keep the arrays it started with.
   */
  pending: readonly TailIndex[] = []
  /** Blocks committed (or scanned on open) since the last fold. */
  tail: TailIndex = new TailIndex()
  /** Positions (framePosition) of block frames left out of the index: later copies of a block stored before. Almost always empty. */
  readonly skip: Set<number> = new Set<number>()
  /** The newest commit record; undefined in a store nothing was committed to. */
  cover: Cover | undefined
  /** True while open runs: no fold may start before the index and the cover agree. */
  loading = true
  tablesWritten = 0
  tableWriteError: string | undefined
  tableDamaged: string | undefined
  /**
   * The highest segment a `blocks.table` file on disk may cover: the adopted table's, or one a
   * fold began writing (which may have reached the disk even when the fold failed). Compaction
   * removes the file before it replaces a segment at or below this. 0: no table file.
   */
  tableFileCover = 0
  readonly #dir: string
  readonly #segments: SegmentFiles
  readonly #gate: Gate
  readonly #tableEvery: number
  readonly #tableOnClose: number
  readonly #tableCacheBytes: number
  /** The block table being written in the background, if any. */
  #tableWrite: Promise<void> | undefined
  /** The rescan of a damaged table's blocks, while it runs. */
  #rebuild: Promise<void> | undefined
  /** After a failed table write: the number of unfolded blocks below which no fold is tried again (a failure repeated at every commit would reread the table each time). */
  #retryFoldAt = 0
  /** While a compaction runs: no fold or rescan starts, and this resolves when it ends. */
  #paused: Promise<void> | undefined
  #unpause: (() => void) | undefined

  constructor(segments: SegmentFiles, gate: Gate, options: FoldOptions) {
    this.#dir = segments.dir
    this.#segments = segments
    this.#gate = gate
    this.#tableEvery = options.tableEvery
    this.#tableOnClose = options.tableOnClose
    this.#tableCacheBytes = options.tableCacheBytes
  }

  /** Bytes of memory held by the index: the table's part, the tails and the skip set. */
  get memoryBytes(): number {
    return this.run.memoryBytes + this.pending.reduce((sum, part) => sum + part.byteLength, this.tail.byteLength) + this.skip.size * SKIP_ENTRY_BYTES
  }

  /** Uses `table`, opened and checked against the segments, as the block table; its cover becomes the cover. */
  adoptTable(table: TableRun): void {
    this.run = table
    for (const position of table.skip) this.skip.add(position)
    this.cover = { ...table.cover! }
    this.tableFileCover = table.cover!.segment
  }

  /**
   * For a compaction: waits for a table write or rescan in progress, then keeps any new one
   * from starting until {@link resume}, so the index changes only through {@link install}.
   */
  async pause(): Promise<void> {
    while (this.#rebuild !== undefined || this.#tableWrite !== undefined) {
      await this.#rebuild?.catch(() => {})
      await this.#tableWrite
    }
    this.#paused = new Promise<void>((resolve) => {
      this.#unpause = resolve
    })
  }

  /**
   * Ends the pause of a compaction and writes a block table when enough blocks are unfolded
   * (from `tableOnClose` blocks when `eager`, as after a table was dropped). Resolves when that
   * write is done; a failure loses nothing and is not thrown.
   */
  async resume(eager: boolean): Promise<void> {
    this.#paused = undefined
    this.#unpause?.()
    this.#unpause = undefined
    this.maybeFold(eager)
    await this.#tableWrite
  }

  /**
   * Compaction swaps its index in, in the same synchronous step as the segment files: `tail`
   * holds every block not in the table kept (all of them when `dropTable`); the skipped copies
   * in the rewritten segments are gone with them, and those in `unskip` are indexed now (their
   * first copy went); `cover` is the newest record.
   */
  install(tail: TailIndex, dropTable: boolean, rewritten: ReadonlySet<number>, unskip: ReadonlySet<number>, cover: Cover | undefined): void {
    if (dropTable) {
      void this.run.retire()
      this.run = TableRun.EMPTY
    }
    this.pending = []
    this.tail = tail
    for (const position of [...this.skip]) if (unskip.has(position) || rewritten.has(Math.floor(position / 2 ** 32))) this.skip.delete(position)
    this.cover = cover
  }

  /** Forgets skipped copies at or after `size` in segment `segment`: bytes cut off, where new frames will be written. */
  forgetSkipped(segment: number, size: number): void {
    for (const position of this.skip) if (position >= framePosition(segment, size) && position < framePosition(segment + 1, 0)) this.skip.delete(position)
  }

  /**
   * Indexes the blocks of the commit `encoded`, just written to `segment` at offset `base`
   * (the segment's size already counts it), and makes its record the cover.
   */
  committed(segment: Segment, base: number, encoded: EncodedCommit): void {
    for (const b of encoded.blocks) {
      const c = b.cid.bytes
      this.tail.add(keyHi(c, 0, c.length), keyLo(c, 0, c.length), segment.number, base + b.start, b.frameLength)
    }
    // The record's digest is only needed by a table write: kept as bytes (a copy, not a view
    // holding the whole commit's buffer) and hashed then, not at every commit.
    const record = encoded.buffer.slice(encoded.recordOffset)
    this.cover = { segment: segment.number, recordStart: base + encoded.recordOffset, end: segment.size, recordDigest: undefined, record }
  }

  /**
   * Waits for a table write or rebuild in progress, then, when at least `tableOnClose` blocks
   * are not in the table, writes one (so the next open need not scan them). For close(): a
   * failure loses nothing, and is not thrown.
   */
  async finish(): Promise<void> {
    while (this.#rebuild !== undefined || this.#tableWrite !== undefined) {
      await this.#rebuild?.catch(() => {})
      await this.#tableWrite
    }
    const unfolded = this.unfolded()
    if (unfolded > 0 && unfolded >= this.#tableOnClose) {
      await this.#fold()?.catch(() => {})
      await this.#tableWrite
    }
  }

  /**
   * Positions whose key matches the CID bytes: usually none or one; a read confirms which, if
   * any, holds it. The table is asked only when its filter lets the key through, so a block
   * it does not hold almost never costs a page read. A damaged table page is not an error
   * here: the table is dropped, its blocks rescanned, and the question asked again.
   */
  async candidates(cid: Uint8Array): Promise<readonly FramePosition[]> {
    const hi = keyHi(cid, 0, cid.length)
    const lo = keyLo(cid, 0, cid.length)
    // The index as it is now: a fold installing its table meanwhile replaces these, not changes them.
    const run = this.run
    const pending = this.pending
    const tail = this.tail
    let out: FramePosition[] | undefined
    if (run.mayHave(hi, lo)) {
      try {
        run.find(hi, lo, (segment, offset, length) => {
          out ??= []
          out.push({ segment, offset, length })
        })
      } catch (err) {
        if (!(err instanceof TableDamage)) throw err
        this.#gate.check()
        await this.#rebuildDamaged(run, err.message)
        return this.candidates(cid)
      }
    }
    for (const part of pending) out = part.collect(hi, lo, out)
    return tail.collect(hi, lo, out) ?? NO_POSITIONS
  }

  /** Exact membership: a key match alone could be another CID with the same digest end. */
  async contains(cid: Uint8Array, candidates?: readonly FramePosition[]): Promise<boolean> {
    for (const position of candidates ?? (await this.candidates(cid))) {
      if (await this.#segments.holds(position, cid)) return true
    }
    return false
  }

  /** False when no entry can have this key; true when one may (the table's filter) or does. No I/O. */
  mayHaveKey(hi: number, lo: number): boolean {
    if (this.run.mayHave(hi, lo) || this.tail.hasKey(hi, lo)) return true
    for (const part of this.pending) if (part.hasKey(hi, lo)) return true
    return false
  }

  /** Blocks indexed in memory, not in the table yet. */
  unfolded(): number {
    return this.pending.reduce((sum, part) => sum + part.count, this.tail.count)
  }

  /**
   * Starts writing a new block table holding the current one's blocks and every unfolded
   * block, covering the last commit. Returns the write, or undefined when nothing is written.
   * The snapshot is taken synchronously: no commit can land between the tails frozen and the
   * cover written with them; the write that follows reads only the old table and the frozen
   * tails, both immutable. The new table replaces the old one and the frozen tails at once.
   */
  #fold(): Promise<void> | undefined {
    const cover = this.cover
    if (cover !== undefined && cover.recordDigest === undefined && cover.record !== undefined) {
      cover.recordDigest = sha256Sync(cover.record).digest
      cover.record = undefined
    }
    if (cover?.recordDigest === undefined || this.#tableWrite !== undefined || this.#rebuild !== undefined) return undefined
    const base = this.run
    const parts = [...this.pending, this.tail]
    this.pending = parts
    this.tail = new TailIndex()
    const tableCover: TableCover = { ...cover, recordDigest: cover.recordDigest }
    const end = framePosition(cover.segment, cover.end)
    const skip = [...this.skip].filter((p) => p < end).sort((a, b) => a - b)
    // The table must cover only durable commits. Those committed by this instance are; the last
    // one an open scanned after a crash may not be yet (its bytes can still be in the OS's
    // cache, not on disk): one datasync of the last segment, which usually has nothing to do.
    // Earlier segments are durable: a segment is only started by a commit after the fsync of
    // every commit before it.
    const last = cover.segment === this.#segments.list.length ? this.#segments.list[cover.segment - 1] : undefined
    this.tableFileCover = Math.max(this.tableFileCover, cover.segment)
    const write = (async () => {
      if (last !== undefined) await datasync(last.fh)
      const run = await writeTable(this.#dir, base, EntryColumns.concat(parts), tableCover, skip, this.#tableCacheBytes)
      this.run = run
      this.pending = this.pending.filter((part) => !parts.includes(part))
      this.tablesWritten++
      this.#retryFoldAt = 0
      void base.retire()
    })()
    this.#tableWrite = write
      .catch((err: unknown) => {
        this.tableWriteError = String((err as Error)?.message ?? err)
        this.#retryFoldAt = this.unfolded() + this.#foldThreshold()
        // The frozen tails stay in `pending`, still found by lookups and folded next time.
        if (!(err instanceof TableDamage)) return
        if (!this.#gate.closing) void this.#rebuildDamaged(base, err.message).catch(() => {})
        // Closing: no time to rescan; leave no damaged table for the next open to trust.
        else if (base === this.run) return removeTable(this.#dir).catch(() => {})
      })
      .finally(() => {
        this.#tableWrite = undefined
        this.maybeFold() // blocks committed during the write may be due already
      })
    return write
  }

  #foldThreshold(): number {
    return Math.max(this.#tableEvery, Math.floor(this.run.count / 8))
  }

  /**
   * Starts a fold when the unfolded blocks have grown past the threshold and no table write
   * or rescan is running. The threshold grows with the table (an eighth of it) so that
   * rewriting the table costs a bounded share of the bytes committed (about 20 bytes per
   * indexed block every n/8 blocks) however big the store gets; `eager` uses the close
   * threshold instead.
   */
  maybeFold(eager = false): void {
    if (this.#tableWrite !== undefined || this.#rebuild !== undefined || this.#paused !== undefined || this.loading || this.#gate.closing) return
    const unfolded = this.unfolded()
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
  #rebuildDamaged(run: TableRun, reason: string): Promise<void> {
    if (run !== this.run) return Promise.resolve() // already replaced
    // A compaction may drop this table or rewrite what it covers: decide after it.
    if (this.#paused !== undefined) return this.#paused.then(() => this.#rebuildDamaged(run, reason))
    this.#rebuild ??= (async () => {
      this.tableDamaged = reason
      const rebuilt = new TailIndex()
      const skip: number[] = []
      await this.#indexCovered(run.cover!, rebuilt, skip)
      await this.#tableWrite // a fold running meanwhile fails on the same page (or replaces the table)
      if (this.run !== run) return
      this.run = TableRun.EMPTY
      this.pending = [rebuilt, ...this.pending]
      for (const position of skip) this.skip.add(position)
      void run.retire()
      await removeTable(this.#dir).catch(() => {})
    })().finally(() => {
      this.#rebuild = undefined
      this.maybeFold(true)
    })
    return this.#rebuild
  }

  /** Indexes every block frame up to `cover` into `into` (later copies of a block go to `skip`): the part of the segments a table covers. */
  async #indexCovered(cover: TableCover, into: TailIndex, skip: number[]): Promise<void> {
    for (let n = 1; n <= cover.segment; n++) {
      const segment = this.#segments.list[n - 1]!
      for await (const { reader, frame } of this.#segments.blockFrames(segment, n === cover.segment ? cover.end : segment.size)) {
        // Keys straight from the window; the CID is copied only for the rare key already seen.
        const w = reader.window
        const o = reader.locate(frame.cidOffset, frame.cidLength)
        const hi = keyHi(w, o, o + frame.cidLength)
        const lo = keyLo(w, o, o + frame.cidLength)
        if (into.hasKey(hi, lo)) {
          const cid = w.slice(o, o + frame.cidLength)
          if (await this.contains(cid, into.collect(hi, lo, []))) {
            skip.push(framePosition(n, frame.start))
            continue
          }
        }
        into.add(hi, lo, n, frame.start, frame.cidLength + frame.dataLength)
      }
    }
  }
}
