// Crash recovery when a files store opens: the segments are listed and opened, the block table
// is adopted if it matches them, and the segment bytes after it are scanned into the index. A
// torn tail a crash left in the last segment is cut off (the zeros small commits write ahead
// among it), and so is the last commit if any of its blocks did not reach the disk; so are zeros
// alone after the last commit of an earlier segment (a cut of its zeros ahead that was not
// durable); damage anywhere else is CAIRN_CORRUPT.
import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import { SHA2_256 } from '../../block/interface.ts'
import { equalBytes } from '../../block/codec.ts'
import { sha256, sha256Sync } from '../../block/hash.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { readFully, removeTemps } from '../../fs/durable.ts'
import { cleanDerived } from './derived.ts'
import { CAR_HEADER, findRecords, parseFrame, parseFrameInWindow, WindowReader } from './format.ts'
import type { BlockLocator, Cover } from './locator.ts'
import { corrupt, MAX_SEGMENT, removeSegmentTemps, segmentName, segmentNumbers, type Segment, type SegmentFiles } from './segments.ts'
import { keyHi, keyLo } from './tail-index.ts'
import { framePosition, TABLE_FILE } from './table/format.ts'
import { openTable } from './table/reader.ts'
import { removeTable } from './table/writer.ts'

/** What opening found, besides the index it built in the locator. */
export interface Recovered {
  /** The heads of the last commit kept. */
  readonly heads: CID[]
  /** True when the `derived/` folder exists durably. */
  readonly derivedReady: boolean
  /** Blocks taken from the block table. */
  readonly openedFromTable: number
  /** Blocks indexed by scanning segment bytes after the table's position (all blocks without a table). */
  readonly scannedOnOpen: number
  /** Why the block table was unusable (and deleted), if it was. */
  readonly tableIgnored: string | undefined
}

/**
 * Opens the segments of the store folder `dir` (creating the first in an empty folder) into
 * `segments` and indexes their blocks into `locator`: from the block table where it is usable,
 * by scanning the rest. Removes temporary files a crash left, cuts off a torn tail. Throws
 * CAIRN_CORRUPT when bytes it scans before the last commit are damaged.
 */
export async function recoverOnOpen(segments: SegmentFiles, locator: BlockLocator, tableCacheBytes: number, onUndoFailed: (undo: unknown) => void): Promise<Recovered> {
  const recovery = new Recovery(segments, locator, tableCacheBytes, onUndoFailed)
  await recovery.load()
  return recovery
}

class Recovery implements Recovered {
  heads: CID[] = []
  derivedReady = false
  openedFromTable = 0
  scannedOnOpen = 0
  tableIgnored: string | undefined
  readonly #dir: string
  readonly #segments: SegmentFiles
  readonly #locator: BlockLocator
  readonly #tableCacheBytes: number
  readonly #onUndoFailed: (undo: unknown) => void

  constructor(segments: SegmentFiles, locator: BlockLocator, tableCacheBytes: number, onUndoFailed: (undo: unknown) => void) {
    this.#dir = segments.dir
    this.#segments = segments
    this.#locator = locator
    this.#tableCacheBytes = tableCacheBytes
    this.#onUndoFailed = onUndoFailed
  }

