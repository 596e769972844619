// The segment files of a files store: `seg-000001.car`, `seg-000002.car`, ... in the store
// folder, each a CARv1 file of block frames and commit records (format.ts), only ever appended
// to, the last one only, or replaced whole by compaction (compact.ts). Listing them, creating
// the next one durably, reading a block's frame at a known position, walking a segment's
// frames, cutting a segment back, swapping in a compacted one.
import { constants } from 'node:fs'
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { varint } from 'multiformats'
import { CairnError } from '../../errors/cairn-error.ts'
import { datasync, errCode, readFully, syncDir, writeFully } from '../../fs/durable.ts'
import { storageError, type Gate } from './errors.ts'
import { CAR_HEADER, type BlockFrame, parseFrame, parseFrameInWindow, varintAt, WindowReader } from './format.ts'
import type { FramePosition } from './tail-index.ts'

/** Index entries hold frame offsets as u32, so no segment may grow past this. */
export const MAX_SEGMENT: number = 2 ** 32 - 1
/** Blocks up to this size are read with their frame header in one read and handed out as a view; larger ones read twice to get a buffer of their own. */
const ONE_READ_LIMIT = 64 * 1024
/** readBlocks reads two frames together when at most this many bytes lie between them... */
const MERGE_GAP = 16 * 1024
/** ...and the read stays within this many bytes (a larger frame is read alone, as by readBlock). */
const MERGE_READ = 4 * 1024 * 1024
const SEGMENT_RE = /^seg-(\d{6,})\.car$/
/** Temporary files of a compaction: `seg-<n>.car.<random>.tmp` (tempName of the segment's file). */
const SEGMENT_TEMP_RE = /^seg-\d{6,}\.car\.[a-z0-9]*\.tmp$/

/** File name of segment `n`. */
export const segmentName = (n: number): string => `seg-${String(n).padStart(6, '0')}.car`

/** An open segment file. Every byte below `size` belongs to a completed commit (or the header). */
export interface Segment {
  readonly number: number
  readonly file: string
  readonly fh: FileHandle
  size: number
  /**
   * The file's length: `size`, plus the zeros the last segment holds after it (written ahead
   * by small commits, so that the next ones overwrite bytes the file has instead of growing it).
   */
  allocated: number
  /** Opened with O_DSYNC: a write to it is durable when it returns (no datasync after it). */
  readonly dsync: boolean
}

/**
 * O_DSYNC where the runtime passes it to the kernel for sure (Node on Linux; not Deno's or
 * Bun's node:fs), else 0. A write to a file opened with it returns once it is as durable as
 * after an fdatasync: one system call and one trip through the thread pool instead of two.
 */
const DSYNC: number = process.platform === 'linux' && (globalThis as { Deno?: unknown }).Deno === undefined && process.versions['bun'] === undefined ? (constants.O_DSYNC ?? 0) : 0

/** CAIRN_CORRUPT for damaged bytes of a segment, at offset `at`. */
export function corrupt(segment: Segment, at: number, reason: string): CairnError {
  return new CairnError('CAIRN_CORRUPT', `${segment.file} is damaged at offset ${at} (${reason}); data before that offset is intact`, { file: segment.file })
}

/** Numbers of the segment files in `dir`, in directory order. */
export async function segmentNumbers(dir: string): Promise<number[]> {
  const numbers: number[] = []
  for (const name of await readdir(dir)) {
    const m = SEGMENT_RE.exec(name)
    if (m !== null) numbers.push(Number(m[1]))
  }
  return numbers
}

/**
 * Removes the temporary files of a compaction that a crash interrupted before it renamed them
 * over their segments (their segments are intact: nothing else of the compaction happened to
 * them). Returns how many it removed.
 */
export async function removeSegmentTemps(dir: string): Promise<number> {
  let removed = 0
  for (const name of await readdir(dir)) {
    if (!SEGMENT_TEMP_RE.test(name)) continue
    try {
      await unlink(join(dir, name))
      removed++
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err
    }
  }
  return removed
}

