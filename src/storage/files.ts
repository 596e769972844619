// The log-structured file engine for Node and Deno: append-only CAR segments, one fsync per commit.
import { link, mkdir, open, readdir, readFile, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import { SHA2_256 } from '../block/interface.ts'
import { equalBytes } from '../block/codec.ts'
import { sha256, sha256Sync, SYNC_HASH_LIMIT } from '../block/hash.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { CommitBatch, StorageEngine } from './interface.ts'
import { CAR_HEADER, encodeCommit, findRecords, IDENTITY, keyOfBytes, MAX_FRAME, multihashOfKey, parseFrame, readFully, WindowReader } from './files/format.ts'
import { errCode, syncDir } from './files/durable.ts'

/** Options of {@link openFileStorage}. */
export interface FileStorageOptions {
  /**
   * A commit that would grow the current segment past this many bytes starts a new
   * segment instead (a commit never spans segments, so one huge commit may exceed it).
   * Default 64 MiB.
   */
  readonly segmentBytes?: number
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
const SEGMENT_RE = /^seg-(\d{6,})\.car$/
const LOCK = 'LOCK'

const segmentName = (n: number): string => `seg-${String(n).padStart(6, '0')}.car`

/** The index key of a CID: its bytes as a one-byte-per-char string (about 40 bytes of heap). */
const keyOf = (cid: CID): string => keyOfBytes(cid.bytes)
const cidOfKey = (key: string): CID => {
  const bytes = new Uint8Array(key.length)
  for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i)
  return CID.decode(bytes)
}


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
 * Opens (creating if needed) a files store in the folder `path`, scans its segments,
 * cuts off a torn tail left by a crash and takes the folder's lock.
 * Throws CAIRN_STORAGE when another process has it open, CAIRN_CORRUPT when bytes
 * before the last commit are damaged.
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
 */
export class FileStorage implements StorageEngine {
  readonly kind: string = 'files'
  readonly path: string
  readonly #segmentBytes: number
  readonly #segments: Segment[] = []
  #heads: CID[] = []
  // Index: key -> slot; per slot, segment number, offset and length of the block bytes.
  readonly #index = new Map<string, number>()
  #slotKeys: string[] = []
  #slotSeg = new Uint32Array(1024)
  #slotOff = new Float64Array(1024)
  #slotLen = new Uint32Array(1024)
  #count = 0
  #queue: Promise<void> = Promise.resolve()
  #closing = false
  #closed: Promise<void> | undefined
  /** Set when a failed write could not be undone: appending more would bury garbage mid-file. */
  #broken: unknown = undefined

  private constructor(path: string, segmentBytes: number) {
    this.path = path
    this.#segmentBytes = segmentBytes
  }

  /** Same as {@link openFileStorage}. */
  static async open(path: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`"path" expected a non-empty string, got ${String(path)}`)
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= CAR_HEADER.length) {
      throw new RangeError(`"segmentBytes" expected an integer above ${CAR_HEADER.length}, got ${segmentBytes}`)
    }
    try {
      await mkdir(path, { recursive: true })
    } catch (cause) {
      throw storageError(`cannot create ${path}`, cause)
    }
    await acquireLock(path)
    const store = new FileStorage(path, segmentBytes)
    try {
      await store.#load()
    } catch (err) {
      await store.#closeHandles()
      await releaseLock(path)
      throw err instanceof CairnError ? err : storageError(`cannot open ${path}`, err)
    }
    return store
  }

  async get(cid: CID): Promise<Uint8Array | undefined> {
    this.#check()
    const slot = this.#index.get(keyOf(cid))
    if (slot === undefined) return undefined
    return this.#readSlot(slot)
  }

  async has(cid: CID): Promise<boolean> {
    this.#check()
    return this.#index.has(keyOf(cid))
  }

  async *blocks(): AsyncIterable<BlockRecord> {
    this.#check()
    // Slots are in file order, so read in MiB windows rather than one read per block.
    let window: { seg: number; at: number; buf: Uint8Array } | undefined
    for (let slot = 0; slot < this.#count; slot++) {
      this.#check()
      const seg = this.#slotSeg[slot]!
      const off = this.#slotOff[slot]!
      const len = this.#slotLen[slot]!
      if (window === undefined || window.seg !== seg || off < window.at || off + len > window.at + window.buf.length) {
        const segment = this.#segments[seg - 1]!
        const buf = new Uint8Array(Math.min(Math.max(len, WindowReader.CHUNK), segment.size - off))
        await this.#guard(() => readFully(segment.fh, buf, off), `cannot read ${segment.file}`)
        window = { seg, at: off, buf }
      }
      const start = off - window.at
      yield { cid: cidOfKey(this.#slotKeys[slot]!), bytes: window.buf.slice(start, start + len) }
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

  close(): Promise<void> {
    this.#closing = true
    this.#closed ??= (async () => {
      await this.#queue
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

  async #readSlot(slot: number): Promise<Uint8Array> {
    const segment = this.#segments[this.#slotSeg[slot]! - 1]!
    const buf = new Uint8Array(this.#slotLen[slot]!)
    await this.#guard(() => readFully(segment.fh, buf, this.#slotOff[slot]!), `cannot read ${segment.file}`)
    return buf
  }

  async #closeHandles(): Promise<void> {
    for (const s of this.#segments) await s.fh.close().catch(() => {})
  }

  // ---- index ----

  #addSlot(key: string, seg: number, off: number, len: number): void {
    if (this.#index.has(key)) return
    if (this.#count === this.#slotSeg.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2)
        b.set(a)
        return b
      }
      this.#slotSeg = grow(this.#slotSeg, (n) => new Uint32Array(n))
      this.#slotOff = grow(this.#slotOff, (n) => new Float64Array(n))
      this.#slotLen = grow(this.#slotLen, (n) => new Uint32Array(n))
    }
    const slot = this.#count++
    this.#slotSeg[slot] = seg
    this.#slotOff[slot] = off
    this.#slotLen[slot] = len
    this.#slotKeys[slot] = key
    this.#index.set(key, slot)
  }

  /** Forgets every slot from `count` on (the blocks of a dropped last commit). */
  #dropSlots(count: number): void {
    for (let slot = count; slot < this.#count; slot++) this.#index.delete(this.#slotKeys[slot]!)
    this.#slotKeys.length = count
    this.#count = count
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
    const keys: string[] = []
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
      const key = keyOf(cid)
      if (seen.has(key) || this.#index.has(key)) continue
      seen.add(key)
      keys.push(key)
      fresh.push({ cid, bytes: block.bytes })
    }

    let segment = this.#segments[this.#segments.length - 1]!
    const encoded = encodeCommit(fresh, heads)
    const roll = segment.size > CAR_HEADER.length && segment.size + encoded.buffer.length > this.#segmentBytes
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
    for (const [i, b] of encoded.blocks.entries()) this.#addSlot(keys[i]!, segment.number, base + b.offset, b.length)
    this.#heads = heads
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
    numbers.sort((a, b) => a - b)
    if (numbers.length === 0) {
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
      const last = n === numbers.length
      const file = join(this.path, segmentName(n))
      const fh = await open(file, last ? 'r+' : 'r')
      const segment: Segment = { number: n, file, fh, size: (await fh.stat()).size }
      this.#segments.push(segment)
      await this.#scan(segment, last)
    }
  }

  /**
   * Indexes one segment. Blocks count only once the record after them is found and
   * agrees with them. In the last segment, a torn tail is cut off; elsewhere, or when a
   * valid commit follows the damage, bad bytes are corruption.
   */
  async #scan(segment: Segment, last: boolean): Promise<void> {
    const reader = new WindowReader(segment.fh, segment.size)
    const header = await reader.view(0, CAR_HEADER.length)
    if (header === undefined || !equalBytes(header, CAR_HEADER)) {
      if (!last) throw corrupt(segment, 0, 'not a Cairn CAR header')
      // Only the creation of this segment can have been torn: header and first commit went in one write.
      await this.#cutTail(segment, reader, 0, 0, CAR_HEADER.length, 'not a Cairn CAR header')
      return
    }
    let pos = CAR_HEADER.length
    let committedEnd = pos
    // Blocks since the last record, as parallel arrays (one object per block made scans GC-bound).
    const pendingKeys: string[] = []
    const pendingOffsets: number[] = []
    const pendingLengths: number[] = []
    let pendingBytes = 0
    let lastCommit: { start: number; firstSlot: number; headsBefore: CID[] } | undefined
    let failure: { at: number; reason: string } | undefined
    while (pos < segment.size) {
      const frame = await parseFrame(reader, pos)
      if (frame.kind === 'bad') {
        failure = { at: pos, reason: frame.reason }
        break
      }
      if (frame.kind === 'block') {
        pendingKeys.push(frame.key)
        pendingOffsets.push(frame.dataOffset)
        pendingLengths.push(frame.dataLength)
        pendingBytes += frame.end - frame.start
        pos = frame.end
        continue
      }
      const { record } = frame
      if (record.blocks !== pendingKeys.length || record.bytes !== pendingBytes) {
        failure = { at: pos, reason: `commit record for ${record.blocks} blocks / ${record.bytes} bytes follows ${pendingKeys.length} blocks / ${pendingBytes} bytes` }
        break
      }
      lastCommit = { start: committedEnd, firstSlot: this.#count, headsBefore: this.#heads }
      for (let i = 0; i < pendingKeys.length; i++) this.#addSlot(pendingKeys[i]!, segment.number, pendingOffsets[i]!, pendingLengths[i]!)
      this.#heads = record.heads
      pendingKeys.length = pendingOffsets.length = pendingLengths.length = 0
      pendingBytes = 0
      committedEnd = frame.end
      pos = frame.end
    }
    if (failure === undefined && pendingKeys.length > 0) failure = { at: committedEnd, reason: 'blocks without a commit record' }
    if (failure !== undefined) {
      if (!last) throw corrupt(segment, failure.at, failure.reason)
      await this.#cutTail(segment, reader, failure.at, committedEnd, committedEnd, failure.reason)
      return
    }
    if (!last || lastCommit === undefined) return
    // The last commit is the only one whose fsync may not have finished: its record can be
    // on disk while some block bytes are not. Re-hash its blocks (in file order, through the window).
    for (let slot = lastCommit.firstSlot; slot < this.#count; slot++) {
      const mh = multihashOfKey(this.#slotKeys[slot]!)
      if (mh?.code !== SHA2_256) continue // not a hash Cairn writes; nothing to check it with
      const off = this.#slotOff[slot]!, len = this.#slotLen[slot]!
      const bytes = reader.peek(off, len) ?? (await reader.view(off, len))!
      const digest = bytes.length > SYNC_HASH_LIMIT ? await sha256(bytes) : sha256Sync(bytes)
      if (!equalBytes(digest.digest, mh.digest)) {
        this.#dropSlots(lastCommit.firstSlot)
        this.#heads = lastCommit.headsBefore
        await this.#truncate(segment, lastCommit.start)
        return
      }
    }
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