  async load(): Promise<void> {
    const numbers = await segmentNumbers(this.#dir)
    await removeTemps(this.#dir, TABLE_FILE) // table writes a crash cut short
    await removeSegmentTemps(this.#dir) // segments a compaction wrote but had not renamed yet
    this.derivedReady = await cleanDerived(this.#dir)
    numbers.sort((a, b) => a - b)
    if (numbers.length === 0) {
      await removeTable(this.#dir)
      const segment = await this.#segments.create(1, CAR_HEADER, this.#onUndoFailed)
      segment.size = CAR_HEADER.length
      return
    }
    await this.#segments.openAll(numbers)
    const start = await this.#loadTable()
    for (let n = start?.segment ?? 1; n <= numbers.length; n++) {
      const from = n === start?.segment ? start.end : 0
      await this.#scan(this.#segments.list[n - 1]!, n === numbers.length, from)
    }
    this.scannedOnOpen = this.#locator.tail.count
    const cover = this.#locator.cover
    if (cover !== undefined && cover.recordDigest === undefined) {
      const record = new Uint8Array(cover.end - cover.recordStart)
      await readFully(this.#segments.list[cover.segment - 1]!.fh, record, cover.recordStart)
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
      table = await openTable(this.#dir, this.#tableCacheBytes)
    } catch (err) {
      table = `unreadable: ${(err as Error)?.message ?? String(err)}`
    }
    if (table === undefined) return undefined
    let reason: string | undefined = typeof table === 'string' ? table : undefined
    if (typeof table !== 'string') {
      const cover = table.cover!
      const segment = this.#segments.list[cover.segment - 1]
      if (segment === undefined || cover.end > segment.size || cover.recordStart < CAR_HEADER.length || cover.recordStart >= cover.end) {
        reason = `it covers ${segmentName(cover.segment)} up to offset ${cover.end}, beyond the segments`
      } else {
        const reader = new WindowReader(segment.fh, segment.size)
        const frame = await parseFrame(reader, cover.recordStart)
        const bytes = await reader.view(cover.recordStart, cover.end - cover.recordStart)
        if (frame.kind !== 'record' || frame.end !== cover.end || bytes === undefined || !equalBytes(sha256Sync(bytes).digest, cover.recordDigest)) {
          reason = `the commit record it covers is not in ${segmentName(cover.segment)} at offset ${cover.recordStart}`
        } else {
          this.#locator.adoptTable(table)
          this.heads = frame.record.heads
          this.openedFromTable = table.count
          return cover
        }
      }
      await table.retire()
    }
    this.tableIgnored = reason
    await removeTable(this.#dir)
    return undefined
  }

  /**
   * Indexes one segment from offset `from` (0: from its header). Blocks count only once the
   * record after them is found and agrees with them. In the last segment, a torn tail is cut
   * off; elsewhere, or when a valid commit follows the damage, bad bytes are corruption.
   */
  async #scan(segment: Segment, last: boolean, from: number): Promise<void> {
    if (segment.size > MAX_SEGMENT) {
      throw new CairnError('CAIRN_UNSUPPORTED', `${segment.file} is larger than 4 GiB, which this version of the files engine cannot index`, { file: segment.file })
    }
    let reader = new WindowReader(segment.fh, segment.size)
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
        if (this.#locator.run.mayHave(hi, lo)) pendingCids.set(pendingHi.length, c.slice(o, o + frame.cidLength))
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
      lastCommit = { start: committedEnd, firstEntry: this.#locator.tail.count, headsBefore: this.heads, coverBefore: this.#locator.cover }
      for (let i = 0; i < pendingHi.length; i++) {
        const hi = pendingHi[i]!,
          lo = pendingLo[i]!
        // A key already indexed is almost always a coincidence of digest ends; read to be sure.
        if (this.#locator.mayHaveKey(hi, lo) && (await this.#scannedBefore(segment, pendingCids.get(i), pendingOffsets[i]!, pendingLengths[i]!, pendingCidLengths[i]!))) {
          this.#locator.skip.add(framePosition(segment.number, pendingOffsets[i]!))
          continue
        }
        this.#locator.tail.add(hi, lo, segment.number, pendingOffsets[i]!, pendingLengths[i]!)
      }
      this.heads = record.heads
      this.#locator.cover = { segment: segment.number, recordStart: frame.start, end: frame.end, recordDigest: undefined }
      pendingHi.length = pendingLo.length = pendingOffsets.length = pendingLengths.length = pendingCidLengths.length = 0
      pendingCids.clear()
      pendingBytes = 0
      committedEnd = frame.end
      pos = frame.end
    }
    if (failure === undefined && pendingHi.length > 0) failure = { at: committedEnd, reason: 'blocks without a commit record' }
    if (failure !== undefined) {
      if (!last) {
        // Zeros alone after its last commit: the zeros written ahead, whose cut at the roll to
        // the next segment was not durable (a failed sync, a crash). Cut again; anything else is corruption.
        if (failure.at !== committedEnd || !(await zerosFrom(reader, committedEnd, segment.size))) throw corrupt(segment, failure.at, failure.reason)
        this.#locator.forgetSkipped(segment.number, committedEnd)
        await this.#segments.cutEarlier(segment, committedEnd)
        return
      }
      await this.#cutTail(segment, reader, failure.at, committedEnd, committedEnd, failure.reason)
      reader = new WindowReader(segment.fh, segment.size) // the file is shorter now
    }
    if (!last || lastCommit === undefined) return
    // The last commit is the only one whose fsync may not have finished: its record can be
    // on disk while some block bytes are not. Re-hash its blocks (in file order, through the
    // window). Commits a block table covers are never re-hashed: the table was written after
    // their fsync completed. A tail cut after it proves nothing: it may be the zeros a commit
    // wrote ahead (commit.ts), which the last commit overwrote in place.
    for (let at = lastCommit.start; at < committedEnd; ) {
      const frame = parseFrameInWindow(reader, at) ?? (await parseFrame(reader, at))
      if (frame.kind !== 'block') break // the record
      at = frame.end
      if (frame.hashCode !== SHA2_256) continue // not a hash Cairn writes; nothing to check it with
      const content = reader.peek(frame.cidOffset, frame.end - frame.cidOffset) ?? (await reader.view(frame.cidOffset, frame.end - frame.cidOffset))!
      const digest = content.subarray(frame.cidLength - frame.digestLength, frame.cidLength)
      const bytes = content.subarray(frame.cidLength)
      const actual = await sha256(bytes) // synchronous for small blocks, WebCrypto for large ones
      if (!equalBytes(actual.digest, digest)) {
        this.#locator.tail.truncate(lastCommit.firstEntry)
        this.heads = lastCommit.headsBefore
        this.#locator.cover = lastCommit.coverBefore
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
    return this.#locator.contains(cid)
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
    this.#locator.forgetSkipped(segment.number, size)
    await this.#segments.truncate(segment, size)
  }
}

/** Whether the bytes of `reader` from `start` to `end` are all zero, read a window at a time. */
async function zerosFrom(reader: WindowReader, start: number, end: number): Promise<boolean> {
  for (let at = start; at < end; ) {
    const n = Math.min(end - at, ZERO_CHECK_BYTES)
    const bytes = (await reader.view(at, n))!
    for (let i = 0; i < n; i++) if (bytes[i] !== 0) return false
    at += n
  }
  return true
}

/** How much of a zero tail {@link zerosFrom} reads at a time. */
const ZERO_CHECK_BYTES = 1024 * 1024