/** The open segments of a store, in order: `list[n - 1]` is segment n, and the last is the one appended to. */
export class SegmentFiles {
  readonly dir: string
  readonly list: Segment[] = []
  /**
   * Bumped each time compaction swaps segment files (and, with them, the block index): a
   * position found before may then name another frame, so a read that found nothing, or
   * failed, while it changed is asked again.
   */
  generation = 0
  readonly #gate: Gate
  /** Iterations of whole segments (blocks()) running: they read segments they captured, so a replaced file stays open for them. */
  #readers = 0
  /** Handles of replaced segment files, closed once no iteration that may read them runs. */
  readonly #retired: FileHandle[] = []

  constructor(dir: string, gate: Gate) {
    this.dir = dir
    this.#gate = gate
  }

  /** The segment appended to. */
  get last(): Segment {
    return this.list[this.list.length - 1]!
  }

  /**
   * Opens the existing segments `numbers` (ascending), the last one for writing too. Throws
   * CAIRN_CORRUPT when they are not 1, 2, 3, ... (a segment is missing).
   */
  async openAll(numbers: readonly number[]): Promise<void> {
    for (const [i, n] of numbers.entries()) {
      if (n !== i + 1) {
        const missing = join(this.dir, segmentName(i + 1))
        throw new CairnError('CAIRN_CORRUPT', `${missing} is missing (found ${segmentName(n)})`, { file: missing })
      }
    }
    for (const n of numbers) {
      const file = join(this.dir, segmentName(n))
      const last = n === numbers.length
      const fh = await open(file, last ? constants.O_RDWR | DSYNC : 'r')
      const { size } = await fh.stat()
      this.list.push({ number: n, file, fh, size, allocated: size, dsync: last && DSYNC !== 0 })
    }
  }

