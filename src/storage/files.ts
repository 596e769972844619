// The log-structured file engine for Node and Deno: append-only CAR segments, one fsync per commit.
import { link, mkdir, open, readdir, readFile, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { varint } from 'multiformats'
import { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import { SHA2_256 } from '../block/interface.ts'
import { equalBytes } from '../block/codec.ts'
import { sha256, sha256Sync, SYNC_HASH_LIMIT } from '../block/hash.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { CommitBatch, StorageEngine } from './interface.ts'
import { expectDerivedBytes, expectDerivedName } from './derived.ts'
import { CAR_HEADER, encodeCommit, findRecords, IDENTITY, keyOfBytes, MAX_FRAME, parseFrame, parseFrameInWindow, readFully, readVarint, WindowReader } from './files/format.ts'
import { errCode, syncDir } from './files/durable.ts'
import { ENTRY_BYTES, keyHi, keyLo, SortedRun, TailIndex, type FramePosition } from './files/block-index.ts'
import { buildTable, readTable, removeTable, TABLE_HOST, TABLE_TEMP_RE, writeTable, type TableCover } from './files/table.ts'
import { cleanDerived, readDerivedFile, writeDerivedFile } from './files/derived.ts'

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
}

/** What {@link FileStorage.stats} reports about the block index. */
export interface FileStorageStats {
  /** Blocks in the sorted part of the index (the last block table written or loaded). */
  readonly tableBlocks: number
  /** Blocks committed or scanned since then, held in the in-memory tail. */
  readonly tailBlocks: number
  /** Bytes of memory held by the index (both parts). */
  readonly indexBytes: number
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
/** Blocks up to this size are read with their frame header in one read and copied out; larger ones read twice to get a buffer of their own. */
const ONE_READ_LIMIT = 64 * 1024
const SEGMENT_RE = /^seg-(\d{6,})\.car$/
const LOCK = 'LOCK'
const NO_POSITIONS: readonly FramePosition[] = []

const segmentName = (n: number): string => `seg-${String(n).padStart(6, '0')}.car`

function storageError(what: string, cause: unknown): CairnError {
  return new CairnError('CAIRN_STORAGE', `${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`"${name}" expected a positive integer, got ${value}`)
  return value
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
 * Finding a block takes its frame's position: segment, offset, length. Positions are kept
 * in memory at 20 bytes per block (block-index.ts), in two parts:
 * - a sorted run covering every block up to some commit record, loaded from and saved to the
 *   block table file `blocks.table` (table.ts), so a reopen reads one file of 20 bytes per
 *   block instead of parsing every segment;
 * - a small hash table (the tail) of the blocks committed after that record, which a reopen
 *   rebuilds by scanning only the segment bytes after it.
 * The tail is folded into a new sorted run, and the table rewritten, when it reaches
 * `tableEvery` blocks (or an eighth of the run) and on close (from `tableOnClose` blocks).
 * The fold runs in the commit queue (a linear merge: milliseconds per million blocks); the
 * file is written in the background while commits go on, one table write at a time.
 *
 * The table only ever covers commits whose fsync completed, so it stays valid across any
 * crash; a table that fails its checksum, or does not match the commit record at the position
 * it names, is deleted and the segments are scanned in full. A get reads the frame's length
 * and CID along with the block in one read and checks them against the CID asked for, so
 * neither key collisions nor a damaged table can return the wrong block. Damage inside the
 * part of the segments the table covers is not looked for on open (that is the point of
 * the table); reads find it, and the layers above re-hash every block they read.
 */
export class FileStorage implements StorageEngine {
  readonly kind: string = 'files'
  readonly path: string
  readonly #segmentLimit: number
  readonly #tableEvery: number
  readonly #tableOnClose: number
  readonly #segments: Segment[] = []
  #heads: CID[] = []
  #run: SortedRun = SortedRun.EMPTY
  #tail = new TailIndex()
  /** The newest commit record; undefined in a store nothing was committed to. */
  #cover: Cover | undefined
  /** The block table being written in the background, if any. */
  #tableWrite: Promise<void> | undefined
  #openedFromTable = 0
  #scannedOnOpen = 0
  #tableIgnored: string | undefined
  #tablesWritten = 0
  #tableWriteError: string | undefined
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

  private constructor(path: string, segmentBytes: number, tableEvery: number, tableOnClose: number) {
    this.path = path
    this.#segmentLimit = Math.min(segmentBytes, MAX_SEGMENT)
    this.#tableEvery = tableEvery
    this.#tableOnClose = tableOnClose
  }

  /** Same as {@link openFileStorage}. */
  static async open(path: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`"path" expected a non-empty string, got ${String(path)}`)
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= CAR_HEADER.length) {
      throw new RangeError(`"segmentBytes" expected an integer above ${CAR_HEADER.length}, got ${segmentBytes}`)
    }
    const tableEvery = positiveInteger('tableEvery', options.tableEvery ?? DEFAULT_TABLE_EVERY)
    const tableOnClose = positiveInteger('tableOnClose', options.tableOnClose ?? DEFAULT_TABLE_ON_CLOSE)
    try {
      await mkdir(path, { recursive: true })
    } catch (cause) {
      throw storageError(`cannot create ${path}`, cause)
    }
    await acquireLock(path)
    const store = new FileStorage(path, segmentBytes, tableEvery, tableOnClose)
    try {
      await store.#load()
    } catch (err) {
      await store.#closeHandles()
      await releaseLock(path)
      throw err instanceof CairnError ? err : storageError(`cannot open ${path}`, err)
    }
    // A table found unusable is replaced at once (from tableOnClose blocks, as on close):
    // the store was big enough to have one, and the next open should not scan again.
    store.#maybeFold(store.#tableIgnored !== undefined)
    return store
  }

  /** A snapshot of the block index's state, for diagnostics and tests. */
  get stats(): FileStorageStats {
    return {
      tableBlocks: this.#run.count,
      tailBlocks: this.#tail.count,
      indexBytes: this.#run.count * ENTRY_BYTES + this.#run.directoryBytes + this.#tail.byteLength,
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
    for (const position of this.#candidates(bytes)) {
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
   * block). A frame is listed when the index points at it, so each block comes once.
   */
  async *blocks(): AsyncIterable<BlockRecord> {
    this.#check()
    for (let i = 0; i < this.#segments.length; i++) {
      const segment = this.#segments[i]!
      // Everything below `size` is committed; a commit running meanwhile writes beyond it.
      const reader = new WindowReader(segment.fh, segment.size)
      let pos = CAR_HEADER.length
      while (pos < reader.size) {
        this.#check()
        const at = pos
        const frame = parseFrameInWindow(reader, at) ?? (await this.#guard(() => parseFrame(reader, at), `cannot read ${segment.file}`))
        if (frame.kind === 'bad') throw corrupt(segment, at, frame.reason)
        pos = frame.end
        if (frame.kind !== 'block') continue
        const cidBytes = reader.peek(frame.cidOffset, frame.cidLength)!
        if (!this.#indexedAt(cidBytes, segment.number, frame.start)) continue
        const cid = CID.decode(cidBytes.slice())
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
      await this.#tableWrite
      // Fold a tail worth saving so the next open need not scan it. Failure loses nothing.
      if (this.#tail.count > 0 && this.#tail.count >= this.#tableOnClose) await this.#fold()?.catch(() => {})
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
    for (const s of this.#segments) await s.fh.close().catch(() => {})
  }

  // ---- index ----

  /** Positions whose key matches the CID bytes: usually none or one; a read confirms which, if any, holds it. */
  #candidates(cid: Uint8Array): readonly FramePosition[] {
    const hi = keyHi(cid, 0, cid.length)
    const lo = keyLo(cid, 0, cid.length)
    let out: FramePosition[] | undefined
    const run = this.#run
    run.find(hi, lo, (i) => { (out ??= []).push({ segment: run.segment[i]!, offset: run.offset[i]!, length: run.length[i]! }) })
    const tail = this.#tail
    tail.find(hi, lo, (e) => { (out ??= []).push({ segment: tail.segment(e), offset: tail.offset(e), length: tail.length(e) }) })
    return out ?? NO_POSITIONS
  }

  /** Exact membership: a key match alone could be another CID with the same digest end. */
  async #contains(cid: Uint8Array, candidates: readonly FramePosition[] = this.#candidates(cid)): Promise<boolean> {
    for (const position of candidates) {
      if (await this.#holds(position, cid)) return true
    }
    return false
  }

  /** True when some entry has this key. No I/O. */
  #hasKey(hi: number, lo: number): boolean {
    return this.#run.hasKey(hi, lo) || this.#tail.hasKey(hi, lo)
  }

  /** True when the index points at the frame at (segment, offset) for these CID bytes. No I/O. */
  #indexedAt(cid: Uint8Array, segment: number, offset: number): boolean {
    const hi = keyHi(cid, 0, cid.length)
    const lo = keyLo(cid, 0, cid.length)
    let found = false
    const run = this.#run
    run.find(hi, lo, (i) => (found = run.segment[i] === segment && run.offset[i] === offset))
    const tail = this.#tail
    if (!found) tail.find(hi, lo, (e) => (found = tail.segment(e) === segment && tail.offset(e) === offset))
    return found
  }

  /**
   * Reads the frame at `position` and returns its block bytes if it holds `cid`. The frame
   * must say exactly `length(cid) + block length` and start with `cid`'s bytes; CIDs encode
   * their own length, so that identifies the block without a doubt.
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
    return frame?.slice(frame.length - dataLength)
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
    const len = readVarint(buf, 0)
    if (len === undefined || len[0] !== position.length || len[1] !== head) return undefined
    for (let i = 0; i < cid.length; i++) if (buf[head + i] !== cid[i]) return undefined
    return buf
  }

  /**
   * Folds the tail into a new sorted run and starts writing it as the block table (on hosts
   * that can). Returns the write, or undefined when nothing is written. The merge is
   * synchronous: no commit can land between the run and the cover it is written with, and
   * the file write that follows reads only the new, immutable run.
   */
  #fold(): Promise<void> | undefined {
    const cover = this.#cover
    if (cover?.recordDigest === undefined) return undefined
    const image = buildTable(this.#run, this.#tail, { ...cover, recordDigest: cover.recordDigest })
    this.#run = image.run
    this.#tail = new TailIndex()
    if (!TABLE_HOST) return undefined
    const write = writeTable(this.path, image).then(() => { this.#tablesWritten++ })
    this.#tableWrite = write
      .catch((err: unknown) => { this.#tableWriteError = String((err as Error)?.message ?? err) })
      .finally(() => { this.#tableWrite = undefined })
    return write
  }

  /**
   * Starts a fold when the tail has grown past its threshold and no table write is running.
   * The threshold grows with the run (an eighth of it) so that rewriting the table costs a
   * bounded share of the bytes committed (about 20 bytes per indexed block every n/8 blocks)
   * however big the store gets; `eager` uses the close threshold instead.
   */
  #maybeFold(eager = false): void {
    if (this.#tableWrite !== undefined) return
    const threshold = eager ? this.#tableOnClose : Math.max(this.#tableEvery, Math.floor(this.#run.count / 8))
    if (this.#tail.count === 0 || this.#tail.count < threshold) return
    void this.#fold()?.catch(() => {})
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
      const candidates = this.#candidates(cid.bytes)
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
      else if (TABLE_TEMP_RE.test(name)) await unlink(join(this.path, name)).catch(() => {}) // a table write a crash cut short
    }
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
    // A big-endian host cannot use a table, but leaves it alone: it stays valid for others, as
    // segments only grow after the position it covers.
    if (!TABLE_HOST) return undefined
    let table: Awaited<ReturnType<typeof readTable>>
    try {
      table = await readTable(this.path)
    } catch (err) {
      table = `unreadable: ${(err as Error)?.message ?? String(err)}`
    }
    if (table === undefined) return undefined
    let reason: string | undefined = typeof table === 'string' ? table : undefined
    if (typeof table !== 'string') {
      const { cover } = table
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
          this.#run = table.run
          this.#heads = frame.record.heads
          this.#openedFromTable = table.run.count
          this.#cover = { ...cover }
          return cover
        }
      }
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
        pendingHi.push(keyHi(c, o, o + frame.cidLength))
        pendingLo.push(keyLo(c, o, o + frame.cidLength))
        pendingOffsets.push(frame.start)
        pendingLengths.push(frame.cidLength + frame.dataLength)
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
        if (this.#hasKey(hi, lo) && (await this.#scannedBefore(segment, pendingOffsets[i]!))) continue
        this.#tail.add(hi, lo, segment.number, pendingOffsets[i]!, pendingLengths[i]!)
      }
      this.#heads = record.heads
      this.#cover = { segment: segment.number, recordStart: frame.start, end: frame.end, recordDigest: undefined }
      pendingHi.length = pendingLo.length = pendingOffsets.length = pendingLengths.length = 0
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
      const actual = bytes.length > SYNC_HASH_LIMIT ? await sha256(bytes) : sha256Sync(bytes)
      if (!equalBytes(actual.digest, digest)) {
        this.#tail.truncate(lastCommit.firstEntry)
        this.#heads = lastCommit.headsBefore
        this.#cover = lastCommit.coverBefore
        await this.#truncate(segment, lastCommit.start)
        return
      }
    }
  }

  /** True when the block framed at `offset` of `segment` is indexed already (a block stored twice: only the first counts). */
  async #scannedBefore(segment: Segment, offset: number): Promise<boolean> {
    const frame = await parseFrame(new WindowReader(segment.fh, segment.size), offset)
    if (frame.kind !== 'block') return false
    const cid = new Uint8Array(frame.cidLength)
    await readFully(segment.fh, cid, frame.cidOffset)
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

async function writeFully(fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, pos + done)
    done += bytesWritten
  }
}

async function datasync(fh: FileHandle): Promise<void> {
  // fdatasync also persists the file size, which is all an append changes besides data.
  if (typeof fh.datasync === 'function') await fh.datasync()
  else await fh.sync()
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
  const tmp = join(dir, `${LOCK}.${pid}.${Math.random().toString(36).slice(2)}`)
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