  /**
   * Creates segment `number` holding `bytes`, durably (file and directory entry), and adopts it
   * (with size 0: the caller sets it; `allocated` is the length of `bytes`). When a failed creation cannot be undone, `onUndoFailed`
   * is told before the error is thrown: appending after that file would bury garbage.
   */
  async create(number: number, bytes: Uint8Array, onUndoFailed: (undo: unknown) => void): Promise<Segment> {
    const file = join(this.dir, segmentName(number))
    let fh: FileHandle
    try {
      fh = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | DSYNC, 0o666)
    } catch (cause) {
      throw storageError(`cannot create ${file}`, cause, file)
    }
    try {
      await writeFully(fh, bytes, 0)
      await datasync(fh)
      await syncDir(this.dir)
    } catch (cause) {
      await fh.close().catch(() => {})
      // A new last segment holding garbage would be cut back on reopen, but not if we append after it.
      try {
        await unlink(file)
      } catch (undo) {
        onUndoFailed(undo)
      }
      throw storageError(`cannot write ${file}`, cause, file)
    }
    const segment: Segment = { number, file, fh, size: 0, allocated: bytes.length, dsync: DSYNC !== 0 }
    this.list.push(segment)
    return segment
  }

  /**
   * Compaction: makes `fh` (a file of `size` bytes already renamed to segment `number`'s name)
   * segment `number`, and retires the old file's handle. Synchronous, so that the caller swaps
   * the block index in the same step.
   */
  replace(number: number, fh: FileHandle, size: number): void {
    const old = this.list[number - 1]!
    this.list[number - 1] = { number, file: old.file, fh, size, allocated: size, dsync: false }
    this.generation++
    this.#retired.push(old.fh)
    if (this.#readers === 0) this.#closeRetired()
  }

  /** An iteration of segments starts: retired handles stay open until it ends ({@link endRead}). */
  beginRead(): void {
    this.#readers++
  }

  endRead(): void {
    if (--this.#readers === 0) this.#closeRetired()
  }

  #closeRetired(): void {
    // FileHandle.close waits for reads in flight on the handle.
    for (const fh of this.#retired.splice(0)) void fh.close().catch(() => {})
  }

  /**
   * Cuts `segment` back to `size` bytes (to a bare header when 0) and syncs it. Only once the
   * sync succeeds does the segment count as ending there: after a failure the zeros written
   * ahead may still be on disk, so the next commit's trim cuts them again (a segment before the
   * last must end with its last commit; see Recovery for one that does not).
   */
  async truncate(segment: Segment, size: number): Promise<void> {
    await segment.fh.truncate(size)
    if (size === 0) {
      await writeFully(segment.fh, CAR_HEADER, 0)
      size = CAR_HEADER.length
    }
    await datasync(segment.fh)
    segment.allocated = size
    segment.size = size
  }

  /**
   * Cuts `segment`, one before the last (open for reading only), back to `size` bytes through a
   * handle of its own, and syncs it.
   */
  async cutEarlier(segment: Segment, size: number): Promise<void> {
    const fh = await open(segment.file, constants.O_RDWR)
    try {
      await fh.truncate(size)
      await datasync(fh)
    } finally {
      await fh.close()
    }
    segment.allocated = size
    segment.size = size
  }

  /** Cuts the zeros written ahead off `segment`, if it has any, so that it ends with its last commit. */
  async trim(segment: Segment): Promise<void> {
    if (segment.allocated > segment.size) await this.truncate(segment, segment.size)
  }

  async closeAll(): Promise<void> {
    for (const s of this.list) await s.fh.close().catch(() => {})
    for (const fh of this.#retired.splice(0)) await fh.close().catch(() => {})
  }

  /**
   * Reads the frame at `position` and returns its block bytes if it holds `cid`. The frame
   * must say exactly `length(cid) + block length` and start with `cid`'s bytes; CIDs encode
   * their own length, so that identifies the block without a doubt. A block up to
   * ONE_READ_LIMIT comes in one read of the whole frame, as a view of that buffer (the frame's
   * length and CID before it cost a few dozen bytes; copying the block out cost more); a
   * larger one is read in a buffer of its own after a small read that checks the frame.
   */
  async readBlock(position: FramePosition, cid: Uint8Array): Promise<Uint8Array | undefined> {
    const dataLength = position.length - cid.length
    if (dataLength < 0) return undefined
    // One segment object for both reads: a compaction may swap the file in between.
    const segment = this.list[position.segment - 1]
    if (segment === undefined) return undefined
    if (dataLength > ONE_READ_LIMIT) {
      if ((await this.#readFrame(segment, position, cid, cid.length)) === undefined) return undefined
      const data = new Uint8Array(dataLength)
      const at = position.offset + varint.encodingLength(position.length) + cid.length
      await this.#gate.guard(() => readFully(segment.fh, data, at), `cannot read ${segment.file}`, segment.file)
      return data
    }
    const frame = await this.#readFrame(segment, position, cid, position.length)
    return frame?.subarray(frame.length - dataLength)
  }

  /**
   * The blocks `cids` name, each at the first of its `candidates` positions that holds it (as
   * {@link readBlock} checks), in the order asked; undefined where none does. Frames are read
   * together with their neighbours in file order, when at most MERGE_GAP bytes lie between
   * them and the read stays within MERGE_READ bytes, and their blocks handed out as views of
   * that read's buffer: blocks committed together (an export's events, a file's leaves) cost
   * one read and one allocation, not one or two reads each.
   */
  async readBlocks(cids: readonly Uint8Array[], candidates: readonly (readonly FramePosition[])[]): Promise<(Uint8Array | undefined)[]> {
    const out: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(cids.length).fill(undefined)
    const merged: number[] = []
    const reads: Promise<void>[] = []
    for (let i = 0; i < cids.length; i++) {
      const positions = candidates[i]!
      if (positions.length === 0) continue
      const p = positions[0]!
      const segment = this.list[p.segment - 1]
      const dataLength = p.length - cids[i]!.length
      if (positions.length === 1 && segment !== undefined && dataLength >= 0 && frameEnd(p) - p.offset <= MERGE_READ && frameEnd(p) <= segment.size) {
        merged.push(i)
        continue
      }
      // Very large blocks get buffers of their own; several candidates are tried in turn.
      reads.push(
        (async () => {
          for (const position of positions) {
            const data = await this.readBlock(position, cids[i]!)
            if (data !== undefined) {
              out[i] = data
              return
            }
          }
        })(),
      )
    }
    const at = (i: number): FramePosition => candidates[i]![0]!
    merged.sort((a, b) => at(a).segment - at(b).segment || at(a).offset - at(b).offset)
    for (let from = 0; from < merged.length; ) {
      const first = at(merged[from]!)
      let end = frameEnd(first)
      let to = from + 1
      for (; to < merged.length; to++) {
        const p = at(merged[to]!)
        if (p.segment !== first.segment || p.offset > end + MERGE_GAP || frameEnd(p) - first.offset > MERGE_READ) break
        end = Math.max(end, frameEnd(p))
      }
      reads.push(this.#readRun(this.list[first.segment - 1]!, first.offset, end, merged.slice(from, to), cids, at, out))
      from = to
    }
    await Promise.all(reads)
    return out
  }

  /** Reads `segment` from `start` to `end` in one read and takes out the blocks of the frames `indexes` name. */
  async #readRun(segment: Segment, start: number, end: number, indexes: readonly number[], cids: readonly Uint8Array[], at: (i: number) => FramePosition, out: (Uint8Array | undefined)[]): Promise<void> {
    const buf = new Uint8Array(end - start)
    await this.#gate.guard(() => readFully(segment.fh, buf, start), `cannot read ${segment.file}`, segment.file)
    for (const i of indexes) {
      const p = at(i)
      const cid = cids[i]!
      const from = p.offset - start
      const head = varint.encodingLength(p.length)
      // As in #readFrame: the frame must say this length, then start with these CID bytes.
      if (varintAt(buf, from, from + head) !== p.length) continue
      let same = true
      for (let k = 0; k < cid.length && same; k++) same = buf[from + head + k] === cid[k]
      if (same) out[i] = buf.subarray(from + head + cid.length, from + head + p.length)
    }
  }

  /** True when the frame at `position` holds the block `cid`. */
  async holds(position: FramePosition, cid: Uint8Array): Promise<boolean> {
    const segment = this.list[position.segment - 1]
    return segment !== undefined && (await this.#readFrame(segment, position, cid, cid.length)) !== undefined
  }

  /** The first `content` bytes of the frame at `position` of `segment` after its varint, with the varint, if the frame holds `cid`. */
  async #readFrame(segment: Segment, position: FramePosition, cid: Uint8Array, content: number): Promise<Uint8Array | undefined> {
    const head = varint.encodingLength(position.length)
    const n = head + content
    if (position.offset + n > segment.size) return undefined
    const buf = new Uint8Array(n)
    await this.#gate.guard(() => readFully(segment.fh, buf, position.offset), `cannot read ${segment.file}`, segment.file)
    // Read no further than `head` bytes: the shortest encoding of the length is the only one that fits.
    if (varintAt(buf, 0, head) !== position.length) return undefined
    for (let i = 0; i < cid.length; i++) if (buf[head + i] !== cid[i]) return undefined
    return buf
  }

  /** The block frames of `segment` below `end`, in file order, parsed in MiB windows; a bad frame is CAIRN_CORRUPT. */
  async *blockFrames(segment: Segment, end: number): AsyncGenerator<{ reader: WindowReader; frame: BlockFrame }> {
    const reader = new WindowReader(segment.fh, end)
    let pos = CAR_HEADER.length
    while (pos < reader.size) {
      this.#gate.check()
      const at = pos
      const frame = parseFrameInWindow(reader, at) ?? (await this.#gate.guard(() => parseFrame(reader, at), `cannot read ${segment.file}`, segment.file))
      if (frame.kind === 'bad') throw corrupt(segment, at, frame.reason)
      pos = frame.end
      if (frame.kind === 'block') yield { reader, frame }
    }
  }
}

/** File offset just past the frame at `p`. */
function frameEnd(p: FramePosition): number {
  return p.offset + varint.encodingLength(p.length) + p.length
}
